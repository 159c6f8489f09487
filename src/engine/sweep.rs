//! The single tiled pair loop every kernel reduction runs on.
//!
//! A *block* holds [`LANES`] consecutive particles of one cloud (the lane side), gathered once
//! into SIMD registers; a *sweep* walks the partner cloud a tile of [`TILE`] points at a time,
//! computes the `LANES × TILE` logits and hands the tile to a consumer (an online log-sum-exp, a
//! weighted mean, an affinity sum). Nothing of size `N × M` ever exists: the state is `O(D)` per
//! block plus one tile.
//!
//! Self-pairs (a particle against itself, when the partner cloud *is* the lane cloud) are masked
//! here, once, for every operator: either excluded (logit [`EXCLUDED_LOGIT`], weight exactly 0)
//! or pushed away by adding a distance, as the official code does.

use crate::cloud::{CloudView, Points, dispatch_points};
use crate::engine::chunks::{Exec, for_each_chunk};
use crate::engine::shape::{LogitRule, PairMask, Shape};
use crate::engine::simd::{EXCLUDED_LOGIT, F32s, LANES, OnlineLogSumExp, lane_mask};

/// Partner points per tile.
pub(crate) const TILE: usize = 16;

/// [`LANES`] consecutive particles of the lane cloud, starting at `start`; lanes past the end
/// of the cloud repeat its last point and are ignored by every consumer.
#[derive(Clone, Copy)]
pub(crate) struct Block<const D: usize> {
    pub(crate) coords: [F32s; D],
    pub(crate) start: usize,
    pub(crate) valid: usize,
}

impl<const D: usize> Block<D> {
    /// Gathers the block starting at `start` (which must be `< cloud.len()`).
    pub(crate) fn gather(cloud: &CloudView<'_, D>, start: usize) -> Self {
        let valid = cloud.len().saturating_sub(start).min(LANES);
        let mut lanes = [[0.0_f32; D]; LANES];
        let last = cloud
            .point(start + valid.saturating_sub(1))
            .unwrap_or([0.0; D]);
        for (k, lane) in lanes.iter_mut().enumerate() {
            *lane = cloud.point(start + k).unwrap_or(last);
        }
        let coords =
            core::array::from_fn(|d| F32s::new(lanes.map(|p| p.get(d).copied().unwrap_or(0.0))));
        Self {
            coords,
            start,
            valid,
        }
    }
}

/// An additive per-partner term of the logit: `l_ij += factor · values[j]`.
#[derive(Clone, Copy)]
pub(crate) struct Bias<'a> {
    pub(crate) values: &'a [f32],
    pub(crate) factor: f32,
}

/// One partner cloud of a sweep.
#[derive(Clone, Copy)]
pub(crate) struct Partners<'a, const D: usize> {
    pub(crate) cloud: CloudView<'a, D>,
    /// The partner cloud is the lane cloud itself: pair `(i, i)` is masked.
    pub(crate) is_self: bool,
    pub(crate) bias: Option<Bias<'a>>,
}

impl<'a, const D: usize> Partners<'a, D> {
    pub(crate) fn new(cloud: CloudView<'a, D>, is_self: bool) -> Self {
        Self {
            cloud,
            is_self,
            bias: None,
        }
    }

    pub(crate) fn with_bias(self, values: &'a [f32], factor: f32) -> Self {
        Self {
            bias: Some(Bias { values, factor }),
            ..self
        }
    }
}

/// A tile handed to a sweep's consumer: the logits of the block's lanes against `count`
/// consecutive partners starting at `start`, an upper bound of those logits per lane, and the
/// partners' coordinates.
pub(crate) struct Tile<const D: usize> {
    pub(crate) start: usize,
    pub(crate) count: usize,
    pub(crate) logits: [F32s; TILE],
    /// Lane-wise maximum of the tile's logits (the shift of the online log-sum-exp).
    pub(crate) max: F32s,
    /// Coordinate-major: `coords[d][t]` is coordinate `d` of partner `start + t`.
    pub(crate) coords: [[f32; TILE]; D],
}

impl<const D: usize> Tile<D> {
    /// The logits of the partners present in the tile.
    #[inline(always)]
    pub(crate) fn logits_mut(&mut self) -> &mut [F32s] {
        let count = self.count;
        self.logits.get_mut(..count).unwrap_or(&mut [])
    }

    /// The logits of the partners present in the tile.
    #[inline(always)]
    pub(crate) fn logits(&self) -> &[F32s] {
        self.logits.get(..self.count).unwrap_or(&[])
    }

