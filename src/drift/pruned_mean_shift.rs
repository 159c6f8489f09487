//! The mean-shift drift with certified tile pruning for large low-dimensional clouds.
//!
//! The kernel is local: at the temperatures people train with, a target far from a query
//! contributes `e^{−40}` of a near one. So the clouds are put in Morton order
//! (`spatial.rs`), cut into tiles of [`PRUNE_TILE`] points with bounding boxes, and for each tile
//! of queries and each tile `J` of targets the box-to-box lower bound of the squared distance
//! gives an upper bound `u_J` of every logit between them. Per query tile:
//!
//! 1. **Near tiles first, exactly**: every target tile with `u_J ≥ max_J u_J − 1`, giving each
//!    query a partial normaliser `Ŝ_i = Σ_j e^{l_ij}`; `L = min_i ln Ŝ_i` over the query tile.
//! 2. **The far tiles within budget are skipped**: the other tiles' bounds `c_J e^{u_J}` (`c_J`
//!    points) are summed into buckets of `u_J` (0.5 wide); from the farthest bucket on, whole
//!    buckets are given to skipping as long as their sum stays within `ε e^{L}` (`ε` the
//!    tolerance). Every tile of those buckets is skipped, every other one summed exactly, in tile
//!    order.
//!
//! **Certified error.** The skipped mass of query `i` is `S_skip ≤ Σ_skipped c_J e^{u_J} ≤
//! ε e^{L} ≤ ε·Ŝ_i ≤ ε·S_i`,
//! so every normaliser is within relative `ε` of the exact one, and each kernel-weighted mean
//! `μ = Σ_j k_ij y_j / S_i` moves by at most `(S_skip/Ŝ_i)(R_i + ‖μ̂ − x_i‖)` with `R_i` the largest
//! distance from `x_i` to a skipped target (box bound). [`PruneReport::bound`] is the largest such
//! bound on `‖V̂(x_i) − V(x_i)‖` over the queries (both means, times `|η|`); tested against the
//! dense drift in `tests/pruned.rs`. The summed tiles are exact up to `f32` rounding, like the
//! dense operator.
//!
//! The cost is `O(N·M/TILE²)` box tests plus the pairs of the tiles not skipped. With feature
//! `std`, query tiles run on the rayon pool (the same bits whatever the number of threads).

use crate::cloud::CloudView;
use crate::drift::mean_shift::MeanShiftConfig;
use crate::drift::{Negatives, validate_clouds};
use crate::engine::chunks::Exec;
use crate::engine::simd::{F32s, LANES};
use crate::engine::{
    Block, DisplacementSums, LogitRule, PairMask, Partners, Shape, check_kernel_range,
    dispatch_shape, is_laplace, sweep,
};
use crate::error::Error;
use crate::spatial::{BoundingBox, MortonOrder};

/// Points per tile of the pruned sweep.
pub const PRUNE_TILE: usize = 64;

/// Buckets of the skipping budget (logit bounds below the near tiles', `BUCKET_WIDTH` apart; the
/// last one holds everything farther).
const BUCKETS: usize = 128;

/// Width of one budget bucket in logit units (a factor `e^{0.5}` of kernel value).
const BUCKET_WIDTH: f64 = 0.5;

/// Configuration of [`pruned_mean_shift_drift`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PrunedMeanShiftConfig {
    /// The drift itself (kernel, step, self-pair exclusion).
    pub mean_shift: MeanShiftConfig,
    /// The relative error `ε` allowed in every normaliser, in `(0, 1)` (e.g. `1e-6`).
    pub tolerance: f32,
}

/// What a pruned evaluation did and the error bound it certifies.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PruneReport {
    /// Query-target pairs of the dense evaluation (`N·(P + Q)`).
    pub pairs: u64,
    /// Pairs actually evaluated.
    pub evaluated: u64,
    /// The largest certified bound of `‖V̂(x_i) − V(x_i)‖` over the queries (0 when nothing was
    /// skipped), besides `f32` rounding.
    pub bound: f64,
}

/// Buffer lengths of [`PrunedWorkspace`] for `n` queries, `p` positives and `q` negatives
/// (`q = 0` when the negatives are the queries): `(keys, points, boxes)`; `None` on overflow.
#[must_use]
pub const fn pruned_mean_shift_workspace_len(
    n: usize,
    p: usize,
    q: usize,
) -> Option<(usize, usize, usize)> {
    let Some(points) = n.checked_add(p) else {
        return None;
    };
    let Some(points) = points.checked_add(q) else {
        return None;
    };
    let boxes = n.div_ceil(PRUNE_TILE) + p.div_ceil(PRUNE_TILE) + q.div_ceil(PRUNE_TILE);
    Some((points, points, boxes))
}

