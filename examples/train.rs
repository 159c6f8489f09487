//! Train a one-step generator with the drifting loss: the official 2D demo of Deng et al. 2026.
//!
//! ```text
//! cargo run --release --example train                          # checkerboard, 2000 steps
//! cargo run --release --example train -- --help                # every flag, its default and values
//! cargo run --release --example train -- --dataset swiss_roll --steps 2000 --seed 1
//! cargo run --release --example train -- --field sinkhorn --temperature 0.05 --steps 500
//! ```
//!
//! The demo configuration: noise `z ~ N(0, I_32)`, generator
//! `Linear(32,256)–SiLU–Linear(256,256)–SiLU–Linear(256,256)–SiLU–Linear(256,2)`, 2048 generated and
//! 2048 data samples a step, two-axis Laplace drift at `τ = 0.05` with the `+1e6` self-mask, Adam
//! at `1e-3`, 2000 steps. Shows a progress bar on a terminal and plain progress lines otherwise
//! (piped or logged), prints the final sliced Wasserstein distance, MMD² and energy distance next
//! to their floors (the same metrics between two independent data samples), and writes
//! `train.png`: the data, the samples, the loss and the SWD against its floor (dashed), on log
//! axes. `--save FILE` writes the generator as a byte blob that `Mlp::load` (and
//! `include_bytes!` on a microcontroller) reads.
//!
//! Built with `--features std`, every training step and metric runs on all cores (the global
//! rayon pool; `RAYON_NUM_THREADS` sets its size) with results bit-identical to the
//! single-threaded build.

#[path = "support/figure.rs"]
mod figure;

use clap::builder::{PossibleValue, PossibleValuesParser};
use clap::{Arg, ArgAction, ArgMatches, Command, value_parser};
use drifting::metrics::{
    DEFAULT_MMD_BANDWIDTHS, MmdConfig, SlicedWassersteinConfig, sliced_wasserstein_scratch_len,
};
// With `--features std` these run on all cores, with the same results bit for bit.
use drifting::metrics::{energy_distance, mmd, sliced_wasserstein};
use drifting::schedule::AnnealingSchedule;
use drifting::{
    Activation, Adam, CloudView, Dataset, DriftField, KernelFamily, Mlp, SelfMask, SinkhornConfig,
    StepReport, Trainer, TrainerConfig, UpdateRule,
};
use indicatif::{ProgressBar, ProgressStyle};
use plotters::style::RGBColor;
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

type Generator = Mlp<32, 256, 2>;
/// Samples used for the final metrics (the papers use 5000).
const EVAL_SAMPLES: usize = 5000;
/// Seed of the fixed data samples the final metrics use (shared with `score_samples`).
const REFERENCE_SEED: u64 = 0xda7a;
/// The largest batch the generator takes (`2^24`, `Mlp`'s limit).
const MAX_BATCH: u64 = 1 << 24;

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

/// The datasets: flag value, aliases, description.
const DATASETS: [(&str, &[&str], &str); 6] = [
    ("checkerboard", &[], "the official demo's checkerboard"),
    ("swiss_roll", &[], "the official demo's swiss roll"),
    ("two_moons", &["moons"], "two interleaving half circles"),
    ("ring", &[], "8 Gaussians on a circle of radius 1"),
    ("eight_gaussians", &["8gaussians"], "FFJORD's 8 Gaussians"),
    ("mixture", &[], "4 Gaussians at (±1, ±1)"),
];

/// The drift fields: flag value, description.
const FIELDS: [(&str, &str); 6] = [
    (
        "two_axis",
        "Algorithm 2, Laplace, +1e6 self-mask (the official demo)",
    ),
    (
        "two_axis_exclude",
        "Algorithm 2, Laplace, self-pair excluded",
    ),
    ("mean_shift", "mean-shift drift, Laplace kernel"),
    ("mean_shift_gaussian", "mean-shift drift, Gaussian kernel"),
    (
        "multi_temperature",
        "the official multi-temperature drift (R = --temperature)",
    ),
    (
        "sinkhorn",
        "Sinkhorn drift, blur = --temperature (ε-scaling 0.5, ≤ 100 iterations a step)",
    ),
];

