//! The multiscale Sinkhorn divergence and drift for large 2D/3D clouds (issue 17): the
//! ε-scaling schedule runs on clusters of the clouds, the iterations at the target ε on the points
//! themselves, with pruned softmins. GeomLoss's multiscale scheme (its `cluster_scale` option), on
//! the Morton grid the pruned softmins already sort the clouds into.
//!
//! 1. **Clusters.** Each cloud is cut by the cells of side at most `h` (the cluster scale) of
//!    the Morton grid over its bounding box (`src/spatial.rs`): the points of a cell are
//!    consecutive in Morton order, and become one point at their weighted mean with their summed
//!    weight (cells of zero weight are dropped).
//! 2. **Coarse solves.** The three solves of `S_ε` between the clustered clouds, with the whole
//!    ε-scaling schedule down to the target ε and the stop rule of the configuration
//!    ([`pruned_sinkhorn_divergence`]). `K` clusters make each coarse softmin cost `K_a·K_b`
//!    pairs instead of `N·M`.
//! 3. **Extrapolation.** Each fine potential is the softmin of its coarse partner, as the
//!    Sinkhorn update defines it: `f(x_i) = −ε LSE_k (log b̂_k + ĝ_k/ε − C(x_i, ŷ_k)/ε)`,
//!    `g`, `f_aa`, `g_bb` alike (`N·K` pairs each, dense).
//! 4. **Fine solves.** [`pruned_sinkhorn_divergence`] (or [`pruned_sinkhorn_drift`]) on the
//!    clouds themselves, warm-started from the extrapolated potentials, iterating at the target
//!    ε until the stop rule holds. When each cloud is a single cluster (a cluster scale above
//!    the clouds' extent) the coarse level knows nothing but the two means, and its
//!    extrapolation `f(x_i) = C(x_i, ȳ) − ĝ` is a poor start for far points (on a cloud with
//!    outliers a fine solve from it ran 1 188 iterations, and stalled after 628 with other
//!    tiles, where a cold solve at the target ε converges in 236): the fine solves then run
//!    from zero with the configured ε-scaling, as [`pruned_sinkhorn_divergence`] alone does.
//!
//! **What is exact.** The result is that of the fine solves: their stop rule is tested on the
//! points, not on the clusters, so `converged` means the L1 marginal error of the fine potentials
//! is within the configured tolerance, and their certified pruning bound is that of
//! [`pruned_sinkhorn_divergence`] against the exact solve from the same start. The clusters only
//! choose the start; a poor one costs iterations, not accuracy. (With
//! [`SinkhornConfig::max_iterations`](super::SinkhornConfig::max_iterations) `= 0` the fine
//! solves run no iteration and report the marginal error of the extrapolated potentials, as
//! GeomLoss's multiscale scheme ends on its extrapolation.)
//!
//! **The cluster scale.** A cell of side `h` moves a point by at most `h√D`, which changes a
//! cost `½‖x − y‖²` by about `h√D·‖x − y‖`: clusters well below the blur start the fine solves
//! close to their fixed point, larger ones make the coarse solves cheaper. See
//! [`MultiscaleSinkhornConfig::cluster_scale`] for the measured choice.

use super::pruned::{
    PrunedSinkhornConfig, PrunedSinkhornWorkspace, pruned_sinkhorn_divergence,
    pruned_sinkhorn_drift,
};
use super::softmin::softmin;
use super::{
    SinkhornConfig, SinkhornDivergence, SinkhornReport, SinkhornWorkspace, Solves, WeightedCloud,
    prepare,
};
use crate::cloud::CloudView;
use crate::drift::pruning::{
    PruneReport, PrunedWorkspace, SortedClouds, check_lengths, check_tolerance,
};
use crate::engine::chunks::Exec;
use crate::error::Error;
use crate::spatial::{BoundingBox, key_bits};

