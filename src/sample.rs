//! Random numbers without `std`: uniform and standard normal `f32` from any `rand_core` generator
//! (the crate uses `rand_xoshiro` for reproducible runs).

use rand_core::Rng;

/// Uniform on `[0, 1)`, with 24 random bits (every representable multiple of `2^−24`).
///
/// # Example
/// ```
/// use drifting::sample::uniform;
/// use rand_core::SeedableRng;
/// use rand_xoshiro::Xoshiro256PlusPlus;
/// let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
/// for _ in 0..1000 {
///     let u = uniform(&mut rng);
///     assert!((0.0..1.0).contains(&u) && u * 16_777_216.0 == (u * 16_777_216.0).floor());
/// }
/// ```
#[inline]
pub fn uniform<R: Rng + ?Sized>(rng: &mut R) -> f32 {
    #[allow(clippy::cast_precision_loss)]
    let u = (rng.next_u32() >> 8) as f32 * (1.0 / 16_777_216.0);
    u
}

/// Fills `out` with independent standard normal values (Box–Muller: `√(−2 ln u₁)·(cos, sin)(2πu₂)`
/// with `u₁ ∈ (0, 1]`, so the logarithm is always finite; the largest value is about 5.8).
///
/// # Example
/// ```
/// use drifting::sample::fill_standard_normal;
/// use rand_core::SeedableRng;
/// use rand_xoshiro::Xoshiro256PlusPlus;
/// let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
/// let mut noise = [0.0_f32; 10_001]; // an odd length is fine
/// fill_standard_normal(&mut rng, &mut noise);
/// let n = noise.len() as f32;
/// let mean = noise.iter().sum::<f32>() / n;
/// let variance = noise.iter().map(|z| (z - mean) * (z - mean)).sum::<f32>() / n;
/// assert!(mean.abs() < 0.05 && (variance - 1.0).abs() < 0.05);
/// assert!(noise.iter().all(|z| z.abs() < 6.0)); // Box–Muller with 24-bit uniforms: |z| ≤ 5.8
/// ```
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
