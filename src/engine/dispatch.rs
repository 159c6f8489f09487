//! The dense products' micro-kernel chosen at run time on hosted x86-64.
//!
//! `wide` picks its vector width when the crate is compiled: a default build runs 4-lane SSE2
//! without fused multiply-adds, an `x86-64-v3` build 8-lane AVX2. Matrix libraries (MKL,
//! OpenBLAS, `matrixmultiply`) detect the CPU instead; so does this module, for the one loop that
//! dominates the feature-space work — [`product_above`](crate::engine::gemm::product_above), the
//! distances, Gram matrices and drift sums of the dense engine. The detection and the
//! `#[target_feature]` calls are `pulp`'s (its `unsafe`, not ours), the kernel is written once
//! over `pulp::Simd` and compiled per instruction set:
//!
//! | CPU | kernel | per `k` and packed tile of `PACK = 48` columns |
//! | --- | --- | --- |
//! | AVX-512F | `2·MR × 3` accumulators of 16 lanes (two panels of `A`) | 3 loads, 8 broadcasts, 24 FMAs |
//! | AVX2 + FMA | `MR × 3` of 8 lanes, two passes | 6 loads, 8 broadcasts, 24 FMAs |
//! | neither | the compile-time `wide` kernel (`gemm.rs`) | — |
//!
//! A last tile at most one vector wide (16 of the 48 columns at `S = 64` or `D = 256`) runs a
//! one-vector kernel: a third of the multiply-adds (the grouped loss at `S = 64`: 8.6 against
//! 9.4 ms, interleaved, medians).
//!
//! **Same bits on every CPU with FMA.** Each entry is `Σ_k` of fused multiply-adds in `k` order
//! within blocks of [`KC`](crate::engine::gemm::KC), the blocks added in order: the AVX-512 and AVX2 kernels (and an
//! `x86-64-v3` or `-v4` build's compile-time kernel) give identical results
//! (`tests::kernels_agree_bit_for_bit`). The fallback without FMA rounds each product.

use crate::engine::gemm::{
    MR, PACK, Symmetric, Update, blocked_order, panels, skipped_below, tiles,
};
use pulp::{Simd, WithSimd};

/// Accumulator vectors per row of one pass of the kernel (`MR × 3` accumulators: 12 of the 16
/// AVX2 registers, 12 of the 32 AVX-512 ones).
const VECTORS: usize = 3;

/// [`product_above`](crate::engine::gemm::product_above) on the best kernel the CPU has;
/// `false` (nothing written) when it has neither AVX-512F nor AVX2 + FMA, for the caller's
/// compile-time kernel.
#[allow(clippy::too_many_arguments)]
pub(crate) fn product_above<U: Update>(
    rows: usize,
    columns: usize,
    depth: usize,
    a: &[[f32; MR]],
    b: &[[f32; PACK]],
    c: &mut [f32],
    ldc: usize,
    symmetric: Option<Symmetric>,
) -> bool {
    let arch = pulp::Arch::new();
    if matches!(arch, pulp::Arch::Scalar) {
        return false;
    }
    arch.dispatch(Product::<U> {
        rows,
        columns,
        depth,
        a,
        b,
        c,
        ldc,
        symmetric,
        update: core::marker::PhantomData,
    });
    true
}

/// One blocked product (the arguments of [`product_above`]).
struct Product<'a, U> {
    rows: usize,
    columns: usize,
    depth: usize,
    a: &'a [[f32; MR]],
    b: &'a [[f32; PACK]],
    c: &'a mut [f32],
    ldc: usize,
    symmetric: Option<Symmetric>,
    update: core::marker::PhantomData<U>,
}

