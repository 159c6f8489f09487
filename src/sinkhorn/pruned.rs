//! The debiased Sinkhorn divergence with certified tile pruning of its softmins, for large 2D/3D
//! clouds (issue 17, item 3).
//!
//! Every softmin `f_i = −ε LSE_j (log b_j + g_j/ε − C_ij/ε)` is a row log-sum-exp whose logits
//! carry a per-target bias `β_j = log b_j + g_j/ε`: exactly what the pruned sweep of the drifts
//! (`src/drift/pruning.rs`) sums, with a biased target family. Both clouds are put in Morton order
//! once per call and cut into tiles of [`PRUNE_TILE`] points with bounding boxes; for a lane tile
//! `I` and a target tile `J` the logit bound is `max_{j∈J} β_j − (c/ε)·d²_min(I, J)` (`c` the
//! cost factor, ½ for `½‖x − y‖²`, `d²_min` the box-to-box lower bound). The near tiles are summed
//! exactly (the engine's sweep and online log-sum-exp, as the dense softmin), the far tiles are
//! skipped within the relative budget `tolerance`.
//!
//! **Certified error of one softmin.** The pruned normaliser `Ŝ_i` misses at most `ρ_i·Ŝ_i` of
//! the exact one, `ρ_i ≤ tolerance`: `Ŝ_i ≤ S_i ≤ (1 + ρ_i)Ŝ_i`. So the pruned softmin
//! `f̂_i = −ε ln Ŝ_i` is never below the exact one and at most `ε·ln(1 + ρ_i) ≤ ε·tolerance`
//! above it.
//!
//! **Through the iterations.** A softmin is monotone and shifts with its input
//! (`T(g + c) = T(g) − c`), so it never enlarges the distance between two inputs; the averaged
//! update `½(f + T(f))` neither; the balancing of the pair (`solver.rs`) only moves the constant
//! the pair leaves free. So when a pruned and an exact solve run the same iterations, their
//! potentials differ by at most `B = Σ_k δ_k`, the sum over the solve's softmins `k` of their
//! largest certified error `δ_k = max_i ε_k ln(1 + ρ_i)` ([`PruneReport::bound`] of the solve;
//! `B ≤ K·ε_max·tolerance` for `K` softmins): the self potentials directly, the pair `(f, g)`
//! modulo its free constant `(f + c, g − c)`. Hence the divergence moves by at most
//! `2B_ab + B_aa + B_bb` (the pair's dual `⟨a, f⟩ + ⟨b, g⟩` does not see the constant). The
//! iteration counts can differ by a few where the stop test sits close to the tolerance; the
//! potentials then differ by what one more iteration moves them as well. `f32` rounding comes on
//! top, as between any two summation orders. Tested against
//! [`sinkhorn_divergence`](super::sinkhorn_divergence) in `tests/pruned_sinkhorn.rs`.
//!
//! **Cost.** `O(N·M/T²)` box tests per softmin (`T` = [`PRUNE_TILE`]) plus the pairs of the tiles
//! not skipped. At the coarse ε of the ε-scaling schedule (`ε` near the squared diameter) every
//! target is within reach of every lane and almost nothing is skipped: those softmins cost what
//! the dense ones do. Pruning pays at the small ε of the end of the schedule and of the
//! iterations at the target, where most of the iterations are.

use super::divergence::{SinkhornDivergence, solve_divergence};
use super::softmin::{Side, Softmins, cost_rule, write_bias};
use super::solver::PairState;
use super::solver::{solve_pair, solve_self};
use super::{
    GroundCost, SinkhornConfig, SinkhornReport, SinkhornWorkspace, Solves, WeightedCloud, prepare,
};
use crate::cloud::CloudView;
use crate::drift::pruning::{
    BLOCKS, Family, LaneTile, PRUNE_TILE, PruneReport, PrunedWorkspace, Sorted, SortedClouds,
    TargetBias, TileField, check_lengths, check_tolerance, lane_sums, norm, pruned_log_sum_exp,
    pruned_sums, scatter_query_tiles, spatial_workspace_len,
};
use crate::engine::chunks::Exec;
use crate::engine::simd::EXCLUDED_LOGIT;
use crate::engine::simd::F32s;
use crate::engine::{DisplacementSums, GaussianShape, LogitRule};
use crate::error::Error;

