//! Dense against pruned drift on a large low-dimensional cloud (issue 17): wall time (median of
//! `--repeats` runs each), the fraction of pairs the pruned sweep evaluated, its certified bound and
//! the largest measured difference. `--op mean_shift` (the default) compares
//! `pruned_mean_shift_drift` with `mean_shift_drift`, `--op two_axis` compares
//! `pruned_two_axis_drift` with `two_axis_softmax_drift` (negatives: the queries), `--op mmd_flow`
//! `pruned_mmd_flow_drift` with `mmd_flow_drift`. With
//! `--features std` both run on the rayon pool (`RAYON_NUM_THREADS`); `--dense 0` skips the dense
//! drift (its time and the difference). Clouds (`--dim`, `--cloud`): `2 uniform` (the default, on
//! `[−4, 4]²`), `2 checkerboard` (the official demo's, scaled by 4), `3 uniform` (`[−4, 4]³`),
//! `3 torus` (a surface-like shape of radii 3 and 1 with noise 0.05); queries and positives are
//! two samples of the same cloud.
//!
//! ```sh
//! RUSTFLAGS="-C target-cpu=x86-64-v3" cargo run --release --example pruning -- --size 65536
//! RUSTFLAGS="-C target-cpu=x86-64-v3" cargo run --release --example pruning -- --op two_axis
//! RUSTFLAGS="-C target-cpu=x86-64-v3" cargo run --release --features std --example pruning -- \
//!     --op two_axis --dim 3 --cloud torus --size 262144
//! ```
#![allow(clippy::unwrap_used, clippy::cast_precision_loss)]

use drifting::Dataset;
use drifting::sample::fill_standard_normal;
use drifting::spatial::BoundingBox;
use drifting::{
    CloudView, Kernel, MeanShiftConfig, MmdFlowConfig, Negatives, PruneReport,
    PrunedMeanShiftConfig, PrunedMmdFlowConfig, PrunedTwoAxisConfig, PrunedTwoAxisWorkspace,
    PrunedWorkspace, TwoAxisConfig, mean_shift_drift, mmd_flow_drift, pruned_mean_shift_drift,
    pruned_mean_shift_workspace_len, pruned_mmd_flow_drift, pruned_mmd_flow_workspace_len,
    pruned_two_axis_drift, pruned_two_axis_workspace_len, two_axis_scratch_len,
    two_axis_softmax_drift,
};
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

#[path = "support/cli.rs"]
mod cli;
use cli::{argument, text_argument, timed};

