//! Bandwidth (temperature) annealing schedules (first paper, §5 "spectral picture";
//! docs/mathematics.md §9).
//!
//! A fixed Gaussian bandwidth `σ` damps Fourier mode `k` at rate `∝ k² exp(−σ²k²/2)`: high modes
//! are exponentially slow. Shrinking `σ` over training sweeps the fast window `σk ≈ √2` across
//! frequencies; the paper compares exponential, linear and cosine schedules (exponential wins).

use crate::error::Error;

/// How a kernel's bandwidth or temperature evolves with the training step `t`.
///
/// Values are computed in `f64` and rounded once, so `value(t)` is the same bits on every
/// target.
///
/// ```
/// use drifting::AnnealingSchedule;
/// let schedule = AnnealingSchedule::Exponential { initial: 0.5, rate: 0.01, minimum: 0.05 };
/// schedule.validate()?;
/// assert_eq!(schedule.value(0), 0.5);
/// assert!((schedule.value(100) - 0.5 * (-1.0_f32).exp()).abs() < 1e-6); // σ0·e^{−r t}
/// assert_eq!(schedule.value(10_000), 0.05); // the floor
/// assert_eq!(schedule.final_factor(), 0.1); // a trainer's temperatures end at 0.1× their value
/// # Ok::<(), drifting::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AnnealingSchedule {
    /// No annealing: `σ(t) = σ0`.
    Constant {
        /// `σ0`.
        initial: f32,
    },
    /// `σ(t) = max(σ0 e^{−r t}, σ_min)` (the first paper's schedule).
    Exponential {
        /// `σ0`.
        initial: f32,
        /// The rate `r` per step (`r ≥ 0`).
        rate: f32,
        /// The floor `σ_min` (`0 < σ_min ≤ σ0`).
        minimum: f32,
    },
    /// `σ(t) = σ0 + (σ_end − σ0)·min(t/T, 1)`.
    Linear {
        /// `σ0`.
        initial: f32,
        /// `σ_end`, reached at step `T` and kept after it.
        end: f32,
        /// `T` (`≥ 1`).
        steps: u32,
    },
    /// `σ(t) = σ_end + (σ0 − σ_end)·(1 + cos(π·min(t/T, 1)))/2`.
    Cosine {
        /// `σ0`.
        initial: f32,
        /// `σ_end`, reached at step `T` and kept after it.
        end: f32,
        /// `T` (`≥ 1`).
        steps: u32,
    },
}

impl AnnealingSchedule {
    /// Checks every bandwidth the schedule can produce is positive and finite, and so is every
    /// factor `σ(t)/σ0` ([`AnnealingSchedule::factor`], what the trainer multiplies its
    /// temperatures by): the exponential floor must not exceed `σ0`, and the ratio of the end
    /// value to `σ0` must be a positive normal `f32` (neither overflowing nor underflowing).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the offending field (`"schedule.initial"`,
    /// `"schedule.minimum"`, `"schedule.end"`, `"schedule.rate"`, `"schedule.steps"`).
    pub fn validate(&self) -> Result<(), Error> {
        let positive = |v: f32| v.is_finite() && v > 0.0;
        let invalid = |name| Err(Error::InvalidParameter { input: name });
        if !positive(self.initial()) {
            return invalid("schedule.initial");
        }
        let (end, name) = match *self {
            Self::Constant { initial } => (initial, "schedule.initial"),
            Self::Exponential { rate, minimum, .. } => {
                if !(rate.is_finite() && rate >= 0.0) {
                    return invalid("schedule.rate");
                }
                if !(positive(minimum) && minimum <= self.initial()) {
                    return invalid("schedule.minimum");
                }
                (minimum, "schedule.minimum")
            }
            Self::Linear { end, steps, .. } | Self::Cosine { end, steps, .. } => {
                if steps == 0 {
                    return invalid("schedule.steps");
                }
                if !positive(end) {
                    return invalid("schedule.end");
                }
                (end, "schedule.end")
            }
        };
        // Every factor lies between 1 and the last one (the schedules are monotone).
        #[allow(clippy::cast_possible_truncation)]
        let last = (f64::from(end) / f64::from(self.initial())) as f32;
        if !(last.is_finite() && last >= f32::MIN_POSITIVE) {
            return invalid(name);
        }
        Ok(())
    }

    /// The factor after the schedule has ended (`σ_min/σ0`, `σ_end/σ0`, or 1): every factor
    /// lies between 1 and this.
    #[must_use]
    pub fn final_factor(&self) -> f32 {
        self.factor(u64::MAX)
    }

    /// The initial value `σ0`.
    #[must_use]
    pub fn initial(&self) -> f32 {
        match *self {
            Self::Constant { initial }
            | Self::Exponential { initial, .. }
            | Self::Linear { initial, .. }
            | Self::Cosine { initial, .. } => initial,
        }
    }

