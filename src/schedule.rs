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
    /// Checks every bandwidth the schedule can produce is positive and finite.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the offending field.
    pub fn validate(&self) -> Result<(), Error> {
        let positive = |v: f32| v.is_finite() && v > 0.0;
        let ok = match *self {
            Self::Constant { initial } => positive(initial),
            Self::Exponential {
                initial,
                rate,
                minimum,
            } => {
                if !(rate.is_finite() && rate >= 0.0) {
                    return Err(Error::InvalidParameter {
                        name: "schedule.rate",
                    });
                }
                positive(initial) && positive(minimum)
            }
            Self::Linear {
                initial,
                end,
                steps,
            }
            | Self::Cosine {
                initial,
                end,
                steps,
            } => {
                if steps == 0 {
                    return Err(Error::InvalidParameter {
                        name: "schedule.steps",
                    });
                }
                positive(initial) && positive(end)
            }
        };
        if ok {
            Ok(())
        } else {
            Err(Error::InvalidParameter {
                name: "schedule bandwidth",
            })
        }
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
                f64::from(initial) + (f64::from(end) - f64::from(initial)) * s
            }
            Self::Cosine {
                initial,
                end,
                steps,
            } => {
                let s = (t / f64::from(steps)).min(1.0);
                let w = 0.5 * (1.0 + libm::cos(core::f64::consts::PI * s));
                f64::from(end) + (f64::from(initial) - f64::from(end)) * w
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
}
