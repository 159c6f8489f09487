//! Train a one-step generator with the drifting loss: the official 2D demo of Deng et al. 2026.
//!
//! ```text
//! cargo run --release --example train                          # checkerboard, 2000 steps
//! cargo run --release --example train -- --dataset swiss_roll --steps 2000 --seed 1
//! cargo run --release --example train -- --field sinkhorn --temperature 0.05 --steps 500
//! ```
//!
//! The demo configuration: noise `z ~ N(0, I_32)`, generator
//! `Linear(32,256)–SiLU–Linear(256,256)–SiLU–Linear(256,256)–SiLU–Linear(256,2)`, 2048 generated and
//! 2048 data samples a step, two-axis Laplace drift at `τ = 0.05` with the `+1e6` self-mask, Adam
//! at `1e-3`, 2000 steps. Shows a progress bar, prints the final sliced Wasserstein distance, MMD²
//! and energy distance next to their floors (the same metrics between two independent data
//! samples), and writes `train.png` (data, samples, loss and SWD curves). `--save FILE` writes the
//! generator as a byte blob that `Mlp::load` (and `include_bytes!` on a microcontroller) reads.
//!
//! Flags: `--dataset checkerboard|swiss_roll|two_moons|ring|eight_gaussians|mixture`,
//! `--steps N`, `--batch N`, `--seed N`, `--field two_axis|mean_shift|multi_temperature|sinkhorn`,
//! `--temperature T`, `--lr X`, `--eval-every N`, `--out FILE.png`, `--save FILE`, `--quiet`.
//!
//! Built with `--features std`, every training step and metric runs on all cores
//! (`drifting::parallel`; `RAYON_NUM_THREADS` sets the pool size) with results bit-identical to
//! the single-threaded build.

#[path = "support/figure.rs"]
mod figure;

use drifting::metrics::{
    DEFAULT_MMD_BANDWIDTHS, MmdConfig, SlicedWassersteinConfig, sliced_wasserstein_scratch_len,
};
// With `--features std` the same calls run on all cores, with the same results bit for bit.
#[cfg(not(feature = "std"))]
use drifting::metrics::{energy_distance, mmd, sliced_wasserstein};
#[cfg(feature = "std")]
use drifting::parallel::{energy_distance, mmd, sliced_wasserstein};
use drifting::schedule::AnnealingSchedule;
use drifting::{
    Activation, Adam, CloudView, Dataset, DriftField, KernelFamily, Mlp, SelfMask, SinkhornConfig,
    Trainer, TrainerConfig,
};
use indicatif::{ProgressBar, ProgressStyle};
use plotters::style::RGBColor;
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use std::path::PathBuf;
use std::time::Instant;

type Generator = Mlp<32, 256, 2>;
/// Samples used for the final metrics (the papers use 5000).
const EVAL_SAMPLES: usize = 5000;
/// Seed of the fixed data samples the final metrics use (shared with `score_samples`).
const REFERENCE_SEED: u64 = 0xda7a;

struct Options {
    dataset: Dataset,
    steps: u64,
    batch: usize,
    seed: u64,
    field: DriftField,
    temperature: f32,
    learning_rate: f32,
    eval_every: u64,
    out: PathBuf,
    save: Option<PathBuf>,
    quiet: bool,
}

