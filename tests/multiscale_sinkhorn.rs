//! The multiscale Sinkhorn divergence (`src/sinkhorn/multiscale.rs`, issue 17): the ε-scaling
//! schedule on clusters, the iterations at the target ε on the points from the extrapolated
//! potentials. Against the dense `sinkhorn_divergence` on the clouds of `tests/pruned_sinkhorn.rs`
//! (uniform, clusters, far outliers, duplicates; 2D and 3D; uniform and non-uniform weights with
//! zeros), at cluster scales from half the blur to one cluster per cloud.
//!
//! **What must hold.** The fine solves' stop rule is tested on the points, so they end with the
//! same outcome as the dense solves (converged, or stalled at the `f32` floor where the dense
//! ones stall). Their values differ only as two converged solves from different starts do: by
//! the pruning bound of the fine solves plus `ε` times the sum of both sides' L1 marginal errors
//! and `VALUE_SLACK` of the largest transport term (`tests/pruned_sinkhorn.rs`, which uses the same
//! allowance for solves that stop an iteration or two apart); the share of it used is printed.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::cast_precision_loss,
    clippy::too_many_lines
)]

use crate::pruned_sinkhorn::{
    Balanced, Buffers, Potentials, balanced, clouds, dense, difference_f64, distance, largest_cost,
    potentials, weighted_pair, weights,
};
use drifting::{
    CloudView, Error, MultiscaleReport, MultiscaleSinkhornConfig, MultiscaleSinkhornWorkspace,
    PrunedSinkhornConfig, SinkhornConfig, SinkhornDivergence, WeightedCloud,
    multiscale_sinkhorn_divergence, multiscale_sinkhorn_drift, multiscale_sinkhorn_workspace_len,
    pruned_sinkhorn_divergence, sinkhorn_drift,
};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// The converged values' slack, relative to the largest transport term (module documentation).
const VALUE_SLACK: f64 = 1e-5;

/// Owned buffers of a multiscale workspace for `n` and `m` points (NaN-filled).
struct MultiscaleBuffers<const D: usize> {
    fine: Buffers<D>,
    clusters: Vec<[f32; D]>,
    values: Vec<f32>,
}

impl<const D: usize> MultiscaleBuffers<D> {
    fn new(n: usize, m: usize) -> Self {
        let (clusters, values) = multiscale_sinkhorn_workspace_len(n, m).unwrap();
        Self {
            fine: Buffers::new(n, m),
            clusters: vec![[f32::NAN; D]; clusters],
            values: vec![f32::NAN; values],
        }
    }

    fn workspace(&mut self) -> MultiscaleSinkhornWorkspace<'_, D> {
        MultiscaleSinkhornWorkspace {
            fine: self.fine.workspace(),
            clusters: &mut self.clusters,
            values: &mut self.values,
        }
    }
}

/// Runs the multiscale divergence with fresh buffers.
fn multiscale<const D: usize>(
    x: &WeightedCloud<'_, D>,
    y: &WeightedCloud<'_, D>,
    config: &MultiscaleSinkhornConfig,
) -> Result<(SinkhornDivergence, MultiscaleReport, Potentials), Error> {
    let mut buffers = MultiscaleBuffers::<D>::new(x.len(), y.len());
    let mut workspace = buffers.workspace();
    let (divergence, report) = multiscale_sinkhorn_divergence(x, y, config, &mut workspace)?;
    Ok((divergence, report, potentials(&workspace.fine.sinkhorn)))
}

fn config(cluster_scale: f32) -> MultiscaleSinkhornConfig {
    MultiscaleSinkhornConfig {
        pruned: PrunedSinkhornConfig {
            sinkhorn: SinkhornConfig::new(),
            tolerance: 1e-6,
        },
        cluster_scale,
    }
}

