//! Score diagnostics (second paper, "a unified view of drifting"; docs/mathematics.md §8): the
//! kernel-smoothed score, the pre-conditioner that relates it to the mean-shift drift, the
//! residual, and the alignment measures the paper reports.
//!
//! For a radial kernel `k` and a cloud `{y_j}` with softmax weights
//! `w_j(x) = k(x, y_j)/Σ_l k(x, y_l)`:
//!
//! * smoothed score `s(x) = ∇log Σ_j k(x, y_j) = Σ_j w_j ∇_x log k(x, y_j)`:
//!   Gaussian `Σ_j w_j (y_j − x)/σ²`, Laplace `Σ_j w_j (y_j − x)/(τ r_j)` with `r_j = ‖y_j − x‖`;
//! * mean shift `m(x) = Σ_j w_j (y_j − x)`;
//! * pre-conditioner `c(x)`: Gaussian `σ²` (then `m = σ² s` exactly, Tweedie); Laplace
//!   `τ ρ(x)` with the kernel-weighted mean distance `ρ(x) = Σ_j w_j r_j`;
//! * residual `m(x) − c(x) s(x)` (Laplace: `Σ_j w_j (r_j − ρ)(y_j − x)/r_j`, zero when every
//!   weighted partner is at the same distance).
//!
//! One streaming pass per query block (online log-sum-exp), `O(N·P·D)`, no scratch.

use crate::cloud::CloudView;
use crate::engine::check_kernel_range;
use crate::engine::mean_displacement;
use crate::engine::simd::{F32s, OnlineLogSumExp};
use crate::engine::{Block, LogitRule, PairMask, Partners, TILE, sweep};
use crate::engine::{GaussianShape, LaplaceShape};
use crate::error::Error;
use crate::kernel::Kernel;

/// The per-query outputs of [`score_diagnostics`], caller-owned: `score`, `mean_shift` and
/// `residual` coordinate-major (`N·D`, value `d` of query `i` at `d·N + i`), `preconditioner`
/// one value per query.
#[derive(Debug)]
pub struct ScoreFields<'a> {
    /// The smoothed score `s(x)`.
    pub score: &'a mut [f32],
    /// The mean-shift field `m(x) = μ(x) − x`.
    pub mean_shift: &'a mut [f32],
    /// The pre-conditioner `c(x)` (Gaussian `σ²`, Laplace `τ ρ(x)`).
    pub preconditioner: &'a mut [f32],
    /// The residual `m(x) − c(x) s(x)`.
    pub residual: &'a mut [f32],
}

/// The kernel-smoothed score of `data` at every query, with the mean-shift field, the
/// pre-conditioner and the residual (see the module documentation for the formulas).
///
/// At a zero distance the Laplace term `(y − x)/r` is taken as its subgradient 0.
///
/// # Errors
/// Empty or non-finite clouds; an invalid kernel; [`Error::ShapeMismatch`] for output slices
/// of the wrong length; [`Error::OutOfRange`] for points more than `1e18` apart or logits beyond
/// `1e28`.
///
/// # Example
/// ```
/// use drifting::{CloudView, Kernel};
/// use drifting::score::{ScoreFields, score_diagnostics};
/// let data = [[0.0_f32, 0.0], [1.0, 0.5], [-0.5, 1.0]];
/// let queries = [[0.2_f32, 0.1], [2.0, -1.0]];
/// let sigma = 0.5;
/// let (mut score, mut mean_shift, mut residual) = ([0.0_f32; 4], [0.0_f32; 4], [0.0_f32; 4]);
/// let mut preconditioner = [0.0_f32; 2];
/// let mut fields = ScoreFields {
///     score: &mut score,
///     mean_shift: &mut mean_shift,
///     preconditioner: &mut preconditioner,
///     residual: &mut residual,
/// };
/// let (x, y) = (CloudView::from_points(&queries), CloudView::from_points(&data));
/// score_diagnostics(&x, &y, &Kernel::gaussian(sigma), &mut fields)?;
/// // Gaussian kernel (Tweedie): the mean shift is exactly σ² times the smoothed score.
/// assert_eq!(preconditioner, [sigma * sigma; 2]);
/// for (m, s) in mean_shift.iter().zip(&score) {
///     assert!((m - sigma * sigma * s).abs() < 1e-4);
/// }
/// assert!(residual.iter().all(|r| r.abs() < 1e-4));
/// # Ok::<(), drifting::Error>(())
/// ```
pub fn score_diagnostics<const D: usize>(
    queries: &CloudView<'_, D>,
    data: &CloudView<'_, D>,
    kernel: &Kernel,
    out: &mut ScoreFields<'_>,
) -> Result<(), Error> {
    queries.validate("queries")?;
    data.validate("data")?;
    kernel.validate()?;
    let n = queries.len();
    for (len, input, expected) in [
        (out.score.len(), "score", n.saturating_mul(D)),
        (out.mean_shift.len(), "mean_shift", n.saturating_mul(D)),
        (out.residual.len(), "residual", n.saturating_mul(D)),
        (out.preconditioner.len(), "preconditioner", n),
    ] {
        if len != expected {
            return Err(Error::ShapeMismatch {
                input,
                expected,
                found: len,
            });
        }
    }
    check_kernel_range(kernel, &[queries, data], 0.0)?;
    let rule = LogitRule::new(kernel, PairMask::Exclude);
    let partners = Partners::new(*data, false);
    for start in (0..n).step_by(crate::engine::simd::LANES) {
        let block = Block::gather(queries, start);
        let sums = match *kernel {
            Kernel::Laplace { temperature } => laplace_sums(&block, &partners, &rule, temperature),
            Kernel::Gaussian { bandwidth } => gaussian_sums(&block, &partners, &rule, bandwidth),
        };
        write_block(&sums, &block, n, out);
    }
    Ok(())
}

