//! Times the crate's drift operators the way `benches/baselines/torch_drift.py` times PyTorch,
//! and prints one JSON object per configuration (same fields), so that
//! `benches/baselines/compare.py` can put both side by side from one run.
//!
//! `cargo bench --bench side_by_side -- [--ops mean_shift,two_axis,multi_temperature]
//!  [--kernels laplace,gaussian] [--sizes 256,1024,4096] [--dims 2,16,64] [--quick]`
//! `cargo bench --bench side_by_side -- --generator` (MLP step and whole training step),
//! `cargo bench --bench side_by_side -- --primitives` (`exp`, `sqrt`, fused multiply-add throughput),
//! `cargo bench --bench side_by_side -- --feature --channels 64,256,768` (the official grouped
//! feature-space loss at the official shape: 64 groups × (64 generated + 16 unconditional + 64
//! positives), 3 temperatures, guidance scales in [1.5, 4], N(0, 1/S) features).
//! Drift options: `--temperature T` (default 0.05), `--cloud-std auto|X` (default 0.5; `auto`:
//! `1/√D`), `--evaluation auto|streaming|expanded|difference` (two-axis), `--layout
//! coordinates|points` (the clouds coordinate-major, the default, or point-major `[N, D]` as
//! PyTorch gets them; the field is coordinate-major either way); `--distances
//! auto|expanded|difference` (the `--feature` rows).
//!
//! Median wall time over repeats (at least 5, or 1 s, at most 50), one thread. Built with
//! `--features std`, the same calls run in a rayon pool of `--threads T` threads (default 1; the
//! same results bit for bit), and the JSON says `"threads": T`.

use std::time::Instant;

use drifting::{
    CloudView, Kernel, MeanShiftConfig, MultiTemperatureConfig, Negatives, SinkhornConfig,
    SinkhornWorkspace, TwoAxisConfig, UpdateRule, WeightedCloud, entropic_transport,
    mean_shift_drift, multi_temperature_drift, multi_temperature_scratch_len, two_axis_scratch_len,
    two_axis_softmax_drift,
};
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

fn normal_cloud(rng: &mut Xoshiro256PlusPlus, n: usize, dim: usize, scale: f32) -> Vec<f32> {
    // Box–Muller on 24-bit uniforms; coordinate-major.
    let mut out = Vec::with_capacity(n * dim);
    while out.len() < n * dim {
        let u1 = ((rng.next_u32() >> 8) as f32 + 0.5) / 16_777_216.0;
        let u2 = (rng.next_u32() >> 8) as f32 / 16_777_216.0;
        let r = (-2.0 * u1.ln()).sqrt();
        let (s, c) = (std::f32::consts::TAU * u2).sin_cos();
        out.push(r * c * scale);
        out.push(r * s * scale);
    }
    out.truncate(n * dim);
    out
}

fn median_seconds(mut run: impl FnMut(), quick: bool) -> (f64, usize) {
    run();
    let budget = if quick { 0.3 } else { 1.0 };
    let (min_reps, max_reps) = if quick { (3, 20) } else { (5, 50) };
    let mut times = Vec::new();
    let started = Instant::now();
    while times.len() < min_reps
        || (started.elapsed().as_secs_f64() < budget && times.len() < max_reps)
    {
        let t = Instant::now();
        run();
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], times.len())
}

/// How the drift benchmarks draw their clouds and kernels.
#[derive(Clone, Copy)]
struct DriftSetting {
    temperature: f32,
    /// How the two-axis drift evaluates its pairs (`--evaluation auto|streaming|expanded|difference`;
    /// `auto` with the dense scratch provided).
    evaluation: drifting::Evaluation,
    /// Standard deviation of the clouds; `None`: `1/√D`.
    cloud_std: Option<f32>,
    /// The clouds given point-major (`--layout points`: `[N, D]` rows, as PyTorch's tensors)
    /// instead of coordinate-major (`--layout coordinates`, the default). The field is
    /// coordinate-major either way.
    point_major: bool,
}

