//! Deploying a host-trained generator (M4F only: the 562 KB blob does not fit the micro:bit's
//! 256 KB flash, and this module is not compiled for it, so neither is the blob).
//!
//! The blob `examples/train.rs --save` wrote is in flash (`include_bytes!` of the build script's
//! copy); `Mlp::load` checks it and copies the parameters into RAM (it reads bytes, so the
//! blob needs no alignment), and the forward pass on the fixed noise must give the samples the
//! host computed from the same blob. Tolerance `1e-5` relative to the largest coordinate, as
//! for the other MLP tests (same GEMM kernel, same `exp`); measured: bit-identical.
//!
//! RAM: the parameters (562 184 B) and the forward cache (`Mlp::cache_len(16)`, 362 528 B,
//! most of it one packed 256 × 256 weight panel) are on the stack: fine for the AN386's 4 MB.

use crate::cases::deploy as case;
use crate::harness::{count, lib, same, Errors, Report, Test};

mod expected {
    include!(concat!(env!("OUT_DIR"), "/deploy_expected.rs"));
}

/// The blob, in flash.
static BLOB: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/generator.bin"));

const TOLERANCE: f32 = 1.0e-5;

pub const TESTS: &[Test] = &[("load_and_generate", load_and_generate)];

fn load_and_generate() -> Result<Report, &'static str> {
    same(
        BLOB.len(),
        expected::BLOB_BYTES,
        "blob length differs from the host's",
    )?;
    let mut params = [0.0f32; case::PARAMETERS];
    let (net, load_instructions) = count(|| case::load(BLOB, &mut params));
    let net = lib(net)?;
    let mut noise = [0.0f32; 32 * case::SAMPLES];
    case::noise(&mut noise);
    let mut cache = [0.0f32; case::CACHE];
    let mut samples = [0.0f32; 2 * case::SAMPLES];
    let (result, instructions) =
        count(|| case::generate(&net, &params, &noise, &mut cache, &mut samples));
    lib(result)?;
    cortex_m_semihosting::hprintln!(
        "    Mlp<32, 256, 2> ({:?}) from a {} B blob in flash: load {} instructions, forward of {} samples {} instructions; sample 0 = ({:.4}, {:.4})",
        net.activation,
        BLOB.len(),
        load_instructions.unwrap_or(0),
        case::SAMPLES,
        instructions.unwrap_or(0),
        samples[0],
        samples[case::SAMPLES]
    );
    Ok(Errors::new()
        .field(&samples, &expected::SAMPLES)
        .report(TOLERANCE, instructions))
}
