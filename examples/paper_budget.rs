//! Paper-budget training runs, resumable: experiments 4 and 6 (`examples/README.md`) at the
//! papers' budget, batch 2048 and 50 000 steps, one run per invocation.
//!
//! ```sh
//! cargo run --release --features std --example paper_budget -- \
//!     --field laplace --dataset checkerboard --seed 0 --dir runs/laplace-checkerboard-0
//! # options: --steps N (50000) --batch N (2048) --eval-every N (2500) --checkpoint-every N
//! #          (500) --minutes M (stop cleanly after M minutes of wall time; default: no limit)
//! # fields: laplace (two-axis, τ = 0.05, experiments 4 and 6), gaussian (two-axis, σ = 0.05,
//! #         experiment 6), sinkhorn (experiment 4's Sinkhorn drift, blur 0.05); on the ring of
//! #         Gaussians every field's scale is 0.30 (the second paper's)
//! # datasets: checkerboard, swiss_roll, two_moons, ring_of_gaussians
//! ```
//!
//! The run directory holds `checkpoint.bin` (the generator's parameters, both Adam moments and
//! the optimiser's state, checksummed, replaced atomically every `--checkpoint-every` steps and
//! at the end) and `log.csv` (`step,swd,mmd2,seconds`: SWD and MMD² on 5000 generated against
//! 5000 data samples, the papers' protocol, and the wall time spent on the run so far). Running
//! the same command again continues from the checkpoint, and the continued run is the
//! uninterrupted one bit for bit: every step draws its data and noise from its own stream
//! (`seed`, `step`), so the state to save is the trainer's alone (`Trainer::resume`,
//! `tests/training.rs::resumed_run_is_the_uninterrupted_run`). A finished run only prints its
//! last line.

#[path = "support/training.rs"]
mod training;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use drifting::{
    AdamState, CloudView, Dataset, DriftField, KernelFamily, SelfMask, Trainer, TrainerConfig,
};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use training::{EXPERIMENT_4_SINKHORN, Generator, evaluate};

type Failure = Box<dyn std::error::Error>;

const MAGIC: &[u8; 8] = b"DRFTCKPT";
const VERSION: u32 = 1;

/// What a run is: its field, data, seed and budget (the checkpoint records the fingerprint).
struct Run {
    field_name: String,
    field: DriftField,
    scale: f32,
    dataset: Dataset,
    seed: u64,
    steps: u64,
    batch: usize,
    eval_every: u64,
    checkpoint_every: u64,
    minutes: Option<f64>,
    dir: PathBuf,
}

impl Run {
    /// A fingerprint of everything that changes the trajectory, stored in the checkpoint so a
    /// directory is never continued with other settings.
    fn fingerprint(&self) -> u64 {
        let text = format!(
            "{}|{}|{}|{}|{}",
            self.field_name,
            self.scale,
            self.dataset.name(),
            self.seed,
            self.batch
        );
        fnv1a(text.as_bytes())
    }
}

/// FNV-1a, 64 bits.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The random stream of step `step` of run `seed` (data then noise); the initialisation has its
/// own stream.
fn step_rng(seed: u64, step: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64((seed << 32) ^ step ^ 0x5eed_0000_0000_0000)
}

/// The saved state of a run.
struct Checkpoint {
    state: AdamState,
    parameters: Vec<f32>,
    first_moment: Vec<f32>,
    second_moment: Vec<f32>,
    seconds: f64,
}

fn write_checkpoint(path: &Path, fingerprint: u64, c: &Checkpoint) -> std::io::Result<()> {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&VERSION.to_le_bytes());
    bytes.extend_from_slice(&fingerprint.to_le_bytes());
    bytes.extend_from_slice(&c.state.step_count().to_le_bytes());
    bytes.extend_from_slice(&c.state.beta1_power().to_le_bytes());
    bytes.extend_from_slice(&c.state.beta2_power().to_le_bytes());
    bytes.extend_from_slice(&c.seconds.to_le_bytes());
    bytes.extend_from_slice(&(c.parameters.len() as u64).to_le_bytes());
    for buffer in [&c.parameters, &c.first_moment, &c.second_moment] {
        for v in buffer.iter() {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    let checksum = fnv1a(&bytes);
    bytes.extend_from_slice(&checksum.to_le_bytes());
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, &bytes)?;
    std::fs::rename(&temporary, path)
}

