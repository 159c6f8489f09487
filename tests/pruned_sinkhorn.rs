//! The Sinkhorn divergence with certified tile pruning of its softmins (issue 17, item 3),
//! against the dense `sinkhorn_divergence` on uniform, clustered, far-outlier and duplicate
//! clouds, 2D and 3D, uniform and non-uniform (some zero) weights, at pruning tolerances 1e-4 to
//! 1e-8.
//!
//! **What is certified** (`src/sinkhorn/pruned.rs`): each pruned softmin is within
//! `[0, ε·ln(1 + ρ)]`, `ρ ≤ tolerance`, of the exact softmin of the same input; through the
//! iterations, which never enlarge a difference, a solve's potentials stay within `B`, the sum of
//! those per-softmin bounds over the solve (its `PruneReport::bound`), of the exact solve's *when
//! both run the same iterations*: the self potentials directly, the pair `(f, g)` modulo its free
//! constant `(f + c, g − c)`. So `|ΔS| ≤ 2B_ab + B_aa + B_bb`.
//!
//! **The `f32` slack.** The two solves also sum in different orders (Morton order, tiles), so
//! every softmin rounds differently: about `2⁻²⁴·(|f|_max + C_max + ε ln N)` per softmin (the
//! logits `β_j − C_ij/ε` are differences of terms up to `C_max/ε`), carried through the `K`
//! softmins of a solve by the same non-expansive iteration. The slack per softmin is
//! `ROUNDING·2⁻²⁴·(|f|_max + C_max + ε·ln N)` with `ROUNDING = 2`, times `K`; the largest share
//! of it used on these clouds is printed by the first test (0.014: the iteration contracts
//! in practice, so the differences stay below `K` times one softmin's rounding).
//!
//! The first test runs both solves for a fixed number of iterations (tolerance 0, a cap below
//! the stall window), so the bound applies exactly; the second runs them to convergence (L1
//! marginal error 1e-3), where the iteration counts may differ by one or two and the values
//! then by what those iterations move: `VALUE_SLACK` relative to the transport terms.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::too_many_lines,
    clippy::type_complexity
)]

use drifting::spatial::BoundingBox;
use drifting::{
    CloudView, Error, PruneReport, PrunedSinkhornConfig, PrunedSinkhornWorkspace, PrunedWorkspace,
    SinkhornConfig, SinkhornDivergence, SinkhornWorkspace, UpdateRule, WeightedCloud,
    pruned_sinkhorn_divergence, pruned_sinkhorn_workspace_len, sinkhorn_divergence,
};
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// `f32` rounding per softmin, in units of `2⁻²⁴·(|f|_max + ε ln N)` (module documentation).
const ROUNDING: f64 = 2.0;

/// The converged values' slack, relative to the largest transport term (module documentation).
const VALUE_SLACK: f64 = 1e-5;

pub(crate) fn uniform(rng: &mut Xoshiro256PlusPlus) -> f32 {
    (rng.next_u32() >> 8) as f32 / (1_u32 << 24) as f32
}

/// (name, x, y): uniform fill of the unit cube, four tight clusters, a unit cloud with far
/// outliers (1.5 units away), heavy duplicates; `y` another draw of the same kind, moved a little.
pub(crate) fn clouds<const D: usize>(
    seed: u64,
    n: usize,
    m: usize,
) -> Vec<(&'static str, Vec<[f32; D]>, Vec<[f32; D]>)> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut make = |kind: usize, count: usize, shift: f32| -> Vec<[f32; D]> {
        (0..count)
            .map(|i| match kind {
                0 => core::array::from_fn(|_| uniform(&mut rng) + shift),
                1 => {
                    let centre = (i % 4) as f32 * 0.3;
                    core::array::from_fn(|_| centre + shift + (uniform(&mut rng) - 0.5) * 0.05)
                }
                2 => {
                    let far = if i % 97 == 0 { 1.5 } else { 0.0 };
                    core::array::from_fn(|d| {
                        uniform(&mut rng) + shift + if d == 0 { far } else { 0.0 }
                    })
                }
                _ => core::array::from_fn(|d| ((i % 5) as f32) * 0.2 + d as f32 * 0.1 + shift),
            })
            .collect()
    };
    ["uniform", "clusters", "outliers", "duplicates"]
        .iter()
        .enumerate()
        .map(|(kind, name)| (*name, make(kind, n, 0.0), make(kind, m, 0.05)))
        .collect()
}

/// Positive weights summing to 1 with every seventh zero.
pub(crate) fn weights(seed: u64, n: usize) -> Vec<f32> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let raw: Vec<f64> = (0..n)
        .map(|i| {
            if i % 7 == 3 {
                0.0
            } else {
                0.2 + f64::from(uniform(&mut rng))
            }
        })
        .collect();
    let total: f64 = raw.iter().sum();
    raw.iter().map(|w| (w / total) as f32).collect()
}

/// The four potentials `f, g, f_aa, g_bb` of a solve.
pub(crate) type Potentials = [Vec<f32>; 4];

pub(crate) fn potentials(workspace: &SinkhornWorkspace<'_>) -> Potentials {
    [
        workspace.f().to_vec(),
        workspace.g().to_vec(),
        workspace.f_aa().to_vec(),
        workspace.g_bb().to_vec(),
    ]
}

/// Owned buffers of a pruned Sinkhorn workspace for `n` and `m` points (NaN-filled where
/// values are written before they are read).
pub(crate) struct Buffers<const D: usize> {
    n: usize,
    m: usize,
    sinkhorn: Vec<f32>,
    keys: Vec<u64>,
    points: Vec<[f32; D]>,
    boxes: Vec<BoundingBox<D>>,
    values: Vec<f32>,
}