/// Configuration of [`pruned_sinkhorn_divergence`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PrunedSinkhornConfig {
    /// The solves themselves (blur or ε, cost, update rule, ε-scaling, stop rule), as for
    /// [`sinkhorn_divergence`](super::sinkhorn_divergence).
    pub sinkhorn: SinkhornConfig,
    /// The relative error allowed in every softmin's normaliser, in `(0, 1)` (e.g. `1e-6`): each
    /// softmin value is within `ε·ln(1 + tolerance) ≤ ε·tolerance` of the exact one.
    pub tolerance: f32,
}

/// Caller-owned memory of [`pruned_sinkhorn_divergence`], lengths from
/// [`pruned_sinkhorn_workspace_len`] and [`SinkhornWorkspace::required_len`].
#[derive(Debug)]
pub struct PrunedSinkhornWorkspace<'a, const D: usize> {
    /// The potentials, log-weights and temporaries, as for
    /// [`sinkhorn_divergence`](super::sinkhorn_divergence): after a call its potentials
    /// ([`SinkhornWorkspace::f`], [`SinkhornWorkspace::g`], [`SinkhornWorkspace::f_aa`],
    /// [`SinkhornWorkspace::g_bb`]) are in the caller's order, and a
    /// [`SinkhornConfig::warm_start`] call starts from them.
    pub sinkhorn: SinkhornWorkspace<'a>,
    /// Both clouds in Morton order (`x` then `y`).
    pub spatial: PrunedWorkspace<'a, D>,
    /// The weights in Morton order and the largest softmin bias per target tile.
    pub values: &'a mut [f32],
}

/// Buffer lengths of [`PrunedSinkhornWorkspace`] for clouds of `n` and `m` points:
/// `(keys, points, boxes, values)` = `(n + m, n + m, b(n) + b(m), n + m + max(⌈n/T⌉, ⌈m/T⌉))`
/// with `b(k) = ⌈k/T⌉ + ⌈⌈k/T⌉/16⌉` (the tiles' boxes and those of their groups of 16; `T` =
/// [`PRUNE_TILE`]); `None` on overflow. The Sinkhorn part takes
/// [`SinkhornWorkspace::required_len`]`(n, m)` values.
#[must_use]
pub const fn pruned_sinkhorn_workspace_len(
    n: usize,
    m: usize,
) -> Option<(usize, usize, usize, usize)> {
    let Some((keys, points, boxes)) = spatial_workspace_len(n, m, 0) else {
        return None;
    };
    let (tiles_n, tiles_m) = (n.div_ceil(PRUNE_TILE), m.div_ceil(PRUNE_TILE));
    let tiles = if tiles_n > tiles_m { tiles_n } else { tiles_m };
    // `points` = n + m did not overflow; the tile count is smaller than either.
    let Some(values) = points.checked_add(tiles) else {
        return None;
    };
    Some((keys, points, boxes, values))
}

