//! The Sinkhorn divergence between two large shapes, with certified tile pruning of its softmins
//! (`pruned_sinkhorn_divergence`) and, with `--dense 1`, the dense `sinkhorn_divergence` for
//! comparison: wall time, the solves' iterations and L1 marginal errors, and the fraction of the
//! pairs each solve evaluated.
//!
//! The shapes have an extent of about 1, like GeomLoss's examples. In 3D (`--dim 3`, the
//! default) two interlocked tori (surfaces with a little noise) against the same pair rotated by
//! 30° and stretched by 10 % along one axis; in 2D an annulus with an inner disc against the
//! same, rotated and stretched.
//!
//! ```sh
//! RUSTFLAGS="-C target-cpu=x86-64-v3" cargo run --release --features std \
//!     --example pruned_sinkhorn -- --size 16384 --dim 3 --dense 1 --blur 0.05 --tolerance 1e-6
//! ```
//!
//! `--multiscale h` runs `multiscale_sinkhorn_divergence` (with `--drift 1`,
//! `multiscale_sinkhorn_drift`) instead: the ε-scaling schedule on clusters of side at most `h`
//! (`--multiscale -1`: the default, the blur), then the iterations at the target ε on the points
//! from the extrapolated potentials (with `--dense 1`, against the dense divergence or drift).
//!
//! `--drift 1` compares `pruned_sinkhorn_drift` with `sinkhorn_drift` instead (the solves `(a, b)`
//! and `(a, a)`, then both barycentric projections).
//!
//! With `--features std` both run on the rayon pool (`RAYON_NUM_THREADS`). At the coarse ε of
//! the ε-scaling schedule nearly every pair is within reach and the pruned softmins are as dense
//! as the others; the saving comes from the small ε at the end of the schedule and the
//! iterations at the target.
#![allow(
    clippy::unwrap_used,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::indexing_slicing
)]

use drifting::spatial::BoundingBox;
use drifting::{
    CloudView, MultiscaleSinkhornConfig, MultiscaleSinkhornWorkspace, PruneReport,
    PrunedSinkhornConfig, PrunedSinkhornWorkspace, PrunedWorkspace, SinkhornConfig,
    SinkhornDivergence, SinkhornWorkspace, WeightedCloud, multiscale_sinkhorn_divergence,
    multiscale_sinkhorn_drift, multiscale_sinkhorn_workspace_len, pruned_sinkhorn_divergence,
    pruned_sinkhorn_drift, pruned_sinkhorn_workspace_len, sinkhorn_divergence, sinkhorn_drift,
};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

#[path = "support/cli.rs"]
mod cli;
#[path = "support/shapes.rs"]
mod shapes;
use cli::{argument, timed};
use shapes::{deformed, rings, tori};

/// The dense drift for the same clouds and solves; prints its time and the largest difference
/// from `field`, computed in `time` seconds by the `name` call.
fn compare_dense_drift<const D: usize>(
    a: &WeightedCloud<'_, D>,
    b: &WeightedCloud<'_, D>,
    sinkhorn: &SinkhornConfig,
    field: &[f32],
    time: f64,
    name: &str,
) {
    let (n, m) = (a.len(), b.len());
    let mut dense_buffer = vec![0.0_f32; SinkhornWorkspace::required_len(n, m)];
    let mut dense_workspace = SinkhornWorkspace::new(&mut dense_buffer, n, m).unwrap();
    let mut dense = vec![0.0_f32; n * D];
    let (dense_time, _) = timed(1, || {
        sinkhorn_drift(a, b, sinkhorn, &mut dense_workspace, &mut dense).unwrap()
    });
    let largest = field
        .iter()
        .zip(&dense)
        .fold(0.0_f32, |m, (p, d)| m.max((p - d).abs()));
    println!(
        "dense drift:  {dense_time:.2} s; {name} {:.1}× faster, largest difference {largest:.1e}",
        dense_time / time
    );
}

/// The dense divergence for the same clouds and solves, and its time.
fn dense_divergence<const D: usize>(
    a: &WeightedCloud<'_, D>,
    b: &WeightedCloud<'_, D>,
    sinkhorn: &SinkhornConfig,
) -> (f64, SinkhornDivergence) {
    let mut dense_buffer = vec![0.0_f32; SinkhornWorkspace::required_len(a.len(), b.len())];
    let mut dense_workspace = SinkhornWorkspace::new(&mut dense_buffer, a.len(), b.len()).unwrap();
    let (time, dense) = timed(1, || {
        sinkhorn_divergence(a, b, sinkhorn, &mut dense_workspace).unwrap()
    });
    (time, dense.unwrap())
}

