//! The clouds of the pruning tests (`tests/pruned.rs`, `tests/pruned_two_axis.rs`): uniform fill
//! of `[−4, 4]^D`, four tight clusters, a unit cloud with far outliers, heavy duplicates.

use rand_core::Rng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// The names of the cloud kinds, in the order of [`cloud`]'s `kind`.
pub const KINDS: [&str; 4] = ["uniform", "clusters", "outliers", "duplicates"];

/// A uniform value in `[0, 1)` (24 bits).
pub fn uniform(rng: &mut Xoshiro256PlusPlus) -> f32 {
    (rng.next_u32() >> 8) as f32 / (1_u32 << 24) as f32
}

/// `count` points of kind `kind` (an index into [`KINDS`]).
#[allow(clippy::cast_precision_loss)]
pub fn cloud<const D: usize>(
    rng: &mut Xoshiro256PlusPlus,
    kind: usize,
    count: usize,
) -> Vec<[f32; D]> {
    (0..count)
        .map(|i| match kind {
            0 => core::array::from_fn(|_| uniform(rng) * 8.0 - 4.0),
            1 => {
                let centre = (i % 4) as f32 * 3.0;
                core::array::from_fn(|_| centre + (uniform(rng) - 0.5) * 0.2)
            }
            2 => {
                let scale = if i % 300 == 0 { 1e3 } else { 1.0 };
                core::array::from_fn(|_| (uniform(rng) - 0.5) * scale)
            }
            _ => core::array::from_fn(|d| ((i % 5) as f32) * 0.5 + d as f32),
        })
        .collect()
}
