//! The machinery of certified tile pruning, shared by the pruned drifts (`pruned_mean_shift.rs`,
//! `pruned_two_axis.rs`, `pruned_mmd_flow.rs`) and the pruned Sinkhorn softmins
//! (`src/sinkhorn/pruned.rs`).
//!
//! Every cloud is put in Morton order (`spatial.rs`) in the caller's workspace, each run of
//! `GROUP·PRUNE_TILE = 1024` points then ordered by halving (split at the middle along the longest
//! axis of the run's box, each half in turn, down to 8 points), and cut into tiles of
//! [`PRUNE_TILE`] points with bounding boxes. The halving makes every tile and lane block a compact
//! cell: a run of 64 Morton-ordered points can straddle two cells of the Morton grid, and its box
//! then spans both (uniform 2D cloud of 262 144 points: median tile diagonal 5.5 τ at `τ = 0.05`
//! against 3.5 τ for a square of 64 points; two-axis drift at `ε = 1e-3`: 1.99 % of the pairs
//! summed in Morton order, 1.69 % halved). A *lane tile* (one tile of the cloud whose points get a
//! value: queries for rows, targets for columns) is summed against one or more *families* of target
//! tiles. Its points form `BLOCKS = 8` *lane blocks* of 8 consecutive points (one SIMD vector
//! each), each with its own box. For each target tile `J` and block `v` the box-to-box lower bound
//! of the squared distance gives an upper bound `u_vJ` of every logit between the two (plus, when
//! the family carries per-target biases such as `−c_j/2`, the largest bias of the tile; the eight
//! bounds in one SIMD vector), and `u_J = max_v u_vJ`. Then ([`pruned_sums`]):
//!
//! 1. **Near tiles first, exactly**: every target tile with `u_J ≥ max_J u_J − 1` (minus the
//!    biases' spread within tiles, [`TargetBias`]), or whose bound without the biases is within
//!    1 of the largest group bound without them, for every block, giving each lane a partial
//!    normaliser `Ŝ_i = Σ_j e^{l_ij}`; `L_v = min_{i ∈ v} ln Ŝ_i` per block. The second set
//!    matters when the biases vary across tiles: in the two-axis affinity pass a sparse
//!    target's `−ĉ_j/2` is large, so a far tile of sparse targets can hold the largest bound
//!    and leave the dense tiles next to the lanes out of `L_v`, shrinking every block's budget
//!    (checkerboard of 262 144 points, `ε = 1e-3`: the affinity pass summed 8.7 % of its pairs
//!    with the first set alone, about 2.8 % with both, about as many as a normaliser pass).
//! 2. **The far tiles within each block's budget are skipped for that block**: the other tiles'
//!    points are counted per block in buckets of `u_vJ` (1/8 wide); a bucket of `C_vb` points
//!    whose bounds are at most `t_b` (its upper edge) weighs `C_vb e^{t_b} ≥ Σ_{J ∈ b}
//!    c_J e^{u_vJ}` (`c_J` points per tile); from the farthest bucket on, whole buckets are given
//!    to block `v`'s skipping as long as their weights stay within `ε e^{L_v}` (`ε` the
//!    tolerance): no `exp` per bucket or tile pair (the bucket factors are a geometric
//!    sequence). A tile is then summed exactly for the blocks whose budget did not take it (one
//!    sweep per run of consecutive blocks), in tile order, and skipped for the others.
//!
//! Bounding blocks rather than whole tiles matters: a 64-point tile's box is about twice as wide
//! as a block's, and every pair is bounded at the boxes' smallest distance, so the tile bound
//! overestimated a far tile's weight by up to `e^{w/τ}` for a tile `w` wide (Laplace kernel),
//! spending the budget early and summing more tiles. Per block, two-axis drift on a uniform cloud
//! of 262 144 points, `τ = 0.05`, `ε = 1e-3`: 1.99 % of the pairs summed against 2.7 % per tile.
//!
//! **Two levels.** Steps 1 and 2 bound every target tile against every lane tile: `N·M/T²` box
//! tests per pass, the largest part of the bookkeeping at `N = 262 144`. So the tiles are also
//! taken in groups of `GROUP = 16` consecutive tiles (close in space by the Morton order), whose
//! union box (kept in the workspace with the tiles' boxes) gives a bound `u_G ≥ u_J` of all
//! their logits. The largest `u_J` is searched only in the groups with `u_G` above the largest
//! so far; a group whose `u_G` lies deep below the near tiles' (`ln(4·targets/ε) +
//! max_J u_J − 1 − min_v L_v` logit units: all targets there weigh at most `ε/4` of every
//! block's partial normaliser) is counted in the bucket of `u_G` (its weight over-, never
//! underestimated) and skipped or summed as a whole, without its tiles' bounds. A skipped group's
//! distance bound stands for its tiles' in the reach.
//!
//! **Stack.** [`pruned_sums`] keeps its bucket counts on the stack: `8 × 512` counts of 4 bytes
//! per lane block, 512 for the far groups and 2048 group entries of 2 bytes, about 25 KB per call
//! (per thread with feature `std`), against 4 KB with one count array per tile.
//!
//! So the skipped mass of lane `i` in block `v` is at most `ρ_i·Ŝ_i` with
//! `ρ_i = Σ_{b skipped for v} C_vb e^{t_b − ln Ŝ_i} ≤ ε` ([`Pruned::ratio`]), and every skipped
//! target is at most [`Pruned::reach`] from it. The tiles summed exactly go through the engine's
//! `sweep` and online log-sum-exp, like the dense operators.

use crate::cloud::CloudView;
use crate::engine::chunks::Exec;
use crate::engine::simd::{F32s, LANES, OnlineLogSumExp};
use crate::engine::sweep::Tile;
use crate::engine::{
    Block, DisplacementSums, LogitRule, Partners, Shape, squared_diameter, sweep_blocks,
};
use crate::error::Error;
use crate::kernel::Kernel;
use crate::spatial::{BoundingBox, MortonOrder, round_down};

/// Points per tile of the pruned sweep.
pub const PRUNE_TILE: usize = 64;

/// Buckets of the skipping budget (logit bounds below the near tiles', `BUCKET_WIDTH` apart, 64
/// logit units in all; the last one holds everything farther).
const BUCKETS: usize = 512;

/// Width of one budget bucket in logit units: a tile's share is overestimated by at most
/// `e^{1/8} ≈ 1.13` when its bucket's upper edge stands for its own bound.
const BUCKET_WIDTH: f64 = 0.125;

/// Tiles per group of the two-level scan of [`pruned_sums`]: consecutive tiles (close in
/// space, by the Morton order) whose union box bounds all their logits at once, so that a group
/// wholly in the farthest budget bucket is counted and skipped without its tiles' bounds.
const GROUP: usize = 16;