fn time_op<const D: usize>(
    op: &str,
    kernel: &str,
    n: usize,
    setting: DriftSetting,
    quick: bool,
) -> Option<(f64, usize)> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
    let std = setting.cloud_std.unwrap_or(1.0 / (D as f32).sqrt());
    let x = normal_cloud(&mut rng, n, D, std);
    let y = normal_cloud(&mut rng, n, D, std);
    let points = |c: &[f32]| -> Vec<[f32; D]> {
        (0..n)
            .map(|i| std::array::from_fn(|d| c[d * n + i]))
            .collect()
    };
    let (xp, yp) = if setting.point_major {
        (points(&x), points(&y))
    } else {
        (Vec::new(), Vec::new())
    };
    let (queries, positives) = if setting.point_major {
        (CloudView::from_points(&xp), CloudView::from_points(&yp))
    } else {
        (
            CloudView::<D>::from_coordinate_major(&x, n).ok()?,
            CloudView::<D>::from_coordinate_major(&y, n).ok()?,
        )
    };
    let k = match kernel {
        "laplace" => Kernel::laplace(setting.temperature),
        _ => Kernel::gaussian(setting.temperature),
    };
    let mut out = vec![0.0_f32; n * D];
    match op {
        "mean_shift" => {
            let config = MeanShiftConfig::new(k);
            Some(median_seconds(
                || {
                    mean_shift_drift(&queries, &positives, Negatives::Queries, &config, &mut out)
                        .unwrap()
                },
                quick,
            ))
        }
        "two_axis" => {
            let config = TwoAxisConfig {
                evaluation: setting.evaluation,
                ..TwoAxisConfig::new(k)
            };
            let len = match setting.evaluation {
                drifting::Evaluation::Streaming => two_axis_scratch_len(n, n, n),
                _ => drifting::two_axis_dense_scratch_len(n, n, n, D).expect("size"),
            };
            let mut scratch = vec![0.0_f32; len];
            Some(median_seconds(
                || {
                    two_axis_softmax_drift(
                        &queries,
                        &positives,
                        Negatives::Queries,
                        &config,
                        &mut scratch,
                        &mut out,
                    )
                    .unwrap()
                },
                quick,
            ))
        }
        "multi_temperature" if kernel == "laplace" => {
            let config = MultiTemperatureConfig::official();
            let mut scratch = vec![0.0_f32; multi_temperature_scratch_len(n, n, D)];
            Some(median_seconds(
                || {
                    multi_temperature_drift(&queries, &positives, &config, &mut scratch, &mut out)
                        .unwrap();
                },
                quick,
            ))
        }
        "sinkhorn_alternating" | "sinkhorn_symmetric" if kernel == "laplace" => {
            // 100 iterations at fixed ε = blur² = 0.05 (cost ½‖x−y‖²), uniform weights.
            let update = if op == "sinkhorn_alternating" {
                UpdateRule::Alternating
            } else {
                UpdateRule::Symmetric
            };
            let config = SinkhornConfig {
                blur: 0.05_f32.sqrt(),
                update,
                scaling: None,
                tolerance: 0.0,
                max_iterations: 100,
                ..SinkhornConfig::default()
            };
            let mut buffer = vec![0.0_f32; SinkhornWorkspace::required_len(n, n)];
            let (a, b) = (
                WeightedCloud::uniform(queries),
                WeightedCloud::uniform(positives),
            );
            Some(median_seconds(
                || {
                    let mut ws = SinkhornWorkspace::new(&mut buffer, n, n).unwrap();
                    entropic_transport(&a, &b, &config, &mut ws).unwrap();
                },
                quick,
            ))
        }
        _ => None,
    }
}

fn list(args: &[String], flag: &str, default: &str) -> Vec<String> {
    let value = args
        .iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .map_or(default, String::as_str);
    value.split(',').map(str::to_owned).collect()
}

