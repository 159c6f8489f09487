//! The crate's one SIMD layer: vector type, lane loads, `exp`, `sqrt`, and the streaming
//! (online) log-sum-exp that every kernel reduction goes through.
//!
//! Lanes run over *particles* (never over the 2 or 3 coordinates of a point). The vector type is
//! `wide::f32x8`; `wide` picks its backend at compile time (AVX/AVX2+FMA with
//! `-C target-cpu=x86-64-v3`, two SSE halves on default x86-64, plain arrays on Cortex-M).
//!
//! Nothing here uses `wide`'s approximate `recip`/`recip_sqrt`; divisions are true divisions.

use wide::{f32x8, u32x8};

/// The vector type of every hot loop.
pub(crate) type F32s = f32x8;
/// Number of lanes of [`F32s`].
pub(crate) const LANES: usize = 8;

/// The logit given to excluded pairs (self-mask "exclude"). Finite on purpose: it keeps
/// `l − m` finite inside the online log-sum-exp (an all-excluded prefix yields `exp(0)`
/// weights that are wiped out by the rescale as soon as a real logit arrives), and `exp` of it
/// is exactly 0.
pub(crate) const EXCLUDED_LOGIT: f32 = -1.0e30;

/// Below this argument `exp` returns exactly 0 (the true value is below `f32::MIN_POSITIVE`).
const EXP_FLUSH: f32 = -88.0;

/// `e^x` for `x ≤ 88`, lane-wise.
///
/// Cephes-style: `x = n·ln2 + r` with `|r| ≤ ln2/2` (two-constant Cody–Waite reduction),
/// a degree-6 minimax polynomial for `e^r`, and `2^n` built from the exponent bits. Maximum
/// relative error 2 ulp (checked against `f64` in the tests) for normal results; arguments
/// below −87.3 give 0 or a value within one ulp of `f32::MIN_POSITIVE` instead of a subnormal.
/// Arguments must not be NaN (inputs are validated at every entry point).
#[inline(always)]
pub(crate) fn exp(x: F32s) -> F32s {
    const LOG2_E: f32 = core::f32::consts::LOG2_E;
    // 1.5 · 2^23: adding it rounds to the nearest integer and leaves that integer in the low bits.
    const ROUND_MAGIC: f32 = 12_582_912.0;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.fast_max(F32s::splat(EXP_FLUSH));
    let t = x.mul_add(F32s::splat(LOG2_E), F32s::splat(ROUND_MAGIC));
    let n = t - F32s::splat(ROUND_MAGIC);
    let r = n.mul_neg_add(F32s::splat(LN2_HI), x);
    let r = n.mul_neg_add(F32s::splat(LN2_LO), r);
    let mut p = F32s::splat(1.987_569_1e-4);
    p = p.mul_add(r, F32s::splat(1.398_199_9e-3));
    p = p.mul_add(r, F32s::splat(8.333_452e-3));
    p = p.mul_add(r, F32s::splat(4.166_579_6e-2));
    p = p.mul_add(r, F32s::splat(1.666_666_5e-1));
    p = p.mul_add(r, F32s::splat(0.5));
    let r2 = r * r;
    let er = p.mul_add(r2, r) + F32s::splat(1.0);
    // The low bits of `t` hold n (two's complement); shifting them into the exponent field and
    // adding the bias builds 2^n. For n = −127 (x ≤ −87.3) this is +0.0.
    let two_n = f32x8::from_bits((t.to_bits() << 23) + u32x8::splat(127 << 23));
    er * two_n
}

/// Lane-wise square root: the hardware instruction where `wide` has one, `libm` per lane
/// elsewhere (`wide`'s own no-std fallback goes through a software `f64` square root).
#[inline(always)]
pub(crate) fn sqrt(x: F32s) -> F32s {
    #[cfg(any(
        target_feature = "sse",
        target_feature = "simd128",
        all(target_feature = "neon", target_arch = "aarch64")
    ))]
    {
        x.sqrt()
    }
    #[cfg(not(any(
        target_feature = "sse",
        target_feature = "simd128",
        all(target_feature = "neon", target_arch = "aarch64")
    )))]
    {
        F32s::new(x.to_array().map(libm::sqrtf))
    }
}

/// Lane `k` set (all bits), the others clear: a select mask for one particle of a block.
#[inline(always)]
pub(crate) fn lane_mask(k: usize) -> F32s {
    const INDEX: [f32; LANES] = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];
    #[allow(clippy::cast_precision_loss)]
    F32s::new(INDEX).simd_eq(F32s::splat(k as f32))
}

/// Maximum over the first `count` vectors of `values` (lane-wise), starting from `init`.
#[inline(always)]
pub(crate) fn max_of(values: &[F32s], init: F32s) -> F32s {
    values.iter().fold(init, |m, &v| m.fast_max(v))
}

