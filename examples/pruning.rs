//! Dense against pruned mean-shift drift on a uniform 2D cloud (issue 17): wall time (median of
//! `--repeats` runs each), the fraction of pairs the pruned sweep evaluated, its certified bound and
//! the largest measured difference. With `--features std` both run on the rayon pool
//! (`RAYON_NUM_THREADS`); `--dense 0` skips the dense drift (its time and the difference).
//!
//! ```sh
//! RUSTFLAGS="-C target-cpu=x86-64-v3" cargo run --release --example pruning -- --size 65536
//! ```
#![allow(clippy::unwrap_used, clippy::cast_precision_loss)]

use drifting::spatial::BoundingBox;
use drifting::{
    CloudView, Kernel, MeanShiftConfig, Negatives, PrunedMeanShiftConfig, PrunedWorkspace,
    mean_shift_drift, pruned_mean_shift_drift, pruned_mean_shift_workspace_len,
};
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::time::Instant;

fn argument(name: &str, default: f64) -> f64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|k| args.get(k + 1))
        .map_or(default, |v| v.parse().unwrap())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn main() {
    let n = argument("--size", 65536.0) as usize;
    let tau = argument("--temperature", 0.05) as f32;
    let tolerance = argument("--tolerance", 1e-6) as f32;
    let repeats = argument("--repeats", 3.0) as usize;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let mut cloud = || -> Vec<[f32; 2]> {
        (0..n)
            .map(|_| {
                let mut u = || (rng.next_u32() >> 8) as f32 / (1_u32 << 24) as f32 * 8.0 - 4.0;
                [u(), u()]
            })
            .collect()
    };
    let (queries, positives) = (cloud(), cloud());
    let mean_shift = MeanShiftConfig::new(Kernel::laplace(tau));
    let (qv, pv) = (
        CloudView::from_points(&queries),
        CloudView::from_points(&positives),
    );
    let mut dense = vec![0.0_f32; 2 * n];
    let mut dense_times = Vec::new();
    let run_dense = argument("--dense", 1.0) != 0.0;
    for _ in 0..if run_dense { repeats } else { 0 } {
        let start = Instant::now();
        mean_shift_drift(&qv, &pv, Negatives::Queries, &mean_shift, &mut dense).unwrap();
        dense_times.push(start.elapsed().as_secs_f64());
    }
    let (keys, points, boxes) = pruned_mean_shift_workspace_len(n, n, 0).unwrap();
    let mut keys = vec![0_u64; keys];
    let mut points = vec![[0.0_f32; 2]; points];
    let empty = BoundingBox {
        min: [0.0; 2],
        max: [0.0; 2],
        count: 0,
    };
    let mut boxes = vec![empty; boxes];
    let config = PrunedMeanShiftConfig {
        mean_shift,
        tolerance,
    };
    let mut pruned = vec![0.0_f32; 2 * n];
    let mut pruned_times = Vec::new();
    let mut report = None;
    for _ in 0..repeats {
        let start = Instant::now();
        report = Some(
            pruned_mean_shift_drift(
                &qv,
                &pv,
                Negatives::Queries,
                &config,
                PrunedWorkspace {
                    keys: &mut keys,
                    points: &mut points,
                    boxes: &mut boxes,
                },
                &mut pruned,
            )
            .unwrap(),
        );
        pruned_times.push(start.elapsed().as_secs_f64());
    }
    let report = report.unwrap();
    let difference = (0..n)
        .map(|i| {
            (f64::from(pruned[i] - dense[i]).powi(2)
                + f64::from(pruned[n + i] - dense[n + i]).powi(2))
            .sqrt()
        })
        .fold(0.0_f64, f64::max);
    let p = median(pruned_times);
    println!(
        "N = P = {n}, 2D uniform on [-4, 4]², Laplace τ = {tau}, ε = {tolerance:e}:\n  pruned {:.1} ms ({:.2} % of the pairs evaluated), certified bound {:.2e}",
        p * 1e3,
        100.0 * report.evaluated as f64 / report.pairs as f64,
        report.bound
    );
    if run_dense {
        let d = median(dense_times);
        println!(
            "  dense  {:.1} ms: pruned {:.1}× faster, largest difference {difference:.2e}",
            d * 1e3,
            d / p
        );
    }
}