/// Throughput of the primitives the drifts are made of, on data resident in L1: `exp` (the
/// crate's SIMD exp, the bound the drift cannot beat: at least one `exp` per pair) and `sqrt`.
fn primitives(quick: bool) {
    use wide::f32x8;
    let values: Vec<f32x8> = (0..512)
        .map(|k| f32x8::new(std::array::from_fn(|l| -((k * 8 + l) as f32) * 1e-3)))
        .collect();
    let rounds = 4096;
    let per_call = (values.len() * 8 * rounds) as f64;
    let (exp_s, reps) = median_seconds(
        || {
            // Four independent accumulators held in registers.
            let (mut a0, mut a1, mut a2, mut a3) = (
                f32x8::splat(0.0),
                f32x8::splat(0.0),
                f32x8::splat(0.0),
                f32x8::splat(0.0),
            );
            for _ in 0..rounds {
                for v in values.chunks_exact(4) {
                    a0 += drifting::simd_exp(v[0]);
                    a1 += drifting::simd_exp(v[1]);
                    a2 += drifting::simd_exp(v[2]);
                    a3 += drifting::simd_exp(v[3]);
                }
            }
            std::hint::black_box((a0, a1, a2, a3));
        },
        quick,
    );
    println!(
        "{{\"impl\":\"drifting\",\"op\":\"exp\",\"per_second\":{:.4e},\"repeats\":{reps}}}",
        per_call / exp_s
    );
    let (sqrt_s, reps) = median_seconds(
        || {
            let (mut a0, mut a1, mut a2, mut a3) = (
                f32x8::splat(0.0),
                f32x8::splat(0.0),
                f32x8::splat(0.0),
                f32x8::splat(0.0),
            );
            for _ in 0..rounds {
                for v in values.chunks_exact(4) {
                    a0 += (-v[0]).sqrt();
                    a1 += (-v[1]).sqrt();
                    a2 += (-v[2]).sqrt();
                    a3 += (-v[3]).sqrt();
                }
            }
            std::hint::black_box((a0, a1, a2, a3));
        },
        quick,
    );
    println!(
        "{{\"impl\":\"drifting\",\"op\":\"sqrt\",\"per_second\":{:.4e},\"repeats\":{reps}}}",
        per_call / sqrt_s
    );
    // Fused multiply-adds: twelve independent accumulators (the micro-kernel's register block),
    // two flops each.
    let fma_rounds = 1 << 20;
    let (fma_s, reps) = median_seconds(
        || {
            let mut acc = [f32x8::splat(0.0); 12];
            let (a, b) = (
                std::hint::black_box(f32x8::splat(0.999_9)),
                std::hint::black_box(f32x8::splat(1e-7)),
            );
            for _ in 0..fma_rounds {
                for c in &mut acc {
                    *c = c.mul_add(a, b);
                }
            }
            std::hint::black_box(acc);
        },
        quick,
    );
    println!(
        "{{\"impl\":\"drifting\",\"op\":\"fma\",\"flops_per_second\":{:.4e},\"repeats\":{reps}}}",
        (fma_rounds * 12 * 8 * 2) as f64 / fma_s
    );
    // The 16-lane peak, which the dense products' run-time AVX-512 kernel can reach: measured in
    // a build with AVX-512 enabled (`RUSTFLAGS="-C target-cpu=x86-64-v4"`), twenty-four
    // accumulators (the run-time kernel's register block).
    #[cfg(target_feature = "avx512f")]
    {
        use wide::f32x16;
        let (fma16_s, reps) = median_seconds(
            || {
                let mut acc = [f32x16::splat(0.0); 24];
                let (a, b) = (
                    std::hint::black_box(f32x16::splat(0.999_9)),
                    std::hint::black_box(f32x16::splat(1e-7)),
                );
                for _ in 0..fma_rounds / 2 {
                    for c in &mut acc {
                        *c = c.mul_add(a, b);
                    }
                }
                std::hint::black_box(acc);
            },
            quick,
        );
        println!(
            "{{\"impl\":\"drifting\",\"op\":\"fma16\",\"flops_per_second\":{:.4e},\"repeats\":{reps}}}",
            ((fma_rounds / 2) * 24 * 16 * 2) as f64 / fma16_s
        );
    }
}