/// Lane blocks per tile.
pub(crate) const BLOCKS: usize = PRUNE_TILE / LANES;

/// What a pruned evaluation did and the error bound it certifies.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PruneReport {
    /// Pairs of the dense evaluation (the mean shift: `N·(P + Q)`; the two-axis drift: those of
    /// its row, column and affinity passes; a Sinkhorn solve: those of all its softmins).
    pub pairs: u64,
    /// Pairs actually evaluated.
    pub evaluated: u64,
    /// The largest certified bound of `‖V̂(x_i) − V(x_i)‖` over the queries (0 when nothing was
    /// skipped), besides `f32` rounding. For one solve of
    /// [`pruned_sinkhorn_divergence`](crate::pruned_sinkhorn_divergence): the sum over its
    /// softmins of their largest certified error `ε ln(1 + ρ_i)`, which bounds how far its
    /// potentials are from the exact solve's after the same iterations.
    pub bound: f64,
}

impl PruneReport {
    /// Nothing evaluated yet.
    pub(crate) const EMPTY: Self = Self {
        pairs: 0,
        evaluated: 0,
        bound: 0.0,
    };

    /// The exact sweep ran instead ([`pruning_pays`] was `false`): every one of `pairs`
    /// evaluated, nothing skipped.
    pub(crate) const fn exact(pairs: u64) -> Self {
        Self {
            pairs,
            evaluated: pairs,
            bound: 0.0,
        }
    }
}

/// Ratio of the kernel's reach to the clouds' diameter from which the pruned drifts run the
/// exact sweep instead ([`pruning_pays`]).
///
/// Measured with `examples/pruning` (uniform 2D clouds on `[−4, 4]²`, diameter 11.3, Laplace
/// kernel, `ε = 1e-6`, one thread, x86-64-v3), pruned against exact time:
///
/// | `τ` | reach / diameter | `N = 512` | `N = 8192` | `N = 32 768` |
/// | --- | ---: | --- | --- | --- |
/// | 0.05 | 0.07 | 1.4× / 1.2× | 7.1× / 5.3× | 12.5× / 10.2× |
/// | 0.2 | 0.30 | | 1.5× / 1.4× | 2.0× / 1.7× |
/// | 0.3 | 0.45 | 0.9× / 0.9× | 1.2× / 1.1× | |
/// | 0.4 | 0.60 | 0.9× / 0.8× | 1.1× / 0.9× | |
/// | 0.5 | 0.74 | | 1.0× / 0.9× (99 % of the pairs evaluated) | 1.1× / 0.9× (98 %) |
/// | 1, 2 | ≥ 1.5 | | 1.0× / 0.9× (100 %) | 1.0× / 0.9× (100 %) |
///
/// (mean shift / two-axis drift). Where nothing can be skipped the pruned sweep costs up to 10 %
/// more than the exact one (its bookkeeping), and it stops paying between 0.45 and 0.6.
pub const PRUNE_BELOW_REACH: f64 = 0.5;

/// Whether certified pruning can pay for `kernel` at tolerance `ε` on `clouds` (the queries and
/// every target cloud): the distance `R` over which the kernel's logit falls by `ln(1/ε) + 3` is
/// below [`PRUNE_BELOW_REACH`] of the diameter of their union's bounding box. (Around a point of
/// a uniform cloud, the targets beyond a logit drop `Δ` carry a share `(1 + Δ)e^{−Δ}` of its
/// normaliser in 2D with the Laplace kernel, `ε` at `Δ ≈ ln(1/ε) + 3` for `ε` from `1e-4` to
/// `1e-8`; so beyond `R` a tile can be skipped, and `R` near the diameter leaves nothing to
/// skip.)
///
/// `R = Δ·τ` for the Laplace kernel (logit `−d/τ`) and `R = σ·√(2Δ)` for the Gaussian one
/// (logit `−d²/(2σ²)`). The pruned drifts call it on their clouds and, when it is `false`, run
/// the exact sweep and report every pair evaluated and a zero bound.
#[must_use]
pub fn pruning_pays<const D: usize>(
    kernel: &Kernel,
    tolerance: f32,
    clouds: &[&CloudView<'_, D>],
) -> bool {
    pruning_pays_at(kernel, tolerance, squared_diameter(clouds))
}

/// [`pruning_pays`] for clouds of squared diameter `squared_diameter`.
pub(crate) fn pruning_pays_at(kernel: &Kernel, tolerance: f32, squared_diameter: f64) -> bool {
    let drop = libm::log(1.0 / f64::from(tolerance)) + 3.0;
    let inverse = f64::from(kernel.inverse_scale());
    let reach = match kernel {
        Kernel::Laplace { .. } => drop / inverse,
        Kernel::Gaussian { .. } => libm::sqrt(drop / inverse),
    };
    reach < PRUNE_BELOW_REACH * libm::sqrt(squared_diameter)
}

/// Caller-owned buffers of the spatial order of a pruned drift: the workspace of
/// [`pruned_mean_shift_drift`](crate::pruned_mean_shift_drift) (lengths from
/// [`pruned_mean_shift_workspace_len`](crate::pruned_mean_shift_workspace_len)) and part of
/// [`PrunedTwoAxisWorkspace`](crate::PrunedTwoAxisWorkspace).
#[derive(Debug)]
pub struct PrunedWorkspace<'a, const D: usize> {
    /// Morton keys of every cloud.
    pub keys: &'a mut [u64],
    /// The points of every cloud in Morton order.
    pub points: &'a mut [[f32; D]],
    /// The boxes of every cloud's tiles and of its groups of 16 consecutive tiles.
    pub boxes: &'a mut [BoundingBox<D>],
}

/// `(keys, points, boxes)` lengths of a [`PrunedWorkspace`] for `n` queries, `p` positives and
/// `q` negatives (`q = 0` when the negatives are the queries); `None` on overflow.
pub(crate) const fn spatial_workspace_len(
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
    let boxes = boxes_len(n) + boxes_len(p) + boxes_len(q);
    Some((points, points, boxes))
}

/// Boxes of one sorted cloud of `n` points: its tiles' and its groups' of [`GROUP`] tiles.
const fn boxes_len(n: usize) -> usize {
    let tiles = n.div_ceil(PRUNE_TILE);
    tiles + tiles.div_ceil(GROUP)
}

/// Checks a tolerance is in `(0, 1)`.
///
/// # Errors
/// [`Error::InvalidParameter`] (`"tolerance"`) otherwise (NaN included).
pub(crate) fn check_tolerance(tolerance: f32) -> Result<(), Error> {
    if tolerance > 0.0 && tolerance < 1.0 {
        Ok(())
    } else {
        Err(Error::InvalidParameter { input: "tolerance" })
    }
}