impl<const D: usize> Buffers<D> {
    pub(crate) fn new(n: usize, m: usize) -> Self {
        let (keys, points, boxes, values) = pruned_sinkhorn_workspace_len(n, m).unwrap();
        let empty = BoundingBox {
            min: [0.0; D],
            max: [0.0; D],
            count: 0,
        };
        Self {
            n,
            m,
            sinkhorn: vec![f32::NAN; SinkhornWorkspace::required_len(n, m)],
            keys: vec![0; keys],
            points: vec![[0.0; D]; points],
            boxes: vec![empty; boxes],
            values: vec![f32::NAN; values],
        }
    }

    pub(crate) fn workspace(&mut self) -> PrunedSinkhornWorkspace<'_, D> {
        PrunedSinkhornWorkspace {
            sinkhorn: SinkhornWorkspace::new(&mut self.sinkhorn, self.n, self.m).unwrap(),
            spatial: PrunedWorkspace {
                keys: &mut self.keys,
                points: &mut self.points,
                boxes: &mut self.boxes,
            },
            values: &mut self.values,
        }
    }
}

/// Runs the pruned divergence with fresh buffers.
fn pruned<const D: usize>(
    x: &WeightedCloud<'_, D>,
    y: &WeightedCloud<'_, D>,
    config: &PrunedSinkhornConfig,
) -> Result<(SinkhornDivergence, [PruneReport; 3], Potentials), Error> {
    let mut buffers = Buffers::<D>::new(x.len(), y.len());
    let mut workspace = buffers.workspace();
    let (divergence, reports) = pruned_sinkhorn_divergence(x, y, config, &mut workspace)?;
    Ok((divergence, reports, potentials(&workspace.sinkhorn)))
}

/// The dense divergence.
pub(crate) fn dense<const D: usize>(
    x: &WeightedCloud<'_, D>,
    y: &WeightedCloud<'_, D>,
    config: &SinkhornConfig,
) -> (SinkhornDivergence, Potentials) {
    let mut buffer = vec![0.0; SinkhornWorkspace::required_len(x.len(), y.len())];
    let mut workspace = SinkhornWorkspace::new(&mut buffer, x.len(), y.len()).unwrap();
    let divergence = sinkhorn_divergence(x, y, config, &mut workspace).unwrap();
    (divergence, potentials(&workspace))
}

/// `max |a − b|` over the points of positive weight.
fn sup_difference(a: &[f32], b: &[f32], w: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .zip(w)
        .filter(|(_, w)| **w > 0.0)
        .map(|((&a, &b), _)| (f64::from(a) - f64::from(b)).abs())
        .fold(0.0, f64::max)
}

/// `min_c max(|Δf + c|, |Δg − c|)` over the points of positive weight: the distance of two
/// pairs modulo their free constant.
fn pair_difference(pruned: &Potentials, dense: &Potentials, a: &[f32], b: &[f32]) -> f64 {
    let range = |p: &[f32], d: &[f32], w: &[f32]| {
        p.iter()
            .zip(d)
            .zip(w)
            .filter(|(_, w)| **w > 0.0)
            .map(|((&p, &d), _)| f64::from(p) - f64::from(d))
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            })
    };
    let (f_lo, f_hi) = range(&pruned[0], &dense[0], a);
    let (g_lo, g_hi) = range(&pruned[1], &dense[1], b);
    // max(Δf + c) = f_hi + c, max(−Δf − c) = −f_lo − c, max(Δg − c) = g_hi − c, …
    let up = f_hi.max(-g_lo);
    let down = (-f_lo).max(g_hi);
    0.5 * (up + down)
}

/// `Σ_i w_i |a_i − b_i|`.
fn mean_difference(a: &[f32], b: &[f32], w: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .zip(w)
        .map(|((&a, &b), &w)| f64::from(w) * (f64::from(a) - f64::from(b)).abs())
        .sum()
}

/// `⟨a, |Δf + c|⟩ + ⟨b, |Δg − c|⟩` with `c = ½(⟨b, Δg⟩ − ⟨a, Δf⟩)`: the weighted L1 distance
/// of two pairs modulo their free constant.
fn pair_mean_difference(pruned: &Potentials, dense: &Potentials, a: &[f32], b: &[f32]) -> f64 {
    let mean = |p: &[f32], d: &[f32], w: &[f32]| -> f64 {
        p.iter()
            .zip(d)
            .zip(w)
            .map(|((&p, &d), &w)| f64::from(w) * (f64::from(p) - f64::from(d)))
            .sum()
    };
    let c = 0.5 * (mean(&pruned[1], &dense[1], b) - mean(&pruned[0], &dense[0], a));
    let spread = |p: &[f32], d: &[f32], w: &[f32], c: f64| -> f64 {
        p.iter()
            .zip(d)
            .zip(w)
            .map(|((&p, &d), &w)| f64::from(w) * (f64::from(p) - f64::from(d) + c).abs())
            .sum()
    };
    spread(&pruned[0], &dense[0], a, c) + spread(&pruned[1], &dense[1], b, -c)
}

