//! The first paper's identity (Fig. 1; docs/mathematics.md §3): with a Gaussian kernel the mean-shift
//! drift is `σ²(∇log p_σ − ∇log q_σ)`, `π_σ = π * N(0, σ²I)`. Shared by
//! `examples/paper_score_difference.rs` and `tests/score_difference.rs`: a 4-mode 2D mixture
//! (means (±1, ±1), std 0.3), `q` the same mixture shifted by (0.3, −0.2), σ = 0.5.
#![allow(dead_code)]

use drifting::sample::{fill_standard_normal, uniform};
// On all cores with the `std` feature (the same bits as without).
use drifting::mean_shift_drift;
use drifting::{CloudView, Kernel, MeanShiftConfig, Negatives};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

pub const MEANS: [[f64; 2]; 4] = [[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]];
pub const STD: f64 = 0.3;
pub const SHIFT: [f64; 2] = [0.3, -0.2];
pub const SIGMA: f64 = 0.5;

/// `n` samples of the equal-weight 4-mode mixture (means (±1, ±1), std 0.3) shifted by `shift`,
/// coordinate-major.
pub fn mixture(seed: u64, n: usize, shift: [f64; 2]) -> Vec<f32> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut z = vec![0.0_f32; 2 * n];
    fill_standard_normal(&mut rng, &mut z);
    let mut out = vec![0.0_f32; 2 * n];
    for i in 0..n {
        let m = ((uniform(&mut rng) * 4.0) as usize).min(3);
        for d in 0..2 {
            out[d * n + i] = (MEANS[m][d] + shift[d] + STD * f64::from(z[2 * i + d])) as f32;
        }
    }
    out
}

/// `σ² ∇log π_σ(x)` for the mixture shifted by `shift`: each mode is `N(μ, (s² + σ²)I)`.
pub fn smoothed_score_times_sigma2(x: [f64; 2], shift: [f64; 2]) -> [f64; 2] {
    let var = STD * STD + SIGMA * SIGMA;
    let logs: Vec<f64> = MEANS
        .iter()
        .map(|m| {
            -((x[0] - m[0] - shift[0]).powi(2) + (x[1] - m[1] - shift[1]).powi(2)) / (2.0 * var)
        })
        .collect();
    let top = logs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let w: Vec<f64> = logs.iter().map(|l| (l - top).exp()).collect();
    let total: f64 = w.iter().sum();
    let mut g = [0.0; 2];
    for (wk, m) in w.iter().zip(MEANS) {
        for d in 0..2 {
            g[d] += wk / total * (m[d] + shift[d] - x[d]) / var;
        }
    }
    [SIGMA * SIGMA * g[0], SIGMA * SIGMA * g[1]]
}

/// The query points: either 256 fixed draws of `p` (where the data has mass, as drifting
/// evaluates the field) or a fixed 16 × 16 grid on `[−1.5, 1.5]²` (corners included).
pub fn queries(on_data: bool) -> Vec<[f32; 2]> {
    if on_data {
        let flat = mixture(7, 256, [0.0, 0.0]);
        (0..256).map(|i| [flat[i], flat[256 + i]]).collect()
    } else {
        (0..256)
            .map(|k| {
                [
                    -1.5 + 3.0 * (k % 16) as f32 / 15.0,
                    -1.5 + 3.0 * (k / 16) as f32 / 15.0,
                ]
            })
            .collect()
    }
}

/// Mean pointwise error `mean_i ‖V_empirical(x_i) − σ²(∇log p_σ − ∇log q_σ)(x_i)‖` (the ℓ2 error
/// of the paper's heatmap) with `samples` draws of each mixture.
pub fn mean_error(grid: &[[f32; 2]], samples: usize, seed: u64) -> f64 {
    let p = mixture(seed, samples, [0.0, 0.0]);
    let q = mixture(seed + 1, samples, SHIFT);
    let mut v = vec![0.0_f32; 2 * grid.len()];
    mean_shift_drift(
        &CloudView::from_points(grid),
        &CloudView::from_coordinate_major(&p, samples).unwrap(),
        Negatives::Cloud(CloudView::from_coordinate_major(&q, samples).unwrap()),
        &MeanShiftConfig::new(Kernel::gaussian(SIGMA as f32)),
        &mut v,
    )
    .unwrap();
    let n = grid.len();
    let mut total = 0.0;
    for (i, x) in grid.iter().enumerate() {
        let x = [f64::from(x[0]), f64::from(x[1])];
        let sp = smoothed_score_times_sigma2(x, [0.0, 0.0]);
        let sq = smoothed_score_times_sigma2(x, SHIFT);
        let e0 = f64::from(v[i]) - (sp[0] - sq[0]);
        let e1 = f64::from(v[n + i]) - (sp[1] - sq[1]);
        total += e0.hypot(e1);
    }
    total / n as f64
}
