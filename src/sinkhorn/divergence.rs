//! The entropic transport cost `OT_ε` and the debiased Sinkhorn divergence `S_ε`.

use super::softmin::{Side, Softmins};
use super::solver::{PairState, solve_pair, solve_self};
use super::{SinkhornConfig, SinkhornReport, SinkhornWorkspace, Solves, WeightedCloud, prepare};
use crate::engine::chunks::Exec;
use crate::error::Error;

/// `Σ_i w_i v_i` in `f64`.
fn weighted_sum<const D: usize>(cloud: &WeightedCloud<'_, D>, values: &[f32]) -> f64 {
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| f64::from(cloud.weight(i)) * f64::from(v))
        .sum()
}

/// The entropic transport cost `OT_ε(a, b) = ⟨a, f⟩ + ⟨b, g⟩`, the dual value of
/// `min_π ⟨π, C⟩ + ε·KL(π ‖ a⊗b)` at the computed potentials, which stay in `workspace`
/// ([`SinkhornWorkspace::f`], [`SinkhornWorkspace::g`]).
///
/// Cost `O((S + I)·N·M·D)` for `S` scaling steps and `I` iterations, memory `O(N + M)`.
///
/// Multithreaded with feature `std` (the current rayon pool; the same bits whatever the number
/// of threads).
///
/// # Errors
/// Empty or non-finite clouds; weights of the wrong length, negative, or not summing to 1;
/// a blur that is not positive and finite; scaling outside `(0, 1)`; a workspace made for other
/// sizes.
///
/// # Example
/// ```
/// use drifting::{CloudView, SinkhornConfig, SinkhornWorkspace, WeightedCloud, entropic_transport};
/// let a = [[0.0_f32, 0.0], [1.0, 0.0], [0.0, 1.0]];
/// let b = [[0.5_f32, 0.5], [1.5, 0.5], [0.5, 1.5], [1.0, 1.0]];
/// let x = WeightedCloud::uniform(CloudView::from_points(&a)); // weights 1/3
/// let y = WeightedCloud::uniform(CloudView::from_points(&b)); // weights 1/4
/// let mut buffer = [0.0_f32; SinkhornWorkspace::required_len(3, 4)];
/// let mut workspace = SinkhornWorkspace::new(&mut buffer, 3, 4)?;
/// let (cost, report) = entropic_transport(&x, &y, &SinkhornConfig::new(), &mut workspace)?;
/// assert!(report.converged && report.marginal_error <= 1e-3);
/// // The value is the dual ⟨a, f⟩ + ⟨b, g⟩ of the potentials left in the workspace.
/// let dual = workspace.f().iter().sum::<f32>() / 3.0 + workspace.g().iter().sum::<f32>() / 4.0;
/// assert!((cost - dual).abs() < 1e-5);
/// # Ok::<(), drifting::Error>(())
/// ```
pub fn entropic_transport<const D: usize>(
    x: &WeightedCloud<'_, D>,
    y: &WeightedCloud<'_, D>,
    config: &SinkhornConfig,
    workspace: &mut SinkhornWorkspace<'_>,
) -> Result<(f32, SinkhornReport), Error> {
    let exec = Exec::current();
    prepare(x, y, config, workspace, Solves::Pair)?;
    let (mut state, _, _, mut softmins) = workspace.parts().into_streaming(exec, x, y, config);
    let report = solve_pair(&mut softmins, x, y, config, &mut state);
    let value = weighted_sum(x, state.f) + weighted_sum(y, state.g);
    #[allow(clippy::cast_possible_truncation)]
    Ok((value as f32, report))
}

/// The debiased Sinkhorn divergence and its parts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SinkhornDivergence {
    /// `S_ε(a, b) = OT_ε(a, b) − ½ OT_ε(a, a) − ½ OT_ε(b, b)`.
    pub value: f32,
    /// `OT_ε(a, b)`.
    pub transport_ab: f32,
    /// `OT_ε(a, a)`.
    pub transport_aa: f32,
    /// `OT_ε(b, b)`.
    pub transport_bb: f32,
    /// The solves of `(a, b)`, `(a, a)` and `(b, b)`.
    pub reports: [SinkhornReport; 3],
}

