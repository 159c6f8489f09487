//! The spectral tools (docs/mathematics.md §9) against their closed forms: the Gaussian rate's peak
//! at `σk = √2` with value `2η/e`, the Laplace transform, convergence times, and the annealing
//! speed-up (logarithmic against the fixed Gaussian's `exp(O(k²))`).

use drifting::Error;
use drifting::schedule::AnnealingSchedule;
use drifting::spectral::{Spectrum, annealed_convergence_steps};

#[test]
fn gaussian_rate_peaks_at_sqrt2_over_sigma_with_value_2_over_e() {
    let g = Spectrum::Gaussian { bandwidth: 0.25 };
    let k_star = g.fastest_wavenumber();
    assert!((k_star - 2.0_f64.sqrt() / 0.25).abs() < 1e-12);
    let peak = g.decay_rate(k_star, 1.0).unwrap();
    assert!((peak - 2.0 / std::f64::consts::E).abs() < 1e-12);
    for k in [0.5 * k_star, 0.9 * k_star, 1.1 * k_star, 3.0 * k_star] {
        assert!(g.decay_rate(k, 1.0).unwrap() < peak);
    }
    // Beyond the peak the rate falls like exp(−σ²k²/2): exponentially slow high modes.
    let ratio = g.decay_rate(8.0 * k_star, 1.0).unwrap() / peak;
    assert!(ratio < 1e-25, "{ratio:e}");
}

#[test]
fn laplace_transform_and_rates() {
    let l1 = Spectrum::Laplace {
        temperature: 0.1,
        dim: 1,
    };
    for k in [0.0, 1.0, 7.0, 100.0] {
        let want = 1.0 / (1.0 + 0.01 * k * k);
        assert!((l1.transform(k) - want).abs() < 1e-15);
        // The mean-shift rate is k·(−φ̂'(k)) = 2(τk)²/(1 + τ²k²)² in 1D: check against a
        // central difference of the transform.
        let h = 1e-6 * (1.0 + k);
        let derivative = (l1.transform(k + h) - l1.transform(k - h)) / (2.0 * h);
        let rate = l1.decay_rate(k, 1.0).unwrap();
        assert!(
            (rate - (-k * derivative)).abs() < 1e-6 * (1.0 + rate),
            "k = {k}"
        );
        // The score form (τk)² φ̂ tends to η instead of 0.
        let score = l1.score_form_rate(k, 1.0).unwrap();
        assert!((score - 0.01 * k * k * want).abs() < 1e-12);
    }
    let k_star = l1.fastest_wavenumber();
    assert!((k_star - 10.0).abs() < 1e-9);
    assert!((l1.decay_rate(k_star, 1.0).unwrap() - 0.5).abs() < 1e-12);
    let l2 = Spectrum::Laplace {
        temperature: 0.1,
        dim: 2,
    };
    let k_star = l2.fastest_wavenumber();
    let peak = l2.decay_rate(k_star, 1.0).unwrap();
    let h = 1e-4 * k_star;
    assert!(l2.decay_rate(k_star - h, 1.0).unwrap() < peak);
    assert!(l2.decay_rate(k_star + h, 1.0).unwrap() < peak);
    // Polynomial tail: γ ~ 3 (τk)^{−3} in 2D.
    let far = l2.decay_rate(1e4, 1.0).unwrap();
    assert!((far * 1e9 / 3.0 - 1.0).abs() < 1e-3, "{far:e}");
    // For the Gaussian both forms agree.
    let g = Spectrum::Gaussian { bandwidth: 0.3 };
    assert_eq!(g.decay_rate(5.0, 0.7), g.score_form_rate(5.0, 0.7));
}

#[test]
fn convergence_time_is_log_reduction_over_rate() {
    let g = Spectrum::Gaussian { bandwidth: 0.5 };
    let t = g.convergence_time(3.0, 0.1, 100.0).unwrap();
    let rate = 0.1 * 2.25 * (-0.5_f64 * 2.25).exp();
    assert!((t - 100.0_f64.ln() / rate).abs() < 1e-9 * t);
    assert_eq!(
        g.convergence_time(1e3, 0.1, 100.0),
        Err(Error::OutOfRange { input: "k" })
    );
    assert_eq!(
        g.convergence_time(3.0, 0.1, 1.0),
        Err(Error::InvalidParameter { input: "reduction" })
    );
    assert_eq!(
        g.decay_rate(-1.0, 0.1),
        Err(Error::InvalidParameter { input: "k" })
    );
    assert_eq!(
        g.decay_rate(1.0, 0.0),
        Err(Error::InvalidParameter { input: "step" })
    );
    assert_eq!(
        Spectrum::Gaussian { bandwidth: 0.0 }.decay_rate(1.0, 1.0),
        Err(Error::InvalidParameter { input: "spectrum" })
    );
}

#[test]
fn exponential_annealing_makes_high_modes_logarithmic() {
    let (sigma0, step, reduction) = (1.0_f32, 0.05, 1e3);
    let fixed = Spectrum::Gaussian {
        bandwidth: f64::from(sigma0),
    };
    let annealed = AnnealingSchedule::Exponential {
        initial: sigma0,
        rate: 0.002,
        minimum: 1e-3,
    };
    // The window passes each mode once, contributing at most η/r = 25 ≥ ln(1e3) to its sum (with
    // η/r < ln(reduction) no mode would ever converge: the schedule must be slow enough).
    let modes = [2.0, 4.0, 8.0, 16.0, 32.0];
    let steps: Vec<u64> = modes
        .iter()
        .map(|&k| {
            annealed_convergence_steps(&annealed, k, step, reduction, 10_000_000)
                .unwrap()
                .unwrap()
        })
        .collect();
    // Mode k converges when σ(t)k has swept down to a fixed u* (e^{−u*²/2} = 1 − ln(R)r/η), so
    // each doubling of k adds ln(2)/r = 347 steps: logarithmic in k (from k = 4 on: at k = 2 the
    // sweep starts at σ0k = 2, already inside the window).
    for w in steps.windows(2).skip(1) {
        let added = w[1] as f64 - w[0] as f64;
        assert!((added - 2.0_f64.ln() / 0.002).abs() < 5.0, "{steps:?}");
    }
    // ...while the fixed bandwidth needs astronomically longer for the same modes.
    let fixed_16 = fixed.convergence_time(16.0, step, reduction).unwrap();
    assert!(fixed_16 > 1e50, "{fixed_16:e}");
    // The sum is the one the doc states: check one mode directly.
    let k = 8.0;
    let t = steps[2];
    let total = |n: u64| {
        (0..n)
            .map(|s| {
                let sk = f64::from(annealed.value(s)) * k;
                step * sk * sk * (-0.5 * sk * sk).exp()
            })
            .sum::<f64>()
    };
    assert!(total(t) >= reduction.ln() && total(t - 1) < reduction.ln());
    // A constant schedule reproduces the fixed-bandwidth time (rounded up to whole steps).
    let constant = AnnealingSchedule::Constant { initial: sigma0 };
    let steps_const = annealed_convergence_steps(&constant, 2.0, step, reduction, 1_000_000)
        .unwrap()
        .unwrap();
    let exact = fixed.convergence_time(2.0, step, reduction).unwrap();
    assert!(
        (steps_const as f64 - exact).abs() <= 1.0,
        "{steps_const} vs {exact}"
    );
    assert_eq!(
        annealed_convergence_steps(&constant, 40.0, step, reduction, 1000).unwrap(),
        None
    );
}