/// The largest share of the value allowance used.
fn agreement_for<const D: usize>(seed: u64) -> f64 {
    let mut largest = 0.0_f64;
    let sinkhorn = SinkhornConfig::new();
    let blur = sinkhorn.blur;
    // Weighted: `y` the points of `x` jittered, with `x`'s weights (the masses of the groups
    // balanced, as in `tests/pruned_sinkhorn.rs`).
    for Balanced {
        name,
        xs,
        ys,
        jittered,
        a,
    } in balanced::<D>(seed, 900, 652)
    {
        for weighted in [false, true] {
            let ys = if weighted { &jittered } else { &ys };
            let (x, y) = weighted_pair(&xs, ys, &a, &a, weighted);
            let (d, _) = dense(&x, &y, &sinkhorn);
            for h in [0.5 * blur, blur, 4.0 * blur, 1e3] {
                let what = format!("{D}D {name} weighted {weighted} h {h}");
                let (p, report, fine) = multiscale(&x, &y, &config(h)).unwrap();
                assert!(fine.iter().flatten().all(|v| v.is_finite()), "{what}");
                let [kx, ky] = report.clusters;
                assert!(
                    kx >= 1 && kx <= x.len() && ky >= 1 && ky <= y.len(),
                    "{what}"
                );
                if h > 100.0 {
                    assert_eq!(report.clusters, [1, 1], "{what}");
                }
                let (n, m) = (x.len() as u64, y.len() as u64);
                let (kx, ky) = (kx as u64, ky as u64);
                assert_eq!(
                    report.extrapolation_pairs,
                    n * ky + m * kx + n * kx + m * ky,
                    "{what}"
                );
                // The schedule ran on the clusters, the fine solves at the target from the start;
                // with one cluster per cloud, the fine solves ran the dense solves' schedule.
                if h <= blur {
                    assert!(report.coarse.reports[0].scaling_steps > 0, "{what}");
                }
                for (fine, dense) in p.reports.iter().zip(&d.reports) {
                    let steps = if report.clusters == [1, 1] {
                        dense.scaling_steps
                    } else {
                        0
                    };
                    assert_eq!(fine.scaling_steps, steps, "{what}");
                    assert_eq!(fine.epsilon, d.reports[0].epsilon, "{what}");
                }
                // Same outcome as the dense solves.
                for (pr, dr) in p.reports.iter().zip(&d.reports) {
                    assert_eq!(
                        pr.converged,
                        pr.marginal_error <= sinkhorn.tolerance,
                        "{what}"
                    );
                    if dr.converged {
                        assert!(pr.converged, "{what}: {pr:?} {dr:?}");
                    }
                }
                if !d.reports.iter().all(|r| r.converged) {
                    continue;
                }
                let scale = [d.transport_ab, d.transport_aa, d.transport_bb]
                    .iter()
                    .fold(0.0_f64, |m, v| m.max(f64::from(v.abs())));
                let bound = 2.0 * report.fine_pruning[0].bound
                    + report.fine_pruning[1].bound
                    + report.fine_pruning[2].bound;
                let errors: f64 = p
                    .reports
                    .iter()
                    .chain(&d.reports)
                    .map(|r| f64::from(r.marginal_error))
                    .sum();
                let allowed = bound + VALUE_SLACK * scale + f64::from(sinkhorn.epsilon()) * errors;
                let difference = (f64::from(p.value) - f64::from(d.value)).abs();
                assert!(
                    difference <= allowed,
                    "{what}: S {} vs {} ({difference:e} > {allowed:e})",
                    p.value,
                    d.value
                );
                largest = largest.max(difference / allowed);
            }
        }
    }
    largest
}

#[test]
fn converges_on_the_points_and_agrees_with_the_dense_divergence() {
    let share = agreement_for::<2>(41).max(agreement_for::<3>(42));
    println!("largest share of the value allowance used: {share:.3}");
}

