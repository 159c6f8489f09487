//! The second paper's high-dimensional alignment experiment (Figs. 3 and 7, App. C.1-C.2),
//! shared by `examples/paper_alignment.rs` and its reduced test `tests/paper_alignment.rs`.
//!
//! Ring MoG: `p` and `q` are six-mode mixtures (std 0.40) on a ring of radius 3 in a random 2D
//! plane of `R^D`, `q` rotated by π/6. Raw MoG: `p` has six modes at radii 1.5-6.0 and `q` four
//! at 2.0-5.5, in independent random directions (std 0.5). Queries `x ~ q`; reference sets of
//! `refs` samples of each; Laplace kernel with `τ = 0.3 · mean‖x‖`. Per query, the crate's
//! `score_diagnostics` gives the mean shifts `V_p, V_q`, scores `s_p, s_q`, pre-conditioners
//! `τ α_p, τ α_q` and residuals `δ_p, δ_q`; the experiment reports, over the queries, with
//! `Δ = V_p − V_q` and `Δs = s_p − s_q`:
//! the least-squares scale `C* = ⟨Δ, Δs⟩/‖Δs‖²`, the absolute error `E‖Δ − C*Δs‖²`, the relative
//! error `E‖Δ − C*Δs‖²/E‖Δ‖²`, the cosine `⟨Δ, Δs⟩/(‖Δ‖‖Δs‖)` of the stacked fields, the
//! pre-conditioner ratio `ᾱ_p/ᾱ_q`, the residual gap `E‖δ_p − δ_q‖²` and the predicted scale
//! `C_theory = τ(ᾱ_p + ᾱ_q)/2`.
#![allow(dead_code)]

use drifting::sample::{fill_standard_normal, uniform};
use drifting::score::{ScoreFields, least_squares_scale, score_diagnostics};
use drifting::{CloudView, Kernel};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// The two synthetic families.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Ring,
    Raw,
}

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Self::Ring => "Ring MoG",
            Self::Raw => "Raw MoG",
        }
    }
}

/// One dimension's measurements.
#[derive(Clone, Copy, Debug)]
pub struct Alignment {
    pub dim: usize,
    pub tau: f64,
    pub absolute_error: f64,
    pub relative_error: f64,
    pub cosine: f64,
    pub least_squares_scale: f64,
    pub theory_scale: f64,
    pub preconditioner_ratio: f64,
    pub residual_gap: f64,
}

/// A mixture: mode centres (point-major) and the noise std.
struct Mixture {
    centres: Vec<Vec<f32>>,
    std: f32,
}

impl Mixture {
    fn sample<const D: usize>(&self, rng: &mut Xoshiro256PlusPlus, n: usize) -> Vec<[f32; D]> {
        let mut noise = vec![0.0_f32; D];
        (0..n)
            .map(|_| {
                let m = ((uniform(rng) * self.centres.len() as f32) as usize)
                    .min(self.centres.len() - 1);
                fill_standard_normal(rng, &mut noise);
                std::array::from_fn(|d| self.centres[m][d] + self.std * noise[d])
            })
            .collect()
    }
}

fn unit_vector(rng: &mut Xoshiro256PlusPlus, dim: usize) -> Vec<f32> {
    let mut v = vec![0.0_f32; dim];
    fill_standard_normal(rng, &mut v);
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / norm).collect()
}

/// The (p, q) pair of a family in `R^dim`.
fn mixtures(family: Family, dim: usize, rng: &mut Xoshiro256PlusPlus) -> (Mixture, Mixture) {
    match family {
        Family::Ring => {
            // A random plane: two orthonormal vectors (Gram-Schmidt).
            let e1 = unit_vector(rng, dim);
            let mut e2 = unit_vector(rng, dim);
            let dot: f32 = e1.iter().zip(&e2).map(|(a, b)| a * b).sum();
            e2.iter_mut().zip(&e1).for_each(|(b, a)| *b -= dot * a);
            let norm = e2.iter().map(|x| x * x).sum::<f32>().sqrt();
            e2.iter_mut().for_each(|b| *b /= norm);
            let ring = |offset: f32| Mixture {
                centres: (0..6)
                    .map(|k| {
                        let a = std::f32::consts::TAU * k as f32 / 6.0 + offset;
                        e1.iter()
                            .zip(&e2)
                            .map(|(u, v)| 3.0 * (a.cos() * u + a.sin() * v))
                            .collect()
                    })
                    .collect(),
                std: 0.40,
            };
            (ring(0.0), ring(std::f32::consts::PI / 6.0))
        }
        Family::Raw => {
            let mut at = |radii: &[f32]| Mixture {
                centres: radii
                    .iter()
                    .map(|r| unit_vector(rng, dim).iter().map(|u| r * u).collect())
                    .collect(),
                std: 0.5,
            };
            let p = at(&[1.5, 2.5, 3.0, 4.0, 5.0, 6.0]);
            let q = at(&[2.0, 3.5, 4.0, 5.5]);
            (p, q)
        }
    }
}