/// Caller-owned buffers of [`pruned_mean_shift_drift`], lengths from
/// [`pruned_mean_shift_workspace_len`].
#[derive(Debug)]
pub struct PrunedWorkspace<'a, const D: usize> {
    /// Morton keys of every cloud.
    pub keys: &'a mut [u64],
    /// The points of every cloud in Morton order.
    pub points: &'a mut [[f32; D]],
    /// The tile boxes of every cloud.
    pub boxes: &'a mut [BoundingBox<D>],
}

/// One cloud in Morton order: its points, their original indices, its tiles' boxes.
struct Sorted<'w, const D: usize> {
    points: &'w [[f32; D]],
    boxes: &'w [BoundingBox<D>],
}

/// Sorts `cloud` into the front of the three buffers and returns the sorted cloud, its order
/// (original index per sorted position) and the rest of the buffers.
#[allow(clippy::type_complexity)]
fn sort_cloud<'w, const D: usize>(
    cloud: &CloudView<'_, D>,
    keys: &'w mut [u64],
    points: &'w mut [[f32; D]],
    boxes: &'w mut [BoundingBox<D>],
) -> Result<
    (
        Sorted<'w, D>,
        &'w [u64],
        &'w mut [u64],
        &'w mut [[f32; D]],
        &'w mut [BoundingBox<D>],
    ),
    Error,
> {
    let n = cloud.len();
    let tiles = n.div_ceil(PRUNE_TILE);
    let (key_slot, keys_rest) = keys.split_at_mut(n.min(keys.len()));
    let (point_slot, points_rest) = points.split_at_mut(n.min(points.len()));
    let (box_slot, boxes_rest) = boxes.split_at_mut(tiles.min(boxes.len()));
    // Original order first (the sort reads it), then gathered into Morton order.
    for (slot, p) in point_slot.iter_mut().zip(cloud.points()) {
        *slot = p;
    }
    let order = MortonOrder::sort(point_slot, key_slot)?;
    // Gathered in Morton order (the original points are re-read from the view).
    for (slot, i) in point_slot.iter_mut().zip(order.indices()) {
        if let Some(p) = cloud.point(i) {
            *slot = p;
        }
    }
    let key_slot = &*key_slot;
    for (slot, members) in box_slot.iter_mut().zip(point_slot.chunks(PRUNE_TILE)) {
        *slot = BoundingBox::of(members.iter()).ok_or(Error::NonFinite { input: "points" })?;
    }
    Ok((
        Sorted {
            points: point_slot,
            boxes: box_slot,
        },
        key_slot,
        keys_rest,
        points_rest,
        boxes_rest,
    ))
}

/// [`mean_shift_drift`](crate::mean_shift_drift) with certified tile pruning: the same field up
/// to a relative error `ε` in every normaliser (module documentation), in `O(N·M/T²)` box tests
/// plus the pairs of the near tiles. Output coordinate-major (`V_d(x_i)` at `out[d·N + i]`), in
/// the caller's order.
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
    let (negatives, is_self) = validate_clouds(queries, positives, negatives, out)?;
    let ms = &config.mean_shift;
    ms.kernel.validate()?;
    if !ms.step.is_finite() {
        return Err(Error::InvalidParameter { input: "step" });
    }
    if !(config.tolerance > 0.0 && config.tolerance < 1.0) {
        return Err(Error::InvalidParameter { input: "tolerance" });
    }
    let diameter2 = check_kernel_range(&ms.kernel, &[queries, positives, &negatives], 0.0)?;
    if f64::from(ms.step.abs()) * libm::sqrt(diameter2) > 1.0e37 {
        return Err(Error::OutOfRange { input: "step" });
    }
    let (n, p) = (queries.len(), positives.len());
    let q = if is_self { 0 } else { negatives.len() };
    let Some((keys_len, points_len, boxes_len)) = pruned_mean_shift_workspace_len(n, p, q) else {
        return Err(Error::InvalidParameter { input: "workspace" });
    };
    for (input, expected, found) in [
        ("keys", keys_len, workspace.keys.len()),
        ("points", points_len, workspace.points.len()),
        ("boxes", boxes_len, workspace.boxes.len()),
    ] {
        if expected != found {
            return Err(Error::ShapeMismatch {
                input,
                expected,
                found,
            });
        }
    }
    let (sorted_q, order_q, keys, points, boxes) =
        sort_cloud(queries, workspace.keys, workspace.points, workspace.boxes)?;
    let (sorted_p, _, keys, points, boxes) = sort_cloud(positives, keys, points, boxes)?;
    let sorted_neg = if is_self {
        None
    } else {
        Some(sort_cloud(&negatives, keys, points, boxes)?.0)
    };
    let rule = LogitRule::new(&ms.kernel, PairMask::Exclude);
    let sweep = Sweep {
        queries: &sorted_q,
        order: order_q,
        positives: &sorted_p,
        negatives: sorted_neg.as_ref().unwrap_or(&sorted_q),
        mask_self: is_self && ms.exclude_self,
        rule,
        tolerance: config.tolerance,
        step: ms.step,
    };
    let report = dispatch_shape!(is_laplace(&ms.kernel), S => sweep.run::<S>(out));
    Ok(report)
}

