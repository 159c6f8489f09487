//! The two-axis drift of flat clouds in high dimension through the dense engine: every distance
//! once (`engine/dense.rs`), the `N × (Q + P)` logit tile kept in the caller's scratch for the row
//! and column log-sum-exps and the affinities, the drift sums as one product. Rows are cut into
//! fixed blocks (serial, or on the rayon pool with the same bits).

use crate::cloud::CloudView;
use crate::engine::chunks::Share::{PerBlock, PerRow};
use crate::engine::chunks::{CHUNK, Exec, for_each_block, for_each_chunk};
use crate::engine::dense::{
    Affinities, DistanceForm, Rows, absorb_columns, channel_pack_len, coefficient_panels,
    distance_epilogue, distance_products, mean_row, merge_columns, mirror_lower, pack_both,
    pack_channels, pack_queries, pack_targets, packed_drift_sums, query_pack_len, row_log_sum_exp,
    target_pack_len,
};
use crate::engine::gemm::{LINE_SLACK, MR, Symmetric, line_aligned, split_lines, whole_lines};
use crate::engine::simd::{EXCLUDED_LOGIT, F32s, LANES};
use crate::engine::{LogitRule, PairMask, Shape};

/// Rows whose coefficients are packed together for one product with the targets (the product's
/// row block: a slice of the packed targets is reused by all of them from L1).
const SUMS_ROWS: usize = 32 * MR;

/// From this dimension on, the distances between the queries themselves (when they are the
/// negatives) are computed once per pair — the micro-tiles below the diagonal are skipped and
/// mirrored — at the price of one more pass over the tile: the saved `N²·D` multiply-adds
/// outweigh the `N²` extra memory traffic from about `D = 128` on.
const SYMMETRIC_FROM_DIMENSION: usize = 128;

/// Rows of the logit tile computed, turned into logits and folded into the row and column
/// log-sum-exps together, while they sit in L2 (64 rows of 4096 targets: 1 MB).
const TILE_ROWS: usize = 16 * MR;

/// The pieces of the dense scratch, in order.
struct Layout {
    copies: usize,
    centre: usize,
    tile: usize,
    field: usize,
    targets: usize,
    queries: usize,
    rows: usize,
    half_columns: usize,
    row_sums: usize,
    /// Per chunk of rows, the streaming maximum and sum of every column.
    column_partials: usize,
    task: usize,
}

impl Layout {
    const fn new(n: usize, p: usize, q: usize, dim: usize) -> Option<Self> {
        let Some(t) = p.checked_add(q) else {
            return None;
        };
        let chunks = n.div_ceil(CHUNK);
        let (Some(copies), Some(tile), Some(field), Some(task), Some(partials)) = (
            match n.checked_add(t) {
                Some(c) => c.checked_mul(dim),
                None => None,
            },
            n.checked_mul(t),
            n.checked_mul(dim),
            SUMS_ROWS.checked_mul(t),
            match chunks.checked_mul(t) {
                Some(c) => c.checked_mul(2),
                None => None,
            },
        ) else {
            return None;
        };
        let pack_a = target_pack_len(t, dim);
        let pack_b = channel_pack_len(t, dim);
        Some(Self {
            copies,
            centre: dim,
            tile,
            field,
            targets: if pack_a > pack_b { pack_a } else { pack_b },
            queries: query_pack_len(n, dim),
            rows: n,
            half_columns: t,
            row_sums: n,
            column_partials: partials,
            task,
        })
    }

    const fn total(&self) -> Option<usize> {
        let parts = [
            self.copies,
            self.centre,
            self.tile,
            self.field,
            self.targets,
            self.queries,
            self.rows,
            self.half_columns,
            self.row_sums,
            self.column_partials,
            self.task,
        ];
        let mut total = LINE_SLACK;
        let mut rest: &[usize] = &parts;
        while let [first, tail @ ..] = rest {
            total = match total.checked_add(whole_lines(*first)) {
                Some(v) => v,
                None => return None,
            };
            rest = tail;
        }
        Some(total)
    }
}

/// Scratch values the dense path of [`two_axis_softmax_drift`](crate::two_axis_softmax_drift)
/// needs for `N` queries, `P` positives, `Q` negatives (`Q = N` when the negatives are the
/// queries) in dimension `dim`: the `N × (P + Q)` tile, copies of the clouds, packed operands and
/// `O(N + P + Q)` more; `None` if that overflows `usize`.
#[must_use]
pub const fn two_axis_dense_scratch_len(
    queries: usize,
    positives: usize,
    negatives: usize,
    dim: usize,
) -> Option<usize> {
    match Layout::new(queries, positives, negatives, dim) {
        Some(layout) => layout.total(),
        None => None,
    }
}

