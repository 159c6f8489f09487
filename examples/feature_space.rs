//! Feature-space drifting: a class-conditional generator trained with the official grouped drift
//! loss on several feature keys at once, as the method trains on images.
//!
//! ```text
//! cargo run --release --example feature_space                       # 1500 steps, about 40 s
//! cargo run --release --features std --example feature_space -- --steps 3000 --seed 1
//! ```
//!
//! The data are eight classes, each a Gaussian blob on a ring (class `c` at angle `2πc/8`,
//! radius 2, spread 0.15). The generator `Mlp<16, 128, 2>` (SiLU) maps 8 noise values and a
//! one-hot class to a point. The loss is the official `drift_loss` over `[B, C, S]` groups: one
//! group per class (`B = 8`), 64 generated samples, 64 positives of the class and 16
//! unconditional negatives (data of any class) per group, guidance scale `α` (weight
//! `(α − 1)(Cg − 1)/Cu` on the unconditional negatives; default 1, `--guidance 1.5` for
//! classifier-free guidance: here it pushes each class away from the unconditional data, and the
//! spread column grows by about 10 %), temperatures
//! `{0.02, 0.05, 0.2}`,
//! statistics global over the groups — summed over three feature keys of different dimensions
//! (`drifting::feature_drift_loss`):
//!
//! | key | `S` | features of a point `x` |
//! | --- | ---: | --- |
//! | raw | 2 | `x` itself |
//! | encoder | 64 | `h = tanh(W₁x + b₁)`, a fixed random encoder |
//! | encoder² | 128 | `tanh(W₂h/8 + b₂)` |
//!
//! Each key's gradient `∂loss/∂features` is backpropagated through the fixed encoder to the
//! generator's output, summed, and through the generator (`Mlp::backward`); Adam at `2e-3`.
//! Shows a progress bar (plain progress lines when the output is not a terminal) and prints, per
//! class, the sliced Wasserstein distance between 1000 generated and 1000 data samples beside its
//! floor (two independent data samples), the spread of the generated samples around the class
//! centre relative to the data's, and the fraction of generated samples nearer to their own
//! class's centre than to any other (class fidelity).
//!
//! Flags: `--steps N` (default 1500), `--seed N` (0), `--guidance A` (1), `--raw-only` (the raw
//! key alone), `--quiet`.

use drifting::metrics::{
    SlicedWassersteinConfig, sliced_wasserstein, sliced_wasserstein_scratch_len,
};
use drifting::sample::fill_standard_normal;
use drifting::{
    Activation, Adam, AdamState, CloudView, FeatureKey, GroupShape, GroupedDriftConfig, Mlp,
    feature_drift_loss, feature_drift_workspace_len,
};
use indicatif::{ProgressBar, ProgressStyle};
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::io::IsTerminal;
use std::time::Instant;

type Generator = Mlp<16, 128, 2>;
const NOISE: usize = 8;
const CLASSES: usize = 8;
const GENERATED: usize = 64;
const POSITIVES: usize = 64;
const UNCONDITIONAL: usize = 16;
/// Default guidance scale: 1, no guidance (`--guidance 1.5` shows its effect).
const GUIDANCE: f32 = 1.0;
const HIDDEN: usize = 64;
const HIDDEN2: usize = 128;
const RADIUS: f32 = 2.0;
const SPREAD: f32 = 0.15;
const EVAL: usize = 1000;

/// The fixed random encoder `x ↦ h = tanh(W₁x + b₁) ↦ h₂ = tanh(W₂h/8 + b₂)`.
struct Encoder {
    w1: Vec<[f32; 2]>,
    b1: Vec<f32>,
    w2: Vec<Vec<f32>>,
    b2: Vec<f32>,
}

impl Encoder {
    fn new(rng: &mut Xoshiro256PlusPlus) -> Self {
        let mut normal = |n: usize| {
            let mut v = vec![0.0; n];
            fill_standard_normal(rng, &mut v);
            v
        };
        let w1 = normal(2 * HIDDEN)
            .chunks_exact(2)
            .map(|c| [c[0], c[1]])
            .collect();
        let b1 = normal(HIDDEN);
        let w2 = normal(HIDDEN2 * HIDDEN)
            .chunks_exact(HIDDEN)
            .map(<[f32]>::to_vec)
            .collect();
        let b2 = normal(HIDDEN2).iter().map(|v| 0.5 * v).collect();
        Self { w1, b1, w2, b2 }
    }