/// A lane-wise streaming log-sum-exp: running maximum `m` and shifted sum `s`, so that
/// `LSE = m + ln s` is exact (no overflow, no underflow of the dominant term) whatever the
/// range of the logits. Values are absorbed a tile at a time: one rescale per tile, one `exp`
/// per value (the classical `s·e^(m−m') + e^(l−m')` update costs two `exp`s per value).
#[derive(Clone, Copy)]
pub(crate) struct OnlineLogSumExp {
    /// Running maximum per lane.
    pub(crate) max: F32s,
    /// Running sum of `exp(l − max)` per lane.
    pub(crate) sum: F32s,
}

impl OnlineLogSumExp {
    /// The empty reduction.
    #[inline(always)]
    pub(crate) fn new() -> Self {
        Self {
            max: F32s::splat(EXCLUDED_LOGIT),
            sum: F32s::splat(0.0),
        }
    }

    /// Turns `logits` into weights `exp(l − m')` in place, where `m'` is the new running
    /// maximum (`tile_max` must bound the logits from above, lane-wise), folds them into the sum, and returns the factor `exp(m − m')` by which any
    /// accumulator kept alongside (weighted sums of coordinates) must be rescaled.
    #[inline(always)]
    pub(crate) fn absorb(&mut self, logits: &mut [F32s], tile_max: F32s) -> F32s {
        let new_max = self.max.fast_max(tile_max);
        let rescale = exp(self.max - new_max);
        let mut tile_sum = F32s::splat(0.0);
        for l in logits.iter_mut() {
            let w = exp(*l - new_max);
            *l = w;
            tile_sum += w;
        }
        self.sum = self.sum.mul_add(rescale, tile_sum);
        self.max = new_max;
        rescale
    }

    /// Folds `logits` into the reduction without keeping the weights: one rescale per tile,
    /// one `exp` per value.
    #[inline(always)]
    pub(crate) fn absorb_sum(&mut self, logits: &[F32s], tile_max: F32s) {
        let new_max = self.max.fast_max(tile_max);
        let mut tile_sum = self.sum * exp(self.max - new_max);
        for l in logits {
            tile_sum += exp(*l - new_max);
        }
        self.sum = tile_sum;
        self.max = new_max;
    }

    /// `m + ln s` per lane (`ln` through `libm`, once per particle, not per pair).
    #[inline]
    pub(crate) fn value(&self) -> [f32; LANES] {
        let m = self.max.to_array();
        let s = self.sum.to_array();
        let mut out = [0.0_f32; LANES];
        for ((o, m), s) in out.iter_mut().zip(m).zip(s) {
            *o = m + libm::logf(s);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    fn ulps(a: f32, b: f64) -> f64 {
        let b32 = b as f32;
        let ulp = f64::from(f32::from_bits(b32.abs().to_bits() + 1) - b32.abs());
        (f64::from(a) - b).abs() / ulp
    }

    /// `exp` within 2 ulp of the `f64` value over the whole range that yields normal results, and
    /// exactly 0 far below it.
    #[test]
    fn exp_is_accurate_to_two_ulp() {
        let mut worst = 0.0_f64;
        let mut x = -87.0_f32;
        while x < 88.0 {
            let v = F32s::new([
                x,
                x + 1e-3,
                x + 2e-3,
                x + 3e-3,
                x + 4e-3,
                x + 5e-3,
                x + 6e-3,
                x + 7e-3,
            ]);
            for (got, xi) in exp(v).to_array().iter().zip(v.to_array()) {
                worst = worst.max(ulps(*got, f64::from(xi).exp()));
            }
            x += 0.0173;
        }
        assert!(worst <= 2.0, "worst error {worst} ulp");
        let below = exp(F32s::splat(-1.0e30)).to_array();
        assert!(below.iter().all(|v| *v == 0.0));
        assert!(exp(F32s::splat(-89.0)).to_array().iter().all(|v| *v == 0.0));
        assert!(
            exp(F32s::splat(f32::NEG_INFINITY))
                .to_array()
                .iter()
                .all(|v| *v == 0.0)
        );
        assert_eq!(exp(F32s::splat(0.0)).to_array(), [1.0; LANES]);
    }

    #[test]
    fn online_log_sum_exp_matches_direct_sum() {
        let logits: std::vec::Vec<f32> = (0..37)
            .map(|k| -((k * 7919 % 101) as f32) * 3.1 - 5e4)
            .collect();
        let mut lse = OnlineLogSumExp::new();
        for chunk in logits.chunks(5) {
            let mut tile: std::vec::Vec<F32s> = chunk.iter().map(|&l| F32s::splat(l)).collect();
            let tile_max = max_of(&tile, F32s::splat(EXCLUDED_LOGIT));
            lse.absorb(&mut tile, tile_max);
        }
        let m = logits
            .iter()
            .fold(f64::NEG_INFINITY, |m, &l| m.max(f64::from(l)));
        let want = m + logits
            .iter()
            .map(|&l| (f64::from(l) - m).exp())
            .sum::<f64>()
            .ln();
        for v in lse.value() {
            assert!(
                (f64::from(v) - want).abs() < 1e-2 * (1.0 + want.abs() * 1e-6),
                "{v} vs {want}"
            );
        }
    }
}