/// Configuration of [`multiscale_sinkhorn_divergence`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MultiscaleSinkhornConfig {
    /// The solves (blur or ε, cost, update rule, ε-scaling, stop rule) and the pruning tolerance,
    /// as for [`pruned_sinkhorn_divergence`]. The schedule runs on the clusters; the fine solves
    /// start warm at the target ε whatever [`SinkhornConfig::warm_start`](super::SinkhornConfig::warm_start)
    /// says (which must be `false`: the coarse solves start from zero).
    pub pruned: PrunedSinkhornConfig,
    /// The side `h > 0` of the largest grid cell merged into one cluster (the cells are those of
    /// the Morton grid over each cloud's bounding box, so the side used is the largest
    /// `extent/2^k ≤ h`). [`MultiscaleSinkhornConfig::new`] sets it to the blur `√ε`.
    ///
    /// Measured (`examples/pruned_sinkhorn.rs --multiscale h`: two interlocked tori of extent
    /// about 1 against their deformed copy, blur 0.05, tolerance `1e-3`, pruning `1e-6`, two
    /// threads, x86-64-v3, seconds):
    ///
    /// | `h` | `N = 16 384` | `N = 65 536` | clusters at 65 536 | fine `(a, b)` iterations |
    /// | --- | ---: | ---: | ---: | ---: |
    /// | 0.025 (blur/2) | 7.76 | 24.6 | 17 638 | 1 |
    /// | 0.05 (blur) | 2.11 | 8.35 | 4 600 | 3 |
    /// | 0.1 | 1.47 | 12.9 | 1 138 | 7 |
    /// | 0.2 | 10.9 | | 246 (at 16 384) | |
    ///
    /// Finer clusters cost coarse solves nearly as large as the fine ones; coarser ones a poor
    /// start (at `h = 0.2` the fine solves run most of the iterations). Without the clusters
    /// ([`pruned_sinkhorn_divergence`] with its ε-scaling) `N = 16 384` takes 14.8 s.
    pub cluster_scale: f32,
}

impl MultiscaleSinkhornConfig {
    /// `pruned` with clusters of side at most its blur `√ε` (see
    /// [`MultiscaleSinkhornConfig::cluster_scale`]).
    #[must_use]
    pub fn new(pruned: PrunedSinkhornConfig) -> Self {
        Self {
            pruned,
            cluster_scale: libm::sqrtf(pruned.sinkhorn.epsilon()),
        }
    }
}

/// What [`multiscale_sinkhorn_divergence`] did besides the fine solves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MultiscaleReport {
    /// Clusters of `a` and of `b`.
    pub clusters: [usize; 2],
    /// The coarse divergence and its three solves (the ε-scaling steps are theirs).
    pub coarse: SinkhornDivergence,
    /// The pruning of the coarse solves.
    pub coarse_pruning: [PruneReport; 3],
    /// The pruning of the fine solves: their pairs, those evaluated and their certified bound
    /// against the exact solves from the same start ([`pruned_sinkhorn_divergence`]; for
    /// [`multiscale_sinkhorn_drift`], the solves `(a, b)`, `(a, a)` and the projections, as
    /// [`pruned_sinkhorn_drift`] reports them).
    pub fine_pruning: [PruneReport; 3],
    /// Pairs of the extrapolation softmins (all evaluated; four for the divergence, three for
    /// the drift).
    pub extrapolation_pairs: u64,
}

/// Caller-owned memory of [`multiscale_sinkhorn_divergence`].
#[derive(Debug)]
pub struct MultiscaleSinkhornWorkspace<'a, const D: usize> {
    /// The fine solves' workspace, as for [`pruned_sinkhorn_divergence`] (lengths from
    /// [`pruned_sinkhorn_workspace_len`](super::pruned_sinkhorn_workspace_len) and
    /// [`SinkhornWorkspace::required_len`]): after a call the fine potentials are in its
    /// `sinkhorn` part, in the caller's order. Its spatial buffers also serve the clustering and
    /// the coarse solves.
    pub fine: PrunedSinkhornWorkspace<'a, D>,
    /// The cluster centres (`N + M` points at most).
    pub clusters: &'a mut [[f32; D]],
    /// The clusters' weights and the coarse solves' potentials and scratch.
    pub values: &'a mut [f32],
}