struct Diagnostics {
    score: Vec<f32>,
    mean_shift: Vec<f32>,
    preconditioner: Vec<f32>,
    residual: Vec<f32>,
}

fn diagnostics<const D: usize>(queries: &[[f32; D]], refs: &[[f32; D]], tau: f32) -> Diagnostics {
    let n = queries.len();
    let mut d = Diagnostics {
        score: vec![0.0; n * D],
        mean_shift: vec![0.0; n * D],
        preconditioner: vec![0.0; n],
        residual: vec![0.0; n * D],
    };
    score_diagnostics(
        &CloudView::from_points(queries),
        &CloudView::from_points(refs),
        &Kernel::laplace(tau),
        &mut ScoreFields {
            score: &mut d.score,
            mean_shift: &mut d.mean_shift,
            preconditioner: &mut d.preconditioner,
            residual: &mut d.residual,
        },
    )
    .expect("score diagnostics");
    d
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    s / n.max(1) as f64
}

/// Runs the experiment in `R^D` with `queries` query points and `refs` reference samples.
pub fn measure<const D: usize>(
    family: Family,
    queries: usize,
    refs: usize,
    seed: u64,
) -> Alignment {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ (D as u64) << 8 ^ family as u64);
    let (p, q) = mixtures(family, D, &mut rng);
    let x = q.sample::<D>(&mut rng, queries);
    let yp = p.sample::<D>(&mut rng, refs);
    let yq = q.sample::<D>(&mut rng, refs);
    let mean_norm = mean(
        x.iter()
            .map(|v| f64::from(v.iter().map(|c| c * c).sum::<f32>().sqrt())),
    );
    let tau = 0.3 * mean_norm;
    let dp = diagnostics(&x, &yp, tau as f32);
    let dq = diagnostics(&x, &yq, tau as f32);
    let delta: Vec<f32> = dp
        .mean_shift
        .iter()
        .zip(&dq.mean_shift)
        .map(|(a, b)| a - b)
        .collect();
    let delta_s: Vec<f32> = dp.score.iter().zip(&dq.score).map(|(a, b)| a - b).collect();
    let c = least_squares_scale(&delta, &delta_s).unwrap_or(f64::NAN);
    let n = queries as f64;
    let sq = |v: &mut dyn Iterator<Item = f64>| v.map(|x| x * x).sum::<f64>() / n;
    let absolute = sq(&mut delta
        .iter()
        .zip(&delta_s)
        .map(|(a, b)| f64::from(*a) - c * f64::from(*b)));
    let energy = sq(&mut delta.iter().map(|a| f64::from(*a)));
    let cosine = drifting::score::cosine_alignment(&delta, &delta_s).unwrap_or(f64::NAN);
    // The pre-conditioner outputs are τ·α.
    let alpha_p = mean(dp.preconditioner.iter().map(|c| f64::from(*c))) / tau;
    let alpha_q = mean(dq.preconditioner.iter().map(|c| f64::from(*c))) / tau;
    let gap = sq(&mut dp
        .residual
        .iter()
        .zip(&dq.residual)
        .map(|(a, b)| f64::from(*a) - f64::from(*b)));
    Alignment {
        dim: D,
        tau,
        absolute_error: absolute,
        relative_error: absolute / energy,
        cosine,
        least_squares_scale: c,
        theory_scale: tau * 0.5 * (alpha_p + alpha_q),
        preconditioner_ratio: alpha_p / alpha_q,
        residual_gap: gap,
    }
}

/// `measure` at a runtime dimension (the supported set).
pub fn measure_dim(
    family: Family,
    dim: usize,
    queries: usize,
    refs: usize,
    seed: u64,
) -> Option<Alignment> {
    Some(match dim {
        2 => measure::<2>(family, queries, refs, seed),
        4 => measure::<4>(family, queries, refs, seed),
        8 => measure::<8>(family, queries, refs, seed),
        16 => measure::<16>(family, queries, refs, seed),
        32 => measure::<32>(family, queries, refs, seed),
        64 => measure::<64>(family, queries, refs, seed),
        128 => measure::<128>(family, queries, refs, seed),
        256 => measure::<256>(family, queries, refs, seed),
        512 => measure::<512>(family, queries, refs, seed),
        1024 => measure::<1024>(family, queries, refs, seed),
        _ => return None,
    })
}

/// Least-squares slope of `ln y` against `ln x`.
pub fn log_log_slope(points: &[(f64, f64)]) -> f64 {
    let logs: Vec<(f64, f64)> = points.iter().map(|(x, y)| (x.ln(), y.ln())).collect();
    let n = logs.len() as f64;
    let (mx, my) = (
        logs.iter().map(|p| p.0).sum::<f64>() / n,
        logs.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let num: f64 = logs.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let den: f64 = logs.iter().map(|(x, _)| (x - mx) * (x - mx)).sum();
    num / den
}
