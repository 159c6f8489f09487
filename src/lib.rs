//! # drifting
//!
//! Drifting models (Deng, Li, Li, Du, He, *Generative Modeling via Drifting*, 2026) train a
//! one-step generator by regressing its samples `x` onto `stopgrad(x + V(x))`, where `V` is a
//! kernel *drift* that attracts samples to the data and repels them from each other. This crate
//! is a `no_std`, allocation-free, SIMD implementation of the drift fields and everything around
//! them, for microcontrollers and many-core workstations alike.
//!
//! * [`CloudView`]: the borrowed point cloud every algorithm takes (slices per coordinate, a
//!   coordinate-major buffer, or `&[[f32; D]]`), and [`ParticleBuffer`], a fixed-capacity cloud
//!   that can live in a `static`.
//! * [`Kernel`]: Laplace `exp(−‖x−y‖/τ)` and Gaussian `exp(−‖x−y‖²/(2σ²))`, as logits.
//! * Drift operators: [`mean_shift_drift`] (§3), [`two_axis_softmax_drift`] (Algorithm 2, §4),
//!   [`multi_temperature_drift`] (the official normalised form, §5). All stream in tiles with an
//!   online log-sum-exp: `O(N + P + Q)` memory, never an `N × (P+Q)` matrix, exact for clouds far
//!   apart at tiny temperatures. For large 2D/3D clouds, [`pruned_mean_shift_drift`],
//!   [`pruned_two_axis_drift`] and [`pruned_mmd_flow_drift`] skip far tiles with a certified
//!   error bound.
//! * [`stop_gradient_loss`]: the loss and its gradient `−2V/(N·D)` for the generator.
//! * [`sinkhorn`]: log-domain Sinkhorn (§6): [`entropic_transport`], the debiased
//!   [`sinkhorn_divergence`], [`barycentric_projection`], the [`sinkhorn_drift`] `T_ab − T_aa` and
//!   the one-shot [`sinkhorn_proxy_drift`], all streaming with `O(N + M)` memory; and
//!   [`pruned_sinkhorn_divergence`] and [`pruned_sinkhorn_drift`], the divergence and the drift
//!   with certified tile pruning of their softmins and projections for large 2D/3D clouds.
//! * [`sample`]: uniform and standard normal noise from any `rand_core` generator, no `std`.
//!
//! ## Quick start, without a heap
//! Borrowed clouds, caller-owned scratch sized by `const fn`s, and an output slice (with feature
//! `alloc`, `drifting::owned` does the same in one line per call and returns points):
//!
//! ```
//! use drifting::{CloudView, Kernel, Negatives, TwoAxisConfig, two_axis_scratch_len};
//! use drifting::{SinkhornConfig, SinkhornWorkspace, WeightedCloud, sinkhorn_divergence};
//! use drifting::two_axis_softmax_drift;
//! let generated = [[0.0_f32, 0.0], [1.0, 0.5], [0.2, -0.3]];
//! let data = [[0.5_f32, 0.5], [-1.0, 0.0]];
//! let (x, y) = (CloudView::from_points(&generated), CloudView::from_points(&data));
//!
//! let mut scratch = [0.0_f32; two_axis_scratch_len(3, 2, 3)];
//! let mut drift = [0.0_f32; 3 * 2]; // coordinate-major: V_x of every sample, then V_y
//! let config = TwoAxisConfig::new(Kernel::laplace(0.5));
//! two_axis_softmax_drift(&x, &y, Negatives::Queries, &config, &mut scratch, &mut drift)?;
//!
//! let mut buffer = [0.0_f32; SinkhornWorkspace::required_len(3, 2)];
//! let mut workspace = SinkhornWorkspace::new(&mut buffer, 3, 2)?;
//! let (a, b) = (WeightedCloud::uniform(x), WeightedCloud::uniform(y));
//! let divergence = sinkhorn_divergence(&a, &b, &SinkhornConfig::new(), &mut workspace)?;
//! assert!(divergence.value > 0.0 && divergence.reports[0].converged);
//! # Ok::<(), drifting::Error>(())
//! ```
//!
//! ## Threads
//! Without features the crate is single-threaded. With feature `std`, every entry point (drifts,
//! Sinkhorn, metrics, the generator's passes, a training step) runs its pair and batch work on
//! the current [rayon](https://docs.rs/rayon) pool: the global one, or yours inside
//! `ThreadPool::install`. Nothing in a signature changes and the results are the same bits
//! whatever the number of threads (one fixed partition of the work, reductions in a fixed order:
//! `ARCHITECTURE.md`, "Threads").
//!
//! Section numbers refer to `docs/mathematics.md` (the crate's formula sheet, with its sources).
//!
//! ## Accuracy
//! All hot arithmetic is `f32` with `wide` SIMD (8 lanes over particles). Every operator is
//! tested against a plain scalar `f64` reference (`tests/reference/`) and against PyTorch values;
//! the tolerances are stated per operator in the README's accuracy table and in the tests
//! (`tests/drift_accuracy.rs`, `tests/sinkhorn_reference.rs`, `tests/feature_reference.rs`).
//!
//! ## Errors
//! Every entry point validates once and returns [`Error`]; loops after validation cannot fail.
//! Library code contains no `unwrap`, `expect`, `panic!` or slice indexing.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[cfg(feature = "std")]
extern crate std;

/// The README's Rust examples, compiled and run by `cargo test --all-features --doc` (they use
/// `drifting::owned` and a rayon pool: feature `std`).
#[cfg(all(doctest, feature = "std"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

