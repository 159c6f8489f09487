//! Log-domain Sinkhorn: entropic optimal transport between weighted point clouds, the debiased
//! Sinkhorn divergence, and the Sinkhorn drift (third paper; docs/mathematics.md §6).
//!
//! Conventions are GeomLoss's: cost `C_ij = ½‖x_i − y_j‖²` (or `‖x_i − y_j‖²`, see
//! [`GroundCost`]), `ε = blur²`, weights `a`, `b` summing to 1, plan
//! `π_ij = a_i b_j exp((f_i + g_j − C_ij)/ε)`, regulariser `ε·KL(π ‖ a⊗b)`. Every softmin
//! `f_i = −ε LSE_j (log b_j + (g_j − C_ij)/ε)` is a streaming tiled reduction with a running
//! maximum (the crate's single pair loop and log-sum-exp): the `N × M` cost or plan is never
//! stored, and potentials live in a caller-owned [`SinkhornWorkspace`].

mod divergence;
mod drift;
mod multiscale;
mod pruned;
mod softmin;
mod solver;

pub use divergence::{SinkhornDivergence, entropic_transport, sinkhorn_divergence};
pub use drift::{
    SinkhornProxy, barycentric_projection, checked_sinkhorn_proxy_scratch_len, sinkhorn_drift,
    sinkhorn_proxy_drift, sinkhorn_proxy_scratch_len,
};
pub use multiscale::{
    MultiscaleReport, MultiscaleSinkhornConfig, MultiscaleSinkhornWorkspace,
    multiscale_sinkhorn_divergence, multiscale_sinkhorn_drift, multiscale_sinkhorn_workspace_len,
};
pub use pruned::{
    PrunedSinkhornConfig, PrunedSinkhornWorkspace, pruned_sinkhorn_divergence,
    pruned_sinkhorn_drift, pruned_sinkhorn_workspace_len,
};
pub use solver::{EpsilonSchedule, MAX_SCALING_STEPS, STALL_WINDOW, epsilon_schedule};

use crate::cloud::CloudView;
use crate::engine::chunks::Exec;
use crate::engine::simd::EXCLUDED_LOGIT;
use crate::error::Error;
use softmin::Streaming;
use solver::PairState;

/// The ground cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum GroundCost {
    /// `C = ½‖x − y‖²` (GeomLoss's `p = 2`; the default). With it the Sinkhorn drift is exactly
    /// `−∇_{x_i} S_ε / a_i`.
    #[default]
    HalfSquaredEuclidean,
    /// `C = ‖x − y‖²` (POT's `ot.dist` default). Gradients double.
    SquaredEuclidean,
}

impl GroundCost {
    /// `C/‖x−y‖²`.
    pub(crate) fn factor(self) -> f32 {
        match self {
            Self::HalfSquaredEuclidean => 0.5,
            Self::SquaredEuclidean => 1.0,
        }
    }
}

