//! The Sinkhorn iterations: ε-scaling schedule, alternating and symmetric updates, convergence.

use super::softmin::{marginal_error, softmin};
use super::{GroundCost, SinkhornConfig, SinkhornReport, UpdateRule, WeightedCloud};
use crate::cloud::CloudView;
use crate::engine::chunks::Exec;

/// GeomLoss's ε-scaling schedule (`epsilon_schedule` of `geomloss/sinkhorn_divergence.py`) for
/// `p = 2`: `[d², exp(2 ln d), exp(2 ln d + 2 ln s), …` (while the exponent stays above
/// `2 ln blur`) `, blur²]`, with `d` the diameter and `s` the scaling. The first two entries are
/// equal, as in GeomLoss. Computed in `f64`, yielded as `f32`.
#[derive(Clone, Copy, Debug)]
pub struct EpsilonSchedule {
    start: f64,
    step: f64,
    interior: usize,
    blur_squared: f64,
    next: usize,
}

impl Iterator for EpsilonSchedule {
    type Item = f32;
    fn next(&mut self) -> Option<f32> {
        let k = self.next;
        self.next += 1;
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
        let value = if k == 0 {
            libm::exp(self.start)
        } else if k <= self.interior {
            libm::exp(self.start + (k - 1) as f64 * self.step)
        } else if k == self.interior + 1 {
            self.blur_squared
        } else {
            return None;
        };
        #[allow(clippy::cast_possible_truncation)]
        Some(value as f32)
    }
}

/// The schedule for clouds of diameter `diameter`, target `blur` and factor `scaling`. When the
/// diameter does not exceed the blur, the schedule is `[blur²]` alone.
#[must_use]
pub fn epsilon_schedule(diameter: f32, blur: f32, scaling: f32) -> EpsilonSchedule {
    let blur_squared = f64::from(blur * blur);
    let (d, b, s) = (f64::from(diameter), f64::from(blur), f64::from(scaling));
    if !(d > b && s > 0.0 && s < 1.0) {
        return EpsilonSchedule {
            start: 0.0,
            step: 0.0,
            interior: 0,
            blur_squared,
            next: 1,
        };
    }
    let start = 2.0 * libm::log(d);
    let stop = 2.0 * libm::log(b);
    let step = 2.0 * libm::log(s);
    // numpy.arange(start, stop, step) has ceil((stop − start)/step) entries.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let interior = libm::ceil((stop - start) / step).max(0.0) as usize;
    EpsilonSchedule {
        start,
        step,
        interior,
        blur_squared,
        next: 0,
    }
}

/// The diagonal of the bounding box of both clouds (GeomLoss's `max_diameter`).
pub(crate) fn diameter<const D: usize>(x: &CloudView<'_, D>, y: &CloudView<'_, D>) -> f32 {
    let mut bounds = [(f64::INFINITY, f64::NEG_INFINITY); D];
    x.widen_bounds(&mut bounds);
    y.widen_bounds(&mut bounds);
    // The bounds are `f32` values (exact in `f64`); the span is taken in `f32` as GeomLoss does.
    #[allow(clippy::cast_possible_truncation)]
    let sq: f32 = bounds
        .iter()
        .map(|&(lo, hi)| (hi as f32 - lo as f32) * (hi as f32 - lo as f32))
        .sum();
    libm::sqrtf(sq)
}

/// The ε sequence a solve runs before iterating at the target: the GeomLoss schedule with
/// scaling, `[blur²]` without.
pub(crate) fn schedule_for<const D: usize>(
    x: &CloudView<'_, D>,
    y: &CloudView<'_, D>,
    config: &SinkhornConfig,
) -> EpsilonSchedule {
    match config.scaling {
        Some(s) => epsilon_schedule(diameter(x, y), config.blur, s),
        // Nothing before the target: the iterations all run at `blur²`.
        None => EpsilonSchedule {
            start: 0.0,
            step: 0.0,
            interior: 0,
            blur_squared: 0.0,
            next: 2,
        },
    }
}

