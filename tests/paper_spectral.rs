//! Reduced experiment 2 (`examples/paper_spectral.rs`; first paper, Fig. 2): in a 1D particle
//! simulation each Fourier mode of a perturbation decays at the rate the dispersion relation of
//! `drifting::spectral` predicts; the Gaussian kernel's high modes are far slower than the
//! Laplace kernel's; the Laplace kernel follows the mean-shift linearisation, not the `c k² φ̂`
//! form; exponential annealing beats linear and cosine schedules.

#[path = "../examples/support/spectral_sim.rs"]
mod spectral_sim;

use drifting::Kernel;
use drifting::schedule::AnnealingSchedule;
use drifting::spectral::Spectrum;
use spectral_sim::{Setup, discrete_rate, fitted_rate, simulate};

const ETA: f64 = 0.2;

fn setup(modes: Vec<usize>) -> Setup {
    Setup {
        particles: 256,
        targets: 1024,
        modes,
        amplitude: 0.05,
        step: ETA as f32,
    }
}

/// Measured and predicted decay times (steps) per mode.
fn decay_times(kernel: Kernel, spectrum: Spectrum, modes: &[usize]) -> Vec<(f64, f64, f64)> {
    let trace = simulate(&setup(modes.to_vec()), 150, |_| kernel);
    trace
        .amplitudes
        .iter()
        .zip(modes)
        .map(|(a, &m)| {
            let k = m as f64;
            let measured = 1.0 / fitted_rate(a).expect("a decaying mode");
            let predicted = 1.0 / discrete_rate(spectrum.decay_rate(k, ETA).unwrap());
            let score_form = 1.0 / discrete_rate(spectrum.score_form_rate(k, ETA).unwrap());
            (measured, predicted, score_form)
        })
        .collect()
}

#[test]
fn modes_decay_at_the_predicted_rates() {
    let modes = [1, 3, 6, 10];
    let gaussian = decay_times(
        Kernel::gaussian(0.3),
        Spectrum::Gaussian { bandwidth: 0.3 },
        &modes,
    );
    let laplace = decay_times(
        Kernel::laplace(0.3),
        Spectrum::Laplace {
            temperature: 0.3,
            dim: 1,
        },
        &modes,
    );
    println!("gaussian {gaussian:?}\nlaplace {laplace:?}");
    for (m, (measured, predicted, _)) in modes.iter().zip(&gaussian) {
        let ratio = measured / predicted;
        assert!((0.7..=1.3).contains(&ratio), "Gaussian mode {m}: {ratio}");
    }
    for (m, (measured, predicted, _)) in modes.iter().zip(&laplace) {
        let ratio = measured / predicted;
        assert!((0.8..=1.2).contains(&ratio), "Laplace mode {m}: {ratio}");
    }
    // The c k² φ̂ form is off by more than 3× for the Laplace kernel's mode 10.
    let (measured, _, score_form) = laplace[3];
    assert!(measured / score_form > 3.0);
    // The Gaussian's high mode is the slow one.
    assert!(gaussian[3].0 > laplace[3].0);
}

#[test]
fn exponential_annealing_clears_the_spectrum_first() {
    let steps = 200;
    let total_at = |schedule: AnnealingSchedule| {
        let trace = simulate(&setup((1..=8).collect()), steps, |t| {
            Kernel::gaussian(schedule.value(t as u64))
        });
        trace
            .amplitudes
            .iter()
            .map(|a| a[3 * steps / 4].abs())
            .sum::<f64>()
    };
    let exponential = total_at(AnnealingSchedule::Exponential {
        initial: 1.0,
        rate: 20.0_f32.ln() / steps as f32,
        minimum: 0.05,
    });
    let linear = total_at(AnnealingSchedule::Linear {
        initial: 1.0,
        end: 0.05,
        steps: steps as u32,
    });
    let cosine = total_at(AnnealingSchedule::Cosine {
        initial: 1.0,
        end: 0.05,
        steps: steps as u32,
    });
    println!("exponential {exponential}, linear {linear}, cosine {cosine}");
    assert!(exponential < linear && exponential < cosine);
}
