//! The Sinkhorn softmin `f_i = −ε LSE_j (log b_j + (g_j − C_ij)/ε)` and the marginal error it
//! yields for free.

use super::{GroundCost, WeightedCloud};
use crate::cloud::CloudView;
use crate::engine::chunks::Exec;
use crate::engine::{GaussianShape, LogitRule, PairMask, Partners, log_sum_exp};

/// The logit rule of `−C_ij/ε`: a Gaussian-shaped logit with scale `cost_factor/ε`.
pub(crate) fn cost_rule(epsilon: f32, cost: GroundCost) -> LogitRule {
    LogitRule {
        inverse_scale: cost.factor() / epsilon,
        squared_distance_floor: 0.0,
        mask: PairMask::Exclude,
    }
}

/// Which cloud of a solve a softmin runs over: `x` (weights `a`, potentials `f`, `f_aa`) or `y`
/// (weights `b`, potentials `g`, `g_bb`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    X,
    Y,
}

/// The softmins a Sinkhorn solve is made of, whatever evaluates them: the streaming dense pass
/// ([`Streaming`]) or the certified pruned one (`pruned.rs`). The solver (`solver.rs`) only
/// calls this.
pub(crate) trait Softmins {
    /// `out_i = −ε LSE_j (log_w_j + potential_j/ε − C_ij/ε)` for every point `i` of the cloud
    /// `lanes`, over the points `j` of the cloud `partners` (`potential = None` means zero;
    /// `log_weights` and `potential` belong to `partners`).
    fn softmin(
        &mut self,
        lanes: Side,
        partners: Side,
        log_weights: &[f32],
        potential: Option<&[f32]>,
        epsilon: f32,
        out: &mut [f32],
    );
}

/// The dense softmins: every pair, one streaming pass each ([`softmin`]).
pub(crate) struct Streaming<'c, 'b, const D: usize> {
    pub(crate) exec: Exec,
    pub(crate) x: CloudView<'c, D>,
    pub(crate) y: CloudView<'c, D>,
    pub(crate) cost: GroundCost,
    /// Scratch of at least `max(N, M)` values.
    pub(crate) bias: &'b mut [f32],
}

impl<const D: usize> Softmins for Streaming<'_, '_, D> {
    fn softmin(
        &mut self,
        lanes: Side,
        partners: Side,
        log_weights: &[f32],
        potential: Option<&[f32]>,
        epsilon: f32,
        out: &mut [f32],
    ) {
        let cloud = |side| match side {
            Side::X => self.x,
            Side::Y => self.y,
        };
        let (lanes, partners) = (cloud(lanes), cloud(partners));
        softmin(
            self.exec,
            &lanes,
            &partners,
            log_weights,
            potential,
            epsilon,
            self.cost,
            self.bias,
            out,
        );
    }
}

/// `bias_j = potential_j/ε + log_w_j` (`log_w_j` when `potential` is `None`): the per-target
/// term of every softmin logit.
pub(crate) fn write_bias(
    log_weights: &[f32],
    potential: Option<&[f32]>,
    epsilon: f32,
    bias: &mut [f32],
) {
    let inv_eps = 1.0 / epsilon;
    match potential {
        Some(p) => {
            for ((b, &lw), &pot) in bias.iter_mut().zip(log_weights).zip(p) {
                *b = pot * inv_eps + lw;
            }
        }
        None => {
            for (b, &lw) in bias.iter_mut().zip(log_weights) {
                *b = lw;
            }
        }
    }
}

/// `out_i = −ε LSE_j (log_w_j + potential_j/ε − C_ij/ε)` for every point `i` of `lanes`, over the
/// points `j` of `partners` (`potential = None` means zero). `bias` is scratch of at least
/// `partners.len()` values. One streaming pass, one `exp` per pair, its row chunks run by `exec`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn softmin<const D: usize>(
    exec: Exec,
    lanes: &CloudView<'_, D>,
    partners: &CloudView<'_, D>,
    log_weights: &[f32],
    potential: Option<&[f32]>,
    epsilon: f32,
    cost: GroundCost,
    bias: &mut [f32],
    out: &mut [f32],
) {
    write_bias(log_weights, potential, epsilon, bias);
    let bias = bias.get(..partners.len()).unwrap_or(&[]);
    let groups = [Partners::new(*partners, false).with_bias(bias, 1.0)];
    log_sum_exp::<D, GaussianShape>(exec, lanes, &groups, &cost_rule(epsilon, cost), out);
    for o in out.iter_mut() {
        *o *= -epsilon;
    }
}

/// `Σ_i |π_i· − a_i|` where `π_i· = a_i exp((f_i − softmin_i)/ε)` is the marginal of the plan with
/// the current potential `f` (`current`) and the softmin of the other one (`updated`).
///
/// Accumulated in `f64` and saturated at `f32::MAX`: far from convergence (or when the problem's
/// range `C/ε` exceeds what `f32` potentials resolve) a marginal can overflow `f32`; the report
/// then says "not converged" with a huge, finite error.
pub(crate) fn marginal_error<const D: usize>(
    cloud: &WeightedCloud<'_, D>,
    current: &[f32],
    updated: &[f32],
    epsilon: f32,
) -> f32 {
    let inv_eps = 1.0 / f64::from(epsilon);
    let mut total = 0.0_f64;
    for (i, (&f, &s)) in current.iter().zip(updated).enumerate() {
        let w = f64::from(cloud.weight(i));
        if w > 0.0 {
            total += w * (libm::exp((f64::from(f) - f64::from(s)) * inv_eps) - 1.0).abs();
        }
    }
    #[allow(clippy::cast_possible_truncation)]
    let error = total.min(f64::from(f32::MAX)) as f32;
    error
}
