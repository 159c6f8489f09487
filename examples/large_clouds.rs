//! Large clouds from heap buffers in `O(N)` memory: a two-axis drift with `N = P = Q = 65 536`
//! and a Sinkhorn solve with `N = M = 65 536`, in 2D, on every core (feature `std`).
//!
//! ```sh
//! cargo run --release --features std --example large_clouds               # N = 65 536
//! cargo run --release --features std --example large_clouds -- --size 16384 --threads 2
//! cargo run --release --features std --example large_clouds -- --max-iterations 100
//! ```
//!
//! The Sinkhorn solve runs GeomLoss's defaults (blur 0.05, ε-scaling 0.5) but stops after
//! `--max-iterations` (default 10) iterations at the target ε; the marginal error it prints says
//! how far from converged that is.
//!
//! Prints the wall time of each operator, the peak resident memory of the process (`VmHWM` in
//! `/proc/self/status`, Linux) and what a dense formulation (PyTorch's `cdist` + `softmax`) would
//! have to hold: one `N × (P+Q)` `f32` matrix alone is `4·N·(P+Q)` bytes, 34 GB at 65 536.

use std::time::Instant;

use drifting::sample::fill_standard_normal;
use drifting::{
    CloudView, Negatives, SinkhornConfig, SinkhornWorkspace, TwoAxisConfig, UpdateRule,
    WeightedCloud, two_axis_scratch_len,
};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// `n` points in 2D, coordinate-major, standard normal times `scale` plus `shift`.
fn normal_cloud(seed: u64, n: usize, scale: f32, shift: f32) -> Vec<f32> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut v = vec![0.0; 2 * n];
    fill_standard_normal(&mut rng, &mut v);
    v.iter_mut().for_each(|x| *x = *x * scale + shift);
    v
}

/// Peak resident set size (`VmHWM`) in MiB, if the kernel reports it.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|k| args.get(k + 1).cloned())
}

fn gigabytes(bytes: f64) -> String {
    format!("{:.1} GB", bytes / 1e9)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = flag(&args, "--size").map_or(Ok(65_536), |v| v.parse())?;
    // GeomLoss's ε-scaling schedule, then at most this many iterations at the target ε (each one
    // is 2·N·M pairs: 8.6 G at 65 536, a few seconds on two cores).
    let max_iterations: usize = flag(&args, "--max-iterations").map_or(Ok(10), |v| v.parse())?;
    let threads: usize = flag(&args, "--threads").map_or(Ok(0), |v| v.parse())?;
    // 0 threads: rayon's default (one per core, or RAYON_NUM_THREADS).
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    println!(
        "N = P = Q = M = {n}, D = 2, {} threads; peak RSS before allocating: {:.1} MiB",
        pool.current_num_threads(),
        peak_rss_mib().unwrap_or(f64::NAN)
    );

    // The clouds: queries (generated samples), positives (data). Negatives are the queries.
    let x = normal_cloud(1, n, 1.0, 0.0);
    let y = normal_cloud(2, n, 0.5, 1.0);
    let queries = CloudView::<2>::from_coordinate_major(&x, n)?;
    let positives = CloudView::<2>::from_coordinate_major(&y, n)?;

    // Two-axis drift (the official demo's kernel, Laplace τ = 0.05): scratch N + P + Q.
    let mut scratch = vec![0.0_f32; two_axis_scratch_len(n, n, n)];
    let mut drift = vec![0.0_f32; 2 * n];
    let start = Instant::now();
    pool.install(|| {
        drifting::two_axis_softmax_drift(
            &queries,
            &positives,
            Negatives::Queries,
            &TwoAxisConfig::official_demo(),
            &mut scratch,
            &mut drift,
        )
    })?;
    let two_axis_seconds = start.elapsed().as_secs_f64();
    let rms =
        (drift.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / drift.len() as f64).sqrt();
    println!(
        "two-axis drift:  {two_axis_seconds:8.2} s   RMS |V| = {rms:.4}   peak RSS {:.1} MiB",
        peak_rss_mib().unwrap_or(f64::NAN)
    );

    // Sinkhorn: GeomLoss's defaults (blur 0.05, ε-scaling 0.5), capped; workspace 5N + 5M.
    let (a, b) = (
        WeightedCloud::uniform(queries),
        WeightedCloud::uniform(positives),
    );
    let config = SinkhornConfig {
        update: UpdateRule::Symmetric,
        scaling: Some(0.5),
        max_iterations,
        ..SinkhornConfig::default()
    };
    let mut buffer = vec![0.0_f32; SinkhornWorkspace::required_len(n, n)];
    let mut workspace = SinkhornWorkspace::new(&mut buffer, n, n)?;
    let start = Instant::now();
    let (cost, report) =
        pool.install(|| drifting::entropic_transport(&a, &b, &config, &mut workspace))?;
    let sinkhorn_seconds = start.elapsed().as_secs_f64();
    println!(
        "sinkhorn solve:  {sinkhorn_seconds:8.2} s   OT_ε = {cost:.5}, {} scaling steps + {} \
         iterations, marginal error {:.2e}   peak RSS {:.1} MiB",
        report.scaling_steps,
        report.iterations,
        report.marginal_error,
        peak_rss_mib().unwrap_or(f64::NAN)
    );

    // What the dense formulations would hold (f32, 4 bytes a value).
    let nf = n as f64;
    let two_axis_matrix = 4.0 * nf * (2.0 * nf);
    let sinkhorn_matrix = 4.0 * nf * nf;
    println!(
        "dense two-axis (PyTorch): one N×(P+Q) matrix = 4·{n}·{} B = {}; the demo's distance, \
         logits, two softmaxes and affinity = 5 of them = {}",
        2 * n,
        gigabytes(two_axis_matrix),
        gigabytes(5.0 * two_axis_matrix)
    );
    println!(
        "dense Sinkhorn (POT/GeomLoss tensorised): cost matrix N×M = {}, plus one temporary per \
         log-sum-exp = {}",
        gigabytes(sinkhorn_matrix),
        gigabytes(2.0 * sinkhorn_matrix)
    );
    println!(
        "here: clouds {:.1} MiB + two-axis scratch/output {:.1} MiB + Sinkhorn workspace {:.1} MiB",
        (x.len() + y.len()) as f64 * 4.0 / 1_048_576.0,
        (scratch.len() + drift.len()) as f64 * 4.0 / 1_048_576.0,
        SinkhornWorkspace::required_len(n, n) as f64 * 4.0 / 1_048_576.0,
    );
    Ok(())
}