/// Runs the comparison for one dimension.
fn compare<const D: usize>(x: &[[f32; D]], y: &[[f32; D]], run_dense: bool) {
    let n = x.len();
    let blur = argument("--blur", 0.05) as f32;
    let tolerance = argument("--tolerance", 1e-6) as f32;
    let sinkhorn = SinkhornConfig {
        blur,
        ..SinkhornConfig::new()
    };
    let (a, b) = (
        WeightedCloud::uniform(CloudView::from_points(x)),
        WeightedCloud::uniform(CloudView::from_points(y)),
    );
    let (keys, points, boxes, values) = pruned_sinkhorn_workspace_len(n, n).unwrap();
    let empty = BoundingBox {
        min: [0.0; D],
        max: [0.0; D],
        count: 0,
    };
    let (mut keys, mut points) = (vec![0_u64; keys], vec![[0.0_f32; D]; points]);
    let (mut boxes, mut values) = (vec![empty; boxes], vec![0.0_f32; values]);
    let mut buffer = vec![0.0_f32; SinkhornWorkspace::required_len(n, n)];
    let mut workspace = PrunedSinkhornWorkspace {
        sinkhorn: SinkhornWorkspace::new(&mut buffer, n, n).unwrap(),
        spatial: PrunedWorkspace {
            keys: &mut keys,
            points: &mut points,
            boxes: &mut boxes,
        },
        values: &mut values,
    };
    let config = PrunedSinkhornConfig {
        sinkhorn,
        tolerance,
    };
    println!(
        "{D}D, N = M = {n}, blur {blur} (ε = {:.2e}), pruning tolerance {tolerance:e}",
        sinkhorn.epsilon()
    );
    let scale = argument("--multiscale", 0.0) as f32;
    if scale != 0.0 {
        let mut multiscale = MultiscaleSinkhornConfig::new(config);
        if scale > 0.0 {
            multiscale.cluster_scale = scale;
        }
        let (clusters, values) = multiscale_sinkhorn_workspace_len(n, n).unwrap();
        let (mut clusters, mut values) = (vec![[0.0_f32; D]; clusters], vec![0.0_f32; values]);
        let mut multiscale_workspace = MultiscaleSinkhornWorkspace {
            fine: workspace,
            clusters: &mut clusters,
            values: &mut values,
        };
        if argument("--drift", 0.0) != 0.0 {
            let mut field = vec![0.0_f32; n * D];
            let (time, result) = timed(1, || {
                multiscale_sinkhorn_drift(
                    &a,
                    &b,
                    &multiscale,
                    &mut multiscale_workspace,
                    &mut field,
                )
                .unwrap()
            });
            let (solves, report) = result.unwrap();
            let p = &report.fine_pruning;
            println!(
                "multiscale drift (clusters {} and {}): {time:.2} s; fine solves {} and {} iterations, marginal errors {:.2e} {:.2e}, {:.1} % and {:.1} % of the pairs; projections {:.1} % of {:.2e} pairs, certified bound {:.1e}",
                report.clusters[0],
                report.clusters[1],
                solves[0].iterations,
                solves[1].iterations,
                solves[0].marginal_error,
                solves[1].marginal_error,
                100.0 * p[0].evaluated as f64 / p[0].pairs as f64,
                100.0 * p[1].evaluated as f64 / p[1].pairs as f64,
                100.0 * p[2].evaluated as f64 / p[2].pairs as f64,
                p[2].pairs as f64,
                p[2].bound,
            );
            if run_dense {
                compare_dense_drift(&a, &b, &sinkhorn, &field, time, "multiscale");
            }
            return;
        }
        let (time, result) = timed(1, || {
            multiscale_sinkhorn_divergence(&a, &b, &multiscale, &mut multiscale_workspace).unwrap()
        });
        let (divergence, report) = result.unwrap();
        let bound = |r: &[PruneReport; 3]| 2.0 * r[0].bound + r[1].bound + r[2].bound;
        println!(
            "multiscale (clusters of side ≤ {:.3}: {} and {}): {time:.2} s, S_ε = {:.6e} (certified |ΔS| ≤ {:.1e} against the exact fine solves from the same start); coarse S_ε = {:.6e}, extrapolation {:.2e} pairs",
            multiscale.cluster_scale,
            report.clusters[0],
            report.clusters[1],
            divergence.value,
            bound(&report.fine_pruning),
            report.coarse.value,
            report.extrapolation_pairs as f64,
        );
        for (level, solves, prunes) in [
            ("coarse", &report.coarse.reports, &report.coarse_pruning),
            ("fine", &divergence.reports, &report.fine_pruning),
        ] {
            for ((name, r), p) in ["(a, b)", "(a, a)", "(b, b)"]
                .iter()
                .zip(solves)
                .zip(prunes)
            {
                println!(
                    "  {level} {name}: {} scaling steps + {} iterations, marginal error {:.2e}{}, {:.1} % of {:.2e} pairs evaluated",
                    r.scaling_steps,
                    r.iterations,
                    r.marginal_error,
                    if r.converged { "" } else { " (not converged)" },
                    100.0 * p.evaluated as f64 / p.pairs as f64,
                    p.pairs as f64
                );
            }
        }
        if run_dense {
            let (dense_time, dense) = dense_divergence(&a, &b, &sinkhorn);
            println!(
                "dense:  {dense_time:.2} s, S_ε = {:.6e}; multiscale {:.1}× faster, |ΔS| = {:.1e}",
                dense.value,
                dense_time / time,
                (dense.value - divergence.value).abs()
            );
        }
        return;
    }
    if argument("--drift", 0.0) != 0.0 {
        let mut field = vec![0.0_f32; n * D];
        let (time, result) = timed(1, || {
            pruned_sinkhorn_drift(&a, &b, &config, &mut workspace, &mut field).unwrap()
        });
        let (solves, reports) = result.unwrap();
        println!(
            "pruned drift: {time:.2} s, projections {:.1} % of {:.2e} pairs evaluated, certified bound {:.1e}; solves {:.1} % and {:.1} %, marginal errors {:.2e} {:.2e}",
            100.0 * reports[2].evaluated as f64 / reports[2].pairs as f64,
            reports[2].pairs as f64,
            reports[2].bound,
            100.0 * reports[0].evaluated as f64 / reports[0].pairs as f64,
            100.0 * reports[1].evaluated as f64 / reports[1].pairs as f64,
            solves[0].marginal_error,
            solves[1].marginal_error,
        );
        if run_dense {
            compare_dense_drift(&a, &b, &sinkhorn, &field, time, "pruned");
        }
        return;
    }
    let (time, result) = timed(1, || {
        pruned_sinkhorn_divergence(&a, &b, &config, &mut workspace).unwrap()
    });
    let (pruned, reports): (SinkhornDivergence, [PruneReport; 3]) = result.unwrap();
    println!(
        "pruned: {time:.2} s, S_ε = {:.6e} (certified |ΔS| ≤ {:.1e} beside f32 rounding)",
        pruned.value,
        2.0 * reports[0].bound + reports[1].bound + reports[2].bound
    );
    for ((name, report), prune) in ["(a, b)", "(a, a)", "(b, b)"]
        .iter()
        .zip(&pruned.reports)
        .zip(&reports)
    {
        println!(
            "  {name}: {} scaling steps + {} iterations, marginal error {:.2e}{}, {:.1} % of {:.2e} pairs evaluated",
            report.scaling_steps,
            report.iterations,
            report.marginal_error,
            if report.converged {
                ""
            } else {
                " (not converged)"
            },
            100.0 * prune.evaluated as f64 / prune.pairs as f64,
            prune.pairs as f64
        );
    }
    if run_dense {
        let (dense_time, dense) = dense_divergence(&a, &b, &sinkhorn);
        let errors = dense.reports.map(|r| r.marginal_error);
        println!(
            "dense:  {dense_time:.2} s, S_ε = {:.6e} (marginal errors {:.2e} {:.2e} {:.2e}); pruned {:.1}× faster, |ΔS| = {:.1e}",
            dense.value,
            errors[0],
            errors[1],
            errors[2],
            dense_time / time,
            (dense.value - pruned.value).abs()
        );
    }
}

fn main() {
    let n = argument("--size", 16384.0) as usize;
    let dim = argument("--dim", 3.0) as usize;
    let run_dense = argument("--dense", 0.0) != 0.0;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
    match dim {
        2 => {
            let x = rings(&mut rng, n);
            let y: Vec<[f32; 2]> = rings(&mut rng, n).into_iter().map(deformed).collect();
            compare(&x, &y, run_dense);
        }
        3 => {
            let x = tori(&mut rng, n);
            let y: Vec<[f32; 3]> = tori(&mut rng, n).into_iter().map(deformed).collect();
            compare(&x, &y, run_dense);
        }
        other => panic!("--dim {other}: expected 2 or 3"),
    }
}