/// The sorted clouds and parameters of one pruned evaluation.
struct Sweep<'s, 'w, const D: usize> {
    queries: &'s Sorted<'w, D>,
    order: &'s [u64],
    positives: &'s Sorted<'w, D>,
    negatives: &'s Sorted<'w, D>,
    mask_self: bool,
    rule: LogitRule,
    tolerance: f32,
    step: f32,
}

/// Lane blocks per query tile.
const BLOCKS: usize = PRUNE_TILE / LANES;

/// What pruning one query tile against one target cloud did: the pairs of the dense sweep and
/// those evaluated, `L` (the smallest partial log-normaliser after the near tiles), the skipped
/// tiles' summed shares `Σ c_J e^{u_J − L}` (≤ ε) and the largest distance bound to them.
struct Pruned {
    pairs: u64,
    evaluated: u64,
    log_min: f32,
    skipped: f64,
    reach: f64,
}

/// The field of one query tile, point-major in Morton order, and its share of the report.
struct TileResult<const D: usize> {
    field: [[f32; D]; PRUNE_TILE],
    count: usize,
    pairs: u64,
    evaluated: u64,
    bound: f64,
}

impl<const D: usize> Sweep<'_, '_, D> {
    /// Every query tile (serially, or with feature `std` on the rayon pool: each tile is
    /// independent, so the bits do not depend on the number of threads), scattered into `out`
    /// in the caller's order.
    fn run<S: Shape>(&self, out: &mut [f32]) -> PruneReport {
        let n = self.queries.points.len();
        let mut report = PruneReport {
            pairs: 0,
            evaluated: 0,
            bound: 0.0,
        };
        let mut scatter = |b: usize, tile: &TileResult<D>| {
            report.pairs += tile.pairs;
            report.evaluated += tile.evaluated;
            report.bound = report.bound.max(tile.bound);
            for (k, v) in tile.field.iter().enumerate().take(tile.count) {
                let i = self
                    .order
                    .get(b * PRUNE_TILE + k)
                    .map_or(usize::MAX, |&key| (key & 0xFFFF_FFFF) as usize);
                for (d, &value) in v.iter().enumerate() {
                    if let Some(slot) = out.get_mut(d * n + i) {
                        *slot = value;
                    }
                }
            }
        };
        match Exec::current() {
            Exec::Serial => {
                for b in 0..self.queries.boxes.len() {
                    scatter(b, &self.query_tile::<S>(b));
                }
            }
            #[cfg(feature = "std")]
            Exec::Rayon => {
                use rayon::prelude::*;
                let tiles: std::vec::Vec<TileResult<D>> = (0..self.queries.boxes.len())
                    .into_par_iter()
                    .map(|b| self.query_tile::<S>(b))
                    .collect();
                for (b, tile) in tiles.iter().enumerate() {
                    scatter(b, tile);
                }
            }
        }
        report
    }

