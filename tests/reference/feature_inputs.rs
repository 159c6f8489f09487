//! The inputs of `feature_values.rs`, regenerated bit for bit: the Rust twin of the generator in
//! `make_feature_references.py` (splitmix64 → uniform `(z >> 11)·2⁻⁵³` → Irwin–Hall normal
//! `(u1 + u2 + u3 + u4 − 2)·√3` → `centre + spread·normal` in f64, rounded to f32). Only exactly
//! rounded IEEE operations, in the same order as the Python, so both produce the same bits.
//!
//! Include it beside the values, as sibling modules named `feature_values` and `feature_inputs`:
//!
//! ```ignore
//! #[path = "reference/feature_values.rs"]
//! mod feature_values;
//! #[path = "reference/feature_inputs.rs"]
//! mod feature_inputs;
//! ```
#![allow(dead_code)]

use super::feature_values::{Cloud, FeatureCase};

/// √3 as the literal the Python uses (no `sqrt` at run time).
pub const SQRT_3: f64 = 1.7320508075688772;

/// The splitmix64 generator (Steele, Lea, Flood 2014; Vigna's reference constants).
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`: the top 53 bits times `2⁻⁵³` (exact).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Approximately standard normal: `(u1 + u2 + u3 + u4 − 2)·√3` (mean 0, variance 1).
    pub fn normal(&mut self) -> f64 {
        let (u1, u2, u3, u4) = (
            self.uniform(),
            self.uniform(),
            self.uniform(),
            self.uniform(),
        );
        (((u1 + u2) + u3) + u4 - 2.0) * SQRT_3
    }
}

/// One group of one family, `[count, channels]` row-major, appended to `out`: channel centres
/// first (`centre + channel_spread·normal`, one per channel), then token-major values
/// `centre_s + spread·normal` rounded to f32, minus `translate` in f32.
pub fn cloud(params: &Cloud, count: usize, channels: usize, translate: f32, out: &mut Vec<f32>) {
    let mut rng = SplitMix64::new(params.seed);
    let centres: Vec<f64> = (0..channels)
        .map(|_| params.centre + params.channel_spread * rng.normal())
        .collect();
    for _ in 0..count {
        for centre in &centres {
            let value = (centre + params.spread * rng.normal()) as f32;
            out.push(value - translate);
        }
    }
}

/// `(gen [B, Cg, S], uncond [B, Cu, S], pos [B, Cp, S])`, row-major (token-major, channels
/// contiguous): exactly the f32 inputs the float64 reference used.
pub fn inputs(case: &FeatureCase) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    inputs_translated(case, case.translate as f32)
}

/// The same clouds with `translate` replaced (e.g. `0.0`: the shifted inputs of a
/// `Float32Check`, exactly the case's inputs plus the shift).
pub fn inputs_translated(case: &FeatureCase, translate: f32) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let family = |clouds: &[Cloud], count: usize| {
        assert_eq!(
            clouds.len(),
            case.groups,
            "{}: one cloud per group",
            case.name
        );
        let mut out = Vec::with_capacity(case.groups * count * case.channels);
        for params in clouds {
            cloud(params, count, case.channels, translate, &mut out);
        }
        out
    };
    (
        family(case.gen_clouds, case.generated),
        family(case.uncond_clouds, case.unconditional),
        family(case.pos_clouds, case.positives),
    )
}

/// The explicit per-token weights `(gen [B, Cg], uncond [B, Cu], pos [B, Cp])`, when the case
/// has them (exactly f32 values).
pub fn weights(case: &FeatureCase) -> Option<(Vec<f32>, Vec<f32>, Vec<f32>)> {
    let to_f32 = |v: &[f64]| v.iter().map(|&w| w as f32).collect::<Vec<f32>>();
    case.weights.as_ref().map(|w| {
        (
            to_f32(w.generated),
            to_f32(w.unconditional),
            to_f32(w.positives),
        )
    })
}
