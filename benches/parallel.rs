//! Bench `parallel`: every pair kernel, the generator's passes and a training step in rayon pools of 1 and 2 threads, `N = P =
//! Q = 4096`, `D = 2`, median wall time of several runs and the speed-up `t(1 thread) / t(2)`.
//!
//! ```sh
//! RUSTFLAGS="-C target-cpu=x86-64-v3" cargo bench --features std --bench parallel
//! cargo bench --features std --bench parallel -- --size 2048 --samples 5 --threads 1,2,4
//! ```
//!
//! Kernels: the two-axis drift (official demo: Laplace `τ = 0.05`, negatives = queries), the
//! mean-shift drift (Laplace `τ = 0.05`), the multi-temperature drift (official configuration),
//! 100 Sinkhorn iterations at fixed `ε = 0.05` (symmetric updates, no ε-scaling, no early
//! stop), the official demo generator's forward and backward pass over `N` samples, and one
//! whole training step of the official demo with `N` generated and `N` data samples (noise,
//! forward, two-axis drift, loss, backward, Adam). The results are checked bit-identical across thread counts on the way. Each cell gives
//! the median wall time and the cores the process got (CPU time / wall time): on a shared machine
//! a speed-up is only meaningful when that figure is close to the thread count.

use std::hint::black_box;
use std::time::Instant;

use drifting::sample::fill_standard_normal;
use drifting::{
    Activation, CloudView, Kernel, MeanShiftConfig, Mlp, MultiTemperatureConfig, Negatives,
    SinkhornConfig, SinkhornWorkspace, Trainer, TrainerConfig, TwoAxisConfig, UpdateRule,
    WeightedCloud,
};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

fn normal_cloud(seed: u64, n: usize, scale: f32, shift: f32) -> Vec<f32> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut v = vec![0.0; 2 * n];
    fill_standard_normal(&mut rng, &mut v);
    v.iter_mut().for_each(|x| *x = *x * scale + shift);
    v
}

/// CPU time (user + system) of this process so far, in seconds (Linux `/proc/self/stat`, 100 Hz
/// ticks); `None` elsewhere.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Median of `samples` timed runs (after one warm-up run), in seconds, and the last result.
fn median_seconds(samples: usize, mut run: impl FnMut() -> Vec<f32>) -> (f64, Vec<f32>) {
    let mut last = run();
    let mut times: Vec<f64> = (0..samples)
        .map(|_| {
            let start = Instant::now();
            last = black_box(run());
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], last)
}

type Generator = Mlp<32, 256, 2>;

/// One forward and backward pass of the demo generator over `n` samples; returns the gradients.
fn mlp_pass(params: &[f32], noise: &[f32], grad_output: &[f32], n: usize) -> Vec<f32> {
    let mlp = Generator::new(Activation::Silu);
    let mut cache = vec![0.0; Generator::cache_len(n)];
    let mut out = vec![0.0; 2 * n];
    let mut grads = vec![0.0; Generator::PARAMETERS];
    let mut scratch = vec![0.0; Generator::backward_scratch_len(n)];
    mlp.forward(params, noise, n, &mut cache, &mut out).unwrap();
    mlp.backward(
        params,
        &cache,
        grad_output,
        n,
        &mut grads,
        None,
        &mut scratch,
    )
    .unwrap();
    grads
}