/// Checks every buffer of `buffers` (`(name, expected, found)`) has its expected length.
///
/// # Errors
/// [`Error::ShapeMismatch`] naming the first buffer that does not.
pub(crate) fn check_lengths(buffers: &[(&'static str, usize, usize)]) -> Result<(), Error> {
    for &(input, expected, found) in buffers {
        if expected != found {
            return Err(Error::ShapeMismatch {
                input,
                expected,
                found,
            });
        }
    }
    Ok(())
}

/// Checks the buffers of `workspace` for `n` queries, `p` positives and `q` separate negatives.
///
/// # Errors
/// [`Error::InvalidParameter`] (`"workspace"`) when the lengths overflow;
/// [`Error::ShapeMismatch`] for a buffer of the wrong length.
pub(crate) fn check_workspace<const D: usize>(
    workspace: &PrunedWorkspace<'_, D>,
    n: usize,
    p: usize,
    q: usize,
) -> Result<(), Error> {
    let Some((keys, points, boxes)) = spatial_workspace_len(n, p, q) else {
        return Err(Error::InvalidParameter { input: "workspace" });
    };
    check_lengths(&[
        ("keys", keys, workspace.keys.len()),
        ("points", points, workspace.points.len()),
        ("boxes", boxes, workspace.boxes.len()),
    ])
}

/// One cloud in Morton order: its points, its tiles' boxes and those of its groups of
/// [`GROUP`] consecutive tiles (their unions).
pub(crate) struct Sorted<'w, const D: usize> {
    pub(crate) points: &'w [[f32; D]],
    pub(crate) boxes: &'w [BoundingBox<D>],
    pub(crate) groups: &'w [BoundingBox<D>],
}

impl<const D: usize> Sorted<'_, D> {
    /// Number of tiles.
    pub(crate) fn tiles(&self) -> usize {
        self.boxes.len()
    }

    /// The points of tile `j` (empty past the end).
    pub(crate) fn tile(&self, j: usize) -> &[[f32; D]] {
        let start = j * PRUNE_TILE;
        self.points
            .get(start..(start + PRUNE_TILE).min(self.points.len()))
            .unwrap_or(&[])
    }
}

/// The clouds of a pruned drift in Morton order, and the queries' and positives' orders
/// (`(key << 32) | index` per sorted position).
pub(crate) struct SortedClouds<'w, const D: usize> {
    pub(crate) queries: Sorted<'w, D>,
    pub(crate) order: &'w [u64],
    pub(crate) positives: Sorted<'w, D>,
    pub(crate) positive_order: &'w [u64],
    /// `None` when the negatives are the queries.
    pub(crate) negatives: Option<Sorted<'w, D>>,
}

impl<'w, const D: usize> SortedClouds<'w, D> {
    /// Checks the lengths of `workspace` ([`check_workspace`]) and sorts the clouds into it
    /// (`negatives`: a separate cloud, or `None` for the queries).
    ///
    /// # Errors
    /// Those of [`check_workspace`] (nothing written then) and of [`MortonOrder::sort`];
    /// [`Error::NonFinite`] (`"points"`) for a tile without a finite box (never, for validated
    /// clouds).
    pub(crate) fn sort(
        queries: &CloudView<'_, D>,
        positives: &CloudView<'_, D>,
        negatives: Option<&CloudView<'_, D>>,
        workspace: PrunedWorkspace<'w, D>,
    ) -> Result<Self, Error> {
        Self::sort_with(queries, positives, negatives, workspace, Order::Halved)
    }

    /// [`SortedClouds::sort`] in plain Morton order (every cell of the Morton grid a run of
    /// consecutive points, as the multiscale clustering needs).
    pub(crate) fn sort_morton(
        queries: &CloudView<'_, D>,
        positives: &CloudView<'_, D>,
        workspace: PrunedWorkspace<'w, D>,
    ) -> Result<Self, Error> {
        Self::sort_with(queries, positives, None, workspace, Order::Morton)
    }

    fn sort_with(
        queries: &CloudView<'_, D>,
        positives: &CloudView<'_, D>,
        negatives: Option<&CloudView<'_, D>>,
        workspace: PrunedWorkspace<'w, D>,
        kind: Order,
    ) -> Result<Self, Error> {
        let q = negatives.map_or(0, CloudView::len);
        check_workspace(&workspace, queries.len(), positives.len(), q)?;
        let (queries, order, keys, points, boxes) = sort_cloud(
            queries,
            workspace.keys,
            workspace.points,
            workspace.boxes,
            kind,
        )?;
        let (positives, positive_order, keys, points, boxes) =
            sort_cloud(positives, keys, points, boxes, kind)?;
        let negatives = match negatives {
            Some(cloud) => Some(sort_cloud(cloud, keys, points, boxes, kind)?.0),
            None => None,
        };
        Ok(Self {
            queries,
            order,
            positives,
            positive_order,
            negatives,
        })
    }

    /// The negatives: their own cloud, or the queries.
    pub(crate) fn negatives(&self) -> &Sorted<'w, D> {
        self.negatives.as_ref().unwrap_or(&self.queries)
    }
}

/// How [`sort_cloud`] orders a cloud.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Order {
    /// Morton order.
    Morton,
    /// Morton order, then each run of a group's points ordered by [`split_halves`].
    Halved,
}

/// Sorts `cloud` into the front of the three buffers and returns the sorted cloud, its order
/// (original index per sorted position) and the rest of the buffers.
#[allow(clippy::type_complexity)]
fn sort_cloud<'w, const D: usize>(
    cloud: &CloudView<'_, D>,
    keys: &'w mut [u64],
    points: &'w mut [[f32; D]],
    boxes: &'w mut [BoundingBox<D>],
    kind: Order,
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
    let (group_slot, boxes_rest) =
        boxes_rest.split_at_mut(tiles.div_ceil(GROUP).min(boxes_rest.len()));
    // Original order first (the sort reads it), then gathered into Morton order.
    for (slot, p) in point_slot.iter_mut().zip(cloud.points()) {
        *slot = p;
    }
    MortonOrder::sort(point_slot, key_slot)?;
    if kind == Order::Halved {
        for run in key_slot.chunks_mut(GROUP * PRUNE_TILE) {
            split_halves(point_slot, run);
        }
    }
    // Gathered in Morton order (the original points are re-read from the view).
    for (slot, &e) in point_slot.iter_mut().zip(key_slot.iter()) {
        if let Some(p) = cloud.point((e & 0xFFFF_FFFF) as usize) {
            *slot = p;
        }
    }
    let key_slot = &*key_slot;
    for (slot, members) in box_slot.iter_mut().zip(point_slot.chunks(PRUNE_TILE)) {
        *slot = BoundingBox::of(members.iter()).ok_or(Error::NonFinite { input: "points" })?;
    }
    for (slot, members) in group_slot
        .iter_mut()
        .zip(point_slot.chunks(GROUP * PRUNE_TILE))
    {
        *slot = BoundingBox::of(members.iter()).ok_or(Error::NonFinite { input: "points" })?;
    }
    Ok((
        Sorted {
            points: point_slot,
            boxes: box_slot,
            groups: group_slot,
        },
        key_slot,
        keys_rest,
        points_rest,
        boxes_rest,
    ))
}

