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

use crate::engine::chunks::Exec;
use crate::engine::simd::{F32s, LANES};

/// Rows of the micro-kernel (values of `A` broadcast per `k`).
pub(crate) const MR: usize = 4;

/// Vectors of 8 batch columns per micro-kernel row: 6 with AVX-512 (the kernel runs on three
/// 16-lane `zmm` vectors per row: 12 of the 32 registers hold accumulators), 3 with AVX (12 of
/// the 16 `ymm` registers), 2 on AArch64 (32 `q` registers, `f32x8` is two of them), 1 elsewhere
/// (SSE2: `f32x8` is two `xmm` halves; scalar targets).
#[cfg(target_feature = "avx512f")]
pub(crate) const NR: usize = 6;
#[cfg(all(target_feature = "avx", not(target_feature = "avx512f")))]
pub(crate) const NR: usize = 3;
#[cfg(all(not(target_feature = "avx"), target_arch = "aarch64"))]
pub(crate) const NR: usize = 2;
#[cfg(all(not(target_feature = "avx"), not(target_arch = "aarch64")))]
pub(crate) const NR: usize = 1;

/// Batch columns per tile (`NR` vectors).
pub(crate) const TILE: usize = NR * LANES;

/// Batch rows per block of the weight-gradient reduction (whole tiles, about 128): the packed
/// `Xᵀ` block (`BLOCK × TILE` values) stays in L1 while every row panel of `dZ` passes over it.
pub(crate) const BLOCK: usize = if TILE >= 128 {
    TILE
} else {
    (128 / TILE) * TILE
};

/// One micro-tile of the result: `MR` rows of `NR` vectors.
pub(crate) type Accumulators = [[F32s; NR]; MR];

/// Loads the `NR` vectors of one `B` row.
#[inline(always)]
pub(crate) fn load(row: &[f32; TILE]) -> [F32s; NR] {
    let mut out = [F32s::splat(0.0); NR];
    for (v, chunk) in out.iter_mut().zip(row.as_chunks::<LANES>().0) {
        *v = F32s::new(*chunk);
    }
    out
}

/// Stores `NR` vectors into one `TILE` row.
#[inline(always)]
pub(crate) fn store(row: &mut [f32; TILE], values: &[F32s; NR]) {
    for (chunk, v) in row.as_chunks_mut::<LANES>().0.iter_mut().zip(values) {
        *chunk = v.to_array();
    }
}

/// What the micro-kernel accumulates per `k`: `c += f(a, b)` with `a` the broadcast value of `A`
/// and `b` a vector of `B`.
pub(crate) trait Update {
    /// Whether the step is [`SquaredDifference`]'s `(b − a)²` (else [`Dot`]'s `a·b`): what the
    /// run-time dispatched kernels (`engine/dispatch.rs`) compute.
    #[cfg_attr(
        not(all(feature = "dense", target_arch = "x86_64", not(target_os = "none"))),
        allow(dead_code)
    )]
    const DIFFERENCE: bool;
    /// One accumulation step.
    #[cfg_attr(target_feature = "avx512f", allow(dead_code))]
    fn update(a: F32s, b: F32s, c: F32s) -> F32s;
    /// The same step on 16 lanes (the AVX-512 kernel).
    #[cfg(target_feature = "avx512f")]
    fn update_wide(a: wide::f32x16, b: wide::f32x16, c: wide::f32x16) -> wide::f32x16;
}

/// `c += a·b`: the matrix product (one fused multiply-add per entry).
pub(crate) struct Dot;

/// `c += (b − a)²`: squared Euclidean distances between the rows of `A` and the columns of `B`,
/// in the difference form (a subtraction and a fused multiply-add per entry, no cancellation).
#[cfg(feature = "dense")]
pub(crate) struct SquaredDifference;

impl Update for Dot {
    const DIFFERENCE: bool = false;
    #[inline(always)]
    fn update(a: F32s, b: F32s, c: F32s) -> F32s {
        a.mul_add(b, c)
    }
    #[cfg(target_feature = "avx512f")]
    #[inline(always)]
    fn update_wide(a: wide::f32x16, b: wide::f32x16, c: wide::f32x16) -> wide::f32x16 {
        a.mul_add(b, c)
    }
}

