//! Certified tile pruning of the mean-shift drift (issue 17): on clouds with clusters, uniform
//! fill, far outliers and duplicates, in 2D and 3D, Laplace and Gaussian, at tolerances 1e-4 to
//! 1e-8, the pruned field differs from the dense one (`mean_shift_drift`) by at most the bound it
//! reports plus `f32` rounding, and it prunes (evaluates fewer pairs) where the kernel is local.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::cast_precision_loss,
    clippy::too_many_lines
)]

use crate::support::clouds::{KINDS, cloud, uniform};
use crate::support::same_bits;
use drifting::spatial::BoundingBox;
use drifting::{
    CloudView, Error, Kernel, MeanShiftConfig, Negatives, PruneReport, PrunedMeanShiftConfig,
    PrunedWorkspace, mean_shift_drift, pruned_mean_shift_drift, pruned_mean_shift_workspace_len,
};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// (name, queries, positives): uniform fill of `[−4, 4]^D`, four tight clusters, a unit cloud
/// with far outliers, heavy duplicates.
#[allow(clippy::type_complexity)]
fn clouds<const D: usize>(seed: u64) -> Vec<(&'static str, Vec<[f32; D]>, Vec<[f32; D]>)> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let n = 1500;
    let mut out = Vec::new();
    for (kind, name) in KINDS.iter().enumerate() {
        let queries = cloud(&mut rng, kind, n);
        let positives = cloud(&mut rng, kind, n);
        out.push((*name, queries, positives));
    }
    out
}

