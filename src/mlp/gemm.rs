//! The one matrix-multiply micro-kernel of the MLP, its packing routines and the tiled layout.
//!
//! All three products of a linear layer are `C[M × TILE] = A[M × K] · B[K × TILE]` with `A`
//! *packed* as panels of `MR` rows (`[[f32; MR]; K]`, the `MR` values of one `k` side by side)
//! and `B` a block of `K` rows of `TILE = NR·8` contiguous values:
//!
//! | product | `A` (packed)            | `B` (rows over `k`)           | `k` runs over |
//! | ------- | ----------------------- | ----------------------------- | ------------- |
//! | `Z = W·X`    | `W` rows            | a tile of `X` (tiled layout)  | inputs        |
//! | `dX = Wᵀ·dZ` | `W` columns         | a tile of `dZ` (tiled layout) | outputs       |
//! | `dW = dZ·Xᵀ` | `dZ` rows over batch | `Xᵀ`: batch rows of `TILE` inputs | batch     |
//!
//! The kernel keeps `MR × NR` `f32x8` accumulators in registers (12 with AVX: `4 × 3`), and per
//! `k` loads `NR` vectors of `B`, broadcasts `MR` scalars of `A` and issues `MR·NR` fused
//! multiply-adds; no horizontal reduction anywhere (the batch reduction of `dW` runs in the `k`
//! loop, with the inputs in the lanes). It is the BLIS/`matrixmultiply` micro-kernel, written
//! with safe `wide` vectors and iterators (no bounds checks in the loop).
//!
//! **Tiled layout.** A `rows × batch` activation is stored as `⌈batch/TILE⌉` tiles, each `rows`
//! rows of `TILE` values: value `(r, b)` at `(b / TILE)·rows·TILE + r·TILE + b % TILE`. Padding
//! columns (`b ≥ batch`) hold finite values that never reach a valid column; padding columns of
//! gradients are zero so that the batch reductions ignore them.

use crate::chunks::Exec;
use crate::simd::{F32s, LANES};

/// Rows of the micro-kernel (values of `A` broadcast per `k`).
pub(super) const MR: usize = 4;

/// Vectors of 8 batch columns per micro-kernel row: 3 with AVX (12 of the 16 `ymm` registers
/// hold accumulators), 2 on AArch64 (32 `q` registers, `f32x8` is two of them), 1 elsewhere
/// (SSE2: `f32x8` is two `xmm` halves; scalar targets).
#[cfg(target_feature = "avx")]
pub(super) const NR: usize = 3;
#[cfg(all(not(target_feature = "avx"), target_arch = "aarch64"))]
pub(super) const NR: usize = 2;
#[cfg(all(not(target_feature = "avx"), not(target_arch = "aarch64")))]
pub(super) const NR: usize = 1;

/// Batch columns per tile (`NR` vectors).
pub(super) const TILE: usize = NR * LANES;

/// Batch rows per block of the weight-gradient reduction (whole tiles, about 128): the packed
/// `Xᵀ` block (`BLOCK × TILE` values) stays in L1 while every row panel of `dZ` passes over it.
pub(super) const BLOCK: usize = if TILE >= 128 {
    TILE
} else {
    (128 / TILE) * TILE
};

/// One micro-tile of the result: `MR` rows of `NR` vectors.
pub(super) type Accumulators = [[F32s; NR]; MR];

/// Loads the `NR` vectors of one `B` row.
#[inline(always)]
pub(super) fn load(row: &[f32; TILE]) -> [F32s; NR] {
    let mut out = [F32s::splat(0.0); NR];
    for (v, chunk) in out.iter_mut().zip(row.as_chunks::<LANES>().0) {
        *v = F32s::new(*chunk);
    }
    out
}

/// Stores `NR` vectors into one `TILE` row.
#[inline(always)]
pub(super) fn store(row: &mut [f32; TILE], values: &[F32s; NR]) {
    for (chunk, v) in row.as_chunks_mut::<LANES>().0.iter_mut().zip(values) {
        *chunk = v.to_array();
    }
}

/// The micro-kernel: `acc[m][n] = Σ_k a[k][m] · b[k][n]` over `k < min(a.len(), b.len())`.
///
/// Cost per `k`: `NR` vector loads, `MR` broadcasts, `MR·NR` fused multiply-adds.
#[inline(always)]
pub(super) fn kernel(a: &[[f32; MR]], b: &[[f32; TILE]]) -> Accumulators {
    narrow_kernel::<NR>(a, b)
}

