//! Owned results for callers with a heap (feature `alloc`, on with `std`): every operator on
//! `&[[f32; D]]` points, its scratch allocated for the call, its field returned point-major as a
//! `Vec<[f32; D]>`, and Sinkhorn with `ε` given directly.
//!
//! ```
//! # fn main() -> Result<(), drifting::Error> {
//! use drifting::{Kernel, TwoAxisConfig, owned};
//! let x = vec![[0.0_f32, 0.0], [1.0, 0.5], [0.2, -0.3]];
//! let y = vec![[0.5_f32, 0.5], [-1.0, 0.0], [0.3, 0.9]];
//! let v = owned::two_axis_softmax_drift(&x, &y, &TwoAxisConfig::new(Kernel::laplace(0.5)))?;
//! let s = owned::sinkhorn_divergence(&x, &y, 0.01)?;
//! # assert_eq!(v.len(), 3);
//! # assert!(s.value.is_finite() && s.value >= 0.0);
//! # Ok(())
//! # }
//! ```
//!
//! Each function is the `no_std` operator of the same name (same validation, same errors, the
//! same bits) with the generated points as their own negatives, as the method trains; the
//! slice-level operators take other negative clouds, weights and caller-owned buffers. A drift
//! that `Evaluation::Auto` would run on the dense path (feature `dense`, see
//! [`DENSE_FROM_DIMENSION`](crate::DENSE_FROM_DIMENSION)) gets the dense scratch when its tile
//! holds at most [`DENSE_TILE_BUDGET`] entries, the streaming one otherwise.

extern crate alloc;

use alloc::vec;
use alloc::vec::Vec;

use crate::cloud::CloudView;
use crate::drift::Negatives;
use crate::drift::mean_shift::{MeanShiftConfig, mean_shift_drift as mean_shift_core};
use crate::drift::mmd_flow::{MmdFlowConfig, mmd_flow_drift as mmd_flow_core};
use crate::drift::multi_temperature::{
    MultiTemperatureConfig, MultiTemperatureReport, multi_temperature_drift as multi_core,
    multi_temperature_scratch_len,
};
use crate::drift::sliced_wasserstein_drift::{
    SlicedWassersteinDriftConfig, sliced_wasserstein_drift as sliced_core,
    sliced_wasserstein_drift_scratch_len,
};
use crate::drift::two_axis::{
    TwoAxisConfig, two_axis_scratch_len, two_axis_softmax_drift as two_axis_core,
};
use crate::error::Error;
use crate::metrics::{
    SlicedWassersteinConfig, sliced_wasserstein as sliced_wasserstein_core,
    sliced_wasserstein_scratch_len,
};
use crate::sinkhorn::{
    SinkhornConfig, SinkhornDivergence, SinkhornReport, SinkhornWorkspace, WeightedCloud,
    entropic_transport as transport_core, sinkhorn_divergence as divergence_core,
    sinkhorn_drift as sinkhorn_drift_core, sinkhorn_proxy_drift as proxy_core,
};
use rand_core::Rng;

/// Tile entries (`N·(P + N)`) up to which a drift the dense path would serve gets the dense
/// scratch here: `1 << 26`, a 256 MB tile (`N = P ≈ 5800`). Larger problems stream in
/// `O(N + P)` memory, which is slower from [`DENSE_FROM_DIMENSION`](crate::DENSE_FROM_DIMENSION)
/// coordinates on but never runs out of memory.
pub const DENSE_TILE_BUDGET: usize = 1 << 26;

/// The point-major copy of a coordinate-major field (`V_d(x_i)` at `field[d·N + i]`).
fn points<const D: usize>(field: &[f32], n: usize) -> Vec<[f32; D]> {
    (0..n)
        .map(|i| core::array::from_fn(|d| field.get(d * n + i).copied().unwrap_or(0.0)))
        .collect()
}