/// Largest distance of the drift to the dense drift, over the drift's allowance (module
/// documentation of the test below).
fn drift_for<const D: usize>(seed: u64) -> f64 {
    let mut share = 0.0_f64;
    let sinkhorn = SinkhornConfig::new();
    let eps = f64::from(sinkhorn.epsilon());
    for Balanced {
        name,
        xs,
        ys,
        jittered,
        a,
    } in balanced::<D>(seed, 448, 340)
    {
        let ua = vec![1.0 / xs.len() as f32; xs.len()];
        for weighted in [false, true] {
            let ys = if weighted { &jittered } else { &ys };
            let (n, m) = (xs.len(), ys.len());
            let ub = vec![1.0 / m as f32; m];
            let (x, y) = weighted_pair(&xs, ys, &a, &a, weighted);
            let (wa, wb) = if weighted { (&a, &a) } else { (&ua, &ub) };
            let reach = (2.0 * largest_cost(&x, &y)).sqrt();
            let mut dense_buffer = vec![0.0; drifting::SinkhornWorkspace::required_len(n, m)];
            let mut dense_workspace =
                drifting::SinkhornWorkspace::new(&mut dense_buffer, n, m).unwrap();
            let mut expected = vec![0.0_f32; n * D];
            let solves =
                sinkhorn_drift(&x, &y, &sinkhorn, &mut dense_workspace, &mut expected).unwrap();
            for h in [sinkhorn.blur, 4.0 * sinkhorn.blur] {
                let what = format!("{D}D {name} weighted {weighted} h {h}");
                let mut buffers = MultiscaleBuffers::<D>::new(n, m);
                let mut workspace = buffers.workspace();
                let mut short = vec![0.0_f32; n * D - 1];
                assert!(matches!(
                    multiscale_sinkhorn_drift(&x, &y, &config(h), &mut workspace, &mut short),
                    Err(Error::ShapeMismatch { input: "out", .. })
                ));
                let mut field = vec![f32::NAN; n * D];
                let (fine, report) =
                    multiscale_sinkhorn_drift(&x, &y, &config(h), &mut workspace, &mut field)
                        .unwrap();
                assert_eq!(
                    report.extrapolation_pairs,
                    (n * report.clusters[1] + m * report.clusters[0] + n * report.clusters[0])
                        as u64,
                    "{what}"
                );
                for (f, d) in fine.iter().zip(&solves) {
                    assert_eq!(f.scaling_steps, 0, "{what}");
                    if d.converged {
                        assert!(f.converged, "{what}: {f:?}");
                    }
                }
                // The projections from the fine potentials: within their certified bound of the
                // `f64` projections of the same potentials (plus 1e-6 of the clouds' extent for
                // `f32` rounding, as `tests/pruned_sinkhorn.rs` measures it).
                let exact = difference_f64(&xs, ys, wa, wb, &workspace.fine.sinkhorn, eps);
                let allowance = report.fine_pruning[2].bound + 1e-6 * reach;
                for (i, e) in exact.iter().enumerate() {
                    let off = distance(&field, n, i, e);
                    assert!(
                        off <= allowance,
                        "{what}: query {i} {off:e} > {allowance:e}"
                    );
                }
                // Against the dense drift: two converged solves from different starts. Their
                // plans agree only as far as their L1 marginal errors `δ` say, so the
                // mass-weighted mean `Σ a_i ‖ΔV_i‖` is allowed `(Σ δ)·R` (mass `Σ δ` moved across
                // at most the diameter `R`; measured below 0.2 of it). Single points are not
                // compared: the L1 criterion leaves the potentials of points of little mass loosely
                // determined (measured: up to 3.5e-2 apart at one outlier for clusters of 4×
                // the blur, and still 3e-3 at marginal errors of 1e-5 on both sides).
                if solves.iter().all(|r| r.converged) {
                    let mean: f64 = (0..n)
                        .map(|i| {
                            let off = (0..D)
                                .map(|d| f64::from(field[d * n + i] - expected[d * n + i]).powi(2))
                                .sum::<f64>()
                                .sqrt();
                            f64::from(wa[i]) * off
                        })
                        .sum();
                    let moved: f64 = fine
                        .iter()
                        .chain(&solves)
                        .map(|r| f64::from(r.marginal_error))
                        .sum();
                    let allowance = moved * reach;
                    assert!(mean <= allowance, "{what}: mean {mean:e} > {allowance:e}");
                    share = share.max(mean / allowance);
                }
            }
        }
    }
    share
}

#[test]
fn the_multiscale_drift_agrees_with_the_dense_drift() {
    let share = drift_for::<2>(81).max(drift_for::<3>(82));
    println!("largest share of the drift allowance used: {share:.3}");
}