/// The micro-kernel on the first `N ≤ NR` vectors of each `B` row only (the last, partial
/// group of columns of a product), returned in an `NR`-wide micro-tile (zero past `N`).
#[inline(always)]
pub(super) fn narrow_kernel<const N: usize>(a: &[[f32; MR]], b: &[[f32; TILE]]) -> Accumulators {
    let mut acc = [[F32s::splat(0.0); N]; MR];
    for (ak, bk) in a.iter().zip(b) {
        let mut bv = [F32s::splat(0.0); N];
        for (v, chunk) in bv.iter_mut().zip(bk.as_chunks::<LANES>().0) {
            *v = F32s::new(*chunk);
        }
        for (row, &w) in acc.iter_mut().zip(ak) {
            let w = F32s::splat(w);
            for (c, x) in row.iter_mut().zip(&bv) {
                *c = w.mul_add(*x, *c);
            }
        }
    }
    let mut out = [[F32s::splat(0.0); NR]; MR];
    for (o, a) in out.iter_mut().zip(&acc) {
        for (o, a) in o.iter_mut().zip(a) {
            *o = *a;
        }
    }
    out
}

/// [`kernel`] restricted to the first `⌈columns/8⌉` vectors of each `B` row.
#[inline(always)]
pub(super) fn kernel_for_columns(
    columns: usize,
    a: &[[f32; MR]],
    b: &[[f32; TILE]],
) -> Accumulators {
    match columns.div_ceil(LANES) {
        1 if NR > 1 => narrow_kernel::<1>(a, b),
        2 if NR > 2 => narrow_kernel::<2>(a, b),
        _ => kernel(a, b),
    }
}

/// Number of `MR`-row panels covering `rows` rows.
pub(super) const fn panels(rows: usize) -> usize {
    rows.div_ceil(MR)
}

/// Packs the rows of a row-major `rows × cols` matrix `w`: panel `p` holds, for each column `k`,
/// `w[(p·MR + m)·cols + k]` for `m < MR` (zero past the last row). `packed` must hold
/// `panels(rows)·cols` entries.
pub(super) fn pack_rows(w: &[f32], rows: usize, cols: usize, packed: &mut [[f32; MR]]) {
    for (p, panel) in packed.chunks_exact_mut(cols.max(1)).enumerate() {
        for m in 0..MR {
            let row = p * MR + m;
            let source = if row < rows {
                w.get(row * cols..(row + 1) * cols).unwrap_or(&[])
            } else {
                &[]
            };
            let mut values = source.iter();
            for entry in panel.iter_mut() {
                if let Some(slot) = entry.get_mut(m) {
                    *slot = values.next().copied().unwrap_or(0.0);
                }
            }
        }
    }
}

/// Packs the columns of a row-major `rows × cols` matrix `w` (the rows of `wᵀ`): panel `p`
/// holds, for each row `k`, `w[k·cols + p·MR + m]` for `m < MR` (zero past the last column).
/// `packed` must hold `panels(cols)·rows` entries.
pub(super) fn pack_columns(w: &[f32], rows: usize, cols: usize, packed: &mut [[f32; MR]]) {
    for (p, panel) in packed.chunks_exact_mut(rows.max(1)).enumerate() {
        let first = p * MR;
        for (entry, row) in panel.iter_mut().zip(w.chunks_exact(cols.max(1))) {
            let mut values = row.get(first..).unwrap_or(&[]).iter();
            for slot in entry.iter_mut() {
                *slot = values.next().copied().unwrap_or(0.0);
            }
        }
    }
}

/// Copies a feature-major `rows × batch` slice (`src[r·batch + b]`) into the tiled layout
/// (`dst` holds `tiles·rows` rows), padding columns past `batch` with zeros.
pub(super) fn pack_tiled(src: &[f32], rows: usize, batch: usize, dst: &mut [[f32; TILE]]) {
    for (t, tile) in dst.chunks_exact_mut(rows.max(1)).enumerate() {
        let start = t * TILE;
        for (r, row) in tile.iter_mut().enumerate() {
            let from = r * batch + start;
            let count = batch.saturating_sub(start).min(TILE);
            let source = src.get(from..from + count).unwrap_or(&[]);
            let (head, tail) = row.split_at_mut(source.len().min(TILE));
            head.copy_from_slice(source.get(..head.len()).unwrap_or(&[]));
            tail.fill(0.0);
        }
    }
}

