//! Energy distance (Székely & Rizzo 2004, 2013), unbiased.

use super::{TwoSampleStatistic, pair_sums, validate_two_sample};
use crate::cloud::CloudView;
use crate::engine::chunks::Exec;
use crate::engine::simd::{F32s, sqrt};
use crate::engine::{check_range, squared_diameter};
use crate::error::Error;

/// Unbiased energy distance `2E‖X−Y‖ − E‖X−X'‖ − E‖Y−Y'‖`:
///
/// ```text
/// E_u = 2 Σ_{i,j} ‖x_i − y_j‖/(N·M) − Σ_{i≠j} ‖x_i − x_j‖/(N(N−1)) − Σ_{i≠j} ‖y_i − y_j‖/(M(M−1))
/// ```
///
/// the U-statistic (within-sample means over distinct pairs), i.e. the unbiased MMD² of the
/// distance-induced kernel. Its expectation is the population energy distance (≥ 0, zero iff the
/// distributions agree), so it is centred on 0 (and can be negative) for two samples of one
/// distribution. (The V-statistic would divide the within sums by `N²`, `M²` and is biased
/// upwards by about `E‖X−X'‖/N + E‖Y−Y'‖/M`.)
///
/// Streaming over the crate's pair loop: one SIMD `sqrt` per pair, tile sums in `f32`, totals in
/// `f64`. The self-pairs contribute exactly 0 (`√0`), so they need no mask. Cost
/// `O((N² + M² + N·M)·D)` time, `O(1)` memory.
///
/// # Errors
/// [`Error::EmptyCloud`] / [`Error::NonFinite`] for an empty or non-finite `x` or `y`;
/// [`Error::TooFewPoints`] if a cloud has a single point; [`Error::OutOfRange`] for points more
/// than `1e18` apart.
///
/// # Example
/// ```
/// use drifting::CloudView;
/// use drifting::metrics::energy_distance;
/// let x = [[0.0_f32, 0.0], [1.0, 0.0], [0.0, 1.0]];
/// let y = x.map(|[u, v]| [u + 3.0, v]); // the same shape, 3 to the right
/// let energy = energy_distance(&CloudView::from_points(&x), &CloudView::from_points(&y))?;
/// assert_eq!(energy.within_first, energy.within_second); // E‖X−X'‖ = E‖Y−Y'‖
/// let parts = 2.0 * energy.cross - energy.within_first - energy.within_second;
/// assert!((energy.value - parts).abs() < 1e-12 && energy.value > 0.0);
/// # Ok::<(), drifting::Error>(())
/// ```
pub fn energy_distance<const D: usize>(
    x: &CloudView<'_, D>,
    y: &CloudView<'_, D>,
) -> Result<TwoSampleStatistic, Error> {
    let exec = Exec::current();
    validate_two_sample(x, "x")?;
    validate_two_sample(y, "y")?;
    check_range(squared_diameter(&[x, y]), 0.0, "points")?;
    // The pair loop hands −‖x − y‖²; the self-pairs are not masked (distance exactly 0).
    let distance = |l: F32s, sums: &mut [F32s; 1]| {
        let [s] = sums;
        *s += sqrt(-l);
    };
    let [xx] = pair_sums(exec, x, x, false, 1, distance);
    let [yy] = pair_sums(exec, y, y, false, 1, distance);
    let [xy] = pair_sums(exec, x, y, false, 1, distance);
    #[allow(clippy::cast_precision_loss)]
    let (n, m) = (x.len() as f64, y.len() as f64);
    let within_first = xx / (n * (n - 1.0));
    let within_second = yy / (m * (m - 1.0));
    let cross = xy / (n * m);
    Ok(TwoSampleStatistic {
        value: 2.0 * cross - within_first - within_second,
        within_first,
        within_second,
        cross,
    })
}