/// A positive finite number.
fn positive(text: &str) -> Result<f32, String> {
    match text.parse::<f32>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        Ok(v) => Err(format!("{v} is not a positive finite number")),
        Err(e) => Err(format!("{e}")),
    }
}

fn command() -> Command {
    let datasets = DATASETS.iter().map(|(name, aliases, help)| {
        PossibleValue::new(*name)
            .aliases(aliases.iter().copied())
            .help(*help)
    });
    let fields = FIELDS
        .iter()
        .map(|(name, help)| PossibleValue::new(*name).help(*help));
    Command::new("train")
        .about(
            "Train a one-step generator with the drifting loss (the official 2D demo of \
             Deng et al. 2026) and score it against its data floor.",
        )
        .after_help(
            "Progress: a bar on a terminal, plain lines when the output is piped or logged. \
             Writes the figure (data, samples, loss, SWD against its floor) to --out.",
        )
        .arg(
            Arg::new("dataset")
                .long("dataset")
                .value_name("NAME")
                .help("The target distribution")
                .default_value("checkerboard")
                .value_parser(PossibleValuesParser::new(datasets)),
        )
        .arg(
            Arg::new("steps")
                .long("steps")
                .value_name("N")
                .help("Training steps (0: score the untrained generator)")
                .default_value("2000")
                .value_parser(value_parser!(u64)),
        )
        .arg(
            Arg::new("batch")
                .long("batch")
                .value_name("N")
                .help("Generated and data samples per step, 1 to 16777216")
                .default_value("2048")
                .value_parser(value_parser!(u64).range(1..=MAX_BATCH)),
        )
        .arg(
            Arg::new("seed")
                .long("seed")
                .value_name("N")
                .help("Seed of the initialisation, the noise and the data")
                .default_value("0")
                .value_parser(value_parser!(u64)),
        )
        .arg(
            Arg::new("field")
                .long("field")
                .value_name("FIELD")
                .help("The drift field")
                .default_value("two_axis")
                .value_parser(PossibleValuesParser::new(fields)),
        )
        .arg(
            Arg::new("temperature")
                .long("temperature")
                .value_name("T")
                .help("The field's scale: τ, σ, R or blur (positive)")
                .default_value("0.05")
                .allow_negative_numbers(true)
                .value_parser(positive),
        )
        .arg(
            Arg::new("lr")
                .long("lr")
                .value_name("X")
                .help("Adam's learning rate (positive)")
                .default_value("0.001")
                .allow_negative_numbers(true)
                .value_parser(positive),
        )
        .arg(
            Arg::new("eval-every")
                .long("eval-every")
                .value_name("N")
                .help("Measure the SWD every N steps (0: only after the last step)")
                .default_value("50")
                .value_parser(value_parser!(u64)),
        )
        .arg(
            Arg::new("out")
                .long("out")
                .value_name("FILE.png")
                .help("Where to write the figure")
                .default_value("train.png")
                .value_parser(value_parser!(PathBuf)),
        )
        .arg(
            Arg::new("save")
                .long("save")
                .value_name("FILE")
                .help("Also write the trained generator as a blob (Mlp::load reads it)")
                .value_parser(value_parser!(PathBuf)),
        )
        .arg(
            Arg::new("quiet")
                .long("quiet")
                .help("No progress bar or progress lines")
                .action(ArgAction::SetTrue),
        )
}

/// A flag's value (every flag here has a default or is optional, and is typed by its parser).
fn value<T: Clone + Send + Sync + 'static>(matches: &ArgMatches, name: &str) -> T {
    matches
        .get_one::<T>(name)
        .cloned()
        .unwrap_or_else(|| unreachable!("--{name} has a default"))
}

