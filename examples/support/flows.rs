//! The third paper's flows compared (experiment 7 of `examples/README.md`), shared by
//! `examples/paper_flows.rs` and its reduced test `tests/paper_flows.rs`.
//!
//! Seven drift fields, each a [`DriftField`] of the crate: the KL / score-difference flow (the
//! Gaussian mean shift, §3), the method's Algorithm 2 (the two-axis softmax, Laplace as in the
//! official demo, and Gaussian, the proxy's own kernel), the Sinkhorn-divergence flow
//! `T_ab − T_aa` (GeomLoss's ε-scaling with no extra iterations, and converged), the one-shot
//! Sinkhorn proxy, the
//! MMD flow (Gaussian kernel) and the sliced-Wasserstein flow.
//!
//! Two set-ups: *particle flows* `x ← x + η V(x)` (no generator) between two well-separated
//! modes whose masses are wrong (80 % of the particles on the left mode, the data split 50/50),
//! and generator training (`support/training.rs`) over a grid of each field's hyper-parameter.
#![allow(dead_code)]

use drifting::sample::fill_standard_normal;
use drifting::{CloudView, DriftField, Error, KernelFamily, SelfMask, SinkhornConfig, UpdateRule};
use rand_xoshiro::Xoshiro256PlusPlus;

/// The flows of the comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// KL / score difference: Gaussian mean shift, bandwidth `σ`.
    Score,
    /// Algorithm 2 (two-axis softmax), Laplace, `τ`, the official `+1e6` self-mask.
    Algorithm2,
    /// Algorithm 2 with the Gaussian kernel `exp(−‖x−y‖²/(2σ²))` (the proxy's kernel at
    /// `blur = σ`).
    Algorithm2Gaussian,
    /// Sinkhorn-divergence flow `T_ab − T_aa`, `blur`, GeomLoss's default solve (ε-scaling 0.5,
    /// no iterations after it: the potentials are not converged).
    SinkhornDivergence,
    /// The same flow with the potentials converged: alternating updates after ε-scaling 0.5
    /// until the L1 marginal error is below `1e-3` (at most 1000 iterations).
    SinkhornConverged,
    /// The one-shot Sinkhorn proxy, `blur`.
    SinkhornProxy,
    /// MMD flow, Gaussian kernel, bandwidth `σ`.
    Mmd,
    /// Sliced-Wasserstein flow; the hyper-parameter is the number of directions.
    Sliced,
}

impl Flow {
    /// The flows of the particle experiment, in the tables' order.
    pub const ALL: [Self; 8] = [
        Self::Score,
        Self::Algorithm2,
        Self::Algorithm2Gaussian,
        Self::SinkhornDivergence,
        Self::SinkhornConverged,
        Self::SinkhornProxy,
        Self::Mmd,
        Self::Sliced,
    ];

    /// The flows trained (the converged Sinkhorn solve is too slow for a training loop here).
    pub const TRAINED: [Self; 7] = [
        Self::Score,
        Self::Algorithm2,
        Self::Algorithm2Gaussian,
        Self::SinkhornDivergence,
        Self::SinkhornProxy,
        Self::Mmd,
        Self::Sliced,
    ];