/// The number of softmins of each solve, from its report (`solver.rs`): the pair solve
/// `2 + 2·steps + 2·(iterations + 1)`, plus 2 for the final extrapolation of the averaged
/// updates when not converged (no hand-over to alternating updates: fewer iterations than the
/// stall window); a self solve `1 + steps + (iterations + 1) + [not converged]`.
fn softmins(divergence: &SinkhornDivergence, update: UpdateRule) -> [u64; 3] {
    let [ab, aa, bb] = divergence.reports;
    let extrapolation = usize::from(update == UpdateRule::Symmetric && !ab.converged);
    let pair = 2 + 2 * ab.scaling_steps + 2 * (ab.iterations + 1) + 2 * extrapolation;
    let own = |r: drifting::SinkhornReport| {
        1 + r.scaling_steps + r.iterations + 1 + usize::from(!r.converged)
    };
    [pair as u64, own(aa) as u64, own(bb) as u64]
}

/// The `f32` slack of one softmin (module documentation); `cost` the largest `C_ij`.
fn rounding(potentials: &Potentials, epsilon: f32, n: usize, cost: f64) -> f64 {
    let largest = potentials
        .iter()
        .flatten()
        .fold(0.0_f64, |m, &v| m.max(f64::from(v).abs()));
    ROUNDING
        * f64::from(f32::EPSILON)
        * 0.5
        * (largest + cost + f64::from(epsilon) * (n as f64).ln())
}

/// `½ max ‖p − q‖²` over the points of both clouds (the largest cost of the three problems).
pub(crate) fn largest_cost<const D: usize>(
    x: &WeightedCloud<'_, D>,
    y: &WeightedCloud<'_, D>,
) -> f64 {
    let all: Vec<[f32; D]> = x.points.points().chain(y.points.points()).collect();
    let mut largest = 0.0_f64;
    for p in &all {
        for q in &all {
            let d2: f64 = p
                .iter()
                .zip(q)
                .map(|(&u, &v)| (f64::from(u) - f64::from(v)).powi(2))
                .sum();
            largest = largest.max(0.5 * d2);
        }
    }
    largest
}

/// Solves of a fixed number of iterations (tolerance 0, 12 iterations, below the stall window),
/// blur 0.03, so that a pruned and a dense solve run the same iterations.
fn fixed_iterations(update: UpdateRule) -> SinkhornConfig {
    SinkhornConfig {
        blur: 0.03,
        update,
        tolerance: 0.0,
        max_iterations: 12,
        ..SinkhornConfig::new()
    }
}

/// Compares one pruned solve with the dense one run for the same iterations; returns the
/// largest measured share of the rounding slack.
fn check_fixed_iterations<const D: usize>(
    what: &str,
    x: &WeightedCloud<'_, D>,
    y: &WeightedCloud<'_, D>,
    a: &[f32],
    b: &[f32],
    sinkhorn: &SinkhornConfig,
    tolerance: f32,
) -> f64 {
    let config = PrunedSinkhornConfig {
        sinkhorn: *sinkhorn,
        tolerance,
    };
    let (p, reports, pp) = pruned(x, y, &config).unwrap();
    let (d, dp) = dense(x, y, sinkhorn);
    let counts = softmins(&d, sinkhorn.update);
    for (r, (pr, dr)) in reports.iter().zip(p.reports.iter().zip(&d.reports)) {
        // Tolerance 0 still stops a solve whose marginal error reaches exactly 0 (an `f32`
        // fixed point, e.g. the five distinct points of the duplicate clouds): then both must
        // have reached one.
        assert!(
            (pr.scaling_steps, pr.iterations) == (dr.scaling_steps, dr.iterations)
                || (pr.converged && dr.converged),
            "{what}: the same iterations ({pr:?} vs {dr:?})"
        );
        assert!(r.evaluated <= r.pairs, "{what}");
    }
    let eps = sinkhorn.epsilon();
    let per_softmin = rounding(&dp, eps, x.len().max(y.len()), largest_cost(x, y));
    let mut share = 0.0_f64;
    let checks = [
        (
            "pair",
            pair_difference(&pp, &dp, a, b),
            reports[0].bound,
            counts[0],
        ),
        (
            "f_aa",
            sup_difference(&pp[2], &dp[2], a),
            reports[1].bound,
            counts[1],
        ),
        (
            "g_bb",
            sup_difference(&pp[3], &dp[3], b),
            reports[2].bound,
            counts[2],
        ),
    ];
    for (name, difference, bound, k) in checks {
        let slack = k as f64 * per_softmin;
        assert!(
            difference <= bound + slack,
            "{what} {name}: |Δ| = {difference:e} > B {bound:e} + slack {slack:e}"
        );
        share = share.max((difference - bound).max(0.0) / slack);
    }
    let value_bound = 2.0 * reports[0].bound + reports[1].bound + reports[2].bound;
    let value_slack = (2 * counts[0] + counts[1] + counts[2]) as f64 * per_softmin;
    let difference = (f64::from(p.value) - f64::from(d.value)).abs();
    assert!(
        difference <= value_bound + value_slack + 1e-6 * f64::from(d.transport_ab.abs()),
        "{what}: |ΔS| = {difference:e} > {value_bound:e} + {value_slack:e}"
    );
    share
}