/// How the two potentials are updated at each iteration.
///
/// ## The `f32` floor of each rule
///
/// The potentials are `f32`, so the plan's marginals cannot be resolved below about
/// `2⁻²⁴·C_max/ε`; each rule stops improving somewhere near that, its *floor*. Measured
/// (`tests/sinkhorn_contracts.rs`, `f32_floors_of_the_update_rules`, L1 marginal error where
/// the error stops reaching new minima; cost `½‖x−y‖²`, unit-scale clouds):
///
/// | clouds                  | blur | alternating | averaged (symmetric) |
/// | ----------------------- | ---- | ----------- | -------------------- |
/// | issue 15's 3 vs 4 (1D)  | 0.1  | 9.3e-8      | 9.6e-7               |
/// | grid 7 vs 9             | 0.1  | 3.5e-8      | 2.2e-7               |
/// | grid 7 vs 9             | 0.05 | 2.0e-7      | 1.1e-6               |
/// | spiral 40 vs 30         | 0.1  | 3.1e-7      | 1.6e-6               |
/// | spiral 40 vs 30         | 0.05 | 3.0e-7      | 9.0e-6               |
///
/// The averaged updates stall about ten times higher (`½(f + softmin)` has exact `f32` fixed
/// points a few ulp from the solution). A solve detects a floor as [`STALL_WINDOW`] iterations
/// without a new smallest error: the alternating rule then stops with
/// [`SinkhornReport::stalled`]; the symmetric rule hands over to alternating updates (below).
/// The error is measured with the solver's own `f32` softmins: near the floor that measure can
/// read lower than the exact error of the `f32` potentials (down to 0 at an exact fixed point
/// of the iteration), by up to the floor itself.
///
/// The floor grows like `C_max/ε`: past `C_max/ε ≈ 2²⁴ ≈ 1.7e7` one ulp of a potential exceeds
/// ε, the plan is no longer resolved in `f32` (each `exp((f + g − C)/ε)` is 0 or 1 to `f32`
/// precision), the iteration degenerates into alternating c-transforms whose fixed points need
/// not be optimal, and the measured marginal error (0 or huge) says nothing about the true
/// one. The results stay finite up to the range limit `C/ε ≤ 1e28`, but are not accurate there:
/// keep `C_max/ε` below about `1e6` for results within a few `1e-3` (`tests/sinkhorn_reference.rs`
/// goes to `C_max/ε ≈ 3 400`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum UpdateRule {
    /// `f ← softmin(g)`, then `g ← softmin(f)` with the new `f` (POT's `sinkhorn_log`; the
    /// default). About four times fewer iterations than the averaged updates for the same
    /// tolerance (`tests/sinkhorn_defaults.rs`), and the lower floor.
    #[default]
    Alternating,
    /// `f ← ½(f + softmin(g))`, `g ← ½(g + softmin(f))` from the same old pair, then one final
    /// extrapolation `(f, g) ← (softmin(g), softmin(f))` (GeomLoss).
    ///
    /// When the averaged updates stop reducing the marginal error for [`STALL_WINDOW`]
    /// iterations at the target ε (their floor, or a plateau: at small ε a point whose mass is
    /// missing can hold the error constant for hundreds of iterations while its potential
    /// travels at half speed, e.g. 13 vs 13 Gaussian points at blur 0.05), the solve continues
    /// with alternating updates from that pair, which reach the tolerance or their own floor.
    /// The self problems of the divergence and the drift keep the averaged updates throughout
    /// (they have one potential) and stop as stalled at their floor.
    Symmetric,
}

