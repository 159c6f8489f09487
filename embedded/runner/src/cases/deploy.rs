//! Deploying a host-trained generator: the official demo's `Mlp<32, 256, 2>` (SiLU), saved by
//! `examples/train.rs --save` with `Mlp::save`, read back with `Mlp::load` and run forward on
//! fixed noise. The blob itself is not part of the case: the build script reads it from
//! `DRIFTING_GENERATOR_BLOB` and the device `include_bytes!` its copy in `OUT_DIR`.

use drifting::sample::fill_standard_normal;
use drifting::{Error, Mlp};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// The generator of `examples/train.rs`.
pub type Net = Mlp<32, 256, 2>;
/// Parameters of [`Net`] (140 546: 562 184 bytes of `f32`).
pub const PARAMETERS: usize = Net::PARAMETERS;
/// Samples generated from the loaded generator.
pub const SAMPLES: usize = 16;
/// Cache of the forward pass over [`SAMPLES`].
pub const CACHE: usize = Net::cache_len(SAMPLES);
/// Seed of the input noise.
const NOISE_SEED: u64 = 0xde91_0001;

/// The fixed input noise, `32 × SAMPLES` standard normal values (feature-major).
pub fn noise(out: &mut [f32; 32 * SAMPLES]) {
    fill_standard_normal(&mut Xoshiro256PlusPlus::seed_from_u64(NOISE_SEED), out);
}

/// Loads `blob` into `params` (`Mlp::load`: header, shape, checksum and finiteness checks) and
/// returns the generator with the activation the blob names.
pub fn load(blob: &[u8], params: &mut [f32]) -> Result<Net, Error> {
    Net::load(blob, params)
}

/// `out = net(noise)` (feature-major, `2 × SAMPLES`).
pub fn generate(
    net: &Net,
    params: &[f32],
    noise: &[f32],
    cache: &mut [f32],
    out: &mut [f32],
) -> Result<(), Error> {
    net.forward(params, noise, SAMPLES, cache, out)
}
