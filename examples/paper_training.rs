//! Experiments 3, 4 and 6 of `examples/README.md`: training the official 2D demo generator
//! (`Linear(32,256)–SiLU–…–Linear(256,2)`, Adam 1e-3) with different drift fields, scored like
//! the papers (SWD, `p = 2`, 200 directions, and MMD², 5000 generated vs 5000 data samples).
//!
//! ```text
//! cargo run --release --features std --example paper_training -- stop-gradient   # experiment 3
//! cargo run --release --features std --example paper_training -- sinkhorn        # experiment 4
//! cargo run --release --features std --example paper_training -- kernels         # experiment 6
//! # options: --steps N --batch N --seeds N --out FILE.png
//! ```
//!
//! * `stop-gradient` (first paper, Figs. 3-4): the Laplace mean-shift drift (τ = 0.05, negatives
//!   = the generated batch) on the swiss roll and the checkerboard, seeds 0..3, with the
//!   stop-gradient (the crate's `Trainer`) and without it (the loss `mean‖V‖²` differentiated
//!   through `V` with `mean_shift_vjp`). Tracks the mean drift norm and the SWD every 100 steps;
//!   reports their log-log correlation with the stop-gradient and the final values without.
//! * `sinkhorn` (first paper, Fig. 5): the Laplace two-axis drift (τ = 0.05) against the Sinkhorn
//!   drift `T_ab − T_aa` (blur 0.05, GeomLoss defaults) on the checkerboard.
//! * `kernels` (second paper, Fig. 8): the two-axis drift with the Laplace (τ = 0.05) and the
//!   Gaussian (σ = 0.05) kernel on the ring of Gaussians, swiss roll, checkerboard and two moons.

#[path = "support/figure.rs"]
mod figure;

use drifting::metrics::{
    DEFAULT_MMD_BANDWIDTHS, MmdConfig, SlicedWassersteinConfig, sliced_wasserstein_scratch_len,
};
use drifting::parallel::{
    mean_shift_drift, mlp_backward, mlp_forward, mmd, sliced_wasserstein, train_step,
};
use drifting::sample::fill_standard_normal;
use drifting::{
    Activation, Adam, AdamState, CloudView, Dataset, DriftField, Kernel, KernelFamily,
    MeanShiftConfig, Mlp, Negatives, SelfMask, SinkhornConfig, Trainer, TrainerConfig,
    mean_shift_vjp, mean_shift_vjp_scratch_len,
};
use plotters::style::RGBColor;
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use std::time::Instant;

type Generator = Mlp<32, 256, 2>;
type Failure = Box<dyn std::error::Error>;
/// A labelled `(step, value)` curve.
type Named = (String, Vec<(f32, f32)>);
const EVAL: usize = 5000;

struct Options {
    steps: usize,
    batch: usize,
    seeds: u64,
    out: Option<String>,
}

/// SWD (p = 2, 200 directions) and MMD² of the generator's 5000 samples against 5000 data.
fn evaluate(params: &[f32], dataset: &Dataset, seed: u64) -> Result<(f64, f64), Failure> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0xe7a1);
    let mut noise = vec![0.0; 32 * EVAL];
    fill_standard_normal(&mut rng, &mut noise);
    let mut cache = vec![0.0; Generator::cache_len(EVAL)];
    let mut generated = vec![0.0; 2 * EVAL];
    mlp_forward(
        &Generator::new(Activation::Silu),
        params,
        &noise,
        EVAL,
        &mut cache,
        &mut generated,
    )?;
    let mut data = vec![0.0; 2 * EVAL];
    dataset.sample(&mut rng, &mut data, EVAL)?;
    let (x, y) = (
        CloudView::<2>::from_coordinate_major(&generated, EVAL)?,
        CloudView::<2>::from_coordinate_major(&data, EVAL)?,
    );
    let mut scratch = vec![0.0; sliced_wasserstein_scratch_len(EVAL)];
    let swd = sliced_wasserstein(
        &x,
        &y,
        &SlicedWassersteinConfig::new(),
        &mut rng,
        &mut scratch,
    )?;
    let mmd2 = mmd(
        &x,
        &y,
        &MmdConfig {
            bandwidths: &DEFAULT_MMD_BANDWIDTHS,
        },
    )?
    .value;
    Ok((swd, mmd2))
}