/// Orders `entries` (`(key << 32) | index`, a run of the Morton order of `points`, which are
/// still in the cloud's order) by halving: split at the middle along the longest axis of the
/// run's box, each half in turn, down to one lane block.
fn split_halves<const D: usize>(points: &[[f32; D]], entries: &mut [u64]) {
    if entries.len() <= LANES {
        return;
    }
    let point = |e: &u64| points.get((e & 0xFFFF_FFFF) as usize);
    let Some(bounds) = BoundingBox::of(entries.iter().filter_map(point)) else {
        return;
    };
    let extent = |d: usize| {
        bounds
            .max
            .get(d)
            .zip(bounds.min.get(d))
            .map_or(0.0, |(hi, lo)| hi - lo)
    };
    let axis = (0..D)
        .max_by(|&a, &b| extent(a).total_cmp(&extent(b)))
        .unwrap_or(0);
    // The largest power of two below the length: every tile and block stays whole.
    let middle = (entries.len() - 1).next_power_of_two() / 2;
    let coordinate = |e: &u64| point(e).and_then(|p| p.get(axis)).copied().unwrap_or(0.0);
    entries.select_nth_unstable_by(middle, |a, b| coordinate(a).total_cmp(&coordinate(b)));
    let (first, second) = entries.split_at_mut(middle);
    split_halves(points, first);
    split_halves(points, second);
}

/// One tile of a sorted cloud as lane blocks (positions relative to the tile's first point).
pub(crate) struct LaneTile<'a, const D: usize> {
    /// The tile's index in its cloud.
    pub(crate) index: usize,
    /// Its points.
    pub(crate) points: &'a [[f32; D]],
    /// Its box.
    pub(crate) bounds: &'a BoundingBox<D>,
    blocks: [Block<D>; BLOCKS],
    /// The boxes of its lane blocks, one block per lane of `F32s` (`BLOCKS = LANES`): the
    /// smallest and largest coordinate of block `v`'s points in lane `v` (a block past the
    /// tile's points takes the tile's box).
    block_min: [F32s; D],
    block_max: [F32s; D],
}

impl<'a, const D: usize> LaneTile<'a, D> {
    /// Tile `index` of `cloud` (`None` past the end).
    pub(crate) fn new(cloud: &Sorted<'a, D>, index: usize) -> Option<Self> {
        let bounds = cloud.boxes.get(index)?;
        let start = index * PRUNE_TILE;
        let points = cloud
            .points
            .get(start..(start + PRUNE_TILE).min(cloud.points.len()))?;
        let view = CloudView::from_points(points);
        let last = points.len().max(1) - 1;
        let blocks = core::array::from_fn(|v| Block::gather(&view, (v * LANES).min(last)));
        let (mut low, mut high) = ([bounds.min; LANES], [bounds.max; LANES]);
        for ((lo, hi), members) in low.iter_mut().zip(&mut high).zip(points.chunks(LANES)) {
            if let Some(block) = BoundingBox::of(members.iter()) {
                (*lo, *hi) = (block.min, block.max);
            }
        }
        let lanes = |corners: &[[f32; D]; LANES], d: usize| {
            F32s::from(core::array::from_fn::<f32, LANES, _>(|v| {
                corners
                    .get(v)
                    .and_then(|c| c.get(d))
                    .copied()
                    .unwrap_or(0.0)
            }))
        };
        Some(Self {
            index,
            points,
            bounds,
            blocks,
            block_min: core::array::from_fn(|d| lanes(&low, d)),
            block_max: core::array::from_fn(|d| lanes(&high, d)),
        })
    }

    /// Per lane block (lane `v` of the result for block `v`): an upper bound of every logit
    /// between the block's points and those of `target`. The lower bound of the squared
    /// distance between the boxes, computed in `f32`, is shrunk by a relative `1e-5` and the
    /// logit `l` widened by `1e-5·(1 + |l|)`, far above the rounding of the few `f32` operations
    /// (`2^−24` relative each).
    #[inline(always)]
    fn block_logit_bounds<S: Shape>(&self, target: &BoundingBox<D>, inverse: F32s) -> F32s {
        let zero = F32s::splat(0.0);
        let mut squared = zero;
        for ((&lo, &hi), (&t_lo, &t_hi)) in self
            .block_min
            .iter()
            .zip(&self.block_max)
            .zip(target.min.iter().zip(&target.max))
        {
            let gap = (F32s::splat(t_lo) - hi)
                .fast_max(lo - F32s::splat(t_hi))
                .fast_max(zero);
            squared = gap.mul_add(gap, squared);
        }
        let logit = S::logit(squared * F32s::splat(1.0 - 1e-5), inverse);
        let margin = F32s::splat(1e-5) * (F32s::splat(1.0) + logit.abs());
        logit + margin
    }

    /// The lane blocks holding the tile's points.
    pub(crate) fn blocks(&self) -> &[Block<D>] {
        self.blocks
            .get(..self.points.len().div_ceil(LANES))
            .unwrap_or(&[])
    }
}

/// A running per-lane reduction a pruned sweep feeds tile by tile: an online log-sum-exp alone
/// (normalisers), with the weighted displacements (softmax means), or with the kernel-gradient
/// sums of the MMD flow (`pruned_mmd_flow.rs`).
pub(crate) trait Sink<const D: usize>: Copy {
    /// Folds one tile of logits in (`x`: the lanes' coordinates).
    fn absorb_tile(&mut self, tile: &mut Tile<D>, x: &[F32s; D]);
    /// The running log-sum-exp.
    fn normaliser(&self) -> &OnlineLogSumExp;
}

impl<const D: usize> Sink<D> for OnlineLogSumExp {
    #[inline(always)]
    fn absorb_tile(&mut self, tile: &mut Tile<D>, _: &[F32s; D]) {
        self.absorb_sum(tile.logits(), tile.max);
    }
    #[inline(always)]
    fn normaliser(&self) -> &OnlineLogSumExp {
        self
    }
}

impl<const D: usize> Sink<D> for DisplacementSums<D> {
    #[inline(always)]
    fn absorb_tile(&mut self, tile: &mut Tile<D>, x: &[F32s; D]) {
        self.absorb(tile, x);
    }
    #[inline(always)]
    fn normaliser(&self) -> &OnlineLogSumExp {
        &self.lse
    }
}