impl<U: Update> WithSimd for Product<'_, U> {
    type Output = ();

    /// `gemm::blocked_order` over the panels and tiles, compiled for `S`.
    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let Self {
            rows,
            columns,
            depth,
            a,
            b,
            c,
            ldc,
            symmetric,
            ..
        } = self;
        let (panel_count, tile_count) = (panels(rows), tiles(columns));
        blocked_order(depth, panel_count, tile_count, |(k0, k1), panels, q| {
            let width = (columns - q * PACK).min(PACK);
            let b_block = b.get(q * depth + k0..q * depth + k1).unwrap_or(&[]);
            let a_block = |p: usize| a.get(p * depth + k0..p * depth + k1).unwrap_or(&[]);
            let mut p = panels.start;
            while p < panels.end {
                if skipped_below(symmetric, q, p) {
                    p += 1;
                    continue;
                }
                // With 32 registers, two panels at once (8 rows × 3 vectors): half the loads
                // of `B` per multiply-add.
                if S::F32_LANES >= 16 && p + 1 < panels.end {
                    let [low, high] = if width <= S::F32_LANES {
                        // A narrow last tile (e.g. 16 of 48 columns at D = 256): one vector
                        // per row instead of three, a third of the multiply-adds.
                        kernel::<S, U, 2, 1>(simd, [a_block(p), a_block(p + 1)], b_block)
                    } else {
                        kernel::<S, U, 2, VECTORS>(simd, [a_block(p), a_block(p + 1)], b_block)
                    };
                    store(c, ldc, p * MR, rows, q * PACK, width, &low, k0 > 0);
                    store(c, ldc, (p + 1) * MR, rows, q * PACK, width, &high, k0 > 0);
                    p += 2;
                } else {
                    let [acc] = if width <= S::F32_LANES {
                        kernel::<S, U, 1, 1>(simd, [a_block(p)], b_block)
                    } else {
                        kernel::<S, U, 1, VECTORS>(simd, [a_block(p)], b_block)
                    };
                    store(c, ldc, p * MR, rows, q * PACK, width, &acc, k0 > 0);
                    p += 1;
                }
            }
        });
    }
}

/// Steps of the reduction per iteration of the kernel's loop: the loop's bookkeeping (counters,
/// the end test, the panels' bounds) is paid once per `UNROLL` steps. Once per step it took about
/// a quarter of the loop's instructions (12 of 47), on the ports the fused multiply-adds need.
const UNROLL: usize = 4;

