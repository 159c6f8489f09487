//! Range checks: the extent of the clouds and the scale of a kernel must keep every logit far
//! from the crate's exclusion value and every squared distance inside `f32`.

use crate::cloud::CloudView;
use crate::error::Error;
use crate::kernel::Kernel;

/// Largest squared distance between two points the crate accepts (points at most `1e18` apart).
pub(crate) const MAX_SQUARED_DISTANCE: f64 = 1.0e36;
/// Largest logit magnitude the crate accepts: far from [`EXCLUDED_LOGIT`] (`−1e30`), so that
/// excluded pairs stay exactly weightless and biases cannot push real logits onto it.
pub(crate) const LOGIT_LIMIT: f64 = 1.0e28;

/// The squared diameter of the union of `clouds` (from their common bounding box: an upper bound
/// on every pairwise squared distance), in `f64`.
pub(crate) fn squared_diameter<const D: usize>(clouds: &[&CloudView<'_, D>]) -> f64 {
    let mut bounds = [(f64::INFINITY, f64::NEG_INFINITY); D];
    for cloud in clouds {
        cloud.widen_bounds(&mut bounds);
    }
    bounds
        .iter()
        .filter(|(lo, hi)| lo <= hi)
        .map(|(lo, hi)| (hi - lo) * (hi - lo))
        .sum()
}

/// Checks a squared diameter and the largest logit magnitude it implies against the crate's
/// range ([`MAX_SQUARED_DISTANCE`], [`LOGIT_LIMIT`]).
///
/// # Errors
/// [`Error::OutOfRange`] naming `points` or `scale` (the temperature, bandwidth or blur).
pub(crate) fn check_range(
    squared_diameter: f64,
    largest_logit: f64,
    scale: &'static str,
) -> Result<(), Error> {
    if squared_diameter.is_nan() || squared_diameter > MAX_SQUARED_DISTANCE {
        return Err(Error::OutOfRange { input: "points" });
    }
    if largest_logit.is_nan() || largest_logit > LOGIT_LIMIT {
        return Err(Error::OutOfRange { input: scale });
    }
    Ok(())
}

/// The largest logit magnitude of `kernel` over pairs at most `sqrt(squared_diameter)` apart,
/// with `added` distance on masked pairs.
pub(crate) fn largest_logit(kernel: &Kernel, squared_diameter: f64, added: f64) -> f64 {
    let distance = libm::sqrt(squared_diameter) + added;
    let inverse = f64::from(kernel.inverse_scale());
    match kernel {
        Kernel::Laplace { .. } => distance * inverse,
        Kernel::Gaussian { .. } => distance * distance * inverse,
    }
}

/// Checks the clouds' extent and the kernel's scale keep every logit of the call in range
/// (`added`: distance added to masked self-pairs); returns the squared diameter of the union.
///
/// # Errors
/// [`Error::OutOfRange`] (see [`check_range`]).
pub(crate) fn check_kernel_range<const D: usize>(
    kernel: &Kernel,
    clouds: &[&CloudView<'_, D>],
    added: f32,
) -> Result<f64, Error> {
    let diameter2 = squared_diameter(clouds);
    let name = match kernel {
        Kernel::Laplace { .. } => "temperature",
        Kernel::Gaussian { .. } => "bandwidth",
    };
    check_range(
        diameter2,
        largest_logit(kernel, diameter2, f64::from(added)),
        name,
    )?;
    Ok(diameter2)
}