/// Configuration of the Sinkhorn solver.
///
/// The defaults ([`SinkhornConfig::new`]) solve to an L1 marginal error of `1e-3` on ordinary
/// inputs: GeomLoss's `blur = 0.05`, alternating updates, ε-scaling `0.9` (the factor GeomLoss's
/// maintainer advises for accuracy) and at most 10 000 iterations at the target ε.
///
/// GeomLoss's own default (`scaling = 0.5`, averaged updates, no iterations after its ε
/// schedule) stops whether or not it has converged: on the ordinary clouds of
/// `tests/sinkhorn_defaults.rs` (13 to 200 points, blur 0.05) it ends at L1 marginal errors
/// of 0.32 to 2.9 and `OT_ε` up to 24 % off; these defaults converge on every one of them, with
/// `OT_ε` within 2e-5 (relative) of the converged value, in 60 to 900 iterations (the table is
/// in that test and in the README). GeomLoss's exact computation is
/// `SinkhornConfig { update: UpdateRule::Symmetric, scaling: Some(0.5), max_iterations: 0,
/// ..SinkhornConfig::new() }`.
///
/// The regularisation is `ε = blur²` (in `f32`), or [`SinkhornConfig::epsilon`] when set.
///
/// ```
/// use drifting::SinkhornConfig;
/// const CONFIG: SinkhornConfig = SinkhornConfig::new(); // blur 0.05, alternating, scaling 0.9
/// assert_eq!(CONFIG.epsilon(), 0.05_f32 * 0.05); // ε = blur², rounded in f32
/// // blur 0.1 gives ε = 0.010000001, not 0.01: give ε directly instead.
/// assert_ne!(SinkhornConfig { blur: 0.1, ..CONFIG }.epsilon(), 0.01);
/// let config = CONFIG.with_epsilon(0.01);
/// assert_eq!(config.epsilon(), 0.01);
/// assert!(config.validate().is_ok());
/// assert!(SinkhornConfig { blur: -1.0, ..CONFIG }.validate().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SinkhornConfig {
    /// `blur`; the regularisation is `ε = blur²` (default 0.05, GeomLoss's), unless
    /// [`SinkhornConfig::epsilon`] is set.
    pub blur: f32,
    /// `Some(ε)` sets the regularisation directly (the blur is then ignored): `blur²` is
    /// rounded in `f32`, so a given ε such as `1e-3` cannot always be reached through the blur.
    /// Default `None`. [`SinkhornConfig::with_epsilon`] sets it.
    pub epsilon: Option<f32>,
    /// The ground cost (default `½‖x−y‖²`).
    pub cost: GroundCost,
    /// The update rule (default [`UpdateRule::Alternating`]).
    pub update: UpdateRule,
    /// ε-scaling: `Some(s)` with `0 < s < 1` anneals `ε` from the squared diameter of the two
    /// clouds down to the target by factors `s²` exactly as GeomLoss does
    /// ([`epsilon_schedule`]); `None` iterates at the target from the start. Default
    /// `Some(0.9)` (GeomLoss's default is 0.5; its maintainer advises 0.7–0.9 for accuracy; to
    /// converge on the clouds of `tests/sinkhorn_defaults.rs`, 0.9 takes 29 % fewer softmin
    /// passes than 0.5 and half as many as no scaling; 0.95 saves another 7 %). Schedules
    /// longer than [`MAX_SCALING_STEPS`] are refused, and so are factors above
    /// [`MAX_SCALING`], whose schedules could be longer on clouds the solver accepts.
    pub scaling: Option<f32>,
    /// Stop the iterations at the target `ε` once the L1 marginal error
    /// `Σ_i |π_i· − a_i| + Σ_j |π_·j − b_j|` of the current potentials is at most this (default
    /// `1e-3`; the total mass is 2). Tolerances below the `f32` floor of the update rule (see
    /// [`UpdateRule`]) end with [`SinkhornReport::stalled`], not with the iteration cap.
    pub tolerance: f32,
    /// At most this many iterations at the target `ε` after the schedule (default 10 000; with
    /// `0`, [`UpdateRule::Symmetric`] and a tolerance of 0 the computation is exactly
    /// GeomLoss's). A solve also stops earlier when it stalls at its `f32` floor (see
    /// [`UpdateRule`]), so a large cap costs nothing on problems that cannot converge further.
    pub max_iterations: usize,
    /// Start from the potentials already in the workspace ([`SinkhornWorkspace::f_mut`] and
    /// friends, or those of the previous solve) instead of from zero, and skip the ε schedule:
    /// the iterations run at the target ε from the first. Default `false`.
    pub warm_start: bool,
}

impl Default for SinkhornConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl SinkhornConfig {
    /// The defaults (see the type's docs); `const`, so a configuration can live in a `const`.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            blur: 0.05,
            epsilon: None,
            cost: GroundCost::HalfSquaredEuclidean,
            update: UpdateRule::Alternating,
            scaling: Some(0.9),
            tolerance: 1.0e-3,
            max_iterations: 10_000,
            warm_start: false,
        }
    }

    /// This configuration with the regularisation `ε` given directly.
    #[must_use]
    pub const fn with_epsilon(self, epsilon: f32) -> Self {
        Self {
            epsilon: Some(epsilon),
            ..self
        }
    }

    /// The regularisation: [`SinkhornConfig::epsilon`] if set, else `blur²`.
    #[must_use]
    pub fn epsilon(&self) -> f32 {
        self.epsilon.unwrap_or(self.blur * self.blur)
    }

    /// Checks the configuration: a positive finite blur (or ε) with a finite `1/ε`, a scaling
    /// factor in `(0, MAX_SCALING]`, a finite non-negative tolerance. (The length of the ε schedule, which
    /// depends on the clouds' diameter, and the range of `C/ε` are checked by each solve.)
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming `blur` (or `epsilon`), `scaling` or `tolerance`.
    pub fn validate(&self) -> Result<(), Error> {
        let eps = self.epsilon();
        let name = self.epsilon_name();
        if self.epsilon.is_none() && !(self.blur.is_finite() && self.blur > 0.0) {
            return Err(Error::InvalidParameter { input: name });
        }
        if !(eps.is_finite() && eps > 0.0 && (1.0 / eps).is_finite()) {
            return Err(Error::InvalidParameter { input: name });
        }
        if let Some(s) = self.scaling
            && !(s > 0.0 && s <= MAX_SCALING)
        {
            return Err(Error::InvalidParameter { input: "scaling" });
        }
        if !(self.tolerance.is_finite() && self.tolerance >= 0.0) {
            return Err(Error::InvalidParameter { input: "tolerance" });
        }
        Ok(())
    }

    /// The name of the parameter that sets ε (for range errors).
    fn epsilon_name(&self) -> &'static str {
        if self.epsilon.is_some() {
            "epsilon"
        } else {
            "blur"
        }
    }
}