/// A training run's curve: `(step, SWD, mean drift norm)` every 100 steps, and the final scores.
struct Run {
    curve: Vec<(usize, f64, f64)>,
    swd: f64,
    mmd2: f64,
}

fn mean_norm(field: &[f32], n: usize) -> f64 {
    (0..n)
        .map(|i| f64::from(field[i]).hypot(f64::from(field[n + i])))
        .sum::<f64>()
        / n as f64
}

/// The Laplace (τ = 0.05) mean-shift drift of `samples` against `data`, negatives = samples.
fn drift(samples: &[f32], data: &[f32], n: usize, out: &mut [f32]) -> Result<(), Failure> {
    mean_shift_drift(
        &CloudView::<2>::from_coordinate_major(samples, n)?,
        &CloudView::<2>::from_coordinate_major(data, n)?,
        Negatives::Queries,
        &MeanShiftConfig::new(Kernel::laplace(0.05)),
        out,
    )?;
    Ok(())
}

/// Trains with the crate's `Trainer` (stop-gradient) and `field` at `temperature`.
fn train(
    field: DriftField,
    temperature: f32,
    dataset: &Dataset,
    seed: u64,
    o: &Options,
) -> Result<Run, Failure> {
    let n = o.batch;
    let temperatures = [temperature];
    let config = TrainerConfig {
        field,
        temperatures: &temperatures,
        batch: n,
        ..TrainerConfig::official_demo()
    };
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut params = vec![0.0; Generator::PARAMETERS];
    Generator::init_pytorch(&mut params, &mut rng)?;
    let p = Generator::PARAMETERS;
    let (mut g, mut m, mut v) = (vec![0.0; p], vec![0.0; p], vec![0.0; p]);
    let mut workspace = vec![0.0; Trainer::<32, 256, 2>::workspace_len(&config, n)];
    let mut trainer = Trainer::<32, 256, 2>::new(
        config,
        n,
        &mut params,
        &mut g,
        &mut m,
        &mut v,
        &mut workspace,
    )?;
    let mut data = vec![0.0; 2 * n];
    let mut field_out = vec![0.0; 2 * n];
    let mut curve = Vec::new();
    for step in 0..=o.steps {
        dataset.sample(&mut rng, &mut data, n)?;
        if step % 100 == 0 || step == o.steps {
            let (swd, _) = evaluate(trainer.parameters(), dataset, seed)?;
            let samples = trainer.last_samples().to_vec();
            let norm = if step == 0 {
                f64::NAN
            } else {
                drift(&samples, &data, n, &mut field_out)?;
                mean_norm(&field_out, n)
            };
            curve.push((step, swd, norm));
        }
        if step < o.steps {
            train_step(
                &mut trainer,
                &mut rng,
                &CloudView::from_coordinate_major(&data, n)?,
            )?;
        }
    }
    let (swd, mmd2) = evaluate(trainer.parameters(), dataset, seed)?;
    Ok(Run { curve, swd, mmd2 })
}