#[test]
fn the_divergence_of_a_cloud_with_itself_is_zero() {
    for (name, xs, _) in clouds::<3>(51, 800, 10) {
        let a = weights(52, xs.len());
        for weighted in [false, true] {
            let (x, _) = weighted_pair(&xs, &xs, &a, &a, weighted);
            // One cluster per cloud (`h = 1e3`): both at the same point, a coarse problem of
            // diameter 0.
            for h in [0.05, 1e3] {
                let (p, _, _) = multiscale(&x, &x, &config(h)).unwrap();
                let scale = f64::from(p.transport_aa.abs());
                let errors: f64 = p.reports.iter().map(|r| f64::from(r.marginal_error)).sum();
                let allowed =
                    VALUE_SLACK * scale + f64::from(SinkhornConfig::new().epsilon()) * errors;
                assert!(
                    f64::from(p.value.abs()) <= allowed,
                    "{name} weighted {weighted} h {h}: S(a, a) = {}",
                    p.value
                );
            }
        }
    }
}

/// `n` points of the example's interlocked tori (`examples/support/shapes.rs`), the second
/// cloud deformed as there.
fn tori(seed: u64, n: usize, deform: bool) -> Vec<[f32; 3]> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let points = crate::shapes::tori(&mut rng, n);
    if deform {
        points.into_iter().map(crate::shapes::deformed).collect()
    } else {
        points
    }
}

#[test]
fn the_schedule_on_clusters_evaluates_fewer_pairs_than_on_the_points() {
    let (xs, ys) = (tori(61, 6000, false), tori(62, 5600, true));
    let (x, y) = (
        WeightedCloud::uniform(CloudView::from_points(&xs)),
        WeightedCloud::uniform(CloudView::from_points(&ys)),
    );
    let config = MultiscaleSinkhornConfig::new(config(1.0).pruned);
    assert_eq!(config.cluster_scale, 0.05);
    let (p, report, _) = multiscale(&x, &y, &config).unwrap();
    let mut buffers = Buffers::<3>::new(x.len(), y.len());
    let (plain, plain_pruning) =
        pruned_sinkhorn_divergence(&x, &y, &config.pruned, &mut buffers.workspace()).unwrap();
    assert!(p.reports.iter().chain(&plain.reports).all(|r| r.converged));
    let evaluated = |r: &[drifting::PruneReport; 3]| r.iter().map(|p| p.evaluated).sum::<u64>();
    let multiscale_pairs = evaluated(&report.coarse_pruning)
        + evaluated(&report.fine_pruning)
        + report.extrapolation_pairs;
    let plain_pairs = evaluated(&plain_pruning);
    println!(
        "clusters {:?}; pairs evaluated: multiscale {multiscale_pairs:.3e}, plain {plain_pairs:.3e}; fine iterations {:?}",
        report.clusters,
        p.reports.map(|r| r.iterations)
    );
    assert!(2 * multiscale_pairs < plain_pairs);
    let scale = f64::from(plain.transport_ab.abs());
    let errors: f64 = p
        .reports
        .iter()
        .chain(&plain.reports)
        .map(|r| f64::from(r.marginal_error))
        .sum();
    let allowed = VALUE_SLACK * scale + f64::from(SinkhornConfig::new().epsilon()) * errors + 1e-6;
    assert!(f64::from((p.value - plain.value).abs()) <= allowed);
}

