//! The vector-Jacobian product of the mean-shift drift with the queries as negatives: the
//! gradient the loss would receive *through* `V` without the stop-gradient (docs/mathematics.md §10;
//! the first paper's "drift collapse" ablation).
//!
//! With `V_i = m⁺_i − m⁻_i`, `m⁺_i = Σ_j a_ij y_j` (softmax over the positives of the logits
//! `l(x_i, y_j)`) and `m⁻_i = Σ_{k≠i} b_ik x_k` (softmax over the other queries), and a cotangent
//! `u` (`∂L/∂V`), the gradient with respect to every query `x_k` is
//!
//! ```text
//! G_k =  Σ_j a_kj (u_k·(y_j − m⁺_k)) g(x_k, y_j)
//!      − Σ_{l≠k} b_kl (u_k·(x_l − m⁻_k)) g(x_k, x_l)
//!      − Σ_{i≠k} b_ik [u_i + (u_i·(x_k − m⁻_i)) g(x_k, x_i)]
//! ```
//!
//! with `g(x, y) = ∇_x l(x, y)`: `(y − x)/σ²` (Gaussian) or `(y − x)/(τ‖y − x‖)` (Laplace; 0 at a
//! zero distance). The first two lines differentiate each row's softmax through its own query
//! (covariance form); the third is the query's role as a negative of every other row, both as a
//! position and through those rows' logits.

use crate::cloud::CloudView;
use crate::drift::mean_shift::MeanShiftConfig;
use crate::engine::simd::{F32s, LANES, exp};
use crate::engine::{Block, LogitRule, PairMask, Partners, TILE, sweep};
use crate::engine::{GaussianShape, LaplaceShape, Shape};
use crate::engine::{check_kernel_range, mean_displacement_and_normaliser, take_scratch};
use crate::error::Error;
use crate::kernel::Kernel;

/// Scratch floats [`mean_shift_vjp`] needs for `n` queries in `R^D`: `(2D + 3)·n`.
#[must_use]
pub const fn mean_shift_vjp_scratch_len(n: usize, dim: usize) -> usize {
    n.saturating_mul(dim.saturating_mul(2).saturating_add(3))
}

