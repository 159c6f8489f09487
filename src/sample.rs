//! Random numbers without `std`: uniform and standard normal `f32` from any `rand_core` generator
//! (the crate uses `rand_xoshiro` for reproducible runs).

use rand_core::Rng;

/// Uniform on `[0, 1)`, with 24 random bits (every representable multiple of `2^−24`).
#[inline]
pub fn uniform<R: Rng + ?Sized>(rng: &mut R) -> f32 {
    #[allow(clippy::cast_precision_loss)]
    let u = (rng.next_u32() >> 8) as f32 * (1.0 / 16_777_216.0);
    u
}

/// Fills `out` with independent standard normal values (Box–Muller: `√(−2 ln u₁)·(cos, sin)(2πu₂)`
/// with `u₁ ∈ (0, 1]`, so the logarithm is always finite; the largest value is about 5.8).
pub fn fill_standard_normal<R: Rng + ?Sized>(rng: &mut R, out: &mut [f32]) {
    let mut pairs = out.chunks_exact_mut(2);
    for pair in &mut pairs {
        let (a, b) = normal_pair(rng);
        if let [x, y] = pair {
            *x = a;
            *y = b;
        }
    }
    if let [last] = pairs.into_remainder() {
        *last = normal_pair(rng).0;
    }
}

fn normal_pair<R: Rng + ?Sized>(rng: &mut R) -> (f32, f32) {
    let u1 = 1.0 - uniform(rng);
    let u2 = uniform(rng);
    let radius = libm::sqrtf(-2.0 * libm::logf(u1));
    let (sin, cos) = libm::sincosf(core::f32::consts::TAU * u2);
    (radius * cos, radius * sin)
}