#[test]
fn errors_are_those_of_the_pruned_divergence_plus_cluster_scale_and_buffers() {
    let xs: Vec<[f32; 2]> = (0..100).map(|i| [i as f32 * 0.01, 0.5]).collect();
    let ys: Vec<[f32; 2]> = (0..80).map(|i| [0.3, i as f32 * 0.01]).collect();
    let (x, y) = (
        WeightedCloud::uniform(CloudView::from_points(&xs)),
        WeightedCloud::uniform(CloudView::from_points(&ys)),
    );
    assert!(multiscale(&x, &y, &config(0.05)).is_ok());
    for h in [0.0, -0.05, f32::NAN, f32::INFINITY] {
        assert_eq!(
            multiscale(&x, &y, &config(h)).err(),
            Some(Error::InvalidParameter {
                input: "cluster_scale"
            })
        );
    }
    let mut warm = config(0.05);
    warm.pruned.sinkhorn.warm_start = true;
    assert_eq!(
        multiscale(&x, &y, &warm).err(),
        Some(Error::InvalidParameter {
            input: "warm_start"
        })
    );
    let mut tolerance = config(0.05);
    tolerance.pruned.tolerance = 0.0;
    assert_eq!(
        multiscale(&x, &y, &tolerance).err(),
        Some(Error::InvalidParameter { input: "tolerance" })
    );
    // The clouds' and the solves' errors, as the pruned divergence reports them.
    let nan = [[f32::NAN, 0.0], [0.0, 0.0]];
    let empty: [[f32; 2]; 0] = [];
    let bad_weights = vec![0.5_f32; 100];
    let cases: [(WeightedCloud<'_, 2>, WeightedCloud<'_, 2>, SinkhornConfig); 4] = [
        (
            WeightedCloud::uniform(CloudView::from_points(&nan)),
            y,
            SinkhornConfig::new(),
        ),
        (
            x,
            WeightedCloud::uniform(CloudView::from_points(&empty)),
            SinkhornConfig::new(),
        ),
        (
            WeightedCloud::weighted(CloudView::from_points(&xs), &bad_weights),
            y,
            SinkhornConfig::new(),
        ),
        (
            x,
            y,
            SinkhornConfig {
                blur: -1.0,
                ..SinkhornConfig::new()
            },
        ),
    ];
    for (x, y, sinkhorn) in cases {
        let pruned = PrunedSinkhornConfig {
            sinkhorn,
            tolerance: 1e-6,
        };
        let mut buffers = Buffers::<2>::new(x.len(), y.len());
        let expected = pruned_sinkhorn_divergence(&x, &y, &pruned, &mut buffers.workspace()).err();
        assert!(expected.is_some());
        let config = MultiscaleSinkhornConfig {
            pruned,
            cluster_scale: 0.05,
        };
        assert_eq!(multiscale(&x, &y, &config).err(), expected);
    }
    // Buffers of the wrong length.
    let (n, m) = (xs.len(), ys.len());
    let (clusters, values) = multiscale_sinkhorn_workspace_len(n, m).unwrap();
    assert_eq!((clusters, values), (180, 180 + 5 * 180 + 180 + 2));
    for (short, input) in [(0, "clusters"), (1, "values")] {
        let mut buffers = Buffers::<2>::new(n, m);
        let mut lengths = [clusters, values];
        lengths[short] -= 1;
        let (mut c, mut v) = (vec![[0.0_f32; 2]; lengths[0]], vec![0.0_f32; lengths[1]]);
        let mut workspace = MultiscaleSinkhornWorkspace {
            fine: buffers.workspace(),
            clusters: &mut c,
            values: &mut v,
        };
        assert_eq!(
            multiscale_sinkhorn_divergence(&x, &y, &config(0.05), &mut workspace).err(),
            Some(Error::ShapeMismatch {
                input,
                expected: lengths[short] + 1,
                found: lengths[short]
            })
        );
    }
    assert_eq!(multiscale_sinkhorn_workspace_len(usize::MAX, 1), None);
}

#[cfg(feature = "std")]
#[test]
fn the_same_bits_on_one_and_two_threads() {
    let (xs, ys) = (tori(71, 1500, false), tori(72, 1300, true));
    let (x, y) = (
        WeightedCloud::uniform(CloudView::from_points(&xs)),
        WeightedCloud::uniform(CloudView::from_points(&ys)),
    );
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| multiscale(&x, &y, &config(0.05)).unwrap())
    };
    let (one, one_report, one_potentials) = run(1);
    let (two, two_report, two_potentials) = run(2);
    assert_eq!(one.value.to_bits(), two.value.to_bits());
    assert_eq!(one_report, two_report);
    for (a, b) in one_potentials.iter().zip(&two_potentials) {
        assert!(a.iter().zip(b).all(|(u, v)| u.to_bits() == v.to_bits()));
    }
}
