//! Multithreaded drift operators and Sinkhorn routines (feature `std`), deterministic whatever
//! the number of threads.
//!
//! Every function here has the signature, the validation, the scratch needs and the *result* of
//! the serial function of the same name, down to the last bit: they are the same code. A pair
//! reduction produces one value (or one `D`-vector) per particle of its lane cloud; the lane
//! cloud is cut into fixed chunks of 256 particles (32 SIMD blocks of 8), independent of the
//! number of threads, and the serial core runs those chunks one after the other while the
//! functions here hand them to the current [rayon] pool. A block's arithmetic does not depend on
//! which chunk or thread runs it and chunks write disjoint rows, so rows, means and outputs are
//! bit-identical. Reductions *across* rows are avoided by construction:
//!
//! * the column log-sum-exps of the two-axis and multi-temperature drifts are computed as row
//!   log-sum-exps of the transposed problem (the logit and the self mask are symmetric in the
//!   pair), a pass parallel over the columns with nothing to merge, and no more `exp`s than the
//!   serial algorithm already spends (one per pair and per log-sum-exp);
//! * the one true cross-row sum, the multi-temperature distance scale, is summed per chunk in
//!   `f64` and the chunk partials are added in chunk order, in the serial core as well.
//!
//! The remaining `O(N + M)` work (Sinkhorn's bias vectors, averaging, marginal errors and
//! balancing; the multi-temperature normalisation; the `log-add-exp` of the row log-sum-exps)
//! stays on the calling thread: it is well under 1 % of a solve at `N = 4096`.
//!
//! The functions run in the current rayon pool: the global pool, or one of your choosing with
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use drifting::{CloudView, Kernel, Negatives, TwoAxisConfig, two_axis_scratch_len};
//! let x = [[0.0_f32, 0.0], [1.0, 0.5], [0.2, -0.3]];
//! let y = [[0.5_f32, 0.5], [-1.0, 0.0]];
//! let (queries, positives) = (CloudView::from_points(&x), CloudView::from_points(&y));
//! let mut scratch = vec![0.0; two_axis_scratch_len(3, 2, 3)];
//! let mut out = vec![0.0; 3 * 2];
//! let config = TwoAxisConfig::new(Kernel::laplace(0.5));
//! let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build()?;
//! pool.install(|| {
//!     drifting::parallel::two_axis_softmax_drift(
//!         &queries, &positives, Negatives::Queries, &config, &mut scratch, &mut out,
//!     )
//! })?;
//! let mut serial = vec![0.0; 3 * 2];
//! drifting::two_axis_softmax_drift(
//!     &queries, &positives, Negatives::Queries, &config, &mut scratch, &mut serial,
//! )?;
//! assert_eq!(out, serial); // bit for bit
//! # Ok(())
//! # }
//! ```
//!
//! Scratch lengths are the serial ones ([`two_axis_scratch_len`](crate::two_axis_scratch_len),
//! [`multi_temperature_scratch_len`](crate::multi_temperature_scratch_len),
//! [`SinkhornWorkspace::required_len`],
//! [`sinkhorn_proxy_scratch_len`](crate::sinkhorn::sinkhorn_proxy_scratch_len)):
//! per-chunk state lives on each worker's stack; the drivers allocate one small list of chunk
//! handles per pass (`N/256` entries).
//!
//! Parallelism is over the lane cloud of each pass (the queries, or for column passes the
//! targets), so a pass over fewer than 512 particles runs on one thread.

use crate::cloud::CloudView;
use crate::drift::Negatives;
use crate::drift::mean_shift::{MeanShiftConfig, mean_shift_drift_on};
use crate::drift::mmd_flow::{MmdFlowConfig, mmd_flow_drift_on};
use crate::drift::multi_temperature::{
    MultiTemperatureConfig, MultiTemperatureReport, multi_temperature_drift_on,
};
use crate::drift::two_axis::{TwoAxisConfig, two_axis_softmax_drift_on};
use crate::engine::chunks::Exec;
use crate::error::Error;
use crate::metrics::{MmdConfig, SlicedWassersteinConfig, TwoSampleStatistic};
use crate::mlp::Mlp;
use crate::sinkhorn::{
    SinkhornConfig, SinkhornDivergence, SinkhornReport, SinkhornWorkspace, WeightedCloud,
};
use crate::train::{StepReport, Trainer};

/// [`crate::mean_shift_drift`] on the current rayon pool; same result, bit for bit.
///
/// # Errors
/// As [`crate::mean_shift_drift`].
pub fn mean_shift_drift<const D: usize>(
    queries: &CloudView<'_, D>,
    positives: &CloudView<'_, D>,
    negatives: Negatives<'_, D>,
    config: &MeanShiftConfig,
    out: &mut [f32],
) -> Result<(), Error> {
    mean_shift_drift_on(Exec::Rayon, queries, positives, negatives, config, out)
}