#[cfg(feature = "dense")]
impl Update for SquaredDifference {
    const DIFFERENCE: bool = true;
    #[inline(always)]
    fn update(a: F32s, b: F32s, c: F32s) -> F32s {
        let d = b - a;
        d.mul_add(d, c)
    }
    #[cfg(target_feature = "avx512f")]
    #[inline(always)]
    fn update_wide(a: wide::f32x16, b: wide::f32x16, c: wide::f32x16) -> wide::f32x16 {
        let d = b - a;
        d.mul_add(d, c)
    }
}

/// The micro-kernel: `acc[m][n] = Σ_k U(a[k][m], b[k][first + n])` over
/// `k < min(a.len(), b.len())`, on the first `N ≤ NR` vectors of each `B` row from column `first`
/// (fewer for the last, partial group of columns of a product; `B` rows are `W ≥ TILE` wide: the
/// MLP's tiles, or the dense products' wider ones), returned in an `NR`-wide micro-tile (zero past
/// `N`).
///
/// Cost per `k`: `N` vector loads, `MR` broadcasts, `MR·N` updates (fused multiply-adds).
#[cfg(not(target_feature = "avx512f"))]
#[inline(always)]
pub(crate) fn narrow_kernel<const N: usize, U: Update, const W: usize>(
    a: &[[f32; MR]],
    b: &[[f32; W]],
    first: usize,
) -> Accumulators {
    let mut acc = [[F32s::splat(0.0); N]; MR];
    for (ak, bk) in a.iter().zip(b) {
        let mut bv = [F32s::splat(0.0); N];
        let row = bk.get(first..).unwrap_or(&[]);
        for (v, chunk) in bv.iter_mut().zip(row.as_chunks::<LANES>().0) {
            *v = F32s::new(*chunk);
        }
        for (row, &w) in acc.iter_mut().zip(ak) {
            let w = F32s::splat(w);
            for (c, x) in row.iter_mut().zip(&bv) {
                *c = U::update(w, *x, *c);
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

/// The micro-kernel with AVX-512: the same contract as the 8-lane kernel (`N ≤ NR` vectors of 8
/// columns, an `NR`-wide micro-tile of `f32x8`, zero past `N`), computed on `⌈N/2⌉` 16-lane
/// vectors per row, each split into two 8-lane halves at the end. The arithmetic of every column
/// (its updates in `k` order) is the 8-lane kernel's.
#[cfg(target_feature = "avx512f")]
#[inline(always)]
pub(crate) fn narrow_kernel<const N: usize, U: Update, const W: usize>(
    a: &[[f32; MR]],
    b: &[[f32; W]],
    first: usize,
) -> Accumulators {
    use wide::f32x16;
    const WIDE: usize = NR / 2;
    let vectors = N.div_ceil(2);
    let mut acc = [[f32x16::splat(0.0); WIDE]; MR];
    for (ak, bk) in a.iter().zip(b) {
        let mut bv = [f32x16::splat(0.0); WIDE];
        let row = bk.get(first..).unwrap_or(&[]);
        for (v, chunk) in bv.iter_mut().zip(row.as_chunks::<16>().0).take(vectors) {
            *v = f32x16::new(*chunk);
        }
        for (row, &w) in acc.iter_mut().zip(ak) {
            let w = f32x16::splat(w);
            for (c, x) in row.iter_mut().zip(&bv).take(vectors) {
                *c = U::update_wide(w, *x, *c);
            }
        }
    }
    let mut out = [[F32s::splat(0.0); NR]; MR];
    for (o, a) in out.iter_mut().zip(&acc) {
        for (k, v) in a.iter().enumerate().take(vectors) {
            let lanes = v.to_array();
            if let (Some(low), Some(values)) = (o.get_mut(2 * k), lanes.first_chunk::<LANES>()) {
                *low = F32s::new(*values);
            }
            if 2 * k + 1 < N
                && let (Some(high), Some(values)) =
                    (o.get_mut(2 * k + 1), lanes.last_chunk::<LANES>())
            {
                *high = F32s::new(*values);
            }
        }
    }
    out
}

/// The matrix-product micro-kernel ([`Dot`]) restricted to the first `⌈columns/8⌉` vectors of each
/// `B` row.
#[inline(always)]
pub(crate) fn kernel_for_columns(
    columns: usize,
    a: &[[f32; MR]],
    b: &[[f32; TILE]],
) -> Accumulators {
    kernel_for_columns_with::<Dot, TILE>(columns, a, b, 0)
}

/// [`kernel_for_columns`] with the accumulation `U`, on `B` rows `W` wide from column `first`.
#[inline(always)]
pub(crate) fn kernel_for_columns_with<U: Update, const W: usize>(
    columns: usize,
    a: &[[f32; MR]],
    b: &[[f32; W]],
    first: usize,
) -> Accumulators {
    match columns.div_ceil(LANES) {
        1 if NR > 1 => narrow_kernel::<1, U, W>(a, b, first),
        2 if NR > 2 => narrow_kernel::<2, U, W>(a, b, first),
        3 if NR > 3 => narrow_kernel::<3, U, W>(a, b, first),
        4 if NR > 4 => narrow_kernel::<4, U, W>(a, b, first),
        5 if NR > 5 => narrow_kernel::<5, U, W>(a, b, first),
        _ => narrow_kernel::<NR, U, W>(a, b, first),
    }
}

/// Number of `MR`-row panels covering `rows` rows.
pub(crate) const fn panels(rows: usize) -> usize {
    rows.div_ceil(MR)
}

/// Packs the rows of a row-major `rows × cols` matrix `w`: panel `p` holds, for each column `k`,
/// `w[(p·MR + m)·cols + k]` for `m < MR` (zero past the last row). `packed` must hold
/// `panels(rows)·cols` entries.
pub(crate) fn pack_rows(w: &[f32], rows: usize, cols: usize, packed: &mut [[f32; MR]]) {
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
pub(crate) fn pack_columns(w: &[f32], rows: usize, cols: usize, packed: &mut [[f32; MR]]) {
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
pub(crate) fn pack_tiled(src: &[f32], rows: usize, batch: usize, dst: &mut [[f32; TILE]]) {
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
pub(crate) fn store_feature_major(
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
pub(crate) fn weight_gradient(
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

#[cfg(all(feature = "dense", target_arch = "x86_64"))]
/// Columns of one packed `B` tile of [`product`] (the dense engine's products; the MLP keeps
/// [`TILE`]): 48 on x86-64 whatever the build, so that the kernel chosen at run time
/// (`engine/dispatch.rs`: three 16-lane vectors per row with AVX-512, two passes of three 8-lane
/// ones with AVX2) and the compile-time fallback (passes of `TILE`) share one packed layout.
pub(crate) const PACK: usize = 48;
#[cfg(all(feature = "dense", not(target_arch = "x86_64")))]
/// Columns of one packed `B` tile of [`product`]: [`TILE`] (the kernel is the compile-time one).
pub(crate) const PACK: usize = TILE;

#[cfg(feature = "dense")]
/// Depth of one block of the reduction dimension in [`product`]: a `KC × PACK` slice of a packed
/// `B` tile (24 KB: 128 × 48 on x86-64) stays in L1 while every `A` panel of the row block passes
/// over it.
pub(crate) const KC: usize = 6144 / PACK;

#[cfg(feature = "dense")]
/// Panels of `A` per row block in [`product`]: `MC_PANELS · MR × KC` packed values (128 KB) stay
/// in L2 while the tiles of `B` pass.
pub(crate) const MC_PANELS: usize = 32;

#[cfg(feature = "dense")]
/// Values in front of a buffer of packed `PACK`-wide tiles that its size reserves, so that the
/// tiles can start on a 64-byte cache line ([`line_aligned`]).
pub(crate) const LINE_SLACK: usize = 15;

#[cfg(feature = "dense")]
/// `len` rounded up to whole 64-byte lines of values (`usize::MAX` if that overflows).
pub(crate) const fn whole_lines(len: usize) -> usize {
    match len.checked_add(LINE_SLACK) {
        Some(v) => v / (LINE_SLACK + 1) * (LINE_SLACK + 1),
        None => usize::MAX,
    }
}

#[cfg(feature = "dense")]
/// How many values from `start` the next 64-byte boundary lies (0 to [`LINE_SLACK`]).
fn line_offset(start: *const f32) -> usize {
    let offset = start.align_offset(64);
    if offset <= LINE_SLACK { offset } else { 0 }
}

#[cfg(feature = "dense")]
/// `buffer` from its first value on a 64-byte boundary (at most [`LINE_SLACK`] values skipped).
/// A row of a packed tile is `PACK = 48` values, three whole lines, so the kernel's 16-lane loads
/// of `B` then never straddle two lines (a split load costs two L1 accesses: on the AVX-512 host
/// the products ran 4–7 % slower from a buffer 16 bytes off a line). The bits do not depend on it.
pub(crate) fn line_aligned(buffer: &mut [f32]) -> &mut [f32] {
    let skip = line_offset(buffer.as_ptr()).min(buffer.len());
    buffer.split_at_mut(skip).1
}

#[cfg(feature = "dense")]
/// The first `len` values of `buffer` and what follows the whole lines they start
/// ([`whole_lines`]`(len)` values; both parts shorter if `buffer` is).
pub(crate) fn split_lines(buffer: &mut [f32], len: usize) -> (&mut [f32], &mut [f32]) {
    let (head, rest) = buffer.split_at_mut(whole_lines(len).min(buffer.len()));
    let head_len = len.min(head.len());
    (head.split_at_mut(head_len).0, rest)
}

#[cfg(feature = "dense")]
/// [`line_aligned`] for reading (the same values skipped from the same start).
pub(crate) fn line_aligned_ref(buffer: &[f32]) -> &[f32] {
    let skip = line_offset(buffer.as_ptr()).min(buffer.len());
    buffer.split_at(skip).1
}

#[cfg(feature = "dense")]
/// Number of `PACK`-column tiles covering `columns` columns.
pub(crate) const fn tiles(columns: usize) -> usize {
    columns.div_ceil(PACK)
}

#[cfg(feature = "dense")]
/// `src[k0..k0 + 8] − centre[k0..k0 + 8]` as a vector (zero past the end of `src`).
#[inline(always)]
fn load_centred(src: &[f32], k0: usize, centre: Option<&[f32]>) -> F32s {
    let full = |s: &[f32]| s.get(k0..).and_then(|v| v.first_chunk::<LANES>()).copied();
    match (full(src), centre.map(full)) {
        (Some(v), None) => F32s::new(v),
        (Some(v), Some(Some(c))) => F32s::new(v) - F32s::new(c),
        _ => F32s::new(core::array::from_fn(|l| {
            src.get(k0 + l).map_or(0.0, |v| {
                v - centre.and_then(|c| c.get(k0 + l)).copied().unwrap_or(0.0)
            })
        })),
    }
}

#[cfg(feature = "dense")]
/// Eight rows (`first..first + 8`, empty past `rows`) as slices.
#[inline(always)]
fn eight_rows<'r>(
    rows: usize,
    first: usize,
    row: &impl Fn(usize) -> &'r [f32],
) -> [&'r [f32]; LANES] {
    core::array::from_fn(|t| {
        if first + t < rows {
            row(first + t)
        } else {
            &[]
        }
    })
}

#[cfg(feature = "dense")]
/// Values `k0..k0 + 8` of eight rows, minus the centre, transposed: vector `k` holds value
/// `k0 + k` of the eight rows (zero past a row's end).
#[inline(always)]
fn transposed_block(sources: &[&[f32]; LANES], k0: usize, centre: Option<&[f32]>) -> [F32s; LANES] {
    let shift = match centre {
        None => Some(F32s::splat(0.0)),
        Some(c) => c
            .get(k0..)
            .and_then(|c| c.first_chunk::<LANES>())
            .map(|c| F32s::new(*c)),
    };
    let mut block = [F32s::splat(0.0); LANES];
    for (b, source) in block.iter_mut().zip(sources) {
        *b = match (
            source.get(k0..).and_then(|v| v.first_chunk::<LANES>()),
            shift,
        ) {
            (Some(v), Some(shift)) => F32s::new(*v) - shift,
            _ => load_centred(source, k0, centre),
        };
    }
    F32s::transpose(block)
}

#[cfg(feature = "dense")]
/// Packs `rows` rows of length `depth` (row `r` is `row(r)`, e.g. one point's coordinates), each
/// minus `centre`, as `MR`-row panels: panel `p` holds, for each `k < depth`,
/// `row(p·MR + m)[k] − centre[k]` for `m < MR` (zero past the last row). `packed` holds
/// `panels(rows)·depth` entries. This is the `A` operand of [`product`]. Two panels (8 rows) at a
/// time, blocks of 8 values transposed in registers.
pub(crate) fn pack_row_panels<'r>(
    rows: usize,
    depth: usize,
    row: impl Fn(usize) -> &'r [f32],
    centre: Option<&[f32]>,
    packed: &mut [[f32; MR]],
) {
    for (pair, panels) in packed
        .chunks_mut(depth.max(1).saturating_mul(2))
        .enumerate()
    {
        let sources = eight_rows(rows, pair * 2 * MR, &row);
        let (low, high) = panels.split_at_mut(depth.min(panels.len()));
        for k0 in (0..depth).step_by(LANES) {
            store_panel_pair(&transposed_block(&sources, k0, centre), k0, low, high);
        }
    }
}

#[cfg(feature = "dense")]
/// Stores the columns `k0..k0 + 8` of eight rows (`columns[k]`: the eight rows' values in column
/// `k0 + k`) into a pair of row panels: the first `MR` rows into `low`, the others into `high`
/// (entries past a panel's end dropped).
#[inline(always)]
pub(crate) fn store_panel_pair(
    columns: &[F32s; LANES],
    k0: usize,
    low: &mut [[f32; MR]],
    high: &mut [[f32; MR]],
) {
    for (k, v) in columns.iter().enumerate() {
        let lanes = v.to_array();
        if let (Some(entry), Some(values)) = (low.get_mut(k0 + k), lanes.first_chunk::<MR>()) {
            *entry = *values;
        }
        if let (Some(entry), Some(values)) = (high.get_mut(k0 + k), lanes.last_chunk::<MR>()) {
            *entry = *values;
        }
    }
}

#[cfg(feature = "dense")]
/// Stores the columns `k0..k0 + 8` of eight rows (`columns[k]`: the eight rows' values in column
/// `k0 + k`) as lane block `block` of the tile entries `entries` (entry `k` of the slice is
/// column `k0 + k`; entries past the slice dropped).
#[inline(always)]
fn store_tile_block(columns: &[F32s; LANES], block: usize, entries: &mut [[f32; PACK]]) {
    for (entry, v) in entries.iter_mut().zip(columns) {
        if let Some(lanes) = entry.as_chunks_mut::<LANES>().0.get_mut(block) {
            *lanes = v.to_array();
        }
    }
}

#[cfg(feature = "dense")]
/// Packs `rows` rows of length `depth`, each minus `centre`, *transposed* into tiles of `PACK`
/// rows: tile `q` holds, for each `k < depth`, `row(q·PACK + t)[k] − centre[k]` for `t < PACK`
/// (zero past the last row), so that the rows become the lanes. `packed` holds
/// `tiles(rows)·depth` entries. With rows as points, this is the `B` operand of [`product`] for
/// the point-to-point products and distances. Blocks of 8 rows × 8 values are transposed in
/// registers.
pub(crate) fn pack_transposed_tiles<'r>(
    rows: usize,
    depth: usize,
    row: impl Fn(usize) -> &'r [f32],
    centre: Option<&[f32]>,
    packed: &mut [[f32; PACK]],
) {
    for (q, tile) in packed.chunks_exact_mut(depth.max(1)).enumerate() {
        for block in 0..PACK / LANES {
            let sources = eight_rows(rows, q * PACK + block * LANES, &row);
            for (k0, entries) in (0..depth).step_by(LANES).zip(tile.chunks_mut(LANES)) {
                store_tile_block(&transposed_block(&sources, k0, centre), block, entries);
            }
        }
    }
}

#[cfg(feature = "dense")]
/// [`pack_row_panels`] and [`pack_transposed_tiles`] of the same rows in one pass (each block of
/// 8 rows × 8 values loaded, centred and transposed once, stored in both layouts), for a product
/// of rows with themselves (a Gram matrix); and the squared norm of every centred row into
/// `norms` (`rows` values): `Σ_k (row[k] − centre[k])²` as fused multiply-adds over `k` in
/// order, even and odd `k` in two sums added at the end.
pub(crate) fn pack_panels_and_tiles<'r>(
    rows: usize,
    depth: usize,
    row: impl Fn(usize) -> &'r [f32],
    centre: Option<&[f32]>,
    panels: &mut [[f32; MR]],
    packed: &mut [[f32; PACK]],
    norms: &mut [f32],
) {
    const BLOCKS: usize = PACK / LANES;
    let mut pairs = panels.chunks_mut(depth.max(1).saturating_mul(2));
    let mut norms = norms.chunks_mut(LANES);
    // Every block of every tile (zeros past the last row), and the pair of panels of the same
    // rows while there is one.
    for (q, tile) in packed.chunks_exact_mut(depth.max(1)).enumerate() {
        for block in 0..BLOCKS {
            let sources = eight_rows(rows, (q * BLOCKS + block) * LANES, &row);
            let (low, high) = match pairs.next() {
                Some(pair) => pair.split_at_mut(depth.min(pair.len())),
                None => (&mut [][..], &mut [][..]),
            };
            let (mut even, mut odd) = (F32s::splat(0.0), F32s::splat(0.0));
            for (k0, entries) in (0..depth).step_by(LANES).zip(tile.chunks_mut(LANES)) {
                let columns = transposed_block(&sources, k0, centre);
                store_panel_pair(&columns, k0, low, high);
                store_tile_block(&columns, block, entries);
                for [e, o] in columns.as_chunks::<2>().0 {
                    even = e.mul_add(*e, even);
                    odd = o.mul_add(*o, odd);
                }
            }
            if let Some(out) = norms.next() {
                for (n, s) in out.iter_mut().zip((even + odd).to_array()) {
                    *n = s;
                }
            }
        }
    }
}

#[cfg(feature = "dense")]
/// Packs `rows` rows of length `width`, each minus `centre`, as tiles of `PACK` columns: tile
/// `q` holds, for each row `k < rows`, `row(k)[q·PACK + v] − centre[q·PACK + v]` for
/// `v < PACK` (zero past the last column). `packed` holds `tiles(width)·rows` entries. This is
/// the `B` operand of [`product`] when the reduction runs over the rows (e.g. `Σ_j c_ij y_j`).
pub(crate) fn pack_column_tiles<'r>(
    rows: usize,
    width: usize,
    row: impl Fn(usize) -> &'r [f32],
    centre: Option<&[f32]>,
    packed: &mut [[f32; PACK]],
) {
    let tile_count = tiles(width);
    // Row by row (contiguous reads); the full tiles with whole vectors, the last one through
    // `load_centred`.
    let full = width / PACK;
    let zero = [0.0_f32; PACK];
    for k in 0..rows {
        let source = row(k).get(..width).unwrap_or(&[]);
        let (chunks, _) = source.as_chunks::<PACK>();
        let shifts = centre.map(|c| c.as_chunks::<PACK>().0);
        for q in 0..tile_count {
            let Some(entry) = packed.get_mut(q * rows + k) else {
                continue;
            };
            let shift = shifts.map_or(Some(&zero), |s| s.get(q));
            match (chunks.get(q), shift) {
                (Some(v), Some(c)) if q < full => {
                    let (v8, c8) = (v.as_chunks::<LANES>().0, c.as_chunks::<LANES>().0);
                    for ((o, v), c) in entry.as_chunks_mut::<LANES>().0.iter_mut().zip(v8).zip(c8) {
                        *o = (F32s::new(*v) - F32s::new(*c)).to_array();
                    }
                }
                _ => {
                    for (v, lanes) in entry.as_chunks_mut::<LANES>().0.iter_mut().enumerate() {
                        *lanes = load_centred(source, q * PACK + v * LANES, centre).to_array();
                    }
                }
            }
        }
    }
}

#[cfg(feature = "dense")]
/// `c[i·ldc + j] = Σ_{k < depth} U(a_i[k], b_j[k])` for `i < rows`, `j < columns`: the blocked
/// driver of the micro-kernel over packed operands (`a`: [`pack_row_panels`], `panels(rows)`
/// panels of `depth` entries; `b`: [`pack_transposed_tiles`] or [`pack_column_tiles`],
/// `tiles(columns)` tiles of `depth` rows). Only the `rows × columns` entries of `c` are written.
///
/// Loops: blocks of [`KC`] along the reduction (partial sums added into `c`), blocks of
/// [`MC_PANELS`] panels of `A`, every tile of `B`, every panel of the block: a `B` tile slice is
/// reused from L1 by every panel, an `A` block from L2 by every tile. The arithmetic of each entry
/// (its order of accumulation) depends only on `depth`, never on which rows or columns are
/// computed together, so any split of the rows gives the same bits.
#[allow(clippy::too_many_arguments)]
pub(crate) fn product<U: Update>(
    rows: usize,
    columns: usize,
    depth: usize,
    a: &[[f32; MR]],
    b: &[[f32; PACK]],
    c: &mut [f32],
    ldc: usize,
) {
    product_above::<U>(rows, columns, depth, a, b, c, ldc, None);
}

#[cfg(feature = "dense")]
/// Where the rows of a product are also its first columns (a symmetric block): the global index
/// of the product's first row and the number of leading columns that are those rows.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Symmetric {
    pub(crate) first_row: usize,
    pub(crate) columns: usize,
}

#[cfg(feature = "dense")]
/// [`product`], skipping with `symmetric` every micro-tile that lies wholly below the diagonal of
/// the symmetric block (all its columns before all its rows, within the block's columns): those
/// entries are left unwritten, for the caller to mirror from the computed ones (every entry on
/// or above the diagonal is computed).
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
) {
    let (panel_count, tile_count) = (panels(rows), tiles(columns));
    if depth == 0 {
        for i in 0..rows {
            if let Some(row) = c.get_mut(i * ldc..i * ldc + columns) {
                row.fill(0.0);
            }
        }
        return;
    }
    #[cfg(all(target_arch = "x86_64", not(target_os = "none")))]
    if crate::engine::dispatch::product_above::<U>(rows, columns, depth, a, b, c, ldc, symmetric) {
        return;
    }
    blocked_order(depth, panel_count, tile_count, |(k0, k1), panels, q| {
        let b_block = b.get(q * depth + k0..q * depth + k1).unwrap_or(&[]);
        for p in panels {
            if skipped_below(symmetric, q, p) {
                continue;
            }
            let a_block = a.get(p * depth + k0..p * depth + k1).unwrap_or(&[]);
            // Passes of `TILE` columns over the `PACK`-wide tile. Full passes call the kernel
            // directly, so that its accumulators stay in registers; only the last, narrower one
            // goes through the width dispatch.
            for first in (0..PACK).step_by(TILE) {
                let width = (columns - q * PACK).saturating_sub(first).min(TILE);
                if width == 0 {
                    break;
                }
                let acc = if width == TILE {
                    narrow_kernel::<NR, U, PACK>(a_block, b_block, first)
                } else {
                    kernel_for_columns_with::<U, PACK>(width, a_block, b_block, first)
                };
                let column = q * PACK + first;
                store_micro_tile(c, ldc, p * MR, rows, column, width, &acc, k0 > 0);
            }
        }
    });
}

#[cfg(feature = "dense")]
/// The loop order of [`product`] (and of the run-time kernels, `engine/dispatch.rs`): blocks
/// `(k0, k1)` of [`KC`] along the reduction (partial sums added into `c` in this order, which
/// fixes the bits), blocks of [`MC_PANELS`] panels of `A`, every tile `q` of `B`.
#[inline(always)]
pub(crate) fn blocked_order(
    depth: usize,
    panel_count: usize,
    tile_count: usize,
    mut block: impl FnMut((usize, usize), core::ops::Range<usize>, usize),
) {
    for k0 in (0..depth).step_by(KC) {
        let k1 = (k0 + KC).min(depth);
        for p0 in (0..panel_count).step_by(MC_PANELS) {
            let p1 = (p0 + MC_PANELS).min(panel_count);
            for q in 0..tile_count {
                block((k0, k1), p0..p1, q);
            }
        }
    }
}

#[cfg(feature = "dense")]
/// Whether the micro-tile of panel `p` and tile `q` lies wholly below the diagonal of the
/// symmetric block (all its columns before all its rows, within the block's columns).
#[inline(always)]
pub(crate) fn skipped_below(symmetric: Option<Symmetric>, q: usize, p: usize) -> bool {
    let tile_end = (q + 1) * PACK;
    symmetric.is_some_and(|sym| tile_end <= sym.columns && tile_end <= sym.first_row + p * MR)
}

#[cfg(feature = "dense")]
/// Writes (or adds, when `accumulate`) the valid `rows × width` part of one micro-tile whose first
/// entry is `c[row·ldc + column]`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn store_micro_tile(
    c: &mut [f32],
    ldc: usize,
    row: usize,
    rows: usize,
    column: usize,
    width: usize,
    acc: &Accumulators,
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
        let (full, rest) = dst.as_chunks_mut::<LANES>();
        for (chunk, v) in full.iter_mut().zip(values) {
            let v = if accumulate {
                F32s::new(*chunk) + *v
            } else {
                *v
            };
            *chunk = v.to_array();
        }
        if let Some(v) = values.get(full.len()) {
            for (d, x) in rest.iter_mut().zip(v.to_array()) {
                *d = if accumulate { *d + x } else { x };
            }
        }
    }
}