/// The official grouped loss at the official shape (what `torch_feature.py` times).
fn time_feature(
    channels: usize,
    (distances, normalisers): (drifting::DistanceMethod, drifting::NormaliserMethod),
    quick: bool,
    threads: usize,
) {
    use drifting::{
        GroupShape, GroupedDriftConfig, grouped_drift_loss, grouped_drift_workspace_len_with,
    };
    let shape = GroupShape {
        groups: 64,
        generated: 64,
        unconditional: 16,
        positives: 64,
        channels,
    };
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
    let std = 1.0 / (channels as f32).sqrt();
    let generated = normal_cloud(&mut rng, 64 * 64, channels, std);
    let unconditional = normal_cloud(&mut rng, 64 * 16, channels, std);
    let positives = normal_cloud(&mut rng, 64 * 64, channels, std);
    let alpha: Vec<f32> = (0..64)
        .map(|_| 1.5 + 2.5 * (rng.next_u32() >> 8) as f32 / 16_777_216.0)
        .collect();
    let config = GroupedDriftConfig {
        guidance: Some(&alpha),
        distances,
        normalisers,
        ..GroupedDriftConfig::official()
    };
    let len = grouped_drift_workspace_len_with(&shape, config.temperatures.len(), normalisers);
    let mut workspace = vec![0.0; len.expect("size")];
    let mut field = vec![0.0; shape.generated_len()];
    let mut report = None;
    let (median, reps) = median_seconds(
        || {
            report = Some(
                grouped_drift_loss(
                    &shape,
                    &generated,
                    &unconditional,
                    &positives,
                    &config,
                    &mut workspace,
                    &mut field,
                    None,
                )
                .unwrap(),
            );
        },
        quick,
    );
    let report = report.expect("timed at least once");
    // Nominal flops: 2S per distance, 2S per pair and temperature for the drift sums.
    let pairs = (shape.groups * shape.generated * shape.targets()) as f64;
    let flops = pairs * 2.0 * channels as f64 * (1.0 + config.temperatures.len() as f64);
    println!(
        "{{\"impl\":\"drifting\",\"op\":\"feature_drift_loss\",\"b\":64,\"cg\":64,\"cu\":16,\"cp\":64,\"s\":{channels},\"threads\":{threads},\"median_s\":{median:.6e},\"repeats\":{reps},\"gflops\":{:.1},\"distances\":\"{distances:?}\",\"normalisers\":\"{}\",\"gram_fallbacks\":{}}}",
        flops / median / 1e9,
        if report.gram_normalisers {
            "Gram"
        } else {
            "Products"
        },
        report.gram_fallbacks
    );
}