fn read_checkpoint(path: &Path, fingerprint: u64) -> Result<Option<Checkpoint>, Failure> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let bad = |what: &str| -> Failure { format!("{}: {what}", path.display()).into() };
    let (body, tail) = bytes
        .split_last_chunk::<8>()
        .map(|(b, t)| (b, *t))
        .ok_or_else(|| bad("truncated"))?;
    if fnv1a(body) != u64::from_le_bytes(tail) {
        return Err(bad("checksum mismatch"));
    }
    let mut at = 0;
    let mut take = |n: usize| -> Result<&[u8], Failure> {
        let piece = body.get(at..at + n).ok_or_else(|| bad("truncated"))?;
        at += n;
        Ok(piece)
    };
    if take(8)? != MAGIC || take(4)? != VERSION.to_le_bytes() {
        return Err(bad("not a checkpoint of this version"));
    }
    let u64_at = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
    let f64_at = |b: &[u8]| f64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
    if u64_at(take(8)?) != fingerprint {
        return Err(bad(
            "written by a run with other settings (field, scale, dataset, seed or batch)",
        ));
    }
    let step = u64_at(take(8)?);
    let (b1, b2) = (f64_at(take(8)?), f64_at(take(8)?));
    let seconds = f64_at(take(8)?);
    let len = usize::try_from(u64_at(take(8)?))?;
    if len != Generator::PARAMETERS {
        return Err(bad("another generator shape"));
    }
    let mut buffer = || -> Result<Vec<f32>, Failure> {
        Ok(take(4 * len)?
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    };
    let (parameters, first_moment, second_moment) = (buffer()?, buffer()?, buffer()?);
    Ok(Some(Checkpoint {
        state: AdamState::from_parts(step, b1, b2)?,
        parameters,
        first_moment,
        second_moment,
        seconds,
    }))
}

fn run(r: &Run) -> Result<(), Failure> {
    std::fs::create_dir_all(&r.dir)?;
    let checkpoint_path = r.dir.join("checkpoint.bin");
    let log_path = r.dir.join("log.csv");
    let fingerprint = r.fingerprint();
    let temperatures = [r.scale];
    let config = TrainerConfig {
        field: r.field,
        temperatures: &temperatures,
        batch: r.batch,
        ..TrainerConfig::official_demo()
    };
    let p = Generator::PARAMETERS;
    let (mut parameters, mut m, mut v, state, mut seconds) =
        match read_checkpoint(&checkpoint_path, fingerprint)? {
            Some(c) => (
                c.parameters,
                c.first_moment,
                c.second_moment,
                c.state,
                c.seconds,
            ),
            None => {
                let mut parameters = vec![0.0; p];
                let mut init = Xoshiro256PlusPlus::seed_from_u64(u64::MAX - r.seed);
                Generator::init_pytorch(&mut parameters, &mut init)?;
                std::fs::write(&log_path, "step,swd,mmd2,seconds\n")?;
                (
                    parameters,
                    vec![0.0; p],
                    vec![0.0; p],
                    AdamState::new(),
                    0.0,
                )
            }
        };
    let mut g = vec![0.0; p];
    let n = r.batch;
    let mut workspace = vec![0.0; Trainer::<32, 256, 2>::workspace_len(&config, n)];
    let mut trainer = Trainer::<32, 256, 2>::resume(
        config,
        n,
        &mut parameters,
        &mut g,
        &mut m,
        &mut v,
        &mut workspace,
        state,
    )?;
    if trainer.steps() >= r.steps {
        let log = std::fs::read_to_string(&log_path)?;
        println!(
            "{}: finished at step {}; last evaluation {}",
            r.dir.display(),
            trainer.steps(),
            log.lines().last().unwrap_or("(none)")
        );
        return Ok(());
    }
    let started = Instant::now();
    let start_seconds = seconds;
    let mut data = vec![0.0; 2 * n];
    let mut log = std::fs::OpenOptions::new().append(true).open(&log_path)?;
    let mut last = None;
    println!(
        "{}: {} on {}, seed {}, batch {}, from step {} of {} ({} threads)",
        r.dir.display(),
        r.field_name,
        r.dataset.name(),
        r.seed,
        n,
        trainer.steps(),
        r.steps,
        rayon::current_num_threads()
    );
    loop {
        let step = trainer.steps();
        seconds = start_seconds + started.elapsed().as_secs_f64();
        if step % r.eval_every == 0 || step == r.steps {
            let (swd, mmd2) = evaluate(trainer.parameters(), &r.dataset, r.seed, 5000)?;
            writeln!(log, "{step},{swd:.6e},{mmd2:.6e},{seconds:.1}")?;
            println!("step {step:>6}: SWD {swd:.4e}, MMD² {mmd2:.4e}, {seconds:.0} s");
            last = Some((swd, mmd2));
        }
        let out_of_time = r
            .minutes
            .is_some_and(|m| started.elapsed().as_secs_f64() >= 60.0 * m);
        if step >= r.steps || out_of_time || (step > 0 && step % r.checkpoint_every == 0) {
            let checkpoint = Checkpoint {
                state: trainer.optimizer_state(),
                parameters: trainer.parameters().to_vec(),
                first_moment: Vec::new(),
                second_moment: Vec::new(),
                seconds,
            };
            // The moments live in the trainer's borrowed buffers: its last use above ends the
            // borrow, so they can be read here; the trainer is rebuilt below to continue.
            write_checkpoint(
                &checkpoint_path,
                fingerprint,
                &Checkpoint {
                    first_moment: m.clone(),
                    second_moment: v.clone(),
                    ..checkpoint
                },
            )?;
            if step >= r.steps || out_of_time {
                if let Some((swd, mmd2)) = last.filter(|_| step >= r.steps) {
                    println!("done: step {step}, SWD {swd:.4e}, MMD² {mmd2:.4e}, {seconds:.0} s");
                } else {
                    println!("stopped at step {step} ({seconds:.0} s); run again to continue");
                }
                return Ok(());
            }
            trainer = Trainer::<32, 256, 2>::resume(
                config,
                n,
                &mut parameters,
                &mut g,
                &mut m,
                &mut v,
                &mut workspace,
                checkpoint.state,
            )?;
        }
        let mut rng = step_rng(r.seed, step);
        r.dataset.sample(&mut rng, &mut data, n)?;
        trainer.step(&mut rng, &CloudView::from_coordinate_major(&data, n)?)?;
    }
}