/// The debiased Sinkhorn divergence
/// `S_ε(a, b) = ⟨a, f_ab − f_aa⟩ + ⟨b, g_ab − g_bb⟩ = OT_ε(a, b) − ½ OT_ε(a, a) − ½ OT_ε(b, b)`
/// (Feydy et al. 2019; docs/mathematics.md §6): non-negative, zero iff `a = b`. The symmetric problems
/// use averaged updates on a single potential, as GeomLoss does. All four potentials stay in the
/// workspace.
///
/// Multithreaded with feature `std` (the current rayon pool; the same bits whatever the number
/// of threads).
///
/// # Errors
/// As [`entropic_transport`].
///
/// # Example
/// ```
/// use drifting::{CloudView, SinkhornConfig, SinkhornWorkspace, WeightedCloud};
/// use drifting::sinkhorn_divergence;
/// let a = [[0.0_f32, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]];
/// let b = a.map(|[u, v]| [u + 0.3, v]); // a translated by t = (0.3, 0)
/// let x = WeightedCloud::uniform(CloudView::from_points(&a));
/// let y = WeightedCloud::uniform(CloudView::from_points(&b));
/// let config = SinkhornConfig::new(); // blur 0.05: ε = 0.0025, cost ½‖x − y‖²
/// let mut buffer = [0.0_f32; SinkhornWorkspace::required_len(4, 4)];
/// let mut workspace = SinkhornWorkspace::new(&mut buffer, 4, 4)?;
///
/// let same = sinkhorn_divergence(&x, &x, &config, &mut workspace)?;
/// assert!(same.value.abs() < 1e-4); // debiased: S_ε(a, a) = 0, unlike OT_ε(a, a)
/// let moved = sinkhorn_divergence(&x, &y, &config, &mut workspace)?;
/// assert!((moved.value - 0.045).abs() < 1e-3); // ≈ ½‖t‖² at small ε
/// let parts = moved.transport_ab - 0.5 * (moved.transport_aa + moved.transport_bb);
/// assert!((moved.value - parts).abs() < 1e-5);
/// # Ok::<(), drifting::Error>(())
/// ```
pub fn sinkhorn_divergence<const D: usize>(
    x: &WeightedCloud<'_, D>,
    y: &WeightedCloud<'_, D>,
    config: &SinkhornConfig,
    workspace: &mut SinkhornWorkspace<'_>,
) -> Result<SinkhornDivergence, Error> {
    let exec = Exec::current();
    prepare(x, y, config, workspace, Solves::All)?;
    let (mut state, f_aa, g_bb, mut softmins) =
        workspace.parts().into_streaming(exec, x, y, config);
    Ok(solve_divergence(
        &mut softmins,
        x,
        y,
        config,
        &mut state,
        f_aa,
        g_bb,
    ))
}

/// The three solves of `S_ε` with the softmins of `softmins` (its cloud [`Side::X`] is `x`,
/// [`Side::Y`] is `y`), and the divergence from their potentials (`state`, `f_aa`, `g_bb`).
pub(crate) fn solve_divergence<const D: usize>(
    softmins: &mut impl Softmins,
    x: &WeightedCloud<'_, D>,
    y: &WeightedCloud<'_, D>,
    config: &SinkhornConfig,
    state: &mut PairState<'_>,
    f_aa: &mut [f32],
    g_bb: &mut [f32],
) -> SinkhornDivergence {
    let report_ab = solve_pair(softmins, x, y, config, state);
    let (xs, ys) = (&x.points, &y.points);
    let report_aa = solve_self(
        softmins,
        Side::X,
        x,
        ys,
        config,
        f_aa,
        state.log_a,
        state.tmp_f,
    );
    let report_bb = solve_self(
        softmins,
        Side::Y,
        y,
        xs,
        config,
        g_bb,
        state.log_b,
        state.tmp_g,
    );
    let (transport_f, transport_g) = (weighted_sum(x, state.f), weighted_sum(y, state.g));
    let half_aa = weighted_sum(x, f_aa);
    let half_bb = weighted_sum(y, g_bb);
    let value = transport_f - half_aa + transport_g - half_bb;
    #[allow(clippy::cast_possible_truncation)]
    SinkhornDivergence {
        value: value as f32,
        transport_ab: (transport_f + transport_g) as f32,
        transport_aa: (2.0 * half_aa) as f32,
        transport_bb: (2.0 * half_bb) as f32,
        reports: [report_ab, report_aa, report_bb],
    }
}