/// Runs `run` on a zeroed coordinate-major output for `n` points and returns that output
/// point-major, with `run`'s result.
fn with_field<const D: usize, T>(
    n: usize,
    input: &'static str,
    run: impl FnOnce(&mut [f32]) -> Result<T, Error>,
) -> Result<(Vec<[f32; D]>, T), Error> {
    let mut out = buffer(n.checked_mul(D), input)?;
    let result = run(&mut out)?;
    Ok((points(&out, n), result))
}

/// [`with_field`] for a drift of `queries` toward `positives`, handing `run` both views.
fn drift_of<const D: usize, T>(
    queries: &[[f32; D]],
    positives: &[[f32; D]],
    run: impl FnOnce(&CloudView<'_, D>, &CloudView<'_, D>, &mut [f32]) -> Result<T, Error>,
) -> Result<(Vec<[f32; D]>, T), Error> {
    let (q, p) = (
        CloudView::from_points(queries),
        CloudView::from_points(positives),
    );
    with_field(queries.len(), "queries", |out| run(&q, &p, out))
}

/// A zeroed buffer of `len` values, or [`Error::InvalidParameter`] (`name`) when a size
/// computation overflowed (`None`).
fn buffer(len: Option<usize>, name: &'static str) -> Result<Vec<f32>, Error> {
    len.map(|len| vec![0.0; len])
        .ok_or(Error::InvalidParameter { input: name })
}

/// The scratch length a drift over `n` queries and `p + n` targets gets: the dense size when
/// `Evaluation::Auto` would take the dense path and the tile fits [`DENSE_TILE_BUDGET`], else
/// `streaming`.
#[cfg(feature = "dense")]
fn drift_scratch_len<const D: usize>(
    n: usize,
    p: usize,
    evaluation: crate::drift::Evaluation,
    streaming: usize,
    dense: impl FnOnce() -> Option<usize>,
) -> Option<usize> {
    use crate::drift::Evaluation;
    let tile = n.checked_mul(p.checked_add(n)?)?;
    let wanted = match evaluation {
        Evaluation::Streaming => false,
        Evaluation::Dense(_) => true,
        Evaluation::Auto => Evaluation::pays(D, tile) && tile <= DENSE_TILE_BUDGET,
    };
    if wanted { dense() } else { Some(streaming) }
}

/// [`mean_shift_drift`](crate::mean_shift_drift) with the queries as negatives, point-major.
///
/// # Errors
/// As [`mean_shift_drift`](crate::mean_shift_drift).
pub fn mean_shift_drift<const D: usize>(
    queries: &[[f32; D]],
    positives: &[[f32; D]],
    config: &MeanShiftConfig,
) -> Result<Vec<[f32; D]>, Error> {
    drift_of(queries, positives, |q, p, out| {
        mean_shift_core(q, p, Negatives::Queries, config, out)
    })
    .map(|(field, ())| field)
}

/// [`mmd_flow_drift`](crate::mmd_flow_drift) with the queries as negatives, point-major.
///
/// # Errors
/// As [`mmd_flow_drift`](crate::mmd_flow_drift).
pub fn mmd_flow_drift<const D: usize>(
    queries: &[[f32; D]],
    positives: &[[f32; D]],
    config: &MmdFlowConfig,
) -> Result<Vec<[f32; D]>, Error> {
    drift_of(queries, positives, |q, p, out| {
        mmd_flow_core(q, p, Negatives::Queries, config, out)
    })
    .map(|(field, ())| field)
}

/// [`two_axis_softmax_drift`](crate::two_axis_softmax_drift) (the method's Algorithm 2) with the
/// queries as negatives, point-major; the dense scratch when the dense path pays (see the
/// module's docs).
///
/// # Errors
/// As [`two_axis_softmax_drift`](crate::two_axis_softmax_drift).
pub fn two_axis_softmax_drift<const D: usize>(
    queries: &[[f32; D]],
    positives: &[[f32; D]],
    config: &TwoAxisConfig,
) -> Result<Vec<[f32; D]>, Error> {
    let (n, p) = (queries.len(), positives.len());
    let streaming = two_axis_scratch_len(n, p, n);
    #[cfg(feature = "dense")]
    let len = drift_scratch_len::<D>(n, p, config.evaluation, streaming, || {
        crate::drift::two_axis_dense_scratch_len(n, p, n, D)
    });
    #[cfg(not(feature = "dense"))]
    let len = Some(streaming);
    let mut scratch = buffer(len, "queries")?;
    drift_of(queries, positives, |q, p, out| {
        two_axis_core(q, p, Negatives::Queries, config, &mut scratch, out)
    })
    .map(|(field, ())| field)
}

