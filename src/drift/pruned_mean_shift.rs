//! The mean-shift drift with certified tile pruning for large low-dimensional clouds.
//!
//! The kernel is local: at the temperatures people train with, a target far from a query
//! contributes `e^{−40}` of a near one. So the clouds are put in Morton order
//! (`spatial.rs`), cut into tiles of [`PRUNE_TILE`] points with bounding boxes, and for each tile
//! of queries and each tile `J` of targets the box-to-box lower bound of the squared distance
//! gives an upper bound `u_J` of every logit between them. Per query tile and target cloud,
//! near target tiles are summed exactly first, then far tiles are skipped, farthest first, as
//! long as an upper bound of their summed kernel mass stays within `ε` times the partial
//! normaliser (the steps and the bound: `pruning.rs`).
//!
//! **Certified error.** The skipped mass of query `i` is `S_skip ≤ ε·Ŝ_i ≤ ε·S_i`, so every
//! normaliser is within relative `ε` of the exact one, and each kernel-weighted mean
//! `μ = Σ_j k_ij y_j / S_i` moves by at most `(S_skip/Ŝ_i)(R_i + ‖μ̂ − x_i‖)` with `R_i` the largest
//! distance from `x_i` to a skipped target (box bound). [`PruneReport::bound`] is the largest such
//! bound on `‖V̂(x_i) − V(x_i)‖` over the queries (both means, times `|η|`); tested against the
//! dense drift in `tests/pruned.rs`. The summed tiles are exact up to `f32` rounding, like the
//! dense operator.
//!
//! The cost is `O(N·M/TILE²)` box tests plus the pairs of the tiles not skipped. With feature
//! `std`, query tiles run on the rayon pool (the same bits whatever the number of threads).

use crate::cloud::CloudView;
use crate::drift::mean_shift::{MeanShiftConfig, mean_shift_drift};
use crate::drift::pruning::{
    BLOCKS, Family, LaneTile, SortedClouds, TileField, check_tolerance, check_workspace, lane_sums,
    norm, pruned_sums, pruning_pays_at, scatter_query_tiles, spatial_workspace_len,
};
pub use crate::drift::pruning::{PRUNE_TILE, PruneReport, PrunedWorkspace};
use crate::drift::{Negatives, validate_clouds};
use crate::engine::chunks::Exec;
use crate::engine::simd::F32s;
use crate::engine::{
    DisplacementSums, LogitRule, PairMask, Shape, check_kernel_range, dispatch_shape, is_laplace,
};
use crate::error::Error;

/// Configuration of [`pruned_mean_shift_drift`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PrunedMeanShiftConfig {
    /// The drift itself (kernel, step, self-pair exclusion).
    pub mean_shift: MeanShiftConfig,
    /// The relative error `ε` allowed in every normaliser, in `(0, 1)` (e.g. `1e-6`).
    pub tolerance: f32,
}

/// Buffer lengths of [`PrunedWorkspace`] for `n` queries, `p` positives and `q` negatives
/// (`q = 0` when the negatives are the queries): `(keys, points, boxes)`; `None` on overflow.
#[must_use]
pub const fn pruned_mean_shift_workspace_len(
    n: usize,
    p: usize,
    q: usize,
) -> Option<(usize, usize, usize)> {
    spatial_workspace_len(n, p, q)
}