    /// The field of query tile `b` (in Morton order) and its share of the report.
    fn query_tile<S: Shape>(&self, b: usize) -> TileResult<D> {
        let n = self.queries.points.len();
        let first = b * PRUNE_TILE;
        let tile = self
            .queries
            .points
            .get(first..(first + PRUNE_TILE).min(n))
            .unwrap_or(&[]);
        let mut result = TileResult {
            field: [[0.0; D]; PRUNE_TILE],
            count: tile.len(),
            pairs: 0,
            evaluated: 0,
            bound: 0.0,
        };
        let Some(query_box) = self.queries.boxes.get(b) else {
            return result;
        };
        // The tile's queries as lane blocks (positions relative to the tile's first point).
        let view = CloudView::from_points(tile);
        let blocks: [Block<D>; BLOCKS] =
            core::array::from_fn(|v| Block::gather(&view, (v * LANES).min(tile.len().max(1) - 1)));
        let blocks = blocks.get(..tile.len().div_ceil(LANES)).unwrap_or(&[]);
        // Per side: the means `μ̂ − x`, and per query `(S_skip/Ŝ, R)`.
        let mut means = [[[0.0_f32; D]; PRUNE_TILE]; 2];
        let mut bounds = [[(0.0_f64, 0.0_f64); PRUNE_TILE]; 2];
        for (side, (targets, masked)) in [(self.positives, false), (self.negatives, self.mask_self)]
            .into_iter()
            .enumerate()
        {
            let (Some(side_means), Some(side_bounds)) = (means.get_mut(side), bounds.get_mut(side))
            else {
                continue;
            };
            let mut sums = [DisplacementSums::<D>::new(); BLOCKS];
            let pruned = self.tile_sums::<S>(b, blocks, query_box, targets, masked, &mut sums);
            result.pairs += pruned.pairs;
            result.evaluated += pruned.evaluated;
            for (v, (block, sums)) in blocks.iter().zip(&sums).enumerate() {
                let (mean, log_total) = (sums.mean().map(F32s::to_array), sums.lse.value());
                for l in 0..block.valid {
                    let k = v * LANES + l;
                    if let Some(slot) = side_means.get_mut(k) {
                        *slot = core::array::from_fn(|d| {
                            mean.get(d).and_then(|m| m.get(l)).copied().unwrap_or(0.0)
                        });
                    }
                    // S_skip ≤ skipped·e^{L}, so S_skip/Ŝ_i ≤ skipped·e^{L − ln Ŝ_i} (≤ ε).
                    if let (Some(slot), Some(&lt)) = (side_bounds.get_mut(k), log_total.get(l))
                        && pruned.skipped > 0.0
                    {
                        let ratio =
                            pruned.skipped * libm::exp(f64::from(pruned.log_min) - f64::from(lt));
                        *slot = (ratio, pruned.reach);
                    }
                }
            }
        }
        let [toward_p, toward_q] = &means;
        for (k, v) in result.field.iter_mut().enumerate().take(tile.len()) {
            let (Some(mp), Some(mq)) = (toward_p.get(k), toward_q.get(k)) else {
                continue;
            };
            // Per mean: (S_skip/Ŝ)·(R + ‖μ̂ − x‖).
            let mut error = 0.0_f64;
            for (side, m) in [mp, mq].into_iter().enumerate() {
                let (ratio, reach) = bounds
                    .get(side)
                    .and_then(|b| b.get(k))
                    .copied()
                    .unwrap_or((0.0, 0.0));
                let norm = libm::sqrt(m.iter().map(|&c| f64::from(c) * f64::from(c)).sum::<f64>());
                error += ratio * (reach + norm);
            }
            result.bound = result.bound.max(f64::from(self.step.abs()) * error);
            for ((slot, &p), &q) in v.iter_mut().zip(mp).zip(mq) {
                *slot = self.step * (p - q);
            }
        }
        result
    }

