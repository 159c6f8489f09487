//! The Sinkhorn iterations: ε-scaling schedule, alternating and symmetric updates, and the one
//! stop rule both share (marginal error of the pair that is returned, tolerance, cap, stall).

use super::softmin::{Side, Softmins, marginal_error};
use super::{SinkhornConfig, SinkhornReport, UpdateRule, WeightedCloud};
use crate::cloud::CloudView;

/// The longest ε-scaling schedule a solve accepts (entries, the target included). A factor close
/// to 1 makes the schedule long (`ln(d/blur)/ln(1/s)` entries for diameter `d`): GeomLoss's
/// 0.5 gives about 10 on unit-scale data, 0.9 about 60, 0.99 about 600; a factor such as
/// `0.99999994` would ask for tens of millions of passes. Factors above
/// [`MAX_SCALING`](super::MAX_SCALING) are refused by the configuration's validation, which keeps
/// every accepted schedule within this; a longer one would be refused with
/// [`Error::InvalidParameter`](crate::Error::InvalidParameter) (`"scaling"`) all the same.
pub const MAX_SCALING_STEPS: usize = 10_000;

/// Iterations at the target ε without a new smallest marginal error after which a solve stops
/// as *stalled* ([`SinkhornReport::stalled`]).
///
/// An `f32` solve cannot reach every tolerance: the potentials carry rounding of about
/// `ulp(max |f|)`, so the plan's marginals carry about `ulp(max |f|)/ε` of relative error, and
/// an update either stops moving (the averaged update `½(f + softmin)` has exact fixed points a
/// few ulp away from the solution) or wanders at that level. While the solve still converges,
/// however slowly, every iteration gives a new smallest error; once it has reached its floor, the
/// error repeats or fluctuates. 64 iterations without a new minimum is far longer than any
/// transient measured (the longest: 9 iterations, just after the ε schedule, on the clouds of
/// `tests/sinkhorn_defaults.rs` and `tests/sinkhorn_reference.rs`), and far shorter than the
/// 100 000 iterations a tolerance below the floor used to cost.
pub const STALL_WINDOW: usize = 64;

/// GeomLoss's ε-scaling schedule (`epsilon_schedule` of `geomloss/sinkhorn_divergence.py`) for
/// `p = 2`: `[d², exp(2 ln d), exp(2 ln d + 2 ln s), …` (while the exponent stays above
/// `2 ln blur`) `, blur²]`, with `d` the diameter and `s` the scaling. The first two entries are
/// equal, as in GeomLoss. Computed in `f64`, yielded as `f32`.
#[derive(Clone, Copy, Debug)]
pub struct EpsilonSchedule {
    start: f64,
    step: f64,
    interior: usize,
    target: f64,
    next: usize,
}

impl EpsilonSchedule {
    /// A schedule with nothing left to yield.
    const EMPTY: Self = Self {
        start: 0.0,
        step: 0.0,
        interior: 0,
        target: 0.0,
        next: usize::MAX,
    };

    /// `[target]` alone.
    const fn single(target: f64) -> Self {
        Self {
            start: 0.0,
            step: 0.0,
            interior: 0,
            target,
            next: 1,
        }
    }

    /// The schedule from `d²` down to `exp(stop)` by factors `s²`, then `target`.
    fn annealed(diameter: f64, stop: f64, scaling: f64, target: f64) -> Self {
        let start = 2.0 * libm::log(diameter);
        let step = 2.0 * libm::log(scaling);
        // numpy.arange(start, stop, step) has ceil((stop − start)/step) entries; a huge count
        // saturates (and is refused by the solvers' validation, see MAX_SCALING_STEPS).
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let interior = libm::ceil((stop - start) / step).max(0.0) as usize;
        Self {
            start,
            step,
            interior,
            target,
            next: 0,
        }
    }

    /// Entries left to yield (saturating at `usize::MAX`).
    #[must_use]
    pub fn remaining(&self) -> usize {
        // Entries 0..=interior+1 (the first is d², then `interior` exponents, then the target).
        let total = self.interior.saturating_add(2);
        total.saturating_sub(self.next)
    }
}

