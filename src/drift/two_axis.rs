//! The two-axis softmax drift: the method's Algorithm 2 and the official 2D demo
//! (Deng et al. 2026; docs/mathematics.md §4).

use crate::cloud::CloudView;
#[cfg(feature = "dense")]
use crate::drift::dense_two_axis::{DenseTwoAxis, two_axis_dense_scratch_len};
use crate::drift::operator::{DriftOperator, DriftOutcome, DriftShape, saturated};
use crate::drift::{Evaluation, Negatives, validate_clouds};
use crate::engine::affinity::TwoAxisProblem;
use crate::engine::chunks::Exec;
use crate::engine::{
    LogitRule, PairMask, check_kernel_range, dispatch_shape, is_laplace, take_scratch,
};
use crate::error::Error;
use crate::kernel::Kernel;
use rand_core::Rng;

/// How the self-pair `(i, i)` is masked when the negatives are the queries.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SelfMask {
    /// Logit `−∞`: the pair takes no part in either softmax (the default).
    Exclude,
    /// The official demo's way: add this distance to the pair (`1e6` in the demo). For any
    /// reasonable temperature this equals [`SelfMask::Exclude`].
    AddDistance(f32),
}

impl SelfMask {
    /// The official 2D demo's mask: distance `+1e6`.
    pub const OFFICIAL_DEMO: Self = Self::AddDistance(1.0e6);

    pub(crate) fn pair_mask(self) -> PairMask {
        match self {
            Self::Exclude => PairMask::Exclude,
            Self::AddDistance(d) => PairMask::AddDistance(d),
        }
    }

    pub(crate) fn validate(self) -> Result<(), Error> {
        match self {
            Self::AddDistance(d) if !(d.is_finite() && d >= 0.0) => {
                Err(Error::InvalidParameter { input: "self_mask" })
            }
            _ => Ok(()),
        }
    }
}

/// Configuration of [`two_axis_softmax_drift`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TwoAxisConfig {
    /// The kernel (the official demo: Laplace, `τ = 0.05`).
    pub kernel: Kernel,
    /// Self-pair treatment when the negatives are the queries (default [`SelfMask::Exclude`]).
    pub self_mask: SelfMask,
    /// Streaming or dense evaluation (default [`Evaluation::Auto`]).
    pub evaluation: Evaluation,
}

impl TwoAxisConfig {
    /// The given kernel with the self-pair excluded.
    #[must_use]
    pub const fn new(kernel: Kernel) -> Self {
        Self {
            kernel,
            self_mask: SelfMask::Exclude,
            evaluation: Evaluation::Auto,
        }
    }

    /// The official 2D demo: Laplace kernel, `τ = 0.05`, self-mask by distance `+1e6`.
    #[must_use]
    pub const fn official_demo() -> Self {
        Self {
            kernel: Kernel::laplace(0.05),
            self_mask: SelfMask::OFFICIAL_DEMO,
            evaluation: Evaluation::Auto,
        }
    }
}

/// Scratch length (`f32` values) [`two_axis_softmax_drift`] needs: `N + P + Q`, saturating at
/// `usize::MAX` (no buffer is that long, so a saturated length never passes the check).
#[must_use]
pub const fn two_axis_scratch_len(queries: usize, positives: usize, negatives: usize) -> usize {
    queries.saturating_add(positives).saturating_add(negatives)
}