/// Moves the constant the dual leaves free, `(f + c, g − c)`, so that `Σ a f = Σ b g`.
///
/// The alternating update fixes `f + g` but not that constant; without this it drifts with
/// the ε schedule until `f` and `g` are large and opposite and `f32` loses `f + g` to
/// cancellation (seen by the `sinkhorn` fuzz target: `OT_ε(a, a)` off by its own size for a
/// cloud with one point `1e4` away). The dual value `Σ a f + Σ b g` is unchanged.
fn balance<const D: usize>(
    x: &WeightedCloud<'_, D>,
    y: &WeightedCloud<'_, D>,
    f: &mut [f32],
    g: &mut [f32],
) {
    let mean = |cloud: &WeightedCloud<'_, D>, p: &[f32]| -> f64 {
        p.iter()
            .enumerate()
            .map(|(i, &v)| f64::from(cloud.weight(i)) * f64::from(v))
            .sum()
    };
    #[allow(clippy::cast_possible_truncation)]
    let shift = (0.5 * (mean(x, f) - mean(y, g))) as f32;
    for v in f.iter_mut() {
        *v -= shift;
    }
    for v in g.iter_mut() {
        *v += shift;
    }
}

/// Buffers of a two-cloud solve.
pub(crate) struct PairState<'w> {
    pub(crate) f: &'w mut [f32],
    pub(crate) g: &'w mut [f32],
    pub(crate) log_a: &'w [f32],
    pub(crate) log_b: &'w [f32],
    pub(crate) tmp_f: &'w mut [f32],
    pub(crate) tmp_g: &'w mut [f32],
    pub(crate) bias: &'w mut [f32],
}

impl PairState<'_> {
    /// `tmp_f ← softmin_y(g)` and `tmp_g ← softmin_x(f)` at `eps`, both from the current pair.
    fn both_softmins<const D: usize>(
        &mut self,
        exec: Exec,
        xs: &CloudView<'_, D>,
        ys: &CloudView<'_, D>,
        eps: f32,
        cost: GroundCost,
    ) {
        softmin(
            exec,
            xs,
            ys,
            self.log_b,
            Some(self.g),
            eps,
            cost,
            self.bias,
            self.tmp_f,
        );
        softmin(
            exec,
            ys,
            xs,
            self.log_a,
            Some(self.f),
            eps,
            cost,
            self.bias,
            self.tmp_g,
        );
    }
}

/// Solves the `(a, b)` problem: potentials in `state.f`, `state.g`.
pub(crate) fn solve_pair<const D: usize>(
    exec: Exec,
    x: &WeightedCloud<'_, D>,
    y: &WeightedCloud<'_, D>,
    config: &SinkhornConfig,
    state: &mut PairState<'_>,
) -> SinkhornReport {
    let (xs, ys) = (x.points, y.points);
    let cost = config.cost;
    let target = config.epsilon();
    let schedule = schedule_for(&xs, &ys, config);
    let s = &mut *state;
    let mut scaling_steps = 0;
    // Initialisation from zero potentials at the first ε.
    let first = schedule.clone().next().unwrap_or(target);
    softmin(exec, &xs, &ys, s.log_b, None, first, cost, s.bias, s.f);
    match config.update {
        UpdateRule::Alternating => {
            softmin(exec, &ys, &xs, s.log_a, Some(s.f), first, cost, s.bias, s.g)
        }
        UpdateRule::Symmetric => softmin(exec, &ys, &xs, s.log_a, None, first, cost, s.bias, s.g),
    }
    let mut error = f32::INFINITY;
    let mut iterations = 0;
    let mut schedule = schedule;
    loop {
        let eps = match schedule.next() {
            Some(eps) => {
                scaling_steps += 1;
                eps
            }
            None => {
                if iterations >= config.max_iterations || error <= config.tolerance {
                    break;
                }
                iterations += 1;
                target
            }
        };
        match config.update {
            UpdateRule::Alternating => {
                softmin(exec, &xs, &ys, s.log_b, Some(s.g), eps, cost, s.bias, s.f);
                softmin(
                    exec,
                    &ys,
                    &xs,
                    s.log_a,
                    Some(s.f),
                    eps,
                    cost,
                    s.bias,
                    s.tmp_g,
                );
                error = marginal_error(y, s.g, s.tmp_g, eps);
                copy(s.g, s.tmp_g);
                balance(x, y, s.f, s.g);
            }
            UpdateRule::Symmetric => {
                s.both_softmins(exec, &xs, &ys, eps, cost);
                error = (marginal_error(x, s.f, s.tmp_f, eps)
                    + marginal_error(y, s.g, s.tmp_g, eps))
                .min(f32::MAX);
                for (f, t) in s.f.iter_mut().zip(s.tmp_f.iter()) {
                    *f = 0.5 * (*f + t);
                }
                for (g, t) in s.g.iter_mut().zip(s.tmp_g.iter()) {
                    *g = 0.5 * (*g + t);
                }
            }
        }
    }
    // GeomLoss's final extrapolation, then the honest marginal error of what is returned.
    let marginal_error = match config.update {
        UpdateRule::Symmetric => {
            s.both_softmins(exec, &xs, &ys, target, cost);
            copy(s.f, s.tmp_f);
            copy(s.g, s.tmp_g);
            s.both_softmins(exec, &xs, &ys, target, cost);
            (marginal_error(x, s.f, s.tmp_f, target) + marginal_error(y, s.g, s.tmp_g, target))
                .min(f32::MAX)
        }
        UpdateRule::Alternating => {
            // Columns are exact after the last g-update; the rows carry the error.
            softmin(
                exec,
                &xs,
                &ys,
                s.log_b,
                Some(s.g),
                target,
                cost,
                s.bias,
                s.tmp_f,
            );
            marginal_error(x, s.f, s.tmp_f, target)
        }
    };
    SinkhornReport {
        scaling_steps,
        iterations,
        marginal_error,
        converged: marginal_error <= config.tolerance,
        epsilon: target,
    }
}

