//! The two-axis softmax drift (the method's Algorithm 2, Deng et al. 2026; docs/mathematics.md
//! §4) with certified tile pruning on both axes, for large low-dimensional clouds.
//!
//! The dense drift ([`two_axis_softmax_drift`]) makes three passes over every pair: row
//! log-normalisers `r_i = LSE_j l_ij` over all targets `T = [y+ ; y−]`, column log-normalisers
//! `c_j = LSE_i l_ij` over the queries, and the affinity pass with
//! `A_ij = exp(l_ij − r_i/2 − c_j/2)`, `S±_i = Σ_{j∈±} A_ij`, `D±_i = Σ_{j∈±} A_ij (y_j − x_i)`
//! and `V_i = S−_i D+_i − S+_i D−_i`. Here each pass runs on the Morton tiles of `pruning.rs`
//! (shared with the pruned mean shift), skipping far tiles within a relative budget `ε`:
//!
//! 1. **Rows**: per query tile over the target tiles (both families under one budget; when the
//!    negatives are the queries, over the positives and over the queries, self-pairs masked, one
//!    budget each, as the dense drift splits it): `r̂_i ≤ r_i ≤ r̂_i + ln(1 + ρr_i)`, `ρr_i ≤ ε`.
//! 2. **Columns** (the transposed sweep): per target tile over the query tiles:
//!    `ĉ_j ≤ c_j ≤ ĉ_j + ln(1 + ρc_j)`, `ρc_j ≤ ε`; `ρc = max_j ρc_j`. (When the negatives are the
//!    queries their columns are the masked row pass of step 1: the logit is symmetric.)
//! 3. **Affinities**: per query tile and family, the weights `a_ij = exp(l_ij − r̂_i/2 − ĉ_j/2)`
//!    summed in the log domain as a softmax mean under the logits `l_ij − ĉ_j/2` (`−ĉ_j/2` is a
//!    per-target bias of the sweep; the tile's bound `u_IJ − min_J ĉ/2`): with
//!    `λ±_i = ln Σ_{j∈±} e^{l_ij − ĉ_j/2}` and mean displacement `μ̂±_i`,
//!    `Ŝ±_i = e^{λ±_i − r̂_i/2}`, `D̂± = Ŝ± μ̂±` and the field
//!    `V̂_i = Ŝ−D̂+ − Ŝ+D̂− = e^{λ+_i + λ−_i − r̂_i} (μ̂+_i − μ̂−_i)`. Far tiles are skipped as in the
//!    mean shift, so the skipped weight of family `±` is `σ± ≤ ρ±_i Ŝ±_i`, `ρ±_i ≤ ε`, every
//!    skipped target within `R±_i` of `x_i` and every target within `E±_i` (box bounds).
//!
//! **Certified error** (exact arithmetic; `f32` rounding comes on top, as in the dense drift).
//! `V` is bilinear in the weights: `V(w) = Σ_{j∈+, k∈−} w_j w_k (y_j − y_k)`. Three steps lead
//! from the exact field `V = V(A)` to the computed one `V̂ = V(a·[evaluated])`:
//!
//! - *Skipped pairs*: with `e = a − â ≥ 0` (the skipped weights), expanding the bilinear form,
//!   `‖V(a) − V̂‖ ≤ σ−‖D̂+‖ + Ŝ−σ+R+ + σ+‖D̂−‖ + Ŝ+σ−R− + σ+σ−(R+ + R−)`, i.e.
//!   `E1 = Ŝ+Ŝ− [ρ+(R+ + ‖μ̂−‖) + ρ−(R− + ‖μ̂+‖) + ρ+ρ−(R+ + R−)]`.
//! - *Column normalisers*: `a_ij = α_i β_j A_ij` with `α_i = e^{(r_i − r̂_i)/2}`,
//!   `β_j = e^{(c_j − ĉ_j)/2} ∈ [1, √(1 + ρc)]`. So `0 ≤ a_j a_k − (a_j/β_j)(a_k/β_k) ≤ ρc a_j a_k`
//!   and `‖V(a) − V(αA)‖ ≤ ρc Σ a_j a_k (‖y_j − x‖ + ‖y_k − x‖) ≤`
//!   `E2 = ρc (1 + ρ+)(1 + ρ−) Ŝ+Ŝ− (E+ + E−)`.
//! - *Row normalisers*: `V(αA) = α_i² V` with `α_i² ∈ [1, 1 + ρr_i]`, so
//!   `‖V(αA) − V‖ ≤ ρr_i ‖V(αA)‖ ≤ ρr_i (‖V̂‖ + E1 + E2)`.
//!
//! Hence `‖V̂_i − V_i‖ ≤ (1 + ρr_i)(E1 + E2) + ρr_i ‖V̂_i‖`, every term computed per query;
//! [`PruneReport::bound`] is its largest value. All `ρ ≤ ε`, so every normaliser is within
//! `ln(1 + ε) ≤ ε` in log and the bound is of order `ε·S+S−·(reach of the clouds)`: the mean
//! shift's `ε(R + ‖μ̂‖)` times the two affinity masses. Tested against the dense drift in
//! `tests/pruned_two_axis.rs`.
//!
//! The cost is `O((N + P + Q)²/T²)` box tests per pass plus the pairs of the tiles not skipped
//! (`T` = [`PRUNE_TILE`]). With feature `std`, the tiles of every pass run on
//! the rayon pool (each tile independent: the same bits whatever the number of threads).