fn fixed_iterations_for<const D: usize>(seed: u64) -> f64 {
    let mut share = 0.0_f64;
    for (name, xs, ys) in clouds::<D>(seed, 448, 340) {
        let (a, b) = (weights(seed + 1, xs.len()), weights(seed + 2, ys.len()));
        let uniform_a = vec![1.0 / xs.len() as f32; xs.len()];
        let uniform_b = vec![1.0 / ys.len() as f32; ys.len()];
        for weighted in [false, true] {
            let (x, y, wa, wb) = if weighted {
                (
                    WeightedCloud::weighted(CloudView::from_points(&xs), &a),
                    WeightedCloud::weighted(CloudView::from_points(&ys), &b),
                    &a,
                    &b,
                )
            } else {
                (
                    WeightedCloud::uniform(CloudView::from_points(&xs)),
                    WeightedCloud::uniform(CloudView::from_points(&ys)),
                    &uniform_a,
                    &uniform_b,
                )
            };
            for update in [UpdateRule::Alternating, UpdateRule::Symmetric] {
                let sinkhorn = fixed_iterations(update);
                for tolerance in [1e-4, 1e-6, 1e-8] {
                    let what = format!("{D}D {name} weighted {weighted} {update:?} ε {tolerance}");
                    share = share.max(check_fixed_iterations(
                        &what, &x, &y, wa, wb, &sinkhorn, tolerance,
                    ));
                }
            }
        }
    }
    share
}

#[test]
fn fixed_iterations_agree_with_the_dense_solves_within_the_certified_bound() {
    let share = fixed_iterations_for::<2>(11).max(fixed_iterations_for::<3>(12));
    println!("largest share of the f32 slack used: {share:.3}");
}

/// `(x, y)` as weighted clouds: uniform, or with the weights of [`weights`].
pub(crate) fn weighted_pair<'a, const D: usize>(
    xs: &'a [[f32; D]],
    ys: &'a [[f32; D]],
    a: &'a [f32],
    b: &'a [f32],
    weighted: bool,
) -> (WeightedCloud<'a, D>, WeightedCloud<'a, D>) {
    if weighted {
        (
            WeightedCloud::weighted(CloudView::from_points(xs), a),
            WeightedCloud::weighted(CloudView::from_points(ys), b),
        )
    } else {
        (
            WeightedCloud::uniform(CloudView::from_points(xs)),
            WeightedCloud::uniform(CloudView::from_points(ys)),
        )
    }
}

/// One kind of [`clouds`] with `x`'s weights and `x`'s points jittered by up to 0.01: the
/// weighted `y` of the converged comparisons, which keeps the masses of the groups equal on both
/// sides.
pub(crate) struct Balanced<const D: usize> {
    pub(crate) name: &'static str,
    pub(crate) xs: Vec<[f32; D]>,
    pub(crate) ys: Vec<[f32; D]>,
    pub(crate) jittered: Vec<[f32; D]>,
    pub(crate) a: Vec<f32>,
}

/// [`Balanced`] cases of every kind of [`clouds`].
pub(crate) fn balanced<const D: usize>(seed: u64, n: usize, m: usize) -> Vec<Balanced<D>> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed + 3);
    clouds::<D>(seed, n, m)
        .into_iter()
        .map(|(name, xs, ys)| {
            let jittered = xs
                .iter()
                .map(|p| p.map(|c| c + 0.02 * (uniform(&mut rng) - 0.5)))
                .collect();
            let a = weights(seed + 1, xs.len());
            Balanced {
                name,
                xs,
                ys,
                jittered,
                a,
            }
        })
        .collect()
}