/// [`sinkhorn_divergence`](super::sinkhorn_divergence) with certified tile pruning of every
/// softmin (module documentation): the same solves (schedule, update rule, stop rule) whose
/// softmins skip far tiles within the relative budget `config.tolerance`. Returns the
/// divergence and, per solve (`(a, b)`, `(a, a)`, `(b, b)`, as
/// [`SinkhornDivergence::reports`]), the pairs of the dense softmins, those evaluated, and the
/// certified bound `B` of the module documentation.
///
/// Both clouds are sorted into Morton order once per call (with their weights) and solved in
/// that order; the four potentials are handed back in the caller's order in
/// `workspace.sinkhorn`, where [`sinkhorn_divergence`](super::sinkhorn_divergence) leaves them.
/// No heap (with feature `std`, one result per lane tile is collected from the rayon pool; the
/// same bits whatever the number of threads).
///
/// Cost per softmin `O(N·M/T²)` box tests plus the pairs not skipped; almost none are skipped at
/// the coarse ε of the ε-scaling schedule (module documentation).
///
/// # Errors
/// Those of [`sinkhorn_divergence`](super::sinkhorn_divergence) (empty or non-finite clouds;
/// weights of the wrong length, negative or not summing to 1; an invalid blur, ε, scaling or
/// tolerance of the solves; out-of-range extents; a Sinkhorn workspace made for other sizes;
/// non-finite or out-of-range warm-start potentials); [`Error::InvalidParameter`]
/// (`"tolerance"`) unless `0 < config.tolerance < 1`; [`Error::ShapeMismatch`] for spatial or
/// value buffers of the wrong length; [`Error::CapacityExceeded`] for clouds above
/// [`MAX_ORDERED_POINTS`](crate::spatial::MAX_ORDERED_POINTS) points.
///
/// # Example
/// ```
/// use drifting::spatial::BoundingBox;
/// use drifting::{CloudView, PrunedSinkhornConfig, PrunedSinkhornWorkspace, PrunedWorkspace};
/// use drifting::{SinkhornConfig, SinkhornWorkspace, WeightedCloud};
/// use drifting::{pruned_sinkhorn_divergence, pruned_sinkhorn_workspace_len, sinkhorn_divergence};
/// const N: usize = 600; // a 30 × 20 grid of spacing 0.05, and the same grid shifted a little
/// let a: Vec<[f32; 2]> = (0..N).map(|i| [(i % 30) as f32 * 0.05, (i / 30) as f32 * 0.05]).collect();
/// let b: Vec<[f32; 2]> = a.iter().map(|&[u, v]| [u + 0.03, v - 0.02]).collect();
/// let (x, y) = (WeightedCloud::uniform(CloudView::from_points(&a)),
///               WeightedCloud::uniform(CloudView::from_points(&b)));
/// let sinkhorn = SinkhornConfig::new(); // blur 0.05: pairs beyond about 0.3 are negligible
/// let config = PrunedSinkhornConfig { sinkhorn, tolerance: 1e-6 };
/// let (keys, points, boxes, values) = pruned_sinkhorn_workspace_len(N, N).unwrap();
/// let empty = BoundingBox { min: [0.0; 2], max: [0.0; 2], count: 0 };
/// let (mut keys, mut points) = (vec![0_u64; keys], vec![[0.0_f32; 2]; points]);
/// let (mut boxes, mut values) = (vec![empty; boxes], vec![0.0_f32; values]);
/// let mut buffer = vec![0.0_f32; SinkhornWorkspace::required_len(N, N)];
/// let mut workspace = PrunedSinkhornWorkspace {
///     sinkhorn: SinkhornWorkspace::new(&mut buffer, N, N)?,
///     spatial: PrunedWorkspace { keys: &mut keys, points: &mut points, boxes: &mut boxes },
///     values: &mut values,
/// };
/// let (pruned, reports) = pruned_sinkhorn_divergence(&x, &y, &config, &mut workspace)?;
/// assert!(pruned.reports.iter().all(|r| r.converged));
/// let (pairs, evaluated) = reports.iter().fold((0, 0), |(p, e), r| (p + r.pairs, e + r.evaluated));
/// assert!(evaluated < pairs); // far tiles were skipped
///
/// // The dense divergence agrees (the potentials are in the caller's order in both).
/// let f = workspace.sinkhorn.f().to_vec();
/// let mut dense_buffer = vec![0.0_f32; SinkhornWorkspace::required_len(N, N)];
/// let mut dense_workspace = SinkhornWorkspace::new(&mut dense_buffer, N, N)?;
/// let dense = sinkhorn_divergence(&x, &y, &sinkhorn, &mut dense_workspace)?;
/// assert!((pruned.value - dense.value).abs() < 1e-5);
/// let shift = f[0] - dense_workspace.f()[0]; // the free constant of the pair
/// assert!(f.iter().zip(dense_workspace.f()).all(|(p, d)| (p - d - shift).abs() < 1e-4));
/// # Ok::<(), drifting::Error>(())
/// ```
pub fn pruned_sinkhorn_divergence<const D: usize>(
    x: &WeightedCloud<'_, D>,
    y: &WeightedCloud<'_, D>,
    config: &PrunedSinkhornConfig,
    workspace: &mut PrunedSinkhornWorkspace<'_, D>,
) -> Result<(SinkhornDivergence, [PruneReport; 3]), Error> {
    let sinkhorn = &config.sinkhorn;
    let SortedProblem {
        clouds,
        x: sorted_x,
        y: sorted_y,
        mut state,
        f_aa,
        g_bb,
        bias,
        tile_bounds,
    } = sorted_problem(x, y, config, Solves::All, workspace)?;
    let (x_order, y_order) = (clouds.order, clouds.positive_order);
    let mut softmins = PrunedSoftmins {
        exec: Exec::current(),
        x: &clouds.queries,
        y: &clouds.positives,
        cost: sinkhorn.cost,
        tolerance: config.tolerance,
        bias,
        tile_bounds,
        reports: [PruneReport::EMPTY; 3],
    };
    let divergence = solve_divergence(
        &mut softmins,
        &sorted_x,
        &sorted_y,
        sinkhorn,
        &mut state,
        f_aa,
        g_bb,
    );
    scatter(state.f, x_order, state.tmp_f);
    scatter(f_aa, x_order, state.tmp_f);
    scatter(state.g, y_order, state.tmp_g);
    scatter(g_bb, y_order, state.tmp_g);
    Ok((divergence, softmins.reports))
}

