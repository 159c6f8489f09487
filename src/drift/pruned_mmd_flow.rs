//! The MMD-flow drift with certified tile pruning for large low-dimensional clouds.
//!
//! The field `V(x) = η [(1/P) Σ_j ∇k(x, y⁺_j) − (1/Q) Σ_k ∇k(x, y⁻_k)]` (`mmd_flow.rs`) is a sum
//! of unnormalised kernel gradients `∇_x k(x, y) = k(x, y) γ (y − x)`, with `γ = 1/σ²`
//! (Gaussian) or `γ = 1/(τ‖y − x‖)` (Laplace). Each of its two sums runs through the pruned
//! sweep of `pruning.rs` beside the kernel mass `S_i = Σ_j k_ij`: near tiles exactly, far tiles
//! skipped while their summed mass stays within `ε` of the partial mass `Ŝ_i`.
//!
//! **Certified error.** The skipped mass of query `i` is `S_skip ≤ ρ_i Ŝ_i` with `ρ_i ≤ ε`
//! (`Pruned::ratio` in `pruning.rs`), and every skipped gradient is at most
//! `k_ij · g` long: `g = 1/τ` (Laplace: `γ‖y − x‖ = 1/τ`) or `g = R_i/σ²` (Gaussian, `R_i` the
//! largest distance from `x_i` to a skipped target, a box bound). So each sum moves by at most
//! `ρ_i Ŝ_i g`, and
//!
//! `‖V̂(x_i) − V(x_i)‖ ≤ |η| (ρ⁺_i Ŝ⁺_i g⁺/P + ρ⁻_i Ŝ⁻_i g⁻/Q)`,
//!
//! the largest of which over the queries is [`PruneReport::bound`]. Relative to the field's
//! scale this is `ε` times the sums' own magnitude: where the attraction and the repulsion
//! nearly cancel, the bound is loose against the field but not against either sum. Tested
//! against the dense drift in `tests/pruned_mmd_flow.rs`; the summed tiles are exact up to `f32`
//! rounding, like the dense operator (the sums are kept relative to their running largest
//! kernel value, `e^{m_i}` applied once per query).
//!
//! The cost is `O(N·M/TILE²)` box tests plus the pairs of the tiles not skipped. With feature
//! `std`, query tiles run on the rayon pool (the same bits whatever the number of threads).

use crate::cloud::CloudView;
use crate::drift::Negatives;
use crate::drift::mmd_flow::{MmdFlowConfig, mmd_flow_drift, validate};
use crate::drift::pruning::{
    BLOCKS, Family, LaneTile, Sink, SortedClouds, TileField, check_tolerance, check_workspace,
    lane_sums, pruned_sums, pruning_pays_at, scatter_query_tiles, spatial_workspace_len,
};
pub use crate::drift::pruning::{PruneReport, PrunedWorkspace};
use crate::engine::chunks::Exec;
use crate::engine::simd::{F32s, LANES, OnlineLogSumExp, exp};
use crate::engine::sweep::{TILE, Tile};
use crate::engine::{LogitRule, PairMask, Shape, dispatch_shape, is_laplace};
use crate::error::Error;
use crate::kernel::Kernel;

/// Configuration of [`pruned_mmd_flow_drift`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PrunedMmdFlowConfig {
    /// The drift itself (kernel, step).
    pub mmd_flow: MmdFlowConfig,
    /// The relative error `ε` allowed in every kernel mass, in `(0, 1)` (e.g. `1e-6`).
    pub tolerance: f32,
}

/// Buffer lengths of [`PrunedWorkspace`] for `n` queries, `p` positives and `q` negatives
/// (`q = 0` when the negatives are the queries): `(keys, points, boxes)`; `None` on overflow.
#[must_use]
pub const fn pruned_mmd_flow_workspace_len(
    n: usize,
    p: usize,
    q: usize,
) -> Option<(usize, usize, usize)> {
    spatial_workspace_len(n, p, q)
}

