//! The sliced-Wasserstein-flow drift (docs/mathematics.md §7; the third paper's SW flow, Liutkus et al.
//! 2019): move each query along random directions toward the data quantile of its own rank.

use rand_core::Rng;

use crate::cloud::CloudView;
use crate::drift::Negatives;
use crate::drift::operator::{
    DriftOperator, DriftOutcome, DriftShape, queries_as_negatives, saturated, validate_step,
};
use crate::engine::projection::{MAX_DIRECTIONS, project, random_direction};
use crate::engine::take_scratch;
use crate::engine::{check_range, squared_diameter};
use crate::error::Error;

/// Largest cloud whose indices the scratch holds exactly (`f32` integers).
const MAX_POINTS: usize = 1 << 24;

/// Configuration of [`sliced_wasserstein_drift`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SlicedWassersteinDriftConfig {
    /// Number `1 ≤ L ≤` [`MAX_DIRECTIONS`] of random directions per evaluation (default 64).
    pub directions: usize,
    /// The step `η` (default 1).
    pub step: f32,
}

impl SlicedWassersteinDriftConfig {
    /// 64 directions, `η = 1`.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            directions: 64,
            step: 1.0,
        }
    }
}

impl Default for SlicedWassersteinDriftConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// Scratch floats [`sliced_wasserstein_drift`] needs for `n` queries and `p` positives:
/// `2n + p`.
#[must_use]
pub const fn sliced_wasserstein_drift_scratch_len(n: usize, p: usize) -> usize {
    n.saturating_mul(2).saturating_add(p)
}

/// The sliced-Wasserstein-flow drift: for `L` directions `θ_l` drawn by
/// [`random_direction`] from `rng`,
///
/// `V(x_i) = (η/L) Σ_l (F⁻¹_{θ_l·y}(u_i) − θ_l·x_i) θ_l`,  `u_i = (rank_l(i) + ½)/N`,
///
/// where `rank_l(i)` is the rank of `θ_l·x_i` among the queries' projections and `F⁻¹` the
/// empirical quantile of the positives' projections (`⌊u·P⌋`-th smallest). Each term is the 1D
/// optimal-transport displacement of the query's projection; for `P = N` it is the sorted
/// matching of [`sliced_wasserstein`](crate::metrics::sliced_wasserstein), and the drift is minus
/// the gradient of `½ SW₂²` (times `N`) with respect to the query.
///
/// Zero exactly when the clouds are equal (up to order). Projections are taken relative to the
/// centre of the clouds' common bounding box, so translating both changes nothing.
///
/// Output: coordinate-major `V_d(x_i)` at `out[d·N + i]`. Cost `O(L·(N log N + P log P + (N+P)·D))`;
/// memory: `scratch` of [`sliced_wasserstein_drift_scratch_len`]`(N, P)` floats. Serial (the sorts dominate).
///
/// # Errors
/// [`Error::InvalidParameter`] for zero directions or more than [`MAX_DIRECTIONS`], or a
/// non-finite step; empty or non-finite clouds; [`Error::ShapeMismatch`] for an `out` that is
/// not `N·D` long;
/// [`Error::ScratchTooSmall`]; [`Error::CapacityExceeded`] for more than `2^24` queries;
/// [`Error::OutOfRange`] for points more than `1e18` apart or `η` times the extent above `1e37`.
///
/// # Example
/// ```
/// use drifting::{CloudView, SlicedWassersteinDriftConfig, sliced_wasserstein_drift_scratch_len, sliced_wasserstein_drift};
/// use rand_core::SeedableRng;
/// use rand_xoshiro::Xoshiro256PlusPlus;
/// let data = [[0.0_f32, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]];
/// let y = CloudView::from_points(&data);
/// let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
/// let mut scratch = [0.0_f32; sliced_wasserstein_drift_scratch_len(4, 4)];
/// let mut drift = [0.0_f32; 4 * 2];
/// let config = SlicedWassersteinDriftConfig::new(); // 64 directions, η = 1
///
/// // The data themselves, in another order: nothing to move.
/// let shuffled = [data[2], data[0], data[3], data[1]];
/// let x = CloudView::from_points(&shuffled);
/// sliced_wasserstein_drift(&x, &y, &config, &mut rng, &mut scratch, &mut drift)?;
/// assert!(drift.iter().all(|&v| v == 0.0));
///
/// // The data translated by t = (0.5, 0): every sample gets the same field −(1/L) Σ (θ·t) θ.
/// let shifted = data.map(|[u, v]| [u + 0.5, v]);
/// let x = CloudView::from_points(&shifted);
/// sliced_wasserstein_drift(&x, &y, &config, &mut rng, &mut scratch, &mut drift)?;
/// assert!(drift[..4].iter().all(|&v| v < 0.0 && (v - drift[0]).abs() < 1e-5));
/// # Ok::<(), drifting::Error>(())
/// ```
pub fn sliced_wasserstein_drift<const D: usize, R: Rng + ?Sized>(
    queries: &CloudView<'_, D>,
    positives: &CloudView<'_, D>,
    config: &SlicedWassersteinDriftConfig,
    rng: &mut R,
    scratch: &mut [f32],
    out: &mut [f32],
) -> Result<(), Error> {
    if config.directions == 0 || config.directions > MAX_DIRECTIONS {
        return Err(Error::InvalidParameter {
            input: "directions",
        });
    }
    if !config.step.is_finite() {
        return Err(Error::InvalidParameter { input: "step" });
    }
    queries.validate("queries")?;
    positives.validate("positives")?;
    let (n, p) = (queries.len(), positives.len());
    if n > MAX_POINTS {
        return Err(Error::CapacityExceeded {
            capacity: MAX_POINTS,
            required: n,
        });
    }
    let expected = n.saturating_mul(D);
    if out.len() != expected {
        return Err(Error::ShapeMismatch {
            input: "out",
            expected,
            found: out.len(),
        });
    }
    let diameter2 = squared_diameter(&[queries, positives]);
    check_range(diameter2, 0.0, "points")?;
    if f64::from(config.step.abs()) * libm::sqrt(diameter2) > 1.0e37 {
        return Err(Error::OutOfRange { input: "step" });
    }
    let Some(required) = n.checked_mul(2).and_then(|two_n| two_n.checked_add(p)) else {
        return Err(Error::InvalidParameter {
            input: "queries, positives sizes",
        });
    };
    let scratch = take_scratch(scratch, required)?;
    let (projections, rest) = scratch.split_at_mut(n.min(scratch.len()));
    let (order, data) = rest.split_at_mut(n.min(rest.len()));

    let mut bounds = [(f64::INFINITY, f64::NEG_INFINITY); D];
    queries.widen_bounds(&mut bounds);
    positives.widen_bounds(&mut bounds);
    #[allow(clippy::cast_possible_truncation)]
    let centre: [f32; D] = bounds.map(|(lo, hi)| (0.5 * (lo + hi)) as f32);
    #[allow(clippy::cast_precision_loss)]
    let weight = config.step / config.directions as f32;
    #[allow(clippy::cast_precision_loss)]
    let (n_f, p_f) = (n as f64, p as f64);
    out.fill(0.0);
    for _ in 0..config.directions {
        let theta = random_direction::<D, R>(rng);
        project(queries, &theta, &centre, projections);
        project(positives, &theta, &centre, data);
        data.sort_unstable_by(f32::total_cmp);
        #[allow(clippy::cast_precision_loss)]
        for (k, o) in order.iter_mut().enumerate() {
            *o = k as f32; // exact: n ≤ 2^24
        }
        let key = |i: &f32| projections.get(index(*i)).copied().unwrap_or(0.0);
        order.sort_unstable_by(|a, b| key(a).total_cmp(&key(b)));
        for (rank, &i) in order.iter().enumerate() {
            let i = index(i);
            #[allow(clippy::cast_precision_loss)]
            let u = (rank as f64 + 0.5) / n_f;
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let quantile = ((u * p_f) as usize).min(p.saturating_sub(1));
            let target = data.get(quantile).copied().unwrap_or(0.0);
            let own = projections.get(i).copied().unwrap_or(0.0);
            let shift = (target - own) * weight;
            for (column, t) in out.chunks_exact_mut(n.max(1)).zip(theta) {
                if let Some(v) = column.get_mut(i) {
                    *v += shift * t;
                }
            }
        }
    }
    Ok(())
}

