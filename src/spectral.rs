//! The spectral picture of drifting (first paper, Turan & Ovsjanikov 2026, §6 and App. B;
//! docs/mathematics.md §9): per Fourier mode, how fast a kernel drift removes a perturbation.
//!
//! Linearising the particle flow `∂_t q = −∇·(q V)` of the mean-shift drift
//! `V = η (m_p − m_q)` (`m_π(x) = Σ k(x − y)(y − x)π(y)/Σ k(x − y)π(y)`) around a uniform
//! density, a density perturbation `δ ∝ e^{ik·x}` decays like `exp(−γ(k) t)` with
//!
//! `γ(k) = η |k| · (−dφ̂/d|k|)`,
//!
//! `φ̂` the normalised Fourier transform of the kernel (`φ̂(0) = 1`): the kernel-weighted mean
//! displacement of a perturbation is `i∇_k φ̂`. For the Gaussian this is `η (σk)² exp(−σ²k²/2)`,
//! the first paper's `c k² φ̂(k)` with `c = ησ²` (the drift is exactly `ησ²∇log(p_σ/q_σ)`).
//! For other kernels the paper's form `η (s k)² φ̂(k)` is only a heuristic; both are provided
//! ([`Spectrum::decay_rate`], [`Spectrum::score_form_rate`]) and `examples/paper_spectral.rs`
//! measures which one a particle simulation follows.
//!
//! | kernel | `φ̂(k)` | `γ(k)/η` (mean-shift linearisation) |
//! | --- | --- | --- |
//! | Gaussian, bandwidth `σ` | `exp(−σ²k²/2)` | `(σk)² exp(−σ²k²/2)`: peak `2/e` at `σk = √2`, then exponentially slow |
//! | Laplace, temperature `τ`, in `R^d` | `(1 + τ²k²)^{−(d+1)/2}` | `(d+1)(τk)² (1 + τ²k²)^{−(d+3)/2}`: peak at `τk = √(2/(d+1))`, polynomial tail `k^{−(d+1)}` |
//!
//! Time is measured in steps of the particle update `x ← x + V(x)` (for training, one
//! stop-gradient step moves the generated samples by about `V`).
//!
//! Annealing `s(t)` (an [`AnnealingSchedule`]) makes the rate time-dependent; mode `k`'s
//! amplitude after `T` steps is `exp(−Σ_{t<T} γ_{s(t)}(k))`, and the exponential schedule sweeps
//! the fast window `s k ≈ √2` over every mode, turning the fixed Gaussian's `exp(O(k²))` time into
//! `O(log k)` (Theorem 6.2).

use crate::error::Error;
use crate::kernel::Kernel;
use crate::schedule::AnnealingSchedule;

/// The kernel whose spectrum sets the decay rates.
///
/// ```
/// use drifting::spectral::Spectrum;
/// let gaussian = Spectrum::Gaussian { bandwidth: 0.5 };
/// assert_eq!(gaussian.transform(0.0), 1.0); // φ̂(0) = 1
/// let k = gaussian.fastest_wavenumber(); // √2/σ
/// let peak = gaussian.decay_rate(k, 1.0)?;
/// assert!((peak - 2.0 / core::f64::consts::E).abs() < 1e-12); // the peak rate 2/e (η = 1)
/// // Modes on either side of the fast window decay more slowly.
/// assert!(gaussian.decay_rate(0.5 * k, 1.0)? < peak && gaussian.decay_rate(2.0 * k, 1.0)? < peak);
/// # Ok::<(), drifting::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Spectrum {
    /// Gaussian kernel of bandwidth `σ`.
    Gaussian {
        /// `σ > 0`.
        bandwidth: f64,
    },
    /// Laplace kernel `exp(−‖x‖/τ)` in `R^d`.
    Laplace {
        /// `τ > 0`.
        temperature: f64,
        /// The dimension `d ≥ 1`.
        dim: u32,
    },
}

impl Spectrum {
    /// The spectrum of `kernel` in `R^dim` (`f64` parameters: the rates are computed in `f64`).
    ///
    /// ```
    /// use drifting::Kernel;
    /// use drifting::spectral::Spectrum;
    /// assert_eq!(Spectrum::of(Kernel::gaussian(0.5), 2), Spectrum::Gaussian { bandwidth: 0.5 });
    /// assert_eq!(
    ///     Spectrum::of(Kernel::laplace(0.25), 3),
    ///     Spectrum::Laplace { temperature: 0.25, dim: 3 }
    /// );
    /// ```
    #[must_use]
    pub fn of(kernel: Kernel, dim: u32) -> Self {
        match kernel {
            Kernel::Gaussian { bandwidth } => Self::Gaussian {
                bandwidth: f64::from(bandwidth),
            },
            Kernel::Laplace { temperature } => Self::Laplace {
                temperature: f64::from(temperature),
                dim,
            },
        }
    }