/// A point cloud with weights (`None`: uniform `1/N`).
#[derive(Clone, Copy, Debug)]
pub struct WeightedCloud<'a, const D: usize> {
    /// The points.
    pub points: CloudView<'a, D>,
    /// The weights, non-negative and summing to 1, or `None` for uniform.
    pub weights: Option<&'a [f32]>,
}

impl<'a, const D: usize> WeightedCloud<'a, D> {
    /// Uniform weights `1/N`.
    #[must_use]
    pub const fn uniform(points: CloudView<'a, D>) -> Self {
        Self {
            points,
            weights: None,
        }
    }

    /// Explicit weights.
    #[must_use]
    pub const fn weighted(points: CloudView<'a, D>, weights: &'a [f32]) -> Self {
        Self {
            points,
            weights: Some(weights),
        }
    }

    /// Number of points.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.points.len()
    }

    /// Whether the cloud is empty.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    fn validate(&self, input: &'static str) -> Result<(), Error> {
        self.points.validate(input)?;
        if let Some(w) = self.weights {
            if w.len() != self.len() {
                return Err(Error::ShapeMismatch {
                    input: "weights",
                    expected: self.len(),
                    found: w.len(),
                });
            }
            if !w.iter().all(|v| v.is_finite() && *v >= 0.0) {
                return Err(Error::InvalidParameter { input: "weights" });
            }
            let total: f64 = w.iter().map(|&v| f64::from(v)).sum();
            #[allow(clippy::cast_precision_loss)]
            let tolerance = 1.0e-5 * libm::sqrt(1.0 + self.len() as f64);
            if (total - 1.0).abs() > tolerance {
                return Err(Error::InvalidParameter { input: "weights" });
            }
        }
        Ok(())
    }

    /// Writes `log a_i` (zero weights give [`EXCLUDED_LOGIT`], never `−∞`).
    fn write_log_weights(&self, out: &mut [f32]) {
        match self.weights {
            #[allow(clippy::cast_precision_loss)]
            None => out.fill(-libm::logf(self.len() as f32)),
            Some(w) => {
                for (o, &v) in out.iter_mut().zip(w) {
                    *o = if v > 0.0 {
                        libm::logf(v)
                    } else {
                        EXCLUDED_LOGIT
                    };
                }
            }
        }
    }

    /// Weight `i`.
    fn weight(&self, i: usize) -> f32 {
        match self.weights {
            #[allow(clippy::cast_precision_loss)]
            None => 1.0 / self.len() as f32,
            Some(w) => w.get(i).copied().unwrap_or(0.0),
        }
    }
}

/// What a Sinkhorn solve did.
///
/// `marginal_error` is measured on the potentials the solve returns, with the same definition
/// the stop test uses, so `converged ⇔ marginal_error ≤ tolerance` always holds.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct SinkhornReport {
    /// Iterations of the ε-scaling schedule (GeomLoss's list, whose last entry is already the
    /// target `ε`); 0 without scaling or with a warm start.
    pub scaling_steps: usize,
    /// Iterations (updates of the potentials) at the target `ε` after the schedule.
    pub iterations: usize,
    /// L1 marginal error `Σ_i |π_i· − a_i| + Σ_j |π_·j − b_j|` of the returned potentials
    /// (accumulated in `f64`, saturated at `f32::MAX`).
    pub marginal_error: f32,
    /// Whether `marginal_error ≤ tolerance` (non-convergence is reported, not an error).
    pub converged: bool,
    /// The iterations stopped because the marginal error had not reached a new minimum for
    /// [`STALL_WINDOW`] iterations: the update rule's `f32` floor is above the tolerance (see
    /// [`UpdateRule`]). Never set together with `converged`.
    pub stalled: bool,
    /// With [`UpdateRule::Symmetric`]: the iteration (counted as `iterations` is) at which the
    /// averaged updates stalled and the alternating updates took over; `None` if the solve used
    /// one rule throughout. Two unconverged solves of the same problem with the same
    /// `iterations` followed the same path only if they also switched at the same iteration
    /// (a switch is decided on `f32` errors, so rounding can move it).
    pub alternating_from: Option<usize>,
    /// The target `ε`.
    pub epsilon: f32,
}

