//! The shapes of the Sinkhorn examples, tests and benches: two interlocked tori in 3D and an
//! annulus with a disc in 2D (extent about 1, like GeomLoss's examples), and the deformation that
//! gives the second cloud (`examples/pruned_sinkhorn.rs`, `tests/multiscale_sinkhorn.rs`,
//! `benches/sinkhorn.rs`).
#![allow(dead_code, clippy::cast_precision_loss)]

use rand_core::Rng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// A uniform number in `[0, 1)`.
pub fn unit(rng: &mut Xoshiro256PlusPlus) -> f32 {
    (rng.next_u32() >> 8) as f32 / (1_u32 << 24) as f32
}

/// Points on two interlocked tori (major radius 0.3, minor 0.1; one in the `xy` plane centred
/// at `(−0.15, 0, 0)`, one in the `xz` plane at `(0.15, 0, 0)`), with noise of 0.01.
pub fn tori(rng: &mut Xoshiro256PlusPlus, n: usize) -> Vec<[f32; 3]> {
    let tau = core::f32::consts::TAU;
    (0..n)
        .map(|i| {
            let (u, v) = (tau * unit(rng), tau * unit(rng));
            let radial = 0.3 + 0.1 * v.cos();
            let (a, b, c) = (radial * u.cos(), radial * u.sin(), 0.1 * v.sin());
            let noise = [0; 3].map(|_| 0.01 * (unit(rng) - 0.5));
            let p = if i % 2 == 0 {
                [a - 0.15, b, c]
            } else {
                [a + 0.15, c, b]
            };
            [p[0] + noise[0], p[1] + noise[1], p[2] + noise[2]]
        })
        .collect()
}

/// Points in an annulus (radii 0.35 to 0.45) and a disc (radius 0.15) at its centre.
pub fn rings(rng: &mut Xoshiro256PlusPlus, n: usize) -> Vec<[f32; 2]> {
    let tau = core::f32::consts::TAU;
    (0..n)
        .map(|i| {
            let angle = tau * unit(rng);
            let radius = if i % 3 == 0 {
                0.15 * unit(rng).sqrt()
            } else {
                0.35 + 0.1 * unit(rng)
            };
            [radius * angle.cos(), radius * angle.sin()]
        })
        .collect()
}

/// `p` rotated by 30° in its first two coordinates and stretched by 10 % along the first.
pub fn deformed<const D: usize>(p: [f32; D]) -> [f32; D] {
    let (s, c) = (30.0_f32.to_radians().sin(), 30.0_f32.to_radians().cos());
    let (x, y) = (p[0], p[1]);
    let mut q = p;
    q[0] = 1.1 * (c * x - s * y);
    q[1] = s * x + c * y;
    q
}