    fn validate(&self) -> Result<(), Error> {
        let ok = match *self {
            Self::Gaussian { bandwidth } => bandwidth.is_finite() && bandwidth > 0.0,
            Self::Laplace { temperature, dim } => {
                temperature.is_finite() && temperature > 0.0 && dim >= 1
            }
        };
        if ok {
            Ok(())
        } else {
            Err(Error::InvalidParameter { input: "spectrum" })
        }
    }

    /// The kernel's scale `s` (`σ` or `τ`).
    #[must_use]
    pub const fn scale(&self) -> f64 {
        match *self {
            Self::Gaussian { bandwidth } => bandwidth,
            Self::Laplace { temperature, .. } => temperature,
        }
    }

    /// The normalised transform `φ̂(k)` (`φ̂(0) = 1`) at wavenumber `|k|`.
    #[must_use]
    pub fn transform(&self, k: f64) -> f64 {
        let sk = self.scale() * k;
        match *self {
            Self::Gaussian { .. } => libm::exp(-0.5 * sk * sk),
            Self::Laplace { dim, .. } => libm::pow(1.0 + sk * sk, -0.5 * (f64::from(dim) + 1.0)),
        }
    }

    /// The decay rate `γ(k) = η |k| (−dφ̂/d|k|)` of mode `k` under step `η` (the linearised
    /// mean-shift drift; see the module documentation).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for an invalid spectrum, a negative or non-finite `k` or a
    /// non-positive or non-finite `step`.
    ///
    /// # Example
    /// ```
    /// use drifting::spectral::Spectrum;
    /// let laplace = Spectrum::Laplace { temperature: 0.5, dim: 2 };
    /// let k = laplace.fastest_wavenumber(); // √(2/(d + 1))/τ
    /// let peak = laplace.decay_rate(k, 1.0)?;
    /// for off_peak in [0.9 * k, 1.1 * k] {
    ///     assert!(laplace.decay_rate(off_peak, 1.0)? < peak);
    /// }
    /// // A polynomial tail: ten times the wavenumber is slower, but not exponentially so.
    /// assert!(laplace.decay_rate(10.0 * k, 1.0)? > 1e-3 * peak);
    /// # Ok::<(), drifting::Error>(())
    /// ```
    pub fn decay_rate(&self, k: f64, step: f64) -> Result<f64, Error> {
        self.validate()?;
        check_mode(k, step)?;
        let sk = self.scale() * k;
        Ok(match *self {
            Self::Gaussian { .. } => step * sk * sk * self.transform(k),
            Self::Laplace { dim, .. } => {
                let d = f64::from(dim);
                step * (d + 1.0) * sk * sk * libm::pow(1.0 + sk * sk, -0.5 * (d + 3.0))
            }
        })
    }

    /// The first paper's form `γ(k) = η (s k)² φ̂(k)`: exact for the Gaussian (equal to
    /// [`Spectrum::decay_rate`]), a heuristic for the Laplace kernel.
    ///
    /// # Errors
    /// As [`Spectrum::decay_rate`].
    ///
    /// # Example
    /// ```
    /// use drifting::spectral::Spectrum;
    /// let (gaussian, laplace) = (
    ///     Spectrum::Gaussian { bandwidth: 0.5 },
    ///     Spectrum::Laplace { temperature: 0.5, dim: 2 },
    /// );
    /// // Exact for the Gaussian, only a heuristic for the Laplace kernel.
    /// assert_eq!(gaussian.score_form_rate(3.0, 1.0)?, gaussian.decay_rate(3.0, 1.0)?);
    /// assert_ne!(laplace.score_form_rate(3.0, 1.0)?, laplace.decay_rate(3.0, 1.0)?);
    /// # Ok::<(), drifting::Error>(())
    /// ```
    pub fn score_form_rate(&self, k: f64, step: f64) -> Result<f64, Error> {
        self.validate()?;
        check_mode(k, step)?;
        let sk = self.scale() * k;
        Ok(step * sk * sk * self.transform(k))
    }