/// Caller-owned memory of the Sinkhorn routines: potentials `f_ab`, `g_ab`, `f_aa`, `g_bb`, the
/// log-weights and two temporaries, `O(N + M)` in all ([`SinkhornWorkspace::required_len`]).
///
/// The potentials stay in the workspace after a solve, and are where a solve with
/// [`SinkhornConfig::warm_start`] starts from (write them with [`SinkhornWorkspace::f_mut`],
/// [`SinkhornWorkspace::g_mut`], [`SinkhornWorkspace::f_aa_mut`], [`SinkhornWorkspace::g_bb_mut`]).
///
/// ```
/// use drifting::{Error, SinkhornWorkspace};
/// // 5(n + m) values for clouds of 3 and 4 points; `const fn`, so the buffer can be an array
/// // or a `static`.
/// let mut buffer = [0.0_f32; SinkhornWorkspace::required_len(3, 4)];
/// let workspace = SinkhornWorkspace::new(&mut buffer, 3, 4)?;
/// assert_eq!((workspace.f().len(), workspace.g().len()), (3, 4)); // the potentials live here
/// let mut short = [0.0_f32; 10];
/// assert!(matches!(SinkhornWorkspace::new(&mut short, 3, 4), Err(Error::ScratchTooSmall { .. })));
/// # Ok::<(), drifting::Error>(())
/// ```
#[derive(Debug)]
pub struct SinkhornWorkspace<'a> {
    buffer: &'a mut [f32],
    n: usize,
    m: usize,
}

/// The disjoint pieces of a workspace.
pub(crate) struct Parts<'w> {
    pub(crate) f_ab: &'w mut [f32],
    pub(crate) g_ab: &'w mut [f32],
    pub(crate) f_aa: &'w mut [f32],
    pub(crate) g_bb: &'w mut [f32],
    pub(crate) log_a: &'w mut [f32],
    pub(crate) log_b: &'w mut [f32],
    pub(crate) tmp_n: &'w mut [f32],
    pub(crate) tmp_m: &'w mut [f32],
    pub(crate) bias: &'w mut [f32],
}

impl<'a> SinkhornWorkspace<'a> {
    /// Values needed for clouds of `n` and `m` points: `5n + 5m`, saturating at `usize::MAX`
    /// (`const`, for buffers in a `static`; no buffer is that long, so a saturated length never
    /// passes [`SinkhornWorkspace::new`], which checks with [`Self::checked_required_len`]).
    #[must_use]
    pub const fn required_len(n: usize, m: usize) -> usize {
        match Self::checked_required_len(n, m) {
            Some(len) => len,
            None => usize::MAX,
        }
    }

    /// `5n + 5m`, or `None` if it overflows `usize`.
    #[must_use]
    pub const fn checked_required_len(n: usize, m: usize) -> Option<usize> {
        match n.checked_add(m) {
            Some(total) => total.checked_mul(5),
            None => None,
        }
    }

    /// A workspace for clouds of `n` and `m` points in `buffer`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`"n + m"`) if `5(n + m)` overflows `usize`;
    /// [`Error::ScratchTooSmall`] if `buffer` is shorter than [`Self::required_len`].
    pub fn new(buffer: &'a mut [f32], n: usize, m: usize) -> Result<Self, Error> {
        let Some(required) = Self::checked_required_len(n, m) else {
            return Err(Error::InvalidParameter { input: "n + m" });
        };
        if buffer.len() < required {
            return Err(Error::ScratchTooSmall {
                input: "buffer",
                required,
                provided: buffer.len(),
            });
        }
        Ok(Self { buffer, n, m })
    }

    /// `len` values from `start` (empty if out of the buffer, which `new` rules out).
    fn region(&self, start: usize, len: usize) -> &[f32] {
        let end = start.saturating_add(len);
        self.buffer.get(start..end).unwrap_or(&[])
    }