/// The index an exact `f32` integer stands for.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn index(v: f32) -> usize {
    v as usize
}

impl SlicedWassersteinDriftConfig {
    /// Workspace values for `shape`: `2N + P` (as [`sliced_wasserstein_drift_scratch_len`]),
    /// saturating at `usize::MAX`. `const`, for buffers in a `static`.
    #[must_use]
    pub const fn workspace_len(&self, shape: &DriftShape) -> usize {
        saturated(shape.linear(2, 1, 0, 0))
    }
}

impl DriftOperator for SlicedWassersteinDriftConfig {
    const NAME: &'static str = "sliced-Wasserstein flow";
    const SEPARATE_NEGATIVES: bool = false;

    fn workspace_len(&self, shape: &DriftShape) -> Option<usize> {
        shape.linear(2, 1, 0, 0)
    }

    fn validate(&self) -> Result<(), Error> {
        if self.directions == 0 || self.directions > MAX_DIRECTIONS {
            return Err(Error::InvalidParameter {
                input: "directions",
            });
        }
        validate_step(self.step)
    }

    fn run<const D: usize, R: Rng + ?Sized>(
        &self,
        queries: &CloudView<'_, D>,
        positives: &CloudView<'_, D>,
        negatives: Negatives<'_, D>,
        rng: &mut R,
        workspace: &mut [f32],
        out: &mut [f32],
    ) -> Result<DriftOutcome, Error> {
        queries_as_negatives(negatives)?;
        sliced_wasserstein_drift(queries, positives, self, rng, workspace, out)?;
        Ok(DriftOutcome::single(out))
    }
}