/// Lengths `(clusters, values)` of [`MultiscaleSinkhornWorkspace`] for clouds of `n` and `m`
/// points (besides its `fine` part): `(n + m, 7(n + m) + ⌈max(n, m)/T⌉)` (`T` =
/// [`PRUNE_TILE`](crate::PRUNE_TILE)); `None` on overflow.
#[must_use]
pub const fn multiscale_sinkhorn_workspace_len(n: usize, m: usize) -> Option<(usize, usize)> {
    let Some(total) = n.checked_add(m) else {
        return None;
    };
    let Some(sinkhorn) = SinkhornWorkspace::checked_required_len(n, m) else {
        return None;
    };
    let Some((_, _, _, pruned)) = super::pruned_sinkhorn_workspace_len(n, m) else {
        return None;
    };
    let Some(values) = total.checked_add(sinkhorn) else {
        return None;
    };
    let Some(values) = values.checked_add(pruned) else {
        return None;
    };
    Some((total, values))
}

/// The debiased Sinkhorn divergence `S_ε(a, b)` by the multiscale scheme of the module
/// documentation: the ε-scaling schedule on clusters of side at most `config.cluster_scale`,
/// the iterations at the target ε on the points, every softmin pruned within
/// `config.pruned.tolerance`. Returns the fine divergence (its reports are the fine solves':
/// no scaling steps, the iterations from the extrapolated start, unless each cloud is one
/// cluster) and what the coarse level did.
///
/// # Errors
/// Those of [`pruned_sinkhorn_divergence`] on the fine clouds;
/// [`Error::InvalidParameter`] (`"cluster_scale"`) unless `cluster_scale` is positive and
/// finite, (`"warm_start"`) for a warm-start configuration; [`Error::ShapeMismatch`] for
/// `clusters` or `values` of the wrong length.
///
/// # Example
/// ```
/// use drifting::spatial::BoundingBox;
/// use drifting::{CloudView, PrunedSinkhornConfig, PrunedSinkhornWorkspace, PrunedWorkspace};
/// use drifting::{SinkhornConfig, SinkhornWorkspace, WeightedCloud, sinkhorn_divergence};
/// use drifting::{MultiscaleSinkhornConfig, MultiscaleSinkhornWorkspace};
/// use drifting::{multiscale_sinkhorn_divergence, multiscale_sinkhorn_workspace_len};
/// use drifting::pruned_sinkhorn_workspace_len;
/// const N: usize = 600; // a 30 × 20 grid of spacing 0.01, and the same grid shifted a little
/// let a: Vec<[f32; 2]> = (0..N).map(|i| [(i % 30) as f32 * 0.01, (i / 30) as f32 * 0.01]).collect();
/// let b: Vec<[f32; 2]> = a.iter().map(|&[u, v]| [u + 0.03, v - 0.02]).collect();
/// let (x, y) = (WeightedCloud::uniform(CloudView::from_points(&a)),
///               WeightedCloud::uniform(CloudView::from_points(&b)));
/// let sinkhorn = SinkhornConfig::new(); // blur 0.05: clusters of side at most 0.05
/// let config = MultiscaleSinkhornConfig::new(PrunedSinkhornConfig { sinkhorn, tolerance: 1e-6 });
/// let (keys, points, boxes, values) = pruned_sinkhorn_workspace_len(N, N).unwrap();
/// let empty = BoundingBox { min: [0.0; 2], max: [0.0; 2], count: 0 };
/// let (mut keys, mut points) = (vec![0_u64; keys], vec![[0.0_f32; 2]; points]);
/// let (mut boxes, mut values) = (vec![empty; boxes], vec![0.0_f32; values]);
/// let mut buffer = vec![0.0_f32; SinkhornWorkspace::required_len(N, N)];
/// let (clusters, coarse) = multiscale_sinkhorn_workspace_len(N, N).unwrap();
/// let (mut clusters, mut coarse) = (vec![[0.0_f32; 2]; clusters], vec![0.0_f32; coarse]);
/// let mut workspace = MultiscaleSinkhornWorkspace {
///     fine: PrunedSinkhornWorkspace {
///         sinkhorn: SinkhornWorkspace::new(&mut buffer, N, N)?,
///         spatial: PrunedWorkspace { keys: &mut keys, points: &mut points, boxes: &mut boxes },
///         values: &mut values,
///     },
///     clusters: &mut clusters,
///     values: &mut coarse,
/// };
/// let (divergence, report) = multiscale_sinkhorn_divergence(&x, &y, &config, &mut workspace)?;
/// assert!(divergence.reports.iter().all(|r| r.converged)); // on the points themselves
/// assert!(report.clusters[0] < N / 4); // the schedule ran on fewer points
///
/// let mut dense_buffer = vec![0.0_f32; SinkhornWorkspace::required_len(N, N)];
/// let mut dense_workspace = SinkhornWorkspace::new(&mut dense_buffer, N, N)?;
/// let dense = sinkhorn_divergence(&x, &y, &sinkhorn, &mut dense_workspace)?;
/// assert!((divergence.value - dense.value).abs() < 1e-4 * dense.value.abs().max(1e-3));
/// # Ok::<(), drifting::Error>(())
/// ```
pub fn multiscale_sinkhorn_divergence<const D: usize>(
    x: &WeightedCloud<'_, D>,
    y: &WeightedCloud<'_, D>,
    config: &MultiscaleSinkhornConfig,
    workspace: &mut MultiscaleSinkhornWorkspace<'_, D>,
) -> Result<(SinkhornDivergence, MultiscaleReport), Error> {
    let start = coarse_start(x, y, config, workspace, Solves::All)?;
    let (divergence, fine_pruning) =
        pruned_sinkhorn_divergence(x, y, &start.fine(config), &mut workspace.fine)?;
    Ok((divergence, start.report(fine_pruning)))
}