/// `G = (∂V/∂x)ᵀ u`: the vector-Jacobian product of
/// [`mean_shift_drift`](crate::mean_shift_drift) with [`Negatives::Queries`](crate::Negatives)
/// and the self-pair excluded, with respect to the queries, for the cotangent `u` (`∂L/∂V`,
/// coordinate-major `N·D`). The positives are data (no gradient). The drift's step `η` scales
/// the result.
///
/// Training without the stop-gradient minimises `mean‖x − (x + V)‖² = mean‖V‖²`, whose gradient
/// with respect to the generated samples is this product at `u = 2V/(N·D)`.
///
/// Cost: three streaming passes, `O(N·(P + 2N)·D)`; memory: `scratch` of
/// [`mean_shift_vjp_scratch_len`]`(N, D)` floats.
///
/// # Errors
/// Empty or non-finite clouds or cotangent; an invalid kernel or step; a configuration that does
/// not exclude the self-pair ([`Error::InvalidParameter`] `"exclude_self"`); [`Error::TooFewPoints`]
/// for a single query (no negative); [`Error::ShapeMismatch`] for `cotangent` or `out` not `N·D`
/// long; [`Error::ScratchTooSmall`]; [`Error::OutOfRange`] as the drift.
///
/// # Accuracy
/// Checked against central finite differences of `Σ u·V` in `f64` (`tests/drift_vjp.rs`).
///
/// # Example
/// Descending along `−G` with `u = V` (the gradient of `½‖V‖²`) shrinks the drift: what training
/// without the stop-gradient does.
/// ```
/// use drifting::{CloudView, Kernel, MeanShiftConfig, Negatives, mean_shift_drift};
/// use drifting::{mean_shift_vjp, mean_shift_vjp_scratch_len};
/// let (mut x, y) = ([0.0_f32, 0.4, 1.0, 0.1, 0.3, -0.2], [1.5_f32, 1.8, 1.2, 1.4]);
/// let config = MeanShiftConfig::new(Kernel::gaussian(1.0));
/// let half_norm2 = |x: &[f32]| -> Result<(f32, [f32; 6]), drifting::Error> {
///     let mut v = [0.0; 6];
///     let (q, p) = (CloudView::<2>::from_coordinate_major(x, 3)?, CloudView::<2>::from_coordinate_major(&y, 2)?);
///     mean_shift_drift(&q, &p, Negatives::Queries, &config, &mut v)?;
///     Ok((0.5 * v.iter().map(|a| a * a).sum::<f32>(), v))
/// };
/// let (before, v) = half_norm2(&x)?;
/// let (mut scratch, mut g) = ([0.0; mean_shift_vjp_scratch_len(3, 2)], [0.0; 6]);
/// let (q, p) = (CloudView::<2>::from_coordinate_major(&x, 3)?, CloudView::<2>::from_coordinate_major(&y, 2)?);
/// mean_shift_vjp(&q, &p, &config, &v, &mut scratch, &mut g)?;
/// x.iter_mut().zip(&g).for_each(|(x, g)| *x -= 0.1 * g);
/// assert!(half_norm2(&x)?.0 < before);
/// # Ok::<(), drifting::Error>(())
/// ```
pub fn mean_shift_vjp<const D: usize>(
    queries: &CloudView<'_, D>,
    positives: &CloudView<'_, D>,
    config: &MeanShiftConfig,
    cotangent: &[f32],
    scratch: &mut [f32],
    out: &mut [f32],
) -> Result<(), Error> {
    queries.validate("queries")?;
    positives.validate("positives")?;
    config.kernel.validate()?;
    if !config.step.is_finite() {
        return Err(Error::InvalidParameter { input: "step" });
    }
    if !config.exclude_self {
        return Err(Error::InvalidParameter {
            input: "exclude_self",
        });
    }
    let n = queries.len();
    if n < 2 {
        return Err(Error::TooFewPoints {
            input: "queries",
            required: 2,
            found: n,
        });
    }
    let expected = n.saturating_mul(D);
    for (len, input) in [(cotangent.len(), "cotangent"), (out.len(), "out")] {
        if len != expected {
            return Err(Error::ShapeMismatch {
                input,
                expected,
                found: len,
            });
        }
    }
    if !cotangent.iter().all(|v| v.is_finite()) {
        return Err(Error::NonFinite { input: "cotangent" });
    }
    check_kernel_range(&config.kernel, &[queries, positives], 0.0)?;
    let scratch = take_scratch(scratch, mean_shift_vjp_scratch_len(n, D))?;
    let rule = LogitRule::new(&config.kernel, PairMask::Exclude);
    match config.kernel {
        Kernel::Laplace { .. } => {
            run::<D, LaplaceShape>(queries, positives, &rule, cotangent, scratch, out)
        }
        Kernel::Gaussian { .. } => {
            run::<D, GaussianShape>(queries, positives, &rule, cotangent, scratch, out)
        }
    }
    let step = config.step;
    for g in out.iter_mut() {
        *g *= step;
    }
    if out.iter().all(|g| g.is_finite()) {
        Ok(())
    } else {
        Err(Error::OutOfRange { input: "cotangent" })
    }
}

/// The per-row state of pass 1: the kernel-weighted means and the rows' log-normalisers.
struct Rows<'a> {
    mean_p: &'a [f32],
    mean_q: &'a [f32],
    lse_p: &'a [f32],
    /// `−LSE` of each row over the other queries: the bias that turns `l_ik` into `ln b_ik`.
    neg_lse_q: &'a [f32],
    /// `u_i·m⁻_i`.
    u_dot_mean_q: &'a [f32],
}