/// `P` panels of `A` at once (`P·MR × V` accumulators), the tile's columns in passes of `V`
/// vectors: all of them with `V = VECTORS`, only the first vector's with `V = 1` (a tile at
/// most one vector wide; the other columns are left 0 in the result).
#[inline(always)]
fn kernel<S: Simd, U: Update, const P: usize, const V: usize>(
    simd: S,
    a: [&[[f32; MR]]; P],
    b: &[[f32; PACK]],
) -> [[[f32; PACK]; MR]; P] {
    let lanes = S::F32_LANES;
    let zero = simd.splat_f32s(0.0);
    let depth = a.iter().fold(b.len(), |d, panel| d.min(panel.len()));
    let b = b.get(..depth).unwrap_or(&[]);
    let a = a.map(|panel| panel.get(..depth).unwrap_or(&[]));
    let (b_blocks, b_tail) = b.as_chunks::<UNROLL>();
    let a_blocks = a.map(|panel| panel.as_chunks::<UNROLL>());
    let mut out = [[[0.0_f32; PACK]; MR]; P];
    let columns = if V == VECTORS { PACK } else { V * lanes };
    for first in (0..columns).step_by(V * lanes) {
        let mut acc = [[[zero; V]; MR]; P];
        // One step `k`: the `B` row's vectors against every panel's `MR` values (a macro, not a
        // closure: called from two loops, a closure was not inlined and the accumulators went
        // to the stack).
        macro_rules! step {
            ($bk:expr, $ak:expr) => {{
                let bv: [S::f32s; V] =
                    core::array::from_fn(|v| load::<S>($bk, first + v * lanes, zero));
                for (panel_acc, ak) in acc.iter_mut().zip($ak) {
                    for (row, &w) in panel_acc.iter_mut().zip(ak) {
                        let w = simd.splat_f32s(w);
                        for (c, &x) in row.iter_mut().zip(&bv) {
                            *c = if U::DIFFERENCE {
                                let d = simd.sub_f32s(x, w);
                                simd.mul_add_e_f32s(d, d, *c)
                            } else {
                                simd.mul_add_e_f32s(w, x, *c)
                            };
                        }
                    }
                }
            }};
        }
        // Every panel has `depth` rows, so each has a block wherever `B` has one.
        'blocks: for (i, b_block) in b_blocks.iter().enumerate() {
            let mut a_block = [&[[0.0_f32; MR]; UNROLL]; P];
            for (slot, (panel_blocks, _)) in a_block.iter_mut().zip(&a_blocks) {
                let Some(block) = panel_blocks.get(i) else {
                    break 'blocks;
                };
                *slot = block;
            }
            for (u, bk) in b_block.iter().enumerate() {
                step!(bk, a_block.map(|block| block.get(u).unwrap_or(&[0.0; MR])));
            }
        }
        for (u, bk) in b_tail.iter().enumerate() {
            let mut ak = [&[0.0_f32; MR]; P];
            for (slot, (_, tail)) in ak.iter_mut().zip(&a_blocks) {
                if let Some(row) = tail.get(u) {
                    *slot = row;
                }
            }
            step!(bk, ak);
        }
        for (panel_out, panel_acc) in out.iter_mut().zip(&acc) {
            for (o, row) in panel_out.iter_mut().zip(panel_acc) {
                for (v, x) in row.iter().enumerate() {
                    let start = first + v * lanes;
                    if let Some(slot) = o.get_mut(start..start + lanes) {
                        slot.copy_from_slice(bytemuck::cast_slice(core::slice::from_ref(x)));
                    }
                }
            }
        }
    }
    out
}

/// The vector of `S` at `row[offset..]` (an unaligned load; `zero` past the row, which a whole
/// number of passes never reaches).
#[inline(always)]
fn load<S: Simd>(row: &[f32; PACK], offset: usize, zero: S::f32s) -> S::f32s {
    row.get(offset..offset + S::F32_LANES)
        .and_then(|values| bytemuck::try_pod_read_unaligned(bytemuck::cast_slice(values)).ok())
        .unwrap_or(zero)
}

