//! Certified tile pruning of the MMD-flow drift (issue 17): on clouds with clusters, uniform
//! fill, far outliers and duplicates, in 2D and 3D, Laplace and Gaussian, negatives the queries
//! or a cloud of their own, at tolerances 1e-4 to 1e-8, the pruned field differs from the dense
//! one (`mmd_flow_drift`) by at most the bound it reports plus `f32` rounding; it prunes where
//! the kernel is local, and gives the same bits whatever the number of threads.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::cast_precision_loss,
    clippy::too_many_lines
)]

use crate::support::clouds::{KINDS, cloud, uniform};
use drifting::spatial::BoundingBox;
use drifting::{
    CloudView, Error, Kernel, MmdFlowConfig, Negatives, PruneReport, PrunedMmdFlowConfig,
    PrunedWorkspace, mmd_flow_drift, pruned_mmd_flow_drift, pruned_mmd_flow_workspace_len,
};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// Runs the pruned flow and returns its field and report (`negatives`: `None` for the queries).
fn pruned<const D: usize>(
    queries: &[[f32; D]],
    positives: &[[f32; D]],
    negatives: Option<&[[f32; D]]>,
    config: &PrunedMmdFlowConfig,
) -> Result<(Vec<f32>, PruneReport), Error> {
    let q = negatives.map_or(0, <[_]>::len);
    let (keys, points, boxes) =
        pruned_mmd_flow_workspace_len(queries.len(), positives.len(), q).unwrap();
    let mut keys = vec![0_u64; keys];
    let mut points = vec![[0.0_f32; D]; points];
    let empty = BoundingBox {
        min: [0.0; D],
        max: [0.0; D],
        count: 0,
    };
    let mut boxes = vec![empty; boxes];
    let mut out = vec![f32::NAN; queries.len() * D];
    let negatives = negatives.map_or(Negatives::Queries, |c| {
        Negatives::Cloud(CloudView::from_points(c))
    });
    let report = pruned_mmd_flow_drift(
        &CloudView::from_points(queries),
        &CloudView::from_points(positives),
        negatives,
        config,
        PrunedWorkspace {
            keys: &mut keys,
            points: &mut points,
            boxes: &mut boxes,
        },
        &mut out,
    )?;
    Ok((out, report))
}

/// Per query, in `f64`: `|η| [(1/P) Σ_j k_ij γ_ij ‖y_j − x_i‖ + (1/Q) Σ_k …]`, the summed
/// lengths of the terms of the field (the scale of its `f32` rounding), and the kernel masses
/// `(1/P) Σ_j k_ij + (1/Q) Σ_k k_ik`.
fn absolute_sums<const D: usize>(
    queries: &[[f32; D]],
    positives: &[[f32; D]],
    negatives: &[[f32; D]],
    is_self: bool,
    kernel: Kernel,
) -> Vec<(f64, f64)> {
    let terms = |x: &[f32; D], y: &[f32; D]| -> (f64, f64) {
        let r = x
            .iter()
            .zip(y)
            .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
            .sum::<f64>()
            .sqrt();
        match kernel {
            Kernel::Laplace { temperature } => {
                let t = f64::from(temperature);
                let k = (-r / t).exp();
                (if r > 0.0 { k / t } else { 0.0 }, k)
            }
            Kernel::Gaussian { bandwidth } => {
                let s2 = f64::from(bandwidth).powi(2);
                let k = (-r * r / (2.0 * s2)).exp();
                (k * r / s2, k)
            }
        }
    };
    let sum = |x: &[f32; D], cloud: &[[f32; D]], skip: Option<usize>| -> (f64, f64) {
        cloud
            .iter()
            .enumerate()
            .filter(|&(k, _)| Some(k) != skip)
            .map(|(_, y)| terms(x, y))
            .fold((0.0, 0.0), |(a, b), (c, d)| (a + c, b + d))
    };
    queries
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let (p, q) = (
                sum(x, positives, None),
                sum(x, negatives, is_self.then_some(i)),
            );
            let (np, nq) = (positives.len() as f64, negatives.len() as f64);
            (p.0 / np + q.0 / nq, p.1 / np + q.1 / nq)
        })
        .collect()
}