/// Trains **without** the stop-gradient: the loss `mean‖V(x)‖²` of the Laplace mean-shift drift
/// differentiated through `V` (its vector-Jacobian product), everything else as `train`.
fn train_without_stop_gradient(dataset: &Dataset, seed: u64, o: &Options) -> Result<Run, Failure> {
    let n = o.batch;
    let mlp = Generator::new(Activation::Silu);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut params = vec![0.0; Generator::PARAMETERS];
    Generator::init_pytorch(&mut params, &mut rng)?;
    let p = Generator::PARAMETERS;
    let (mut g, mut m, mut v) = (vec![0.0; p], vec![0.0; p], vec![0.0; p]);
    let (adam, mut state) = (Adam::new(), AdamState::new());
    let mut noise = vec![0.0; 32 * n];
    let mut cache = vec![0.0; Generator::cache_len(n)];
    let mut scratch = vec![0.0; Generator::backward_scratch_len(n)];
    let mut samples = vec![0.0; 2 * n];
    let mut data = vec![0.0; 2 * n];
    let mut field = vec![0.0; 2 * n];
    let mut cotangent = vec![0.0; 2 * n];
    let mut gradient = vec![0.0; 2 * n];
    let mut vjp_scratch = vec![0.0; mean_shift_vjp_scratch_len(n, 2)];
    let config = MeanShiftConfig::new(Kernel::laplace(0.05));
    let mut curve = Vec::new();
    for step in 0..=o.steps {
        dataset.sample(&mut rng, &mut data, n)?;
        fill_standard_normal(&mut rng, &mut noise);
        mlp_forward(&mlp, &params, &noise, n, &mut cache, &mut samples)?;
        drift(&samples, &data, n, &mut field)?;
        if step % 100 == 0 || step == o.steps {
            let (swd, _) = evaluate(&params, dataset, seed)?;
            curve.push((step, swd, mean_norm(&field, n)));
        }
        if step == o.steps {
            break;
        }
        // ∂/∂V of mean‖V‖² is 2V/(N·D); through V to the samples with the VJP.
        for (u, f) in cotangent.iter_mut().zip(&field) {
            *u = 2.0 * f / (2 * n) as f32;
        }
        mean_shift_vjp(
            &CloudView::<2>::from_coordinate_major(&samples, n)?,
            &CloudView::<2>::from_coordinate_major(&data, n)?,
            &config,
            &cotangent,
            &mut vjp_scratch,
            &mut gradient,
        )?;
        mlp_backward(
            &mlp,
            &params,
            &cache,
            &gradient,
            n,
            &mut g,
            None,
            &mut scratch,
        )?;
        adam.step(&mut state, &mut params, &g, &mut m, &mut v)?;
    }
    let (swd, mmd2) = evaluate(&params, dataset, seed)?;
    Ok(Run { curve, swd, mmd2 })
}

