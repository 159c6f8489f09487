//! The dense two-axis machinery for high-dimensional points (feature space).
//!
//! The streaming sweep (`sweep.rs`) recomputes `Σ_d (x_d − y_d)²` in every pass, `3D` operations
//! per pair per pass, with lanes over the 8 queries of a block and no register blocking over the
//! coordinates: right for 2D and 3D clouds, wrong for groups of a few hundred points with 64 to
//! 2048 channels, where the whole `N × T` matrix of a problem is tens of kilobytes. Here every
//! distance of a problem is computed **once**, through the matrix-multiply micro-kernel of
//! `gemm.rs` (either as `‖x‖² + ‖y‖² − 2⟨x, y⟩` or in the register-blocked difference form), kept in
//! a caller-owned tile, and reused by the row and column log-sum-exps, the affinities and every
//! temperature; the drift sums `Σ_j c_ij (y_j − x_i)` are one more product of the coefficient
//! tile with the targets.
//!
//! **Cancellation.** The expanded form loses precision when `‖x − y‖² ≪ ‖x‖² + ‖y‖²`. So: every
//! problem is centred first (the targets' mean is subtracted from every point while packing: the
//! drift is translation-invariant), the computed value is accepted only when it is at least
//! [`NEAR_PAIR_RATIO`]` · (‖x‖² + ‖y‖²)` (centred norms), and every other pair — near pairs,
//! duplicates, the self-pairs — is recomputed in the difference form. With `S` channels and
//! `u = 2⁻²⁴`, the rounding error of the expanded value is at most about `(2S + 3)·u·(‖x‖² + ‖y‖²)`
//! (each dot product and norm within `S·u` of its magnitude), so every accepted squared distance
//! is within a relative `(2S + 3)·u / NEAR_PAIR_RATIO ≈ 8·S·u` of the exact value of the (centred)
//! inputs, about eight times the worst-case bound `S·u` of the difference form itself, and clamped
//! at 0 by construction.

use crate::engine::gemm::{
    Dot, LINE_SLACK, MR, PACK, SquaredDifference, Symmetric, line_aligned, pack_column_tiles,
    pack_panels_and_tiles, pack_row_panels, pack_transposed_tiles, panels, product, product_above,
    store_panel_pair, tiles,
};
use crate::engine::simd::{EXCLUDED_LOGIT, F32s, LANES, exp};

/// A squared distance from the expanded form is accepted when it is at least this fraction of
/// `‖x‖² + ‖y‖²` (centred); smaller ones are recomputed in the difference form (see the module
/// documentation for the resulting error bound).
pub const NEAR_PAIR_RATIO: f32 = 0.25;

/// How a dense problem computes its squared distances.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DistanceForm {
    /// `‖x‖² + ‖y‖² − 2⟨x, y⟩` through the matrix-multiply micro-kernel (one fused multiply-add per
    /// pair and channel), on centred points, with near pairs recomputed in the difference form.
    Expanded,
    /// `Σ_d (x_d − y_d)²` through the register-blocked micro-kernel (a subtraction and a fused
    /// multiply-add per pair and channel), no cancellation at all.
    Difference,
}

impl DistanceForm {
    /// The public choice that forces this form.
    pub(crate) fn method(self) -> crate::drift::DistanceMethod {
        match self {
            Self::Expanded => crate::drift::DistanceMethod::Expanded,
            Self::Difference => crate::drift::DistanceMethod::Difference,
        }
    }
}

/// Consecutive blocks of token-major rows (`dim` contiguous values per row) seen as one matrix,
/// e.g. the targets `[generated ; negatives ; positives]` of one group.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rows<'a> {
    parts: [&'a [f32]; 3],
    /// Rows per part.
    counts: [usize; 3],
    dim: usize,
}

impl<'a> Rows<'a> {
    /// The rows of `parts`, in order (each part's length a multiple of `dim`, checked by the caller).
    pub(crate) fn new(parts: [&'a [f32]; 3], dim: usize) -> Self {
        Self {
            parts,
            counts: parts.map(|p| p.len() / dim.max(1)),
            dim,
        }
    }

    /// One block of rows.
    pub(crate) fn single(rows: &'a [f32], dim: usize) -> Self {
        Self::new([rows, &[], &[]], dim)
    }

    /// Number of rows.
    pub(crate) fn len(&self) -> usize {
        self.counts.iter().sum()
    }

    /// Row `j` (empty past the end).
    #[inline]
    pub(crate) fn row(&self, j: usize) -> &'a [f32] {
        let mut j = j;
        for (part, &count) in self.parts.iter().zip(&self.counts) {
            if j < count {
                return part.get(j * self.dim..(j + 1) * self.dim).unwrap_or(&[]);
            }
            j -= count;
        }
        &[]
    }
}

/// `Σ_d (a_d − b_d)²` in the difference form (eight lanes, fixed order).
pub(crate) fn squared_distance(a: &[f32], b: &[f32]) -> f32 {
    let (a8, a_tail) = a.as_chunks::<LANES>();
    let (b8, b_tail) = b.as_chunks::<LANES>();
    let mut acc = F32s::splat(0.0);
    for (x, y) in a8.iter().zip(b8) {
        let d = F32s::new(*x) - F32s::new(*y);
        acc = d.mul_add(d, acc);
    }
    let mut tail = 0.0_f32;
    for (x, y) in a_tail.iter().zip(b_tail) {
        let d = x - y;
        tail += d * d;
    }
    sum_lanes(acc.to_array()) + tail
}

/// The sum of eight partial sums, pairwise.
#[inline(always)]
fn sum_lanes(v: [f32; LANES]) -> f32 {
    let [a, b, c, d, e, f, g, h] = v;
    ((a + b) + (c + d)) + ((e + f) + (g + h))
}