impl Iterator for EpsilonSchedule {
    type Item = f32;
    fn next(&mut self) -> Option<f32> {
        let k = self.next;
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
        let value = if k == 0 {
            libm::exp(self.start)
        } else if k <= self.interior {
            libm::exp(self.start + (k - 1) as f64 * self.step)
        } else if k == self.interior.saturating_add(1) {
            self.target
        } else {
            return None;
        };
        self.next = k.saturating_add(1);
        #[allow(clippy::cast_possible_truncation)]
        Some(value as f32)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.remaining();
        (n, Some(n))
    }
}

impl ExactSizeIterator for EpsilonSchedule {}

/// The schedule for clouds of diameter `diameter`, target `blur` and factor `scaling`. When the
/// diameter does not exceed the blur, the schedule is `[blur²]` alone.
///
/// # Example
/// ```
/// use drifting::sinkhorn::epsilon_schedule;
/// // GeomLoss's schedule for a diameter of 1, blur 0.05 and scaling 0.5.
/// let schedule = epsilon_schedule(1.0, 0.05, 0.5);
/// assert_eq!(schedule.len(), 7); // d², d², then ×0.25 while above blur², then blur²
/// let mut previous = f32::INFINITY;
/// for epsilon in schedule.clone() {
///     assert!(epsilon <= previous); // ε only decreases
///     previous = epsilon;
/// }
/// assert_eq!(schedule.clone().next(), Some(1.0));
/// assert_eq!(schedule.last(), Some(0.05_f32 * 0.05));
/// ```
#[must_use]
pub fn epsilon_schedule(diameter: f32, blur: f32, scaling: f32) -> EpsilonSchedule {
    let target = f64::from(blur * blur);
    let (d, b, s) = (f64::from(diameter), f64::from(blur), f64::from(scaling));
    if !(d > b && s > 0.0 && s < 1.0) {
        return EpsilonSchedule::single(target);
    }
    EpsilonSchedule::annealed(d, 2.0 * libm::log(b), s, target)
}