use crate::cloud::CloudView;
use crate::drift::pruning::{
    BLOCKS, Family, LaneTile, PRUNE_TILE, PruneReport, PrunedWorkspace, Sorted, SortedClouds,
    TargetBias, TileField, check_lengths, check_tolerance, check_workspace, lane_sums, norm,
    pruned_log_sum_exp, pruned_sums, pruning_pays_at, scatter_query_tiles, spatial_workspace_len,
};
use crate::drift::two_axis::{SelfMask, TwoAxisConfig, two_axis_softmax_drift};
use crate::drift::{Evaluation, Negatives, validate_clouds};
use crate::engine::affinity::log_add_exp;
use crate::engine::chunks::Exec;
use crate::engine::simd::F32s;
use crate::engine::{
    DisplacementSums, LogitRule, Shape, check_kernel_range, dispatch_shape, is_laplace,
};
use crate::error::Error;

/// Configuration of [`pruned_two_axis_drift`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PrunedTwoAxisConfig {
    /// The drift itself (kernel, self mask; its `evaluation` is not used: the pruned drift
    /// always runs the tiled sweep).
    pub two_axis: TwoAxisConfig,
    /// The relative error `ε` allowed in every normaliser and every family's affinity mass, in
    /// `(0, 1)` (e.g. `1e-6`).
    pub tolerance: f32,
}

/// Caller-owned buffers of [`pruned_two_axis_drift`], lengths from
/// [`pruned_two_axis_workspace_len`].
#[derive(Debug)]
pub struct PrunedTwoAxisWorkspace<'a, const D: usize> {
    /// The clouds in Morton order (as for the pruned mean shift).
    pub spatial: PrunedWorkspace<'a, D>,
    /// The row and column log-normalisers, the rows' error ratios and the columns' minima per
    /// tile.
    pub normalisers: &'a mut [f32],
}

/// Buffer lengths of [`PrunedTwoAxisWorkspace`] for `n` queries, `p` positives and `q`
/// negatives (`q = 0` when the negatives are the queries): `(keys, points, boxes, normalisers)`
/// with `normalisers = 2n + p + q' + ⌈p/T⌉ + ⌈q'/T⌉` (`q' = n` when the negatives are the
/// queries, `T` = [`PRUNE_TILE`]); `None` on overflow.
#[must_use]
pub const fn pruned_two_axis_workspace_len(
    n: usize,
    p: usize,
    q: usize,
) -> Option<(usize, usize, usize, usize)> {
    let Some((keys, points, boxes)) = spatial_workspace_len(n, p, q) else {
        return None;
    };
    let columns = if q == 0 { n } else { q };
    // `points` = n + p + q did not overflow, so neither does n + p + columns; the rest is
    // checked.
    let Some(values) = (n + p + columns).checked_add(n) else {
        return None;
    };
    let Some(values) = values.checked_add(p.div_ceil(PRUNE_TILE) + columns.div_ceil(PRUNE_TILE))
    else {
        return None;
    };
    Some((keys, points, boxes, values))
}