/// [`mmd_flow_drift`] with certified tile pruning: the same field up to the reported bound
/// (module documentation), in `O(N·M/T²)` box tests plus the pairs of the near tiles. Output
/// coordinate-major (`V_d(x_i)` at `out[d·N + i]`), in the caller's order.
///
/// Where pruning cannot pay ([`pruning_pays`](crate::pruning_pays) is `false`: the kernel's
/// reach is most of the clouds' diameter) it runs `mmd_flow_drift` instead: its bits, every
/// pair evaluated, a zero bound.
///
/// # Errors
/// Those of `mmd_flow_drift`; [`Error::InvalidParameter`] (`"tolerance"`) unless `0 < ε < 1`;
/// [`Error::ShapeMismatch`] for workspace buffers of the wrong length.
///
/// # Example
/// ```
/// use drifting::spatial::BoundingBox;
/// use drifting::{
///     CloudView, Kernel, MmdFlowConfig, Negatives, PrunedMmdFlowConfig, PrunedWorkspace,
///     mmd_flow_drift, pruned_mmd_flow_drift, pruned_mmd_flow_workspace_len,
/// };
/// // Two 2D grids of 48 × 48 points 0.2 apart, the data shifted by a quarter of the spacing.
/// let grid = |shift: f32| -> Vec<[f32; 2]> {
///     (0..2304).map(|i| [(i % 48) as f32 * 0.2 + shift, (i / 48) as f32 * 0.2]).collect()
/// };
/// let (generated, data) = (grid(0.0), grid(0.05));
/// let (x, y) = (CloudView::from_points(&generated), CloudView::from_points(&data));
/// let config = PrunedMmdFlowConfig {
///     mmd_flow: MmdFlowConfig::new(Kernel::laplace(0.05)),
///     tolerance: 1e-6,
/// };
/// let (keys, points, boxes) = pruned_mmd_flow_workspace_len(2304, 2304, 0).unwrap();
/// let mut keys = vec![0_u64; keys];
/// let mut points = vec![[0.0_f32; 2]; points];
/// let mut boxes = vec![BoundingBox { min: [0.0; 2], max: [0.0; 2], count: 0 }; boxes];
/// let workspace = PrunedWorkspace { keys: &mut keys, points: &mut points, boxes: &mut boxes };
/// let mut field = vec![0.0_f32; 2 * 2304];
/// let report = pruned_mmd_flow_drift(&x, &y, Negatives::Queries, &config, workspace, &mut field)?;
/// assert!(report.evaluated < report.pairs / 2); // most far tiles skipped
///
/// let mut dense = vec![0.0_f32; 2 * 2304];
/// mmd_flow_drift(&x, &y, Negatives::Queries, &config.mmd_flow, &mut dense)?;
/// let scale = dense.iter().fold(0.0_f32, |m, v| m.max(v.abs()));
/// for (a, b) in field.iter().zip(&dense) {
///     assert!(f64::from((a - b).abs()) <= report.bound + 1e-4 * f64::from(scale));
/// }
/// # Ok::<(), drifting::Error>(())
/// ```
pub fn pruned_mmd_flow_drift<const D: usize>(
    queries: &CloudView<'_, D>,
    positives: &CloudView<'_, D>,
    negatives: Negatives<'_, D>,
    config: &PrunedMmdFlowConfig,
    workspace: PrunedWorkspace<'_, D>,
    out: &mut [f32],
) -> Result<PruneReport, Error> {
    let flow = &config.mmd_flow;
    let given = negatives;
    let (negatives, is_self, diameter2) = validate(queries, positives, negatives, flow, out)?;
    check_tolerance(config.tolerance)?;
    let q = if is_self { 0 } else { negatives.len() };
    check_workspace(&workspace, queries.len(), positives.len(), q)?;
    if !pruning_pays_at(&flow.kernel, config.tolerance, diameter2) {
        mmd_flow_drift(queries, positives, given, flow, out)?;
        let targets = positives.len() + negatives.len();
        return Ok(PruneReport::exact(queries.len() as u64 * targets as u64));
    }
    let separate = (!is_self).then_some(&negatives);
    let clouds = SortedClouds::sort(queries, positives, separate, workspace)?;
    #[allow(clippy::cast_precision_loss)]
    let sweep = Sweep {
        clouds: &clouds,
        mask_self: is_self,
        rule: LogitRule::new(&flow.kernel, PairMask::Exclude),
        kernel: flow.kernel,
        tolerance: config.tolerance,
        scales: [
            flow.step / positives.len() as f32,
            flow.step / negatives.len() as f32,
        ],
    };
    let report = dispatch_shape!(is_laplace(&flow.kernel), S => scatter_query_tiles(
        Exec::current(),
        &clouds,
        |b| sweep.query_tile::<S>(b),
        PruneReport::EMPTY,
        out,
    ));
    Ok(report)
}

