//! The mean-shift drift `V(x) = η (μ_p(x) − μ_q(x))` (docs/mathematics.md §3).

use crate::cloud::CloudView;
use crate::drift::operator::{DriftOperator, DriftOutcome, DriftShape, validate_kernel_step};
use crate::drift::{Negatives, validate_clouds};
use crate::engine::chunks::{Exec, for_each_chunk};
use crate::engine::simd::F32s;
use crate::engine::{
    Block, LogitRule, PairMask, Partners, Shape, check_kernel_range, dispatch_shape, is_laplace,
    mean_displacement,
};
use crate::error::Error;
use crate::kernel::Kernel;
use rand_core::Rng;

/// Configuration of [`mean_shift_drift`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MeanShiftConfig {
    /// The kernel `k`.
    pub kernel: Kernel,
    /// The step `η` (default 1).
    pub step: f32,
    /// With [`Negatives::Queries`], leave the pair `(i, i)` out of `μ_q(x_i)` (default `true`).
    pub exclude_self: bool,
}

impl MeanShiftConfig {
    /// `η = 1`, self-pair excluded.
    #[must_use]
    pub const fn new(kernel: Kernel) -> Self {
        Self {
            kernel,
            step: 1.0,
            exclude_self: true,
        }
    }
}

/// The mean-shift drift `V(x_i) = η (μ_p(x_i) − μ_q(x_i))`, with the kernel-weighted means
/// `μ_π(x) = Σ_j k(x, y_j) y_j / Σ_j k(x, y_j)` of the positives (`p`) and negatives (`q`).
///
/// With the Gaussian kernel, `μ_π(x) − x = σ² ∇log π_σ(x)` (Tweedie), so the drift is exactly
/// `η σ² (∇log p_σ − ∇log q_σ)`, a difference of smoothed scores (first paper, Turan & Ovsjanikov
/// 2026; docs/mathematics.md §3).
///
/// Each mean is one streaming pass with an online log-sum-exp, so far-away clouds at tiny
/// temperatures give the exact normalised means, never `0/0`. With [`Negatives::Queries`] and
/// `exclude_self`, a single query has no negative left and its repulsion term is 0.
///
/// Output: coordinate-major, `V_d(x_i)` at `out[d·N + i]`. Cost `O(N·(P+Q)·D)`, one `exp` per
/// pair; memory `O(D)` per block of 8 queries, no scratch.
///
/// Multithreaded with feature `std` (the current rayon pool; the same bits whatever the number
/// of threads).
///
/// # Errors
/// Empty or non-finite clouds, an invalid kernel or step (non-finite), an `out` whose length is
/// not `N·D`.
///
/// # Accuracy
/// Matches the `f64` reference to about `1e-5` relative to the cloud's scale (see
/// `tests/drift_accuracy.rs` for the tolerance per setting).
///
/// # Example
/// ```
/// use drifting::{CloudView, Kernel, MeanShiftConfig, Negatives, mean_shift_drift};
/// let generated = [[0.0_f32, 0.0], [0.5, 0.5], [2.0, -1.0]];
/// let data = [[1.0_f32, 0.0]]; // one positive y
/// let negative = [[0.0_f32, 1.0]]; // one negative z
/// let mut drift = [0.0_f32; 3 * 2]; // V_x of every sample, then V_y: no scratch needed
/// mean_shift_drift(
///     &CloudView::from_points(&generated),
///     &CloudView::from_points(&data),
///     Negatives::Cloud(CloudView::from_points(&negative)),
///     &MeanShiftConfig::new(Kernel::gaussian(0.5)),
///     &mut drift,
/// )?;
/// // One point on each side: the kernel means are those points, so V(x) = y − z everywhere.
/// for i in 0..3 {
///     assert!((drift[i] - 1.0).abs() < 1e-6 && (drift[3 + i] + 1.0).abs() < 1e-6);
/// }
/// # Ok::<(), drifting::Error>(())
/// ```
pub fn mean_shift_drift<const D: usize>(
    queries: &CloudView<'_, D>,
    positives: &CloudView<'_, D>,
    negatives: Negatives<'_, D>,
    config: &MeanShiftConfig,
    out: &mut [f32],
) -> Result<(), Error> {
    let exec = Exec::current();
    let (negatives, is_self) = validate_clouds(queries, positives, negatives, out)?;
    config.kernel.validate()?;
    if !config.step.is_finite() {
        return Err(Error::InvalidParameter { input: "step" });
    }
    let diameter2 = check_kernel_range(&config.kernel, &[queries, positives, &negatives], 0.0)?;
    if f64::from(config.step.abs()) * libm::sqrt(diameter2) > 1.0e37 {
        return Err(Error::OutOfRange { input: "step" });
    }
    let rule = LogitRule::new(&config.kernel, PairMask::Exclude);
    let positives = Partners::new(*positives, false);
    let negatives = Partners::new(negatives, is_self && config.exclude_self);
    dispatch_shape!(is_laplace(&config.kernel), S => run::<D, S>(exec, queries, &positives, &negatives, &rule, config.step, out));
    Ok(())
}

fn run<const D: usize, S: Shape>(
    exec: Exec,
    queries: &CloudView<'_, D>,
    positives: &Partners<'_, D>,
    negatives: &Partners<'_, D>,
    rule: &LogitRule,
    step: f32,
    out: &mut [f32],
) {
    let step = F32s::splat(step);
    for_each_chunk::<D>(exec, queries.len(), out, |rows| {
        for start in rows.block_starts() {
            let block = Block::gather(queries, start);
            let toward_p = mean_displacement::<D, S>(&block, positives, rule);
            let toward_q = mean_displacement::<D, S>(&block, negatives, rule);
            for (d, (p, q)) in toward_p.iter().zip(toward_q.iter()).enumerate() {
                rows.write(d, start, block.valid, (*p - *q) * step);
            }
        }
    });
}

impl MeanShiftConfig {
    /// Workspace values the operator needs: none (each mean streams with `O(D)` state per
    /// block of queries). `const`, for the [`DriftOperator`] convention.
    #[must_use]
    pub const fn workspace_len(&self, _shape: &DriftShape) -> usize {
        0
    }
}

impl DriftOperator for MeanShiftConfig {
    const NAME: &'static str = "mean shift";
    const SEPARATE_NEGATIVES: bool = true;

    fn workspace_len(&self, shape: &DriftShape) -> Option<usize> {
        Some(Self::workspace_len(self, shape))
    }

    fn validate(&self) -> Result<(), Error> {
        validate_kernel_step(&self.kernel, self.step)
    }

    fn run<const D: usize, R: Rng + ?Sized>(
        &self,
        queries: &CloudView<'_, D>,
        positives: &CloudView<'_, D>,
        negatives: Negatives<'_, D>,
        _rng: &mut R,
        _workspace: &mut [f32],
        out: &mut [f32],
    ) -> Result<DriftOutcome, Error> {
        mean_shift_drift(queries, positives, negatives, self, out)?;
        Ok(DriftOutcome::single(out))
    }
}