/// One forward + backward + Adam step of `Mlp<I, H, O>` on a batch (what PyTorch's
/// `mlp_fwd_bwd_adam` in `benches/baselines/torch_mlp.py` times).
fn time_generator<const I: usize, const H: usize, const O: usize>(
    batch: usize,
    quick: bool,
    threads: usize,
) {
    use drifting::{Activation, Adam, AdamState, Mlp};
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
    let p = Mlp::<I, H, O>::PARAMETERS;
    let mut params = vec![0.0; p];
    Mlp::<I, H, O>::init_pytorch(&mut params, &mut rng).unwrap();
    let (mut grads, mut m, mut v) = (vec![0.0; p], vec![0.0; p], vec![0.0; p]);
    let input = normal_cloud(&mut rng, batch, I, 1.0);
    let grad_out = normal_cloud(&mut rng, batch, O, 1e-3);
    let mut cache = vec![0.0; Mlp::<I, H, O>::cache_len(batch)];
    let mut scratch = vec![0.0; Mlp::<I, H, O>::backward_scratch_len(batch)];
    let mut out = vec![0.0; O * batch];
    let mlp = Mlp::<I, H, O>::new(Activation::Silu);
    let adam = Adam::new();
    let mut state = AdamState::new();
    let (median, reps) = median_seconds(
        || {
            mlp.forward(&params, &input, batch, &mut cache, &mut out)
                .unwrap();
            mlp.backward(
                &params,
                &cache,
                &grad_out,
                batch,
                &mut grads,
                None,
                &mut scratch,
            )
            .unwrap();
            adam.step(&mut state, &mut params, &grads, &mut m, &mut v)
                .unwrap();
        },
        quick,
    );
    let flops = (6 * Mlp::<I, H, O>::MULTIPLY_ADDS - 2 * I * H) * batch;
    println!(
        "{{\"impl\":\"drifting\",\"op\":\"mlp_fwd_bwd_adam\",\"shape\":\"{I}-{H}-{O}\",\"n\":{batch},\"threads\":{threads},\"median_s\":{median:.6e},\"repeats\":{reps},\"gflops\":{:.1}}}",
        flops as f64 / median / 1e9
    );
}