/// The mean of the rows (summed row by row in `f32`): the point every problem is centred on. Its
/// precision does not matter for the result (the drift is translation-invariant and the same
/// centre is subtracted from every point); it only has to lie near the points. Returns whether
/// every value of every row is finite (a sum of `0·v`: zero, or NaN as soon as one value is not
/// finite).
pub(crate) fn mean_row(rows: &Rows<'_>, out: &mut [f32]) -> bool {
    out.fill(0.0);
    let count = rows.len();
    let mut finite = F32s::splat(0.0);
    let mut finite_tail = 0.0_f32;
    for j in 0..count {
        let row = rows.row(j);
        let (o8, o_tail) = out.as_chunks_mut::<LANES>();
        let (r8, r_tail) = row.as_chunks::<LANES>();
        for (o, r) in o8.iter_mut().zip(r8) {
            let r = F32s::new(*r);
            finite += r * F32s::splat(0.0);
            *o = (F32s::new(*o) + r).to_array();
        }
        for (o, r) in o_tail.iter_mut().zip(r_tail) {
            finite_tail += r * 0.0;
            *o += r;
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let inverse = 1.0 / count.max(1) as f32;
    for o in out.iter_mut() {
        *o *= inverse;
    }
    finite.to_array().iter().all(|&v| v == 0.0) && finite_tail == 0.0
}

/// `‖row_j − centre‖²` for every row.
fn centred_square_norms(rows: &Rows<'_>, centre: &[f32], out: &mut [f32]) {
    for (j, o) in out.iter_mut().enumerate() {
        *o = squared_distance(rows.row(j), centre);
    }
}

/// Values of the packed targets for [`squared_distances`]: `tiles(T)·dim` tiles' rows, and `T`
/// norms (and [`LINE_SLACK`] to start the tiles on a cache line).
/// Saturates at `usize::MAX` (a size no buffer reaches, so it never passes a check).
pub(crate) const fn target_pack_len(targets: usize, dim: usize) -> usize {
    tiles(targets)
        .saturating_mul(dim)
        .saturating_mul(PACK)
        .saturating_add(targets)
        .saturating_add(LINE_SLACK)
}

/// Values of [`pack_queries`]' buffer (with [`LINE_SLACK`], as the targets').
/// Saturates at `usize::MAX`.
pub(crate) const fn query_pack_len(queries: usize, dim: usize) -> usize {
    panels(queries)
        .saturating_mul(dim)
        .saturating_mul(MR)
        .saturating_add(queries)
        .saturating_add(LINE_SLACK)
}

/// Points packed for the distance products: centred, grouped `W` to an entry (`MR`-row panels
/// of the queries, `PACK`-point transposed tiles of the targets), with their centred squared
/// norms (expanded form only).
pub(crate) struct PackedPoints<'a, const W: usize> {
    values: &'a [[f32; W]],
    norms: &'a [f32],
    count: usize,
    dim: usize,
}

impl<const W: usize> PackedPoints<'_, W> {
    /// The packed values.
    pub(crate) fn values(&self) -> &[[f32; W]] {
        self.values
    }

    /// Number of points.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// Values per point.
    pub(crate) fn dim(&self) -> usize {
        self.dim
    }
}

/// The queries packed as `MR`-row panels (the `A` operand).
pub(crate) type PackedQueries<'a> = PackedPoints<'a, MR>;
/// The targets packed as transposed tiles of `PACK` points (the `B` operand).
pub(crate) type PackedTargets<'a> = PackedPoints<'a, PACK>;

/// Packs `rows` (centred on `centre`) into the first `entries` `W`-wide entries of `buffer` with
/// `pack`, then their centred norms after them.
fn pack_points<'b, const W: usize>(
    rows: &Rows<'_>,
    centre: &[f32],
    form: DistanceForm,
    entries: usize,
    pack: impl FnOnce(&mut [[f32; W]]),
    buffer: &'b mut [f32],
) -> PackedPoints<'b, W> {
    let (count, dim) = (rows.len(), centre.len());
    let buffer = line_aligned(buffer);
    let (packed, norms) = buffer.split_at_mut((entries * W).min(buffer.len()));
    let packed = packed.as_chunks_mut::<W>().0;
    pack(packed);
    let norms = norms.get_mut(..count).unwrap_or(&mut []);
    if form == DistanceForm::Expanded {
        centred_square_norms(rows, centre, norms);
    }
    PackedPoints {
        values: packed,
        norms,
        count,
        dim,
    }
}

/// Packs `queries` (centred on `centre`) into `buffer` of [`query_pack_len`] values.
pub(crate) fn pack_queries<'b>(
    queries: &Rows<'_>,
    centre: &[f32],
    form: DistanceForm,
    buffer: &'b mut [f32],
) -> PackedQueries<'b> {
    let (count, dim) = (queries.len(), centre.len());
    let pack = |out: &mut [[f32; MR]]| {
        pack_row_panels(count, dim, |i| queries.row(i), Some(centre), out);
    };
    pack_points(queries, centre, form, panels(count) * dim, pack, buffer)
}

/// Packs `targets` (centred on `centre`) into `buffer` of [`target_pack_len`] values.
pub(crate) fn pack_targets<'b>(
    targets: &Rows<'_>,
    centre: &[f32],
    form: DistanceForm,
    buffer: &'b mut [f32],
) -> PackedTargets<'b> {
    let (count, dim) = (targets.len(), centre.len());
    let pack = |out: &mut [[f32; PACK]]| {
        pack_transposed_tiles(count, dim, |j| targets.row(j), Some(centre), out);
    };
    pack_points(targets, centre, form, tiles(count) * dim, pack, buffer)
}

/// Packs `points` (centred on `centre`) as targets (into `target_buffer` of
/// [`target_pack_len`] values) and their first `queries` as queries (into `row_buffer` of
/// [`query_pack_len`]`(queries, dim)`), for products of points with themselves (a Gram matrix,
/// or the self block of a drift whose negatives are its queries, listed first among its
/// targets): one pass over the points, each block loaded and transposed once; the norms of the
/// expanded form are summed in the same pass (`pack_panels_and_tiles`: over the values in order,
/// in two interleaved sums) instead of by [`squared_distance`]. The query panels' padding rows
/// (past `queries`, up to the next multiple of `MR`) hold the next points instead of zeros; no
/// result reads them.
pub(crate) fn pack_both<'q, 't>(
    points: &Rows<'_>,
    queries: usize,
    centre: &[f32],
    row_buffer: &'q mut [f32],
    target_buffer: &'t mut [f32],
) -> (PackedQueries<'q>, PackedTargets<'t>) {
    let (count, dim) = (points.len(), centre.len());
    let queries = queries.min(count);
    let (row_buffer, target_buffer) = (line_aligned(row_buffer), line_aligned(target_buffer));
    let (panel_values, row_norms) =
        row_buffer.split_at_mut((panels(queries) * dim * MR).min(row_buffer.len()));
    let (tile_values, target_norms) =
        target_buffer.split_at_mut((tiles(count) * dim * PACK).min(target_buffer.len()));
    let row_norms = row_norms.get_mut(..queries).unwrap_or(&mut []);
    let target_norms = target_norms.get_mut(..count).unwrap_or(&mut []);
    let panel_values = panel_values.as_chunks_mut::<MR>().0;
    let tile_values = tile_values.as_chunks_mut::<PACK>().0;
    pack_panels_and_tiles(
        count,
        dim,
        |i| points.row(i),
        Some(centre),
        panel_values,
        tile_values,
        target_norms,
    );
    for (r, t) in row_norms.iter_mut().zip(target_norms.iter()) {
        *r = *t;
    }
    (
        PackedPoints {
            values: panel_values,
            norms: row_norms,
            count: queries,
            dim,
        },
        PackedPoints {
            values: tile_values,
            norms: target_norms,
            count,
            dim,
        },
    )
}

