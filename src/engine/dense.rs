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
    Dot, MR, PACK, SquaredDifference, Symmetric, pack_column_tiles, pack_row_panels,
    pack_transposed_tiles, panels, product, product_above, tiles,
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
/// norms.
/// Saturates at `usize::MAX` (a size no buffer reaches, so it never passes a check).
pub(crate) const fn target_pack_len(targets: usize, dim: usize) -> usize {
    tiles(targets)
        .saturating_mul(dim)
        .saturating_mul(PACK)
        .saturating_add(targets)
}

/// Values of [`pack_queries`]' buffer.
/// Saturates at `usize::MAX`.
pub(crate) const fn query_pack_len(queries: usize, dim: usize) -> usize {
    panels(queries)
        .saturating_mul(dim)
        .saturating_mul(MR)
        .saturating_add(queries)
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
    let mut max = F32s::splat(EXCLUDED_LOGIT);
    for offset in (0..end).step_by(LANES) {
        max = max.fast_max(load_logits(values, offset, end, scale_v));
    }
    let m = max.to_array().iter().fold(EXCLUDED_LOGIT, |a, &b| a.max(b));
    let m_v = F32s::splat(m);
    let mut total = F32s::splat(0.0);
    for offset in (0..end).step_by(LANES) {
        total += exp(load_logits(values, offset, end, scale_v) - m_v);
    }
    m + libm::logf(sum_lanes(total.to_array()))
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
    let columns = max.len();
    for (k, (m_chunk, s_chunk)) in max.chunks_mut(LANES).zip(sum.chunks_mut(LANES)).enumerate() {
        let j0 = k * LANES;
        let mut block_max = F32s::splat(EXCLUDED_LOGIT);
        for i in 0..rows {
            block_max =
                block_max.fast_max(load_logits(values, i * ld + j0, i * ld + columns, scale_v));
        }
        let old_max = load(m_chunk, 0, m_chunk.len(), EXCLUDED_LOGIT);
        let new_max = old_max.fast_max(block_max);
        let mut total = load(s_chunk, 0, s_chunk.len(), 0.0) * exp(old_max - new_max);
        for i in 0..rows {
            total += exp(load_logits(values, i * ld + j0, i * ld + columns, scale_v) - new_max);
        }
        for (slot, v) in m_chunk.iter_mut().zip(new_max.to_array()) {
            *slot = v;
        }
        for (slot, v) in s_chunk.iter_mut().zip(total.to_array()) {
            *slot = v;
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
        if offset + LANES <= split {
            s_neg += a;
        } else if offset >= split {
            s_pos += a;
        } else {
            let negative = lane_index(offset).simd_lt(split_v);
            s_neg += negative.select(a, F32s::splat(0.0));
            s_pos += negative.select(F32s::splat(0.0), a);
        }
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
    tiles(dim).saturating_mul(targets).saturating_mul(PACK)
}

/// Packs the centred targets in tiles of `PACK` channels (the `B` operand of [`drift_sums`]).
pub(crate) fn pack_channels<'b>(
    targets: &Rows<'_>,
    centre: &[f32],
    buffer: &'b mut [f32],
) -> PackedChannels<'b> {
    let count = targets.len();
    let packed = buffer.as_chunks_mut::<PACK>().0;
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
    let (dim, t) = (centre.len(), targets.count);
    let packed = buffer.as_chunks_mut::<MR>().0;
    pack_row_panels(
        count,
        t,
        |i| coefficients.get(i * ld_c..i * ld_c + t).unwrap_or(&[]),
        None,
        packed,
    );
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
    use super::mirror_lower;
    use std::vec::Vec;

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