/// The same schedule towards a target `epsilon` given directly: the exponents stop at `ln ε`
/// instead of `2 ln blur`, and the last entry is `ε` itself.
fn epsilon_schedule_to(diameter: f32, epsilon: f32, scaling: f32) -> EpsilonSchedule {
    let target = f64::from(epsilon);
    let (d, s) = (f64::from(diameter), f64::from(scaling));
    if !(d * d > target && s > 0.0 && s < 1.0) {
        return EpsilonSchedule::single(target);
    }
    EpsilonSchedule::annealed(d, libm::log(target), s, target)
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
/// scaling, nothing without scaling or with a warm start.
pub(crate) fn schedule_for<const D: usize>(
    x: &CloudView<'_, D>,
    y: &CloudView<'_, D>,
    config: &SinkhornConfig,
) -> EpsilonSchedule {
    match config.scaling {
        _ if config.warm_start => EpsilonSchedule::EMPTY,
        Some(s) => match config.epsilon {
            Some(eps) => epsilon_schedule_to(diameter(x, y), eps, s),
            None => epsilon_schedule(diameter(x, y), config.blur, s),
        },
        // Nothing before the target: the iterations all run at ε.
        None => EpsilonSchedule::EMPTY,
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

/// The stop rule of the iterations at the target ε, shared by every solve.
///
/// Each iteration measures the L1 marginal error of the pair of potentials it holds (from the
/// softmins it computes anyway); the solve stops, and *returns that pair* with that error, when
/// the error is at most the tolerance (converged), or when the cap is reached or the error has
/// not reached a new minimum for [`STALL_WINDOW`] iterations (stalled).
struct StopRule {
    tolerance: f32,
    max_iterations: usize,
    iterations: usize,
    best: f32,
    since_best: usize,
    alternating_from: Option<usize>,
}

/// Why the iterations stopped.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stop {
    Converged,
    Capped,
    Stalled,
}

impl StopRule {
    fn new(config: &SinkhornConfig) -> Self {
        Self {
            tolerance: config.tolerance,
            max_iterations: config.max_iterations,
            iterations: 0,
            best: f32::INFINITY,
            since_best: 0,
            alternating_from: None,
        }
    }

    /// Records the error of the current pair; `Some` if the solve stops on it, otherwise counts
    /// one more iteration (the caller then updates the pair).
    fn check(&mut self, error: f32) -> Option<Stop> {
        if error <= self.tolerance {
            return Some(Stop::Converged);
        }
        if error < self.best {
            self.best = error;
            self.since_best = 0;
        } else {
            self.since_best += 1;
        }
        if self.since_best >= STALL_WINDOW {
            return Some(Stop::Stalled);
        }
        if self.iterations >= self.max_iterations {
            return Some(Stop::Capped);
        }
        self.iterations += 1;
        None
    }

    /// Forgets the best error so far: the alternating updates take over from here.
    fn switch_to_alternating(&mut self) {
        self.best = f32::INFINITY;
        self.since_best = 0;
        self.alternating_from = Some(self.iterations);
    }

    /// The report of a solve that returns potentials whose marginal error is `error`.
    fn report(&self, scaling_steps: usize, error: f32, stop: Stop, epsilon: f32) -> SinkhornReport {
        let converged = error <= self.tolerance;
        SinkhornReport {
            scaling_steps,
            iterations: self.iterations,
            marginal_error: error,
            converged,
            stalled: stop == Stop::Stalled && !converged,
            alternating_from: self.alternating_from,
            epsilon,
        }
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
}

impl PairState<'_> {
    /// `tmp_f ← softmin_y(g)` and `tmp_g ← softmin_x(f)` at `eps`, both from the current pair.
    fn both_softmins(&mut self, softmins: &mut impl Softmins, eps: f32) {
        softmins.softmin(Side::X, Side::Y, self.log_b, Some(self.g), eps, self.tmp_f);
        softmins.softmin(Side::Y, Side::X, self.log_a, Some(self.f), eps, self.tmp_g);
    }

    /// `f ← softmin_y(g)` at `eps`.
    fn update_f(&mut self, softmins: &mut impl Softmins, eps: f32) {
        softmins.softmin(Side::X, Side::Y, self.log_b, Some(self.g), eps, self.f);
    }

    /// The L1 marginal error of the plan of `(f, g)`, from `tmp_f = softmin(g)` and
    /// `tmp_g = softmin(f)`: rows `Σ a_i |e^{(f_i − tmp_f_i)/ε} − 1|` plus columns.
    fn pair_error<const D: usize>(
        &self,
        x: &WeightedCloud<'_, D>,
        y: &WeightedCloud<'_, D>,
        eps: f32,
    ) -> f32 {
        (marginal_error(x, self.f, self.tmp_f, eps) + marginal_error(y, self.g, self.tmp_g, eps))
            .min(f32::MAX)
    }

    /// The averaged update `(f, g) ← ½((f, g) + (tmp_f, tmp_g))`.
    fn average(&mut self) {
        average(self.f, self.tmp_f);
        average(self.g, self.tmp_g);
    }
}

/// Solves the `(a, b)` problem with the softmins of `softmins` (whose cloud [`Side::X`] is `x`
/// and [`Side::Y`] is `y`): potentials in `state.f`, `state.g` (read as the starting point
/// with [`SinkhornConfig::warm_start`]).
///
/// The report's marginal error is that of the returned pair, and the stop test used the same
/// number ([`StopRule`]): `converged ⇔ marginal_error ≤ tolerance` holds by construction.
pub(crate) fn solve_pair<const D: usize>(
    softmins: &mut impl Softmins,
    x: &WeightedCloud<'_, D>,
    y: &WeightedCloud<'_, D>,
    config: &SinkhornConfig,
    state: &mut PairState<'_>,
) -> SinkhornReport {
    let (xs, ys) = (x.points, y.points);
    let target = config.epsilon();
    let s = &mut *state;
    let mut scaling_steps = 0;
    if !config.warm_start {
        let schedule = schedule_for(&xs, &ys, config);
        // Initialisation from zero potentials at the first ε.
        let first = schedule.clone().next().unwrap_or(target);
        softmins.softmin(Side::X, Side::Y, s.log_b, None, first, s.f);
        let g_start = match config.update {
            UpdateRule::Alternating => Some(&*s.f),
            UpdateRule::Symmetric => None,
        };
        softmins.softmin(Side::Y, Side::X, s.log_a, g_start, first, s.g);
        for eps in schedule {
            scaling_steps += 1;
            match config.update {
                UpdateRule::Alternating => {
                    s.update_f(softmins, eps);
                    softmins.softmin(Side::Y, Side::X, s.log_a, Some(s.f), eps, s.g);
                    balance(x, y, s.f, s.g);
                }
                UpdateRule::Symmetric => {
                    s.both_softmins(softmins, eps);
                    s.average();
                }
            }
        }
    }
    let mut rule = StopRule::new(config);
    let mut update = config.update;
    loop {
        match update {
            UpdateRule::Alternating => {
                // f ← softmin(g): the rows of the plan of (f, g) are exact (their error is 0 by
                // construction); the columns, from softmin(f), carry the whole error.
                s.update_f(softmins, target);
                softmins.softmin(Side::Y, Side::X, s.log_a, Some(s.f), target, s.tmp_g);
                let error = marginal_error(y, s.g, s.tmp_g, target);
                if let Some(stop) = rule.check(error) {
                    return rule.report(scaling_steps, error, stop, target);
                }
                copy(s.g, s.tmp_g);
                balance(x, y, s.f, s.g);
            }
            UpdateRule::Symmetric => {
                s.both_softmins(softmins, target);
                let error = s.pair_error(x, y, target);
                match rule.check(error) {
                    Some(Stop::Converged) => {
                        return rule.report(scaling_steps, error, Stop::Converged, target);
                    }
                    Some(Stop::Stalled) => {
                        // The averaged updates stopped reducing the error: their f32 floor, or
                        // a plateau where a potential travels a long way at half speed. The
                        // alternating updates take over from this pair (see UpdateRule).
                        update = UpdateRule::Alternating;
                        rule.switch_to_alternating();
                    }
                    Some(stop) => {
                        // GeomLoss's final extrapolation `(f, g) ← (softmin(g), softmin(f))`
                        // (with `max_iterations = 0` the whole solve is GeomLoss's), then the
                        // error of the extrapolated pair, which is what is returned.
                        copy(s.f, s.tmp_f);
                        copy(s.g, s.tmp_g);
                        s.both_softmins(softmins, target);
                        let error = s.pair_error(x, y, target);
                        return rule.report(scaling_steps, error, stop, target);
                    }
                    None => s.average(),
                }
            }
        }
    }
}

/// Solves the symmetric problem of the cloud `side` of `softmins` (`x`, log-weights `log_a`)
/// with averaged updates: potential in `f` (read as the starting point with
/// [`SinkhornConfig::warm_start`]). The ε schedule starts from the diameter of `x` together with
/// `partner`, the other cloud of the divergence, as GeomLoss runs all its problems on the one
/// schedule of `max_diameter(x, y)`. Stops as [`solve_pair`] does; the plan is symmetric, so its
/// L1 marginal error is twice the row error.
#[allow(clippy::too_many_arguments)]
pub(crate) fn solve_self<const D: usize>(
    softmins: &mut impl Softmins,
    side: Side,
    x: &WeightedCloud<'_, D>,
    partner: &CloudView<'_, D>,
    config: &SinkhornConfig,
    f: &mut [f32],
    log_a: &[f32],
    tmp: &mut [f32],
) -> SinkhornReport {
    let xs = x.points;
    let target = config.epsilon();
    let mut scaling_steps = 0;
    let mut softmin = |potential: Option<&[f32]>, eps: f32, out: &mut [f32]| {
        softmins.softmin(side, side, log_a, potential, eps, out);
    };
    if !config.warm_start {
        let schedule = schedule_for(&xs, partner, config);
        let first = schedule.clone().next().unwrap_or(target);
        softmin(None, first, f);
        for eps in schedule {
            scaling_steps += 1;
            softmin(Some(f), eps, tmp);
            average(f, tmp);
        }
    }
    let error_of = |f: &[f32], tmp: &[f32]| (2.0 * marginal_error(x, f, tmp, target)).min(f32::MAX);
    let mut rule = StopRule::new(config);
    loop {
        softmin(Some(f), target, tmp);
        let error = error_of(f, tmp);
        match rule.check(error) {
            Some(Stop::Converged) => {
                return rule.report(scaling_steps, error, Stop::Converged, target);
            }
            Some(stop) => {
                copy(f, tmp);
                softmin(Some(f), target, tmp);
                let error = error_of(f, tmp);
                return rule.report(scaling_steps, error, stop, target);
            }
            None => average(f, tmp),
        }
    }
}

/// `p ← ½(p + t)`.
fn average(p: &mut [f32], t: &[f32]) {
    for (p, t) in p.iter_mut().zip(t) {
        *p = 0.5 * (*p + t);
    }
}

/// `dst = src` over the common length: the regions are equal by construction, and unlike
/// `copy_from_slice` this has no panic path for the optimiser to keep.
fn copy(dst: &mut [f32], src: &[f32]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = *s;
    }
}