/// [`crate::mmd_flow_drift`] on the current rayon pool; same result, bit for bit.
///
/// # Errors
/// As [`crate::mmd_flow_drift`].
pub fn mmd_flow_drift<const D: usize>(
    queries: &CloudView<'_, D>,
    positives: &CloudView<'_, D>,
    negatives: Negatives<'_, D>,
    config: &MmdFlowConfig,
    out: &mut [f32],
) -> Result<(), Error> {
    mmd_flow_drift_on(Exec::Rayon, queries, positives, negatives, config, out)
}

/// [`crate::two_axis_softmax_drift`] on the current rayon pool; same result, bit for bit, and
/// the same scratch ([`two_axis_scratch_len`](crate::two_axis_scratch_len)).
///
/// # Errors
/// As [`crate::two_axis_softmax_drift`].
pub fn two_axis_softmax_drift<const D: usize>(
    queries: &CloudView<'_, D>,
    positives: &CloudView<'_, D>,
    negatives: Negatives<'_, D>,
    config: &TwoAxisConfig,
    scratch: &mut [f32],
    out: &mut [f32],
) -> Result<(), Error> {
    two_axis_softmax_drift_on(
        Exec::Rayon,
        queries,
        positives,
        negatives,
        config,
        scratch,
        out,
    )
}

/// [`crate::multi_temperature_drift`] on the current rayon pool; same result and report, bit for
/// bit, and the same scratch
/// ([`multi_temperature_scratch_len`](crate::multi_temperature_scratch_len)).
///
/// # Errors
/// As [`crate::multi_temperature_drift`].
pub fn multi_temperature_drift<const D: usize>(
    queries: &CloudView<'_, D>,
    positives: &CloudView<'_, D>,
    config: &MultiTemperatureConfig<'_>,
    scratch: &mut [f32],
    out: &mut [f32],
) -> Result<MultiTemperatureReport, Error> {
    multi_temperature_drift_on(Exec::Rayon, queries, positives, config, scratch, out)
}

/// [`crate::entropic_transport`] with every softmin on the current rayon pool; same potentials,
/// value and report, bit for bit.
///
/// # Errors
/// As [`crate::entropic_transport`].
pub fn entropic_transport<const D: usize>(
    x: &WeightedCloud<'_, D>,
    y: &WeightedCloud<'_, D>,
    config: &SinkhornConfig,
    workspace: &mut SinkhornWorkspace<'_>,
) -> Result<(f32, SinkhornReport), Error> {
    crate::sinkhorn::entropic_transport_on(Exec::Rayon, x, y, config, workspace)
}

/// [`crate::sinkhorn_divergence`] with every softmin on the current rayon pool; same result,
/// bit for bit.
///
/// # Errors
/// As [`crate::sinkhorn_divergence`].
pub fn sinkhorn_divergence<const D: usize>(
    x: &WeightedCloud<'_, D>,
    y: &WeightedCloud<'_, D>,
    config: &SinkhornConfig,
    workspace: &mut SinkhornWorkspace<'_>,
) -> Result<SinkhornDivergence, Error> {
    crate::sinkhorn::sinkhorn_divergence_on(Exec::Rayon, x, y, config, workspace)
}

/// [`crate::barycentric_projection`] on the current rayon pool; same result, bit for bit.
///
/// # Errors
/// As [`crate::barycentric_projection`].
pub fn barycentric_projection<const D: usize>(
    x: &WeightedCloud<'_, D>,
    y: &WeightedCloud<'_, D>,
    config: &SinkhornConfig,
    workspace: &mut SinkhornWorkspace<'_>,
    out: &mut [f32],
) -> Result<SinkhornReport, Error> {
    crate::sinkhorn::barycentric_projection_on(Exec::Rayon, x, y, config, workspace, out)
}

/// [`crate::sinkhorn_drift`] on the current rayon pool; same result, bit for bit.
///
/// # Errors
/// As [`crate::sinkhorn_drift`].
pub fn sinkhorn_drift<const D: usize>(
    x: &WeightedCloud<'_, D>,
    y: &WeightedCloud<'_, D>,
    config: &SinkhornConfig,
    workspace: &mut SinkhornWorkspace<'_>,
    out: &mut [f32],
) -> Result<[SinkhornReport; 2], Error> {
    crate::sinkhorn::sinkhorn_drift_on(Exec::Rayon, x, y, config, workspace, out)
}

/// [`crate::sinkhorn_proxy_drift`] on the current rayon pool; same result, bit for bit, and the
/// same scratch ([`sinkhorn_proxy_scratch_len`](crate::sinkhorn::sinkhorn_proxy_scratch_len)).
///
/// # Errors
/// As [`crate::sinkhorn_proxy_drift`].
pub fn sinkhorn_proxy_drift<const D: usize>(
    x: &WeightedCloud<'_, D>,
    y: &WeightedCloud<'_, D>,
    config: &SinkhornConfig,
    scratch: &mut [f32],
    out: &mut [f32],
) -> Result<(), Error> {
    crate::sinkhorn::sinkhorn_proxy_drift_on(Exec::Rayon, x, y, config, scratch, out)
}

