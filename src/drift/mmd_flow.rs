//! The MMD-flow drift `V(x) = η ∇_x [(1/P) Σ_j k(x, y⁺_j) − (1/Q) Σ_k k(x, y⁻_k)]` (docs/mathematics.md
//! §7; the third paper's MMD gradient flow, Arbel et al. 2019).

use crate::cloud::CloudView;
use crate::drift::operator::{DriftOperator, DriftOutcome, DriftShape, validate_kernel_step};
use crate::drift::{Negatives, validate_clouds};
use crate::engine::chunks::{Exec, for_each_chunk};
use crate::engine::simd::F32s;
use crate::engine::{
    Block, LogitRule, PairMask, Partners, Shape, check_kernel_range, dispatch_shape, is_laplace,
    sweep,
};
use crate::error::Error;
use crate::kernel::Kernel;
use rand_core::Rng;

/// Configuration of [`mmd_flow_drift`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MmdFlowConfig {
    /// The kernel `k` (its gradient drives the flow).
    pub kernel: Kernel,
    /// The step `η` (default 1).
    pub step: f32,
}

impl MmdFlowConfig {
    /// `η = 1`.
    #[must_use]
    pub const fn new(kernel: Kernel) -> Self {
        Self { kernel, step: 1.0 }
    }
}

/// The MMD-flow drift: the gradient of the MMD witness function between the positives `p` and
/// the negatives `q`,
///
/// `V(x_i) = η [(1/P) Σ_j ∇k(x_i, y⁺_j) − (1/Q) Σ_k ∇k(x_i, y⁻_k)]`, with
/// `∇_x k(x, y) = k(x, y)(y − x)/σ²` (Gaussian) or `k(x, y)(y − x)/(τ‖y − x‖)` (Laplace).
///
/// Unlike the mean-shift and two-axis drifts the kernel sums are **not normalised**: the field
/// decays like the kernel away from the data, the "Coulomb-like" behaviour the third paper
/// contrasts with the normalised drifts (a particle far from every data point feels almost no
/// pull). At a zero distance the Laplace kernel's gradient is taken as its subgradient 0 (this
/// also removes the self-pair with [`Negatives::Queries`], whose Gaussian term is 0 anyway).
///
/// Output: coordinate-major, `V_d(x_i)` at `out[d·N + i]`. Cost `O(N·(P+Q)·D)`, one `exp` per
/// pair; memory `O(D)` per block of 8 queries. Multithreaded with feature `std`
/// (the current rayon pool; the same bits).
///
/// # Errors
/// Empty or non-finite clouds, an invalid kernel or a non-finite step
/// ([`Error::InvalidParameter`]), an `out` whose length is not `N·D` ([`Error::ShapeMismatch`]);
/// [`Error::OutOfRange`] for points more than `1e18` apart, a temperature whose logits would pass
/// `1e28`, or a step so large that `η·max|∇k|` (`η/τ`, `η/(σ√e)`) passes `1e37`.
///
/// # Accuracy
/// Matches an `f64` reference to `1e-5` relative to the field's largest value
/// (`tests/drift_flows.rs`).
///
/// # Example
/// ```
/// use drifting::{CloudView, Kernel, MmdFlowConfig, Negatives, mmd_flow_drift};
/// let data = [[0.0_f32, 0.0], [0.2, 0.1]];
/// let generated = [[0.3_f32, 0.0], [8.0, 0.0]]; // one sample near the data, one far away
/// let (x, y) = (CloudView::from_points(&generated), CloudView::from_points(&data));
/// let config = MmdFlowConfig::new(Kernel::gaussian(0.5));
/// let mut flow = [0.0_f32; 2 * 2];
/// mmd_flow_drift(&x, &y, Negatives::Queries, &config, &mut flow)?;
/// assert!(flow[0] < 0.0); // the near sample is pulled left, toward the data
/// // Unnormalised: the far sample feels no pull at all (a normalised drift would pull it).
/// assert_eq!((flow[1], flow[3]), (0.0, 0.0));
///
/// // Negatives equal to the positives: the witness function is 0, and so is its gradient.
/// mmd_flow_drift(&x, &y, Negatives::Cloud(y), &config, &mut flow)?;
/// assert!(flow.iter().all(|v| v.abs() < 1e-6));
/// # Ok::<(), drifting::Error>(())
/// ```
pub fn mmd_flow_drift<const D: usize>(
    queries: &CloudView<'_, D>,
    positives: &CloudView<'_, D>,
    negatives: Negatives<'_, D>,
    config: &MmdFlowConfig,
    out: &mut [f32],
) -> Result<(), Error> {
    let exec = Exec::current();
    let (negatives, is_self, _) = validate(queries, positives, negatives, config, out)?;
    let rule = LogitRule::new(&config.kernel, PairMask::Exclude);
    #[allow(clippy::cast_precision_loss)]
    let scales = (
        config.step / positives.len() as f32,
        config.step / negatives.len() as f32,
    );
    let positives = Partners::new(*positives, false);
    let negatives = Partners::new(negatives, is_self);
    dispatch_shape!(is_laplace(&config.kernel), S => run::<D, S>(exec, queries, &positives, &negatives, &rule, scales, out));
    Ok(())
}