/// Returns the largest shares of the potentials' and the value's allowances used, and the number
/// of stalled cases.
fn converged_for<const D: usize>(seed: u64) -> (f64, f64, usize) {
    let (mut largest, mut largest_value, mut stalled) = (0.0_f64, 0.0_f64, 0);
    // The defaults: blur 0.05, marginal error 1e-3. The clouds keep the masses of their groups
    // (clusters, outliers, duplicates) equal on both sides: sizes that are multiples of 4 and,
    // weighted, `y` the points of `x` jittered with `x`'s weights. Otherwise mass must cross
    // between groups far apart, and the dense solves stall on a plateau (`UpdateRule`) at 3e-3 to
    // 3e-2 in half of the cases; the stalled cases that remain (6 of 48: uniform clusters) are
    // counted.
    let sinkhorn = SinkhornConfig::new();
    for Balanced {
        name,
        xs,
        ys,
        jittered,
        a,
    } in balanced::<D>(seed, 900, 652)
    {
        for weighted in [false, true] {
            let (ys, b) = if weighted { (&jittered, &a) } else { (&ys, &a) };
            let (x, y) = weighted_pair(&xs, ys, &a, b, weighted);
            let (d, dp) = dense(&x, &y, &sinkhorn);
            let uniform_a = vec![1.0 / xs.len() as f32; xs.len()];
            let uniform_b = vec![1.0 / ys.len() as f32; ys.len()];
            let (wa, wb): (&[f32], &[f32]) = if weighted {
                (&a, b)
            } else {
                (&uniform_a, &uniform_b)
            };
            for tolerance in [1e-4, 1e-6, 1e-8] {
                let what = format!("{D}D {name} weighted {weighted} ε {tolerance}");
                let config = PrunedSinkhornConfig {
                    sinkhorn,
                    tolerance,
                };
                let (p, reports, pp) = pruned(&x, &y, &config).unwrap();
                // The same outcome: both converged within two iterations of each other, or
                // both stalled. Stalled solves (the clusters at their f32 floor near 3e-3; weighted
                // clouds on a plateau at 4e-3 to 1e-2, where the potential of a surplus of mass
                // that must travel far moves by about ε per iteration: `UpdateRule`) stop where
                // the stall window ends, at different iterations and errors, so their values are
                // only compared to 10 %.
                for (pr, dr) in p.reports.iter().zip(&d.reports) {
                    assert_eq!(pr.scaling_steps, dr.scaling_steps, "{what}");
                    assert_eq!(
                        (pr.converged, pr.stalled),
                        (dr.converged, dr.stalled),
                        "{what}: {pr:?} {dr:?}"
                    );
                    if pr.converged {
                        assert!(
                            pr.iterations.abs_diff(dr.iterations) <= 2,
                            "{what}: {pr:?} {dr:?}"
                        );
                    }
                }
                let scale = [d.transport_ab, d.transport_aa, d.transport_bb]
                    .iter()
                    .fold(0.0_f64, |m, v| m.max(f64::from(v.abs())));
                let bound = 2.0 * reports[0].bound + reports[1].bound + reports[2].bound;
                let difference = (f64::from(p.value) - f64::from(d.value)).abs();
                if !d.reports.iter().all(|r| r.converged) {
                    stalled += 1;
                    assert!(
                        difference <= bound + 0.1 * f64::from(d.value.abs()),
                        "{what}"
                    );
                    continue;
                }
                let value_slack = VALUE_SLACK * scale
                    + f64::from(sinkhorn.epsilon())
                        * d.reports
                            .iter()
                            .map(|r| f64::from(r.marginal_error))
                            .sum::<f64>();
                assert!(
                    difference <= bound + value_slack,
                    "{what}: S {} vs {}",
                    p.value,
                    d.value
                );
                // The potentials are in the caller's order and agree on average (the pair
                // modulo its constant; weighted L1): within the bound plus `ε/100` (measured: 6 % of that).
                let eps = f64::from(sinkhorn.epsilon());
                let slack = |_: &drifting::SinkhornReport| 0.01 * eps;
                let pair = pair_mean_difference(&pp, &dp, wa, wb);
                let allowed = 2.0 * reports[0].bound + slack(&d.reports[0]);
                assert!(pair <= allowed, "{what}: pair {pair:e}");
                largest = largest.max(pair / allowed);
                for (k, w, r, report) in [
                    (2, wa, &reports[1], &d.reports[1]),
                    (3, wb, &reports[2], &d.reports[2]),
                ] {
                    let own = mean_difference(&pp[k], &dp[k], w);
                    let allowed = r.bound + slack(report);
                    assert!(own <= allowed, "{what}: self {k} {own:e}");
                    largest = largest.max(own / allowed);
                }
                largest_value = largest_value.max(difference / (bound + value_slack));
            }
        }
    }
    (largest, largest_value, stalled)
}

#[test]
fn converged_solves_agree_with_the_dense_divergence() {
    let (p2, v2, s2) = converged_for::<2>(21);
    let (p3, v3, s3) = converged_for::<3>(22);
    println!(
        "largest shares used: potentials {:.3}, value {:.3}; {} of 48 cases stalled",
        p2.max(p3),
        v2.max(v3),
        s2 + s3
    );
    assert!(s2 + s3 <= 6);
}

/// The target ε of a divergence's solves.
fn r_eps(divergence: &SinkhornDivergence) -> f32 {
    divergence.reports[0].epsilon
}

#[test]
fn the_divergence_of_a_cloud_with_itself_is_zero() {
    for (name, xs, _) in clouds::<3>(31, 800, 10) {
        let a = weights(32, xs.len());
        for weighted in [false, true] {
            let (x, _) = weighted_pair(&xs, &xs, &a, &a, weighted);
            let config = PrunedSinkhornConfig {
                sinkhorn: SinkhornConfig {
                    blur: 0.03,
                    ..SinkhornConfig::new()
                },
                tolerance: 1e-6,
            };
            let (p, reports, _) = pruned(&x, &x, &config).unwrap();
            let bound = 2.0 * reports[0].bound + reports[1].bound + reports[2].bound;
            // As in the converged comparison: the bound, `VALUE_SLACK` of the transport terms
            // and `ε` times the solves' marginal errors.
            let scale = f64::from(p.transport_aa.abs());
            let unconverged: f64 = p.reports.iter().map(|r| f64::from(r.marginal_error)).sum();
            let allowed = bound + VALUE_SLACK * scale + f64::from(r_eps(&p)) * unconverged;
            assert!(
                f64::from(p.value.abs()) <= allowed,
                "{name} weighted {weighted}: S(a, a) = {}",
                p.value
            );
        }
    }
}

/// 4 096 points uniform in the unit square against another draw, blur 0.01: most tiles are
/// skipped at the target ε; the counts match the solves' softmins exactly.
#[test]
fn pruning_skips_far_tiles_on_a_large_sparse_cloud_and_counts_every_softmin() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(41);
    let mut draw = |count: usize| -> Vec<[f32; 2]> {
        (0..count)
            .map(|_| [uniform(&mut rng), uniform(&mut rng)])
            .collect()
    };
    let (xs, ys) = (draw(4096), draw(4000));
    let (x, y) = (
        WeightedCloud::uniform(CloudView::from_points(&xs)),
        WeightedCloud::uniform(CloudView::from_points(&ys)),
    );
    let sinkhorn = SinkhornConfig {
        blur: 0.01,
        ..SinkhornConfig::new()
    };
    let config = PrunedSinkhornConfig {
        sinkhorn,
        tolerance: 1e-6,
    };
    let (p, reports, _) = pruned(&x, &y, &config).unwrap();
    let counts = softmins(&p, sinkhorn.update);
    let sizes = [4096 * 4000_u64, 4096 * 4096, 4000 * 4000];
    for ((r, k), size) in reports.iter().zip(counts).zip(sizes) {
        assert_eq!(r.pairs, k * size, "{r:?}");
        assert!(r.evaluated <= r.pairs);
        assert!(r.bound > 0.0);
    }
    let (pairs, evaluated) = reports
        .iter()
        .fold((0, 0), |(p, e), r| (p + r.pairs, e + r.evaluated));
    println!(
        "evaluated {:.3} of the pairs; reports {:?}",
        evaluated as f64 / pairs as f64,
        p.reports
    );
    assert!(evaluated < pairs / 2, "{evaluated} of {pairs}");
    assert!(p.reports.iter().all(|r| r.converged));
}