/// [`mean_shift_drift`] with certified tile pruning: the same field up to a relative error `ε` in
/// every normaliser (module documentation), in `O(N·M/T²)` box tests plus the pairs of the near
/// tiles. Output coordinate-major (`V_d(x_i)` at `out[d·N + i]`), in the caller's order.
///
/// Where pruning cannot pay ([`pruning_pays`](crate::pruning_pays) is `false`: the kernel's
/// reach is most of the clouds' diameter) it runs `mean_shift_drift` instead: its bits, every
/// pair evaluated, a zero bound.
///
/// # Errors
/// Those of `mean_shift_drift`; [`Error::InvalidParameter`] (`"tolerance"`) unless
/// `0 < ε < 1`; [`Error::ShapeMismatch`] for workspace buffers of the wrong length.
pub fn pruned_mean_shift_drift<const D: usize>(
    queries: &CloudView<'_, D>,
    positives: &CloudView<'_, D>,
    negatives: Negatives<'_, D>,
    config: &PrunedMeanShiftConfig,
    workspace: PrunedWorkspace<'_, D>,
    out: &mut [f32],
) -> Result<PruneReport, Error> {
    let given = negatives;
    let (negatives, is_self) = validate_clouds(queries, positives, negatives, out)?;
    let ms = &config.mean_shift;
    ms.kernel.validate()?;
    if !ms.step.is_finite() {
        return Err(Error::InvalidParameter { input: "step" });
    }
    check_tolerance(config.tolerance)?;
    let diameter2 = check_kernel_range(&ms.kernel, &[queries, positives, &negatives], 0.0)?;
    if f64::from(ms.step.abs()) * libm::sqrt(diameter2) > 1.0e37 {
        return Err(Error::OutOfRange { input: "step" });
    }
    let q = if is_self { 0 } else { negatives.len() };
    check_workspace(&workspace, queries.len(), positives.len(), q)?;
    if !pruning_pays_at(&ms.kernel, config.tolerance, diameter2) {
        mean_shift_drift(queries, positives, given, ms, out)?;
        let targets = positives.len() + negatives.len();
        return Ok(PruneReport::exact(queries.len() as u64 * targets as u64));
    }
    let separate = (!is_self).then_some(&negatives);
    let clouds = SortedClouds::sort(queries, positives, separate, workspace)?;
    let sweep = Sweep {
        clouds: &clouds,
        mask_self: is_self && ms.exclude_self,
        rule: LogitRule::new(&ms.kernel, PairMask::Exclude),
        tolerance: config.tolerance,
        step: ms.step,
    };
    let exec = Exec::current();
    let report = dispatch_shape!(is_laplace(&ms.kernel), S => scatter_query_tiles(
        exec,
        &clouds,
        |b| sweep.query_tile::<S>(b),
        PruneReport::EMPTY,
        out,
    ));
    Ok(report)
}

/// The sorted clouds and parameters of one pruned evaluation.
struct Sweep<'s, 'w, const D: usize> {
    clouds: &'s SortedClouds<'w, D>,
    mask_self: bool,
    rule: LogitRule,
    tolerance: f32,
    step: f32,
}

impl<const D: usize> Sweep<'_, '_, D> {
    /// The field of query tile `b` (in Morton order) and its share of the report.
    fn query_tile<S: Shape>(&self, b: usize) -> TileField<D> {
        let mut result = TileField::new();
        let Some(lanes) = LaneTile::new(&self.clouds.queries, b) else {
            return result;
        };
        // Per side and query: the mean `μ̂ − x`, `S_skip/Ŝ` and the reach `R` of the skipped
        // targets.
        let sides = [
            (&self.clouds.positives, false),
            (self.clouds.negatives(), self.mask_self),
        ]
        .map(|(cloud, masked)| {
            let family = Family::plain(cloud, masked);
            let mut sums = [DisplacementSums::<D>::new(); BLOCKS];
            let pruned =
                pruned_sums::<S, _, D>(&lanes, &[family], &self.rule, self.tolerance, &mut sums);
            result.pairs += pruned.pairs;
            result.evaluated += pruned.evaluated;
            let lanes = lane_sums(&lanes, &sums, &pruned, |s| s.mean().map(F32s::to_array));
            (lanes, pruned.reach)
        });
        let [(toward_p, reach_p), (toward_q, reach_q)] = &sides;
        for ((v, mp), mq) in result.field.iter_mut().zip(toward_p).zip(toward_q) {
            // Per mean: (S_skip/Ŝ)·(R + ‖μ̂ − x‖).
            let mut error = 0.0_f64;
            for (lane, reach) in [(mp, reach_p), (mq, reach_q)] {
                if lane.ratio > 0.0 {
                    error += lane.ratio * (reach + norm(&lane.mean));
                }
            }
            result.bound = result.bound.max(f64::from(self.step.abs()) * error);
            for ((slot, &p), &q) in v.iter_mut().zip(&mp.mean).zip(&mq.mean) {
                *slot = self.step * (p - q);
            }
        }
        result
    }
}