/// The two-axis softmax drift of the method's Algorithm 2.
///
/// With targets `T = [y+ ; y−]` and logits `l_ij`: `r_i = LSE_j l_ij` (rows),
/// `c_j = LSE_i l_ij` (columns), affinity
/// `A_ij = sqrt(softmax_row · softmax_col) = exp(l_ij − r_i/2 − c_j/2)`, `S±_i = Σ_{j∈±} A_ij`, and
///
/// `V_i = S−_i Σ_{j∈pos} A_ij (y+_j − x_i) − S+_i Σ_{k∈neg} A_ik (y−_k − x_i)`,
///
/// which equals the paper's `S− Σ A y+ − S+ Σ A y−` because the coefficients sum to zero; the
/// displacement form keeps the result exact for clouds far from the origin. The official demo's
/// `K / sqrt(rowsum ⊗ colsum)` is the same matrix, computed here in the log domain so that no
/// row or column underflows at small `τ`.
///
/// Three streaming passes (rows, columns, affinities), three `exp` per pair, `O(N·(P+Q)·D)`
/// time, `scratch` of [`two_axis_scratch_len`] values and no `N × (P+Q)` matrix.
/// Output coordinate-major: `V_d(x_i)` at `out[d·N + i]`.
///
/// Multithreaded with feature `std` (the current rayon pool; the same bits whatever the number
/// of threads).
///
/// # Errors
/// Empty or non-finite clouds, an invalid kernel or mask, `out.len() != N·D`, scratch too small.
///
/// # Example
/// ```
/// use drifting::{CloudView, Kernel, Negatives, TwoAxisConfig};
/// use drifting::{two_axis_scratch_len, two_axis_softmax_drift};
/// let generated = [[0.0_f32, 0.0], [0.5, 0.5], [1.0, -0.5]];
/// let data = [[1.0_f32, 1.0], [-1.0, 0.5]];
/// let (queries, positives) = (CloudView::from_points(&generated), CloudView::from_points(&data));
/// let config = TwoAxisConfig::new(Kernel::laplace(0.5));
/// // No heap: scratch (N + P + Q values) and field (N·D) are arrays sized by `const fn`s.
/// let mut scratch = [0.0_f32; two_axis_scratch_len(3, 2, 3)];
/// let mut drift = [0.0_f32; 3 * 2];
/// let negatives = Negatives::Queries; // the generated samples repel each other
/// two_axis_softmax_drift(&queries, &positives, negatives, &config, &mut scratch, &mut drift)?;
///
/// // Only displacements count: translating every cloud leaves the drift unchanged.
/// let shift = |[u, v]: [f32; 2]| [u + 100.0, v];
/// let (far_generated, far_data) = (generated.map(shift), data.map(shift));
/// let (x, y) = (CloudView::from_points(&far_generated), CloudView::from_points(&far_data));
/// let mut far = [0.0_f32; 3 * 2];
/// two_axis_softmax_drift(&x, &y, negatives, &config, &mut scratch, &mut far)?;
/// assert!(drift.iter().zip(&far).all(|(a, b)| (a - b).abs() < 1e-5));
///
/// // With the data as the negatives too, attraction and repulsion cancel: V = 0.
/// let negatives = Negatives::Cloud(positives);
/// two_axis_softmax_drift(&queries, &positives, negatives, &config, &mut scratch, &mut drift)?;
/// assert!(drift.iter().all(|v| v.abs() < 1e-6));
/// # Ok::<(), drifting::Error>(())
/// ```
pub fn two_axis_softmax_drift<const D: usize>(
    queries: &CloudView<'_, D>,
    positives: &CloudView<'_, D>,
    negatives: Negatives<'_, D>,
    config: &TwoAxisConfig,
    scratch: &mut [f32],
    out: &mut [f32],
) -> Result<(), Error> {
    let exec = Exec::current();
    let (negatives, is_self) = validate_clouds(queries, positives, negatives, out)?;
    config.kernel.validate()?;
    config.self_mask.validate()?;
    let added = match config.self_mask {
        SelfMask::AddDistance(d) if is_self => d,
        _ => 0.0,
    };
    check_kernel_range(&config.kernel, &[queries, positives, &negatives], added)?;
    let (n, p, q) = (queries.len(), positives.len(), negatives.len());
    let rule = LogitRule::new(&config.kernel, config.self_mask.pair_mask());
    #[cfg(not(feature = "dense"))]
    config.evaluation.check_streaming()?;
    #[cfg(feature = "dense")]
    if let Some(form) = config.evaluation.dense_form(
        D,
        n.saturating_mul(p.saturating_add(q)),
        two_axis_dense_scratch_len(n, p, q, D),
        scratch.len(),
    )? {
        let problem = DenseTwoAxis {
            queries: *queries,
            positives: *positives,
            negatives,
            negatives_are_queries: is_self,
            form,
        };
        dispatch_shape!(is_laplace(&config.kernel), S => problem.drift::<S>(exec, &rule, scratch, out));
        return Ok(());
    }
    let scratch = take_scratch(scratch, two_axis_scratch_len(n, p, q))?;
    let problem = TwoAxisProblem {
        queries: *queries,
        positives: *positives,
        negatives,
        negatives_are_queries: is_self,
        positive_weights: None,
        negative_weights: None,
        affinity_floor_logit: None,
        output_scale: 1.0,
    };
    dispatch_shape!(is_laplace(&config.kernel), S => problem.drift::<S>(exec, &rule, scratch, out));
    Ok(())
}

impl TwoAxisConfig {
    /// Workspace values for `shape`: the streaming sweep's `N + P + Q` log-sum-exps, or with
    /// [`Evaluation::Dense`] the dense path's tile (`two_axis_dense_scratch_len`, feature
    /// `dense`); saturating at `usize::MAX` (see [`TwoAxisConfig::checked_workspace_len`]).
    /// `const`, for buffers in a `static`. [`Evaluation::Auto`] is sized for the streaming sweep (`O(N + P + Q)`): give it
    /// a dense-sized buffer to let it take the dense path where that pays.
    #[must_use]
    pub const fn workspace_len(&self, shape: &DriftShape) -> usize {
        saturated(self.checked_workspace_len(shape))
    }

    /// [`TwoAxisConfig::workspace_len`], or `None` if it overflows `usize`.
    #[must_use]
    pub const fn checked_workspace_len(&self, shape: &DriftShape) -> Option<usize> {
        match self.evaluation {
            #[cfg(feature = "dense")]
            Evaluation::Dense(_) => crate::drift::two_axis_dense_scratch_len(
                shape.queries,
                shape.positives,
                shape.negatives,
                shape.dim,
            ),
            _ => shape.linear(1, 1, 1, 0),
        }
    }
}

impl DriftOperator for TwoAxisConfig {
    const NAME: &'static str = "two-axis";
    const SEPARATE_NEGATIVES: bool = true;

    fn workspace_len(&self, shape: &DriftShape) -> Option<usize> {
        self.checked_workspace_len(shape)
    }

    fn validate(&self) -> Result<(), Error> {
        self.kernel.validate()?;
        self.self_mask.validate()?;
        #[cfg(not(feature = "dense"))]
        self.evaluation.check_streaming()?;
        Ok(())
    }

    fn run<const D: usize, R: Rng + ?Sized>(
        &self,
        queries: &CloudView<'_, D>,
        positives: &CloudView<'_, D>,
        negatives: Negatives<'_, D>,
        _rng: &mut R,
        workspace: &mut [f32],
        out: &mut [f32],
    ) -> Result<DriftOutcome, Error> {
        two_axis_softmax_drift(queries, positives, negatives, self, workspace, out)?;
        Ok(DriftOutcome::single(out))
    }

    /// The affinities are normalised over rows and columns together, not over the data alone:
    /// a query beyond the kernel's reach of every data point feels no pull.
    fn reach(&self, _outcome: &DriftOutcome) -> Option<f32> {
        Some(self.kernel.reach())
    }
}