fn check<const D: usize>() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(D as u64 + 40);
    for (kind, name) in KINDS.iter().enumerate() {
        let queries = cloud::<D>(&mut rng, kind, 1200);
        let positives = cloud::<D>(&mut rng, kind, 1100);
        let own = cloud::<D>(&mut rng, kind, 700);
        for kernel in [Kernel::laplace(0.05), Kernel::gaussian(0.1)] {
            let flow = MmdFlowConfig::new(kernel);
            for separate in [false, true] {
                let negatives: &[[f32; D]] = if separate { &own } else { &queries };
                let mut dense = vec![0.0_f32; queries.len() * D];
                let dense_negatives = if separate {
                    Negatives::Cloud(CloudView::from_points(&own))
                } else {
                    Negatives::Queries
                };
                mmd_flow_drift(
                    &CloudView::from_points(&queries),
                    &CloudView::from_points(&positives),
                    dense_negatives,
                    &flow,
                    &mut dense,
                )
                .unwrap();
                let sums = absolute_sums(&queries, &positives, negatives, !separate, kernel);
                for tolerance in [1e-4_f32, 1e-6, 1e-8] {
                    let config = PrunedMmdFlowConfig {
                        mmd_flow: flow,
                        tolerance,
                    };
                    let (field, report) =
                        pruned(&queries, &positives, separate.then_some(&own[..]), &config)
                            .unwrap();
                    let n = queries.len();
                    let mut worst = 0.0_f64;
                    for (i, (sum, _)) in sums.iter().enumerate() {
                        let (mut diff, mut norm) = (0.0_f64, 0.0_f64);
                        for d in 0..D {
                            let (a, b) = (f64::from(field[d * n + i]), f64::from(dense[d * n + i]));
                            assert!(a.is_finite(), "{name} D = {D}: non-finite field");
                            diff += (a - b).powi(2);
                            norm += b * b;
                        }
                        // f32 rounding of both evaluations (different summation orders, the
                        // pruned sums kept relative to their largest kernel value): 1e-4 of the
                        // field plus 1e-5 of the summed lengths of its terms, which can be far
                        // larger than the field where attraction and repulsion cancel.
                        let slack = 1e-4 * norm.sqrt() + 1e-5 * sum + 1e-30;
                        worst = worst.max(diff.sqrt() / (report.bound + slack));
                        assert!(
                            diff.sqrt() <= report.bound + slack,
                            "{name} D = {D} {kernel:?} separate {separate} ε = {tolerance}: \
                             query {i} off by {} > bound {} + {slack}",
                            diff.sqrt(),
                            report.bound
                        );
                    }
                    println!(
                        "{name:10} D = {D} {kernel:?} separate {separate:5} ε = {tolerance:e}: \
                         evaluated {:.1} % of {} pairs, bound {:.2e}, largest share of \
                         bound + slack used {worst:.3}",
                        100.0 * report.evaluated as f64 / report.pairs as f64,
                        report.pairs,
                        report.bound
                    );
                    // With the Laplace kernel the bound, `|η| Σ_sides ρ Ŝ/(τ·count)`, is at most
                    // ε/τ times the masses (ρ ≤ ε, Ŝ ≤ S).
                    assert!(report.bound.is_finite());
                    if let Kernel::Laplace { temperature } = kernel {
                        let mass = sums.iter().fold(0.0_f64, |m, &(_, s)| m.max(s));
                        let allowed = 1.01 * f64::from(tolerance) * mass / f64::from(temperature);
                        assert!(report.bound <= allowed, "{} > {allowed}", report.bound);
                    }
                }
            }
        }
    }
}

#[test]
fn pruned_flow_is_within_its_bound_in_two_and_three_dimensions() {
    check::<2>();
    check::<3>();
}