/// Squared distances between the query rows `first..first + count` (`first` a multiple of
/// `MR`) and every packed target, written to `out` (row `i − first` at `out[(i − first)·ld ..]`,
/// `T` values per row). Returns the number of pairs the expanded form recomputed in the
/// difference form.
///
/// Cost: `count·T·dim` fused multiply-adds (expanded) or twice that (difference), plus `3·dim`
/// per recomputed pair.
#[allow(clippy::too_many_arguments)]
pub(crate) fn squared_distances(
    form: DistanceForm,
    queries: &PackedQueries<'_>,
    queries_rows: &Rows<'_>,
    first: usize,
    count: usize,
    targets: &PackedTargets<'_>,
    targets_rows: &Rows<'_>,
    out: &mut [f32],
    ld: usize,
) -> usize {
    distance_products(form, queries, first, count, targets, out, ld, None);
    distance_epilogue(
        form,
        queries,
        queries_rows,
        first,
        count,
        targets,
        targets_rows,
        out,
        ld,
    )
}

/// The products of [`squared_distances`] alone (dot products for the expanded form, squared
/// differences for the other), skipping with `symmetric` the micro-tiles wholly below the
/// diagonal of the block where the targets' first `symmetric.columns` rows are the queries
/// (for [`mirror_lower`] to fill).
#[allow(clippy::too_many_arguments)]
pub(crate) fn distance_products(
    form: DistanceForm,
    queries: &PackedQueries<'_>,
    first: usize,
    count: usize,
    targets: &PackedTargets<'_>,
    out: &mut [f32],
    ld: usize,
    symmetric: Option<Symmetric>,
) {
    let dim = queries.dim;
    let panel_values = first / MR * dim;
    let packed = queries
        .values
        .get(panel_values..panel_values + panels(count) * dim)
        .unwrap_or(&[]);
    let t = targets.count;
    match form {
        DistanceForm::Difference => product_above::<SquaredDifference>(
            count,
            t,
            dim,
            packed,
            targets.values,
            out,
            ld,
            symmetric,
        ),
        DistanceForm::Expanded => {
            product_above::<Dot>(count, t, dim, packed, targets.values, out, ld, symmetric);
        }
    }
}

/// Turns the dot products of [`distance_products`] into squared distances (expanded form only:
/// `‖x‖² + ‖y‖² − 2⟨x, y⟩`, recomputed in the difference form below [`NEAR_PAIR_RATIO`]);
/// returns the number of recomputed pairs.
#[allow(clippy::too_many_arguments)]
pub(crate) fn distance_epilogue(
    form: DistanceForm,
    queries: &PackedQueries<'_>,
    queries_rows: &Rows<'_>,
    first: usize,
    count: usize,
    targets: &PackedTargets<'_>,
    targets_rows: &Rows<'_>,
    out: &mut [f32],
    ld: usize,
) -> usize {
    if form == DistanceForm::Difference {
        return 0;
    }
    let t = targets.count;
    let norms = queries.norms.get(first..first + count).unwrap_or(&[]);
    let ratio = F32s::splat(NEAR_PAIR_RATIO);
    let two = F32s::splat(2.0);
    let mut recomputed = 0;
    for (i, &nx) in norms.iter().enumerate() {
        let Some(row) = out.get_mut(i * ld..i * ld + t) else {
            continue;
        };
        let nx_v = F32s::splat(nx);
        let (row8, row_tail) = row.as_chunks_mut::<LANES>();
        let (ny8, ny_tail) = targets.norms.as_chunks::<LANES>();
        for (k, (chunk, ny)) in row8.iter_mut().zip(ny8).enumerate() {
            let scale = nx_v + F32s::new(*ny);
            let expanded = two.mul_neg_add(F32s::new(*chunk), scale);
            let near = expanded.simd_lt(ratio * scale);
            *chunk = expanded.to_array();
            if near.any() {
                for (l, value) in chunk.iter_mut().enumerate() {
                    if near.to_array().get(l).is_some_and(|&m| m != 0.0) {
                        recomputed += 1;
                        *value = squared_distance(
                            queries_rows.row(first + i),
                            targets_rows.row(k * LANES + l),
                        );
                    }
                }
            }
        }
        let tail_start = row8.len() * LANES;
        for (l, (value, &ny)) in row_tail.iter_mut().zip(ny_tail).enumerate() {
            let scale = nx + ny;
            let expanded = scale - 2.0 * *value;
            *value = if expanded >= NEAR_PAIR_RATIO * scale {
                expanded
            } else {
                recomputed += 1;
                squared_distance(
                    queries_rows.row(first + i),
                    targets_rows.row(tail_start + l),
                )
            };
        }
    }
    recomputed
}

