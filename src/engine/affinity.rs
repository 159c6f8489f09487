//! The streaming two-axis affinity pass (docs/mathematics.md §4, §5): with logits `l_ij`, row
//! log-sum-exps `r_i` and column log-sum-exps `c_j`, the doubly normalised affinities
//! `A_ij = exp(l_ij − r_i/2 − c_j/2)` (optionally floored and column-weighted) and the drift
//! `V_i = S⁻_i Σ_{j∈+} A_ij (y_j − x_i) − S⁺_i Σ_{j∈−} A_ij (y_j − x_i)`, in two streaming
//! passes over the pairs with `O(N + P + Q)` memory. Shared by the two-axis drift (Algorithm 2)
//! and the multi-temperature drift (one temperature at a time).

use crate::cloud::CloudView;
use crate::engine::chunks::{Exec, for_each_chunk};
use crate::engine::simd::{F32s, exp};
use crate::engine::{Block, LogitRule, Partners, Shape, log_sum_exp, sweep};

/// One evaluation of the two-axis drift (the affinity pass of both operators).
pub(crate) struct TwoAxisProblem<'a, const D: usize> {
    pub(crate) queries: CloudView<'a, D>,
    pub(crate) positives: CloudView<'a, D>,
    pub(crate) negatives: CloudView<'a, D>,
    pub(crate) negatives_are_queries: bool,
    /// Column weights `w_j` multiplying the affinities (official `drift_loss`); `None` = 1.
    pub(crate) positive_weights: Option<&'a [f32]>,
    pub(crate) negative_weights: Option<&'a [f32]>,
    /// `½ ln(floor)`: affinities are `exp(max(l − r/2 − c/2, this))` (official floor `1e-6`).
    pub(crate) affinity_floor_logit: Option<f32>,
    /// Multiplies the output (official `drift_loss`: `1/s_in`).
    pub(crate) output_scale: f32,
}

impl<const D: usize> TwoAxisProblem<'_, D> {
    /// Writes `output_scale · V` into `out`; `scratch` holds at least `N + P + Q` values.
    ///
    /// Every pass is a loop over row chunks of one cloud (`exec` runs them): the column
    /// log-sum-exps are row log-sum-exps of the transposed problem (the logit and the self mask
    /// are symmetric in the pair), so no pass reduces across chunks and the result does not
    /// depend on how the chunks are scheduled.
    pub(crate) fn drift<S: Shape>(
        &self,
        exec: Exec,
        rule: &LogitRule,
        scratch: &mut [f32],
        out: &mut [f32],
    ) {
        self.log_normalisers::<S>(exec, rule, scratch);
        let (n, p) = (self.queries.len(), self.positives.len());
        let (rows, columns) = scratch.split_at(n.min(scratch.len()));
        let (pos_columns, neg_columns) = columns.split_at(p.min(columns.len()));
        // Pass 2: affinities recomputed on the fly.
        let positives = Partners::new(self.positives, false).with_bias(pos_columns, -0.5);
        let negatives =
            Partners::new(self.negatives, self.negatives_are_queries).with_bias(neg_columns, -0.5);
        let scale = F32s::splat(self.output_scale);
        for_each_chunk::<D>(exec, n, out, |chunk| {
            for start in chunk.block_starts() {
                let block = Block::gather(&self.queries, start);
                let half_row = F32s::new(core::array::from_fn(|k| {
                    -0.5 * rows.get(start + k).copied().unwrap_or(0.0)
                }));
                let (s_pos, d_pos) = self.affinity_sums::<S>(
                    &block,
                    &positives,
                    half_row,
                    self.positive_weights,
                    rule,
                );
                let (s_neg, d_neg) = self.affinity_sums::<S>(
                    &block,
                    &negatives,
                    half_row,
                    self.negative_weights,
                    rule,
                );
                for (d, (dp, dn)) in d_pos.iter().zip(d_neg.iter()).enumerate() {
                    let v = s_neg * *dp - s_pos * *dn;
                    chunk.write(d, start, block.valid, v * scale);
                }
            }
        });
    }

    /// Pass 1 of [`TwoAxisProblem::drift`]: the rows' log-sum-exps `r_i` over all targets in
    /// `scratch[..N]`, the positives' column log-sum-exps `c_j` over the queries in
    /// `scratch[N..N + P]` and the negatives' in `scratch[N + P..N + P + Q]`.
    pub(crate) fn log_normalisers<S: Shape>(
        &self,
        exec: Exec,
        rule: &LogitRule,
        scratch: &mut [f32],
    ) {
        let (n, p) = (self.queries.len(), self.positives.len());
        // Lengths checked by the caller; `min` keeps the split panic-free regardless.
        let (rows, columns) = scratch.split_at_mut(n.min(scratch.len()));
        let (pos_columns, neg_columns) = columns.split_at_mut(p.min(columns.len()));
        let query_partners = [Partners::new(self.queries, false)];
        log_sum_exp::<D, S>(exec, &self.positives, &query_partners, rule, pos_columns);
        if self.negatives_are_queries {
            // The logits are symmetric, so the negatives' column log-sum-exps are the queries'
            // row log-sum-exps over the negatives: one N × N pass serves both.
            let negatives = [Partners::new(self.negatives, true)];
            log_sum_exp::<D, S>(exec, &self.queries, &negatives, rule, neg_columns);
            log_sum_exp::<D, S>(
                exec,
                &self.queries,
                &[Partners::new(self.positives, false)],
                rule,
                rows,
            );
            for (r, &c) in rows.iter_mut().zip(neg_columns.iter()) {
                *r = log_add_exp(*r, c);
            }
        } else {
            let row_groups = [
                Partners::new(self.positives, false),
                Partners::new(self.negatives, false),
            ];
            log_sum_exp::<D, S>(exec, &self.queries, &row_groups, rule, rows);
            log_sum_exp::<D, S>(exec, &self.negatives, &query_partners, rule, neg_columns);
        }
    }

    /// `(Σ_j A_ij w_j, Σ_j A_ij w_j (y_j − x_i))` for the block's lanes over one target family.
    #[inline(always)]
    fn affinity_sums<S: Shape>(
        &self,
        block: &Block<D>,
        partners: &Partners<'_, D>,
        half_row: F32s,
        weights: Option<&[f32]>,
        rule: &LogitRule,
    ) -> (F32s, [F32s; D]) {
        let mut total = F32s::splat(0.0);
        let mut displacement = [F32s::splat(0.0); D];
        let floor = self.affinity_floor_logit.map(F32s::splat);
        sweep::<D, S>(block, partners, rule, |tile| {
            // Affinities in place of the logits; floor and weights hoisted out of the hot loop.
            let start = tile.start;
            let affinities = tile.logits_mut();
            match floor {
                Some(floor) => affinities
                    .iter_mut()
                    .for_each(|l| *l = exp((*l + half_row).fast_max(floor))),
                None => affinities.iter_mut().for_each(|l| *l = exp(*l + half_row)),
            }
            if let Some(w) = weights {
                let w = w.get(start..).unwrap_or(&[]);
                for (a, &w) in affinities.iter_mut().zip(w) {
                    *a *= F32s::splat(w);
                }
            }
            total += tile.logits().iter().fold(F32s::splat(0.0), |s, a| s + *a);
            tile.accumulate_displacements(tile.logits(), &block.coords, &mut displacement);
        });
        (total, displacement)
    }
}

/// `ln(e^a + e^b)` without overflow.
pub(crate) fn log_add_exp(a: f32, b: f32) -> f32 {
    let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
    hi + libm::log1pf(libm::expf(lo - hi))
}
