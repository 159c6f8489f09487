//! The Gram matrix of a problem's centred targets, and the squared norms of drift sums computed
//! from it with a probabilistic rounding-error bound that decides whether a value is kept.
//!
//! A drift sum with coefficients that sum to zero, `F_i = Σ_j c_ij y_j` (the displacement term
//! `−(Σ_j c_ij) x_i` folded into the coefficient of the query's own column), has the squared norm
//!
//! ```text
//! ‖F_i‖² = c_i G c_iᵀ,   G_jk = ⟨y_j, y_k⟩   (y centred),
//! ```
//!
//! which costs `T²` multiply-adds per row once `G` is known, instead of the `T·S` of forming `F_i`
//! from the `S` channels of the targets. The multi-temperature loss needs `n_R = mean ‖F_R‖²` for
//! every temperature before it can combine the fields (`n_R` is global over all groups), so with
//! `G` the per-temperature fields never have to exist: the field is one product of
//! `Σ_R C_R / √n_R` with the targets (`docs/mathematics.md` §5).
//!
//! **Error bound.** With `u = 2⁻²⁴` and `n_j = √G_jj`, the worst-case analysis is useless here:
//! each entry of `G` is within `γ_G n_j n_k` of the exact product of the (rounded, centred)
//! targets (`γ_G = (min(S, KC) + ⌈S/KC⌉ + 1)·u` for the micro-kernel's `KC`-deep blocks), so
//! `|q_i − ‖F_i‖²| ≤ (γ_G + 2T·u)·(Σ_j |c_ij| n_j)²`; on features in general position (nearly
//! orthogonal targets) `(Σ_j |c_ij| n_j)²` is about `T` times `‖F_i‖²`, and the bound exceeds
//! any useful tolerance although the actual error is near `u·√S`. So the crate uses the
//! probabilistic analysis of Higham and Mary (2019, "A new approach to probabilistic rounding
//! error analysis"): rounding errors modelled as independent, zero-mean, each at most `u`
//! relative. Under that model an inner product of length `n` has an error of standard deviation
//! at most `√n·u` times its absolute terms, so `δG_jk` has at most `√S'·u·n_j n_k`
//! (`S' = min(S, KC) + ⌈S/KC⌉`), and the errors of the `T²` entries, of `H = C G` and of
//! `q_i = Σ_j c_ij H_ij` add up to a standard deviation of at most
//!
//! ```text
//! σ_i ≤ (√S' + 2√T + 1)·u·s_i,   s_i = Σ_j c_ij² n_j²,
//! ```
//!
//! and the crate accepts `Σ_i q_i` when `λ·Σ_i σ_i ≤ GRAM_TOLERANCE·Σ_i q_i` with `λ =`
//! [`GRAM_SIGMAS`] (a `λ`-sigma bound; the probability that a sum of independent bounded errors
//! passes it is below `2·exp(−λ²/2)`, about `4e-22`). The test is relative to `s_i`, not to
//! `‖F_i‖²`: when attraction and repulsion nearly cancel (`‖F_i‖² ≪ s_i`, a nearly converged
//! group) the Gram form's relative error grows like `u·s_i/‖F_i‖²` where the direct product's
//! grows like its square root, and such groups fall back to the direct product.

use crate::engine::dense::{PackedQueries, PackedTargets, mirror_lower};
use crate::engine::gemm::{
    Dot, KC, LINE_SLACK, MR, PACK, Symmetric, line_aligned, line_aligned_ref, pack_column_tiles,
    pack_row_panels, panels, product, product_above, tiles,
};
use crate::engine::simd::{F32s, LANES};

/// The largest relative error bound of `Σ_i ‖F_i‖²` from the Gram matrix that callers accept
/// (a relative error `δ` of a normaliser `n_R` changes the normalised field `F_R/√n_R` by `δ/2`):
/// above it they recompute the sum from the direct product.
pub const GRAM_TOLERANCE: f64 = 2.0e-4;

/// The number of standard deviations `λ` of the Gram form's probabilistic error bound (module
/// documentation).
pub const GRAM_SIGMAS: f64 = 10.0;

