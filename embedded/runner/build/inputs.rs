//! Deterministic input clouds (a fixed-seed SplitMix64 and Box–Muller in `f64`, rounded once to
//! `f32`); written to `inputs.rs` so host and target use bit-identical inputs.

use crate::cases::{D, N, P, Q};

struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uniform(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

fn blob(rng: &mut SplitMix, count: usize, centres: &[[f64; D]], spread: f64) -> Vec<[f32; D]> {
    (0..count)
        .map(|i| {
            let c = centres[i % centres.len()];
            core::array::from_fn(|d| (c[d] + spread * rng.normal()) as f32)
        })
        .collect()
}

pub struct Inputs {
    /// Generated samples: one blob around (0.3, −0.2).
    pub queries: Vec<[f32; D]>,
    /// Data: two modes at (−1, 0) and (1, 0.5).
    pub positives: Vec<[f32; D]>,
    /// Non-uniform weights of the positives, summing to 1.
    pub positive_weights: Vec<f32>,
    /// A separate negative cloud around (0, 0.4).
    pub negatives: Vec<[f32; D]>,
}

pub fn generate() -> Inputs {
    let mut rng = SplitMix(0x5EED_D81F_7146);
    let queries = blob(&mut rng, N, &[[0.3, -0.2]], 0.5);
    let positives = blob(&mut rng, P, &[[-1.0, 0.0], [1.0, 0.5]], 0.25);
    let negatives = blob(&mut rng, Q, &[[0.0, 0.4]], 0.6);
    let raw: Vec<f64> = (0..P).map(|_| 0.5 + rng.uniform()).collect();
    let total: f64 = raw.iter().sum();
    let positive_weights = raw.iter().map(|w| (w / total) as f32).collect();
    Inputs {
        queries,
        positives,
        positive_weights,
        negatives,
    }
}