/// [`two_axis_softmax_drift`] with certified tile pruning on both axes: the same field up to the
/// bound it reports (module documentation), in `O((N + P + Q)²/T²)` box tests plus the pairs of
/// the tiles not skipped, no heap (with feature `std`, one result per tile is collected from the
/// rayon pool). Output coordinate-major (`V_d(x_i)` at `out[d·N + i]`), in the caller's order.
///
/// Where pruning cannot pay ([`pruning_pays`](crate::pruning_pays) is `false`: the kernel's
/// reach is most of the clouds' diameter) it runs the exact streaming sweep in the normalisers'
/// buffer instead: the bits of `two_axis_softmax_drift`, every pair evaluated, a zero bound.
///
/// # Errors
/// Those of `two_axis_softmax_drift` (empty or non-finite clouds, an invalid kernel or mask,
/// `out.len() ≠ N·D`, out-of-range extents); [`Error::InvalidParameter`] (`"tolerance"`) unless
/// `0 < ε < 1`; [`Error::ShapeMismatch`] for workspace buffers of the wrong length.
///
/// # Example
/// ```
/// use drifting::spatial::BoundingBox;
/// use drifting::{CloudView, Kernel, Negatives, PrunedTwoAxisConfig, PrunedTwoAxisWorkspace};
/// use drifting::{PrunedWorkspace, TwoAxisConfig, pruned_two_axis_drift};
/// use drifting::{pruned_two_axis_workspace_len, two_axis_scratch_len, two_axis_softmax_drift};
/// const N: usize = 2000; // a 50 × 40 grid of spacing 0.16, and the data shifted by a little
/// let generated: Vec<[f32; 2]> =
///     (0..N).map(|i| [(i % 50) as f32 * 0.16, (i / 50) as f32 * 0.16]).collect();
/// let data: Vec<[f32; 2]> = generated.iter().map(|&[u, v]| [u + 0.03, v - 0.02]).collect();
/// let (x, y) = (CloudView::from_points(&generated), CloudView::from_points(&data));
/// let two_axis = TwoAxisConfig::new(Kernel::laplace(0.05));
/// let config = PrunedTwoAxisConfig { two_axis, tolerance: 1e-6 };
/// let (keys, points, boxes, values) = pruned_two_axis_workspace_len(N, N, 0).unwrap();
/// let empty = BoundingBox { min: [0.0; 2], max: [0.0; 2], count: 0 };
/// let (mut keys, mut points) = (vec![0_u64; keys], vec![[0.0_f32; 2]; points]);
/// let (mut boxes, mut values) = (vec![empty; boxes], vec![0.0_f32; values]);
/// let workspace = PrunedTwoAxisWorkspace {
///     spatial: PrunedWorkspace { keys: &mut keys, points: &mut points, boxes: &mut boxes },
///     normalisers: &mut values,
/// };
/// let mut field = vec![0.0_f32; 2 * N];
/// let report = pruned_two_axis_drift(&x, &y, Negatives::Queries, &config, workspace, &mut field)?;
/// assert!(report.evaluated < report.pairs / 2);
///
/// // The dense drift agrees to the certified bound (plus f32 rounding).
/// let mut scratch = vec![0.0_f32; two_axis_scratch_len(N, N, N)];
/// let mut dense = vec![0.0_f32; 2 * N];
/// two_axis_softmax_drift(&x, &y, Negatives::Queries, &two_axis, &mut scratch, &mut dense)?;
/// let bound = report.bound as f32 + 1e-5;
/// assert!(field.iter().zip(&dense).all(|(p, d)| (p - d).abs() <= bound));
/// # Ok::<(), drifting::Error>(())
/// ```
pub fn pruned_two_axis_drift<const D: usize>(
    queries: &CloudView<'_, D>,
    positives: &CloudView<'_, D>,
    negatives: Negatives<'_, D>,
    config: &PrunedTwoAxisConfig,
    workspace: PrunedTwoAxisWorkspace<'_, D>,
    out: &mut [f32],
) -> Result<PruneReport, Error> {
    let given = negatives;
    let (negatives, is_self) = validate_clouds(queries, positives, negatives, out)?;
    let two_axis = &config.two_axis;
    two_axis.kernel.validate()?;
    two_axis.self_mask.validate()?;
    check_tolerance(config.tolerance)?;
    let added = match two_axis.self_mask {
        SelfMask::AddDistance(d) if is_self => d,
        _ => 0.0,
    };
    let diameter2 = check_kernel_range(&two_axis.kernel, &[queries, positives, &negatives], added)?;
    let (n, p) = (queries.len(), positives.len());
    let q = if is_self { 0 } else { negatives.len() };
    let Some((_, _, _, values)) = pruned_two_axis_workspace_len(n, p, q) else {
        return Err(Error::InvalidParameter { input: "workspace" });
    };
    check_lengths(&[("normalisers", values, workspace.normalisers.len())])?;
    check_workspace(&workspace.spatial, n, p, q)?;
    if !pruning_pays_at(&two_axis.kernel, config.tolerance, diameter2) {
        // The streaming sweep's scratch (`N + P + Q` values) fits in the normalisers'.
        let exact = TwoAxisConfig {
            evaluation: Evaluation::Streaming,
            ..*two_axis
        };
        two_axis_softmax_drift(
            queries,
            positives,
            given,
            &exact,
            workspace.normalisers,
            out,
        )?;
        // The pairs the pruned passes would have counted: the columns of both families, the
        // rows and the affinities (with self-negatives, the rows over the queries are the
        // negatives' columns).
        let (n, p, q) = (n as u64, p as u64, negatives.len() as u64);
        let pairs = if is_self {
            3 * n * p + 2 * n * n
        } else {
            3 * n * (p + q)
        };
        return Ok(PruneReport::exact(pairs));
    }
    let separate = (!is_self).then_some(&negatives);
    let clouds = SortedClouds::sort(queries, positives, separate, workspace.spatial)?;
    let sweep = Sweep {
        clouds: &clouds,
        is_self,
        rule: LogitRule::new(&two_axis.kernel, two_axis.self_mask.pair_mask()),
        tolerance: config.tolerance,
    };
    let exec = Exec::current();
    let report = dispatch_shape!(is_laplace(&two_axis.kernel), S => sweep.run::<S>(exec, workspace.normalisers, out));
    Ok(report)
}