fn options(matches: &ArgMatches) -> Options {
    let dataset = match value::<String>(matches, "dataset").as_str() {
        "swiss_roll" => Dataset::swiss_roll(),
        "two_moons" | "moons" => Dataset::two_moons(),
        "ring" => Dataset::ring_of_gaussians(),
        "eight_gaussians" | "8gaussians" => Dataset::eight_gaussians(),
        "mixture" => Dataset::four_mode_mixture(),
        _ => Dataset::checkerboard(),
    };
    let field = match value::<String>(matches, "field").as_str() {
        "two_axis_exclude" => DriftField::TwoAxis(KernelFamily::Laplace, SelfMask::Exclude),
        "mean_shift" => DriftField::MeanShift(KernelFamily::Laplace),
        "mean_shift_gaussian" => DriftField::MeanShift(KernelFamily::Gaussian),
        "multi_temperature" => DriftField::MultiTemperature {
            affinity_floor: 1e-6,
            self_mask_distance: 100.0,
        },
        // GeomLoss's ε-scaling, then at most 100 iterations: the crate's converging defaults
        // would cost up to 10 000 iterations a step at this batch size.
        "sinkhorn" => DriftField::Sinkhorn(SinkhornConfig {
            update: UpdateRule::Symmetric,
            scaling: Some(0.5),
            max_iterations: 100,
            ..SinkhornConfig::new()
        }),
        _ => DriftField::OFFICIAL_DEMO,
    };
    Options {
        dataset,
        steps: value(matches, "steps"),
        #[allow(clippy::cast_possible_truncation)]
        batch: value::<u64>(matches, "batch") as usize,
        seed: value(matches, "seed"),
        field,
        temperature: value(matches, "temperature"),
        learning_rate: value(matches, "lr"),
        eval_every: value(matches, "eval-every"),
        out: value(matches, "out"),
        save: matches.get_one::<PathBuf>("save").cloned(),
        quiet: matches.get_flag("quiet"),
    }
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

/// The SWD alone, between two batches of `n` points.
fn swd(x: &[f32], y: &[f32], n: usize, seed: u64) -> Result<f64, drifting::Error> {
    let (xv, yv) = (
        CloudView::<2>::from_coordinate_major(x, n)?,
        CloudView::<2>::from_coordinate_major(y, n)?,
    );
    let mut scratch = vec![0.0; sliced_wasserstein_scratch_len(n)];
    sliced_wasserstein(
        &xv,
        &yv,
        &SlicedWassersteinConfig::default(),
        &mut Xoshiro256PlusPlus::seed_from_u64(seed),
        &mut scratch,
    )
}

/// How progress is shown.
enum Progress {
    /// Nothing (`--quiet`).
    Silent,
    /// An indicatif bar (stdout and stderr are terminals).
    Bar(ProgressBar),
    /// Plain lines on stdout (piped or logged output: indicatif would draw nothing).
    Lines,
}

/// The note on samples out of the field's reach, if any.
fn underflow_note(report: &StepReport) -> String {
    if report.underflow_fraction > 0.0 {
        format!(
            "  {:.0}% of samples out of the kernel's reach",
            100.0 * report.underflow_fraction
        )
    } else {
        String::new()
    }
}

fn main() {
    let matches = command().get_matches();
    let o = options(&matches);
    if let Err(e) = run(&o) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(o: &Options) -> Result<(), Box<dyn std::error::Error>> {
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
    // The SWD floor at the batch size: two independent data batches (the dashed line).
    let mut other = vec![0.0; 2 * n];
    o.dataset.sample(&mut eval_rng, &mut eval_data, n)?;
    o.dataset.sample(&mut eval_rng, &mut other, n)?;
    let batch_floor = swd(&eval_data, &other, n, 1)?;
    let (mut losses, mut swds) = (Vec::new(), Vec::new());
    let progress = if o.quiet || o.steps == 0 {
        Progress::Silent
    } else if std::io::stdout().is_terminal() && std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(o.steps);
        bar.set_style(ProgressStyle::with_template(
            "{bar:40} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}",
        )?);
        Progress::Bar(bar)
    } else {
        Progress::Lines
    };
    let started = Instant::now();
    let mut last_report = None;
    for step in 0..o.steps {
        o.dataset.sample(&mut rng, &mut data, n)?;
        let batch = CloudView::from_coordinate_major(&data, n)?;
        let report = trainer.step(&mut rng, &batch)?;
        losses.push((step as f32, report.loss));
        let last = step + 1 == o.steps;
        let evaluate = last || (o.eval_every > 0 && step % o.eval_every == 0);
        if evaluate {
            o.dataset.sample(&mut eval_rng, &mut eval_data, n)?;
            let swd = swd(trainer.last_samples(), &eval_data, n, step)?;
            swds.push((step as f32, swd as f32));
            let rate = (step + 1) as f64 / started.elapsed().as_secs_f64();
            let message = format!(
                "loss {:.3e}  SWD {swd:.3e} (floor {batch_floor:.3e})  {rate:.1} steps/s{}",
                report.loss,
                underflow_note(&report)
            );
            match &progress {
                Progress::Bar(bar) => bar.set_message(message),
                Progress::Lines => println!("step {:>6}/{}  {message}", step + 1, o.steps),
                Progress::Silent => {}
            }
        }
        if let Progress::Bar(bar) = &progress {
            bar.inc(1);
        }
        last_report = Some(report);
    }
    if let Progress::Bar(bar) = &progress {
        bar.finish();
    }
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
    #[cfg(feature = "std")]
    let threads = rayon::current_num_threads();
    #[cfg(not(feature = "std"))]
    let threads = 1;
    let rate = if seconds > 0.0 {
        o.steps as f64 / seconds
    } else {
        0.0
    };
    println!(
        "dataset {}, {} steps of batch {n} in {seconds:.1} s ({rate:.1} steps/s, {threads} thread{})",
        o.dataset.name(),
        o.steps,
        if threads == 1 { "" } else { "s" }
    );
    match (losses.last(), last_report) {
        (Some(last), Some(report)) => {
            let peak = losses
                .iter()
                .fold(*last, |best, l| if l.1 > best.1 { *l } else { best });
            println!(
                "final loss {:.3e} (peak {:.3e} at step {}){}",
                last.1,
                peak.1,
                peak.0,
                underflow_note(&report)
            );
            if report.underflow_fraction >= 0.5 {
                println!(
                    "  the loss is small because the data are out of the kernel's reach, not \
                     because the generator converged: try a larger --temperature"
                );
            }
        }
        _ => println!("no training step (--steps 0): the untrained generator is scored"),
    }
    println!(
        "{:<22} {:>12} {:>12}",
        "metric (5000 vs 5000)", "generator", "data floor"
    );
    for (name, k) in [
        ("SWD (p = 2, 200 dirs)", 0),
        ("MMD² (unbiased)", 1),
        ("energy distance", 2),
    ] {
        let negative = if k > 0 && (model[k] < 0.0 || floor[k] < 0.0) {
            "  (negative: the unbiased estimator can be negative when the two samples are close)"
        } else {
            ""
        };
        println!(
            "{name:<22} {:>12.4e} {:>12.4e}{negative}",
            model[k], floor[k]
        );
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
    #[allow(clippy::cast_possible_truncation)]
    let curves = [
        figure::Curves {
            title: "stop-gradient loss".into(),
            series: vec![("loss", &losses[..], RGBColor(0, 0, 0))],
            x_title: "step".into(),
            y_title: "loss = mean |V|²".into(),
            ..figure::Curves::default()
        },
        figure::Curves {
            title: format!("sliced Wasserstein, batch {n}"),
            series: vec![("generator vs data", &swds[..], RGBColor(220, 80, 40))],
            x_title: "step".into(),
            y_title: "SWD (p = 2, 200 directions)".into(),
            floors: vec![(
                "data floor".into(),
                batch_floor as f32,
                RGBColor(40, 90, 200),
            )],
        },
    ];
    figure::draw(&o.out, 1.6, &scatters, &curves)?;
    println!("figure written to {}", o.out.display());
    Ok(())
}