/// Writes one micro-tile row (`NR` vectors, batch columns `t·TILE ..`) into row `row` of a
/// feature-major `rows × batch` slice, dropping the padding columns.
#[inline]
pub(super) fn store_feature_major(
    dst: &mut [f32],
    row: usize,
    batch: usize,
    t: usize,
    values: &[F32s; NR],
) {
    let start = t * TILE;
    let count = batch.saturating_sub(start).min(TILE);
    let from = row * batch + start;
    if let Some(out) = dst.get_mut(from..from + count) {
        let mut lanes = [0.0_f32; TILE];
        store(&mut lanes, values);
        for (o, v) in out.iter_mut().zip(lanes) {
            *o = v;
        }
    }
}

/// The weight gradient of one layer, **added** into `grad_w` (row-major `outputs × inputs`):
/// `dW[o][i] += Σ_b dZ[o][b] · X[i][b]`, both operands in the tiled layout (`dz`: tiles of
/// `outputs` rows, `x`: tiles of `inputs` rows; padding columns of `dz` must be zero).
///
/// `exec` runs groups of `MR`-row panels as independent tasks (each with its own transposition
/// buffers); every row is reduced over the batch blocks in order by [`weight_gradient_panels`],
/// whatever the grouping, so the result does not depend on the number of threads.
#[allow(clippy::too_many_arguments)]
pub(super) fn weight_gradient(
    exec: Exec,
    dz: &[[f32; TILE]],
    x: &[[f32; TILE]],
    outputs: usize,
    inputs: usize,
    grad_w: &mut [f32],
    dz_panels: &mut [[f32; MR]],
    xt: &mut [[f32; TILE]],
) {
    match exec {
        Exec::Serial => {
            weight_gradient_panels(dz, x, outputs, inputs, 0, grad_w, dz_panels, xt);
        }
        #[cfg(feature = "std")]
        Exec::Rayon => {
            use rayon::prelude::*;
            // One group of panels per thread: each group transposes the X block again, which
            // costs 1/(group rows) of the group's multiply-adds, so groups stay as large as the
            // pool allows.
            let panel_count = panels(outputs);
            let groups = rayon::current_num_threads().clamp(1, panel_count.max(1));
            let per_group = panel_count.div_ceil(groups).max(1);
            grad_w
                .par_chunks_mut((per_group * MR * inputs).max(1))
                .enumerate()
                .for_each(|(g, rows)| {
                    let mut panels_buffer = std::vec![[0.0_f32; MR]; per_group * BLOCK];
                    let mut xt_buffer = std::vec![[0.0_f32; TILE]; BLOCK];
                    weight_gradient_panels(
                        dz,
                        x,
                        outputs,
                        inputs,
                        g * per_group,
                        rows,
                        &mut panels_buffer,
                        &mut xt_buffer,
                    );
                });
        }
    }
}