/// [`sinkhorn_drift`](super::sinkhorn_drift) with certified tile pruning: the solves `(a, b)` and
/// `(a, a)` with pruned softmins (as [`pruned_sinkhorn_divergence`]), then the two barycentric
/// projections `T_ab(x_i)` and `T_aa(x_i)` as pruned softmax means (the pruned mean shift's sweep
/// with the plans' biases `log w_j + potential_j/ε`). Writes `T_ab(x_i) − T_aa(x_i)`
/// coordinate-major (`N·D` values) in the caller's order, and the potentials `f`, `g`, `f_aa` in
/// the caller's order in `workspace.sinkhorn`, as `sinkhorn_drift` leaves them.
///
/// **Certified error.** Given the potentials, each projection skips at most `ρ_i ≤ ε` of its
/// row's mass (`ε` = `config.tolerance`), so it moves by at most `ρ_i·(R_i + ‖T̂(x_i) − x_i‖)`,
/// `R_i` the largest distance from `x_i` to a skipped target (box bound), as for the pruned mean
/// shift; the third report's [`PruneReport::bound`] is the largest sum of both over the queries.
/// The potentials themselves are those of pruned solves: after the same iterations they are
/// within the first two reports' bounds `B` of the exact solves' (module documentation), which
/// changes the plans' weights by at most a factor `e^{±2B/ε}` on top.
///
/// Returns the two solves' reports and, per solve and for the projections, the pairs of the
/// dense evaluation, those evaluated and the bounds.
///
/// # Errors
/// Those of [`pruned_sinkhorn_divergence`], and [`Error::ShapeMismatch`] (`"out"`) unless
/// `out.len() = N·D`.
///
/// # Example
/// ```
/// use drifting::spatial::BoundingBox;
/// use drifting::{CloudView, PrunedSinkhornConfig, PrunedSinkhornWorkspace, PrunedWorkspace};
/// use drifting::{SinkhornConfig, SinkhornWorkspace, WeightedCloud, sinkhorn_drift};
/// use drifting::{pruned_sinkhorn_drift, pruned_sinkhorn_workspace_len};
/// const N: usize = 600; // a 30 × 20 grid of spacing 0.05, and the same grid shifted a little
/// let b: Vec<[f32; 2]> = (0..N).map(|i| [(i % 30) as f32 * 0.05, (i / 30) as f32 * 0.05]).collect();
/// let a: Vec<[f32; 2]> = b.iter().map(|&[u, v]| [u - 0.03, v + 0.02]).collect();
/// let (x, y) = (WeightedCloud::uniform(CloudView::from_points(&a)),
///               WeightedCloud::uniform(CloudView::from_points(&b)));
/// let config = PrunedSinkhornConfig { sinkhorn: SinkhornConfig::new(), tolerance: 1e-6 };
/// let (keys, points, boxes, values) = pruned_sinkhorn_workspace_len(N, N).unwrap();
/// let empty = BoundingBox { min: [0.0; 2], max: [0.0; 2], count: 0 };
/// let (mut keys, mut points) = (vec![0_u64; keys], vec![[0.0_f32; 2]; points]);
/// let (mut boxes, mut values) = (vec![empty; boxes], vec![0.0_f32; values]);
/// let mut buffer = vec![0.0_f32; SinkhornWorkspace::required_len(N, N)];
/// let mut workspace = PrunedSinkhornWorkspace {
///     sinkhorn: SinkhornWorkspace::new(&mut buffer, N, N)?,
///     spatial: PrunedWorkspace { keys: &mut keys, points: &mut points, boxes: &mut boxes },
///     values: &mut values,
/// };
/// let mut pruned = vec![0.0_f32; 2 * N];
/// let (solves, reports) = pruned_sinkhorn_drift(&x, &y, &config, &mut workspace, &mut pruned)?;
/// assert!(solves.iter().all(|r| r.converged));
/// assert!(reports[2].evaluated < reports[2].pairs); // far tiles skipped in the projections
///
/// // The dense drift agrees: each sample is sent back by about (0.03, −0.02).
/// let mut dense_buffer = vec![0.0_f32; SinkhornWorkspace::required_len(N, N)];
/// let mut dense_workspace = SinkhornWorkspace::new(&mut dense_buffer, N, N)?;
/// let mut dense = vec![0.0_f32; 2 * N];
/// sinkhorn_drift(&x, &y, &config.sinkhorn, &mut dense_workspace, &mut dense)?;
/// assert!(pruned.iter().zip(&dense).all(|(p, d)| (p - d).abs() < 1e-4));
/// # Ok::<(), drifting::Error>(())
/// ```
pub fn pruned_sinkhorn_drift<const D: usize>(
    x: &WeightedCloud<'_, D>,
    y: &WeightedCloud<'_, D>,
    config: &PrunedSinkhornConfig,
    workspace: &mut PrunedSinkhornWorkspace<'_, D>,
    out: &mut [f32],
) -> Result<([SinkhornReport; 2], [PruneReport; 3]), Error> {
    let sinkhorn = &config.sinkhorn;
    let (n, m) = (x.len(), y.len());
    check_lengths(&[("out", n.saturating_mul(D), out.len())])?;
    let SortedProblem {
        clouds,
        x: sorted_x,
        y: sorted_y,
        mut state,
        f_aa,
        bias,
        tile_bounds,
        ..
    } = sorted_problem(x, y, config, Solves::PairAndFirst, workspace)?;
    let (x_order, y_order) = (clouds.order, clouds.positive_order);
    let exec = Exec::current();
    let mut softmins = PrunedSoftmins {
        exec,
        x: &clouds.queries,
        y: &clouds.positives,
        cost: sinkhorn.cost,
        tolerance: config.tolerance,
        bias: &mut *bias,
        tile_bounds: &mut *tile_bounds,
        reports: [PruneReport::EMPTY; 3],
    };
    let report_ab = solve_pair(&mut softmins, &sorted_x, &sorted_y, sinkhorn, &mut state);
    let report_aa = solve_self(
        &mut softmins,
        Side::X,
        &sorted_x,
        &sorted_y.points,
        sinkhorn,
        f_aa,
        state.log_a,
        state.tmp_f,
    );
    let [solve_ab, solve_aa, _] = softmins.reports;
    // The plans' biases (the temporaries are free after the solves): toward `y` in `tmp_g` with
    // its tile bounds in `tile_bounds`, toward `x` in `tmp_f` with its tile bounds in `bias`.
    let eps = sinkhorn.epsilon();
    write_bias(state.log_b, Some(state.g), eps, state.tmp_g);
    write_bias(state.log_a, Some(f_aa), eps, state.tmp_f);
    let toward_y = biased_family(
        &clouds.positives,
        state.tmp_g.get(..m).unwrap_or(&[]),
        tile_bounds,
    );
    let toward_x = biased_family(&clouds.queries, state.tmp_f.get(..n).unwrap_or(&[]), bias);
    let rule = cost_rule(eps, sinkhorn.cost);
    let projections = scatter_query_tiles(
        exec,
        &clouds,
        |b| {
            projection_tile(
                &clouds.queries,
                b,
                [&toward_y, &toward_x],
                &rule,
                config.tolerance,
            )
        },
        PruneReport::EMPTY,
        out,
    );
    scatter(state.f, x_order, state.tmp_f);
    scatter(f_aa, x_order, state.tmp_f);
    scatter(state.g, y_order, state.tmp_g);
    Ok(([report_ab, report_aa], [solve_ab, solve_aa, projections]))
}

