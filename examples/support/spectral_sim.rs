//! The first paper's spectral experiment (Fig. 2) as an actual particle simulation, shared by
//! `examples/paper_spectral.rs` and `tests/paper_spectral.rs`.
//!
//! One dimension, periodic domain `[0, 2π)` (images at ±2π), a uniform target `p` (`P` grid
//! points) and `N` particles displaced from their equilibrium grid positions `x̄_i` by
//! `u_i = Σ_m (ε/m) sin(m x̄_i)`: a density perturbation of amplitude `ε` in each mode `m` (the
//! wavenumber, `k = m`). Each step moves every particle by `η V(x)`, `V` the crate's mean-shift
//! drift (self-pair excluded) with the kernel of the step; the sine coefficient
//! `a_m(t) = (2/N) Σ_i u_i(t) sin(m x̄_i)` of the displacement is recorded per mode, and its decay
//! rate per step is fitted (least squares on `ln |a_m|` while it is above `e^{−4}` of its start).
#![allow(dead_code)]

// On all cores with the `std` feature (the same bits as without).
use drifting::mean_shift_drift;
use drifting::{CloudView, Kernel, MeanShiftConfig, Negatives};
use std::f64::consts::TAU;

/// The simulation's sizes.
#[derive(Clone, Debug)]
pub struct Setup {
    pub particles: usize,
    pub targets: usize,
    pub modes: Vec<usize>,
    /// Density amplitude `ε` per mode.
    pub amplitude: f64,
    /// The step `η`.
    pub step: f32,
}

/// Per mode, `a_m(t)/a_m(0)` for `t = 0..=steps`.
pub struct Trace {
    pub modes: Vec<usize>,
    pub amplitudes: Vec<Vec<f64>>,
}

fn grid(count: usize) -> Vec<f64> {
    (0..count)
        .map(|i| (i as f64 + 0.5) * TAU / count as f64)
        .collect()
}

/// Runs `steps` steps; `kernel_at(t)` is the kernel of step `t` (fixed or annealed).
pub fn simulate(setup: &Setup, steps: usize, kernel_at: impl Fn(usize) -> Kernel) -> Trace {
    let n = setup.particles;
    let equilibrium = grid(n);
    let mut x: Vec<f64> = equilibrium
        .iter()
        .map(|&e| {
            e + setup
                .modes
                .iter()
                .map(|&m| setup.amplitude / m as f64 * (m as f64 * e).sin())
                .sum::<f64>()
        })
        .collect();
    // Targets with their images at ±2π.
    let targets: Vec<f32> = grid(setup.targets)
        .iter()
        .flat_map(|&y| [y - TAU, y, y + TAU])
        .map(|y| y as f32)
        .collect();
    let coefficient = |x: &[f64], m: usize| {
        x.iter()
            .zip(&equilibrium)
            .map(|(xi, e)| (xi - e) * (m as f64 * e).sin())
            .sum::<f64>()
            * 2.0
            / n as f64
    };
    let initial: Vec<f64> = setup.modes.iter().map(|&m| coefficient(&x, m)).collect();
    let mut amplitudes: Vec<Vec<f64>> = setup.modes.iter().map(|_| vec![1.0]).collect();
    let mut field = vec![0.0_f32; 3 * n];
    for t in 0..steps {
        // Particles and their images, as queries and negatives (self-pair excluded); the drift
        // of the central copy moves the particles. Positions relative to the domain in f64,
        // rounded to f32 for the drift.
        let cloud: Vec<f32> = x
            .iter()
            .flat_map(|&v| [v, v - TAU, v + TAU])
            .map(|v| v as f32)
            .collect();
        let config = MeanShiftConfig::new(kernel_at(t));
        mean_shift_drift(
            &CloudView::<1>::from_coordinate_major(&cloud, 3 * n).expect("cloud"),
            &CloudView::<1>::from_coordinate_major(&targets, targets.len()).expect("targets"),
            Negatives::Queries,
            &config,
            &mut field,
        )
        .expect("drift");
        for (i, xi) in x.iter_mut().enumerate() {
            *xi += f64::from(setup.step) * f64::from(field[3 * i]);
        }
        for ((a, &m), a0) in amplitudes.iter_mut().zip(&setup.modes).zip(&initial) {
            a.push(coefficient(&x, m) / a0);
        }
    }
    Trace {
        modes: setup.modes.clone(),
        amplitudes,
    }
}

/// The fitted decay rate per step of one mode's trace (`−` slope of `ln a`), over the steps
/// where `a` stays above `e^{−4}`; `None` if fewer than two such points.
pub fn fitted_rate(trace: &[f64]) -> Option<f64> {
    let points: Vec<(f64, f64)> = trace
        .iter()
        .enumerate()
        .take_while(|(_, a)| **a > (-4.0_f64).exp())
        .map(|(t, a)| (t as f64, a.ln()))
        .collect();
    if points.len() < 2 {
        return None;
    }
    let n = points.len() as f64;
    let (mt, ml) = (
        points.iter().map(|p| p.0).sum::<f64>() / n,
        points.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let num: f64 = points.iter().map(|(t, l)| (t - mt) * (l - ml)).sum();
    let den: f64 = points.iter().map(|(t, _)| (t - mt) * (t - mt)).sum();
    Some(-num / den)
}

/// Steps until `a` first falls below `1/reduction` (`None` if it never does).
pub fn steps_to_fall(trace: &[f64], reduction: f64) -> Option<usize> {
    trace.iter().position(|a| a.abs() < 1.0 / reduction)
}

/// The per-step rate the discrete update predicts for a continuous rate `γη`: `−ln(1 − ηγ)`.
pub fn discrete_rate(continuous: f64) -> f64 {
    -(1.0 - continuous).ln()
}