/// Values of a stored Gram matrix of `targets` targets ([`store_gram`]): its columns in tiles of
/// `PACK` (the `B` operand of `C·G`) and the norms `√G_jj`, from the first cache line of the
/// buffer (hence [`LINE_SLACK`] more).
/// Saturates at `usize::MAX`.
pub(crate) const fn gram_len(targets: usize) -> usize {
    tiles(targets)
        .saturating_mul(PACK)
        .saturating_mul(targets)
        .saturating_add(targets)
        .saturating_add(LINE_SLACK)
}

/// `G = Y Yᵀ` of the packed, centred targets (`rows`: all `T` targets as `MR`-row panels,
/// `targets`: the same as transposed tiles) into `square` (`T × T`, row-major): the micro-tiles
/// on and above the diagonal through the micro-kernel, the rest mirrored (so `G` is exactly
/// symmetric, and `G_ij` for `i < j` has the bits of the corresponding entry of a plain product).
pub(crate) fn gram_products(
    rows: &PackedQueries<'_>,
    targets: &PackedTargets<'_>,
    square: &mut [f32],
) {
    let (t, dim) = (targets.count(), targets.dim());
    product_above::<Dot>(
        t,
        t,
        dim,
        rows.values(),
        targets.values(),
        square,
        t,
        Some(Symmetric {
            first_row: 0,
            columns: t,
        }),
    );
    mirror_lower(square, t, t, t);
}

/// Stores the `T × T` Gram matrix `square` into `out` ([`gram_len`] values): column tiles, then
/// the norms `√max(G_jj, 0)`.
pub(crate) fn store_gram(square: &[f32], t: usize, out: &mut [f32]) {
    let out = line_aligned(out);
    let (packed, norms) = out.split_at_mut((tiles(t) * PACK * t).min(out.len()));
    pack_column_tiles(
        t,
        t,
        |k| square.get(k * t..(k + 1) * t).unwrap_or(&[]),
        None,
        packed.as_chunks_mut::<PACK>().0,
    );
    for (j, n) in norms.iter_mut().enumerate().take(t) {
        *n = libm::sqrtf(square.get(j * t + j).copied().unwrap_or(0.0).max(0.0));
    }
}

/// `Σ_i ‖F_i‖²` of a coefficient tile and the bound of its rounding error.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NormSum {
    /// `Σ_i c_i G c_iᵀ`.
    pub(crate) value: f64,
    /// The `λ`-sigma bound of `|value − Σ_i ‖F_i‖²|` (module documentation).
    pub(crate) bound: f64,
}

impl NormSum {
    /// Whether the value's bound is within [`GRAM_TOLERANCE`] of it (relative); a zero or
    /// negative value never is.
    pub(crate) fn accepted(&self) -> bool {
        self.value > 0.0 && self.bound <= GRAM_TOLERANCE * self.value
    }
}

/// Scratch values of [`norm_sum`] for `rows` coefficient rows over `t` targets.
/// Saturates at `usize::MAX`.
pub(crate) const fn norm_sum_len(rows: usize, t: usize) -> usize {
    panels(rows)
        .saturating_mul(t)
        .saturating_mul(MR)
        .saturating_add(rows.saturating_mul(t))
}