/// Fills the strict lower triangle of the leading `rows × columns` block of `tile` (row stride
/// `ld`) from its upper triangle, `tile[i][j] = tile[j][i]` for `j < i`, in 8 × 8 blocks
/// transposed in registers (the entries [`distance_products`] skipped).
pub(crate) fn mirror_lower(tile: &mut [f32], ld: usize, rows: usize, columns: usize) {
    for bi in (0..rows).step_by(LANES) {
        for bj in (0..columns.min(bi + 1)).step_by(LANES) {
            if bj == bi {
                // A diagonal block: entry by entry.
                for i in bi..(bi + LANES).min(rows) {
                    for j in bj..i.min(columns) {
                        let v = tile.get(j * ld + i).copied().unwrap_or(0.0);
                        if let Some(slot) = tile.get_mut(i * ld + j) {
                            *slot = v;
                        }
                    }
                }
                continue;
            }
            let source: [F32s; LANES] = core::array::from_fn(|k| {
                let start = (bj + k) * ld + bi;
                load(tile, start, start + (rows - bi).min(LANES), 0.0)
            });
            let lower = F32s::transpose(source);
            for (l, v) in lower.iter().enumerate().take(rows - bi) {
                let start = (bi + l) * ld + bj;
                let width = (columns - bj).min(LANES);
                if let Some(dst) = tile.get_mut(start..start + width) {
                    for (o, x) in dst.iter_mut().zip(v.to_array()) {
                        *o = x;
                    }
                }
            }
        }
    }
}

/// `values[offset..offset + 8]` as a vector, with `fill` in the lanes at or past `end`.
#[inline(always)]
pub(crate) fn load(values: &[f32], offset: usize, end: usize, fill: f32) -> F32s {
    if offset + LANES <= end
        && let Some(chunk) = values.get(offset..).and_then(|v| v.first_chunk::<LANES>())
    {
        return F32s::new(*chunk);
    }
    F32s::new(core::array::from_fn(|k| {
        if offset + k < end {
            values.get(offset + k).copied().unwrap_or(fill)
        } else {
            fill
        }
    }))
}

/// The logits `scale · values[offset..offset + 8]`, [`EXCLUDED_LOGIT`] in the lanes at or past
/// `end` (so that they take no part in a log-sum-exp).
#[inline(always)]
fn load_logits(values: &[f32], offset: usize, end: usize, scale: F32s) -> F32s {
    if offset + LANES <= end {
        load(values, offset, end, 0.0) * scale
    } else {
        let valid = lane_index(offset).simd_lt(F32s::splat(index_f32(end)));
        valid.select(
            load(values, offset, end, 0.0) * scale,
            F32s::splat(EXCLUDED_LOGIT),
        )
    }
}

/// `[offset, offset + 1, …, offset + 7]` as floats (exact below 2^24).
#[inline(always)]
fn lane_index(offset: usize) -> F32s {
    const INDEX: [f32; LANES] = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];
    F32s::new(INDEX) + F32s::splat(index_f32(offset))
}

#[inline(always)]
fn index_f32(i: usize) -> f32 {
    #[allow(clippy::cast_precision_loss)]
    let v = i as f32;
    v
}

/// `ln Σ_j exp(s·v_j)` over one row of `values` (the logits are `s·v`), with a running maximum.
pub(crate) fn row_log_sum_exp(values: &[f32], scale: f32) -> f32 {
    let scale_v = F32s::splat(scale);
    let end = values.len();
    // The maximum in four independent chains (a maximum does not depend on the order).
    let mut maxes = [F32s::splat(EXCLUDED_LOGIT); 4];
    let mut offset = 0;
    while offset + 4 * LANES <= end {
        for (j, m) in maxes.iter_mut().enumerate() {
            *m = m.fast_max(load_logits(values, offset + j * LANES, end, scale_v));
        }
        offset += 4 * LANES;
    }
    while offset < end {
        maxes[0] = maxes[0].fast_max(load_logits(values, offset, end, scale_v));
        offset += LANES;
    }
    let [a, b, c, d] = maxes;
    let max = a.fast_max(b).fast_max(c.fast_max(d));
    let m = max.to_array().iter().fold(EXCLUDED_LOGIT, |a, &b| a.max(b));
    let m_v = F32s::splat(m);
    // Two chains: the exponentials of neighbouring vectors overlap.
    let (mut even, mut odd) = (F32s::splat(0.0), F32s::splat(0.0));
    let mut offset = 0;
    while offset + 2 * LANES <= end {
        even += exp(load_logits(values, offset, end, scale_v) - m_v);
        odd += exp(load_logits(values, offset + LANES, end, scale_v) - m_v);
        offset += 2 * LANES;
    }
    while offset < end {
        even += exp(load_logits(values, offset, end, scale_v) - m_v);
        offset += LANES;
    }
    m + libm::logf(sum_lanes((even + odd).to_array()))
}

/// Folds `rows` rows of the tile `values` (row stride `ld`, `max.len()` columns, logits
/// `scale·v`) into per-column streaming log-sum-exps: running maxima `max[j]` and shifted sums
/// `sum[j] = Σ exp(l_ij − max[j])`. Eight columns at a time: the block's maximum first, one
/// rescale of the running sum, then one `exp` per value.
pub(crate) fn absorb_columns(
    values: &[f32],
    rows: usize,
    ld: usize,
    scale: f32,
    max: &mut [f32],
    sum: &mut [f32],
) {
    let scale_v = F32s::splat(scale);
    let columns = max.len().min(sum.len());
    let mut j0 = 0;
    while j0 + 4 * LANES <= columns {
        absorb_strips::<4>(values, rows, ld, scale_v, j0, max, sum);
        j0 += 4 * LANES;
    }
    while j0 < columns {
        absorb_strips::<1>(values, rows, ld, scale_v, j0, max, sum);
        j0 += LANES;
    }
}

/// [`absorb_columns`] for the `S` strips of eight columns from `j0`, side by side (independent
/// chains; each column still sees its rows in order, so the bits do not depend on `S`).
#[inline(always)]
fn absorb_strips<const S: usize>(
    values: &[f32],
    rows: usize,
    ld: usize,
    scale: F32s,
    j0: usize,
    max: &mut [f32],
    sum: &mut [f32],
) {
    let columns = max.len();
    let mut block_max = [F32s::splat(EXCLUDED_LOGIT); S];
    for i in 0..rows {
        for (s, m) in block_max.iter_mut().enumerate() {
            let j = j0 + s * LANES;
            *m = m.fast_max(load_logits(values, i * ld + j, i * ld + columns, scale));
        }
    }
    let mut new_max = block_max;
    let mut total = [F32s::splat(0.0); S];
    for (s, (m, t)) in new_max.iter_mut().zip(total.iter_mut()).enumerate() {
        let j = j0 + s * LANES;
        let old_max = load(max, j, columns, EXCLUDED_LOGIT);
        *m = old_max.fast_max(*m);
        *t = load(sum, j, columns, 0.0) * exp(old_max - *m);
    }
    for i in 0..rows {
        for (s, (t, m)) in total.iter_mut().zip(&new_max).enumerate() {
            let j = j0 + s * LANES;
            *t += exp(load_logits(values, i * ld + j, i * ld + columns, scale) - *m);
        }
    }
    for (s, (m, t)) in new_max.iter().zip(&total).enumerate() {
        let j = j0 + s * LANES;
        let width = columns.saturating_sub(j).min(LANES);
        let (m, t) = (m.to_array(), t.to_array());
        if let Some(slots) = max.get_mut(j..j + width) {
            slots.copy_from_slice(m.get(..width).unwrap_or(&[]));
        }
        if let Some(slots) = sum.get_mut(j..j + width) {
            slots.copy_from_slice(t.get(..width).unwrap_or(&[]));
        }
    }
}