fn run<const D: usize, S: Shape>(
    queries: &CloudView<'_, D>,
    positives: &CloudView<'_, D>,
    rule: &LogitRule,
    u: &[f32],
    scratch: &mut [f32],
    out: &mut [f32],
) {
    let n = queries.len();
    let (mean_p, rest) = scratch.split_at_mut((n * D).min(scratch.len()));
    let (mean_q, rest) = rest.split_at_mut((n * D).min(rest.len()));
    let (lse_p, rest) = rest.split_at_mut(n.min(rest.len()));
    let (neg_lse_q, rest) = rest.split_at_mut(n.min(rest.len()));
    let (u_dot_mean_q, _) = rest.split_at_mut(n.min(rest.len()));
    let data = Partners::new(*positives, false);
    let others = Partners::new(*queries, true);

    // Pass 1: means and log-normalisers of every row.
    for start in (0..n).step_by(LANES) {
        let block = Block::gather(queries, start);
        let (mp, lp) = weighted_mean::<D, S>(&block, &data, rule);
        let (mq, lq) = weighted_mean::<D, S>(&block, &others, rule);
        let uk = lanes_of::<D>(u, n, start);
        let dot = uk
            .iter()
            .zip(&mq)
            .fold(F32s::splat(0.0), |acc, (u, m)| u.mul_add(*m, acc));
        for d in 0..D {
            put(mean_p, d * n + start, block.valid, mp.get(d).copied());
            put(mean_q, d * n + start, block.valid, mq.get(d).copied());
        }
        put(lse_p, start, block.valid, Some(lp));
        put(neg_lse_q, start, block.valid, Some(-lq));
        put(u_dot_mean_q, start, block.valid, Some(dot));
    }
    let rows = Rows {
        mean_p,
        mean_q,
        lse_p,
        neg_lse_q,
        u_dot_mean_q,
    };
    let inv = F32s::splat(rule.inverse_scale);
    let transposed = Partners::new(*queries, true).with_bias(rows.neg_lse_q, 1.0);

    // Pass 2: per query k, its own rows (covariance terms) and its role in the other rows.
    for start in (0..n).step_by(LANES) {
        let block = Block::gather(queries, start);
        let uk = lanes_of::<D>(u, n, start);
        let mk_p = lanes_of::<D>(rows.mean_p, n, start);
        let mk_q = lanes_of::<D>(rows.mean_q, n, start);
        let lse_pk = lanes_of::<1>(rows.lse_p, n, start)[0];
        let lse_qk = -lanes_of::<1>(rows.neg_lse_q, n, start)[0];
        let mut grad = [F32s::splat(0.0); D];
        covariance_term::<D, S>(&block, &data, rule, inv, &uk, &mk_p, lse_pk, 1.0, &mut grad);
        covariance_term::<D, S>(
            &block, &others, rule, inv, &uk, &mk_q, lse_qk, -1.0, &mut grad,
        );
        negative_role_term::<D, S>(&block, &transposed, rule, inv, u, &rows, &mut grad);
        for (d, g) in grad.iter().enumerate() {
            put(out, d * n + start, block.valid, Some(*g));
        }
    }
}

/// `(m, LSE)` of the block's rows over `partners`.
fn weighted_mean<const D: usize, S: Shape>(
    block: &Block<D>,
    partners: &Partners<'_, D>,
    rule: &LogitRule,
) -> ([F32s; D], F32s) {
    let (displacement, lse) = mean_displacement_and_normaliser::<D, S>(block, partners, rule);
    let mean = core::array::from_fn(|d| {
        displacement.get(d).copied().unwrap_or_default()
            + block.coords.get(d).copied().unwrap_or_default()
    });
    (mean, F32s::new(lse.value()))
}

