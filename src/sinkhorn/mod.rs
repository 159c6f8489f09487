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
mod softmin;
mod solver;

pub use divergence::{SinkhornDivergence, entropic_transport, sinkhorn_divergence};
pub(crate) use drift::sinkhorn_drift_on;
#[cfg(any(feature = "std", feature = "flow-fields"))]
pub(crate) use drift::sinkhorn_proxy_drift_on;
pub use drift::{
    barycentric_projection, sinkhorn_drift, sinkhorn_proxy_drift, sinkhorn_proxy_scratch_len,
};
pub use solver::{EpsilonSchedule, epsilon_schedule};
#[cfg(feature = "std")]
pub(crate) use {
    divergence::{entropic_transport_on, sinkhorn_divergence_on},
    drift::barycentric_projection_on,
};

use crate::cloud::CloudView;
use crate::engine::simd::EXCLUDED_LOGIT;
use crate::error::Error;
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum UpdateRule {
    /// `f ← softmin(g)`, then `g ← softmin(f)` with the new `f` (POT's `sinkhorn_log`).
    Alternating,
    /// `f ← ½(f + softmin(g))`, `g ← ½(g + softmin(f))` from the same old pair, then one final
    /// extrapolation `(f, g) ← (softmin(g), softmin(f))` (GeomLoss; the default).
    #[default]
    Symmetric,
}

/// Configuration of the Sinkhorn solver; the defaults follow GeomLoss's
/// `SamplesLoss("sinkhorn", p=2, blur=0.05, scaling=0.5)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SinkhornConfig {
    /// `blur`; the regularisation is `ε = blur²` (default 0.05).
    pub blur: f32,
    /// The ground cost (default `½‖x−y‖²`).
    pub cost: GroundCost,
    /// The update rule (default [`UpdateRule::Symmetric`]).
    pub update: UpdateRule,
    /// ε-scaling: `Some(s)` with `0 < s < 1` anneals `ε` from the squared diameter of the two
    /// clouds down to `blur²` exactly as GeomLoss does ([`epsilon_schedule`]); `None` iterates at
    /// `blur²` from the start. Default `Some(0.5)` (GeomLoss's; its maintainer advises 0.7–0.9
    /// for accuracy).
    pub scaling: Option<f32>,
    /// Stop the iterations at the target `ε` once the L1 marginal error
    /// `Σ_i |π_i· − a_i| + Σ_j |π_·j − b_j|` is below this (default `1e-3`; 0 runs the cap).
    pub tolerance: f32,
    /// At most this many iterations at the target `ε` after the schedule (default 100; with
    /// `0` and [`UpdateRule::Symmetric`] the computation is exactly GeomLoss's).
    pub max_iterations: usize,
}

impl Default for SinkhornConfig {
    fn default() -> Self {
        Self {
            blur: 0.05,
            cost: GroundCost::HalfSquaredEuclidean,
            update: UpdateRule::Symmetric,
            scaling: Some(0.5),
            tolerance: 1.0e-3,
            max_iterations: 100,
        }
    }
}

impl SinkhornConfig {
    /// `ε = blur²`.
    #[must_use]
    pub fn epsilon(&self) -> f32 {
        self.blur * self.blur
    }

