//! Experiment 2 of `examples/README.md`: spectral time scales (first paper, Fig. 2) measured in an
//! actual particle simulation, against the dispersion relation of `drifting::spectral`.
//!
//! ```text
//! cargo run --release --example paper_spectral                 # table + paper_spectral.png
//! ```
//!
//! 1D periodic domain, uniform target (4096 points), 1024 particles perturbed in modes
//! `m = 1 … 14` (density amplitude 0.05 each), `x ← x + η V(x)` with `η = 0.2` and the mean-shift
//! drift (see `examples/support/spectral_sim.rs`). Three parts:
//! 1. fixed Gaussian (σ = 0.3) and Laplace (τ = 0.3): measured decay time per mode against
//!    `1/γ(k)` (the discrete update's `−1/ln(1 − ηγ)`), and for Laplace against the first
//!    paper's `c k² φ̂(k)` form too;
//! 2. exponentially annealed Gaussian `σ(t) = max(σ0 e^{−rt}, σ_min)`: steps for each mode to
//!    fall by `e²`, measured against `spectral::annealed_convergence_steps`;
//! 3. the schedule ablation: exponential, linear and cosine from σ = 1 to 0.05 over 600 steps,
//!    total spectral error `Σ_m |a_m(t)|/|a_m(0)|`.

#[path = "support/figure.rs"]
mod figure;
#[path = "support/spectral_sim.rs"]
mod spectral_sim;

use drifting::Kernel;
use drifting::schedule::AnnealingSchedule;
use drifting::spectral::{Spectrum, annealed_convergence_steps};
use plotters::style::RGBColor;
use spectral_sim::{Setup, discrete_rate, fitted_rate, simulate, steps_to_fall};
use std::time::Instant;