    /// `(h, h₂)` of one point.
    fn features(&self, x: [f32; 2], h: &mut [f32], h2: &mut [f32]) {
        for ((h, w), b) in h.iter_mut().zip(&self.w1).zip(&self.b1) {
            *h = (w[0] * x[0] + w[1] * x[1] + b).tanh();
        }
        for ((o, w), b) in h2.iter_mut().zip(&self.w2).zip(&self.b2) {
            let z: f32 = w.iter().zip(h.iter()).map(|(w, h)| w * h).sum();
            *o = (z / 8.0 + b).tanh();
        }
    }

    /// `∂L/∂x` from the gradients with respect to `x`, `h` and `h₂` (chain rule through the
    /// encoder).
    fn backward(
        &self,
        h: &[f32],
        h2: &[f32],
        g_x: [f32; 2],
        g_h: &[f32],
        g_h2: &[f32],
    ) -> [f32; 2] {
        let mut dh: Vec<f32> = g_h.to_vec();
        for ((w, &o), &g) in self.w2.iter().zip(h2).zip(g_h2) {
            let dz = g * (1.0 - o * o) / 8.0;
            for (d, w) in dh.iter_mut().zip(w) {
                *d += dz * w;
            }
        }
        let mut dx = g_x;
        for ((w, &h), d) in self.w1.iter().zip(h).zip(&dh) {
            let dz = d * (1.0 - h * h);
            dx[0] += dz * w[0];
            dx[1] += dz * w[1];
        }
        dx
    }
}

fn centre(class: usize) -> [f32; 2] {
    let angle = std::f32::consts::TAU * class as f32 / CLASSES as f32;
    [RADIUS * angle.cos(), RADIUS * angle.sin()]
}

/// `n` data points of `class`.
fn data(rng: &mut Xoshiro256PlusPlus, class: usize, n: usize) -> Vec<[f32; 2]> {
    let mut noise = vec![0.0; 2 * n];
    fill_standard_normal(rng, &mut noise);
    let c = centre(class);
    noise
        .chunks_exact(2)
        .map(|e| [c[0] + SPREAD * e[0], c[1] + SPREAD * e[1]])
        .collect()
}

/// The generator's input for `classes[b]`: noise then one-hot, feature-major (`[16, batch]`).
fn generator_input(rng: &mut Xoshiro256PlusPlus, classes: &[usize], input: &mut [f32]) {
    let batch = classes.len();
    fill_standard_normal(rng, &mut input[..NOISE * batch]);
    input[NOISE * batch..].fill(0.0);
    for (b, &c) in classes.iter().enumerate() {
        input[(NOISE + c) * batch + b] = 1.0;
    }
}

struct Options {
    steps: u64,
    seed: u64,
    guidance: f32,
    raw_only: bool,
    quiet: bool,
}