fn parse() -> Result<Options, String> {
    let mut o = Options {
        dataset: Dataset::checkerboard(),
        steps: 2000,
        batch: 2048,
        seed: 0,
        field: DriftField::OFFICIAL_DEMO,
        temperature: 0.05,
        learning_rate: 1e-3,
        eval_every: 50,
        out: PathBuf::from("train.png"),
        save: None,
        quiet: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--dataset" => {
                o.dataset = match value()?.as_str() {
                    "checkerboard" => Dataset::checkerboard(),
                    "swiss_roll" => Dataset::swiss_roll(),
                    "two_moons" | "moons" => Dataset::two_moons(),
                    "ring" => Dataset::ring_of_gaussians(),
                    "eight_gaussians" | "8gaussians" => Dataset::eight_gaussians(),
                    "mixture" => Dataset::four_mode_mixture(),
                    other => return Err(format!("unknown dataset {other}")),
                }
            }
            "--steps" => o.steps = value()?.parse().map_err(|e| format!("--steps: {e}"))?,
            "--batch" => o.batch = value()?.parse().map_err(|e| format!("--batch: {e}"))?,
            "--seed" => o.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--temperature" => {
                o.temperature = value()?
                    .parse()
                    .map_err(|e| format!("--temperature: {e}"))?
            }
            "--lr" => o.learning_rate = value()?.parse().map_err(|e| format!("--lr: {e}"))?,
            "--eval-every" => {
                o.eval_every = value()?.parse().map_err(|e| format!("--eval-every: {e}"))?
            }
            "--out" => o.out = PathBuf::from(value()?),
            "--save" => o.save = Some(PathBuf::from(value()?)),
            "--quiet" => o.quiet = true,
            "--field" => {
                o.field = match value()?.as_str() {
                    "two_axis" => DriftField::OFFICIAL_DEMO,
                    "two_axis_exclude" => {
                        DriftField::TwoAxis(KernelFamily::Laplace, SelfMask::Exclude)
                    }
                    "mean_shift" => DriftField::MeanShift(KernelFamily::Laplace),
                    "mean_shift_gaussian" => DriftField::MeanShift(KernelFamily::Gaussian),
                    "multi_temperature" => DriftField::MultiTemperature {
                        affinity_floor: 1e-6,
                        self_mask_distance: 100.0,
                    },
                    "sinkhorn" => DriftField::Sinkhorn(SinkhornConfig::default()),
                    other => return Err(format!("unknown field {other}")),
                }
            }
            "--help" | "-h" => return Err(String::new()),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(o)
}

