//! The two radial kernels of the papers, evaluated as logits (docs/mathematics.md §2).

use crate::error::Error;

/// `ln` of the smallest normal `f32` (`1.18e-38`): a kernel affinity `exp(l)` with a logit below
/// this is subnormal or flushed to zero by the crate's `exp`.
pub(crate) const UNDERFLOW_LOGIT: f32 = -87.336_55;

/// A radial kernel `k(x, y) = exp(l(x, y))`, always handled through its logit `l`.
///
/// | kernel | `k(x, y)` | logit |
/// | --- | --- | --- |
/// | Laplace (the default in practice) | `exp(−‖x−y‖/τ)` | `−‖x−y‖/τ` |
/// | Gaussian | `exp(−‖x−y‖²/(2σ²))` | `−‖x−y‖²/(2σ²)` |
///
/// Distances are computed as `Σ_d (x_d − y_d)²`, never as `‖x‖² + ‖y‖² − 2⟨x, y⟩`, so clouds far
/// from the origin lose no precision to cancellation.
///
/// ```
/// use drifting::{Error, Kernel};
/// // Logits take the *squared* distance: at distance 2, ‖x−y‖² = 4.
/// assert_eq!(Kernel::laplace(0.5).logit(4.0), -4.0); // −2/0.5
/// assert_eq!(Kernel::gaussian(1.0).logit(4.0), -2.0); // −4/(2·1²)
/// // The operators validate their kernel; so can you, up front.
/// assert!(Kernel::laplace(0.05).validate().is_ok());
/// assert!(matches!(Kernel::gaussian(0.0).validate(), Err(Error::InvalidParameter { .. })));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kernel {
    /// `exp(−‖x−y‖/τ)` with temperature `τ > 0`.
    Laplace {
        /// `τ`.
        temperature: f32,
    },
    /// `exp(−‖x−y‖²/(2σ²))` with bandwidth `σ > 0`.
    Gaussian {
        /// `σ`.
        bandwidth: f32,
    },
}

impl Kernel {
    /// The Laplace kernel with temperature `τ`.
    #[must_use]
    pub const fn laplace(temperature: f32) -> Self {
        Self::Laplace { temperature }
    }

    /// The Gaussian kernel with bandwidth `σ`.
    #[must_use]
    pub const fn gaussian(bandwidth: f32) -> Self {
        Self::Gaussian { bandwidth }
    }

    /// The logit `l` for a squared distance `‖x−y‖²` (scalar; the hot loops use the SIMD form).
    #[must_use]
    pub fn logit(&self, squared_distance: f32) -> f32 {
        match *self {
            Self::Laplace { temperature } => -libm::sqrtf(squared_distance) / temperature,
            Self::Gaussian { bandwidth } => -squared_distance / (2.0 * bandwidth * bandwidth),
        }
    }

    /// Checks the temperature or bandwidth is positive and finite, and that the logit scale
    /// (`1/τ` or `1/(2σ²)`) is finite too.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming `temperature` or `bandwidth`.
    pub fn validate(&self) -> Result<(), Error> {
        let (value, name) = match *self {
            Self::Laplace { temperature } => (temperature, "temperature"),
            Self::Gaussian { bandwidth } => (bandwidth, "bandwidth"),
        };
        if value.is_finite() && value > 0.0 && self.inverse_scale().is_finite() {
            Ok(())
        } else {
            Err(Error::InvalidParameter { input: name })
        }
    }

    /// The distance beyond which the kernel underflows `f32` (logit below [`UNDERFLOW_LOGIT`]):
    /// `87.3·τ` (Laplace) or `√(2·87.3)·σ` (Gaussian).
    pub(crate) fn reach(&self) -> f32 {
        let limit = -UNDERFLOW_LOGIT;
        match *self {
            Self::Laplace { temperature } => limit * temperature,
            Self::Gaussian { bandwidth } => libm::sqrtf(2.0 * limit) * bandwidth,
        }
    }

    /// `1/τ` (Laplace) or `1/(2σ²)` (Gaussian).
    pub(crate) fn inverse_scale(&self) -> f32 {
        match *self {
            Self::Laplace { temperature } => 1.0 / temperature,
            Self::Gaussian { bandwidth } => 1.0 / (2.0 * bandwidth * bandwidth),
        }
    }
}