/// Per-target biases entering the logits as `l_ij + factor·v_j`: the two-axis affinity pass's
/// `−c_j/2` (column log-normalisers `v = c`, factor `−½`) and the Sinkhorn softmin's
/// `log b_j + g_j/ε` (factor 1). The values in the family's sorted order, and per tile the value
/// that makes `factor·v` largest (the tile's minimum for a negative factor, its maximum for a
/// positive one), which enters the tile's logit bound.
///
/// `spread` widens the near set (step 1 of the module documentation) by that many logit units:
/// the tile bound takes the tile's largest bias, so when the biases vary within tiles by up to
/// `spread`, the tiles holding a lane's largest logits can sit that far below the largest bound.
/// Any width keeps the certificate; 0 keeps the near set of unbiased families.
#[derive(Clone, Copy)]
pub(crate) struct TargetBias<'a> {
    pub(crate) values: &'a [f32],
    pub(crate) factor: f32,
    pub(crate) tile_extreme: &'a [f32],
    pub(crate) spread: f32,
}

impl TargetBias<'_> {
    /// The largest bias `factor·v_j` of tile `j` (`+∞` past the end: such a tile is never
    /// skipped).
    fn tile_bound(&self, j: usize) -> f64 {
        self.tile_extreme
            .get(j)
            .map_or(f64::INFINITY, |&v| f64::from(self.factor) * f64::from(v))
    }
}

/// One family of target tiles of a pruned sweep.
#[derive(Clone, Copy)]
pub(crate) struct Family<'s, 'w, const D: usize> {
    pub(crate) cloud: &'s Sorted<'w, D>,
    /// The family is the lane cloud itself: the self-pairs of the tile with the lane tile's
    /// index are masked (by the logit rule's mask).
    pub(crate) masked: bool,
    /// Per-target biases added to every logit.
    pub(crate) bias: Option<TargetBias<'s>>,
}

impl<'s, 'w, const D: usize> Family<'s, 'w, D> {
    /// A family without biases.
    pub(crate) fn plain(cloud: &'s Sorted<'w, D>, masked: bool) -> Self {
        Self {
            cloud,
            masked,
            bias: None,
        }
    }
}

/// What pruning one lane tile against its target families did: the pairs of the dense sweep and
/// those evaluated; per lane block `v`, `L_v` (the smallest partial log-normaliser of its lanes
/// after the near tiles) and the skipped buckets' summed weights
/// `Σ_k C_vk e^{t_k − L_v} ≥ Σ_{J skipped for v} c_J e^{u_vJ − L_v}` (≤ ε); the largest distance
/// bound to a skipped target and to any target.
pub(crate) struct Pruned {
    pub(crate) pairs: u64,
    pub(crate) evaluated: u64,
    log_min: [f32; BLOCKS],
    skipped: [f64; BLOCKS],
    /// The largest distance from a lane to a skipped target (box bound).
    pub(crate) reach: f64,
    /// The largest distance from a lane to any target of the families (box bound).
    pub(crate) extent: f64,
}

impl Pruned {
    /// `ρ_i ≥ S_skip/Ŝ_i` (≤ ε) for a lane of block `block` whose partial log-normaliser is
    /// `log_total`: `S_skip ≤ skipped_v·e^{L_v}`, so `S_skip/Ŝ_i ≤ skipped_v·e^{L_v − ln Ŝ_i}`.
    pub(crate) fn ratio(&self, block: usize, log_total: f32) -> f64 {
        match (self.skipped.get(block), self.log_min.get(block)) {
            (Some(&skipped), Some(&log_min)) if skipped > 0.0 => {
                skipped * libm::exp(f64::from(log_min) - f64::from(log_total))
            }
            _ => 0.0,
        }
    }
}

/// Per lane of a tile: the partial log-normaliser `ln Ŝ_i`, `ρ_i` ([`Pruned::ratio`]) and the
/// softmax mean `μ̂ − x` (zero for normaliser-only sinks).
#[derive(Clone, Copy)]
pub(crate) struct LaneSums<const D: usize> {
    pub(crate) log_total: f32,
    pub(crate) ratio: f64,
    pub(crate) mean: [f32; D],
}

/// [`LaneSums`] of every lane of `lanes` from the sinks of a pruned sweep (`means` gives the
/// mean of a sink's lanes, coordinate-major).
pub(crate) fn lane_sums<K: Sink<D>, const D: usize>(
    lanes: &LaneTile<'_, D>,
    sums: &[K; BLOCKS],
    pruned: &Pruned,
    means: impl Fn(&K) -> [[f32; LANES]; D],
) -> [LaneSums<D>; PRUNE_TILE] {
    let mut out = [LaneSums {
        log_total: 0.0,
        ratio: 0.0,
        mean: [0.0; D],
    }; PRUNE_TILE];
    for (v, (block, sink)) in lanes.blocks().iter().zip(sums).enumerate() {
        let (mean, log_total) = (means(sink), sink.normaliser().value());
        for (l, &lt) in log_total.iter().enumerate().take(block.valid) {
            if let Some(slot) = out.get_mut(v * LANES + l) {
                *slot = LaneSums {
                    log_total: lt,
                    ratio: pruned.ratio(v, lt),
                    mean: core::array::from_fn(|d| {
                        mean.get(d).and_then(|m| m.get(l)).copied().unwrap_or(0.0)
                    }),
                };
            }
        }
    }
    out
}

