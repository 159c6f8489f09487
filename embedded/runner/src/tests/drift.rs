//! Drift operators on the core vs the host.
//!
//! Tolerance: `1e-5` relative to the field's largest value. The target runs the same code as the
//! host (same `exp`, `libm` square root on Cortex-M vs `sqrtps` on x86, both correctly rounded;
//! `wide` lanes in the same order, no FMA contraction in Rust), so differences can only come from
//! summation order in `wide`'s reductions; `1e-5` leaves ~100 ulp of room.

use drifting::{CloudView, ParticleBuffer};

use super::inputs::{NEGATIVES, POSITIVES, QUERIES};
use crate::cases::{drift as case, D, N, P};
use crate::harness::{count, lib, Errors, Report, Test};

mod expected {
    include!(concat!(env!("OUT_DIR"), "/drift_expected.rs"));
}

const TOLERANCE: f32 = 1.0e-5;

pub const TESTS: &[Test] = &[
    ("mean_shift_laplace", mean_shift_laplace),
    ("mean_shift_gaussian", mean_shift_gaussian),
    ("two_axis", two_axis),
    ("two_axis_official_demo", two_axis_official_demo),
    ("multi_temperature", multi_temperature),
];

/// The queries copied into a stack `ParticleBuffer` (structure of arrays).
fn queries() -> Result<ParticleBuffer<D, N>, &'static str> {
    let mut buffer = ParticleBuffer::new();
    lib(buffer.extend_from_points(&QUERIES))?;
    Ok(buffer)
}

/// Queries from a `ParticleBuffer`, positives as `&[[f32; 2]]` in flash.
fn mean_shift_laplace() -> Result<Report, &'static str> {
    let queries = queries()?;
    let mut out = [0.0f32; N * D];
    let (result, insns) = count(|| {
        case::mean_shift_laplace(
            &queries.view(),
            &CloudView::from_points(&POSITIVES),
            &mut out,
        )
    });
    lib(result)?;
    Ok(Errors::new()
        .field(&out, &expected::MEAN_SHIFT_LAPLACE)
        .report(TOLERANCE, insns))
}

/// Positives as a coordinate-major buffer on the stack, negatives from flash.
fn mean_shift_gaussian() -> Result<Report, &'static str> {
    let queries = queries()?;
    let mut major = [0.0f32; P * D];
    for (j, p) in POSITIVES.iter().enumerate() {
        for d in 0..D {
            major[d * P + j] = p[d];
        }
    }
    let positives = lib(CloudView::from_coordinate_major(&major, P))?;
    let mut out = [0.0f32; N * D];
    let (result, insns) = count(|| {
        case::mean_shift_gaussian(
            &queries.view(),
            &positives,
            &CloudView::from_points(&NEGATIVES),
            &mut out,
        )
    });
    lib(result)?;
    Ok(Errors::new()
        .field(&out, &expected::MEAN_SHIFT_GAUSSIAN)
        .report(TOLERANCE, insns))
}

fn two_axis() -> Result<Report, &'static str> {
    let queries = queries()?;
    let mut scratch = [0.0f32; case::TWO_AXIS_SCRATCH];
    let mut out = [0.0f32; N * D];
    let (result, insns) = count(|| {
        case::two_axis(
            &queries.view(),
            &CloudView::from_points(&POSITIVES),
            &case::TWO_AXIS,
            &mut scratch,
            &mut out,
        )
    });
    lib(result)?;
    Ok(Errors::new()
        .field(&out, &expected::TWO_AXIS)
        .report(TOLERANCE, insns))
}

fn two_axis_official_demo() -> Result<Report, &'static str> {
    let mut scratch = [0.0f32; case::TWO_AXIS_SCRATCH];
    let mut out = [0.0f32; N * D];
    let (result, insns) = count(|| {
        case::two_axis(
            &CloudView::from_points(&QUERIES),
            &CloudView::from_points(&POSITIVES),
            &case::TWO_AXIS_OFFICIAL,
            &mut scratch,
            &mut out,
        )
    });
    lib(result)?;
    Ok(Errors::new()
        .field(&out, &expected::TWO_AXIS_OFFICIAL)
        .report(TOLERANCE, insns))
}

/// The field, the loss, the distance scale and the raw RMS² per temperature.
fn multi_temperature() -> Result<Report, &'static str> {
    let queries = queries()?;
    let mut scratch = [0.0f32; case::MULTI_TEMPERATURE_SCRATCH];
    let mut out = [0.0f32; N * D];
    let (result, insns) = count(|| {
        case::multi_temperature(
            &queries.view(),
            &CloudView::from_points(&POSITIVES),
            &mut scratch,
            &mut out,
        )
    });
    let report = lib(result)?;
    let raw = &report.raw_rms2[..report.temperature_count];
    Ok(Errors::new()
        .field(&out, &expected::MULTI_TEMPERATURE)
        .scalar(report.loss, expected::MULTI_TEMPERATURE_LOSS, 0.0)
        .scalar(
            report.distance_scale,
            expected::MULTI_TEMPERATURE_SCALE,
            0.0,
        )
        .field(raw, &expected::MULTI_TEMPERATURE_RAW_RMS2)
        .report(TOLERANCE, insns))
}