    /// Mutable [`Self::region`].
    fn region_mut(&mut self, start: usize, len: usize) -> &mut [f32] {
        let end = start.saturating_add(len);
        self.buffer.get_mut(start..end).unwrap_or(&mut [])
    }

    /// The potential `f` of the last `(a, b)` solve (one value per point of `a`).
    #[must_use]
    pub fn f(&self) -> &[f32] {
        self.region(0, self.n)
    }

    /// The potential `g` of the last `(a, b)` solve (one value per point of `b`).
    #[must_use]
    pub fn g(&self) -> &[f32] {
        self.region(self.n, self.m)
    }

    /// The symmetric potential of the last `(a, a)` solve.
    #[must_use]
    pub fn f_aa(&self) -> &[f32] {
        self.region(self.n + self.m, self.n)
    }

    /// The symmetric potential of the last `(b, b)` solve.
    #[must_use]
    pub fn g_bb(&self) -> &[f32] {
        self.region(2 * self.n + self.m, self.m)
    }

    /// [`Self::f`], writable: the starting `f` of a [`SinkhornConfig::warm_start`] solve.
    pub fn f_mut(&mut self) -> &mut [f32] {
        self.region_mut(0, self.n)
    }

    /// [`Self::g`], writable: the starting `g` of a [`SinkhornConfig::warm_start`] solve.
    pub fn g_mut(&mut self) -> &mut [f32] {
        self.region_mut(self.n, self.m)
    }

    /// [`Self::f_aa`], writable: the starting `f_aa` of a warm-started divergence or drift.
    pub fn f_aa_mut(&mut self) -> &mut [f32] {
        self.region_mut(self.n + self.m, self.n)
    }

    /// [`Self::g_bb`], writable: the starting `g_bb` of a warm-started divergence.
    pub fn g_bb_mut(&mut self) -> &mut [f32] {
        self.region_mut(2 * self.n + self.m, self.m)
    }

    /// Checks the workspace was made for these sizes.
    fn check(&self, n: usize, m: usize) -> Result<(), Error> {
        if self.n != n {
            return Err(Error::ShapeMismatch {
                input: "workspace (first cloud)",
                expected: n,
                found: self.n,
            });
        }
        if self.m != m {
            return Err(Error::ShapeMismatch {
                input: "workspace (second cloud)",
                expected: m,
                found: self.m,
            });
        }
        Ok(())
    }

    pub(crate) fn parts(&mut self) -> Parts<'_> {
        let (n, m) = (self.n, self.m);
        let (f_ab, rest) = self.buffer.split_at_mut(n.min(self.buffer.len()));
        let (g_ab, rest) = rest.split_at_mut(m.min(rest.len()));
        let (f_aa, rest) = rest.split_at_mut(n.min(rest.len()));
        let (g_bb, rest) = rest.split_at_mut(m.min(rest.len()));
        let (log_a, rest) = rest.split_at_mut(n.min(rest.len()));
        let (log_b, rest) = rest.split_at_mut(m.min(rest.len()));
        let (tmp_n, rest) = rest.split_at_mut(n.min(rest.len()));
        let (tmp_m, rest) = rest.split_at_mut(m.min(rest.len()));
        let bias = rest;
        Parts {
            f_ab,
            g_ab,
            f_aa,
            g_bb,
            log_a,
            log_b,
            tmp_n,
            tmp_m,
            bias,
        }
    }
}

impl<'w> Parts<'w> {
    /// [`Self::into_pair`] with the bias scratch in the dense softmins of `x` and `y`.
    #[allow(clippy::type_complexity)]
    pub(crate) fn into_streaming<'c, const D: usize>(
        self,
        exec: Exec,
        x: &WeightedCloud<'c, D>,
        y: &WeightedCloud<'c, D>,
        config: &SinkhornConfig,
    ) -> (
        PairState<'w>,
        &'w mut [f32],
        &'w mut [f32],
        Streaming<'c, 'w, D>,
    ) {
        let (state, f_aa, g_bb, bias) = self.into_pair();
        let softmins = Streaming {
            exec,
            x: x.points,
            y: y.points,
            cost: config.cost,
            bias,
        };
        (state, f_aa, g_bb, softmins)
    }

    /// The buffers of the `(a, b)` solve, the self potentials `f_aa`, `g_bb`, and the softmins'
    /// bias scratch (`n + m` values).
    #[allow(clippy::type_complexity)]
    pub(crate) fn into_pair(self) -> (PairState<'w>, &'w mut [f32], &'w mut [f32], &'w mut [f32]) {
        let state = PairState {
            f: self.f_ab,
            g: self.g_ab,
            log_a: self.log_a,
            log_b: self.log_b,
            tmp_f: self.tmp_n,
            tmp_g: self.tmp_m,
        };
        (state, self.f_aa, self.g_bb, self.bias)
    }
}