const ETA: f32 = 0.2;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "paper_spectral.png".into());
    let started = Instant::now();
    let setup = Setup {
        particles: 1024,
        targets: 4096,
        modes: (1..=14).collect(),
        amplitude: 0.05,
        step: ETA,
    };
    let eta = f64::from(ETA);

    // 1. Fixed kernels.
    let mut time_curves: Vec<(String, Vec<(f32, f32)>)> = Vec::new();
    for (name, kernel, spectrum) in [
        (
            "Gaussian σ = 0.3",
            Kernel::gaussian(0.3),
            Spectrum::Gaussian { bandwidth: 0.3 },
        ),
        (
            "Laplace τ = 0.3",
            Kernel::laplace(0.3),
            Spectrum::Laplace {
                temperature: 0.3,
                dim: 1,
            },
        ),
    ] {
        let trace = simulate(&setup, 600, |_| kernel);
        println!("\n{name}: decay time per mode (steps; prediction = −1/ln(1 − ηγ(k)))");
        println!(
            "| k | measured | predicted (mean-shift linearisation) | ratio | c k² φ̂(k) form | ratio |"
        );
        println!("|---:|---:|---:|---:|---:|---:|");
        let (mut measured_curve, mut predicted_curve) = (Vec::new(), Vec::new());
        for (m, a) in trace.modes.iter().zip(&trace.amplitudes) {
            let k = *m as f64;
            let predicted = 1.0 / discrete_rate(spectrum.decay_rate(k, eta)?);
            let score_form = 1.0 / discrete_rate(spectrum.score_form_rate(k, eta)?);
            let Some(rate) = fitted_rate(a) else { continue };
            let measured = 1.0 / rate;
            println!(
                "| {m} | {measured:.1} | {predicted:.1} | {:.3} | {score_form:.1} | {:.3} |",
                measured / predicted,
                measured / score_form
            );
            measured_curve.push((k as f32, measured as f32));
            predicted_curve.push((k as f32, predicted as f32));
        }
        time_curves.push((format!("{name}, measured"), measured_curve));
        time_curves.push((format!("{name}, predicted"), predicted_curve));
    }

    // 2. Exponential annealing: steps to fall by e².
    let annealed = AnnealingSchedule::Exponential {
        initial: 1.0,
        rate: 0.01,
        minimum: 0.05,
    };
    let trace = simulate(&setup, 600, |t| Kernel::gaussian(annealed.value(t as u64)));
    println!(
        "\nExponentially annealed Gaussian σ(t) = max(e^(−0.01 t), 0.05): steps to fall by e²"
    );
    println!("| k | measured | predicted | fixed σ = 0.3 would need |");
    println!("|---:|---:|---:|---:|");
    let fixed = Spectrum::Gaussian { bandwidth: 0.3 };
    for (m, a) in trace.modes.iter().zip(&trace.amplitudes) {
        let k = *m as f64;
        let measured = steps_to_fall(a, 2.0_f64.exp()).map_or("> 600".into(), |s| s.to_string());
        let predicted = annealed_convergence_steps(&annealed, k, eta, 2.0_f64.exp(), 1_000_000)?
            .map_or("> 1e6".into(), |s| s.to_string());
        let fixed_steps = 2.0 / discrete_rate(fixed.decay_rate(k, eta)?);
        println!("| {m} | {measured} | {predicted} | {fixed_steps:.0} |");
    }

    // 3. Schedule ablation.
    let schedules = [
        (
            "exponential",
            AnnealingSchedule::Exponential {
                initial: 1.0,
                rate: (20.0_f32).ln() / 600.0,
                minimum: 0.05,
            },
        ),
        (
            "linear",
            AnnealingSchedule::Linear {
                initial: 1.0,
                end: 0.05,
                steps: 600,
            },
        ),
        (
            "cosine",
            AnnealingSchedule::Cosine {
                initial: 1.0,
                end: 0.05,
                steps: 600,
            },
        ),
    ];
    let ablation_setup = Setup {
        modes: (1..=16).collect(),
        ..setup.clone()
    };
    println!(
        "\nSchedule ablation (σ from 1 to 0.05 over 600 steps), total spectral error Σ_m |a_m(t)/a_m(0)| over modes 1-16"
    );
    println!("| schedule | t = 150 | t = 300 | t = 450 | t = 600 |");
    println!("|---|---:|---:|---:|---:|");
    let mut error_curves: Vec<(String, Vec<(f32, f32)>)> = Vec::new();
    for (name, schedule) in schedules {
        let trace = simulate(&ablation_setup, 600, |t| {
            Kernel::gaussian(schedule.value(t as u64))
        });
        let total: Vec<f64> = (0..=600)
            .map(|t| trace.amplitudes.iter().map(|a| a[t].abs()).sum())
            .collect();
        println!(
            "| {name} | {:.3} | {:.3} | {:.3} | {:.3} |",
            total[150], total[300], total[450], total[600]
        );
        error_curves.push((
            name.into(),
            total
                .iter()
                .enumerate()
                .map(|(t, e)| (t as f32, *e as f32))
                .collect(),
        ));
    }
    println!("\n{:.1} s", started.elapsed().as_secs_f64());

    let colors = [
        RGBColor(31, 119, 180),
        RGBColor(140, 190, 230),
        RGBColor(214, 39, 40),
        RGBColor(240, 150, 150),
    ];
    let times = figure::Curves {
        title: "decay time (steps) vs k".into(),
        series: time_curves
            .iter()
            .zip(colors)
            .map(|((n, c), color)| (n.as_str(), &c[..], color))
            .collect(),
        ..figure::Curves::default()
    };
    let errors = figure::Curves {
        title: "total spectral error vs step".into(),
        series: error_curves
            .iter()
            .zip(colors.iter().step_by(2).chain(colors.iter().skip(1)))
            .map(|((n, c), color)| (n.as_str(), &c[..], *color))
            .collect(),
        ..figure::Curves::default()
    };
    figure::draw(std::path::Path::new(&out), 1.0, &[], &[times, errors])?;
    println!("figure written to {out}");
    Ok(())
}