#[test]
fn errors_are_those_of_the_dense_divergence_plus_tolerance_and_buffers() {
    let xs: Vec<[f32; 2]> = (0..100).map(|i| [i as f32 * 0.01, 0.5]).collect();
    let ys: Vec<[f32; 2]> = (0..80).map(|i| [0.3, i as f32 * 0.01]).collect();
    let (x, y) = (
        WeightedCloud::uniform(CloudView::from_points(&xs)),
        WeightedCloud::uniform(CloudView::from_points(&ys)),
    );
    let good = PrunedSinkhornConfig {
        sinkhorn: SinkhornConfig::new(),
        tolerance: 1e-6,
    };
    assert!(pruned(&x, &y, &good).is_ok());
    for tolerance in [0.0, 1.0, -1e-6, f32::NAN, f32::INFINITY] {
        let config = PrunedSinkhornConfig { tolerance, ..good };
        assert_eq!(
            pruned(&x, &y, &config).err(),
            Some(Error::InvalidParameter { input: "tolerance" })
        );
    }
    // The dense divergence's own errors, unchanged.
    let nan = [[f32::NAN, 0.0], [0.0, 0.0]];
    let empty: [[f32; 2]; 0] = [];
    let bad_weights = vec![0.5_f32; 100];
    let clouds: [(WeightedCloud<'_, 2>, WeightedCloud<'_, 2>); 3] = [
        (WeightedCloud::uniform(CloudView::from_points(&nan)), y),
        (x, WeightedCloud::uniform(CloudView::from_points(&empty))),
        (
            WeightedCloud::weighted(CloudView::from_points(&xs), &bad_weights),
            y,
        ),
    ];
    let configs = [
        SinkhornConfig {
            blur: -1.0,
            ..SinkhornConfig::new()
        },
        SinkhornConfig {
            scaling: Some(2.0),
            ..SinkhornConfig::new()
        },
        SinkhornConfig::new().with_epsilon(f32::INFINITY),
        SinkhornConfig {
            blur: 1e-30,
            ..SinkhornConfig::new()
        },
    ];
    let cases = clouds
        .iter()
        .map(|&(x, y)| (x, y, SinkhornConfig::new()))
        .chain(configs.iter().map(|&c| (x, y, c)));
    for (x, y, sinkhorn) in cases {
        let mut buffer = vec![0.0; SinkhornWorkspace::required_len(x.len(), y.len())];
        let mut workspace = SinkhornWorkspace::new(&mut buffer, x.len(), y.len()).unwrap();
        let expected = sinkhorn_divergence(&x, &y, &sinkhorn, &mut workspace).err();
        assert!(expected.is_some());
        let config = PrunedSinkhornConfig { sinkhorn, ..good };
        assert_eq!(pruned(&x, &y, &config).err(), expected);
    }
    // Buffers of the wrong length.
    let (n, m) = (xs.len(), ys.len());
    let (keys, points, boxes, values) = pruned_sinkhorn_workspace_len(n, m).unwrap();
    assert_eq!(
        (keys, points, boxes, values),
        (180, 180, 2 + 1 + 2 + 1, 180 + 2)
    );
    let empty_box = BoundingBox {
        min: [0.0; 2],
        max: [0.0; 2],
        count: 0,
    };
    for (short, input) in [(0, "keys"), (1, "points"), (2, "boxes"), (3, "values")] {
        let mut buffer = vec![0.0; SinkhornWorkspace::required_len(n, m)];
        let mut lengths = [keys, points, boxes, values];
        lengths[short] -= 1;
        let mut workspace = PrunedSinkhornWorkspace {
            sinkhorn: SinkhornWorkspace::new(&mut buffer, n, m).unwrap(),
            spatial: PrunedWorkspace {
                keys: &mut vec![0; lengths[0]],
                points: &mut vec![[0.0; 2]; lengths[1]],
                boxes: &mut vec![empty_box; lengths[2]],
            },
            values: &mut vec![0.0; lengths[3]],
        };
        assert!(
            matches!(
                pruned_sinkhorn_divergence(&x, &y, &good, &mut workspace),
                Err(Error::ShapeMismatch { input: i, .. }) if i == input
            ),
            "{input}"
        );
    }
    // A Sinkhorn workspace made for other sizes: the dense divergence's error.
    let mut buffer = vec![0.0; SinkhornWorkspace::required_len(n + 1, m)];
    let mut workspace = PrunedSinkhornWorkspace {
        sinkhorn: SinkhornWorkspace::new(&mut buffer, n + 1, m).unwrap(),
        spatial: PrunedWorkspace {
            keys: &mut vec![0; keys],
            points: &mut vec![[0.0; 2]; points],
            boxes: &mut vec![empty_box; boxes],
        },
        values: &mut vec![0.0; values],
    };
    assert!(matches!(
        pruned_sinkhorn_divergence(&x, &y, &good, &mut workspace),
        Err(Error::ShapeMismatch {
            input: "workspace (first cloud)",
            ..
        })
    ));
    assert_eq!(pruned_sinkhorn_workspace_len(usize::MAX, 1), None);
}

