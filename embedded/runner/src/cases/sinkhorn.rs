//! Log-domain Sinkhorn: entropic transport (weighted), the debiased divergence, the Sinkhorn
//! drift and the one-shot proxy drift.

use drifting::sinkhorn::sinkhorn_proxy_scratch_len;
use drifting::{
    entropic_transport, sinkhorn_divergence, sinkhorn_drift, sinkhorn_proxy_drift, Error,
    SinkhornConfig, SinkhornDivergence, SinkhornReport, SinkhornWorkspace, WeightedCloud,
};

use super::{D, N, P};

/// GeomLoss's defaults (ε-scaling 0.5, symmetric updates) with a tolerance of `1e-3`, `blur = 0.1`
/// (`ε = 0.01`) and at most 30 iterations after the schedule, to bound the Cortex-M0 run time.
/// On these clouds (one blob against two modes) the `(a, b)` solves stop at the cap (the L1
/// marginal error is still ~6e-2 after 100 iterations) and the `(a, a)` solves converge in a few:
/// both exits of the loop are exercised.
pub const CONFIG: SinkhornConfig = SinkhornConfig {
    blur: 0.1,
    cost: drifting::GroundCost::HalfSquaredEuclidean,
    update: drifting::UpdateRule::Symmetric,
    scaling: Some(0.5),
    tolerance: 1.0e-3,
    max_iterations: 30,
    epsilon: None,
    warm_start: false,
};
/// Workspace length for clouds of `N` and `P` points.
pub const WORKSPACE: usize = SinkhornWorkspace::required_len(N, P);
/// Scratch of the proxy drift.
pub const PROXY_SCRATCH: usize = sinkhorn_proxy_scratch_len(N, P);

/// `OT_ε(a, b)` and the potentials `f` (`N` values) and `g` (`P` values), written to `f`, `g`.
pub fn transport(
    x: &WeightedCloud<'_, D>,
    y: &WeightedCloud<'_, D>,
    buffer: &mut [f32],
    f: &mut [f32],
    g: &mut [f32],
) -> Result<(f32, SinkhornReport), Error> {
    let mut workspace = SinkhornWorkspace::new(buffer, x.len(), y.len())?;
    let result = entropic_transport(x, y, &CONFIG, &mut workspace)?;
    f.copy_from_slice(workspace.f());
    g.copy_from_slice(workspace.g());
    Ok(result)
}

/// The debiased divergence `S_ε(a, b)`.
pub fn divergence(
    x: &WeightedCloud<'_, D>,
    y: &WeightedCloud<'_, D>,
    buffer: &mut [f32],
) -> Result<SinkhornDivergence, Error> {
    let mut workspace = SinkhornWorkspace::new(buffer, x.len(), y.len())?;
    sinkhorn_divergence(x, y, &CONFIG, &mut workspace)
}

/// The Sinkhorn drift `T_ab − T_aa` (`N·D` values, coordinate-major).
pub fn drift(
    x: &WeightedCloud<'_, D>,
    y: &WeightedCloud<'_, D>,
    buffer: &mut [f32],
    out: &mut [f32],
) -> Result<[SinkhornReport; 2], Error> {
    let mut workspace = SinkhornWorkspace::new(buffer, x.len(), y.len())?;
    sinkhorn_drift(x, y, &CONFIG, &mut workspace, out)
}

/// The one-shot Sinkhorn proxy drift.
pub fn proxy_drift(
    x: &WeightedCloud<'_, D>,
    y: &WeightedCloud<'_, D>,
    scratch: &mut [f32],
    out: &mut [f32],
) -> Result<(), Error> {
    sinkhorn_proxy_drift(x, y, &CONFIG, scratch, out)
}