/// Per lane of a block: the score, the mean shift and the pre-conditioner.
struct BlockSums<const D: usize> {
    score: [F32s; D],
    mean_shift: [F32s; D],
    preconditioner: F32s,
}

fn gaussian_sums<const D: usize>(
    block: &Block<D>,
    partners: &Partners<'_, D>,
    rule: &LogitRule,
    bandwidth: f32,
) -> BlockSums<D> {
    // The Gaussian mean shift is the crate's mean-shift sweep; Tweedie gives the rest.
    let mean_shift = mean_displacement::<D, GaussianShape>(block, partners, rule);
    let c = bandwidth * bandwidth;
    BlockSums {
        score: mean_shift.map(|m| m / F32s::splat(c)),
        mean_shift,
        preconditioner: F32s::splat(c),
    }
}

fn laplace_sums<const D: usize>(
    block: &Block<D>,
    partners: &Partners<'_, D>,
    rule: &LogitRule,
    temperature: f32,
) -> BlockSums<D> {
    let inv = F32s::splat(rule.inverse_scale);
    let mut lse = OnlineLogSumExp::new();
    let (mut disp, mut unit) = ([F32s::splat(0.0); D], [F32s::splat(0.0); D]);
    let mut distance = F32s::splat(0.0);
    sweep::<D, LaplaceShape>(block, partners, rule, |tile| {
        // Distances from the logits (`l = −r/τ`) before they become weights.
        let mut r = [F32s::splat(0.0); TILE];
        for (r, l) in r.iter_mut().zip(tile.logits()) {
            *r = -*l / inv;
        }
        let tile_max = tile.max;
        let rescale = lse.absorb(tile.logits_mut(), tile_max);
        for a in disp.iter_mut().chain(unit.iter_mut()) {
            *a *= rescale;
        }
        distance *= rescale;
        tile.accumulate_displacements(tile.logits(), &block.coords, &mut disp);
        // w/r (0 at the apex: r ≤ 1e-30, so w/r ≤ 1e30 stays finite), and w·r.
        let mut over_r = [F32s::splat(0.0); TILE];
        for ((o, w), r) in over_r.iter_mut().zip(tile.logits()).zip(&r) {
            *o = r
                .simd_gt(F32s::splat(1.0e-30))
                .select(*w / *r, F32s::splat(0.0));
            distance = w.mul_add(*r, distance);
        }
        let count = tile.logits().len();
        tile.accumulate_displacements(over_r.get(..count).unwrap_or(&[]), &block.coords, &mut unit);
    });
    let t = F32s::splat(temperature);
    let rho = distance / lse.sum;
    BlockSums {
        score: unit.map(|u| u / (lse.sum * t)),
        mean_shift: disp.map(|a| a / lse.sum),
        preconditioner: t * rho,
    }
}

fn write_block<const D: usize>(
    sums: &BlockSums<D>,
    block: &Block<D>,
    n: usize,
    out: &mut ScoreFields<'_>,
) {
    let lanes = block.valid;
    let put = |dst: &mut [f32], offset: usize, v: F32s| {
        if let Some(dst) = dst.get_mut(offset..offset + lanes) {
            for (o, x) in dst.iter_mut().zip(v.to_array()) {
                *o = x;
            }
        }
    };
    for d in 0..D {
        let (Some(s), Some(m)) = (sums.score.get(d), sums.mean_shift.get(d)) else {
            continue;
        };
        let offset = d * n + block.start;
        put(out.score, offset, *s);
        put(out.mean_shift, offset, *m);
        put(out.residual, offset, *m - sums.preconditioner * *s);
    }
    put(out.preconditioner, block.start, sums.preconditioner);
}

/// The cosine `⟨a, b⟩/(‖a‖ ‖b‖)` between two fields (any layout, the same for both), in `f64`;
/// `None` if either is zero or the lengths differ.
#[must_use]
pub fn cosine_alignment(a: &[f32], b: &[f32]) -> Option<f64> {
    let (ab, aa, bb) = dots(a, b)?;
    (aa > 0.0 && bb > 0.0).then(|| ab / libm::sqrt(aa * bb))
}

/// The least-squares scale `argmin_c ‖a − c b‖² = ⟨a, b⟩/‖b‖²`, in `f64`; `None` if `b` is zero
/// or the lengths differ.
#[must_use]
pub fn least_squares_scale(a: &[f32], b: &[f32]) -> Option<f64> {
    let (ab, _, bb) = dots(a, b)?;
    (bb > 0.0).then(|| ab / bb)
}

/// The relative error `‖a − b‖/‖b‖`, in `f64`; `None` if `b` is zero or the lengths differ.
#[must_use]
pub fn relative_error(a: &[f32], b: &[f32]) -> Option<f64> {
    if a.len() != b.len() {
        return None;
    }
    let (mut diff, mut bb) = (0.0_f64, 0.0_f64);
    for (x, y) in a.iter().zip(b) {
        let d = f64::from(*x) - f64::from(*y);
        diff += d * d;
        bb += f64::from(*y) * f64::from(*y);
    }
    (bb > 0.0).then(|| libm::sqrt(diff / bb))
}

fn dots(a: &[f32], b: &[f32]) -> Option<(f64, f64, f64)> {
    if a.len() != b.len() {
        return None;
    }
    let mut sums = (0.0_f64, 0.0_f64, 0.0_f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        sums.0 += x * y;
        sums.1 += x * x;
        sums.2 += y * y;
    }
    Some(sums)
}