/// The checks of [`mmd_flow_drift`] (also those of the pruned flow): the negatives' cloud,
/// whether it is the queries, and the squared diameter of the clouds' union.
pub(crate) fn validate<'a, const D: usize>(
    queries: &CloudView<'a, D>,
    positives: &CloudView<'a, D>,
    negatives: Negatives<'a, D>,
    config: &MmdFlowConfig,
    out: &[f32],
) -> Result<(CloudView<'a, D>, bool, f64), Error> {
    let (negatives, is_self) = validate_clouds(queries, positives, negatives, out)?;
    config.kernel.validate()?;
    if !config.step.is_finite() {
        return Err(Error::InvalidParameter { input: "step" });
    }
    let diameter2 = check_kernel_range(&config.kernel, &[queries, positives, &negatives], 0.0)?;
    // Largest kernel gradient: 1/τ (Laplace), 1/(σ√e) (Gaussian).
    let largest_gradient = match config.kernel {
        Kernel::Laplace { temperature } => 1.0 / f64::from(temperature),
        Kernel::Gaussian { bandwidth } => {
            1.0 / (f64::from(bandwidth) * libm::sqrt(core::f64::consts::E))
        }
    };
    if f64::from(config.step.abs()) * largest_gradient > 1.0e37 {
        return Err(Error::OutOfRange { input: "step" });
    }
    Ok((negatives, is_self, diameter2))
}

fn run<const D: usize, S: Shape>(
    exec: Exec,
    queries: &CloudView<'_, D>,
    positives: &Partners<'_, D>,
    negatives: &Partners<'_, D>,
    rule: &LogitRule,
    (scale_p, scale_q): (f32, f32),
    out: &mut [f32],
) {
    let (scale_p, scale_q) = (F32s::splat(scale_p), F32s::splat(scale_q));
    for_each_chunk::<D>(exec, queries.len(), out, |rows| {
        for start in rows.block_starts() {
            let block = Block::gather(queries, start);
            let toward_p = gradient_sum::<D, S>(&block, positives, rule);
            let toward_q = gradient_sum::<D, S>(&block, negatives, rule);
            for (d, (p, q)) in toward_p.iter().zip(toward_q.iter()).enumerate() {
                rows.write(d, start, block.valid, *p * scale_p - *q * scale_q);
            }
        }
    });
}

/// `Σ_j ∇_x k(x, y_j)` for the block's lanes, as weighted displacements `w_j (y_j − x)`.
#[inline(always)]
fn gradient_sum<const D: usize, S: Shape>(
    block: &Block<D>,
    partners: &Partners<'_, D>,
    rule: &LogitRule,
) -> [F32s; D] {
    let inv = F32s::splat(rule.inverse_scale);
    let mut acc = [F32s::splat(0.0); D];
    sweep::<D, S>(block, partners, rule, |tile| {
        for l in tile.logits_mut() {
            *l = S::gradient_weight(*l, inv);
        }
        tile.accumulate_displacements(tile.logits(), &block.coords, &mut acc);
    });
    acc
}

impl MmdFlowConfig {
    /// Workspace values the operator needs: none (the kernel sums stream). `const`, for the
    /// [`DriftOperator`] convention.
    #[must_use]
    pub const fn workspace_len(&self, _shape: &DriftShape) -> usize {
        0
    }
}

impl DriftOperator for MmdFlowConfig {
    const NAME: &'static str = "MMD flow";
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
        mmd_flow_drift(queries, positives, negatives, self, out)?;
        Ok(DriftOutcome::single(out))
    }

    /// Unnormalised kernel sums: a query beyond the kernel's reach of every data point feels no
    /// pull.
    fn reach(&self, _outcome: &DriftOutcome) -> Option<f32> {
        Some(self.kernel.reach())
    }
}