/// Kernel-gradient sums `Σ_j e^{l_ij − m_i} γ_ij (y_j − x_i)` beside the online log-sum-exp of
/// the logits (`m_i` its running maximum): the MMD flow's unnormalised sums relative to
/// `e^{m_i}`, the pruned sweep's sink.
#[derive(Clone, Copy)]
struct GradientSums<S, const D: usize> {
    lse: OnlineLogSumExp,
    acc: [F32s; D],
    inverse: F32s,
    shape: core::marker::PhantomData<S>,
}

impl<S: Shape, const D: usize> GradientSums<S, D> {
    fn new(rule: &LogitRule) -> Self {
        Self {
            lse: OnlineLogSumExp::new(),
            acc: [F32s::splat(0.0); D],
            inverse: F32s::splat(rule.inverse_scale),
            shape: core::marker::PhantomData,
        }
    }

    /// `Σ_j k_ij γ_ij (y_j − x_i)` per lane (coordinate-major): `e^{m_i}` applied.
    fn sums(&self) -> [[f32; LANES]; D] {
        let scale = exp(self.lse.max);
        self.acc.map(|a| (a * scale).to_array())
    }
}

impl<S: Shape, const D: usize> Sink<D> for GradientSums<S, D> {
    #[inline(always)]
    fn absorb_tile(&mut self, tile: &mut Tile<D>, x: &[F32s; D]) {
        // The gradient factors from the logits, before they become weights `e^{l − m}`.
        let mut factors = [F32s::splat(0.0); TILE];
        for (f, &l) in factors.iter_mut().zip(tile.logits()) {
            *f = S::gradient_factor(l, self.inverse);
        }
        let tile_max = tile.max;
        let rescale = self.lse.absorb(tile.logits_mut(), tile_max);
        for a in &mut self.acc {
            *a *= rescale;
        }
        for (w, f) in tile.logits_mut().iter_mut().zip(&factors) {
            *w *= *f;
        }
        tile.accumulate_displacements(tile.logits(), x, &mut self.acc);
    }

    #[inline(always)]
    fn normaliser(&self) -> &OnlineLogSumExp {
        &self.lse
    }
}

/// The sorted clouds and parameters of one pruned evaluation.
struct Sweep<'s, 'w, const D: usize> {
    clouds: &'s SortedClouds<'w, D>,
    mask_self: bool,
    rule: LogitRule,
    kernel: Kernel,
    tolerance: f32,
    /// `η/P` and `η/Q`.
    scales: [f32; 2],
}

impl<const D: usize> Sweep<'_, '_, D> {
    /// The field of query tile `b` (in Morton order) and its share of the report.
    fn query_tile<S: Shape>(&self, b: usize) -> TileField<D> {
        let mut result = TileField::new();
        let Some(lanes) = LaneTile::new(&self.clouds.queries, b) else {
            return result;
        };
        // Per side and query: the gradient sum, `ρ` and `ln Ŝ`; and the longest skipped
        // gradient per unit of kernel mass, `g`.
        let sides = [
            (&self.clouds.positives, false),
            (self.clouds.negatives(), self.mask_self),
        ]
        .map(|(cloud, masked)| {
            let family = Family::plain(cloud, masked);
            let mut sums = [GradientSums::<S, D>::new(&self.rule); BLOCKS];
            let pruned =
                pruned_sums::<S, _, D>(&lanes, &[family], &self.rule, self.tolerance, &mut sums);
            result.pairs += pruned.pairs;
            result.evaluated += pruned.evaluated;
            let lanes = lane_sums(&lanes, &sums, &pruned, GradientSums::<S, D>::sums);
            let longest = match self.kernel {
                Kernel::Laplace { temperature } => 1.0 / f64::from(temperature),
                Kernel::Gaussian { bandwidth } => {
                    pruned.reach / (f64::from(bandwidth) * f64::from(bandwidth))
                }
            };
            (lanes, longest)
        });
        let [(toward_p, longest_p), (toward_q, longest_q)] = &sides;
        let [scale_p, scale_q] = self.scales;
        for ((v, gp), gq) in result.field.iter_mut().zip(toward_p).zip(toward_q) {
            // Per sum: |η|/P · ρ Ŝ g.
            let mut error = 0.0_f64;
            for (lane, longest, scale) in [(gp, longest_p, scale_p), (gq, longest_q, scale_q)] {
                if lane.ratio > 0.0 {
                    let mass = libm::exp(f64::from(lane.log_total));
                    error += f64::from(scale.abs()) * lane.ratio * mass * longest;
                }
            }
            result.bound = result.bound.max(error);
            for ((slot, &p), &q) in v.iter_mut().zip(&gp.mean).zip(&gq.mean) {
                *slot = scale_p * p - scale_q * q;
            }
        }
        result
    }
}