/// Merges streaming column log-sum-exps (`max`, `sum` as left by [`absorb_columns`]) into
/// `total_max`, `total_sum`.
pub(crate) fn merge_columns(
    max: &[f32],
    sum: &[f32],
    total_max: &mut [f32],
    total_sum: &mut [f32],
) {
    for (((m, s), tm), ts) in max
        .chunks(LANES)
        .zip(sum.chunks(LANES))
        .zip(total_max.chunks_mut(LANES))
        .zip(total_sum.chunks_mut(LANES))
    {
        let (m, s) = (
            load(m, 0, m.len(), EXCLUDED_LOGIT),
            load(s, 0, s.len(), 0.0),
        );
        let old = load(tm, 0, tm.len(), EXCLUDED_LOGIT);
        let new = old.fast_max(m);
        let total = load(ts, 0, ts.len(), 0.0) * exp(old - new) + s * exp(m - new);
        for (slot, v) in tm.iter_mut().zip(new.to_array()) {
            *slot = v;
        }
        for (slot, v) in ts.iter_mut().zip(total.to_array()) {
            *slot = v;
        }
    }
}

/// `c_j = ln Σ_i exp(s·v_ij)` for the columns of the `rows × out.len()` tile `values` (row stride
/// `ld`); `sum` is scratch of `out.len()` values.
pub(crate) fn column_log_sum_exp(
    values: &[f32],
    rows: usize,
    ld: usize,
    scale: f32,
    out: &mut [f32],
    sum: &mut [f32],
) {
    out.fill(EXCLUDED_LOGIT);
    sum.fill(0.0);
    absorb_columns(values, rows, ld, scale, out, sum);
    for (o, s) in out.iter_mut().zip(sum.iter()) {
        *o += libm::logf(*s);
    }
}

/// How the affinities of a two-axis problem become drift coefficients.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Affinities<'a> {
    /// Logit of a pair: `scale · v_ij`.
    pub(crate) scale: f32,
    /// `½ ln(floor)`: affinities are `exp(max(l − r/2 − c/2, this))` (official floor `1e-6`).
    pub(crate) floor_logit: Option<f32>,
    /// Column weights `w_j` multiplying the affinities (`None`: 1).
    pub(crate) weights: Option<&'a [f32]>,
    /// Targets `0..negative_columns` are negatives, the rest positives.
    pub(crate) negative_columns: usize,
}

/// `exp(max(s·v + half_row + half_column, floor)) · w` for eight columns from `offset`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn affinity_of(
    values: F32s,
    offset: usize,
    end: usize,
    scale: F32s,
    half_row: F32s,
    half_columns: &[f32],
    floor: Option<F32s>,
    weights: Option<&[f32]>,
) -> F32s {
    let mut e = values.mul_add(scale, half_row) + load(half_columns, offset, end, 0.0);
    if let Some(floor) = floor {
        e = e.fast_max(floor);
    }
    let a = exp(e);
    match weights {
        Some(w) => a * load(w, offset, end, 0.0),
        None => a,
    }
}

/// Adds the affinities `a` of the columns `offset..offset + 8` to the negatives' sums (columns
/// below `split`) and the positives' (the others), lane by lane.
#[inline(always)]
fn add_split(a: F32s, offset: usize, split: usize, negatives: &mut F32s, positives: &mut F32s) {
    if offset + LANES <= split {
        *negatives += a;
    } else if offset >= split {
        *positives += a;
    } else {
        let zero = F32s::splat(0.0);
        let negative = lane_index(offset).simd_lt(F32s::splat(index_f32(split)));
        *negatives += negative.select(a, zero);
        *positives += negative.select(zero, a);
    }
}