    /// The wavenumber of the fastest mode of [`Spectrum::decay_rate`]: Gaussian `√2/σ`; Laplace
    /// in `R^d` `√(2/(d + 1))/τ`.
    #[must_use]
    pub fn fastest_wavenumber(&self) -> f64 {
        match *self {
            Self::Gaussian { bandwidth } => core::f64::consts::SQRT_2 / bandwidth,
            Self::Laplace { temperature, dim } => {
                libm::sqrt(2.0 / (f64::from(dim) + 1.0)) / temperature
            }
        }
    }

    /// The time `ln(reduction)/γ(k)` for mode `k`'s amplitude to fall by the factor `reduction`.
    ///
    /// # Errors
    /// As [`Spectrum::decay_rate`], and [`Error::InvalidParameter`] (`"reduction"`) unless
    /// `reduction > 1` and finite; [`Error::OutOfRange`] (`"k"`) if the rate underflows to 0
    /// (the mode never converges in `f64`).
    ///
    /// # Example
    /// ```
    /// use drifting::spectral::Spectrum;
    /// let spectrum = Spectrum::Gaussian { bandwidth: 1.0 };
    /// let (k, step) = (spectrum.fastest_wavenumber(), 0.5);
    /// let time = spectrum.convergence_time(k, step, 100.0)?; // steps to damp mode k 100-fold
    /// assert!((time - 100.0_f64.ln() / spectrum.decay_rate(k, step)?).abs() < 1e-9);
    /// // A fixed Gaussian is exponentially slow on high modes: what annealing is for.
    /// assert!(spectrum.convergence_time(4.0 * k, step, 100.0)? > 1e4 * time);
    /// # Ok::<(), drifting::Error>(())
    /// ```
    pub fn convergence_time(&self, k: f64, step: f64, reduction: f64) -> Result<f64, Error> {
        check_reduction(reduction)?;
        let rate = self.decay_rate(k, step)?;
        if rate <= 0.0 {
            return Err(Error::OutOfRange { input: "k" });
        }
        Ok(libm::log(reduction) / rate)
    }
}

fn check_mode(k: f64, step: f64) -> Result<(), Error> {
    if !(k.is_finite() && k >= 0.0) {
        return Err(Error::InvalidParameter { input: "k" });
    }
    if !(step.is_finite() && step > 0.0) {
        return Err(Error::InvalidParameter { input: "step" });
    }
    Ok(())
}

fn check_reduction(reduction: f64) -> Result<(), Error> {
    if reduction.is_finite() && reduction > 1.0 {
        Ok(())
    } else {
        Err(Error::InvalidParameter { input: "reduction" })
    }
}

/// Steps until mode `k` of the Gaussian drift with an annealed bandwidth `σ(t)` (the schedule's
/// [`value`](AnnealingSchedule::value)) has fallen by `reduction`: the smallest `T` with
/// `Σ_{t<T} η (σ(t) k)² exp(−(σ(t) k)²/2) ≥ ln(reduction)`, or `None` if that takes more than
/// `max_steps`.
///
/// # Errors
/// [`Error::InvalidParameter`] for an invalid schedule, `k`, `step` or `reduction`.
///
/// # Example
/// ```
/// use drifting::AnnealingSchedule;
/// use drifting::spectral::annealed_convergence_steps;
/// let fixed = AnnealingSchedule::Constant { initial: 1.0 };
/// let annealed = AnnealingSchedule::Exponential { initial: 1.0, rate: 0.01, minimum: 0.01 };
/// let k = 20.0; // a high mode: σk = 20 at σ = 1, rate ∝ exp(−200)
/// let steps = |schedule| annealed_convergence_steps(&schedule, k, 0.5, 100.0, 100_000);
/// assert_eq!(steps(fixed)?, None); // not within 100 000 steps
/// // The shrinking bandwidth sweeps σ(t)·k through the fast window √2 after about 265 steps.
/// assert!(steps(annealed)?.is_some_and(|t| t < 400));
/// # Ok::<(), drifting::Error>(())
/// ```
pub fn annealed_convergence_steps(
    schedule: &AnnealingSchedule,
    k: f64,
    step: f64,
    reduction: f64,
    max_steps: u64,
) -> Result<Option<u64>, Error> {
    schedule.validate()?;
    check_mode(k, step)?;
    check_reduction(reduction)?;
    let target = libm::log(reduction);
    let mut total = 0.0_f64;
    for t in 0..max_steps {
        let sk = f64::from(schedule.value(t)) * k;
        total += step * sk * sk * libm::exp(-0.5 * sk * sk);
        if total >= target {
            return Ok(Some(t + 1));
        }
    }
    Ok(None)
}