/// The clouds of one dense two-axis evaluation.
pub(crate) struct DenseTwoAxis<'a, const D: usize> {
    pub(crate) queries: CloudView<'a, D>,
    pub(crate) positives: CloudView<'a, D>,
    pub(crate) negatives: CloudView<'a, D>,
    pub(crate) negatives_are_queries: bool,
    pub(crate) form: DistanceForm,
}

/// Turns one row of squared distances into logits `S(d²)`, masking the self-pair `own` (the
/// column of the query itself) when given.
#[inline(always)]
fn logits_of_row<S: Shape>(row: &mut [f32], inverse: F32s, own: Option<usize>, mask: PairMask) {
    let own_sq = own.and_then(|j| row.get(j).copied()).unwrap_or(0.0);
    let (row8, tail) = row.as_chunks_mut::<LANES>();
    for chunk in row8 {
        let sq = F32s::new(*chunk).fast_max(F32s::splat(0.0));
        *chunk = S::logit(sq, inverse).to_array();
    }
    for v in tail {
        let sq = F32s::splat(v.max(0.0));
        *v = S::logit(sq, inverse).to_array()[0];
    }
    if let Some(slot) = own.and_then(|j| row.get_mut(j)) {
        *slot = match mask {
            PairMask::Exclude => EXCLUDED_LOGIT,
            PairMask::AddDistance(add) => {
                S::shifted_logit(F32s::splat(own_sq.max(0.0)), F32s::splat(add), inverse).to_array()
                    [0]
            }
        };
    }
}