    /// The kernel sums of query tile `b` (its lane `blocks`) over one target cloud, pruned.
    fn tile_sums<S: Shape>(
        &self,
        b: usize,
        blocks: &[Block<D>],
        query_box: &BoundingBox<D>,
        targets: &Sorted<'_, D>,
        masked: bool,
        sums: &mut [DisplacementSums<D>; BLOCKS],
    ) -> Pruned {
        let inverse = F32s::splat(self.rule.inverse_scale);
        let logit_bound = |lower: f32| S::logit(F32s::splat(lower), inverse).to_array()[0];
        // The logit bound of a tile widened by its own f32 rounding (relative 1e-6, far above
        // it).
        let widened = |u: f32| f64::from(u) + 1e-6 * (1.0 + f64::from(u).abs());
        #[allow(clippy::cast_precision_loss)]
        let log_count = |j: usize| {
            libm::log(
                targets
                    .points
                    .len()
                    .saturating_sub(j * PRUNE_TILE)
                    .min(PRUNE_TILE) as f64,
            )
        };
        let u_max = targets
            .boxes
            .iter()
            .map(|t| logit_bound(query_box.squared_distance_bounds(t).0))
            .fold(f32::NEG_INFINITY, f32::max);
        let queries: usize = blocks.iter().map(|block| block.valid).sum();
        let mut out = Pruned {
            pairs: queries as u64 * targets.points.len() as u64,
            evaluated: 0,
            log_min: f32::INFINITY,
            skipped: 0.0,
            reach: 0.0,
        };
        // Buckets of the far tiles' logit bounds, `BUCKET_WIDTH` wide below the near tiles'
        // `u_max − 1` (the last one open).
        let bucket = |u: f64| -> usize {
            let depth = (f64::from(u_max) - 1.0 - u) / BUCKET_WIDTH;
            if depth >= BUCKETS as f64 - 1.0 {
                BUCKETS - 1
            } else if depth > 0.0 {
                // 0 < depth < BUCKETS − 1: the truncation is in range.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let k = depth as usize;
                k
            } else {
                0
            }
        };
        // Phase 1: the near tiles, exactly; `L` the smallest partial log-normaliser.
        for (j, t) in targets.boxes.iter().enumerate() {
            if logit_bound(query_box.squared_distance_bounds(t).0) >= u_max - 1.0 {
                out.evaluated += self.exact::<S>(b, blocks, targets, j, masked, sums);
            }
        }
        for (block, sums) in blocks.iter().zip(sums.iter()) {
            for &lt in sums.lse.value().iter().take(block.valid) {
                out.log_min = out.log_min.min(lt);
            }
        }
        let log_min = f64::from(out.log_min);
        // The share `c_J e^{u_J − L}` of far tile `j` (logit bound `u`, widened).
        let share = |j: usize, u: f64| libm::exp(log_count(j) + u - log_min);
        // The far tiles' shares summed per bucket; whole buckets, farthest first, are given to
        // skipping while their sum stays within ε.
        let mut mass = [0.0_f64; BUCKETS];
        for (j, t) in targets.boxes.iter().enumerate() {
            let u = logit_bound(query_box.squared_distance_bounds(t).0);
            if u < u_max - 1.0
                && let Some(m) = mass.get_mut(bucket(widened(u)))
            {
                *m += share(j, widened(u));
            }
        }
        let tolerance = f64::from(self.tolerance);
        let (mut cut, mut budget) = (BUCKETS, 0.0_f64);
        for (k, &m) in mass.iter().enumerate().rev() {
            if budget + m > tolerance {
                break;
            }
            budget += m;
            cut = k;
        }
        // Phase 2: the far tiles in tile order, skipped when in a bucket given to skipping
        // (`skipped` sums their shares, ≤ ε; `reach` is the largest distance
        // bound to a skipped target), else summed exactly.
        for (j, t) in targets.boxes.iter().enumerate() {
            let (lower, upper) = query_box.squared_distance_bounds(t);
            let u = logit_bound(lower);
            if u >= u_max - 1.0 {
                continue;
            }
            let u = widened(u);
            if log_min.is_finite() && bucket(u) >= cut {
                out.skipped += share(j, u);
                out.reach = out.reach.max(libm::sqrt(f64::from(upper)));
            } else {
                out.evaluated += self.exact::<S>(b, blocks, targets, j, masked, sums);
            }
        }
        out
    }

    /// Folds target tile `j` exactly into the sums of every lane block of query tile `b`
    /// through the engine's sweep (the self-pairs are masked there: the queries of tile `b`
    /// are the negatives of tile `b` when `masked`); returns the number of pairs.
    fn exact<S: Shape>(
        &self,
        b: usize,
        blocks: &[Block<D>],
        targets: &Sorted<'_, D>,
        j: usize,
        masked: bool,
        sums: &mut [DisplacementSums<D>; BLOCKS],
    ) -> u64 {
        let start = j * PRUNE_TILE;
        let members = targets
            .points
            .get(start..(start + PRUNE_TILE).min(targets.points.len()))
            .unwrap_or(&[]);
        let partners = Partners::new(CloudView::from_points(members), masked && j == b);
        let mut queries = 0_u64;
        for (block, sums) in blocks.iter().zip(sums.iter_mut()) {
            sweep::<D, S>(block, &partners, &self.rule, |tile| {
                sums.absorb(tile, &block.coords);
            });
            queries += block.valid as u64;
        }
        queries * members.len() as u64
    }
}