/// `grad += sign · Σ_j w_kj (u_k·(y_j − m_k)) g(x_k, y_j)` with `w_kj = exp(l_kj − LSE_k)`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn covariance_term<const D: usize, S: Shape>(
    block: &Block<D>,
    partners: &Partners<'_, D>,
    rule: &LogitRule,
    inv: F32s,
    uk: &[F32s; D],
    mk: &[F32s; D],
    lse: F32s,
    sign: f32,
    grad: &mut [F32s; D],
) {
    let sign = F32s::splat(sign);
    let mut acc = [F32s::splat(0.0); D];
    sweep::<D, S>(block, partners, rule, |tile| {
        let mut weights = [F32s::splat(0.0); TILE];
        for (t, (w, l)) in weights.iter_mut().zip(tile.logits()).enumerate() {
            let mut c = F32s::splat(0.0);
            for ((u, m), column) in uk.iter().zip(mk).zip(&tile.coords) {
                let y = F32s::splat(column.get(t).copied().unwrap_or(0.0));
                c = u.mul_add(y - *m, c);
            }
            *w = exp(*l - lse) * c * S::gradient_factor(*l, inv);
        }
        let count = tile.logits().len();
        tile.accumulate_displacements(weights.get(..count).unwrap_or(&[]), &block.coords, &mut acc);
    });
    for (g, a) in grad.iter_mut().zip(acc) {
        *g = a.mul_add(sign, *g);
    }
}

/// `grad −= Σ_{i≠k} b_ik [u_i + (u_i·(x_k − m⁻_i)) g(x_k, x_i)]`, the tile's logits being
/// `ln b_ik = l_ik − LSE_i` (the partners' bias).
#[inline(always)]
fn negative_role_term<const D: usize, S: Shape>(
    block: &Block<D>,
    partners: &Partners<'_, D>,
    rule: &LogitRule,
    inv: F32s,
    u: &[f32],
    rows: &Rows<'_>,
    grad: &mut [F32s; D],
) {
    let n = partners.cloud.len();
    let mut acc = [F32s::splat(0.0); D];
    sweep::<D, S>(block, partners, rule, |tile| {
        for (t, biased) in tile.logits().iter().enumerate() {
            let i = tile.start + t;
            let b = exp(*biased);
            let mut sq = F32s::splat(0.0);
            let mut dot = F32s::splat(-rows.u_dot_mean_q.get(i).copied().unwrap_or(0.0));
            let mut ui = [0.0_f32; D];
            for (d, (x, column)) in block.coords.iter().zip(&tile.coords).enumerate() {
                let xi = F32s::splat(column.get(t).copied().unwrap_or(0.0));
                let diff = xi - *x;
                sq = diff.mul_add(diff, sq);
                let value = u.get(d * n + i).copied().unwrap_or(0.0);
                if let Some(slot) = ui.get_mut(d) {
                    *slot = value;
                }
                dot = F32s::splat(value).mul_add(*x, dot);
            }
            // γ from the distance itself (the tile's logits carry the rows' normalisers).
            let g = S::gradient_factor_sq(sq, inv);
            let along = b * dot * g;
            for ((a, x), (column, value)) in acc
                .iter_mut()
                .zip(&block.coords)
                .zip(tile.coords.iter().zip(ui))
            {
                let xi = F32s::splat(column.get(t).copied().unwrap_or(0.0));
                *a = b.mul_add(F32s::splat(value), *a);
                *a = along.mul_add(xi - *x, *a);
            }
        }
    });
    for (g, a) in grad.iter_mut().zip(acc) {
        *g -= a;
    }
}

/// Lanes `start..start + 8` of each of the `W` columns (`n` values each) of `values`.
pub(crate) fn lanes_of<const W: usize>(values: &[f32], n: usize, start: usize) -> [F32s; W] {
    core::array::from_fn(|d| {
        let base = d * n + start;
        F32s::new(core::array::from_fn(|k| {
            if start + k < n {
                values.get(base + k).copied().unwrap_or(0.0)
            } else {
                0.0
            }
        }))
    })
}

/// Writes the first `valid` lanes of `v` to `dst[offset..]`.
pub(crate) fn put(dst: &mut [f32], offset: usize, valid: usize, v: Option<F32s>) {
    if let (Some(dst), Some(v)) = (dst.get_mut(offset..offset + valid), v) {
        for (o, x) in dst.iter_mut().zip(v.to_array()) {
            *o = x;
        }
    }
}