    /// A label for the tables.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Score => "KL / score (Gaussian mean shift)",
            Self::Algorithm2 => "Algorithm 2 (two-axis, Laplace)",
            Self::Algorithm2Gaussian => "Algorithm 2 (two-axis, Gaussian)",
            Self::SinkhornDivergence => "Sinkhorn divergence (GeomLoss solve)",
            Self::SinkhornConverged => "Sinkhorn divergence (converged)",
            Self::SinkhornProxy => "Sinkhorn proxy",
            Self::Mmd => "MMD (Gaussian)",
            Self::Sliced => "sliced Wasserstein",
        }
    }

    /// The hyper-parameter's name.
    pub const fn parameter(self) -> &'static str {
        match self {
            Self::Score | Self::Algorithm2Gaussian | Self::Mmd => "σ",
            Self::Algorithm2 => "τ",
            Self::SinkhornDivergence | Self::SinkhornConverged | Self::SinkhornProxy => "blur",
            Self::Sliced => "directions",
        }
    }

    /// The tuning grid of the hyper-parameter for training; `wide` for the ring of Gaussians,
    /// whose modes sit at radius 1 around an untrained generator's samples (the second paper uses
    /// 0.30 there), else for the checkerboard.
    pub const fn grid(self, wide: bool) -> &'static [f32] {
        match (self, wide) {
            (Self::Sliced, _) => &[16.0, 64.0, 256.0],
            (_, true) => &[0.05, 0.1, 0.2, 0.3],
            (_, false) => &[0.05, 0.1, 0.2],
        }
    }

    /// Smaller regularisations trained on the checkerboard for the proxy and Algorithm 2 (the
    /// third paper's tolerance comparison), beyond [`Flow::grid`].
    pub const fn small_regularisations(self) -> &'static [f32] {
        match self {
            Self::SinkhornProxy | Self::Algorithm2 | Self::Algorithm2Gaussian => {
                &[0.005, 0.01, 0.02]
            }
            _ => &[],
        }
    }

    /// The grid of the particle experiment (modes 3 apart: up to scales where they overlap).
    pub const fn modes_grid(self) -> &'static [f32] {
        match self {
            Self::Sliced => &[16.0, 64.0, 256.0],
            _ => &[0.05, 0.1, 0.2, 0.5, 1.0],
        }
    }

    /// The field and its temperature at hyper-parameter `h`.
    pub fn field(self, h: f32) -> (DriftField, f32) {
        // GeomLoss's loop exactly: ε-scaling 0.5, averaged updates, no iterations after it.
        let sinkhorn = SinkhornConfig {
            update: UpdateRule::Symmetric,
            scaling: Some(0.5),
            tolerance: 0.0,
            max_iterations: 0,
            ..SinkhornConfig::default()
        };
        match self {
            Self::Score => (DriftField::MeanShift(KernelFamily::Gaussian), h),
            Self::Algorithm2 => (
                DriftField::TwoAxis(KernelFamily::Laplace, SelfMask::OFFICIAL_DEMO),
                h,
            ),
            Self::Algorithm2Gaussian => (
                DriftField::TwoAxis(KernelFamily::Gaussian, SelfMask::OFFICIAL_DEMO),
                h,
            ),
            Self::SinkhornDivergence => (DriftField::Sinkhorn(sinkhorn), h),
            Self::SinkhornConverged => (
                DriftField::Sinkhorn(SinkhornConfig {
                    update: UpdateRule::Alternating,
                    scaling: Some(0.5),
                    tolerance: 1.0e-3,
                    max_iterations: 1000,
                    ..SinkhornConfig::default()
                }),
                h,
            ),
            Self::SinkhornProxy => (DriftField::SinkhornProxy(sinkhorn), h),
            Self::Mmd => (DriftField::MmdFlow(KernelFamily::Gaussian), h),
            Self::Sliced => (
                DriftField::SlicedWasserstein {
                    directions: h as usize,
                },
                1.0,
            ),
        }
    }

    /// The particle-flow step `η` at hyper-parameter `h`: ½ for the normalised fields (each a
    /// displacement), `σ²/2` for the MMD flow (its unnormalised kernel gradients scale as
    /// `1/σ²`).
    pub fn particle_step(self, h: f32) -> f32 {
        match self {
            Self::Mmd => 0.5 * h * h,
            _ => 0.5,
        }
    }
}

/// The two-mode set-up: `p` data points split evenly between isotropic Gaussians (std `0.1`) at
/// `(±half_gap, 0)`, and `n` particles with `left` of them on the left mode (the rest on the
/// right), both coordinate-major.
pub fn two_modes(
    n: usize,
    p: usize,
    left: usize,
    half_gap: f32,
    rng: &mut Xoshiro256PlusPlus,
) -> (Vec<f32>, Vec<f32>) {
    let mut cloud = |count: usize, on_left: usize| {
        let mut out = vec![0.0; 2 * count];
        fill_standard_normal(rng, &mut out);
        for v in &mut out {
            *v *= 0.1;
        }
        for (i, x) in out.iter_mut().take(count).enumerate() {
            *x += if i < on_left { -half_gap } else { half_gap };
        }
        out
    };
    let data = cloud(p, p / 2);
    let particles = cloud(n, left);
    (particles, data)
}

/// Fraction of the `n` points of a coordinate-major cloud with a positive first coordinate.
pub fn right_fraction(points: &[f32], n: usize) -> f64 {
    points.iter().take(n).filter(|x| **x > 0.0).count() as f64 / n as f64
}

/// `x ← x + η V(x)` for `steps` steps (the particles are also the negatives); returns the RMS of
/// the last drift `sqrt(mean V²)` (per coordinate).
pub fn particle_flow(
    flow: Flow,
    h: f32,
    particles: &mut [f32],
    data: &[f32],
    steps: usize,
    rng: &mut Xoshiro256PlusPlus,
) -> Result<f64, Error> {
    let (n, p) = (particles.len() / 2, data.len() / 2);
    let (field, temperature) = flow.field(h);
    let eta = flow.particle_step(h);
    let mut scratch = vec![0.0; field.workspace_len(n, p, 2)];
    let mut drift = vec![0.0; 2 * n];
    let positives = CloudView::<2>::from_coordinate_major(data, p)?;
    for _ in 0..steps {
        let queries = CloudView::<2>::from_coordinate_major(particles, n)?;
        field.evaluate(
            &[temperature],
            rng,
            &queries,
            &positives,
            &mut scratch,
            &mut drift,
        )?;
        for (x, v) in particles.iter_mut().zip(&drift) {
            *x += eta * v;
        }
    }
    let mean_square = drift.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / drift.len() as f64;
    Ok(mean_square.sqrt())
}