    /// `σ(t)` at step `t` (0-based).
    #[must_use]
    pub fn value(&self, step: u64) -> f32 {
        #[allow(clippy::cast_precision_loss)]
        let t = step as f64;
        let v = match *self {
            Self::Constant { initial } => f64::from(initial),
            Self::Exponential {
                initial,
                rate,
                minimum,
            } => (f64::from(initial) * libm::exp(-f64::from(rate) * t)).max(f64::from(minimum)),
            Self::Linear {
                initial,
                end,
                steps,
            } => {
                let s = (t / f64::from(steps)).min(1.0);
                // A convex combination of two positive values: no cancellation when they differ
                // by orders of magnitude (`σ0 + (σ_end − σ0)·s` gave 0 at `s = 0` for
                // `σ0 = 1e-17`, `σ_end = 1`), and exact at both ends.
                f64::from(initial) * (1.0 - s) + f64::from(end) * s
            }
            Self::Cosine {
                initial,
                end,
                steps,
            } => {
                let s = (t / f64::from(steps)).min(1.0);
                let w = 0.5 * (1.0 + libm::cos(core::f64::consts::PI * s));
                f64::from(initial) * w + f64::from(end) * (1.0 - w)
            }
        };
        #[allow(clippy::cast_possible_truncation)]
        let v = v as f32;
        v
    }

    /// `σ(t)/σ0`: the factor the trainer applies to every configured temperature.
    #[must_use]
    pub fn factor(&self, step: u64) -> f32 {
        #[allow(clippy::cast_possible_truncation)]
        let f = (f64::from(self.value(step)) / f64::from(self.initial())) as f32;
        f
    }
}

#[cfg(test)]
mod tests {
    use super::AnnealingSchedule;

    #[test]
    fn schedules_follow_their_formulas() {
        let e = AnnealingSchedule::Exponential {
            initial: 1.0,
            rate: 0.01,
            minimum: 0.1,
        };
        assert!((e.value(100) - libm::expf(-1.0)).abs() < 1e-7);
        assert_eq!(e.value(10_000), 0.1);
        let l = AnnealingSchedule::Linear {
            initial: 1.0,
            end: 0.2,
            steps: 10,
        };
        assert!((l.value(5) - 0.6).abs() < 1e-7);
        assert_eq!(l.value(50), 0.2);
        let c = AnnealingSchedule::Cosine {
            initial: 1.0,
            end: 0.2,
            steps: 10,
        };
        assert!((c.value(5) - 0.6).abs() < 1e-7);
        assert_eq!(c.value(0), 1.0);
        assert_eq!(c.value(10), 0.2);
        assert!((c.factor(5) - 0.6).abs() < 1e-7);
    }

    #[test]
    fn invalid_schedules_are_rejected() {
        assert!(
            AnnealingSchedule::Constant { initial: 0.0 }
                .validate()
                .is_err()
        );
        assert!(
            AnnealingSchedule::Exponential {
                initial: 1.0,
                rate: -1.0,
                minimum: 0.1
            }
            .validate()
            .is_err()
        );
        assert!(
            AnnealingSchedule::Linear {
                initial: 1.0,
                end: 0.1,
                steps: 0
            }
            .validate()
            .is_err()
        );
        assert!(
            AnnealingSchedule::Cosine {
                initial: 1.0,
                end: f32::NAN,
                steps: 5
            }
            .validate()
            .is_err()
        );
    }

    /// Issue 15: a floor above the initial value, and factors that overflow or underflow `f32`,
    /// were accepted.
    #[test]
    fn schedules_with_unusable_factors_are_rejected() {
        use crate::Error;
        let floor_above = AnnealingSchedule::Exponential {
            initial: 0.1,
            rate: 0.01,
            minimum: 1.0,
        };
        assert_eq!(
            floor_above.validate(),
            Err(Error::InvalidParameter {
                input: "schedule.minimum"
            })
        );
        let overflowing = AnnealingSchedule::Linear {
            initial: 1e-30,
            end: 1e30,
            steps: 10,
        };
        assert_eq!(
            overflowing.validate(),
            Err(Error::InvalidParameter {
                input: "schedule.end"
            })
        );
        assert!(!(1e30_f32 / 1e-30).is_finite(), "the factor overflows");
        let underflowing = AnnealingSchedule::Cosine {
            initial: 1e30,
            end: 1e-30,
            steps: 10,
        };
        assert!(underflowing.validate().is_err());
        // Found by the trainer_step fuzz target: σ0 = 1.35e-17 rising to 1 gave σ(0) = 0 (the
        // f64 cancellation of σ_end + (σ0 − σ_end)·1), a zero temperature at the first step.
        for rising in [
            AnnealingSchedule::Cosine {
                initial: 1.352_233_9e-17,
                end: 1.0,
                steps: 1,
            },
            AnnealingSchedule::Linear {
                initial: 1e-30,
                end: 1e5,
                steps: 3,
            },
        ] {
            assert_eq!(rising.validate(), Ok(()));
            assert_eq!(rising.value(0), rising.initial());
            assert_eq!(rising.factor(0), 1.0);
            for t in 0..5 {
                assert!(rising.value(t) >= rising.initial(), "{rising:?} {t}");
            }
        }
        // Valid schedules keep every factor in [final_factor, 1] and finite.
        let fine = AnnealingSchedule::Exponential {
            initial: 1.0,
            rate: 0.5,
            minimum: 0.25,
        };
        assert_eq!(fine.validate(), Ok(()));
        assert_eq!(fine.final_factor(), 0.25);
        for t in [0, 1, 10, 1000, u64::MAX] {
            let f = fine.factor(t);
            assert!((0.25..=1.0).contains(&f), "{t}: {f}");
        }
    }
}