/// A warm-started call starts from the potentials of the previous one, handed back in the
/// caller's order: it converges at once (its first iteration already meets the tolerance).
#[test]
fn a_warm_start_resumes_from_the_potentials_in_the_callers_order() {
    let (_, xs, ys) = clouds::<3>(51, 1500, 1300).swap_remove(0);
    let a = weights(52, xs.len());
    let (x, y) = weighted_pair(&xs, &ys, &a, &a, false);
    let x = WeightedCloud::weighted(x.points, &a);
    let mut buffers = Buffers::<3>::new(x.len(), y.len());
    let mut workspace = buffers.workspace();
    let mut config = PrunedSinkhornConfig {
        sinkhorn: SinkhornConfig {
            blur: 0.03,
            ..SinkhornConfig::new()
        },
        tolerance: 1e-6,
    };
    let (cold, _) = pruned_sinkhorn_divergence(&x, &y, &config, &mut workspace).unwrap();
    config.sinkhorn.warm_start = true;
    let (warm, _) = pruned_sinkhorn_divergence(&x, &y, &config, &mut workspace).unwrap();
    for r in warm.reports {
        assert!(
            r.converged && r.iterations <= 1 && r.scaling_steps == 0,
            "{r:?}"
        );
    }
    assert!((warm.value - cold.value).abs() <= 1e-4 * cold.transport_ab.abs());
}

/// The pruned Sinkhorn drift (issue 17: the Sinkhorn drift pruned) on the four kinds of clouds
/// in 2D and 3D, uniform and non-uniform weights, both update rules, pruning tolerances 1e-4 to
/// 1e-8 (tolerance 0, 12 iterations, so that the pruned and dense solves run the same
/// iterations).
///
/// **Certified part.** Given the potentials it hands back (the caller's order; they are those its
/// projections used), each query's `T_ab − T_aa` is within the projections' bound (third report)
/// of the `f64` value from the same potentials, plus `f32` rounding: the biases and logits are
/// `f32` values up to `L = max|β| + C_max/ε`, so every weight carries a relative error of a few
/// `u·L` (`u = 2⁻²⁴`), which moves each projection by up to about that times the largest
/// distance `R`. The dense drift meets that worst case, `8·u·L·R`, against its own `f64` value
/// by far (1e-8 to 1e-6 of `R` measured, the worst case 4e-4 to 2e-3), so the pruned drift is
/// held to a sharper allowance: its bound plus four times the dense drift's measured distance
/// (at least `1e-7·R`). The largest share of it used is printed (0.40).
///
/// **Against the dense drift.** The two solves' potentials differ by their bounds `B` plus
/// rounding (the test above); the drifts then agree to 1e-3 of `R` here.
///
/// Also: an `out` of the wrong length is refused.
#[test]
fn pruned_drift_is_within_its_bound_of_the_exact_projections() {
    let mut share = 0.0_f64;
    let mut skipped = 0_u64;
    for (seed, dims) in [(21_u64, 2), (22, 3)] {
        let (s, k) = if dims == 2 {
            drift_cases::<2>(seed)
        } else {
            drift_cases::<3>(seed)
        };
        share = share.max(s);
        skipped += k;
    }
    assert!(
        skipped > 0,
        "the projections skipped nothing: pruning untested"
    );
    println!("largest share of the drift's allowance used: {share:.3}");
}

/// `T(x_i) − x_i` in `f64` for every query: the softmax over the targets `ys` (log-weights from
/// `weights`) of `log w_j + potential_j/ε − C_ij/ε`.
fn projection_f64<const D: usize>(
    xs: &[[f32; D]],
    ys: &[[f32; D]],
    weights: &[f32],
    potential: &[f32],
    epsilon: f64,
    factor: f64,
) -> Vec<[f64; D]> {
    xs.iter()
        .map(|x| {
            let logits: Vec<f64> = ys
                .iter()
                .zip(weights.iter().zip(potential))
                .map(|(y, (&w, &p))| {
                    let c: f64 = x
                        .iter()
                        .zip(y)
                        .map(|(&u, &v)| (f64::from(u) - f64::from(v)).powi(2))
                        .sum::<f64>()
                        * factor;
                    if w > 0.0 {
                        f64::from(w).ln() + (f64::from(p) - c) / epsilon
                    } else {
                        f64::NEG_INFINITY
                    }
                })
                .collect();
            let top = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let mut sum = 0.0;
            let mut mean = [0.0_f64; D];
            for (l, y) in logits.iter().zip(ys) {
                let w = (l - top).exp();
                sum += w;
                for ((m, &v), &u) in mean.iter_mut().zip(y).zip(x) {
                    *m += w * (f64::from(v) - f64::from(u));
                }
            }
            mean.map(|m| m / sum)
        })
        .collect()
}