/// [`crate::metrics::mmd`] on the current rayon pool; same statistic, bit for bit (the chunk
/// totals of the first cloud are added in chunk order in both).
///
/// # Errors
/// As [`crate::metrics::mmd`].
pub fn mmd<const D: usize>(
    x: &CloudView<'_, D>,
    y: &CloudView<'_, D>,
    config: &MmdConfig<'_>,
) -> Result<TwoSampleStatistic, Error> {
    crate::metrics::mmd_on(Exec::Rayon, x, y, config)
}

/// [`crate::metrics::energy_distance`] on the current rayon pool; same statistic, bit for bit.
///
/// # Errors
/// As [`crate::metrics::energy_distance`].
pub fn energy_distance<const D: usize>(
    x: &CloudView<'_, D>,
    y: &CloudView<'_, D>,
) -> Result<TwoSampleStatistic, Error> {
    crate::metrics::energy_distance_on(Exec::Rayon, x, y)
}

/// [`crate::metrics::sliced_wasserstein`] with the directions on the current rayon pool; same
/// value, bit for bit, and the same draws from `rng`. Each worker sorts in a buffer of its own
/// (`2n` floats per worker); `scratch` is checked as in the serial function.
///
/// # Errors
/// As [`crate::metrics::sliced_wasserstein`].
pub fn sliced_wasserstein<const D: usize, R: rand_core::Rng + ?Sized>(
    x: &CloudView<'_, D>,
    y: &CloudView<'_, D>,
    config: &SlicedWassersteinConfig,
    rng: &mut R,
    scratch: &mut [f32],
) -> Result<f64, Error> {
    crate::metrics::sliced_wasserstein_on(Exec::Rayon, x, y, config, rng, scratch)
}

/// [`Mlp::forward`] with the hidden layers' batch tiles on the current rayon pool; same output
/// and cache, bit for bit.
///
/// # Errors
/// As [`Mlp::forward`].
pub fn mlp_forward<const I: usize, const H: usize, const O: usize>(
    mlp: &Mlp<I, H, O>,
    params: &[f32],
    input: &[f32],
    batch: usize,
    cache: &mut [f32],
    output: &mut [f32],
) -> Result<(), Error> {
    mlp.forward_on(Exec::Rayon, params, input, batch, cache, output)
}

/// [`Mlp::backward`] with the batch tiles of `Wᵀ·dZ` and the row panels of `dZ·Xᵀ` on the
/// current rayon pool; same gradients, bit for bit (each weight-gradient row is reduced over
/// the batch in order by one task; each task allocates two small transposition buffers).
///
/// # Errors
/// As [`Mlp::backward`].
#[allow(clippy::too_many_arguments)]
pub fn mlp_backward<const I: usize, const H: usize, const O: usize>(
    mlp: &Mlp<I, H, O>,
    params: &[f32],
    cache: &[f32],
    grad_output: &[f32],
    batch: usize,
    grads: &mut [f32],
    grad_input: Option<&mut [f32]>,
    scratch: &mut [f32],
) -> Result<(), Error> {
    mlp.backward_on(
        Exec::Rayon,
        params,
        cache,
        grad_output,
        batch,
        grads,
        grad_input,
        scratch,
    )
}

/// [`Trainer::step`] with the drift field's pair passes and the generator's forward and
/// backward batch work on the current rayon pool; same parameters, report and samples, bit for
/// bit. The noise draw and the Adam update (`O(parameters)`) stay on the calling thread.
///
/// # Errors
/// As [`Trainer::step`].
pub fn train_step<const I: usize, const H: usize, const O: usize, R: rand_core::Rng + ?Sized>(
    trainer: &mut Trainer<'_, I, H, O>,
    rng: &mut R,
    data: &CloudView<'_, O>,
) -> Result<StepReport, Error> {
    trainer.step_on(Exec::Rayon, rng, data)
}

/// [`DriftField::evaluate`](crate::DriftField::evaluate) on the current rayon pool; same result,
/// bit for bit (the sliced flow, sort-bound, stays serial).
///
/// # Errors
/// As [`DriftField::evaluate`](crate::DriftField::evaluate).
pub fn drift_field<const D: usize, R: rand_core::Rng + ?Sized>(
    field: &crate::DriftField,
    temperatures: &[f32],
    rng: &mut R,
    queries: &CloudView<'_, D>,
    positives: &CloudView<'_, D>,
    scratch: &mut [f32],
    out: &mut [f32],
) -> Result<f32, Error> {
    field.evaluate_on(
        Exec::Rayon,
        temperatures,
        rng,
        queries,
        positives,
        scratch,
        out,
    )
}