/// [`coefficient_row`] for the `count` rows of `tile` (row stride `ld`, one column per entry of
/// `half_columns`), written straight into the row panels of their product with the targets (the
/// layout of [`pack_row_panels`]) instead of back into the tile: eight rows at a time, their
/// affinities transposed in registers, then each panel scaled by its rows' factors `−S+_i` and
/// `S−_i` while it sits in L2. The tile is only read (the in-place coefficients and the packing
/// pass cost a write-back of the whole tile and one more read of it). `half_row(i)` is
/// `−r_i/2`; the rows' sums `Σ_j c_ij` go to `totals`. The affinities and `S±_i` have the bits
/// of [`coefficient_row`]'s when the row length is a multiple of eight; the totals are summed in
/// another order.
#[allow(clippy::too_many_arguments)]
pub(crate) fn coefficient_panels(
    tile: &[f32],
    ld: usize,
    count: usize,
    half_row: impl Fn(usize) -> f32,
    half_columns: &[f32],
    rule: &Affinities<'_>,
    totals: &mut [f32],
    packed: &mut [[f32; MR]],
) {
    const { assert!(LANES == 2 * MR) };
    let t = half_columns.len();
    let zero = F32s::splat(0.0);
    let scale = F32s::splat(rule.scale);
    let split = rule.negative_columns.min(t);
    let end_v = F32s::splat(index_f32(t));
    let floor = rule.floor_logit.map(F32s::splat);
    for (pair, panels) in packed.chunks_mut(t.max(1).saturating_mul(2)).enumerate() {
        let first = pair * LANES;
        if first >= count {
            break;
        }
        let live = (count - first).min(LANES);
        let rows: [&[f32]; LANES] = core::array::from_fn(|r| {
            if r < live {
                let start = (first + r) * ld;
                tile.get(start..start + t).unwrap_or(&[])
            } else {
                &[]
            }
        });
        let half: [F32s; LANES] =
            core::array::from_fn(|r| F32s::splat(if r < live { half_row(first + r) } else { 0.0 }));
        let (mut s_neg, mut s_pos) = ([zero; LANES], [zero; LANES]);
        let (low, high) = panels.split_at_mut(t.min(panels.len()));
        for k0 in (0..t).step_by(LANES) {
            let mut block = [zero; LANES];
            for (((slot, row), &half), (neg, pos)) in block
                .iter_mut()
                .zip(&rows)
                .zip(&half)
                .zip(s_neg.iter_mut().zip(s_pos.iter_mut()))
                .take(live)
            {
                let mut a = affinity_of(
                    load(row, k0, t, 0.0),
                    k0,
                    t,
                    scale,
                    half,
                    half_columns,
                    floor,
                    rule.weights,
                );
                if k0 + LANES > t {
                    a = lane_index(k0).simd_lt(end_v).select(a, zero);
                }
                add_split(a, k0, split, neg, pos);
                *slot = a;
            }
            store_panel_pair(&F32s::transpose(block), k0, low, high);
        }
        for (base, panel) in [(0, low), (MR, high)] {
            let factors = |sums: &[F32s; LANES], sign: f32| -> [f32; MR] {
                core::array::from_fn(|r| {
                    sums.get(base + r)
                        .map_or(0.0, |v| sign * sum_lanes(v.to_array()))
                })
            };
            let (negatives, positives) = panel.split_at_mut(split.min(panel.len()));
            let neg = scale_panel(negatives, factors(&s_pos, -1.0));
            let pos = scale_panel(positives, factors(&s_neg, 1.0));
            for (r, (n, p)) in neg
                .iter()
                .zip(&pos)
                .enumerate()
                .take(live.saturating_sub(base))
            {
                if let Some(slot) = totals.get_mut(first + base + r) {
                    *slot = n + p;
                }
            }
        }
    }
}

/// Multiplies every entry of a row panel by its row's factor; returns each row's sum of the
/// products (two entries per vector, two vectors in flight).
fn scale_panel(entries: &mut [[f32; MR]], factors: [f32; MR]) -> [f32; MR] {
    let factor = |k: usize| factors.get(k % MR).copied().unwrap_or(0.0);
    let f = F32s::new(core::array::from_fn(factor));
    let (chunks, tail) = entries.as_flattened_mut().as_chunks_mut::<LANES>();
    let (mut even, mut odd) = (F32s::splat(0.0), F32s::splat(0.0));
    let (pairs, last) = chunks.as_chunks_mut::<2>();
    for [c0, c1] in pairs {
        let (v0, v1) = (F32s::new(*c0) * f, F32s::new(*c1) * f);
        even += v0;
        odd += v1;
        *c0 = v0.to_array();
        *c1 = v1.to_array();
    }
    for c in last {
        let v = F32s::new(*c) * f;
        even += v;
        *c = v.to_array();
    }
    let lanes = (even + odd).to_array();
    let (low, high) = lanes.split_at(MR);
    let mut total = [0.0_f32; MR];
    for ((t, l), h) in total.iter_mut().zip(low).zip(high) {
        *t = l + h;
    }
    // The tail is one entry (`MR` values) or none.
    for (k, (v, t)) in tail.iter_mut().zip(total.iter_mut()).enumerate() {
        *v *= factor(k);
        *t += *v;
    }
    total
}

/// The coefficients of one query row, in place of its values `v_ij`: with `A_ij = exp(max(s·v_ij − r_i/2 − c_j/2, floor)) · w_j`,
/// `S−_i = Σ_{j neg} A_ij`, `S+_i = Σ_{j pos} A_ij`, writes `coefficients[j] = −A_ij S+_i`
/// (negatives) or `A_ij S−_i` (positives) and returns their sum (zero up to rounding), so that
/// `V_i = Σ_j c_ij y_j − (Σ_j c_ij) x_i` (the method's Algorithm 2).
pub(crate) fn coefficient_row(
    row: &mut [f32],
    half_row: f32,
    half_columns: &[f32],
    rule: &Affinities<'_>,
) -> f32 {
    let end = row.len();
    let scale = F32s::splat(rule.scale);
    let half_row = F32s::splat(half_row);
    let split = rule.negative_columns.min(end);
    let split_v = F32s::splat(index_f32(split));
    let floor = rule.floor_logit.map(F32s::splat);
    // Affinity of eight columns from their values (lanes past the row's end are zero).
    let affinity = |values: F32s, offset: usize| -> F32s {
        affinity_of(
            values,
            offset,
            end,
            scale,
            half_row,
            half_columns,
            floor,
            rule.weights,
        )
    };
    let (mut s_neg, mut s_pos) = (F32s::splat(0.0), F32s::splat(0.0));
    let (full, tail) = row.as_chunks_mut::<LANES>();
    for (k, chunk) in full.iter_mut().enumerate() {
        let offset = k * LANES;
        let a = affinity(F32s::new(*chunk), offset);
        add_split(a, offset, split, &mut s_neg, &mut s_pos);
        *chunk = a.to_array();
    }
    let tail_offset = full.len() * LANES;
    if !tail.is_empty() {
        let a = affinity(load(tail, 0, tail.len(), 0.0), tail_offset).to_array();
        for (k, (slot, a)) in tail.iter_mut().zip(a).enumerate() {
            *slot = a;
            if tail_offset + k < split {
                s_neg += F32s::new(core::array::from_fn(|l| if l == 0 { a } else { 0.0 }));
            } else {
                s_pos += F32s::new(core::array::from_fn(|l| if l == 0 { a } else { 0.0 }));
            }
        }
    }
    let s_neg = sum_lanes(s_neg.to_array());
    let s_pos = sum_lanes(s_pos.to_array());
    let (neg_factor, pos_factor) = (F32s::splat(-s_pos), F32s::splat(s_neg));
    let mut total = F32s::splat(0.0);
    let (full, tail) = row.as_chunks_mut::<LANES>();
    for (k, chunk) in full.iter_mut().enumerate() {
        let offset = k * LANES;
        let factor = if offset + LANES <= split {
            neg_factor
        } else if offset >= split {
            pos_factor
        } else {
            lane_index(offset)
                .simd_lt(split_v)
                .select(neg_factor, pos_factor)
        };
        let c = F32s::new(*chunk) * factor;
        total += c;
        *chunk = c.to_array();
    }
    let mut tail_total = 0.0_f32;
    for (k, slot) in tail.iter_mut().enumerate() {
        *slot *= if tail_offset + k < split {
            -s_pos
        } else {
            s_neg
        };
        tail_total += *slot;
    }
    sum_lanes(total.to_array()) + tail_total
}