/// [`pruned_sinkhorn_drift`] by the multiscale scheme: the coarse level as for
/// [`multiscale_sinkhorn_divergence`] (it solves all three coarse problems; the `(b, b)` one only
/// serves the report), the potentials `f`, `g`, `f_aa` extrapolated to the points, then
/// [`pruned_sinkhorn_drift`] warm-started from them: the fine solves `(a, b)` and `(a, a)` at the
/// target ε and both barycentric projections, `T_ab(x_i) − T_aa(x_i)` written coordinate-major
/// into `out` (`N·D` values) in the caller's order. Returns the fine solves' reports and the
/// multiscale report, whose `fine_pruning` holds the solves' and, third, the projections'
/// pruning (their certified bound as [`pruned_sinkhorn_drift`] states it).
///
/// # Errors
/// Those of [`pruned_sinkhorn_drift`] and [`multiscale_sinkhorn_divergence`].
pub fn multiscale_sinkhorn_drift<const D: usize>(
    x: &WeightedCloud<'_, D>,
    y: &WeightedCloud<'_, D>,
    config: &MultiscaleSinkhornConfig,
    workspace: &mut MultiscaleSinkhornWorkspace<'_, D>,
    out: &mut [f32],
) -> Result<([SinkhornReport; 2], MultiscaleReport), Error> {
    check_lengths(&[("out", x.len().saturating_mul(D), out.len())])?;
    let start = coarse_start(x, y, config, workspace, Solves::PairAndFirst)?;
    let (solves, fine_pruning) =
        pruned_sinkhorn_drift(x, y, &start.fine(config), &mut workspace.fine, out)?;
    Ok((solves, start.report(fine_pruning)))
}

/// What the coarse level did.
struct CoarseStart {
    clusters: [usize; 2],
    coarse: SinkhornDivergence,
    coarse_pruning: [PruneReport; 3],
    extrapolation_pairs: u64,
}

impl CoarseStart {
    /// The fine solves' configuration: the same, warm-started; cold, with the configured
    /// ε-scaling, when each cloud is one cluster (module documentation, step 4).
    fn fine(&self, config: &MultiscaleSinkhornConfig) -> PrunedSinkhornConfig {
        PrunedSinkhornConfig {
            sinkhorn: SinkhornConfig {
                warm_start: self.clusters != [1, 1],
                ..config.pruned.sinkhorn
            },
            tolerance: config.pruned.tolerance,
        }
    }

    fn report(self, fine_pruning: [PruneReport; 3]) -> MultiscaleReport {
        MultiscaleReport {
            clusters: self.clusters,
            coarse: self.coarse,
            coarse_pruning: self.coarse_pruning,
            fine_pruning,
            extrapolation_pairs: self.extrapolation_pairs,
        }
    }
}