/// SWD (p = 2, 200 directions), MMD² (unbiased) and energy distance between two 2D clouds.
fn scores(x: &[f32], y: &[f32], n: usize, seed: u64) -> Result<[f64; 3], drifting::Error> {
    let (xv, yv) = (
        CloudView::<2>::from_coordinate_major(x, n)?,
        CloudView::<2>::from_coordinate_major(y, n)?,
    );
    let mut scratch = vec![0.0; sliced_wasserstein_scratch_len(n)];
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let swd = sliced_wasserstein(
        &xv,
        &yv,
        &SlicedWassersteinConfig::default(),
        &mut rng,
        &mut scratch,
    )?;
    let mmd2 = mmd(
        &xv,
        &yv,
        &MmdConfig {
            bandwidths: &DEFAULT_MMD_BANDWIDTHS,
        },
    )?
    .value;
    let energy = energy_distance(&xv, &yv)?.value;
    Ok([swd, mmd2, energy])
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let o = match parse() {
        Ok(o) => o,
        Err(message) => {
            eprintln!("{message}\n\nusage: see the top of examples/train.rs");
            std::process::exit(2);
        }
    };
    let n = o.batch;
    let temperatures = [o.temperature];
    let config = TrainerConfig {
        field: o.field,
        temperatures: &temperatures,
        annealing: None::<AnnealingSchedule>,
        activation: Activation::Silu,
        optimizer: Adam {
            learning_rate: o.learning_rate,
            ..Adam::new()
        },
        batch: n,
    };
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(o.seed);
    let mut parameters = vec![0.0; Generator::PARAMETERS];
    Generator::init_pytorch(&mut parameters, &mut rng)?;
    let (mut gradients, mut m, mut v) = (
        vec![0.0; Generator::PARAMETERS],
        vec![0.0; Generator::PARAMETERS],
        vec![0.0; Generator::PARAMETERS],
    );
    let mut workspace = vec![0.0; Trainer::<32, 256, 2>::workspace_len(&config, n)];
    let mut trainer = Trainer::<32, 256, 2>::new(
        config,
        n,
        &mut parameters,
        &mut gradients,
        &mut m,
        &mut v,
        &mut workspace,
    )?;

    let mut data = vec![0.0; 2 * n];
    let mut eval_data = vec![0.0; 2 * n];
    let mut eval_rng = Xoshiro256PlusPlus::seed_from_u64(o.seed ^ 0x5eed);
    let (mut losses, mut swds) = (Vec::new(), Vec::new());
    let bar = if o.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(o.steps)
    };
    bar.set_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}",
    )?);
    let started = Instant::now();
    for step in 0..o.steps {
        o.dataset.sample(&mut rng, &mut data, n)?;
        let batch = CloudView::from_coordinate_major(&data, n)?;
        #[cfg(feature = "std")]
        let report = drifting::parallel::train_step(&mut trainer, &mut rng, &batch)?;
        #[cfg(not(feature = "std"))]
        let report = trainer.step(&mut rng, &batch)?;
        losses.push((step as f32, report.loss));
        if step % o.eval_every == 0 || step + 1 == o.steps {
            o.dataset.sample(&mut eval_rng, &mut eval_data, n)?;
            let [swd, ..] = scores(trainer.last_samples(), &eval_data, n, step)?;
            swds.push((step as f32, swd as f32));
            let rate = (step + 1) as f64 / started.elapsed().as_secs_f64();
            bar.set_message(format!(
                "loss {:.3e}  SWD {swd:.3e}  {rate:.1} steps/s",
                report.loss
            ));
        }
        bar.inc(1);
    }
    bar.finish();
    let seconds = started.elapsed().as_secs_f64();

    // Final metrics on 5000 fresh samples of each, and their floors (two independent data samples).
    let mut noise = vec![0.0; 32 * EVAL_SAMPLES];
    drifting::sample::fill_standard_normal(&mut rng, &mut noise);
    let mut cache = vec![0.0; Generator::cache_len(EVAL_SAMPLES)];
    let mut generated = vec![0.0; 2 * EVAL_SAMPLES];
    Generator::new(Activation::Silu).forward(
        trainer.parameters(),
        &noise,
        EVAL_SAMPLES,
        &mut cache,
        &mut generated,
    )?;
    // Fixed data samples (the same for every run and for examples/score_samples.rs).
    let (mut first, mut second) = (vec![0.0; 2 * EVAL_SAMPLES], vec![0.0; 2 * EVAL_SAMPLES]);
    o.dataset.sample(
        &mut Xoshiro256PlusPlus::seed_from_u64(REFERENCE_SEED),
        &mut first,
        EVAL_SAMPLES,
    )?;
    o.dataset.sample(
        &mut Xoshiro256PlusPlus::seed_from_u64(REFERENCE_SEED + 1),
        &mut second,
        EVAL_SAMPLES,
    )?;
    let model = scores(&generated, &first, EVAL_SAMPLES, 7)?;
    let floor = scores(&second, &first, EVAL_SAMPLES, 7)?;
    let final_loss = losses.last().map_or(f32::NAN, |l| l.1);
    let peak = losses.iter().fold(
        (0.0_f32, 0.0_f32),
        |best, l| if l.1 > best.1 { *l } else { best },
    );
    #[cfg(feature = "std")]
    let threads = rayon::current_num_threads();
    #[cfg(not(feature = "std"))]
    let threads = 1;
    println!(
        "dataset {}, {} steps of batch {n} in {seconds:.1} s ({:.1} steps/s, {threads} thread{})",
        o.dataset.name(),
        o.steps,
        o.steps as f64 / seconds,
        if threads == 1 { "" } else { "s" }
    );
    println!(
        "final loss {final_loss:.3e} (peak {:.3e} at step {})",
        peak.1, peak.0
    );
    println!(
        "{:<22} {:>12} {:>12}",
        "metric (5000 vs 5000)", "generator", "data floor"
    );
    for (name, k) in [
        ("SWD (p = 2, 200 dirs)", 0),
        ("MMD² (unbiased)", 1),
        ("energy distance", 2),
    ] {
        println!("{name:<22} {:>12.4e} {:>12.4e}", model[k], floor[k]);
    }
    if let Some(path) = &o.save {
        let mut blob = vec![0u8; Generator::blob_len()];
        let written = Generator::new(Activation::Silu).save(trainer.parameters(), &mut blob)?;
        std::fs::write(path, &blob[..written])?;
        println!("generator saved to {} ({written} bytes)", path.display());
    }
    let scatters = [
        figure::Scatter {
            title: format!("data: {}", o.dataset.name()),
            points: &first,
            color: RGBColor(40, 90, 200),
        },
        figure::Scatter {
            title: format!("generated, step {}", o.steps),
            points: &generated,
            color: RGBColor(220, 80, 40),
        },
    ];
    let curves = [
        figure::Curves {
            title: "loss".into(),
            series: vec![("loss", &losses[..], RGBColor(0, 0, 0))],
        },
        figure::Curves {
            title: "sliced Wasserstein".into(),
            series: vec![("SWD", &swds[..], RGBColor(220, 80, 40))],
        },
    ];
    figure::draw(&o.out, 1.6, &scatters, &curves)?;
    println!("figure written to {}", o.out.display());
    Ok(())
}
