//! The generator on the core vs the host: forward, backward (all parameters and the input), and
//! three AdamW steps with clipping.
//!
//! Tolerance `1e-5` relative to each array's largest value: the same GEMM micro-kernel runs on
//! both (scalar lanes on Cortex-M, SSE2 on the host), the same `exp` in SiLU; only `wide`'s
//! `mul_add` may round once (fused) on one side and twice on the other.

use crate::cases::mlp as case;
use crate::harness::{count, lib, Errors, Report, Test};

mod expected {
    include!(concat!(env!("OUT_DIR"), "/mlp_expected.rs"));
}

const TOLERANCE: f32 = 1.0e-5;

pub const TESTS: &[Test] = &[
    ("mlp_forward", forward),
    ("mlp_backward", backward),
    ("adam_steps", adam_steps),
];

fn forward() -> Result<Report, &'static str> {
    let mut cache = [0.0f32; case::CACHE];
    let mut output = [0.0f32; 2 * case::BATCH];
    let (result, insns) =
        count(|| case::forward(&expected::PARAMS, &expected::INPUT, &mut cache, &mut output));
    lib(result)?;
    Ok(Errors::new()
        .field(&output, &expected::OUTPUT)
        .report(TOLERANCE, insns))
}

fn backward() -> Result<Report, &'static str> {
    let mut cache = [0.0f32; case::CACHE];
    let mut output = [0.0f32; 2 * case::BATCH];
    lib(case::forward(
        &expected::PARAMS,
        &expected::INPUT,
        &mut cache,
        &mut output,
    ))?;
    let mut grads = [0.0f32; case::PARAMETERS];
    let mut grad_input = [0.0f32; 2 * case::BATCH];
    let mut scratch = [0.0f32; case::SCRATCH];
    let (result, insns) = count(|| {
        case::backward(
            &expected::PARAMS,
            &cache,
            &expected::GRAD_OUTPUT,
            &mut grads,
            &mut grad_input,
            &mut scratch,
        )
    });
    lib(result)?;
    Ok(Errors::new()
        .field(&grads, &expected::GRADS)
        .field(&grad_input, &expected::GRAD_INPUT)
        .report(TOLERANCE, insns))
}

fn adam_steps() -> Result<Report, &'static str> {
    let mut params = expected::PARAMS;
    let mut m = [0.0f32; case::PARAMETERS];
    let mut v = [0.0f32; case::PARAMETERS];
    let (result, insns) = count(|| case::adam_steps(&mut params, &expected::GRADS, &mut m, &mut v));
    lib(result)?;
    Ok(Errors::new()
        .field(&params, &expected::PARAMS_AFTER_ADAM)
        .report(TOLERANCE, insns))
}