/// Pearson correlation of `ln x` and `ln y`.
fn log_correlation(points: &[(f64, f64)]) -> f64 {
    let logs: Vec<(f64, f64)> = points.iter().map(|(x, y)| (x.ln(), y.ln())).collect();
    let n = logs.len() as f64;
    let (mx, my) = (
        logs.iter().map(|p| p.0).sum::<f64>() / n,
        logs.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxy: f64 = logs.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = logs.iter().map(|(x, _)| (x - mx).powi(2)).sum();
    let syy: f64 = logs.iter().map(|(_, y)| (y - my).powi(2)).sum();
    sxy / (sxx * syy).sqrt()
}

fn stop_gradient(o: &Options) -> Result<Vec<Named>, Failure> {
    let mut curves = Vec::new();
    println!(
        "| dataset | seed | stop-gradient | final SWD | final mean ‖V‖ | log-log corr(‖V‖, SWD) |"
    );
    println!("|---|---:|---|---:|---:|---:|");
    for dataset in [Dataset::swiss_roll(), Dataset::checkerboard()] {
        for seed in 0..o.seeds {
            let with = train(
                DriftField::MeanShift(KernelFamily::Laplace),
                0.05,
                &dataset,
                seed,
                o,
            )?;
            let without = train_without_stop_gradient(&dataset, seed, o)?;
            for (label, run) in [("with", &with), ("without", &without)] {
                let points: Vec<(f64, f64)> = run
                    .curve
                    .iter()
                    .filter(|c| c.2.is_finite() && c.2 > 0.0)
                    .map(|c| (c.2, c.1))
                    .collect();
                let last = run.curve.last().map_or(f64::NAN, |c| c.2);
                println!(
                    "| {} | {seed} | {label} | {:.3e} | {:.3e} | {:.3} |",
                    dataset.name(),
                    run.swd,
                    last,
                    log_correlation(&points)
                );
                if seed == 0 {
                    curves.push((
                        format!("{} {label}: SWD", dataset.name()),
                        run.curve.iter().map(|c| (c.0 as f32, c.1 as f32)).collect(),
                    ));
                    curves.push((
                        format!("{} {label}: |V|", dataset.name()),
                        run.curve
                            .iter()
                            .filter(|c| c.2.is_finite())
                            .map(|c| (c.0 as f32, c.2 as f32))
                            .collect(),
                    ));
                }
            }
        }
    }
    Ok(curves)
}

fn compare(
    o: &Options,
    runs: &[(&str, DriftField, f32)],
    datasets: &[Dataset],
) -> Result<Vec<Named>, Failure> {
    let mut curves = Vec::new();
    println!("| dataset | field | seed | final SWD | final MMD² | time (s) |");
    println!("|---|---|---:|---:|---:|---:|");
    for dataset in datasets {
        for (name, field, temperature) in runs {
            for seed in 0..o.seeds {
                let started = Instant::now();
                let run = train(*field, *temperature, dataset, seed, o)?;
                println!(
                    "| {} | {name} | {seed} | {:.3e} | {:.3e} | {:.1} |",
                    dataset.name(),
                    run.swd,
                    run.mmd2,
                    started.elapsed().as_secs_f64()
                );
                if seed == 0 {
                    curves.push((
                        format!("{} {name}", dataset.name()),
                        run.curve.iter().map(|c| (c.0 as f32, c.1 as f32)).collect(),
                    ));
                }
            }
        }
    }
    Ok(curves)
}

fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|k| args.get(k + 1))
            .cloned()
    };
    let experiment = args.get(1).cloned().unwrap_or_default();
    let o = Options {
        steps: value("--steps").map_or(Ok(2000), |v| v.parse())?,
        batch: value("--batch").map_or(Ok(2048), |v| v.parse())?,
        seeds: value("--seeds").map_or(Ok(1), |v| v.parse())?,
        out: value("--out"),
    };
    let started = Instant::now();
    println!(
        "{experiment}: {} steps, batch {} (generated = data), {} seed(s), {} threads",
        o.steps,
        o.batch,
        o.seeds,
        rayon::current_num_threads()
    );
    let laplace = DriftField::TwoAxis(KernelFamily::Laplace, SelfMask::OFFICIAL_DEMO);
    let curves = match experiment.as_str() {
        "stop-gradient" => stop_gradient(&o)?,
        "sinkhorn" => compare(
            &o,
            &[
                ("two-axis Laplace τ = 0.05", laplace, 0.05),
                (
                    "Sinkhorn drift blur 0.05",
                    DriftField::Sinkhorn(SinkhornConfig::default()),
                    0.05,
                ),
            ],
            &[Dataset::checkerboard()],
        )?,
        "kernels" => compare(
            &o,
            &[
                ("Laplace τ = 0.05", laplace, 0.05),
                (
                    "Gaussian σ = 0.05",
                    DriftField::TwoAxis(KernelFamily::Gaussian, SelfMask::OFFICIAL_DEMO),
                    0.05,
                ),
            ],
            &[
                Dataset::ring_of_gaussians(),
                Dataset::swiss_roll(),
                Dataset::checkerboard(),
                Dataset::two_moons(),
            ],
        )?,
        other => {
            eprintln!("unknown experiment {other:?}: stop-gradient | sinkhorn | kernels");
            std::process::exit(2);
        }
    };
    println!("{:.1} s", started.elapsed().as_secs_f64());
    let out = o
        .out
        .unwrap_or_else(|| format!("paper_training_{experiment}.png"));
    let palette = [
        RGBColor(31, 119, 180),
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
        RGBColor(148, 103, 189),
        RGBColor(255, 127, 14),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
    ];
    let panel = figure::Curves {
        title: "SWD (and |V|) vs step".into(),
        series: curves
            .iter()
            .zip(palette.iter().cycle())
            .map(|((n, c), color)| (n.as_str(), &c[..], *color))
            .collect(),
    };
    figure::draw(std::path::Path::new(&out), 1.0, &[], &[panel])?;
    println!("figure written to {out}");
    Ok(())
}