/// The flags `main` reads, each followed by a value.
const FLAGS: [&str; 9] = [
    "--field",
    "--dataset",
    "--seed",
    "--dir",
    "--minutes",
    "--steps",
    "--batch",
    "--eval-every",
    "--checkpoint-every",
];

const USAGE: &str = "usage: paper_budget [--field laplace|gaussian|sinkhorn] \
[--dataset checkerboard|swiss_roll|two_moons|ring_of_gaussians] [--seed S] [--dir DIR] \
[--minutes M] [--steps 50000] [--batch 2048] [--eval-every 2500] [--checkpoint-every 500]
Runs (or continues, from DIR/checkpoint.bin) one paper-budget training run; DIR defaults to
runs/FIELD-DATASET-SEED. Every flag takes a value.";

fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return Ok(());
    }
    // Flags and values alternate; anything else is refused before a run directory is touched.
    for pair in args.get(1..).unwrap_or_default().chunks(2) {
        match pair {
            [flag, _] if FLAGS.contains(&flag.as_str()) => {}
            [flag] if FLAGS.contains(&flag.as_str()) => {
                return Err(format!("{flag} needs a value\n{USAGE}").into());
            }
            [flag, ..] => return Err(format!("unexpected argument {flag}\n{USAGE}").into()),
            [] => {}
        }
    }
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|k| args.get(k + 1))
            .cloned()
    };
    let number = |flag: &str, default: u64| -> Result<u64, Failure> {
        value(flag).map_or(Ok(default), |v| {
            v.parse()
                .map_err(|_| format!("{flag} {v}: not a count").into())
        })
    };
    let dataset = match value("--dataset").as_deref().unwrap_or("checkerboard") {
        "checkerboard" => Dataset::checkerboard(),
        "swiss_roll" => Dataset::swiss_roll(),
        "two_moons" => Dataset::two_moons(),
        "ring_of_gaussians" => Dataset::ring_of_gaussians(),
        other => {
            return Err(format!(
                "--dataset {other}: checkerboard | swiss_roll | two_moons | ring_of_gaussians"
            )
            .into());
        }
    };
    let field_name = value("--field").unwrap_or_else(|| "laplace".into());
    let (field, scale) = match field_name.as_str() {
        "laplace" => (
            DriftField::TwoAxis(KernelFamily::Laplace, SelfMask::OFFICIAL_DEMO),
            0.05,
        ),
        "gaussian" => (
            DriftField::TwoAxis(KernelFamily::Gaussian, SelfMask::OFFICIAL_DEMO),
            0.05,
        ),
        "sinkhorn" => (DriftField::Sinkhorn(EXPERIMENT_4_SINKHORN), 0.05),
        other => return Err(format!("--field {other}: laplace | gaussian | sinkhorn").into()),
    };
    let scale = if matches!(dataset, Dataset::RingOfGaussians { .. }) {
        0.3
    } else {
        scale
    };
    let seed = number("--seed", 0)?;
    let dir = value("--dir").map_or_else(
        || PathBuf::from(format!("runs/{field_name}-{}-{seed}", dataset.name())),
        PathBuf::from,
    );
    let minutes = match value("--minutes") {
        Some(m) => Some(
            m.parse::<f64>()
                .map_err(|_| format!("--minutes {m}: not a number"))?,
        ),
        None => None,
    };
    let r = Run {
        field_name,
        field,
        scale,
        dataset,
        seed,
        steps: number("--steps", 50_000)?,
        batch: usize::try_from(number("--batch", 2048)?)?,
        eval_every: number("--eval-every", 2500)?.max(1),
        checkpoint_every: number("--checkpoint-every", 500)?.max(1),
        minutes,
        dir,
    };
    run(&r)
}