/// Steps 1 to 3 of the module documentation: validates the call as the fine one will be
/// (`solves`: the potentials it starts from), clusters both clouds, solves the coarse problems
/// with the schedule and writes the potentials of `solves`, extrapolated to the points, into the
/// fine workspace (caller's order).
fn coarse_start<const D: usize>(
    x: &WeightedCloud<'_, D>,
    y: &WeightedCloud<'_, D>,
    config: &MultiscaleSinkhornConfig,
    workspace: &mut MultiscaleSinkhornWorkspace<'_, D>,
    solves: Solves,
) -> Result<CoarseStart, Error> {
    let sinkhorn = config.pruned.sinkhorn;
    if sinkhorn.warm_start {
        return Err(Error::InvalidParameter {
            input: "warm_start",
        });
    }
    let h = config.cluster_scale;
    if !(h.is_finite() && h > 0.0) {
        return Err(Error::InvalidParameter {
            input: "cluster_scale",
        });
    }
    // Every check of the fine call first, so that nothing is written for invalid input.
    prepare(x, y, &sinkhorn, &mut workspace.fine.sinkhorn, solves)?;
    check_tolerance(config.pruned.tolerance)?;
    let (n, m) = (x.len(), y.len());
    let Some((cluster_len, values_len)) = multiscale_sinkhorn_workspace_len(n, m) else {
        return Err(Error::InvalidParameter { input: "workspace" });
    };
    check_lengths(&[
        ("clusters", cluster_len, workspace.clusters.len()),
        ("values", values_len, workspace.values.len()),
    ])?;

    // 1. Clusters of both clouds, weights in `values`.
    let (weights, rest) = workspace.values.split_at_mut(n + m);
    let (sinkhorn_buffer, pruned_values) = rest.split_at_mut(5 * (n + m));
    let [kx, ky] = {
        let spatial = PrunedWorkspace {
            keys: &mut *workspace.fine.spatial.keys,
            points: &mut *workspace.fine.spatial.points,
            boxes: &mut *workspace.fine.spatial.boxes,
        };
        let sorted = SortedClouds::sort_morton(&x.points, &y.points, spatial)?;
        let (x_clusters, y_clusters) = workspace.clusters.split_at_mut(n);
        let (x_weights, y_weights) = weights.split_at_mut(n);
        let kx = cluster(
            x,
            sorted.queries.points,
            sorted.order,
            h,
            x_clusters,
            x_weights,
        );
        let ky = cluster(
            y,
            sorted.positives.points,
            sorted.positive_order,
            h,
            y_clusters,
            y_weights,
        );
        [kx, ky]
    };
    let (x_clusters, y_clusters) = workspace.clusters.split_at(n);
    let (x_weights, y_weights) = weights.split_at(n);
    let (cx, cy) = (
        CloudView::from_points(x_clusters.get(..kx).unwrap_or(&[])),
        CloudView::from_points(y_clusters.get(..ky).unwrap_or(&[])),
    );

    // 2. The coarse solves, with the schedule, in the front of the fine spatial buffers.
    let (a, b) = (
        WeightedCloud::weighted(cx, x_weights.get(..kx).unwrap_or(&[])),
        WeightedCloud::weighted(cy, y_weights.get(..ky).unwrap_or(&[])),
    );
    let (coarse, coarse_pruning) = {
        let Some((keys, points, boxes, values)) = super::pruned_sinkhorn_workspace_len(kx, ky)
        else {
            return Err(Error::InvalidParameter { input: "workspace" });
        };
        let fine = &mut workspace.fine.spatial;
        let mut coarse = PrunedSinkhornWorkspace {
            sinkhorn: SinkhornWorkspace::new(&mut *sinkhorn_buffer, kx, ky)?,
            spatial: PrunedWorkspace {
                keys: fine.keys.get_mut(..keys).unwrap_or(&mut []),
                points: fine.points.get_mut(..points).unwrap_or(&mut []),
                boxes: fine.boxes.get_mut(..boxes).unwrap_or(&mut []),
            },
            values: pruned_values.get_mut(..values).unwrap_or(&mut []),
        };
        pruned_sinkhorn_divergence(&a, &b, &config.pruned, &mut coarse)?
    };

    // 3. Extrapolation to the points: each fine potential is the softmin of its coarse partner,
    // with the clusters' log-weights in the pruned values (free after the coarse solves).
    let (log_x, rest) = pruned_values.split_at_mut(kx.min(pruned_values.len()));
    let log_y = rest.get_mut(..ky).unwrap_or(&mut []);
    a.write_log_weights(log_x);
    b.write_log_weights(log_y);
    let (log_x, log_y) = (&*log_x, &*log_y);
    let coarse_workspace = SinkhornWorkspace::new(&mut *sinkhorn_buffer, kx, ky)?;
    let eps = sinkhorn.epsilon();
    let exec = Exec::current();
    let parts = workspace.fine.sinkhorn.parts();
    let extrapolations = [
        (parts.f_ab, &cy, log_y, coarse_workspace.g(), &x.points),
        (parts.g_ab, &cx, log_x, coarse_workspace.f(), &y.points),
        (parts.f_aa, &cx, log_x, coarse_workspace.f_aa(), &x.points),
        (parts.g_bb, &cy, log_y, coarse_workspace.g_bb(), &y.points),
    ];
    let count = if matches!(solves, Solves::All) { 4 } else { 3 };
    let mut extrapolation_pairs = 0_u64;
    for (out, partners, log_weights, potential, lanes) in extrapolations.into_iter().take(count) {
        softmin(
            exec,
            lanes,
            partners,
            log_weights,
            Some(potential),
            eps,
            sinkhorn.cost,
            &mut *parts.bias,
            out,
        );
        extrapolation_pairs += (lanes.len() as u64) * (partners.len() as u64);
    }
    Ok(CoarseStart {
        clusters: [kx, ky],
        coarse,
        coarse_pruning,
        extrapolation_pairs,
    })
}