/// One step of the official demo (two-axis Laplace `τ = 0.05`, Adam `1e-3`) with `n` generated
/// and `n` data samples, from `params`; returns the updated parameters.
fn train_step(params: &[f32], data: &[f32], n: usize) -> Vec<f32> {
    let config = TrainerConfig {
        batch: n,
        ..TrainerConfig::official_demo()
    };
    let mut p = params.to_vec();
    let (mut g, mut m, mut v) = (
        vec![0.0; Generator::PARAMETERS],
        vec![0.0; Generator::PARAMETERS],
        vec![0.0; Generator::PARAMETERS],
    );
    let mut workspace = vec![0.0; Trainer::<32, 256, 2>::workspace_len(&config, n)];
    let mut trainer =
        Trainer::<32, 256, 2>::new(config, n, &mut p, &mut g, &mut m, &mut v, &mut workspace)
            .unwrap();
    let view = CloudView::<2>::from_coordinate_major(data, n).unwrap();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(6);
    trainer.step(&mut rng, &view).unwrap();
    trainer.parameters().to_vec()
}

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|k| args.get(k + 1).cloned())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = flag(&args, "--size").map_or(4096, |v| v.parse().unwrap());
    let samples: usize = flag(&args, "--samples").map_or(7, |v| v.parse().unwrap());
    let threads: Vec<usize> = flag(&args, "--threads")
        .unwrap_or_else(|| "1,2".into())
        .split(',')
        .map(|v| v.parse().unwrap())
        .collect();
    let only = flag(&args, "--only");

    let x = normal_cloud(1, n, 1.0, 0.0);
    let y = normal_cloud(2, n, 0.5, 1.0);
    let queries = CloudView::<2>::from_coordinate_major(&x, n).unwrap();
    let positives = CloudView::<2>::from_coordinate_major(&y, n).unwrap();
    let two_axis = TwoAxisConfig::official_demo();
    let mean_shift = MeanShiftConfig::new(Kernel::laplace(0.05));
    let multi = MultiTemperatureConfig::official();
    let sinkhorn = SinkhornConfig {
        blur: 0.05_f32.sqrt(),
        update: UpdateRule::Symmetric,
        scaling: None,
        tolerance: 0.0,
        max_iterations: 100,
        ..SinkhornConfig::default()
    };
    let (a, b) = (
        WeightedCloud::uniform(queries),
        WeightedCloud::uniform(positives),
    );

    // The official demo generator, its noise batch and an output gradient of the loss's size.
    let mut params = vec![0.0; Generator::PARAMETERS];
    Generator::init_pytorch(&mut params, &mut Xoshiro256PlusPlus::seed_from_u64(3)).unwrap();
    let noise = {
        let mut v = vec![0.0; 32 * n];
        fill_standard_normal(&mut Xoshiro256PlusPlus::seed_from_u64(4), &mut v);
        v
    };
    let grad_output = normal_cloud(5, n, 1e-4, 0.0);

    // Each kernel: (name, run), returning the output.
    type Run<'a> = Box<dyn Fn() -> Vec<f32> + Sync + 'a>;
    let kernels: Vec<(&str, Run)> = vec![
        (
            "two_axis (laplace 0.05, neg = queries)",
            Box::new(|| {
                let mut scratch = vec![0.0; drifting::two_axis_scratch_len(n, n, n)];
                let mut out = vec![0.0; 2 * n];
                drifting::two_axis_softmax_drift(
                    &queries,
                    &positives,
                    Negatives::Queries,
                    &two_axis,
                    &mut scratch,
                    &mut out,
                )
                .unwrap();
                out
            }),
        ),
        (
            "mean_shift (laplace 0.05, neg = queries)",
            Box::new(|| {
                let mut out = vec![0.0; 2 * n];
                drifting::mean_shift_drift(
                    &queries,
                    &positives,
                    Negatives::Queries,
                    &mean_shift,
                    &mut out,
                )
                .unwrap();
                out
            }),
        ),
        (
            "multi_temperature (official, 3 R)",
            Box::new(|| {
                let mut scratch = vec![0.0; drifting::multi_temperature_scratch_len(n, n, 2)];
                let mut out = vec![0.0; 2 * n];
                drifting::multi_temperature_drift(
                    &queries,
                    &positives,
                    &multi,
                    &mut scratch,
                    &mut out,
                )
                .unwrap();
                out
            }),
        ),
        (
            "sinkhorn (100 it, eps 0.05, symmetric)",
            Box::new(|| {
                let mut buffer = vec![0.0; SinkhornWorkspace::required_len(n, n)];
                let mut ws = SinkhornWorkspace::new(&mut buffer, n, n).unwrap();
                let (value, _) = drifting::entropic_transport(&a, &b, &sinkhorn, &mut ws).unwrap();
                let mut out = ws.f().to_vec();
                out.push(value);
                out
            }),
        ),
        (
            "mlp forward + backward (32-256-256-256-2)",
            Box::new(|| mlp_pass(&params, &noise, &grad_output, n)),
        ),
        (
            "train step (official demo, batch N)",
            Box::new(|| train_step(&params, &y, n)),
        ),
    ];

    println!(
        "parallel kernels, N = P = Q = {n}, D = 2, median of {samples} runs (machine: {} cores)",
        std::thread::available_parallelism().map_or(0, |c| c.get())
    );
    let header: Vec<String> = threads.iter().map(|t| format!("{t} thr (ms)")).collect();
    println!(
        "| kernel | {} | speed-up {}→{} |",
        header.join(" | "),
        threads[0],
        threads[threads.len() - 1]
    );
    println!("|---|{}---:|", "---:|".repeat(threads.len()));
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    for (name, run) in &kernels {
        if only.as_deref().is_some_and(|o| !name.starts_with(o)) {
            continue;
        }
        // The one-thread pool runs the serial path: the reference bits.
        let reference = one.install(run);
        let mut times = Vec::new();
        let mut cores = Vec::new();
        for &t in &threads {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .unwrap();
            let (cpu, wall) = (cpu_seconds(), Instant::now());
            let (time, out) = pool.install(|| median_seconds(samples, run));
            let wall = wall.elapsed().as_secs_f64();
            cores.push(
                cpu.zip(cpu_seconds())
                    .map_or(f64::NAN, |(a, b)| (b - a) / wall),
            );
            assert!(
                out.iter()
                    .zip(&reference)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{name}: {t} threads differ from one thread"
            );
            times.push(time);
        }
        // Wall time and, in brackets, the cores the process actually got (CPU time / wall time):
        // well under the thread count means the machine was busy with something else.
        let cells: Vec<String> = times
            .iter()
            .zip(&cores)
            .map(|(t, c)| format!("{:.1} ({c:.2} cores)", t * 1e3))
            .collect();
        println!(
            "| {name} | {} | {:.2}× |",
            cells.join(" | "),
            times[0] / times[times.len() - 1]
        );
    }
}