impl<const D: usize> DenseTwoAxis<'_, D> {
    /// Writes `V` (coordinate-major, `output_scale · V_d(x_i)` at `out[d·N + i]`); `scratch`
    /// holds [`two_axis_dense_scratch_len`] values (checked by the caller).
    pub(crate) fn drift<S: Shape>(
        &self,
        exec: Exec,
        rule: &LogitRule,
        scratch: &mut [f32],
        out: &mut [f32],
    ) {
        let (n, p) = (self.queries.len(), self.positives.len());
        let q = if self.negatives_are_queries {
            n
        } else {
            self.negatives.len()
        };
        let t = q + p;
        let Some(layout) = Layout::new(n, p, q, D) else {
            return;
        };
        // Every piece starts on a cache line (whole lines each, from the first line).
        let mut rest = line_aligned(scratch);
        let mut take = |len: usize| {
            let (head, tail) = split_lines(core::mem::take(&mut rest), len);
            rest = tail;
            head
        };
        let copies = take(layout.copies);
        let centre = take(layout.centre);
        let tile = take(layout.tile);
        let field = take(layout.field);
        let target_buffer = take(layout.targets);
        let query_buffer = take(layout.queries);
        let rows = take(layout.rows);
        let half_columns = take(layout.half_columns);
        let row_sums = take(layout.row_sums);
        let column_partials = take(layout.column_partials);
        let task = take(layout.task);

        // Token-major rows (the points themselves, or transposed copies): [queries | negatives
        // (unless the queries) | positives].
        let (query_copy, rest_copy) = copies.split_at_mut((n * D).min(copies.len()));
        let negative_len = if self.negatives_are_queries { 0 } else { q * D };
        let (negative_copy, positive_copy) =
            rest_copy.split_at_mut(negative_len.min(rest_copy.len()));
        let query_copy = self.queries.token_major(query_copy);
        let positive_copy = self.positives.token_major(positive_copy);
        let query_rows = Rows::single(query_copy, D);
        let negative_rows: &[f32] = if self.negatives_are_queries {
            query_copy
        } else {
            self.negatives.token_major(negative_copy)
        };
        let target_rows = Rows::new([negative_rows, positive_copy, &[]], D);

        mean_row(&target_rows, centre);
        let centre = &*centre;
        let form = self.form;
        // The queries are the first targets when they are the negatives: both packs in one pass.
        let (packed_queries, packed_targets) = if self.negatives_are_queries {
            pack_both(&target_rows, n, centre, query_buffer, target_buffer)
        } else {
            (
                pack_queries(&query_rows, centre, form, query_buffer),
                pack_targets(&target_rows, centre, form, target_buffer),
            )
        };

        // With self-negatives in high dimension, the query-query products once per pair: the
        // upper micro-tiles by chunks of rows, then the lower triangle mirrored.
        let is_self = self.negatives_are_queries;
        let symmetric = is_self && D >= SYMMETRIC_FROM_DIMENSION;
        if symmetric {
            for_each_block(
                exec,
                n,
                CHUNK,
                [(&mut *tile, PerRow(t))],
                task,
                0,
                |first, count, [tile_rows], _| {
                    for start in (0..count).step_by(TILE_ROWS) {
                        let block = (count - start).min(TILE_ROWS);
                        distance_products(
                            form,
                            &packed_queries,
                            first + start,
                            block,
                            &packed_targets,
                            tile_rows
                                .get_mut(start * t..(start + block) * t)
                                .unwrap_or(&mut []),
                            t,
                            Some(Symmetric {
                                first_row: first + start,
                                columns: n,
                            }),
                        );
                    }
                },
            );
            mirror_lower(tile, t, n, n);
        }

        // Pass 1, by chunks of rows: blocks of rows of the logit tile, each turned into logits
        // and folded into its rows' log-sum-exps and the chunk's column partials while in L2.
        let inverse = F32s::splat(rule.inverse_scale);
        let mask = rule.mask;
        for_each_block(
            exec,
            n,
            CHUNK,
            [
                (tile, PerRow(t)),
                (rows, PerRow(1)),
                (column_partials, PerBlock(2 * t)),
            ],
            task,
            0,
            |first, count, [tile_rows, lse, partial], _| {
                let (column_max, column_sum) = partial.split_at_mut(t.min(partial.len()));
                column_max.fill(EXCLUDED_LOGIT);
                column_sum.fill(0.0);
                for start in (0..count).step_by(TILE_ROWS) {
                    let block = (count - start).min(TILE_ROWS);
                    let block_tile = tile_rows
                        .get_mut(start * t..(start + block) * t)
                        .unwrap_or(&mut []);
                    if !symmetric {
                        distance_products(
                            form,
                            &packed_queries,
                            first + start,
                            block,
                            &packed_targets,
                            block_tile,
                            t,
                            None,
                        );
                    }
                    distance_epilogue(
                        form,
                        &packed_queries,
                        &query_rows,
                        first + start,
                        block,
                        &packed_targets,
                        &target_rows,
                        block_tile,
                        t,
                    );
                    let block_lse = lse.get_mut(start..start + block).unwrap_or(&mut []);
                    for (i, (row, r)) in block_tile
                        .chunks_mut(t.max(1))
                        .zip(block_lse.iter_mut())
                        .enumerate()
                    {
                        let own = first + start + i;
                        logits_of_row::<S>(row, inverse, is_self.then_some(own), mask);
                        *r = row_log_sum_exp(row, 1.0);
                    }
                    absorb_columns(block_tile, block, t, 1.0, column_max, column_sum);
                }
            },
        );

        // Pass 2, by blocks of columns: the chunks' partials merged in chunk order.
        {
            let partials: &[f32] = column_partials;
            for_each_block(
                exec,
                t,
                CHUNK,
                [(half_columns, PerRow(1)), (row_sums, PerRow(0))],
                task,
                0,
                |first, count, [columns, _], _| {
                    let mut sums = [0.0_f32; CHUNK];
                    let sums = sums.get_mut(..count).unwrap_or(&mut []);
                    columns.fill(EXCLUDED_LOGIT);
                    for chunk in partials.chunks(t.saturating_mul(2).max(1)) {
                        let (max, sum) = chunk.split_at(t.min(chunk.len()));
                        merge_columns(
                            max.get(first..first + count).unwrap_or(&[]),
                            sum.get(first..first + count).unwrap_or(&[]),
                            columns,
                            sums,
                        );
                    }
                    for (c, s) in columns.iter_mut().zip(sums.iter()) {
                        *c = -0.5 * (*c + libm::logf(*s));
                    }
                },
            );
        }

        // Pass 3, by chunks of rows: the coefficients of 128 rows straight into the row panels
        // of their product with the targets (the tile is only read), then that product.
        let channels = pack_channels(&target_rows, centre, target_buffer);
        let half_columns = &*half_columns;
        let rows = &*rows;
        let rule = Affinities {
            scale: 1.0,
            floor_logit: None,
            weights: None,
            negative_columns: q,
        };
        for_each_block(
            exec,
            n,
            CHUNK,
            [(tile, PerRow(t)), (field, PerRow(D)), (row_sums, PerRow(1))],
            task,
            layout.task,
            |first, count, [tile_rows, field_rows, sums], scratch| {
                let packed = scratch.as_chunks_mut::<MR>().0;
                for start in (0..count).step_by(SUMS_ROWS) {
                    let block = (count - start).min(SUMS_ROWS);
                    let block_sums = sums.get_mut(start..start + block).unwrap_or(&mut []);
                    coefficient_panels(
                        tile_rows.get(start * t..).unwrap_or(&[]),
                        t,
                        block,
                        |k| -0.5 * rows.get(first + start + k).copied().unwrap_or(0.0),
                        half_columns,
                        &rule,
                        block_sums,
                        packed,
                    );
                    packed_drift_sums(
                        &query_rows,
                        first + start,
                        block,
                        packed,
                        block_sums,
                        &channels,
                        centre,
                        field_rows
                            .get_mut(start * D..(start + block) * D)
                            .unwrap_or(&mut []),
                    );
                }
            },
        );

        // Coordinate-major output.
        let field = &*field;
        for_each_chunk::<D>(exec, n, out, |chunk| chunk.write_token_major(field));
    }
}
