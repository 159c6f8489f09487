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
use crate::engine::simd::{EXCLUDED_LOGIT, F32s, LANES, exp};
use crate::engine::{LogitRule, PairMask, Shape, check_kernel_range, dispatch_shape, is_laplace};
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
        inverse: rule.inverse_scale,
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
    inverse: f32,
    tolerance: f32,
    step: f32,
}

/// The field of one query tile, point-major in Morton order, and its share of the report.
struct TileResult<const D: usize> {
    field: [[f32; D]; PRUNE_TILE],
    count: usize,
    pairs: u64,
    evaluated: u64,
    bound: f64,
}

/// The streaming kernel sums of one query: running maximum logit, normaliser and displacement
/// sum (relative to the running maximum).
#[derive(Clone, Copy)]
struct Sums<const D: usize> {
    max: f32,
    total: f32,
    displacement: [f32; D],
}

impl<const D: usize> Sums<D> {
    const EMPTY: Self = Self {
        max: EXCLUDED_LOGIT,
        total: 0.0,
        displacement: [0.0; D],
    };

    fn log_total(&self) -> f32 {
        if self.total > 0.0 {
            self.max + libm::logf(self.total)
        } else {
            f32::NEG_INFINITY
        }
    }
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
        let mut toward = [[Sums::<D>::EMPTY; PRUNE_TILE]; 2];
        let mut bounds = [[(0.0_f64, 0.0_f64); PRUNE_TILE]; 2];
        for (side, (targets, masked)) in [(self.positives, false), (self.negatives, self.mask_self)]
            .into_iter()
            .enumerate()
        {
            let (Some(sums), Some(bound)) = (toward.get_mut(side), bounds.get_mut(side)) else {
                continue;
            };
            let (pairs, evaluated) =
                self.tile_sums::<S>(first, tile, query_box, targets, masked, sums, bound);
            result.pairs += pairs;
            result.evaluated += evaluated;
        }
        let [toward_p, toward_q] = &toward;
        let mean = |s: &Sums<D>, d: usize| -> f32 {
            if s.total > 0.0 {
                s.displacement.get(d).copied().unwrap_or(0.0) / s.total
            } else {
                0.0
            }
        };
        for (k, v) in result.field.iter_mut().enumerate().take(tile.len()) {
            let (Some(sp), Some(sq)) = (toward_p.get(k), toward_q.get(k)) else {
                continue;
            };
            // Per mean: (S_skip/Ŝ)·(R + ‖μ̂ − x‖).
            let mut error = 0.0_f64;
            for (side, s) in [sp, sq].into_iter().enumerate() {
                let (ratio, reach) = bounds
                    .get(side)
                    .and_then(|b| b.get(k))
                    .copied()
                    .unwrap_or((0.0, 0.0));
                let norm = libm::sqrt(
                    (0..D)
                        .map(|d| f64::from(mean(s, d)) * f64::from(mean(s, d)))
                        .sum::<f64>(),
                );
                error += ratio * (reach + norm);
            }
            result.bound = result.bound.max(f64::from(self.step.abs()) * error);
            for (d, slot) in v.iter_mut().enumerate() {
                *slot = self.step * (mean(sp, d) - mean(sq, d));
            }
        }
        result
    }

    /// The kernel sums of the query tile (`tile`, sorted positions `first..`) over one target
    /// cloud, pruned; per query in `bounds` the certified ratio `S_skip/Ŝ_i` and the largest
    /// distance `R` to a skipped target. Returns (dense pairs, evaluated pairs).
    #[allow(clippy::too_many_arguments)]
    fn tile_sums<S: Shape>(
        &self,
        first: usize,
        tile: &[[f32; D]],
        query_box: &BoundingBox<D>,
        targets: &Sorted<'_, D>,
        masked: bool,
        sums: &mut [Sums<D>; PRUNE_TILE],
        bounds: &mut [(f64, f64); PRUNE_TILE],
    ) -> (u64, u64) {
        let inverse = F32s::splat(self.inverse);
        let logit_bound = |lower: f32| S::logit(F32s::splat(lower), inverse).to_array()[0];
        let count = |j: usize| {
            targets
                .points
                .len()
                .saturating_sub(j * PRUNE_TILE)
                .min(PRUNE_TILE)
        };
        let u_max = targets
            .boxes
            .iter()
            .map(|b| logit_bound(query_box.squared_distance_bounds(b).0))
            .fold(f32::NEG_INFINITY, f32::max);
        let pairs = tile.len() as u64 * targets.points.len() as u64;
        let mut evaluated = 0_u64;
        // Phase 1: the near tiles.
        for (j, b) in targets.boxes.iter().enumerate() {
            if logit_bound(query_box.squared_distance_bounds(b).0) >= u_max - 1.0 {
                evaluated += self.exact::<S>(first, tile, targets, j, masked, sums);
            }
        }
        let log_min = sums
            .iter()
            .take(tile.len())
            .map(Sums::log_total)
            .fold(f32::INFINITY, f32::min);
        let tolerance = f64::from(self.tolerance);
        // The logit bound of tile `j`, widened by its own f32 rounding (relative 1e-6, far
        // above it), and its share `c_J e^{u_J − L}` of the budget.
        let widened = |u: f32| f64::from(u) + 1e-6 * (1.0 + f64::from(u).abs());
        #[allow(clippy::cast_precision_loss)]
        let share =
            |j: usize, u: f64| libm::exp(libm::log(count(j) as f64) + u - f64::from(log_min));
        // Phase 2a: the budget by buckets of logit bound (`BUCKET_WIDTH` wide below the near
        // tiles' `u_max − 1`, the last one open): the farthest buckets are given to skipping,
        // as long as their summed shares stay within ε.
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
        let mut mass = [0.0_f64; BUCKETS];
        for (j, b) in targets.boxes.iter().enumerate() {
            let u = logit_bound(query_box.squared_distance_bounds(b).0);
            if u < u_max - 1.0
                && let Some(m) = mass.get_mut(bucket(widened(u)))
            {
                *m += share(j, widened(u));
            }
        }
        let mut cut = BUCKETS;
        let mut budget = 0.0_f64;
        for (k, &m) in mass.iter().enumerate().rev() {
            if budget + m > tolerance {
                break;
            }
            budget += m;
            cut = k;
        }
        // Phase 2b: the rest in tile order, skipped when in a bucket given to skipping.
        // `skipped` sums their shares (≤ ε), `reach` is the largest distance bound to a skipped
        // target.
        let (mut skipped, mut reach) = (0.0_f64, 0.0_f64);
        for (j, b) in targets.boxes.iter().enumerate() {
            let (lower, upper) = query_box.squared_distance_bounds(b);
            let u = logit_bound(lower);
            if u >= u_max - 1.0 {
                continue;
            }
            let u = widened(u);
            if log_min.is_finite() && bucket(u) >= cut {
                skipped += share(j, u);
                reach = reach.max(libm::sqrt(f64::from(upper)));
            } else {
                evaluated += self.exact::<S>(first, tile, targets, j, masked, sums);
            }
        }
        // Per query: S_skip ≤ skipped·e^{L}, so S_skip/Ŝ_i ≤ skipped·e^{L − ln Ŝ_i} (< ε).
        for (slot, s) in bounds.iter_mut().zip(sums.iter()).take(tile.len()) {
            let ratio = if skipped > 0.0 {
                skipped * libm::exp(f64::from(log_min) - f64::from(s.log_total()))
            } else {
                0.0
            };
            *slot = (ratio, reach);
        }
        (pairs, evaluated)
    }

    /// Adds the exact contributions of target tile `j` to every query of `tile`; returns the
    /// number of pairs. Eight queries at a time in the lanes: the tile's logits first (one
    /// vector per target), one rescale of the running sums per lane, then one `exp` per pair.
    #[allow(clippy::too_many_lines)]
    fn exact<S: Shape>(
        &self,
        first: usize,
        tile: &[[f32; D]],
        targets: &Sorted<'_, D>,
        j: usize,
        masked: bool,
        sums: &mut [Sums<D>; PRUNE_TILE],
    ) -> u64 {
        let start = j * PRUNE_TILE;
        let members = targets
            .points
            .get(start..(start + PRUNE_TILE).min(targets.points.len()))
            .unwrap_or(&[]);
        let inverse = F32s::splat(self.inverse);
        let excluded = F32s::splat(EXCLUDED_LOGIT);
        let lane_index = F32s::new(core::array::from_fn(|l| {
            #[allow(clippy::cast_precision_loss)]
            let v = l as f32;
            v
        }));
        for (v, (queries, lane_sums)) in tile.chunks(LANES).zip(sums.chunks_mut(LANES)).enumerate()
        {
            let valid = queries.len();
            // Coordinates of the eight queries (the first one repeated in unused lanes).
            let fill = queries.first().copied().unwrap_or([0.0; D]);
            let x: [F32s; D] = core::array::from_fn(|d| {
                F32s::new(core::array::from_fn(|l| {
                    queries
                        .get(l)
                        .unwrap_or(&fill)
                        .get(d)
                        .copied()
                        .unwrap_or(0.0)
                }))
            });
            // The query's own position among the targets (self-mask), as a lane index.
            let own_first = first + v * LANES;
            let mut logits = [excluded; PRUNE_TILE];
            let mut block_max = excluded;
            for ((t, y), logit) in members.iter().enumerate().zip(logits.iter_mut()) {
                let mut sq = F32s::splat(0.0);
                for (&xd, &yd) in x.iter().zip(y) {
                    let diff = F32s::splat(yd) - xd;
                    sq = diff.mul_add(diff, sq);
                }
                let mut l = S::logit(sq, inverse);
                let position = start + t;
                if masked && position >= own_first && position < own_first + LANES {
                    #[allow(clippy::cast_precision_loss)]
                    let own = F32s::splat((position - own_first) as f32);
                    l = lane_index.simd_eq(own).select(excluded, l);
                }
                *logit = l;
                block_max = block_max.fast_max(l);
            }
            let old_max = F32s::new(core::array::from_fn(|l| {
                lane_sums.get(l).map_or(EXCLUDED_LOGIT, |s| s.max)
            }));
            let new_max = old_max.fast_max(block_max);
            let factor = exp(old_max - new_max);
            let mut total = F32s::new(core::array::from_fn(|l| {
                lane_sums.get(l).map_or(0.0, |s| s.total)
            })) * factor;
            let mut displacement: [F32s; D] = core::array::from_fn(|d| {
                F32s::new(core::array::from_fn(|l| {
                    lane_sums
                        .get(l)
                        .and_then(|s| s.displacement.get(d))
                        .copied()
                        .unwrap_or(0.0)
                })) * factor
            });
            for (&l, y) in logits.iter().zip(members) {
                // Excluded pairs (and lanes whose pairs are all excluded so far) weigh 0.
                let w = l
                    .simd_gt(excluded)
                    .select(exp(l - new_max), F32s::splat(0.0));
                total += w;
                for ((acc, &xd), &yd) in displacement.iter_mut().zip(&x).zip(y) {
                    *acc = w.mul_add(F32s::splat(yd) - xd, *acc);
                }
            }
            let (new_max, total) = (new_max.to_array(), total.to_array());
            let displacement = displacement.map(F32s::to_array);
            for (l, s) in lane_sums.iter_mut().enumerate().take(valid) {
                s.max = new_max.get(l).copied().unwrap_or(EXCLUDED_LOGIT);
                s.total = total.get(l).copied().unwrap_or(0.0);
                for (slot, lanes) in s.displacement.iter_mut().zip(&displacement) {
                    *slot = lanes.get(l).copied().unwrap_or(0.0);
                }
            }
        }
        tile.len() as u64 * members.len() as u64
    }
}