/// Writes (or adds, when `accumulate`) the valid `rows × width` part of one micro-tile whose
/// first entry is `c[row·ldc + column]`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn store(
    c: &mut [f32],
    ldc: usize,
    row: usize,
    rows: usize,
    column: usize,
    width: usize,
    acc: &[[f32; PACK]; MR],
    accumulate: bool,
) {
    for (m, values) in acc.iter().enumerate() {
        let i = row + m;
        if i >= rows {
            break;
        }
        let start = i * ldc + column;
        let Some(dst) = c.get_mut(start..start + width) else {
            continue;
        };
        if accumulate {
            for (d, v) in dst.iter_mut().zip(values) {
                *d += *v;
            }
        } else {
            for (d, v) in dst.iter_mut().zip(values) {
                *d = *v;
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::cast_precision_loss)]
mod tests {
    extern crate std;
    use super::Product;
    use crate::engine::gemm::{
        Dot, KC, MR, PACK, SquaredDifference, Update, pack_row_panels, pack_transposed_tiles,
        panels, tiles,
    };
    use std::vec;
    use std::vec::Vec;

    /// Rows of pseudo-random values in `[−1, 1)` (a fixed linear congruential sequence).
    fn values(count: usize, seed: u64) -> Vec<f32> {
        let mut state = seed;
        (0..count)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                ((state >> 40) as f32 / (1u64 << 24) as f32).mul_add(2.0, -1.0)
            })
            .collect()
    }

    /// The product of `rows × depth` and `columns × depth` rows on the kernel `run` selects.
    fn product_with<U: Update>(
        rows: usize,
        columns: usize,
        depth: usize,
        run: impl Fn(Product<'_, U>),
    ) -> Vec<f32> {
        let x = values(rows * depth, 1);
        let y = values(columns * depth, 2);
        let mut a = vec![[0.0_f32; MR]; panels(rows) * depth];
        let mut b = vec![[0.0_f32; PACK]; tiles(columns) * depth];
        pack_row_panels(
            rows,
            depth,
            |i| &x[i * depth..(i + 1) * depth],
            None,
            &mut a,
        );
        pack_transposed_tiles(
            columns,
            depth,
            |j| &y[j * depth..(j + 1) * depth],
            None,
            &mut b,
        );
        let mut c = vec![f32::NAN; rows * columns];
        run(Product {
            rows,
            columns,
            depth,
            a: &a,
            b: &b,
            c: &mut c,
            ldc: columns,
            symmetric: None,
            update: core::marker::PhantomData,
        });
        c
    }

    /// The `f64` value of entry `(i, j)`.
    fn reference<U: Update>(x: &[f32], y: &[f32], depth: usize, i: usize, j: usize) -> f64 {
        (0..depth)
            .map(|k| {
                let (a, b) = (f64::from(x[i * depth + k]), f64::from(y[j * depth + k]));
                if U::DIFFERENCE {
                    (b - a) * (b - a)
                } else {
                    a * b
                }
            })
            .sum()
    }

    /// The AVX-512 and AVX2 kernels give the same bits (fused multiply-adds in the same order),
    /// and both the `f64` products within the `γ_k`-style bound `2·depth·u·Σ|terms|`, for shapes
    /// around the micro-tile, the packed tile and the `KC` blocks, products and squared
    /// differences. Kernels the CPU lacks are skipped (the others still compared).
    #[test]
    fn kernels_agree_bit_for_bit() {
        fn check<U: Update>() {
            for (rows, columns, depth) in [
                (1, 1, 1),
                (5, 47, 3),
                (9, 49, KC + 1),
                (13, 100, 2 * KC + 7),
                (4, 48, 768),
                // Narrow last tiles (the one-vector kernel on AVX-512, one pass on AVX2).
                (6, 64, 300),
                (8, 256, 129),
                (3, 20, 5),
            ] {
                let mut results = Vec::new();
                if let Some(simd) = pulp::x86::V4::try_new() {
                    results.push(product_with::<U>(rows, columns, depth, |op| {
                        pulp::Simd::vectorize(simd, op);
                    }));
                }
                if let Some(simd) = pulp::x86::V3::try_new() {
                    results.push(product_with::<U>(rows, columns, depth, |op| {
                        pulp::Simd::vectorize(simd, op);
                    }));
                }
                for pair in results.windows(2) {
                    assert!(
                        pair[0]
                            .iter()
                            .zip(&pair[1])
                            .all(|(p, q)| p.to_bits() == q.to_bits()),
                        "kernels differ at {rows}×{columns}×{depth}"
                    );
                }
                let x = values(rows * depth, 1);
                let y = values(columns * depth, 2);
                let u = f64::from(f32::EPSILON) / 2.0;
                for c in &results {
                    for i in 0..rows {
                        for j in 0..columns {
                            let exact = reference::<U>(&x, &y, depth, i, j);
                            let magnitude = if U::DIFFERENCE {
                                exact
                            } else {
                                (0..depth)
                                    .map(|k| f64::from(x[i * depth + k] * y[j * depth + k]).abs())
                                    .sum()
                            };
                            let error = (f64::from(c[i * columns + j]) - exact).abs();
                            assert!(
                                error <= 2.0 * depth as f64 * u * magnitude + 1e-30,
                                "{rows}×{columns}×{depth} ({i}, {j}): {} vs {exact}",
                                c[i * columns + j]
                            );
                        }
                    }
                }
            }
        }
        check::<Dot>();
        check::<SquaredDifference>();
    }
}