/// [`multi_temperature_drift`](crate::multi_temperature_drift) (the official normalised form,
/// several temperatures), point-major, with its report; the dense scratch when the dense path
/// pays (see the module's docs).
///
/// # Errors
/// As [`multi_temperature_drift`](crate::multi_temperature_drift).
pub fn multi_temperature_drift<const D: usize>(
    queries: &[[f32; D]],
    positives: &[[f32; D]],
    config: &MultiTemperatureConfig<'_>,
) -> Result<(Vec<[f32; D]>, MultiTemperatureReport), Error> {
    let (n, p) = (queries.len(), positives.len());
    let streaming = multi_temperature_scratch_len(n, p, D);
    #[cfg(feature = "dense")]
    let len = drift_scratch_len::<D>(n, p, config.evaluation, streaming, || {
        crate::drift::multi_temperature::multi_temperature_dense_scratch_len(
            n,
            p,
            D,
            config.temperatures.len(),
        )
    });
    #[cfg(not(feature = "dense"))]
    let len = Some(streaming);
    let mut scratch = buffer(len, "queries")?;
    drift_of(queries, positives, |q, p, out| {
        multi_core(q, p, config, &mut scratch, out)
    })
}

/// [`sliced_wasserstein_drift`](crate::sliced_wasserstein_drift), point-major; `rng` draws the
/// directions.
///
/// # Errors
/// As [`sliced_wasserstein_drift`](crate::sliced_wasserstein_drift).
pub fn sliced_wasserstein_drift<const D: usize, R: Rng + ?Sized>(
    queries: &[[f32; D]],
    positives: &[[f32; D]],
    config: &SlicedWassersteinDriftConfig,
    rng: &mut R,
) -> Result<Vec<[f32; D]>, Error> {
    let (n, p) = (queries.len(), positives.len());
    let mut scratch = buffer(Some(sliced_wasserstein_drift_scratch_len(n, p)), "queries")?;
    drift_of(queries, positives, |q, p, out| {
        sliced_core(q, p, config, rng, &mut scratch, out)
    })
    .map(|(field, ())| field)
}

/// The Sinkhorn configuration of the functions below: the crate's defaults (which converge,
/// see [`SinkhornConfig`]) at the regularisation `epsilon`.
#[must_use]
pub const fn sinkhorn_config(epsilon: f32) -> SinkhornConfig {
    SinkhornConfig::new().with_epsilon(epsilon)
}

/// A cloud of points with uniform weights.
fn uniform<const D: usize>(points: &[[f32; D]]) -> WeightedCloud<'_, D> {
    WeightedCloud::uniform(CloudView::from_points(points))
}

/// A workspace buffer for `n` and `m` points.
fn workspace_buffer(n: usize, m: usize) -> Result<Vec<f32>, Error> {
    buffer(SinkhornWorkspace::checked_required_len(n, m), "n + m")
}

/// The debiased Sinkhorn divergence `S_ε(x, y)` between two uniform clouds at the
/// regularisation `epsilon` (cost `½‖x−y‖²`, the defaults of [`SinkhornConfig`]); GeomLoss's
/// `SamplesLoss("sinkhorn", blur = √ε)` with a converged solve. [`sinkhorn_divergence_with`]
/// takes a whole configuration.
///
/// # Errors
/// As [`sinkhorn_divergence`](crate::sinkhorn_divergence); [`Error::InvalidParameter`]
/// (`"epsilon"`) for a non-positive or non-finite `epsilon`.
pub fn sinkhorn_divergence<const D: usize>(
    x: &[[f32; D]],
    y: &[[f32; D]],
    epsilon: f32,
) -> Result<SinkhornDivergence, Error> {
    sinkhorn_divergence_with(x, y, &sinkhorn_config(epsilon))
}