/// The targets packed for the drift sums: centred, in tiles of `PACK` channels.
pub(crate) struct PackedChannels<'a> {
    tiles: &'a [[f32; PACK]],
    count: usize,
}

/// Values of [`pack_channels`]' buffer.
/// Saturates at `usize::MAX`.
pub(crate) const fn channel_pack_len(targets: usize, dim: usize) -> usize {
    tiles(dim)
        .saturating_mul(targets)
        .saturating_mul(PACK)
        .saturating_add(LINE_SLACK)
}

/// Packs the centred targets in tiles of `PACK` channels (the `B` operand of [`drift_sums`]).
pub(crate) fn pack_channels<'b>(
    targets: &Rows<'_>,
    centre: &[f32],
    buffer: &'b mut [f32],
) -> PackedChannels<'b> {
    let count = targets.len();
    let packed = line_aligned(buffer).as_chunks_mut::<PACK>().0;
    pack_column_tiles(
        count,
        centre.len(),
        |j| targets.row(j),
        Some(centre),
        packed,
    );
    PackedChannels {
        tiles: packed,
        count,
    }
}

/// `F_i = Σ_j c_ij (y_j − c) − (Σ_j c_ij)(x_i − c)` for the query rows `first..first + count`
/// (centre `c`), from the coefficient rows (`coefficients[(i − first)·ld_c + j]`) and their sums:
/// one product of the coefficient tile with the targets. Writes `F` row-major (`out[(i − first)·
/// dim ..]`). `buffer` holds `panels(count)·T·MR` values. With `row_sums` empty the displacement
/// term is left out: `F_i = Σ_j c_ij (y_j − c)`, for coefficients that already hold it in the
/// query's own column (the queries among the targets).
#[allow(clippy::too_many_arguments)]
pub(crate) fn drift_sums(
    queries: &Rows<'_>,
    first: usize,
    count: usize,
    coefficients: &[f32],
    ld_c: usize,
    row_sums: &[f32],
    targets: &PackedChannels<'_>,
    centre: &[f32],
    buffer: &mut [f32],
    out: &mut [f32],
) {
    let t = targets.count;
    let packed = buffer.as_chunks_mut::<MR>().0;
    pack_row_panels(
        count,
        t,
        |i| coefficients.get(i * ld_c..i * ld_c + t).unwrap_or(&[]),
        None,
        packed,
    );
    packed_drift_sums(
        queries, first, count, packed, row_sums, targets, centre, out,
    );
}