/// `T_ab(x_i) − T_aa(x_i)` for the queries of tile `b` (Morton order): the pruned softmax means
/// toward the two biased families, and the certified bound of both (the pruned mean shift's).
fn projection_tile<const D: usize>(
    queries: &Sorted<'_, D>,
    b: usize,
    families: [&Family<'_, '_, D>; 2],
    rule: &LogitRule,
    tolerance: f32,
) -> TileField<D> {
    let mut result = TileField::new();
    let Some(lanes) = LaneTile::new(queries, b) else {
        return result;
    };
    let [toward_y, toward_x] = families.map(|family| {
        let mut sums = [DisplacementSums::<D>::new(); BLOCKS];
        let pruned = pruned_sums::<GaussianShape, _, D>(
            &lanes,
            core::slice::from_ref(family),
            rule,
            tolerance,
            &mut sums,
        );
        result.pairs += pruned.pairs;
        result.evaluated += pruned.evaluated;
        let lanes = lane_sums(&lanes, &sums, &pruned, |s| s.mean().map(F32s::to_array));
        (lanes, pruned.reach)
    });
    let ((means_y, reach_y), (means_x, reach_x)) = (toward_y, toward_x);
    for ((v, my), mx) in result.field.iter_mut().zip(&means_y).zip(&means_x) {
        let mut error = 0.0_f64;
        for (lane, reach) in [(my, reach_y), (mx, reach_x)] {
            if lane.ratio > 0.0 {
                error += lane.ratio * (reach + norm(&lane.mean));
            }
        }
        result.bound = result.bound.max(error);
        for ((slot, &p), &q) in v.iter_mut().zip(&my.mean).zip(&mx.mean) {
            *slot = p - q;
        }
    }
    result
}