/// Merges the points of `cloud` (`sorted`: in Morton order, `order` its entries
/// `(key << 32) | index`) by the cells of side at most `h` of its Morton grid: writes the
/// weighted means into `centres` and the summed weights, renormalised to sum to 1, into
/// `weights`, and returns their number (cells of zero weight are left out).
fn cluster<const D: usize>(
    cloud: &WeightedCloud<'_, D>,
    sorted: &[[f32; D]],
    order: &[u64],
    h: f32,
    centres: &mut [[f32; D]],
    weights: &mut [f32],
) -> usize {
    let bits = key_bits(D);
    let level = BoundingBox::of(sorted.iter()).map_or(0, |b| {
        let extent = b.min.iter().zip(&b.max).fold(0.0_f64, |e, (&lo, &hi)| {
            e.max(f64::from(hi) - f64::from(lo))
        });
        // The smallest level k with extent/2^k ≤ h, at most the key's precision.
        let ratio = extent / f64::from(h);
        if ratio > 1.0 {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let k = libm::ceil(libm::log2(ratio)).min(f64::from(bits)) as u32;
            k
        } else {
            0
        }
    });
    // A cell of level k is a run of keys agreeing above their last D·(bits − k) bits.
    let shift = 32 + (D as u32) * (bits - level);
    let cell = |entry: u64| entry.checked_shr(shift).unwrap_or(0);
    let mut count = 0_usize;
    let mut total = 0.0_f64;
    let mut start = 0_usize;
    while start < sorted.len() {
        let id = order.get(start).map_or(0, |&e| cell(e));
        let mut end = start + 1;
        while end < sorted.len() && order.get(end).map(|&e| cell(e)) == Some(id) {
            end += 1;
        }
        let mut sum = [0.0_f64; D];
        let mut weight = 0.0_f64;
        let entries = order.get(start..end).unwrap_or(&[]);
        for (point, &entry) in sorted.get(start..end).unwrap_or(&[]).iter().zip(entries) {
            let w = f64::from(cloud.weight((entry & 0xFFFF_FFFF) as usize));
            weight += w;
            for (s, &c) in sum.iter_mut().zip(point) {
                *s += w * f64::from(c);
            }
        }
        if weight > 0.0
            && let (Some(centre), Some(slot)) = (centres.get_mut(count), weights.get_mut(count))
        {
            #[allow(clippy::cast_possible_truncation)]
            for (c, &s) in centre.iter_mut().zip(&sum) {
                *c = (s / weight) as f32;
            }
            #[allow(clippy::cast_possible_truncation)]
            let w = weight as f32;
            *slot = w;
            total += weight;
            count += 1;
        }
        start = end;
    }
    if total > 0.0 {
        for w in weights.iter_mut().take(count) {
            #[allow(clippy::cast_possible_truncation)]
            let v = (f64::from(*w) / total) as f32;
            *w = v;
        }
    }
    count
}
