//! The two-axis softmax drift: the method's Algorithm 2 and the official 2D demo
//! (Deng et al. 2026; docs/mathematics.md §4).

use crate::cloud::CloudView;
#[cfg(feature = "dense")]
use crate::drift::dense_two_axis::{DenseTwoAxis, two_axis_dense_scratch_len};
use crate::drift::{Evaluation, Negatives, validate_clouds};
use crate::engine::chunks::{Exec, for_each_chunk};
use crate::engine::simd::{F32s, exp};
use crate::engine::{
    Block, LogitRule, PairMask, Partners, Shape, check_kernel_range, dispatch_shape, is_laplace,
    log_sum_exp, sweep, take_scratch,
};
use crate::error::Error;
use crate::kernel::Kernel;

/// How the self-pair `(i, i)` is masked when the negatives are the queries.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SelfMask {
    /// Logit `−∞`: the pair takes no part in either softmax (the default).
    Exclude,
    /// The official demo's way: add this distance to the pair (`1e6` in the demo). For any
    /// reasonable temperature this equals [`SelfMask::Exclude`].
    AddDistance(f32),
}

impl SelfMask {
    /// The official 2D demo's mask: distance `+1e6`.
    pub const OFFICIAL_DEMO: Self = Self::AddDistance(1.0e6);

    pub(crate) fn pair_mask(self) -> PairMask {
        match self {
            Self::Exclude => PairMask::Exclude,
            Self::AddDistance(d) => PairMask::AddDistance(d),
        }
    }

    pub(crate) fn validate(self) -> Result<(), Error> {
        match self {
            Self::AddDistance(d) if !(d.is_finite() && d >= 0.0) => {
                Err(Error::InvalidParameter { name: "self_mask" })
            }
            _ => Ok(()),
        }
    }
}

/// Configuration of [`two_axis_softmax_drift`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TwoAxisConfig {
    /// The kernel (the official demo: Laplace, `τ = 0.05`).
    pub kernel: Kernel,
    /// Self-pair treatment when the negatives are the queries (default [`SelfMask::Exclude`]).
    pub self_mask: SelfMask,
    /// Streaming or dense evaluation (default [`Evaluation::Auto`]).
    pub evaluation: Evaluation,
}

impl TwoAxisConfig {
    /// The given kernel with the self-pair excluded.
    #[must_use]
    pub const fn new(kernel: Kernel) -> Self {
        Self {
            kernel,
            self_mask: SelfMask::Exclude,
            evaluation: Evaluation::Auto,
        }
    }

    /// The official 2D demo: Laplace kernel, `τ = 0.05`, self-mask by distance `+1e6`.
    #[must_use]
    pub const fn official_demo() -> Self {
        Self {
            kernel: Kernel::laplace(0.05),
            self_mask: SelfMask::OFFICIAL_DEMO,
            evaluation: Evaluation::Auto,
        }
    }
}

/// Scratch length (`f32` values) [`two_axis_softmax_drift`] needs: `N + P + Q`.
#[must_use]
pub const fn two_axis_scratch_len(queries: usize, positives: usize, negatives: usize) -> usize {
    queries + positives + negatives
}

/// The two-axis softmax drift of the method's Algorithm 2.
///
/// With targets `T = [y+ ; y−]` and logits `l_ij`: `r_i = LSE_j l_ij` (rows),
/// `c_j = LSE_i l_ij` (columns), affinity
/// `A_ij = sqrt(softmax_row · softmax_col) = exp(l_ij − r_i/2 − c_j/2)`, `S±_i = Σ_{j∈±} A_ij`, and
///
/// `V_i = S−_i Σ_{j∈pos} A_ij (y+_j − x_i) − S+_i Σ_{k∈neg} A_ik (y−_k − x_i)`,
///
/// which equals the paper's `S− Σ A y+ − S+ Σ A y−` because the coefficients sum to zero; the
/// displacement form keeps the result exact for clouds far from the origin. The official demo's
/// `K / sqrt(rowsum ⊗ colsum)` is the same matrix, computed here in the log domain so that no
/// row or column underflows at small `τ`.
///
/// Three streaming passes (rows, columns, affinities), three `exp` per pair, `O(N·(P+Q)·D)`
/// time, `scratch` of [`two_axis_scratch_len`] values and no `N × (P+Q)` matrix.
/// Output coordinate-major: `V_d(x_i)` at `out[d·N + i]`.
///
/// Multithreaded (feature `std`; the same bits whatever the number of threads):
/// `drifting::parallel::two_axis_softmax_drift`.
///
/// # Errors
/// Empty or non-finite clouds, an invalid kernel or mask, `out.len() != N·D`, scratch too small.
pub fn two_axis_softmax_drift<const D: usize>(
    queries: &CloudView<'_, D>,
    positives: &CloudView<'_, D>,
    negatives: Negatives<'_, D>,
    config: &TwoAxisConfig,
    scratch: &mut [f32],
    out: &mut [f32],
) -> Result<(), Error> {
    two_axis_softmax_drift_on(
        Exec::Serial,
        queries,
        positives,
        negatives,
        config,
        scratch,
        out,
    )
}

/// [`two_axis_softmax_drift`] with its row chunks run by `exec`.
pub(crate) fn two_axis_softmax_drift_on<const D: usize>(
    exec: Exec,
    queries: &CloudView<'_, D>,
    positives: &CloudView<'_, D>,
    negatives: Negatives<'_, D>,
    config: &TwoAxisConfig,
    scratch: &mut [f32],
    out: &mut [f32],
) -> Result<(), Error> {
    let (negatives, is_self) = validate_clouds(queries, positives, negatives, out)?;
    config.kernel.validate()?;
    config.self_mask.validate()?;
    let added = match config.self_mask {
        SelfMask::AddDistance(d) if is_self => d,
        _ => 0.0,
    };
    check_kernel_range(&config.kernel, &[queries, positives, &negatives], added)?;
    let (n, p, q) = (queries.len(), positives.len(), negatives.len());
    let rule = LogitRule::new(&config.kernel, config.self_mask.pair_mask());
    #[cfg(not(feature = "dense"))]
    config.evaluation.check_streaming()?;
    #[cfg(feature = "dense")]
    if let Some(form) = config.evaluation.dense_form(
        D,
        n.saturating_mul(p.saturating_add(q)),
        two_axis_dense_scratch_len(n, p, q, D),
        scratch.len(),
    )? {
        let problem = DenseTwoAxis {
            queries: *queries,
            positives: *positives,
            negatives,
            negatives_are_queries: is_self,
            form,
        };
        dispatch_shape!(is_laplace(&config.kernel), S => problem.drift::<S>(exec, &rule, scratch, out));
        return Ok(());
    }
    let scratch = take_scratch(scratch, two_axis_scratch_len(n, p, q))?;
    let problem = TwoAxisProblem {
        queries: *queries,
        positives: *positives,
        negatives,
        negatives_are_queries: is_self,
        positive_weights: None,
        negative_weights: None,
        affinity_floor_logit: None,
        output_scale: 1.0,
    };
    dispatch_shape!(is_laplace(&config.kernel), S => problem.drift::<S>(exec, &rule, scratch, out));
    Ok(())
}

/// One evaluation of the two-axis drift, shared with the multi-temperature operator.
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
fn log_add_exp(a: f32, b: f32) -> f32 {
    let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
    hi + libm::log1pf(libm::expf(lo - hi))
}