/// Solves the symmetric `(a, a)` problem with averaged updates: potential in `f`. The ε schedule
/// starts from the diameter of `x` together with `partner`, the other cloud of the divergence, as
/// GeomLoss runs all its problems on the one schedule of `max_diameter(x, y)`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn solve_self<const D: usize>(
    exec: Exec,
    x: &WeightedCloud<'_, D>,
    partner: &CloudView<'_, D>,
    config: &SinkhornConfig,
    f: &mut [f32],
    log_a: &[f32],
    tmp: &mut [f32],
    bias: &mut [f32],
) -> SinkhornReport {
    let xs = x.points;
    let cost = config.cost;
    let target = config.epsilon();
    let schedule = schedule_for(&xs, partner, config);
    let first = schedule.clone().next().unwrap_or(target);
    softmin(exec, &xs, &xs, log_a, None, first, cost, bias, f);
    let mut scaling_steps = 0;
    let mut iterations = 0;
    let mut error = f32::INFINITY;
    let mut schedule = schedule;
    loop {
        let eps = match schedule.next() {
            Some(eps) => {
                scaling_steps += 1;
                eps
            }
            None => {
                if iterations >= config.max_iterations || error <= config.tolerance {
                    break;
                }
                iterations += 1;
                target
            }
        };
        softmin(exec, &xs, &xs, log_a, Some(f), eps, cost, bias, tmp);
        error = (2.0 * marginal_error(x, f, tmp, eps)).min(f32::MAX);
        for (v, t) in f.iter_mut().zip(tmp.iter()) {
            *v = 0.5 * (*v + t);
        }
    }
    softmin(exec, &xs, &xs, log_a, Some(f), target, cost, bias, tmp);
    copy(f, tmp);
    softmin(exec, &xs, &xs, log_a, Some(f), target, cost, bias, tmp);
    let marginal_error = (2.0 * marginal_error(x, f, tmp, target)).min(f32::MAX);
    SinkhornReport {
        scaling_steps,
        iterations,
        marginal_error,
        converged: marginal_error <= config.tolerance,
        epsilon: target,
    }
}

/// `dst = src` over the common length: the regions are equal by construction, and unlike
/// `copy_from_slice` this has no panic path for the optimiser to keep.
fn copy(dst: &mut [f32], src: &[f32]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = *s;
    }
}