/// One whole training step of the official demo (noise, MLP 32-256³-2 forward, two-axis Laplace
/// drift against 2048 data points, loss, backward, Adam), what `torch_train.py --time-steps` times.
fn time_train_step(batch: usize, quick: bool, threads: usize) {
    use drifting::{Dataset, Mlp, Trainer, TrainerConfig};
    type Demo = Mlp<32, 256, 2>;
    let config = TrainerConfig {
        batch,
        ..TrainerConfig::official_demo()
    };
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(4);
    let p = Demo::PARAMETERS;
    let mut params = vec![0.0; p];
    Demo::init_pytorch(&mut params, &mut rng).unwrap();
    let (mut g, mut m, mut v) = (vec![0.0; p], vec![0.0; p], vec![0.0; p]);
    let mut workspace = vec![0.0; Trainer::<32, 256, 2>::workspace_len(&config, batch)];
    let mut trainer = Trainer::<32, 256, 2>::new(
        config,
        batch,
        &mut params,
        &mut g,
        &mut m,
        &mut v,
        &mut workspace,
    )
    .unwrap();
    let mut data = vec![0.0; 2 * batch];
    let (median, reps) = median_seconds(
        || {
            Dataset::checkerboard()
                .sample(&mut rng, &mut data, batch)
                .unwrap();
            let view = CloudView::<2>::from_coordinate_major(&data, batch).unwrap();
            trainer.step(&mut rng, &view).unwrap();
        },
        quick,
    );
    println!(
        "{{\"impl\":\"drifting\",\"op\":\"train_step\",\"shape\":\"32-256-2\",\"n\":{batch},\"threads\":{threads},\"median_s\":{median:.6e},\"repeats\":{reps}}}"
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let threads: usize = list(&args, "--threads", "1")
        .first()
        .and_then(|t| t.parse().ok())
        .unwrap_or(1);
    if threads == 0 || (threads > 1 && !cfg!(feature = "std")) {
        eprintln!("--threads {threads}: more than one thread needs `--features std`");
        std::process::exit(2);
    }
    #[cfg(feature = "std")]
    {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool");
        pool.install(|| run(&args, threads));
    }
    #[cfg(not(feature = "std"))]
    run(&args, threads);
}

fn run(args: &[String], threads: usize) {
    let quick = args.iter().any(|a| a == "--quick");
    if args.iter().any(|a| a == "--primitives") {
        primitives(quick);
        return;
    }
    if args.iter().any(|a| a == "--feature") {
        let distances = match list(args, "--distances", "auto")
            .first()
            .map(String::as_str)
        {
            Some("expanded") => drifting::DistanceMethod::Expanded,
            Some("difference") => drifting::DistanceMethod::Difference,
            _ => drifting::DistanceMethod::Auto,
        };
        let normalisers = match list(args, "--normalisers", "auto")
            .first()
            .map(String::as_str)
        {
            Some("products") => drifting::NormaliserMethod::Products,
            Some("gram") => drifting::NormaliserMethod::Gram,
            _ => drifting::NormaliserMethod::Auto,
        };
        for channels in list(args, "--channels", "64,256,768") {
            time_feature(
                channels.parse().expect("channels"),
                (distances, normalisers),
                quick,
                threads,
            );
        }
        return;
    }
    if args.iter().any(|a| a == "--generator") {
        time_generator::<32, 256, 2>(2048, quick, threads);
        time_generator::<2, 32, 2>(256, quick, threads);
        time_train_step(2048, quick, threads);
        return;
    }
    let ops = list(args, "--ops", "mean_shift,two_axis,multi_temperature");
    let kernels = list(args, "--kernels", "laplace,gaussian");
    let sizes = list(
        args,
        "--sizes",
        if quick { "256,1024" } else { "256,1024,4096" },
    );
    let dims = list(args, "--dims", "2,16,64");
    let setting = DriftSetting {
        temperature: list(args, "--temperature", "0.05")
            .first()
            .and_then(|t| t.parse().ok())
            .expect("temperature"),
        cloud_std: list(args, "--cloud-std", "0.5")
            .first()
            .and_then(|t| t.parse().ok()),
        point_major: list(args, "--layout", "coordinates")
            .first()
            .is_some_and(|l| l == "points"),
        evaluation: match list(args, "--evaluation", "auto")
            .first()
            .map(String::as_str)
        {
            Some("streaming") => drifting::Evaluation::Streaming,
            Some("expanded") => drifting::Evaluation::Dense(drifting::DistanceMethod::Expanded),
            Some("difference") => drifting::Evaluation::Dense(drifting::DistanceMethod::Difference),
            _ => drifting::Evaluation::Auto,
        },
    };
    for op in &ops {
        for kernel in &kernels {
            for size in &sizes {
                let n: usize = size.parse().expect("size");
                for dim in &dims {
                    let timed = match dim.as_str() {
                        "1" => time_op::<1>(op, kernel, n, setting, quick),
                        "2" => time_op::<2>(op, kernel, n, setting, quick),
                        "3" => time_op::<3>(op, kernel, n, setting, quick),
                        "8" => time_op::<8>(op, kernel, n, setting, quick),
                        "16" => time_op::<16>(op, kernel, n, setting, quick),
                        "4" => time_op::<4>(op, kernel, n, setting, quick),
                        "12" => time_op::<12>(op, kernel, n, setting, quick),
                        "24" => time_op::<24>(op, kernel, n, setting, quick),
                        "32" => time_op::<32>(op, kernel, n, setting, quick),
                        "48" => time_op::<48>(op, kernel, n, setting, quick),
                        "64" => time_op::<64>(op, kernel, n, setting, quick),
                        "128" => time_op::<128>(op, kernel, n, setting, quick),
                        "256" => time_op::<256>(op, kernel, n, setting, quick),
                        "512" => time_op::<512>(op, kernel, n, setting, quick),
                        "768" => time_op::<768>(op, kernel, n, setting, quick),
                        other => panic!("unsupported dimension {other}"),
                    };
                    if let Some((median, reps)) = timed {
                        println!(
                            "{{\"impl\":\"drifting\",\"op\":\"{op}\",\"kernel\":\"{kernel}\",\"n\":{n},\"d\":{dim},\"threads\":{threads},\"median_s\":{median:.6e},\"repeats\":{reps},\"evaluation\":\"{:?}\"}}",
                            setting.evaluation
                        );
                    }
                }
            }
        }
    }
}