/// [`weight_gradient`] for the rows of `grad_w_rows`: the panels from `first_panel` on that it
/// covers (`grad_w_rows` starts at row `first_panel·MR`). `dz_panels` holds at least the
/// group's panels × [`BLOCK`] entries, `xt` [`BLOCK`] rows.
///
/// The batch is cut into blocks of [`BLOCK`] columns. Per block, every `MR`-row panel of `dZ` is
/// transposed into `dz_panels` (`[[f32; MR]; BLOCK]` per panel); then, per group of `TILE`
/// inputs, the block of `X` is transposed into `xt` (`BLOCK` rows of `TILE` inputs) and the
/// kernel runs over it once per panel, with the inputs in the lanes and the batch as `k`.
#[allow(clippy::too_many_arguments)]
fn weight_gradient_panels(
    dz: &[[f32; TILE]],
    x: &[[f32; TILE]],
    outputs: usize,
    inputs: usize,
    first_panel: usize,
    grad_w_rows: &mut [f32],
    dz_panels: &mut [[f32; MR]],
    xt: &mut [[f32; TILE]],
) {
    // Widths are at least 1 (checked at construction); `max` keeps chunking panic-free.
    let (outputs, inputs) = (outputs.max(1), inputs.max(1));
    let first_row = first_panel * MR;
    let rows = (grad_w_rows.len() / inputs.max(1)).min(outputs.saturating_sub(first_row));
    let group_panels = panels(rows);
    let block_tiles = BLOCK / TILE;
    let dz_blocks = dz.chunks((outputs * block_tiles).max(1));
    let x_blocks = x.chunks((inputs * block_tiles).max(1));
    for (dz_block, x_block) in dz_blocks.zip(x_blocks) {
        let tiles = dz_block.len() / outputs.max(1);
        let columns = tiles * TILE;
        // dZ panels: panel p, column c → dz_panels[p·columns + c][m] = dZ[p·MR + m][c].
        for (p, panel) in dz_panels
            .chunks_exact_mut(columns.max(1))
            .take(group_panels)
            .enumerate()
        {
            for (tile_rows, panel_tile) in dz_block
                .chunks_exact(outputs)
                .zip(panel.chunks_exact_mut(TILE))
            {
                for m in 0..MR {
                    // `tile_rows` holds exactly `outputs` rows: None past the last one.
                    let row = tile_rows.get(first_row + p * MR + m);
                    for (c, entry) in panel_tile.iter_mut().enumerate() {
                        if let Some(slot) = entry.get_mut(m) {
                            *slot = row.and_then(|r| r.get(c)).copied().unwrap_or(0.0);
                        }
                    }
                }
            }
        }
        for i0 in (0..inputs).step_by(TILE) {
            // Xᵀ block: xt[c][j] = X[i0 + j][c].
            for (tile_rows, xt_tile) in x_block.chunks_exact(inputs).zip(xt.chunks_exact_mut(TILE))
            {
                transpose_into(tile_rows.get(i0..).unwrap_or(&[]), xt_tile);
            }
            let xt_block = xt.get(..columns).unwrap_or(&[]);
            for (p, panel) in dz_panels
                .chunks_exact(columns.max(1))
                .take(group_panels)
                .enumerate()
            {
                let acc = kernel_for_columns(inputs - i0, panel, xt_block);
                for (m, values) in acc.iter().enumerate() {
                    let o = p * MR + m;
                    if o >= rows {
                        break;
                    }
                    let start = o * inputs + i0;
                    let count = (inputs - i0).min(TILE);
                    if let Some(dst) = grad_w_rows.get_mut(start..start + count) {
                        add_lanes(dst, values);
                    }
                }
            }
        }
    }
}

/// `dst[j] += lanes[j]` for `j < dst.len() ≤ TILE`.
#[inline(always)]
fn add_lanes(dst: &mut [f32], values: &[F32s; NR]) {
    if let Some(full) = dst.first_chunk_mut::<TILE>() {
        let mut current = load(full);
        for (c, v) in current.iter_mut().zip(values) {
            *c += *v;
        }
        store(full, &current);
    } else {
        let mut lanes = [0.0_f32; TILE];
        store(&mut lanes, values);
        for (d, v) in dst.iter_mut().zip(lanes) {
            *d += v;
        }
    }
}

/// `out[c][j] = rows[j][c]` for the first `min(rows.len(), TILE)` rows; zero past them.
#[inline(always)]
fn transpose_into(rows: &[[f32; TILE]], out: &mut [[f32; TILE]]) {
    if let Some(rows) = rows.first_chunk::<TILE>() {
        transpose_full(rows, out);
        return;
    }
    for (j, row) in rows.iter().enumerate().take(TILE) {
        for (o, v) in out.iter_mut().zip(row) {
            if let Some(slot) = o.get_mut(j) {
                *slot = *v;
            }
        }
    }
    for o in out.iter_mut() {
        for slot in o.iter_mut().skip(rows.len().min(TILE)) {
            *slot = 0.0;
        }
    }
}

/// A full `TILE × TILE` transpose in `8 × 8` blocks (`f32x8::transpose`).
#[inline(always)]
fn transpose_full(rows: &[[f32; TILE]; TILE], out: &mut [[f32; TILE]]) {
    for (jb, row_block) in rows.as_chunks::<LANES>().0.iter().enumerate() {
        // row_block: 8 rows (inputs jb·8 ..), each TILE columns.
        for cb in 0..NR {
            let block: [F32s; LANES] = core::array::from_fn(|r| {
                row_block
                    .get(r)
                    .and_then(|row| row.as_chunks::<LANES>().0.get(cb))
                    .map_or(F32s::splat(0.0), |c| F32s::new(*c))
            });
            let t = F32s::transpose(block);
            for (c, v) in t.iter().enumerate() {
                if let Some(dst) = out
                    .get_mut(cb * LANES + c)
                    .and_then(|o| o.as_chunks_mut::<LANES>().0.get_mut(jb))
                {
                    *dst = v.to_array();
                }
            }
        }
    }
}