/// Uniform 2D clouds on `[−4, 4]²` at τ = 0.05: most far tiles are skipped, and the field is the
/// same bits on 1, 2 and 3 threads (feature `std`).
#[test]
fn pruning_skips_most_pairs_of_a_local_kernel() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(12);
    let cloud = |rng: &mut Xoshiro256PlusPlus| -> Vec<[f32; 2]> {
        (0..8192)
            .map(|_| [uniform(rng) * 8.0 - 4.0, uniform(rng) * 8.0 - 4.0])
            .collect()
    };
    let (queries, positives) = (cloud(&mut rng), cloud(&mut rng));
    let config = PrunedMmdFlowConfig {
        mmd_flow: MmdFlowConfig::new(Kernel::laplace(0.05)),
        tolerance: 1e-6,
    };
    let (field, report) = pruned(&queries, &positives, None, &config).unwrap();
    let fraction = report.evaluated as f64 / report.pairs as f64;
    println!("evaluated {:.2} % of the pairs", 100.0 * fraction);
    assert!(fraction < 0.35, "evaluated {fraction}");
    assert!(field.iter().all(|v| v.is_finite()));
    #[cfg(feature = "std")]
    for threads in [1, 2, 3] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let (again, _) = pool.install(|| pruned(&queries, &positives, None, &config).unwrap());
        assert!(
            field
                .iter()
                .zip(&again)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{threads} threads"
        );
    }
}

#[test]
fn bad_input_is_a_typed_error() {
    let points = [[0.0_f32, 0.0], [1.0, 1.0]];
    let base = PrunedMmdFlowConfig {
        mmd_flow: MmdFlowConfig::new(Kernel::laplace(0.1)),
        tolerance: 1e-6,
    };
    for tolerance in [0.0, -1.0, 1.0, f32::NAN, f32::INFINITY] {
        let config = PrunedMmdFlowConfig { tolerance, ..base };
        assert_eq!(
            pruned(&points, &points, None, &config).unwrap_err(),
            Error::InvalidParameter { input: "tolerance" }
        );
    }
    let step = PrunedMmdFlowConfig {
        mmd_flow: MmdFlowConfig {
            step: f32::NAN,
            ..base.mmd_flow
        },
        ..base
    };
    assert_eq!(
        pruned(&points, &points, None, &step).unwrap_err(),
        Error::InvalidParameter { input: "step" }
    );
    assert_eq!(
        pruned(&[[0.0, f32::NAN]], &points, None, &base).unwrap_err(),
        Error::NonFinite { input: "queries" }
    );
    assert_eq!(
        pruned::<2>(&[], &points, None, &base).unwrap_err(),
        Error::EmptyCloud { input: "queries" }
    );
    assert_eq!(
        pruned(&points, &points, Some(&[]), &base).unwrap_err(),
        Error::EmptyCloud { input: "negatives" }
    );
    let mut out = vec![0.0; 4];
    let mut keys = vec![0_u64; 3];
    let mut pts = vec![[0.0_f32; 2]; 4];
    let empty = BoundingBox {
        min: [0.0; 2],
        max: [0.0; 2],
        count: 0,
    };
    let mut boxes = vec![empty; 2];
    assert_eq!(
        pruned_mmd_flow_drift(
            &CloudView::from_points(&points),
            &CloudView::from_points(&points),
            Negatives::Queries,
            &base,
            PrunedWorkspace {
                keys: &mut keys,
                points: &mut pts,
                boxes: &mut boxes,
            },
            &mut out,
        )
        .unwrap_err(),
        Error::ShapeMismatch {
            input: "keys",
            expected: 4,
            found: 3
        }
    );
    // One query: no negative left, the repulsion is zero; a finite field equal to the dense one.
    let (field, _) = pruned(&[[0.5, 0.5]], &points, None, &base).unwrap();
    let mut dense = [0.0_f32; 2];
    mmd_flow_drift(
        &CloudView::from_points(&[[0.5, 0.5]]),
        &CloudView::from_points(&points),
        Negatives::Queries,
        &base.mmd_flow,
        &mut dense,
    )
    .unwrap();
    assert!(field.iter().all(|v| v.is_finite()));
    for (a, b) in field.iter().zip(&dense) {
        assert!((a - b).abs() <= 1e-6 * b.abs().max(1e-30), "{a} vs {b}");
    }
}