/// What both pruned calls start from: the clouds in Morton order with their weights, the
/// Sinkhorn state with the log-weights in that order, and the scratch of the pruned softmins.
struct SortedProblem<'w, const D: usize> {
    clouds: SortedClouds<'w, D>,
    x: WeightedCloud<'w, D>,
    y: WeightedCloud<'w, D>,
    state: PairState<'w>,
    f_aa: &'w mut [f32],
    g_bb: &'w mut [f32],
    bias: &'w mut [f32],
    tile_bounds: &'w mut [f32],
}

/// Validates a pruned call (`prepare` for `solves`, the tolerance, the values buffer), sorts
/// both clouds into Morton order with their weights, writes the log-weights in that order and,
/// with a warm start, gathers the potentials of `solves` into it.
fn sorted_problem<'w, const D: usize>(
    x: &WeightedCloud<'_, D>,
    y: &WeightedCloud<'_, D>,
    config: &PrunedSinkhornConfig,
    solves: Solves,
    workspace: &'w mut PrunedSinkhornWorkspace<'_, D>,
) -> Result<SortedProblem<'w, D>, Error> {
    let sinkhorn = &config.sinkhorn;
    let all = matches!(solves, Solves::All);
    prepare(x, y, sinkhorn, &mut workspace.sinkhorn, solves)?;
    check_tolerance(config.tolerance)?;
    let (n, m) = (x.len(), y.len());
    let Some((_, _, _, values)) = pruned_sinkhorn_workspace_len(n, m) else {
        return Err(Error::InvalidParameter { input: "workspace" });
    };
    check_lengths(&[("values", values, workspace.values.len())])?;
    let spatial = PrunedWorkspace {
        keys: &mut *workspace.spatial.keys,
        points: &mut *workspace.spatial.points,
        boxes: &mut *workspace.spatial.boxes,
    };
    let clouds = SortedClouds::sort(&x.points, &y.points, None, spatial)?;
    let (x_order, y_order) = (clouds.order, clouds.positive_order);
    let (x_weights, rest) = workspace.values.split_at_mut(n.min(workspace.values.len()));
    let (y_weights, tile_bounds) = rest.split_at_mut(m.min(rest.len()));
    let sorted_x = sorted_cloud(x, &clouds.queries, x_order, x_weights);
    let sorted_y = sorted_cloud(y, &clouds.positives, y_order, y_weights);
    let parts = workspace.sinkhorn.parts();
    sorted_x.write_log_weights(parts.log_a);
    sorted_y.write_log_weights(parts.log_b);
    let (state, f_aa, g_bb, bias) = parts.into_pair();
    if sinkhorn.warm_start {
        gather(state.f, x_order, state.tmp_f);
        gather(f_aa, x_order, state.tmp_f);
        gather(state.g, y_order, state.tmp_g);
        if all {
            gather(g_bb, y_order, state.tmp_g);
        }
    }
    Ok(SortedProblem {
        clouds,
        x: sorted_x,
        y: sorted_y,
        state,
        f_aa,
        g_bb,
        bias,
        tile_bounds,
    })
}