/// `Σ_i c_i G c_iᵀ` over the `rows` rows of `coefficients` (`t` values each, contiguous) with the
/// stored Gram matrix `gram` ([`store_gram`]) of targets with `dim` channels, and its bound.
/// `scratch` holds [`norm_sum_len`] values.
pub(crate) fn norm_sum(
    coefficients: &[f32],
    rows: usize,
    t: usize,
    dim: usize,
    gram: &[f32],
    scratch: &mut [f32],
) -> NormSum {
    let gram = line_aligned_ref(gram);
    let (packed_gram, norms) = gram.split_at((tiles(t) * PACK * t).min(gram.len()));
    let norms = norms.get(..t).unwrap_or(norms);
    let (panel_buffer, products) = scratch.split_at_mut((panels(rows) * t * MR).min(scratch.len()));
    let packed = panel_buffer.as_chunks_mut::<MR>().0;
    pack_row_panels(
        rows,
        t,
        |i| coefficients.get(i * t..(i + 1) * t).unwrap_or(&[]),
        None,
        packed,
    );
    // H = C·G (rows × t).
    product::<Dot>(
        rows,
        t,
        t,
        packed,
        packed_gram.as_chunks::<PACK>().0,
        products,
        t,
    );
    let mut value = 0.0_f64;
    let mut spread = 0.0_f64;
    for (c, h) in coefficients
        .chunks_exact(t.max(1))
        .zip(products.chunks_exact(t.max(1)))
        .take(rows)
    {
        let (c8, c_tail) = c.as_chunks::<LANES>();
        let (h8, h_tail) = h.as_chunks::<LANES>();
        let (n8, n_tail) = norms.as_chunks::<LANES>();
        let (mut q, mut spread_lanes) = (F32s::splat(0.0), F32s::splat(0.0));
        for ((c, h), n) in c8.iter().zip(h8).zip(n8) {
            let (c, n) = (F32s::new(*c), F32s::new(*n));
            q = c.mul_add(F32s::new(*h), q);
            let cn = c * n;
            spread_lanes = cn.mul_add(cn, spread_lanes);
        }
        value += q.to_array().iter().map(|&v| f64::from(v)).sum::<f64>();
        spread += spread_lanes
            .to_array()
            .iter()
            .map(|&v| f64::from(v))
            .sum::<f64>();
        for ((&c, &h), &n) in c_tail.iter().zip(h_tail).zip(n_tail) {
            value += f64::from(c) * f64::from(h);
            let cn = f64::from(c) * f64::from(n);
            spread += cn * cn;
        }
    }
    NormSum {
        value,
        bound: gram_error_factor(dim, t) * spread,
    }
}

/// `λ·(√S' + 2√T + 1)·u·(1 + 1e-3)` of the module documentation, for `dim` channels and `t`
/// targets (the last factor covers the rounding of `s_i` itself).
#[allow(clippy::cast_precision_loss)]
fn gram_error_factor(dim: usize, t: usize) -> f64 {
    let u = f64::from(f32::EPSILON) / 2.0;
    let depth = (dim.min(KC) + dim.div_ceil(KC.max(1))) as f64;
    GRAM_SIGMAS * (libm::sqrt(depth) + 2.0 * libm::sqrt(t as f64) + 1.0) * u * (1.0 + 1.0e-3)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::cast_precision_loss)]
mod tests {
    extern crate std;
    use super::{gram_len, gram_products, norm_sum, norm_sum_len, store_gram};
    use crate::engine::dense::{
        DistanceForm, Rows, mean_row, pack_queries, pack_targets, query_pack_len, target_pack_len,
    };
    use std::vec;
    use std::vec::Vec;