/// The sorted clouds and parameters of one pruned evaluation.
struct Sweep<'s, 'w, const D: usize> {
    clouds: &'s SortedClouds<'w, D>,
    is_self: bool,
    rule: LogitRule,
    tolerance: f32,
}

/// The normalisers of the affinity pass, in sorted order.
struct Normalisers<'a> {
    rows: &'a [f32],
    row_ratios: &'a [f32],
    positives: TargetBias<'a>,
    negatives: TargetBias<'a>,
    /// `ρc`: the largest column ratio.
    column_ratio: f64,
}

impl<'w, const D: usize> Sweep<'_, 'w, D> {
    /// The three passes; `values` is the normaliser buffer (length checked).
    fn run<S: Shape>(&self, exec: Exec, values: &mut [f32], out: &mut [f32]) -> PruneReport {
        let clouds = self.clouds;
        let (n, p) = (clouds.queries.points.len(), clouds.positives.points.len());
        let negatives = clouds.negatives();
        let q = negatives.points.len();
        let (rows, rest) = values.split_at_mut(n.min(values.len()));
        let (row_ratios, rest) = rest.split_at_mut(n.min(rest.len()));
        let (pos_columns, rest) = rest.split_at_mut(p.min(rest.len()));
        let (neg_columns, rest) = rest.split_at_mut(q.min(rest.len()));
        let (pos_min, neg_min) = rest.split_at_mut(clouds.positives.tiles().min(rest.len()));
        row_ratios.fill(0.0);
        let mut report = PruneReport::EMPTY;
        let family = Family::plain;
        let queries = &clouds.queries;
        // Columns of the positives over the queries.
        let mut column_ratio = self.normaliser_pass::<S>(
            exec,
            &clouds.positives,
            &[family(queries, false)],
            pos_columns,
            None,
            &mut report,
        );
        if self.is_self {
            // The negatives' columns are the queries' rows over themselves (symmetric logits),
            // and the rows are those and the rows over the positives, each pruned on its own.
            column_ratio = column_ratio.max(self.normaliser_pass::<S>(
                exec,
                queries,
                &[family(queries, true)],
                neg_columns,
                Some(row_ratios),
                &mut report,
            ));
            self.normaliser_pass::<S>(
                exec,
                queries,
                &[family(&clouds.positives, false)],
                rows,
                Some(row_ratios),
                &mut report,
            );
            for (r, &c) in rows.iter_mut().zip(neg_columns.iter()) {
                *r = log_add_exp(*r, c);
            }
        } else {
            column_ratio = column_ratio.max(self.normaliser_pass::<S>(
                exec,
                negatives,
                &[family(queries, false)],
                neg_columns,
                None,
                &mut report,
            ));
            self.normaliser_pass::<S>(
                exec,
                queries,
                &[family(&clouds.positives, false), family(negatives, false)],
                rows,
                Some(row_ratios),
                &mut report,
            );
        }
        for (columns, minima) in [
            (&*pos_columns, &mut *pos_min),
            (&*neg_columns, &mut *neg_min),
        ] {
            for (slot, tile) in minima.iter_mut().zip(columns.chunks(PRUNE_TILE)) {
                *slot = tile.iter().copied().fold(f32::INFINITY, f32::min);
            }
        }
        let normalisers = Normalisers {
            rows,
            row_ratios,
            // The affinity logits carry `−ĉ_j/2`: each tile's bound takes its smallest `ĉ`.
            positives: TargetBias {
                values: pos_columns,
                factor: -0.5,
                tile_extreme: pos_min,
                spread: 0.0,
            },
            negatives: TargetBias {
                values: neg_columns,
                factor: -0.5,
                tile_extreme: neg_min,
                spread: 0.0,
            },
            column_ratio,
        };
        scatter_query_tiles(
            exec,
            clouds,
            |b| self.affinity_tile::<S>(b, &normalisers),
            report,
            out,
        )
    }

    /// One normaliser pass ([`pruned_log_sum_exp`] with this sweep's rule and tolerance).
    fn normaliser_pass<S: Shape>(
        &self,
        exec: Exec,
        lanes: &Sorted<'w, D>,
        families: &[Family<'_, 'w, D>],
        log_totals: &mut [f32],
        ratios: Option<&mut [f32]>,
        report: &mut PruneReport,
    ) -> f64 {
        pruned_log_sum_exp::<S, D>(
            exec,
            lanes,
            families,
            &self.rule,
            self.tolerance,
            log_totals,
            ratios,
            report,
        )
    }

    /// The field of query tile `b` (in Morton order), its bound and its share of the report.
    fn affinity_tile<S: Shape>(&self, b: usize, normalisers: &Normalisers<'_>) -> TileField<D> {
        let mut result = TileField::new();
        let Some(lanes) = LaneTile::new(&self.clouds.queries, b) else {
            return result;
        };
        // Per family: the lanes' `λ`, `ρ` and `μ̂ − x`, the reach `R` of the skipped targets
        // and the extent `E` of all of them.
        let sides = [
            (&self.clouds.positives, false, normalisers.positives),
            (self.clouds.negatives(), self.is_self, normalisers.negatives),
        ]
        .map(|(cloud, masked, bias)| {
            let family = Family {
                cloud,
                masked,
                bias: Some(bias),
            };
            let mut sums = [DisplacementSums::<D>::new(); BLOCKS];
            let pruned =
                pruned_sums::<S, _, D>(&lanes, &[family], &self.rule, self.tolerance, &mut sums);
            result.pairs += pruned.pairs;
            result.evaluated += pruned.evaluated;
            let lanes = lane_sums(&lanes, &sums, &pruned, |s| s.mean().map(F32s::to_array));
            (lanes, pruned.reach, pruned.extent)
        });
        let [(pos, reach_p, extent_p), (neg, reach_q, extent_q)] = &sides;
        let first = b * PRUNE_TILE;
        let rho_c = normalisers.column_ratio;
        let count = lanes.points.len();
        for (k, ((v, lp), lq)) in result
            .field
            .iter_mut()
            .zip(pos)
            .zip(neg)
            .enumerate()
            .take(count)
        {
            let row = normalisers.rows.get(first + k).copied().unwrap_or(0.0);
            let rho_r = normalisers
                .row_ratios
                .get(first + k)
                .copied()
                .map_or(0.0, f64::from);
            // Ŝ+Ŝ− = e^{λ+ + λ− − r̂}; V̂ = Ŝ+Ŝ−(μ̂+ − μ̂−).
            let mass =
                libm::exp(f64::from(lp.log_total) + f64::from(lq.log_total) - f64::from(row));
            let mut field = [0.0_f64; D];
            for ((f, &mp), &mq) in field.iter_mut().zip(&lp.mean).zip(&lq.mean) {
                *f = mass * (f64::from(mp) - f64::from(mq));
            }
            for (slot, &f) in v.iter_mut().zip(&field) {
                #[allow(clippy::cast_possible_truncation)]
                let f = f as f32;
                *slot = f;
            }
            let (rp, rq) = (lp.ratio, lq.ratio);
            let skipped = mass
                * (rp * (reach_p + norm(&lq.mean))
                    + rq * (reach_q + norm(&lp.mean))
                    + rp * rq * (reach_p + reach_q));
            let columns = rho_c * (1.0 + rp) * (1.0 + rq) * mass * (extent_p + extent_q);
            let field_norm = libm::sqrt(field.iter().map(|f| f * f).sum::<f64>());
            let bound = (1.0 + rho_r) * (skipped + columns) + rho_r * field_norm;
            result.bound = result.bound.max(bound);
        }
        result
    }
}