/// The caller's index of sorted position `k` of a Morton order (`(key << 32) | index`).
fn original_index(order: &[u64], k: usize) -> usize {
    order
        .get(k)
        .map_or(usize::MAX, |&entry| (entry & 0xFFFF_FFFF) as usize)
}

/// `cloud` in Morton order: the sorted points, and its weights gathered into `weights` (uniform
/// weights stay uniform).
fn sorted_cloud<'s, const D: usize>(
    cloud: &WeightedCloud<'_, D>,
    sorted: &Sorted<'s, D>,
    order: &[u64],
    weights: &'s mut [f32],
) -> WeightedCloud<'s, D> {
    let points = CloudView::from_points(sorted.points);
    match cloud.weights {
        None => WeightedCloud::uniform(points),
        Some(original) => {
            for (k, slot) in weights.iter_mut().enumerate() {
                *slot = original
                    .get(original_index(order, k))
                    .copied()
                    .unwrap_or(0.0);
            }
            WeightedCloud::weighted(points, weights)
        }
    }
}

/// `values[k] ← values[order_k]` (caller's order to Morton order), through `tmp`.
fn gather(values: &mut [f32], order: &[u64], tmp: &mut [f32]) {
    for (t, &v) in tmp.iter_mut().zip(values.iter()) {
        *t = v;
    }
    for (k, slot) in values.iter_mut().enumerate() {
        *slot = tmp.get(original_index(order, k)).copied().unwrap_or(0.0);
    }
}