/// Runs the pruned drift (negatives = the queries) and returns its field and report.
fn pruned<const D: usize>(
    queries: &[[f32; D]],
    positives: &[[f32; D]],
    config: &PrunedMeanShiftConfig,
) -> Result<(Vec<f32>, PruneReport), Error> {
    let (keys, points, boxes) =
        pruned_mean_shift_workspace_len(queries.len(), positives.len(), 0).unwrap();
    let mut keys = vec![0_u64; keys];
    let mut points = vec![[0.0_f32; D]; points];
    let empty = BoundingBox {
        min: [0.0; D],
        max: [0.0; D],
        count: 0,
    };
    let mut boxes = vec![empty; boxes];
    let mut out = vec![f32::NAN; queries.len() * D];
    let report = pruned_mean_shift_drift(
        &CloudView::from_points(queries),
        &CloudView::from_points(positives),
        Negatives::Queries,
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

fn check<const D: usize>() {
    for (name, queries, positives) in clouds::<D>(D as u64) {
        for kernel in [Kernel::laplace(0.05), Kernel::gaussian(0.1)] {
            let mean_shift = MeanShiftConfig::new(kernel);
            let mut dense = vec![0.0_f32; queries.len() * D];
            mean_shift_drift(
                &CloudView::from_points(&queries),
                &CloudView::from_points(&positives),
                Negatives::Queries,
                &mean_shift,
                &mut dense,
            )
            .unwrap();
            for tolerance in [1e-4_f32, 1e-6, 1e-8] {
                let config = PrunedMeanShiftConfig {
                    mean_shift,
                    tolerance,
                };
                let (field, report) = pruned(&queries, &positives, &config).unwrap();
                let n = queries.len();
                let mut worst = 0.0_f64;
                for (i, x) in queries.iter().enumerate() {
                    // The farthest point from x_i: rounding of a mean of points up to this far.
                    let reach = queries
                        .iter()
                        .chain(&positives)
                        .map(|y| {
                            x.iter()
                                .zip(y)
                                .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
                                .sum::<f64>()
                        })
                        .fold(0.0_f64, f64::max)
                        .sqrt();
                    let (mut diff, mut norm) = (0.0_f64, 0.0_f64);
                    for d in 0..D {
                        let (a, b) = (f64::from(field[d * n + i]), f64::from(dense[d * n + i]));
                        assert!(a.is_finite(), "{name} D = {D}: non-finite field");
                        diff += (a - b).powi(2);
                        norm += b * b;
                    }
                    // f32 rounding of both evaluations (different summation orders): relative
                    // 1e-4 of the field, plus 2e-6 of the farthest point's distance (each mean is
                    // a weighted average of displacements up to that long; the field is their
                    // difference and can be much smaller).
                    let slack = 1e-4 * norm.sqrt() + 2e-6 * reach + 1e-7;
                    let excess = diff.sqrt() - report.bound - slack;
                    worst = worst.max(diff.sqrt());
                    assert!(
                        excess <= 0.0,
                        "{name} D = {D} {kernel:?} ε = {tolerance}: query {i} off by {} > bound {} + {slack}",
                        diff.sqrt(),
                        report.bound
                    );
                }
                println!(
                    "{name:10} D = {D} {kernel:?} ε = {tolerance:e}: evaluated {:.1} % of {} pairs, bound {:.2e}, largest difference {worst:.2e}",
                    100.0 * report.evaluated as f64 / report.pairs as f64,
                    report.pairs,
                    report.bound
                );
                assert!(report.bound <= f64::from(tolerance) * 1e6 + 1e-30);
            }
        }
    }
}

#[test]
fn pruned_field_is_within_its_bound_in_two_and_three_dimensions() {
    check::<2>();
    check::<3>();
}

/// On a uniform 2D cloud at τ = 0.05 (extent 8), the certified cut is where
/// `64·e^{−d/τ} < (ε/T)·Ŝ`: `d ≈ τ·ln(64·T/ε) ≈ 1.1` at `ε = 1e-6`, `T = 128` tiles, `Ŝ ≈ 1`; with
/// the query and target tiles' extents (about 0.7 at 64 points per tile here) that leaves about a
/// fifth of the square per query tile. Measured: 25 % of the pairs evaluated (the test allows
/// 35 %); the dense sweep evaluates all of them.
#[test]
fn pruning_skips_most_pairs_of_a_local_kernel() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
    let cloud = |rng: &mut Xoshiro256PlusPlus| -> Vec<[f32; 2]> {
        (0..8192)
            .map(|_| [uniform(rng) * 8.0 - 4.0, uniform(rng) * 8.0 - 4.0])
            .collect()
    };
    let (queries, positives) = (cloud(&mut rng), cloud(&mut rng));
    let config = PrunedMeanShiftConfig {
        mean_shift: MeanShiftConfig::new(Kernel::laplace(0.05)),
        tolerance: 1e-6,
    };
    let (_, report) = pruned(&queries, &positives, &config).unwrap();
    let fraction = report.evaluated as f64 / report.pairs as f64;
    println!("evaluated {:.2} % of the pairs", 100.0 * fraction);
    assert!(fraction < 0.35, "evaluated {fraction}");
}

#[test]
fn bad_input_is_a_typed_error() {
    let points = [[0.0_f32, 0.0], [1.0, 1.0]];
    let base = PrunedMeanShiftConfig {
        mean_shift: MeanShiftConfig::new(Kernel::laplace(0.1)),
        tolerance: 1e-6,
    };
    for tolerance in [0.0, -1.0, 1.0, f32::NAN, f32::INFINITY] {
        let config = PrunedMeanShiftConfig { tolerance, ..base };
        assert_eq!(
            pruned(&points, &points, &config).unwrap_err(),
            Error::InvalidParameter { input: "tolerance" }
        );
    }
    assert_eq!(
        pruned(&[[0.0, f32::NAN]], &points, &base).unwrap_err(),
        Error::NonFinite { input: "queries" }
    );
    assert_eq!(
        pruned::<2>(&[], &points, &base).unwrap_err(),
        Error::EmptyCloud { input: "queries" }
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
        pruned_mean_shift_drift(
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
    // One query: no negative left, the repulsion is zero; a finite field.
    let (field, _) = pruned(&[[0.5, 0.5]], &points, &base).unwrap();
    assert!(field.iter().all(|v| v.is_finite()));
}

/// The measured rule (`pruning_pays`): a kernel whose reach is most of the clouds' diameter runs
/// the exact mean shift and MMD flow (same bits, every pair, zero bound, the pruned pair count);
/// a local one prunes.
#[test]
fn a_wide_kernel_runs_the_exact_drift_and_a_local_one_prunes() {
    use drifting::{
        MmdFlowConfig, PrunedMmdFlowConfig, mmd_flow_drift, pruned_mmd_flow_drift,
        pruned_mmd_flow_workspace_len,
    };
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(78);
    let mut draw = |count: usize| -> Vec<[f32; 2]> {
        (0..count)
            .map(|_| [8.0 * uniform(&mut rng) - 4.0, 8.0 * uniform(&mut rng) - 4.0])
            .collect()
    };
    let (x, y) = (draw(700), draw(650));
    let (xv, yv) = (CloudView::from_points(&x), CloudView::from_points(&y));
    let empty = BoundingBox {
        min: [0.0; 2],
        max: [0.0; 2],
        count: 0,
    };
    let (keys, points, boxes) = pruned_mean_shift_workspace_len(700, 650, 0).unwrap();
    assert_eq!(
        pruned_mmd_flow_workspace_len(700, 650, 0),
        Some((keys, points, boxes))
    );
    let mut pairs = Vec::new();
    for (temperature, pays) in [(1.0, false), (0.05, true)] {
        let kernel = Kernel::laplace(temperature);
        assert_eq!(drifting::pruning_pays(&kernel, 1e-6, &[&xv, &yv]), pays);
        for flow in [false, true] {
            let mut keys = vec![0_u64; keys];
            let mut pts = vec![[0.0_f32; 2]; points];
            let mut bxs = vec![empty; boxes];
            let workspace = PrunedWorkspace {
                keys: &mut keys,
                points: &mut pts,
                boxes: &mut bxs,
            };
            let (mut field, mut exact) = (vec![f32::NAN; 1400], vec![f32::NAN; 1400]);
            let report = if flow {
                let mmd_flow = MmdFlowConfig::new(kernel);
                let config = PrunedMmdFlowConfig {
                    mmd_flow,
                    tolerance: 1e-6,
                };
                mmd_flow_drift(&xv, &yv, Negatives::Queries, &mmd_flow, &mut exact).unwrap();
                pruned_mmd_flow_drift(&xv, &yv, Negatives::Queries, &config, workspace, &mut field)
            } else {
                let mean_shift = MeanShiftConfig::new(kernel);
                let config = PrunedMeanShiftConfig {
                    mean_shift,
                    tolerance: 1e-6,
                };
                mean_shift_drift(&xv, &yv, Negatives::Queries, &mean_shift, &mut exact).unwrap();
                pruned_mean_shift_drift(
                    &xv,
                    &yv,
                    Negatives::Queries,
                    &config,
                    workspace,
                    &mut field,
                )
            }
            .unwrap();
            if pays {
                assert!(
                    report.evaluated < report.pairs && report.bound > 0.0,
                    "{report:?}"
                );
            } else {
                assert!(
                    same_bits(&field, &exact),
                    "flow {flow}: not the exact drift's bits"
                );
                assert_eq!((report.evaluated, report.bound), (report.pairs, 0.0));
            }
            pairs.push(report.pairs);
        }
    }
    assert_eq!(pairs[0], pairs[2]);
    assert_eq!(pairs[1], pairs[3]);
}