    /// `acc_d += Σ_t w_t (y_{t,d} − x_d)` for weights `w` (one per partner of the tile): the
    /// weighted displacement sum every mean-type consumer needs.
    #[inline(always)]
    pub(crate) fn accumulate_displacements(
        &self,
        weights: &[F32s],
        x: &[F32s; D],
        acc: &mut [F32s; D],
    ) {
        for ((a, x), column) in acc.iter_mut().zip(x.iter()).zip(self.coords.iter()) {
            // Two partial sums halve the FMA dependency chain.
            let (mut even, mut odd) = (*a, F32s::splat(0.0));
            let mut pairs = weights.chunks_exact(2).zip(column.chunks_exact(2));
            for (w, y) in &mut pairs {
                if let ([w0, w1], [y0, y1]) = (w, y) {
                    even = w0.mul_add(F32s::splat(*y0) - *x, even);
                    odd = w1.mul_add(F32s::splat(*y1) - *x, odd);
                }
            }
            if weights.len() % 2 == 1 {
                let t = weights.len() - 1;
                if let (Some(w), Some(&y)) = (weights.get(t), column.get(t)) {
                    even = w.mul_add(F32s::splat(y) - *x, even);
                }
            }
            *a = even + odd;
        }
    }
}

/// Walks `partners` tile by tile against `block`, calling `consume` on each tile.
///
/// Cost `O(M·D)` vector operations for `M` partners; state one tile.
#[inline(always)]
pub(crate) fn sweep<const D: usize, S: Shape>(
    block: &Block<D>,
    partners: &Partners<'_, D>,
    rule: &LogitRule,
    mut consume: impl FnMut(&mut Tile<D>),
) {
    sweep_blocks::<D, S>(core::slice::from_ref(block), partners, rule, |_, tile| {
        consume(tile);
    });
}

/// [`sweep`] for several blocks against the same partners: each tile's partner coordinates are
/// gathered once and its logits computed and handed to `consume(b, tile)` for every block `b` in
/// turn. Each block sees the tiles of its own sweep in the same order, so the same bits; the
/// gathers are shared (the pruned sweeps sum the eight blocks of a lane tile against each target
/// tile, `drift/pruning.rs`).
#[inline(always)]
pub(crate) fn sweep_blocks<const D: usize, S: Shape>(
    blocks: &[Block<D>],
    partners: &Partners<'_, D>,
    rule: &LogitRule,
    consume: impl FnMut(usize, &mut Tile<D>),
) {
    dispatch_points!(partners.cloud, p => sweep_layout::<D, S, _>(blocks, p, partners, rule, consume));
}

/// Squared distance between the block's lanes and partner `t` of the tile.
#[inline(always)]
fn squared_distance<const D: usize>(block: &Block<D>, coords: &[[f32; TILE]; D], t: usize) -> F32s {
    let mut sq = F32s::splat(0.0);
    for (x, column) in block.coords.iter().zip(coords.iter()) {
        let diff = *x - F32s::splat(column.get(t).copied().unwrap_or(0.0));
        sq = diff.mul_add(diff, sq);
    }
    sq
}

#[inline(always)]
fn sweep_layout<const D: usize, S: Shape, P: Points<D>>(
    blocks: &[Block<D>],
    points: P,
    partners: &Partners<'_, D>,
    rule: &LogitRule,
    mut consume: impl FnMut(usize, &mut Tile<D>),
) {
    let len = partners.cloud.len();
    let inv = F32s::splat(rule.inverse_scale);
    let floor = F32s::splat(rule.squared_distance_floor);
    let mut tile = Tile {
        start: 0,
        count: 0,
        logits: [F32s::splat(0.0); TILE],
        max: F32s::splat(EXCLUDED_LOGIT),
        coords: [[0.0; TILE]; D],
    };
    let mut start = 0;
    while start < len {
        let count = (len - start).min(TILE);
        tile.start = start;
        tile.count = count;
        points.fill_tile(start, &mut tile.coords);
        for (b, block) in blocks.iter().enumerate() {
            // The hot loop: distance, logit, bias and running maximum, no branch but the loop's
            // own.
            let mut max = F32s::splat(EXCLUDED_LOGIT);
            match partners.bias {
                None => {
                    for (t, logit) in tile.logits.iter_mut().enumerate().take(count) {
                        let sq = squared_distance(block, &tile.coords, t);
                        let l = S::logit(sq.fast_max(floor), inv);
                        max = max.fast_max(l);
                        *logit = l;
                    }
                }
                Some(bias) => {
                    let values = bias.values.get(start..).unwrap_or(&[]);
                    let factor = bias.factor;
                    let logits = tile.logits.iter_mut().zip(values).enumerate().take(count);
                    for (t, (logit, &b)) in logits {
                        let sq = squared_distance(block, &tile.coords, t);
                        let l = S::biased_logit(sq.fast_max(floor), inv, F32s::splat(factor * b));
                        max = max.fast_max(l);
                        *logit = l;
                    }
                }
            }
            // Self-pairs: only tiles that overlap the block's own indices.
            if partners.is_self && start < block.start + LANES && block.start < start + count {
                for (t, logit) in tile.logits.iter_mut().enumerate().take(count) {
                    let k = (start + t).wrapping_sub(block.start);
                    if k < LANES {
                        let masked = match rule.mask {
                            PairMask::Exclude => F32s::splat(EXCLUDED_LOGIT),
                            PairMask::AddDistance(add) => {
                                let sq = squared_distance(block, &tile.coords, t);
                                let b = partners.bias.map_or(0.0, |b| {
                                    b.factor * b.values.get(start + t).copied().unwrap_or(0.0)
                                });
                                S::biased_logit_shifted(
                                    sq.fast_max(floor),
                                    F32s::splat(add),
                                    inv,
                                    F32s::splat(b),
                                )
                            }
                        };
                        *logit = lane_mask(k).select(masked, *logit);
                    }
                }
                max = crate::engine::simd::max_of(tile.logits(), F32s::splat(EXCLUDED_LOGIT));
            }
            tile.max = max;
            consume(b, &mut tile);
        }
        start += count;
    }
}