    fn validate(&self) -> Result<(), Error> {
        let eps = self.epsilon();
        if !(self.blur.is_finite()
            && self.blur > 0.0
            && eps.is_finite()
            && eps > 0.0
            && (1.0 / eps).is_finite())
        {
            return Err(Error::InvalidParameter { name: "blur" });
        }
        if let Some(s) = self.scaling
            && !(s > 0.0 && s < 1.0)
        {
            return Err(Error::InvalidParameter { name: "scaling" });
        }
        if !(self.tolerance.is_finite() && self.tolerance >= 0.0) {
            return Err(Error::InvalidParameter { name: "tolerance" });
        }
        Ok(())
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
                return Err(Error::InvalidParameter { name: "weights" });
            }
            let total: f64 = w.iter().map(|&v| f64::from(v)).sum();
            #[allow(clippy::cast_precision_loss)]
            let tolerance = 1.0e-5 * libm::sqrt(1.0 + self.len() as f64);
            if (total - 1.0).abs() > tolerance {
                return Err(Error::InvalidParameter { name: "weights" });
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
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SinkhornReport {
    /// Iterations of the ε-scaling schedule (GeomLoss's list, whose last entry is already the
    /// target `ε`); 0 without scaling.
    pub scaling_steps: usize,
    /// Iterations at the target `ε` after the schedule.
    pub iterations: usize,
    /// L1 marginal error `Σ_i |π_i· − a_i| + Σ_j |π_·j − b_j|` of the returned potentials.
    pub marginal_error: f32,
    /// Whether `marginal_error ≤ tolerance` (non-convergence is reported, not an error).
    pub converged: bool,
    /// The target `ε = blur²`.
    pub epsilon: f32,
}

/// Caller-owned memory of the Sinkhorn routines: potentials `f_ab`, `g_ab`, `f_aa`, `g_bb`, the
/// log-weights and two temporaries, `O(N + M)` in all ([`SinkhornWorkspace::required_len`]).
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
    /// Values needed for clouds of `n` and `m` points: `5n + 5m`.
    #[must_use]
    pub const fn required_len(n: usize, m: usize) -> usize {
        5 * n + 5 * m
    }

    /// A workspace for clouds of `n` and `m` points in `buffer`.
    ///
    /// # Errors
    /// [`Error::ScratchTooSmall`] if `buffer` is shorter than [`Self::required_len`].
    pub fn new(buffer: &'a mut [f32], n: usize, m: usize) -> Result<Self, Error> {
        let required = Self::required_len(n, m);
        if buffer.len() < required {
            return Err(Error::ScratchTooSmall {
                required,
                provided: buffer.len(),
            });
        }
        Ok(Self { buffer, n, m })
    }

    /// The potential `f` of the last `(a, b)` solve (one value per point of `a`).
    #[must_use]
    pub fn f(&self) -> &[f32] {
        self.buffer.get(..self.n).unwrap_or(&[])
    }

    /// The potential `g` of the last `(a, b)` solve (one value per point of `b`).
    #[must_use]
    pub fn g(&self) -> &[f32] {
        self.buffer.get(self.n..self.n + self.m).unwrap_or(&[])
    }

    /// The symmetric potential of the last `(a, a)` solve.
    #[must_use]
    pub fn f_aa(&self) -> &[f32] {
        let start = self.n + self.m;
        self.buffer.get(start..start + self.n).unwrap_or(&[])
    }

    /// The symmetric potential of the last `(b, b)` solve.
    #[must_use]
    pub fn g_bb(&self) -> &[f32] {
        let start = 2 * self.n + self.m;
        self.buffer.get(start..start + self.m).unwrap_or(&[])
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
    /// The buffers of the `(a, b)` solve, and the self potentials `f_aa`, `g_bb`.
    pub(crate) fn into_pair(self) -> (PairState<'w>, &'w mut [f32], &'w mut [f32]) {
        let state = PairState {
            f: self.f_ab,
            g: self.g_ab,
            log_a: self.log_a,
            log_b: self.log_b,
            tmp_f: self.tmp_n,
            tmp_g: self.tmp_m,
            bias: self.bias,
        };
        (state, self.f_aa, self.g_bb)
    }
}

/// Validates a two-cloud call and fills the log-weights.
fn prepare<const D: usize>(
    x: &WeightedCloud<'_, D>,
    y: &WeightedCloud<'_, D>,
    config: &SinkhornConfig,
    workspace: &mut SinkhornWorkspace<'_>,
) -> Result<(), Error> {
    x.validate("x")?;
    y.validate("y")?;
    config.validate()?;
    let diameter2 = crate::engine::squared_diameter(&[&x.points, &y.points]);
    crate::engine::check_range(
        diameter2,
        f64::from(config.cost.factor()) * diameter2 / f64::from(config.epsilon()),
        "blur",
    )?;
    workspace.check(x.len(), y.len())?;
    let parts = workspace.parts();
    x.write_log_weights(parts.log_a);
    y.write_log_weights(parts.log_b);
    Ok(())
}