/// The cases of one dimension: returns the largest share of the allowance used and the pairs
/// the projections skipped.
fn drift_cases<const D: usize>(seed: u64) -> (f64, u64) {
    let (mut share, mut skipped) = (0.0_f64, 0_u64);
    for (name, xs, ys) in clouds::<D>(seed, 448, 340) {
        let (n, m) = (xs.len(), ys.len());
        let (a, b) = (weights(seed + 1, n), weights(seed + 2, m));
        let (ua, ub) = (vec![1.0 / n as f32; n], vec![1.0 / m as f32; m]);
        for weighted in [false, true] {
            let (x, y) = weighted_pair(&xs, &ys, &a, &b, weighted);
            let (wa, wb) = if weighted { (&a, &b) } else { (&ua, &ub) };
            let cost = largest_cost(&x, &y);
            let reach = (2.0 * cost).sqrt();
            for update in [UpdateRule::Alternating, UpdateRule::Symmetric] {
                let sinkhorn = fixed_iterations(update);
                let eps = f64::from(sinkhorn.epsilon());
                let mut dense_buffer = vec![0.0; SinkhornWorkspace::required_len(n, m)];
                let mut dense_workspace = SinkhornWorkspace::new(&mut dense_buffer, n, m).unwrap();
                let mut dense = vec![0.0_f32; n * D];
                drifting::sinkhorn_drift(&x, &y, &sinkhorn, &mut dense_workspace, &mut dense)
                    .unwrap();
                let dense_exact = difference_f64(&xs, &ys, wa, wb, &dense_workspace, eps);
                let dense_off = (0..n)
                    .map(|i| distance(&dense, n, i, &dense_exact[i]))
                    .fold(0.0_f64, f64::max);
                for tolerance in [1e-4, 1e-6, 1e-8] {
                    let what = format!("{D}D {name} weighted {weighted} {update:?} ε {tolerance}");
                    let config = PrunedSinkhornConfig {
                        sinkhorn,
                        tolerance,
                    };
                    let mut buffers = Buffers::<D>::new(n, m);
                    let mut workspace = buffers.workspace();
                    let mut short = vec![0.0_f32; n * D - 1];
                    let refused = drifting::pruned_sinkhorn_drift(
                        &x,
                        &y,
                        &config,
                        &mut workspace,
                        &mut short,
                    );
                    assert!(
                        matches!(refused, Err(Error::ShapeMismatch { input: "out", .. })),
                        "{what}"
                    );
                    let mut pruned = vec![f32::NAN; n * D];
                    let (_, reports) = drifting::pruned_sinkhorn_drift(
                        &x,
                        &y,
                        &config,
                        &mut workspace,
                        &mut pruned,
                    )
                    .unwrap();
                    assert!(reports.iter().all(|r| r.evaluated <= r.pairs), "{what}");
                    skipped += reports[2].pairs - reports[2].evaluated;
                    let (f, g, f_aa) = (
                        workspace.sinkhorn.f(),
                        workspace.sinkhorn.g(),
                        workspace.sinkhorn.f_aa(),
                    );
                    let exact = difference_f64(&xs, &ys, wa, wb, &workspace.sinkhorn, eps);
                    let largest_bias = f
                        .iter()
                        .chain(g)
                        .chain(f_aa)
                        .fold(0.0_f64, |l, &v| l.max(f64::from(v).abs()))
                        / eps
                        + wa.iter()
                            .chain(wb)
                            .filter(|&&w| w > 0.0)
                            .fold(0.0_f64, |l, &w| l.max(f64::from(w).ln().abs()));
                    let logits = largest_bias + cost / eps;
                    let slack = 8.0 * f64::from(f32::EPSILON) / 2.0 * logits * reach;
                    // The sharp allowance: the dense drift's own distance to its `f64` value
                    // (same slack analysis, measured), four times, at least 1e-7 of `R`.
                    let rounding = (4.0 * dense_off).max(1e-7 * reach);
                    assert!(
                        dense_off <= slack,
                        "{what}: dense {dense_off:e} > {slack:e}"
                    );
                    let allowance = reports[2].bound + rounding;
                    for i in 0..n {
                        let difference = distance(&pruned, n, i, &exact[i]);
                        assert!(
                            difference <= allowance,
                            "{what}: query {i}, |V̂ − V| = {difference:e} > bound {:e} + {rounding:e}",
                            reports[2].bound
                        );
                        share = share.max(difference / allowance);
                        let against_dense = (0..D)
                            .map(|d| {
                                (f64::from(pruned[d * n + i]) - f64::from(dense[d * n + i])).powi(2)
                            })
                            .sum::<f64>()
                            .sqrt();
                        assert!(
                            against_dense <= 1e-3 * reach,
                            "{what}: query {i}, |V̂ − V_dense| = {against_dense:e}"
                        );
                    }
                }
            }
        }
    }
    (share, skipped)
}

/// `T_ab(x_i) − T_aa(x_i)` in `f64` from the potentials `g` and `f_aa` of `workspace` (`½‖·‖²`
/// cost, the default).
pub(crate) fn difference_f64<const D: usize>(
    xs: &[[f32; D]],
    ys: &[[f32; D]],
    a: &[f32],
    b: &[f32],
    workspace: &SinkhornWorkspace<'_>,
    epsilon: f64,
) -> Vec<[f64; D]> {
    let toward_y = projection_f64(xs, ys, b, workspace.g(), epsilon, 0.5);
    let toward_x = projection_f64(xs, xs, a, workspace.f_aa(), epsilon, 0.5);
    toward_y
        .iter()
        .zip(&toward_x)
        .map(|(p, q)| core::array::from_fn(|d| p[d] - q[d]))
        .collect()
}

/// `‖field_i − exact‖` for a coordinate-major field of `n` points.
pub(crate) fn distance<const D: usize>(field: &[f32], n: usize, i: usize, exact: &[f64; D]) -> f64 {
    exact
        .iter()
        .enumerate()
        .map(|(d, &e)| (f64::from(field[d * n + i]) - e).powi(2))
        .sum::<f64>()
        .sqrt()
}