pub mod adam;
mod cloud;
pub mod datasets;
pub mod drift;
mod engine;
mod error;
mod kernel;
mod loss;
pub mod metrics;
pub mod mlp;
#[cfg(feature = "alloc")]
pub mod owned;
pub mod sample;
pub mod schedule;
pub mod score;
pub mod sinkhorn;
pub mod spatial;
pub mod spectral;
pub mod train;

pub use adam::{Adam, AdamState, AdamStepReport};
pub use cloud::{CloudView, ParticleBuffer};
pub use datasets::Dataset;
#[cfg(feature = "dense")]
pub use drift::grouped::{
    FeatureKey, FeatureLossReport, GRAM_SIGMAS, GRAM_TOLERANCE, GroupShape, GroupedDriftConfig,
    GroupedDriftReport, MAX_FEATURE_KEYS, NEAR_PAIR_RATIO, feature_drift_loss,
    feature_drift_workspace_len, grouped_drift_loss, grouped_drift_workspace_len,
    grouped_drift_workspace_len_with,
};
pub use drift::mean_shift::{MeanShiftConfig, mean_shift_drift};
pub use drift::mmd_flow::{MmdFlowConfig, mmd_flow_drift};
#[cfg(feature = "dense")]
pub use drift::multi_temperature::multi_temperature_dense_scratch_len;
pub use drift::multi_temperature::{
    MAX_TEMPERATURES, MultiTemperatureConfig, MultiTemperatureReport, OFFICIAL_TEMPERATURES,
    multi_temperature_drift, multi_temperature_scratch_len,
};
pub use drift::pruned_mean_shift::{
    PRUNE_TILE, PruneReport, PrunedMeanShiftConfig, PrunedWorkspace, pruned_mean_shift_drift,
    pruned_mean_shift_workspace_len,
};
pub use drift::pruned_mmd_flow::{
    PrunedMmdFlowConfig, pruned_mmd_flow_drift, pruned_mmd_flow_workspace_len,
};
pub use drift::pruned_two_axis::{
    PrunedTwoAxisConfig, PrunedTwoAxisWorkspace, pruned_two_axis_drift,
    pruned_two_axis_workspace_len,
};
pub use drift::pruning::{PRUNE_BELOW_REACH, pruning_pays};
pub use drift::sliced_wasserstein_drift::{
    SlicedWassersteinDriftConfig, sliced_wasserstein_drift, sliced_wasserstein_drift_scratch_len,
};
/// The former name of [`SlicedWassersteinDriftConfig`].
#[deprecated(note = "renamed SlicedWassersteinDriftConfig (one name per operator)")]
pub type SlicedFlowConfig = SlicedWassersteinDriftConfig;
/// The former name of [`sliced_wasserstein_drift_scratch_len`].
#[deprecated(note = "renamed sliced_wasserstein_drift_scratch_len (one name per operator)")]
#[must_use]
pub const fn sliced_flow_scratch_len(n: usize, p: usize) -> usize {
    sliced_wasserstein_drift_scratch_len(n, p)
}
pub use drift::field::OperatorVisitor;
pub use drift::multi_temperature_vjp::{multi_temperature_vjp, multi_temperature_vjp_scratch_len};
pub use drift::operator::{
    DriftOperator, DriftOutcome, DriftShape, DriftWorkspace, TemperatureUse,
};
pub use drift::two_axis::{SelfMask, TwoAxisConfig, two_axis_scratch_len, two_axis_softmax_drift};
#[cfg(feature = "dense")]
pub use drift::two_axis_dense_scratch_len;
pub use drift::two_axis_vjp::{two_axis_vjp, two_axis_vjp_scratch_len};
pub use drift::vjp::{mean_shift_vjp, mean_shift_vjp_scratch_len};
pub use drift::{
    DENSE_FROM_DIMENSION, DENSE_FROM_DIMENSION_SMALL, DistanceMethod, EXPANDED_FROM_CHANNELS,
    Evaluation, Negatives, NormaliserMethod, SMALL_TILE,
};
pub use error::Error;
pub use kernel::Kernel;
pub use loss::stop_gradient_loss;
pub use mlp::{Activation, LayerShape, Mlp};
pub use schedule::AnnealingSchedule;
pub use sinkhorn::{
    GroundCost, SinkhornConfig, SinkhornDivergence, SinkhornReport, SinkhornWorkspace, UpdateRule,
    WeightedCloud, barycentric_projection, entropic_transport, sinkhorn_divergence, sinkhorn_drift,
    sinkhorn_proxy_drift,
};
pub use sinkhorn::{
    MultiscaleReport, MultiscaleSinkhornConfig, MultiscaleSinkhornWorkspace,
    multiscale_sinkhorn_divergence, multiscale_sinkhorn_drift, multiscale_sinkhorn_workspace_len,
};
pub use sinkhorn::{
    PrunedSinkhornConfig, PrunedSinkhornWorkspace, pruned_sinkhorn_divergence,
    pruned_sinkhorn_drift, pruned_sinkhorn_workspace_len,
};
pub use train::{DriftField, KernelFamily, StepReport, Trainer, TrainerConfig};

/// The crate's SIMD `exp` (8 lanes), exposed for the benches' throughput bound; not a stable API.
#[doc(hidden)]
#[must_use]
#[inline]
pub fn simd_exp(x: wide::f32x8) -> wide::f32x8 {
    engine::simd::exp(x)
}