/// Sums the lanes of `lanes` against every tile of `families`, pruned (module documentation):
/// near tiles go through the engine's sweep into `sums` for every lane block; a far tile is
/// skipped for the lane blocks whose budget `tolerance` takes it and summed exactly for the
/// others; the skipped weights are accounted for in the returned [`Pruned`].
pub(crate) fn pruned_sums<S: Shape, K: Sink<D>, const D: usize>(
    lanes: &LaneTile<'_, D>,
    families: &[Family<'_, '_, D>],
    rule: &LogitRule,
    tolerance: f32,
    sums: &mut [K; BLOCKS],
) -> Pruned {
    let inverse = F32s::splat(rule.inverse_scale);
    let logit_bound = |lower: f32| S::logit(F32s::splat(lower), inverse).to_array()[0];
    let valid = lanes.blocks().len();
    // Every target tile `(f, j)` with the logit bounds of its pairs with each lane block (the
    // largest bias of the tile added, widened for its rounding to `f32`), their largest over
    // the blocks (the tile's) and the largest without the bias.
    let bound = |family: &Family<'_, '_, D>, j: usize, target: &BoundingBox<D>| {
        let bias = family.bias.map_or(0.0, |b| b.tile_bound(j));
        let bias = if bias.is_finite() {
            bias + 1e-5 * (1.0 + bias.abs())
        } else {
            bias
        };
        #[allow(clippy::cast_possible_truncation)]
        let bias = bias as f32;
        let geometric = lanes.block_logit_bounds::<S>(target, inverse);
        let blocks = geometric + F32s::splat(bias);
        let largest = |bounds: F32s| {
            bounds
                .to_array()
                .iter()
                .take(valid)
                .fold(f32::NEG_INFINITY, |u, &b| u.max(b))
        };
        (
            blocks,
            f64::from(largest(blocks)),
            f64::from(largest(geometric)),
        )
    };
    // The groups of every family: the tiles' union box gives a logit bound `u_G` not below any
    // of theirs (the logit falls with the distance bound, the margin grows by less than the
    // value), and the bound of the squared distances to all their points.
    let groups = || {
        families.iter().flat_map(|family| {
            (0..family.cloud.tiles().div_ceil(GROUP)).map(move |g| {
                let first = g * GROUP;
                let end = (first + GROUP).min(family.cloud.tiles());
                let boxes = family.cloud.boxes.get(first..end).unwrap_or(&[]);
                let union = family.cloud.groups.get(g).copied().unwrap_or(BoundingBox {
                    min: [f32::NEG_INFINITY; D],
                    max: [f32::INFINITY; D],
                    count: usize::MAX,
                });
                let (lower, upper) = lanes.bounds.squared_distance_bounds(&union);
                let logit = f64::from(logit_bound(lower));
                let bias = family.bias.map_or(0.0, |b| {
                    (first..end)
                        .map(|j| b.tile_bound(j))
                        .fold(f64::NEG_INFINITY, f64::max)
                });
                let u = logit + bias + 1e-6 * (1.0 + logit.abs() + bias.abs());
                let geometric = logit + 1e-6 * (1.0 + logit.abs());
                let tiles = boxes
                    .iter()
                    .enumerate()
                    .map(move |(k, target)| (family, first + k, target));
                (
                    Bounds {
                        logit: u,
                        geometric,
                    },
                    upper,
                    union.count,
                    tiles,
                )
            })
        })
    };
    // The largest tile bound (a group's tiles only when its bound exceeds the largest so far)
    // and the largest group bound without the biases (not below any tile's: usually 0, the
    // group holding the lanes).
    let mut top = Bounds {
        logit: f64::NEG_INFINITY,
        geometric: f64::NEG_INFINITY,
    };
    for (group, _, _, tiles) in groups() {
        top.geometric = top.geometric.max(group.geometric);
        if group.logit > top.logit {
            for (family, j, target) in tiles {
                top.logit = top.logit.max(bound(family, j, target).1);
            }
        }
    }
    let widening = families
        .iter()
        .filter_map(|f| f.bias.map(|b| f64::from(b.spread)))
        .fold(0.0, f64::max);
    // The near tiles: within a logit unit of the largest bound, or of the largest group bound
    // without the biases (so that a far tile with a large bias, such as a sparse target's
    // `−ĉ_j/2`, does not leave the dense tiles next to the lanes out of `L_v`).
    let near_set = Bounds {
        logit: top.logit - 1.0 - widening,
        geometric: top.geometric - 1.0,
    };
    let near = near_set.logit;
    let is_near = |u: f64, geometric: f64| u >= near || geometric >= near_set.geometric;
    let targets: usize = families.iter().map(|f| f.cloud.points.len()).sum();
    let mut out = Pruned {
        pairs: lanes.points.len() as u64 * targets as u64,
        evaluated: 0,
        log_min: [f32::INFINITY; BLOCKS],
        skipped: [0.0; BLOCKS],
        reach: 0.0,
        extent: 0.0,
    };
    // Buckets of the far tiles' logit bounds, `BUCKET_WIDTH` wide below the near tiles' (the
    // last one open).
    let bucket = |u: f64| -> usize {
        let depth = (near - u) / BUCKET_WIDTH;
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
    // The buckets of the eight block bounds of a tile at once, in `f32`: the depth below
    // `near` (rounded down to `f32`) lowered by 1e-3 of a bucket before the truncation, far
    // above its rounding (depths below `BUCKETS` buckets, 64 logit units: `2^−24` of that), so
    // bucket `k` still holds bounds `u ≤ near − k·BUCKET_WIDTH`; the last bucket holds the rest
    // (and `+∞` depths), bounds above `near` go to bucket 0.
    let near_down = round_down(near);
    let block_buckets = |blocks: F32s| -> [i32; BLOCKS] {
        #[allow(clippy::cast_precision_loss)]
        let last = F32s::splat((BUCKETS - 1) as f32);
        ((F32s::splat(near_down) - blocks) * F32s::splat((1.0 / BUCKET_WIDTH) as f32)
            - F32s::splat(1e-3))
        .fast_max(F32s::splat(0.0))
        .fast_min(last)
        .fast_trunc_int()
        .to_array()
    };
    let bucket_index = |k: i32| usize::try_from(k).unwrap_or(0);
    // The largest squared distance bounds to a skipped target and to any target.
    let (mut reach, mut extent) = (0.0_f32, 0.0_f32);
    // Phase 1: the near tiles, exactly (a tile's bound, from its lane blocks' boxes, can exceed
    // its group's by their margins: the near tiles of groups below `near` are summed in phase
    // 2); `L_v` the smallest partial log-normaliser of block `v`.
    for (group, _, _, tiles) in groups() {
        if !is_near(group.logit, group.geometric) {
            continue;
        }
        for (family, j, target) in tiles {
            let (_, u, geometric) = bound(family, j, target);
            if is_near(u, geometric) {
                out.evaluated += exact::<S, K, D>(lanes, family, j, rule, sums, ALL_BLOCKS);
            }
        }
    }
    for ((block, sink), log_min) in lanes
        .blocks()
        .iter()
        .zip(sums.iter())
        .zip(out.log_min.iter_mut())
    {
        for &lt in sink.normaliser().value().iter().take(block.valid) {
            *log_min = log_min.min(lt);
        }
    }
    // Phase 2: the far tiles' points counted per lane block and bucket of their bound with the
    // block. A group whose bound lies `group_depth` buckets or more below the near tiles' is
    // counted as a whole, for every block, in the bucket of its own bound (every bound of its
    // tiles is at most that: its weight is over-, never underestimated), and skipped or summed
    // as a whole in phase 3. `group_depth` puts all the targets together at most `ε/4` of every
    // block's `e^{L_v}` there (`ln(4·targets/ε) + near − min_v L_v` logit units, at most the
    // last bucket), so such groups are skipped whenever the budget takes anything; the tiles of
    // the nearer groups are bounded one by one.
    let log_min = out
        .log_min
        .iter()
        .take(valid)
        .fold(f32::INFINITY, |m, &l| m.min(l));
    #[allow(clippy::cast_precision_loss)]
    let depth = (libm::log(4.0 * targets as f64 / f64::from(tolerance)) + near
        - f64::from(log_min))
        / BUCKET_WIDTH;
    let group_depth = if depth.is_finite() && depth < BUCKETS as f64 - 1.0 {
        // 0 < depth < BUCKETS − 1 (`targets ≥ 1 > ε`, `L_v ≤ u_max` up to the bound's margin):
        // the truncation is in range.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let k = depth.max(0.0) as usize + 1;
        k
    } else {
        BUCKETS - 1
    };
    let far_group = |group: &Bounds| {
        (!is_near(group.logit, group.geometric) && bucket(group.logit) >= group_depth)
            .then(|| bucket(group.logit))
    };
    // Per group of tiles bounded one by one (the first `SHALLOWEST` groups): the shallowest
    // bucket of its far tiles over the blocks (`u16::MAX` without far tiles), so that phase 3
    // skips a group that every block skips whole, without its tiles' bounds.
    let mut counts = [[0_u32; BUCKETS]; BLOCKS];
    let mut deep = [0_usize; BUCKETS];
    let mut shallowest = [u16::MAX; SHALLOWEST];
    for (g, (group, upper_group, points, tiles)) in groups().enumerate() {
        extent = extent.max(upper_group);
        if let Some(k) = far_group(&group) {
            if let Some(c) = deep.get_mut(k) {
                *c = c.saturating_add(points);
            }
            continue;
        }
        let mut group_shallowest = u16::MAX;
        for (family, j, target) in tiles {
            let (blocks, u, geometric) = bound(family, j, target);
            if is_near(u, geometric) {
                // A near tile of a group phase 1 did not scan.
                if !is_near(group.logit, group.geometric) {
                    out.evaluated += exact::<S, K, D>(lanes, family, j, rule, sums, ALL_BLOCKS);
                }
                continue;
            }
            let members = u32::try_from(family.cloud.tile(j).len()).unwrap_or(u32::MAX);
            for (block_counts, &k) in counts.iter_mut().zip(&block_buckets(blocks)).take(valid) {
                let k = bucket_index(k);
                group_shallowest = group_shallowest.min(u16::try_from(k).unwrap_or(u16::MAX));
                if let Some(c) = block_counts.get_mut(k) {
                    *c = c.saturating_add(members);
                }
            }
        }
        if let Some(slot) = shallowest.get_mut(g) {
            *slot = group_shallowest;
        }
    }
    // Bucket `k` holds bounds `u ≤ t_k = near − k·BUCKET_WIDTH` (`bucket` truncates the depth
    // below `near`), so for block `v` its weight relative to `e^{L_v}` is at most
    // `C_vk e^{t_k − L_v}`; whole buckets, farthest first, are given to skipping while the
    // block's weights stay within ε. The factors `e^{t_k − L_v}` are the farthest one times
    // `e^{BUCKET_WIDTH}` per bucket, each product rounded up by a relative 1e-12 (far above the
    // `f64` rounding), the first exponent widened by 1e-9 relative.
    let tolerance = f64::from(tolerance);
    let growth = libm::exp(BUCKET_WIDTH) * (1.0 + 1e-12);
    #[allow(clippy::cast_precision_loss)]
    let last_top = near - (BUCKETS - 1) as f64 * BUCKET_WIDTH;
    let mut cut = [BUCKETS; BLOCKS];
    for ((cut, skipped), (&log_min, block_counts)) in cut
        .iter_mut()
        .zip(out.skipped.iter_mut())
        .zip(out.log_min.iter().zip(&counts))
        .take(valid)
    {
        let log_min = f64::from(log_min);
        if !log_min.is_finite() {
            continue;
        }
        let mut scale = libm::exp(last_top + 1e-9 * (1.0 + last_top.abs()) - log_min);
        let mut budget = 0.0_f64;
        for (k, (&count, &deep_count)) in block_counts.iter().zip(&deep).enumerate().rev() {
            #[allow(clippy::cast_precision_loss)]
            let weight = if count == u32::MAX || deep_count == usize::MAX {
                f64::INFINITY
            } else if count == 0 && deep_count == 0 {
                0.0
            } else {
                (f64::from(count) + deep_count as f64) * scale
            };
            let total = budget + weight;
            if total.is_nan() || total > tolerance {
                break;
            }
            budget += weight;
            *cut = k;
            scale *= growth;
        }
        *skipped = budget;
    }
    // Phase 3: the far tiles in tile order, skipped for the blocks whose budget took their
    // bucket (their weights sum to `skipped_v` ≤ ε), else summed exactly for the others.
    // A far group in a skipped bucket is skipped as a whole, its distance bound standing for
    // its tiles' (not below any of them); for a block whose budget did not take it, it is
    // summed exactly, every tile (its mass was counted in its bucket, not in the tiles' own).
    let deepest_cut = cut.iter().take(valid).copied().max().unwrap_or(BUCKETS);
    for (g, (group, upper_group, _, tiles)) in groups().enumerate() {
        let far = far_group(&group);
        if let Some(&k) = shallowest.get(g).filter(|_| far.is_none()) {
            // Every far tile of the group in a bucket every block skips: skipped whole (its
            // distance bound standing for its tiles'), none: nothing to do.
            if usize::from(k) >= deepest_cut {
                if k != u16::MAX {
                    reach = reach.max(upper_group);
                }
                continue;
            }
        }
        if let Some(k) = far {
            let mut summed = 0_u32;
            for (v, &c) in cut.iter().enumerate().take(valid) {
                if k < c {
                    summed |= 1 << v;
                } else {
                    reach = reach.max(upper_group);
                }
            }
            if summed != 0 {
                for (family, j, _) in tiles {
                    out.evaluated += exact::<S, K, D>(lanes, family, j, rule, sums, summed);
                }
            }
            continue;
        }
        for (family, j, target) in tiles {
            let (blocks, u, geometric) = bound(family, j, target);
            if is_near(u, geometric) {
                continue;
            }
            let (mut summed, mut skipped) = (0_u32, false);
            for (v, (&k, &c)) in block_buckets(blocks)
                .iter()
                .zip(&cut)
                .enumerate()
                .take(valid)
            {
                if bucket_index(k) < c {
                    summed |= 1 << v;
                } else {
                    skipped = true;
                }
            }
            if skipped && upper_group > reach {
                reach = reach.max(lanes.bounds.squared_distance_bounds(target).1);
            }
            if summed != 0 {
                out.evaluated += exact::<S, K, D>(lanes, family, j, rule, sums, summed);
            }
        }
    }
    out.reach = libm::sqrt(f64::from(reach));
    out.extent = libm::sqrt(f64::from(extent));
    out
}

/// The logit bound of a tile or group of targets with the biases and without them (the
/// distance alone).
#[derive(Clone, Copy)]
struct Bounds {
    logit: f64,
    geometric: f64,
}

/// Groups whose shallowest far bucket [`pruned_sums`] keeps (on the stack, 2 bytes each); the
/// tiles of groups past it are bounded again in its phase 3.
const SHALLOWEST: usize = 2048;

/// The mask of every lane block for [`exact`].
const ALL_BLOCKS: u32 = u32::MAX;

// A lane block's bit in a `u32` mask.
const _: () = assert!(BLOCKS <= 32);

/// Folds target tile `j` of `family` exactly into the sinks of the lane blocks whose bit is set
/// in `mask` through the engine's sweep (the self-pairs are masked there: the lanes of tile `j`
/// are the targets of tile `j` when the family is masked); returns the number of pairs.
fn exact<S: Shape, K: Sink<D>, const D: usize>(
    lanes: &LaneTile<'_, D>,
    family: &Family<'_, '_, D>,
    j: usize,
    rule: &LogitRule,
    sums: &mut [K; BLOCKS],
    mask: u32,
) -> u64 {
    let members = family.cloud.tile(j);
    let mut partners = Partners::new(
        CloudView::from_points(members),
        family.masked && j == lanes.index,
    );
    if let Some(bias) = family.bias {
        let start = j * PRUNE_TILE;
        let values = bias.values.get(start..start + members.len()).unwrap_or(&[]);
        partners = partners.with_bias(values, bias.factor);
    }
    let blocks = lanes.blocks();
    let summed = |v: usize| v < blocks.len() && mask & (1 << v) != 0;
    let mut lanes_summed = 0_u64;
    let mut v = 0;
    // Runs of consecutive summed blocks, one sweep each.
    while v < blocks.len() {
        if !summed(v) {
            v += 1;
            continue;
        }
        let first = v;
        while summed(v) {
            v += 1;
        }
        let run = blocks.get(first..v).unwrap_or(&[]);
        sweep_blocks::<D, S>(run, &partners, rule, |b, tile| {
            if let (Some(sink), Some(block)) = (sums.get_mut(first + b), run.get(b)) {
                sink.absorb_tile(tile, &block.coords);
            }
        });
        lanes_summed += run.iter().map(|b| b.valid as u64).sum::<u64>();
    }
    lanes_summed * members.len() as u64
}

/// `f32` not below a ratio in `[0, 1]` (the cast rounds to nearest: 6e-8 relative, under the
/// margin).
#[allow(clippy::cast_possible_truncation)]
fn ratio_up(ratio: f64) -> f32 {
    (ratio * (1.0 + 1e-6)) as f32
}

/// One pruned log-sum-exp pass: for every tile of `lanes`, the pruned log-normaliser
/// `ln Ŝ_i` of its points' logits against `families` into `log_totals` (sorted order), and
/// their ratios `ρ_i` ([`Pruned::ratio`]) into `ratios` (the larger of the value there and the
/// new one, rounded up); the pairs onto `report`. Returns the largest ratio. The exact
/// normaliser is `S_i ∈ [Ŝ_i, (1 + ρ_i)Ŝ_i]`, `ρ_i ≤ tolerance`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn pruned_log_sum_exp<S: Shape, const D: usize>(
    exec: Exec,
    lanes: &Sorted<'_, D>,
    families: &[Family<'_, '_, D>],
    rule: &LogitRule,
    tolerance: f32,
    log_totals: &mut [f32],
    mut ratios: Option<&mut [f32]>,
    report: &mut PruneReport,
) -> f64 {
    let mut largest = 0.0_f64;
    let tile_sums = |j: usize| {
        let tile = LaneTile::new(lanes, j)?;
        let mut sums = [OnlineLogSumExp::new(); BLOCKS];
        let pruned = pruned_sums::<S, _, D>(&tile, families, rule, tolerance, &mut sums);
        let values = lane_sums(&tile, &sums, &pruned, |_| [[0.0; LANES]; D]);
        Some((values, pruned.pairs, pruned.evaluated, tile.points.len()))
    };
    map_tiles(exec, lanes.tiles(), tile_sums, |j, result| {
        let Some((values, pairs, evaluated, count)) = result else {
            return;
        };
        report.pairs += pairs;
        report.evaluated += evaluated;
        let start = j * PRUNE_TILE;
        for (k, lane) in values.iter().enumerate().take(count) {
            if let Some(slot) = log_totals.get_mut(start + k) {
                *slot = lane.log_total;
            }
            if let Some(slot) = ratios.as_deref_mut().and_then(|r| r.get_mut(start + k)) {
                *slot = slot.max(ratio_up(lane.ratio));
            }
            largest = largest.max(lane.ratio);
        }
    });
    largest
}