/// [`drift_sums`] from coefficients already in row panels ([`coefficient_panels`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn packed_drift_sums(
    queries: &Rows<'_>,
    first: usize,
    count: usize,
    packed: &[[f32; MR]],
    row_sums: &[f32],
    targets: &PackedChannels<'_>,
    centre: &[f32],
    out: &mut [f32],
) {
    let (dim, t) = (centre.len(), targets.count);
    product::<Dot>(count, dim, t, packed, targets.tiles, out, dim);
    for (i, &total) in row_sums.iter().enumerate().take(count) {
        let x = queries.row(first + i);
        if let Some(row) = out.get_mut(i * dim..(i + 1) * dim) {
            for ((f, &x), &c) in row.iter_mut().zip(x).zip(centre) {
                *f -= total * (x - c);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    extern crate std;
    use super::{
        Affinities, MR, PACK, absorb_columns, coefficient_panels, coefficient_row, mirror_lower,
        pack_panels_and_tiles, pack_row_panels, pack_transposed_tiles, panels, row_log_sum_exp,
        tiles,
    };
    use crate::engine::simd::EXCLUDED_LOGIT;
    use std::vec::Vec;

    /// Deterministic values in `[-1, 1)` (a linear congruential sequence).
    fn values(len: usize, seed: u64) -> Vec<f32> {
        let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect()
    }

    /// The one-pass packing of the Gram path (`pack_panels_and_tiles`) against the two packings
    /// it replaces: the same panels and tiles bit for bit (zeros past the last row), for row
    /// counts around the 8-row blocks and the 48-row tiles and depths around the 8-value blocks;
    /// the norms of the centred rows within `2·depth·2⁻²⁴` relative of an `f64` sum.
    #[test]
    fn panels_and_tiles_in_one_pass_match_the_two_packings() {
        for (rows, depth) in [
            (1, 1),
            (3, 7),
            (8, 8),
            (13, 37),
            (48, 16),
            (50, 100),
            (144, 64),
        ] {
            let data = values(rows * depth, (rows * 1000 + depth) as u64);
            let centre: Vec<f32> = values(depth, 7).iter().map(|v| 0.1 * v).collect();
            let row = |i: usize| &data[i * depth..(i + 1) * depth];
            let mut panels_two = std::vec![[f32::NAN; MR]; panels(rows) * depth];
            let mut tiles_two = std::vec![[f32::NAN; PACK]; tiles(rows) * depth];
            pack_row_panels(rows, depth, row, Some(&centre), &mut panels_two);
            pack_transposed_tiles(rows, depth, row, Some(&centre), &mut tiles_two);
            let mut panels_one = std::vec![[f32::NAN; MR]; panels(rows) * depth];
            let mut tiles_one = std::vec![[f32::NAN; PACK]; tiles(rows) * depth];
            let mut norms = std::vec![f32::NAN; rows];
            pack_panels_and_tiles(
                rows,
                depth,
                row,
                Some(&centre),
                &mut panels_one,
                &mut tiles_one,
                &mut norms,
            );
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(panels_one.as_flattened()),
                bits(panels_two.as_flattened()),
                "panels, {rows} × {depth}"
            );
            assert_eq!(
                bits(tiles_one.as_flattened()),
                bits(tiles_two.as_flattened()),
                "tiles, {rows} × {depth}"
            );
            for (i, &n) in norms.iter().enumerate() {
                let exact: f64 = row(i)
                    .iter()
                    .zip(&centre)
                    .map(|(&v, &c)| (f64::from(v) - f64::from(c)).powi(2))
                    .sum();
                let bound = 2.0 * depth as f64 * exact * f64::from(f32::EPSILON) / 2.0;
                assert!(
                    (f64::from(n) - exact).abs() <= bound,
                    "norm {i} of {rows} × {depth}: {n} against {exact}"
                );
            }
        }
    }

    /// The fused coefficients (`coefficient_panels`) against `coefficient_row` then
    /// `pack_row_panels`, for row and column counts around the 8-row groups and 8-lane vectors,
    /// with and without column weights and floor: the same panel entries (bit for bit when the
    /// row length is a multiple of 8, else to 1e-6 of the row's largest coefficient: the split
    /// sums then add the tail lanes in another order) and the same row totals to 1e-6 of it.
    #[test]
    fn coefficient_panels_match_coefficients_then_packing() {
        for (count, t, negatives) in [(1, 1, 0), (3, 7, 2), (8, 16, 8), (13, 37, 10), (21, 64, 40)]
        {
            for weighted in [false, true] {
                let ld = t + 3;
                let tile = values(count * ld, (count * 100 + t) as u64);
                let half_rows = values(count, 7);
                let half_columns: Vec<f32> = values(t, 11).iter().map(|v| v - 0.5).collect();
                let weights: Vec<f32> = values(t, 13).iter().map(|v| v.abs()).collect();
                let rule = Affinities {
                    scale: -2.5,
                    floor_logit: weighted.then_some(-1.2),
                    weights: weighted.then_some(&weights[..]),
                    negative_columns: negatives,
                };
                // Reference: coefficients in place, then packed.
                let mut rows: Vec<f32> = Vec::new();
                let mut totals_ref = Vec::new();
                for i in 0..count {
                    let mut row = tile[i * ld..i * ld + t].to_vec();
                    totals_ref.push(coefficient_row(
                        &mut row,
                        half_rows[i],
                        &half_columns,
                        &rule,
                    ));
                    rows.extend(row);
                }
                let panels = count.div_ceil(MR).div_ceil(2) * 2;
                let mut want = std::vec![[0.0_f32; MR]; panels * t];
                pack_row_panels(count, t, |i| &rows[i * t..(i + 1) * t], None, &mut want);
                let mut got = std::vec![[f32::NAN; MR]; panels * t];
                let mut totals = std::vec![f32::NAN; count];
                coefficient_panels(
                    &tile,
                    ld,
                    count,
                    |i| half_rows[i],
                    &half_columns,
                    &rule,
                    &mut totals,
                    &mut got,
                );
                let largest = rows.iter().fold(0.0_f32, |m, v| m.max(v.abs()));
                for i in 0..count {
                    for k in 0..t {
                        let (p, r) = (i / MR, i % MR);
                        let (g, w) = (got[p * t + k][r], want[p * t + k][r]);
                        if t % 8 == 0 {
                            assert_eq!(g.to_bits(), w.to_bits(), "{count}×{t} ({i}, {k})");
                        } else {
                            assert!((g - w).abs() <= 1e-6 * largest, "{count}×{t} ({i}, {k})");
                        }
                    }
                    assert!(
                        (totals[i] - totals_ref[i]).abs() <= 1e-6 * largest * t as f32,
                        "{count}×{t} row {i}: {} vs {}",
                        totals[i],
                        totals_ref[i]
                    );
                }
            }
        }
    }

    /// The log-sum-exps against `f64`, for lengths around the vectors and the unrolled loops,
    /// and the column partials (`absorb_columns` over two blocks of rows) against the `f64` sum
    /// of every column: four strips at a time or one, every column sees its rows in order.
    #[test]
    fn log_sum_exps_match_f64() {
        for len in [1, 7, 8, 15, 16, 17, 31, 32, 33, 100] {
            let row: Vec<f32> = values(len, len as u64).iter().map(|v| 30.0 * v).collect();
            let m = row
                .iter()
                .fold(f64::NEG_INFINITY, |m, &v| m.max(f64::from(v) * 0.5));
            let want = m + row
                .iter()
                .map(|&v| (f64::from(v) * 0.5 - m).exp())
                .sum::<f64>()
                .ln();
            let got = f64::from(row_log_sum_exp(&row, 0.5));
            assert!(
                (got - want).abs() <= 1e-5 * want.abs().max(1.0),
                "{len}: {got} vs {want}"
            );
        }
        for columns in [1, 8, 9, 32, 33, 70] {
            let (rows, ld) = (11, columns + 5);
            let tile: Vec<f32> = values(rows * ld, columns as u64)
                .iter()
                .map(|v| 20.0 * v)
                .collect();
            let (mut max, mut sum) = (std::vec![EXCLUDED_LOGIT; columns], std::vec![0.0; columns]);
            absorb_columns(&tile[..6 * ld], 6, ld, 1.5, &mut max, &mut sum);
            absorb_columns(&tile[6 * ld..], rows - 6, ld, 1.5, &mut max, &mut sum);
            for j in 0..columns {
                let want: f64 = (0..rows)
                    .map(|i| (1.5 * f64::from(tile[i * ld + j])).exp())
                    .sum();
                let got = f64::from(max[j]) + f64::from(sum[j]).ln();
                assert!(
                    (got - want.ln()).abs() <= 1e-5 * want.ln().abs().max(1.0),
                    "{columns}: {j}"
                );
            }
        }
    }

    /// The mirror fills exactly the strict lower triangle of the leading block from the upper
    /// one, for sizes around the 8-lane blocks and the 64-row squares, and nothing else.
    #[test]
    fn mirror_lower_copies_the_upper_triangle_and_nothing_else() {
        for (rows, columns, ld) in [
            (1, 1, 1),
            (7, 9, 12),
            (8, 8, 8),
            (70, 70, 75),
            (130, 200, 205),
        ] {
            let mut tile: Vec<f32> = (0..rows * ld).map(|k| k as f32).collect();
            let original = tile.clone();
            mirror_lower(&mut tile, ld, rows, columns);
            for i in 0..rows {
                for j in 0..ld {
                    let want = if j < i && j < columns {
                        original[j * ld + i]
                    } else {
                        original[i * ld + j]
                    };
                    assert_eq!(
                        tile[i * ld + j],
                        want,
                        "{rows}×{columns}, ld {ld}: ({i}, {j})"
                    );
                }
            }
        }
    }
}