    /// A small deterministic generator (xorshift), uniform in `[−1, 1)`.
    struct Noise(u64);
    impl Noise {
        fn next(&mut self) -> f32 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            ((self.0 >> 40) as f32 / 16_777_216.0) * 2.0 - 1.0
        }
    }

    /// `Σ_i c_i G c_iᵀ` and its bound, and the exact `Σ_i ‖Σ_j c_ij ỹ_j‖²` in `f64` of the same
    /// coefficients and the same rounded, centred targets `ỹ`; prints the relative error and
    /// bound and asserts that the error is within the bound.
    fn measure(
        label: &str,
        targets: &[f32],
        t: usize,
        dim: usize,
        coefficients: &[f32],
        rows: usize,
    ) -> (f64, f64, f64) {
        let view = Rows::single(targets, dim);
        let mut centre = vec![0.0_f32; dim];
        mean_row(&view, &mut centre);
        let mut target_buffer = vec![0.0_f32; target_pack_len(t, dim)];
        let mut row_buffer = vec![0.0_f32; query_pack_len(t, dim)];
        let packed_targets =
            pack_targets(&view, &centre, DistanceForm::Expanded, &mut target_buffer);
        let packed_rows = pack_queries(&view, &centre, DistanceForm::Expanded, &mut row_buffer);
        let mut square = vec![0.0_f32; t * t];
        gram_products(&packed_rows, &packed_targets, &mut square);
        let mut gram = vec![0.0_f32; gram_len(t)];
        store_gram(&square, t, &mut gram);
        let mut scratch = vec![0.0_f32; norm_sum_len(rows, t)];
        let sum = norm_sum(coefficients, rows, t, dim, &gram, &mut scratch);
        let centred: Vec<f64> = targets
            .chunks_exact(dim)
            .flat_map(|y| y.iter().zip(&centre).map(|(&v, &c)| f64::from(v - c)))
            .collect();
        let mut exact = 0.0;
        for c in coefficients.chunks_exact(t).take(rows) {
            for d in 0..dim {
                let f: f64 = (0..t).map(|j| f64::from(c[j]) * centred[j * dim + d]).sum();
                exact += f * f;
            }
        }
        let error = (sum.value - exact).abs();
        std::println!(
            "{label}: error {:.1e}, bound {:.1e} (of the exact value)",
            error / exact,
            sum.bound / exact
        );
        assert!(
            error <= sum.bound,
            "{label}: error {error:e} > bound {:e}",
            sum.bound
        );
        (sum.value, sum.bound, exact)
    }

    /// Coefficient rows that sum to zero (the displacement folded into the own column), with
    /// weights spread over the targets (general position) or concentrated on mirrored pairs.
    fn coefficients(noise: &mut Noise, rows: usize, t: usize) -> Vec<f32> {
        let mut c = vec![0.0_f32; rows * t];
        for i in 0..rows {
            let row = &mut c[i * t..(i + 1) * t];
            for v in row.iter_mut() {
                *v = (noise.next() + 1.0) * 0.5;
            }
            let sum: f32 = row.iter().sum();
            row[i] -= sum;
        }
        c
    }

    /// The measured error of `Σ_i c_i G c_iᵀ` stays under the stated bound on targets in
    /// general position and on nearly cancelling ones (where the bound refuses the value), for
    /// channel counts across the micro-kernel's `KC` blocks.
    #[test]
    fn the_error_of_the_gram_form_stays_under_its_bound() {
        let mut noise = Noise(0x9E37_79B9_7F4A_7C15);
        for (rows, t, dim) in [(5, 9, 3), (16, 40, 64), (12, 30, 300), (8, 20, 700)] {
            // General position: targets spread in every channel.
            let targets: Vec<f32> = (0..t * dim).map(|_| noise.next() + 3.0).collect();
            let c = coefficients(&mut noise, rows, t);
            let label = std::format!("{rows}×{t}, S = {dim}");
            let (_, bound, exact) = measure(&label, &targets, t, dim, &c, rows);
            assert!(
                bound <= 1e-4 * exact,
                "{label}: bound {bound:e} of {exact:e}"
            );

            // Nearly cancelling: targets in mirrored pairs ±v around the centre (+1e-3 noise)
            // and coefficients equal on each pair, so that Σ_j c_ij ỹ_j nearly vanishes.
            let half = t / 2;
            let mut mirrored = vec![0.0_f32; t * dim];
            for j in 0..half {
                for d in 0..dim {
                    let v = noise.next();
                    mirrored[j * dim + d] = v + 1e-3 * noise.next();
                    mirrored[(j + half) * dim + d] = -v + 1e-3 * noise.next();
                }
            }
            let mut paired = vec![0.0_f32; rows * t];
            for i in 0..rows {
                for j in 0..half {
                    let w = (noise.next() + 1.0) * 0.5;
                    paired[i * t + j] = w;
                    paired[i * t + j + half] = w;
                }
            }
            let label = std::format!("cancelling {rows}×{t}, S = {dim}");
            let (value, bound, _) = measure(&label, &mirrored, t, dim, &paired, rows);
            assert!(
                bound > super::GRAM_TOLERANCE * value,
                "{label}: bound {bound:e} accepted for {value:e}"
            );
        }
    }
}