fn parse() -> Result<Options, String> {
    let mut o = Options {
        steps: 1500,
        seed: 0,
        guidance: GUIDANCE,
        raw_only: false,
        quiet: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| format!("{name} needs a value"))
                .and_then(|v| v.parse::<u64>().map_err(|e| format!("{name} {v}: {e}")))
        };
        match flag.as_str() {
            "--steps" => o.steps = value("--steps")?,
            "--seed" => o.seed = value("--seed")?,
            "--guidance" => {
                let v = args.next().ok_or("--guidance needs a value")?;
                o.guidance = v.parse().map_err(|e| format!("--guidance {v}: {e}"))?;
                if !(o.guidance >= 1.0 && o.guidance.is_finite()) {
                    return Err(format!("--guidance {v}: must be at least 1"));
                }
            }
            "--raw-only" => o.raw_only = true,
            "--quiet" => o.quiet = true,
            "--help" | "-h" => {
                println!("feature_space [--steps N (1500)] [--seed N (0)] [--quiet]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown flag {other} (see --help)")),
        }
    }
    if o.steps == 0 {
        return Err("--steps must be at least 1".into());
    }
    Ok(o)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let o = parse()?;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(o.seed);
    let encoder = Encoder::new(&mut Xoshiro256PlusPlus::seed_from_u64(0xe9c0de));
    let batch = CLASSES * GENERATED;
    let mlp = Generator::new(Activation::Silu);
    let p = Generator::PARAMETERS;
    let mut params = vec![0.0; p];
    Generator::init_pytorch(&mut params, &mut rng)?;
    let (mut grads, mut m, mut v) = (vec![0.0; p], vec![0.0; p], vec![0.0; p]);
    let adam = Adam {
        learning_rate: 2e-3,
        ..Adam::new()
    };
    let mut state = AdamState::new();
    let mut cache = vec![0.0; Generator::cache_len(batch)];
    let mut backward_scratch = vec![0.0; Generator::backward_scratch_len(batch)];
    let mut input = vec![0.0; 16 * batch];
    let mut output = vec![0.0; 2 * batch];
    let mut grad_output = vec![0.0; 2 * batch];
    let classes: Vec<usize> = (0..batch).map(|b| b / GENERATED).collect();

    // The three keys' shapes and buffers ([B, C, S] row-major).
    let shape = |channels| GroupShape {
        groups: CLASSES,
        generated: GENERATED,
        unconditional: UNCONDITIONAL,
        positives: POSITIVES,
        channels,
    };
    let shapes = [shape(2), shape(HIDDEN), shape(HIDDEN2)];
    let alpha = [o.guidance; CLASSES];
    let config = GroupedDriftConfig {
        guidance: Some(&alpha),
        ..GroupedDriftConfig::official()
    };
    let mut workspace =
        vec![0.0; feature_drift_workspace_len(&shapes.map(|s| (s, 3))).ok_or("size")?];
    let buffers = |count: usize| shapes.map(|s| vec![0.0_f32; CLASSES * count * s.channels]);
    let (mut gen_features, mut pos_features, mut unc_features) = (
        buffers(GENERATED),
        buffers(POSITIVES),
        buffers(UNCONDITIONAL),
    );
    let mut gradients = buffers(GENERATED);

    let terminal = std::io::stdout().is_terminal();
    let bar = if o.quiet || !terminal {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(o.steps)
    };
    bar.set_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}",
    )?);
    let started = Instant::now();
    let write = |features: &mut [Vec<f32>; 3], index: usize, x: [f32; 2]| {
        let [raw, h, h2] = features;
        raw[2 * index..2 * index + 2].copy_from_slice(&x);
        encoder.features(
            x,
            &mut h[HIDDEN * index..HIDDEN * (index + 1)],
            &mut h2[HIDDEN2 * index..HIDDEN2 * (index + 1)],
        );
    };
    for step in 0..o.steps {
        generator_input(&mut rng, &classes, &mut input);
        mlp.forward(&params, &input, batch, &mut cache, &mut output)?;
        for b in 0..batch {
            write(&mut gen_features, b, [output[b], output[batch + b]]);
        }
        for class in 0..CLASSES {
            for (i, x) in data(&mut rng, class, POSITIVES).into_iter().enumerate() {
                write(&mut pos_features, class * POSITIVES + i, x);
            }
            for i in 0..UNCONDITIONAL {
                let other = (rng.next_u32() as usize) % CLASSES;
                let x = data(&mut rng, other, 1)[0];
                write(&mut unc_features, class * UNCONDITIONAL + i, x);
            }
        }
        let mut keys: Vec<FeatureKey<'_>> = shapes
            .iter()
            .zip(&gen_features)
            .zip(&unc_features)
            .zip(&pos_features)
            .zip(gradients.iter_mut())
            .map(|((((shape, g), u), p), gradient)| FeatureKey {
                shape: *shape,
                generated: g,
                unconditional: u,
                positives: p,
                config,
                gradient,
            })
            .collect();
        if o.raw_only {
            keys.truncate(1);
        }
        let report = feature_drift_loss(&mut keys, &mut workspace)?;
        drop(keys);
        let [g_raw, g_h, g_h2] = &gradients;
        let [_, h, h2] = &gen_features;
        for b in 0..batch {
            let dx = encoder.backward(
                &h[HIDDEN * b..HIDDEN * (b + 1)],
                &h2[HIDDEN2 * b..HIDDEN2 * (b + 1)],
                [g_raw[2 * b], g_raw[2 * b + 1]],
                &g_h[HIDDEN * b..HIDDEN * (b + 1)],
                &g_h2[HIDDEN2 * b..HIDDEN2 * (b + 1)],
            );
            grad_output[b] = dx[0];
            grad_output[batch + b] = dx[1];
        }
        mlp.backward(
            &params,
            &cache,
            &grad_output,
            batch,
            &mut grads,
            None,
            &mut backward_scratch,
        )?;
        adam.step(&mut state, &mut params, &grads, &mut m, &mut v)?;
        let raw_rms = report.keys.first().map_or(0.0, |k| k.raw_rms2[2].sqrt());
        bar.set_message(format!(
            "loss {:.3} (3 keys), raw drift RMS {raw_rms:.2e}",
            report.loss
        ));
        bar.inc(1);
        let tenth = (o.steps / 10).max(1);
        if !o.quiet && !terminal && (step + 1) % tenth == 0 {
            println!(
                "step {}/{}: loss {:.3} (3 keys), raw drift RMS {raw_rms:.2e}, {:.1} s",
                step + 1,
                o.steps,
                report.loss,
                started.elapsed().as_secs_f64()
            );
        }
    }
    bar.finish_and_clear();
    println!(
        "{} steps of {batch} samples ({CLASSES} classes × {GENERATED}) in {:.1} s",
        o.steps,
        started.elapsed().as_secs_f64()
    );

    // Per class: SWD (p = 2, 200 directions) between 1000 generated and 1000 data samples, the
    // floor between two data samples, and class fidelity.
    let swd_config = SlicedWassersteinConfig::new();
    let mut scratch = vec![0.0; sliced_wasserstein_scratch_len(EVAL)];
    let mut eval_rng = Xoshiro256PlusPlus::seed_from_u64(0xe7a1);
    let eval_classes: Vec<usize> = vec![0; EVAL];
    let mut eval_input = vec![0.0; 16 * EVAL];
    let mut eval_output = vec![0.0; 2 * EVAL];
    let mut eval_cache = vec![0.0; Generator::cache_len(EVAL)];
    println!(
        "| class | SWD generated vs data | floor (data vs data) | spread / data spread | class fidelity |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: |");
    let (mut total, mut total_floor, mut total_fidelity) = (0.0, 0.0, 0.0);
    for class in 0..CLASSES {
        let labels: Vec<usize> = eval_classes.iter().map(|_| class).collect();
        generator_input(&mut eval_rng, &labels, &mut eval_input);
        mlp.forward(
            &params,
            &eval_input,
            EVAL,
            &mut eval_cache,
            &mut eval_output,
        )?;
        let generated = CloudView::<2>::from_coordinate_major(&eval_output, EVAL)?;
        let reference = data(&mut eval_rng, class, EVAL);
        let other = data(&mut eval_rng, class, EVAL);
        let swd = sliced_wasserstein(
            &generated,
            &CloudView::from_points(&reference),
            &swd_config,
            &mut eval_rng,
            &mut scratch,
        )?;
        let floor = sliced_wasserstein(
            &CloudView::from_points(&other),
            &CloudView::from_points(&reference),
            &swd_config,
            &mut eval_rng,
            &mut scratch,
        )?;
        let fidelity = generated
            .points()
            .filter(|x| {
                let d = |c: [f32; 2]| (x[0] - c[0]).powi(2) + (x[1] - c[1]).powi(2);
                (0..CLASSES).all(|k| k == class || d(centre(class)) < d(centre(k)))
            })
            .count() as f64
            / EVAL as f64;
        let spread = |points: &mut dyn Iterator<Item = [f32; 2]>| {
            let c = centre(class);
            let (sum, count) = points.fold((0.0_f64, 0_usize), |(s, n), x| {
                let d = f64::from((x[0] - c[0]).powi(2) + (x[1] - c[1]).powi(2));
                (s + d, n + 1)
            });
            (sum / count.max(1) as f64).sqrt()
        };
        let ratio = spread(&mut generated.points()) / spread(&mut reference.iter().copied());
        println!(
            "| {class} | {swd:.2e} | {floor:.2e} | {ratio:.2} | {:.1} % |",
            100.0 * fidelity
        );
        total += swd;
        total_floor += floor;
        total_fidelity += fidelity;
    }
    let k = CLASSES as f64;
    println!(
        "mean SWD {:.2e} (floor {:.2e}), mean class fidelity {:.1} %",
        total / k,
        total_floor / k,
        100.0 * total_fidelity / k
    );
    Ok(())
}