/// For every point `i` of `lanes`, `out[i] = LSE_j l(i, j)` over all partners of all `groups`
/// (their union), with self-pairs masked and per-partner biases added.
///
/// This is the row (or, with the clouds swapped, column) log-sum-exp of the two-axis softmax and
/// the softmin of Sinkhorn. Cost `O(N·M·D)`, one `exp` per pair; memory `O(1)` beyond `out`.
/// Each value depends on its own block only, so the chunks of `exec` (serial or parallel) give
/// the same bits.
pub(crate) fn log_sum_exp<const D: usize, S: Shape>(
    exec: Exec,
    lanes: &CloudView<'_, D>,
    groups: &[Partners<'_, D>],
    rule: &LogitRule,
    out: &mut [f32],
) {
    for_each_chunk::<1>(exec, lanes.len(), out, |rows| {
        for start in rows.block_starts() {
            let block = Block::gather(lanes, start);
            let mut lse = OnlineLogSumExp::new();
            for partners in groups {
                sweep::<D, S>(&block, partners, rule, |tile| {
                    lse.absorb_sum(tile.logits(), tile.max);
                });
            }
            rows.write(0, start, block.valid, F32s::new(lse.value()));
        }
    });
}

/// `μ_π(x) − x` for the block's lanes: a softmax-weighted mean of displacements `y_j − x`
/// (displacements, not positions, so that translating everything changes nothing).
#[inline(always)]
pub(crate) fn mean_displacement<const D: usize, S: Shape>(
    block: &Block<D>,
    partners: &Partners<'_, D>,
    rule: &LogitRule,
) -> [F32s; D] {
    mean_displacement_and_normaliser::<D, S>(block, partners, rule).0
}

/// [`mean_displacement`] and the running log-sum-exp of the logits (the softmax's normaliser).
#[inline(always)]
pub(crate) fn mean_displacement_and_normaliser<const D: usize, S: Shape>(
    block: &Block<D>,
    partners: &Partners<'_, D>,
    rule: &LogitRule,
) -> ([F32s; D], OnlineLogSumExp) {
    let mut sums = DisplacementSums::new();
    sweep::<D, S>(block, partners, rule, |tile| {
        sums.absorb(tile, &block.coords)
    });
    (sums.mean(), sums.lse)
}

/// The running state of a softmax-weighted mean displacement of a block's lanes: the online
/// log-sum-exp of the logits and `Σ_j e^{l_j − m}(y_j − x)`, fed a tile at a time (by one sweep,
/// or by several over parts of a partner cloud).
#[derive(Clone, Copy)]
pub(crate) struct DisplacementSums<const D: usize> {
    pub(crate) lse: OnlineLogSumExp,
    pub(crate) acc: [F32s; D],
}

impl<const D: usize> DisplacementSums<D> {
    /// Nothing absorbed.
    #[inline(always)]
    pub(crate) fn new() -> Self {
        Self {
            lse: OnlineLogSumExp::new(),
            acc: [F32s::splat(0.0); D],
        }
    }

    /// Folds one tile in (its logits become weights); `x` are the lanes' coordinates.
    #[inline(always)]
    pub(crate) fn absorb(&mut self, tile: &mut Tile<D>, x: &[F32s; D]) {
        let tile_max = tile.max;
        let rescale = self.lse.absorb(tile.logits_mut(), tile_max);
        for a in &mut self.acc {
            *a *= rescale;
        }
        tile.accumulate_displacements(tile.logits(), x, &mut self.acc);
    }

    /// `μ − x` per lane.
    #[inline(always)]
    pub(crate) fn mean(&self) -> [F32s; D] {
        self.acc.map(|a| a / self.lse.sum)
    }
}