/// A cloud of `n` points drawn by `point`.
fn cloud<const D: usize>(n: usize, mut point: impl FnMut() -> [f32; D]) -> Vec<[f32; D]> {
    (0..n).map(|_| point()).collect()
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn main() {
    let n = argument("--size", 65536.0) as usize;
    let dim = argument("--dim", 2.0) as usize;
    let shape = text_argument("--cloud", "uniform");
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    // Uniform on [−4, 4) per coordinate.
    let mut unit = move || (rng.next_u32() >> 8) as f32 / (1_u32 << 24) as f32;
    match (dim, shape.as_str()) {
        (2, "uniform") => {
            let mut point = || [unit() * 8.0 - 4.0, unit() * 8.0 - 4.0];
            let (q, p) = (cloud(n, &mut point), cloud(n, &mut point));
            run(&q, &p, "2D uniform on [-4, 4]²");
        }
        (2, "checkerboard") => {
            // The official demo's checkerboard scaled by 4: 8 cells of side 2 in [−4, 4]².
            let mut generator = Xoshiro256PlusPlus::seed_from_u64(2);
            let mut sample = || {
                let mut out = vec![0.0_f32; 2 * n];
                Dataset::checkerboard()
                    .sample(&mut generator, &mut out, n)
                    .unwrap();
                (0..n)
                    .map(|i| [4.0 * out[i], 4.0 * out[n + i]])
                    .collect::<Vec<_>>()
            };
            let (q, p) = (sample(), sample());
            run(
                &q,
                &p,
                "2D checkerboard ×4 (cells of side 2 in [-4, 4]², noise 0.2)",
            );
        }
        (3, "uniform") => {
            let mut point = || [unit() * 8.0 - 4.0, unit() * 8.0 - 4.0, unit() * 8.0 - 4.0];
            let (q, p) = (cloud(n, &mut point), cloud(n, &mut point));
            run(&q, &p, "3D uniform on [-4, 4]³");
        }
        (3, "torus") => {
            // A surface-like 3D shape: a torus of radii 3 and 1 (extent 8 × 8 × 2), points
            // uniform in both angles, plus N(0, 0.05²) noise per coordinate.
            let mut generator = Xoshiro256PlusPlus::seed_from_u64(3);
            let mut noise = [0.0_f32; 3];
            let mut point = || {
                let (a, b) = (
                    unit() * std::f32::consts::TAU,
                    unit() * std::f32::consts::TAU,
                );
                fill_standard_normal(&mut generator, &mut noise);
                let ring = 3.0 + b.cos();
                [
                    ring * a.cos() + 0.05 * noise[0],
                    ring * a.sin() + 0.05 * noise[1],
                    b.sin() + 0.05 * noise[2],
                ]
            };
            let (q, p) = (cloud(n, &mut point), cloud(n, &mut point));
            run(&q, &p, "3D torus of radii 3 and 1, noise 0.05");
        }
        other => panic!(
            "--dim {dim} --cloud {}: expected 2 uniform|checkerboard or 3 uniform|torus",
            other.1
        ),
    }
}

#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::too_many_lines
)]
fn run<const D: usize>(queries: &[[f32; D]], positives: &[[f32; D]], label: &str) {
    let n = queries.len();
    let tau = argument("--temperature", 0.05) as f32;
    let tolerance = argument("--tolerance", 1e-6) as f32;
    let repeats = argument("--repeats", 3.0) as usize;
    let op = text_argument("--op", "mean_shift");
    let run_dense = argument("--dense", 1.0) != 0.0;
    let (qv, pv) = (
        CloudView::from_points(queries),
        CloudView::from_points(positives),
    );
    let kernel = Kernel::laplace(tau);
    let (keys, points, boxes, values) = pruned_two_axis_workspace_len(n, n, 0).unwrap();
    let mut keys = vec![0_u64; keys];
    let mut points = vec![[0.0_f32; D]; points];
    let empty = BoundingBox {
        min: [0.0; D],
        max: [0.0; D],
        count: 0,
    };
    let mut boxes = vec![empty; boxes];
    let mut values = vec![0.0_f32; values];
    let mut dense = vec![0.0_f32; D * n];
    let mut pruned = vec![0.0_f32; D * n];
    let dense_repeats = if run_dense { repeats } else { 0 };
    let ((dense_time, _), (pruned_time, report)): ((f64, Option<()>), (f64, Option<PruneReport>)) =
        match op.as_str() {
            "mean_shift" => {
                let mean_shift = MeanShiftConfig::new(kernel);
                let dense_run = timed(dense_repeats, || {
                    mean_shift_drift(&qv, &pv, Negatives::Queries, &mean_shift, &mut dense)
                        .unwrap();
                });
                // The mean shift's workspace is the two-axis one's spatial part.
                assert_eq!(
                    pruned_mean_shift_workspace_len(n, n, 0),
                    Some((keys.len(), points.len(), boxes.len()))
                );
                let config = PrunedMeanShiftConfig {
                    mean_shift,
                    tolerance,
                };
                let pruned_run = timed(repeats, || {
                    let workspace = PrunedWorkspace {
                        keys: &mut keys,
                        points: &mut points,
                        boxes: &mut boxes,
                    };
                    pruned_mean_shift_drift(
                        &qv,
                        &pv,
                        Negatives::Queries,
                        &config,
                        workspace,
                        &mut pruned,
                    )
                    .unwrap()
                });
                (dense_run, pruned_run)
            }
            "two_axis" => {
                let two_axis = TwoAxisConfig::new(kernel);
                let mut scratch = vec![0.0_f32; two_axis_scratch_len(n, n, n)];
                let dense_run = timed(dense_repeats, || {
                    two_axis_softmax_drift(
                        &qv,
                        &pv,
                        Negatives::Queries,
                        &two_axis,
                        &mut scratch,
                        &mut dense,
                    )
                    .unwrap();
                });
                let config = PrunedTwoAxisConfig {
                    two_axis,
                    tolerance,
                };
                let pruned_run = timed(repeats, || {
                    let workspace = PrunedTwoAxisWorkspace {
                        spatial: PrunedWorkspace {
                            keys: &mut keys,
                            points: &mut points,
                            boxes: &mut boxes,
                        },
                        normalisers: &mut values,
                    };
                    pruned_two_axis_drift(
                        &qv,
                        &pv,
                        Negatives::Queries,
                        &config,
                        workspace,
                        &mut pruned,
                    )
                    .unwrap()
                });
                (dense_run, pruned_run)
            }
            "mmd_flow" => {
                let flow = MmdFlowConfig::new(kernel);
                let dense_run = timed(dense_repeats, || {
                    mmd_flow_drift(&qv, &pv, Negatives::Queries, &flow, &mut dense).unwrap();
                });
                assert_eq!(
                    pruned_mmd_flow_workspace_len(n, n, 0),
                    Some((keys.len(), points.len(), boxes.len()))
                );
                let config = PrunedMmdFlowConfig {
                    mmd_flow: flow,
                    tolerance,
                };
                let pruned_run = timed(repeats, || {
                    let workspace = PrunedWorkspace {
                        keys: &mut keys,
                        points: &mut points,
                        boxes: &mut boxes,
                    };
                    pruned_mmd_flow_drift(
                        &qv,
                        &pv,
                        Negatives::Queries,
                        &config,
                        workspace,
                        &mut pruned,
                    )
                    .unwrap()
                });
                (dense_run, pruned_run)
            }
            other => panic!("--op {other}: expected mean_shift, two_axis or mmd_flow"),
        };
    let report = report.unwrap();
    let difference = (0..n)
        .map(|i| {
            (0..D)
                .map(|d| f64::from(pruned[d * n + i] - dense[d * n + i]).powi(2))
                .sum::<f64>()
                .sqrt()
        })
        .fold(0.0_f64, f64::max);
    println!(
        "{op}, N = P = {n}, {label}, Laplace τ = {tau}, ε = {tolerance:e}:\n  pruned {:.1} ms ({:.2} % of the pairs evaluated), certified bound {:.2e}",
        pruned_time * 1e3,
        100.0 * report.evaluated as f64 / report.pairs as f64,
        report.bound
    );
    if run_dense {
        println!(
            "  dense  {:.1} ms: pruned {:.1}× faster, largest difference {difference:.2e}",
            dense_time * 1e3,
            dense_time / pruned_time
        );
    }
}