/// The largest ε-scaling factor accepted, `0.995`. Every cloud pair a solve accepts has
/// `d²/ε ≤ 2·10²⁸` (the range check on `C/ε`), so its schedule has at most
/// `ln(2·10²⁸)/(2 ln(1/0.995)) + 2 ≈ 6 500` entries, within [`MAX_SCALING_STEPS`]: a factor
/// that is accepted never fails later on the clouds' diameter (which a trainer could not check
/// at construction). GeomLoss's default is 0.5, its maintainer's advice 0.7–0.9.
pub const MAX_SCALING: f32 = 0.995;

/// The largest regularisation accepted: the potentials are soft-minima `−ε LSE(…)` and carry
/// `ε·ln N` and `ε·ln(1/w)` terms (up to about `150·ε` for the smallest positive `f32` weight),
/// which must stay far inside `f32`.
const MAX_EPSILON: f64 = 1.0e34;

/// The largest `|potential|/ε` a warm start accepts: the softmin biases `potential/ε + ln w` must
/// stay well inside `f32` and ten times below the exclusion value `−1e30`. The solver's own
/// potentials reach about `C_max/ε ≤ 1e28` (the range check) plus `O(ln N)`, so any potentials a
/// solve returned are accepted back.
const MAX_WARM_RATIO: f64 = 1.0e29;

/// Which potentials of the workspace a call solves for (and, warm-started, starts from).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Solves {
    /// `f_ab`, `g_ab`.
    Pair,
    /// `f_ab`, `g_ab`, `f_aa`.
    PairAndFirst,
    /// All four.
    All,
}

/// Validates a two-cloud call and fills the log-weights.
fn prepare<const D: usize>(
    x: &WeightedCloud<'_, D>,
    y: &WeightedCloud<'_, D>,
    config: &SinkhornConfig,
    workspace: &mut SinkhornWorkspace<'_>,
    solves: Solves,
) -> Result<(), Error> {
    x.validate("x")?;
    y.validate("y")?;
    config.validate()?;
    let eps = config.epsilon();
    let diameter2 = crate::engine::squared_diameter(&[&x.points, &y.points]);
    crate::engine::check_range(
        diameter2,
        f64::from(config.cost.factor()) * diameter2 / f64::from(eps),
        config.epsilon_name(),
    )?;
    if f64::from(eps) > MAX_EPSILON {
        return Err(Error::OutOfRange {
            input: config.epsilon_name(),
        });
    }
    if solver::schedule_for(&x.points, &y.points, config).len() > solver::MAX_SCALING_STEPS {
        return Err(Error::InvalidParameter { input: "scaling" });
    }
    workspace.check(x.len(), y.len())?;
    if config.warm_start {
        let regions: &[&[f32]] = match solves {
            Solves::Pair => &[workspace.f(), workspace.g()],
            Solves::PairAndFirst => &[workspace.f(), workspace.g(), workspace.f_aa()],
            Solves::All => &[
                workspace.f(),
                workspace.g(),
                workspace.f_aa(),
                workspace.g_bb(),
            ],
        };
        let values = || regions.iter().flat_map(|r| r.iter());
        if !values().all(|v| v.is_finite()) {
            return Err(Error::NonFinite {
                input: "potentials",
            });
        }
        let largest = values().fold(0.0_f64, |m, v| m.max(f64::from(v.abs())));
        if largest / f64::from(eps) > MAX_WARM_RATIO {
            return Err(Error::OutOfRange {
                input: "potentials",
            });
        }
    }
    let parts = workspace.parts();
    x.write_log_weights(parts.log_a);
    y.write_log_weights(parts.log_b);
    Ok(())
}
