//! Kernel shapes: how a pair's squared distance becomes a logit, and how self-pairs are masked.

use crate::engine::simd::{F32s, exp, sqrt};
use crate::kernel::Kernel;

/// How a self-pair `(i, i)` is treated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum PairMask {
    /// Logit [`EXCLUDED_LOGIT`]: the pair has weight 0.
    Exclude,
    /// The distance of the pair is increased by this amount (official code: `1e6` in the 2D demo,
    /// `+100` on the normalised distance in `drift_loss`).
    AddDistance(f32),
}

/// The logit of a pair as a function of its squared distance.
pub(crate) trait Shape: Copy {
    /// Logit for squared distance `sq` (already floored), scale `inv` (`1/τ` or `1/(2σ²)`).
    fn logit(sq: F32s, inv: F32s) -> F32s;
    /// Logit for the distance `sqrt(sq) + add`.
    fn shifted_logit(sq: F32s, add: F32s, inv: F32s) -> F32s;
    /// `logit(sq) + bias`.
    #[inline(always)]
    fn biased_logit(sq: F32s, inv: F32s, bias: F32s) -> F32s {
        Self::logit(sq, inv) + bias
    }
    /// `shifted_logit(sq, add) + bias`.
    #[inline(always)]
    fn biased_logit_shifted(sq: F32s, add: F32s, inv: F32s, bias: F32s) -> F32s {
        Self::shifted_logit(sq, add, inv) + bias
    }
    /// `γ` with `∇_x l(x, y) = γ · (y − x)`, from the pair's logit `l`.
    fn gradient_factor(l: F32s, inv: F32s) -> F32s;
    /// `γ` from the pair's squared distance `sq`.
    fn gradient_factor_sq(sq: F32s, inv: F32s) -> F32s;
    /// The weight `w = e^l·γ` with `∇_x k(x, y) = w · (y − x)` (`k = e^l`).
    #[inline(always)]
    fn gradient_weight(l: F32s, inv: F32s) -> F32s {
        exp(l) * Self::gradient_factor(l, inv)
    }
}

/// Laplace: `l = −‖x−y‖/τ`.
#[derive(Clone, Copy)]
pub(crate) struct LaplaceShape;
/// Gaussian: `l = −‖x−y‖²/(2σ²)`.
#[derive(Clone, Copy)]
pub(crate) struct GaussianShape;

impl Shape for LaplaceShape {
    #[inline(always)]
    fn logit(sq: F32s, inv: F32s) -> F32s {
        -(sqrt(sq) * inv)
    }
    #[inline(always)]
    fn shifted_logit(sq: F32s, add: F32s, inv: F32s) -> F32s {
        -((sqrt(sq) + add) * inv)
    }
    /// `∇_x (−r/τ) = (y − x)/(τ r)`: `γ = inv/r` with `r = −l/inv`. At the cone's apex
    /// (`r ≤ 1e-30·inv`) the subgradient 0 is taken, so `γ ≤ 1e30` never overflows.
    #[inline(always)]
    fn gradient_factor(l: F32s, inv: F32s) -> F32s {
        let r = -l / inv;
        r.simd_gt(inv * F32s::splat(1.0e-30))
            .select(inv / r, F32s::splat(0.0))
    }
    #[inline(always)]
    fn gradient_factor_sq(sq: F32s, inv: F32s) -> F32s {
        let r = sqrt(sq);
        r.simd_gt(inv * F32s::splat(1.0e-30))
            .select(inv / r, F32s::splat(0.0))
    }
}

impl Shape for GaussianShape {
    #[inline(always)]
    fn logit(sq: F32s, inv: F32s) -> F32s {
        -(sq * inv)
    }
    #[inline(always)]
    fn biased_logit(sq: F32s, inv: F32s, bias: F32s) -> F32s {
        sq.mul_neg_add(inv, bias)
    }
    #[inline(always)]
    fn shifted_logit(sq: F32s, add: F32s, inv: F32s) -> F32s {
        let d = sqrt(sq) + add;
        -(d * d * inv)
    }
    /// `∇_x (−r²/(2σ²)) = (y − x)/σ²`: `γ = 2·inv`.
    #[inline(always)]
    fn gradient_factor(_: F32s, inv: F32s) -> F32s {
        inv + inv
    }
    #[inline(always)]
    fn gradient_factor_sq(_: F32s, inv: F32s) -> F32s {
        inv + inv
    }
}

/// Everything that turns a pair of points into a logit, except the shape (a type parameter).
#[derive(Clone, Copy, Debug)]
pub(crate) struct LogitRule {
    /// `1/τ` or `1/(2σ²)`.
    pub(crate) inverse_scale: f32,
    /// Squared distances are floored at this value (official `drift_loss`: `1e-8`; else 0).
    pub(crate) squared_distance_floor: f32,
    /// Treatment of self-pairs when the partner cloud is the lane cloud.
    pub(crate) mask: PairMask,
}

impl LogitRule {
    pub(crate) fn new(kernel: &Kernel, mask: PairMask) -> Self {
        Self {
            inverse_scale: kernel.inverse_scale(),
            squared_distance_floor: 0.0,
            mask,
        }
    }
}

/// Selects the shape of a kernel and runs `$body` with the type alias `$s` bound to it.
macro_rules! dispatch_shape {
    ($laplace:expr, $s:ident => $body:expr) => {
        if $laplace {
            type $s = $crate::engine::shape::LaplaceShape;
            $body
        } else {
            type $s = $crate::engine::shape::GaussianShape;
            $body
        }
    };
}
pub(crate) use dispatch_shape;

/// Whether a kernel is Laplace (for [`dispatch_shape!`]).
pub(crate) fn is_laplace(kernel: &Kernel) -> bool {
    matches!(kernel, Kernel::Laplace { .. })
}