/// `consume(b, map(b))` for every tile `b < tiles`, in tile order: serially, or with feature
/// `std` `map` on the rayon pool (each tile independent, so the bits do not depend on the number
/// of threads) and `consume` afterwards.
pub(crate) fn map_tiles<T: Send>(
    exec: Exec,
    tiles: usize,
    map: impl Fn(usize) -> T + Send + Sync,
    mut consume: impl FnMut(usize, T),
) {
    match exec {
        Exec::Serial => {
            for b in 0..tiles {
                consume(b, map(b));
            }
        }
        #[cfg(feature = "std")]
        Exec::Rayon => {
            use rayon::prelude::*;
            let results: std::vec::Vec<T> = (0..tiles).into_par_iter().map(map).collect();
            for (b, result) in results.into_iter().enumerate() {
                consume(b, result);
            }
        }
    }
}

/// The field of one query tile, point-major in Morton order, and its share of the report.
pub(crate) struct TileField<const D: usize> {
    pub(crate) field: [[f32; D]; PRUNE_TILE],
    pub(crate) pairs: u64,
    pub(crate) evaluated: u64,
    pub(crate) bound: f64,
}

impl<const D: usize> TileField<D> {
    /// A zero field.
    pub(crate) fn new() -> Self {
        Self {
            field: [[0.0; D]; PRUNE_TILE],
            pairs: 0,
            evaluated: 0,
            bound: 0.0,
        }
    }
}

/// Every query tile's field (`tile_field`, through [`map_tiles`]) scattered into `out`
/// (coordinate-major, the caller's order); the report sums the tiles' counts onto `report`.
pub(crate) fn scatter_query_tiles<const D: usize>(
    exec: Exec,
    clouds: &SortedClouds<'_, D>,
    tile_field: impl Fn(usize) -> TileField<D> + Send + Sync,
    mut report: PruneReport,
    out: &mut [f32],
) -> PruneReport {
    let n = clouds.queries.points.len();
    let scatter = |b: usize, tile: TileField<D>| {
        report.pairs += tile.pairs;
        report.evaluated += tile.evaluated;
        report.bound = report.bound.max(tile.bound);
        let count = clouds.queries.tile(b).len();
        for (k, v) in tile.field.iter().enumerate().take(count) {
            let i = clouds
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
    map_tiles(exec, clouds.queries.tiles(), tile_field, scatter);
    report
}

/// `‖v‖` in `f64`.
pub(crate) fn norm<const D: usize>(v: &[f32; D]) -> f64 {
    libm::sqrt(v.iter().map(|&c| f64::from(c) * f64::from(c)).sum::<f64>())
}