/// [`sinkhorn_divergence`](crate::sinkhorn_divergence) between two uniform clouds with any
/// configuration.
///
/// # Errors
/// As [`sinkhorn_divergence`](crate::sinkhorn_divergence).
pub fn sinkhorn_divergence_with<const D: usize>(
    x: &[[f32; D]],
    y: &[[f32; D]],
    config: &SinkhornConfig,
) -> Result<SinkhornDivergence, Error> {
    let mut buffer = workspace_buffer(x.len(), y.len())?;
    let mut workspace = SinkhornWorkspace::new(&mut buffer, x.len(), y.len())?;
    divergence_core(&uniform(x), &uniform(y), config, &mut workspace)
}

/// The entropic transport cost `OT_ε(x, y)` between two uniform clouds, with the solver's report.
///
/// # Errors
/// As [`entropic_transport`](crate::entropic_transport).
pub fn entropic_transport<const D: usize>(
    x: &[[f32; D]],
    y: &[[f32; D]],
    config: &SinkhornConfig,
) -> Result<(f32, SinkhornReport), Error> {
    let mut buffer = workspace_buffer(x.len(), y.len())?;
    let mut workspace = SinkhornWorkspace::new(&mut buffer, x.len(), y.len())?;
    transport_core(&uniform(x), &uniform(y), config, &mut workspace)
}

/// The Sinkhorn drift `T_xy(x_i) − T_xx(x_i)` of uniform clouds, point-major, with the reports
/// of its two solves.
///
/// # Errors
/// As [`sinkhorn_drift`](crate::sinkhorn_drift).
pub fn sinkhorn_drift<const D: usize>(
    x: &[[f32; D]],
    y: &[[f32; D]],
    config: &SinkhornConfig,
) -> Result<(Vec<[f32; D]>, [SinkhornReport; 2]), Error> {
    let n = x.len();
    let mut buffer = workspace_buffer(n, y.len())?;
    let mut workspace = SinkhornWorkspace::new(&mut buffer, n, y.len())?;
    let (a, b) = (uniform(x), uniform(y));
    with_field(n, "x", |out| {
        sinkhorn_drift_core(&a, &b, config, &mut workspace, out)
    })
}

/// The one-shot Sinkhorn proxy drift of uniform clouds, point-major.
///
/// # Errors
/// As [`sinkhorn_proxy_drift`](crate::sinkhorn_proxy_drift).
pub fn sinkhorn_proxy_drift<const D: usize>(
    x: &[[f32; D]],
    y: &[[f32; D]],
    config: &SinkhornConfig,
) -> Result<Vec<[f32; D]>, Error> {
    let n = x.len();
    let mut scratch = buffer(
        crate::sinkhorn::checked_sinkhorn_proxy_scratch_len(n, y.len()),
        "n + m",
    )?;
    let (a, b) = (uniform(x), uniform(y));
    with_field(n, "x", |out| proxy_core(&a, &b, config, &mut scratch, out)).map(|(field, ())| field)
}

/// The sliced Wasserstein distance between two clouds; `rng` draws the directions.
///
/// # Errors
/// As [`metrics::sliced_wasserstein`](crate::metrics::sliced_wasserstein).
pub fn sliced_wasserstein<const D: usize, R: Rng + ?Sized>(
    x: &[[f32; D]],
    y: &[[f32; D]],
    config: &SlicedWassersteinConfig,
    rng: &mut R,
) -> Result<f64, Error> {
    let len = sliced_wasserstein_scratch_len(x.len().max(y.len()));
    let mut scratch = buffer(Some(len), "x")?;
    sliced_wasserstein_core(
        &CloudView::from_points(x),
        &CloudView::from_points(y),
        config,
        rng,
        &mut scratch,
    )
}