/// `values[order_k] ← values[k]` (Morton order back to the caller's), through `tmp`.
fn scatter(values: &mut [f32], order: &[u64], tmp: &mut [f32]) {
    for (t, &v) in tmp.iter_mut().zip(values.iter()) {
        *t = v;
    }
    for (k, &v) in tmp.iter().enumerate() {
        if let Some(slot) = values.get_mut(original_index(order, k)) {
            *slot = v;
        }
    }
}

/// The pruned softmins of one divergence: both clouds in Morton order, the bias scratch, the
/// per-tile bias bounds and the counts of each solve.
struct PrunedSoftmins<'s, 'w, const D: usize> {
    exec: Exec,
    x: &'s Sorted<'w, D>,
    y: &'s Sorted<'w, D>,
    cost: GroundCost,
    tolerance: f32,
    /// `log w_j + potential_j/ε` of the targets (at least `max(N, M)` values).
    bias: &'s mut [f32],
    /// The largest bias of every target tile.
    tile_bounds: &'s mut [f32],
    /// Per solve: `(a, b)`, `(a, a)`, `(b, b)`.
    reports: [PruneReport; 3],
}

impl<const D: usize> Softmins for PrunedSoftmins<'_, '_, D> {
    fn softmin(
        &mut self,
        lanes: Side,
        partners: Side,
        log_weights: &[f32],
        potential: Option<&[f32]>,
        epsilon: f32,
        out: &mut [f32],
    ) {
        let (x, y) = (self.x, self.y);
        let cloud = |side| match side {
            Side::X => x,
            Side::Y => y,
        };
        let (lane_cloud, target_cloud) = (cloud(lanes), cloud(partners));
        write_bias(log_weights, potential, epsilon, self.bias);
        let bias = self.bias.get(..target_cloud.points.len()).unwrap_or(&[]);
        let family = biased_family(target_cloud, bias, self.tile_bounds);
        let solve = match (lanes, partners) {
            (Side::X, Side::X) => 1,
            (Side::Y, Side::Y) => 2,
            _ => 0,
        };
        let mut report = self
            .reports
            .get(solve)
            .copied()
            .unwrap_or(PruneReport::EMPTY);
        let ratio = pruned_log_sum_exp::<GaussianShape, D>(
            self.exec,
            lane_cloud,
            &[family],
            &cost_rule(epsilon, self.cost),
            self.tolerance,
            out,
            None,
            &mut report,
        );
        for o in out.iter_mut() {
            *o *= -epsilon;
        }
        report.bound += f64::from(epsilon) * libm::log1p(ratio);
        if let Some(slot) = self.reports.get_mut(solve) {
            *slot = report;
        }
    }
}

/// The targets `cloud` with the softmin biases `bias` (`log w_j + potential_j/ε`, sorted order)
/// as a pruned family: per tile the largest bias (into `tile_bounds`), and the largest spread of
/// the included targets' biases within a tile (zero weights have a bias near `EXCLUDED_LOGIT`
/// and no share).
fn biased_family<'s, 'w, const D: usize>(
    cloud: &'s Sorted<'w, D>,
    bias: &'s [f32],
    tile_bounds: &'s mut [f32],
) -> Family<'s, 'w, D> {
    let mut spread = 0.0_f32;
    for (slot, tile) in tile_bounds.iter_mut().zip(bias.chunks(PRUNE_TILE)) {
        let (mut low, mut high) = (f32::INFINITY, f32::NEG_INFINITY);
        for &b in tile {
            high = high.max(b);
            if b > 0.5 * EXCLUDED_LOGIT {
                low = low.min(b);
            }
        }
        *slot = high;
        spread = spread.max(high - low);
    }
    Family {
        cloud,
        masked: false,
        bias: Some(TargetBias {
            values: bias,
            factor: 1.0,
            tile_extreme: tile_bounds,
            spread,
        }),
    }
}
