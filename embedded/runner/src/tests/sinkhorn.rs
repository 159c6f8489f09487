//! Log-domain Sinkhorn on the core vs the host.
//!
//! Tolerance `2e-5`: potentials and fields relative to their largest value, transport costs
//! relative to `OT_ε(a, b)`, the divergence relative to `OT_ε(a, b)` too (it is a difference of
//! three costs, so its own relative error is meaningless when it is small), the L1 marginal error
//! absolutely (the total mass is 2). Iteration counts must match exactly: the stopping test runs
//! on the same values. Sinkhorn chains dozens of softmin passes, so rounding differences, if any,
//! compound more than in one drift pass: hence twice the drift tolerance.

use drifting::{CloudView, ParticleBuffer, WeightedCloud};

use super::inputs::{POSITIVES, POSITIVE_WEIGHTS, QUERIES};
use crate::cases::{sinkhorn as case, D, N, P};
use crate::harness::{count, lib, same, Errors, Report, Test};

mod expected {
    include!(concat!(env!("OUT_DIR"), "/sinkhorn_expected.rs"));
}

const TOLERANCE: f32 = 2.0e-5;

pub const TESTS: &[Test] = &[
    ("sinkhorn_transport_weighted", transport),
    ("sinkhorn_divergence", divergence),
    ("sinkhorn_drift", drift),
    ("sinkhorn_proxy_drift", proxy_drift),
];

fn queries() -> Result<ParticleBuffer<D, N>, &'static str> {
    let mut buffer = ParticleBuffer::new();
    lib(buffer.extend_from_points(&QUERIES))?;
    Ok(buffer)
}

/// `OT_ε` with non-uniform weights on the data, and both potentials.
fn transport() -> Result<Report, &'static str> {
    let queries = queries()?;
    let x = WeightedCloud::uniform(queries.view());
    let y = WeightedCloud::weighted(CloudView::from_points(&POSITIVES), &POSITIVE_WEIGHTS);
    let mut buffer = [0.0f32; case::WORKSPACE];
    let (mut f, mut g) = ([0.0f32; N], [0.0f32; P]);
    let (result, insns) = count(|| case::transport(&x, &y, &mut buffer, &mut f, &mut g));
    let (value, report) = lib(result)?;
    same(
        report.iterations,
        expected::TRANSPORT_ITERATIONS,
        "iteration count differs",
    )?;
    same(
        report.converged,
        expected::TRANSPORT_CONVERGED,
        "convergence differs",
    )?;
    Ok(Errors::new()
        .scalar(value, expected::TRANSPORT, 0.0)
        .field(&f, &expected::TRANSPORT_F)
        .field(&g, &expected::TRANSPORT_G)
        .scalar(
            report.marginal_error,
            expected::TRANSPORT_MARGINAL_ERROR,
            1.0,
        )
        .report(TOLERANCE, insns))
}

/// `S_ε(a, b)` and its three transport costs (three solves).
fn divergence() -> Result<Report, &'static str> {
    let x = WeightedCloud::uniform(CloudView::from_points(&QUERIES));
    let y = WeightedCloud::uniform(CloudView::from_points(&POSITIVES));
    let mut buffer = [0.0f32; case::WORKSPACE];
    let (result, insns) = count(|| case::divergence(&x, &y, &mut buffer));
    let s = lib(result)?;
    same(
        s.reports[0].iterations,
        expected::DIVERGENCE_ITERATIONS_AB,
        "iteration count differs",
    )?;
    let scale = expected::DIVERGENCE_AB.abs();
    Ok(Errors::new()
        .scalar(s.value, expected::DIVERGENCE, scale)
        .scalar(s.transport_ab, expected::DIVERGENCE_AB, scale)
        .scalar(s.transport_aa, expected::DIVERGENCE_AA, scale)
        .scalar(s.transport_bb, expected::DIVERGENCE_BB, scale)
        .report(TOLERANCE, insns))
}

/// The Sinkhorn drift `T_ab − T_aa` (two solves and two projections).
fn drift() -> Result<Report, &'static str> {
    let queries = queries()?;
    let x = WeightedCloud::uniform(queries.view());
    let y = WeightedCloud::uniform(CloudView::from_points(&POSITIVES));
    let mut buffer = [0.0f32; case::WORKSPACE];
    let mut out = [0.0f32; N * D];
    let (result, insns) = count(|| case::drift(&x, &y, &mut buffer, &mut out));
    let reports = lib(result)?;
    same(
        reports[0].iterations,
        expected::DRIFT_ITERATIONS_AB,
        "iteration count (ab) differs",
    )?;
    same(
        reports[1].iterations,
        expected::DRIFT_ITERATIONS_AA,
        "iteration count (aa) differs",
    )?;
    Ok(Errors::new()
        .field(&out, &expected::DRIFT)
        .report(TOLERANCE, insns))
}

/// The one-shot proxy drift (four streaming passes per projection, no iterations).
fn proxy_drift() -> Result<Report, &'static str> {
    let x = WeightedCloud::uniform(CloudView::from_points(&QUERIES));
    let y = WeightedCloud::uniform(CloudView::from_points(&POSITIVES));
    let mut scratch = [0.0f32; case::PROXY_SCRATCH];
    let mut out = [0.0f32; N * D];
    let (result, insns) = count(|| case::proxy_drift(&x, &y, &mut scratch, &mut out));
    lib(result)?;
    Ok(Errors::new()
        .field(&out, &expected::PROXY_DRIFT)
        .report(TOLERANCE, insns))
}
