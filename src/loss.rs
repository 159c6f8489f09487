//! The stop-gradient drifting loss (ALGORITHMS.md §4, §10).

use crate::drift::multi_temperature::mean_square;
use crate::error::Error;

/// The stop-gradient loss `L = mean_{i,d} (x/s − stopgrad(x/s + V))² = mean(V²)` and its gradient
/// with respect to the generated samples, `∂L/∂x = −2V/(s·N·D)`.
///
/// `drift` is a field from any drift operator (coordinate-major, `N·D` values);
/// `coordinate_scale` is `s`: 1 for the drifts computed in data coordinates, `s_in` (the
/// report's `input_scale`) for [`multi_temperature_drift`](crate::multi_temperature_drift),
/// whose loss lives in coordinates divided by `s_in`. The gradient is written to `gradient`
/// (same layout), ready for the generator's backward pass. Returns `L`.
///
/// # Errors
/// [`Error::ShapeMismatch`] if `gradient.len() != drift.len()`; [`Error::EmptyCloud`] if the drift
/// is empty; [`Error::NonFinite`] if it holds a NaN or an infinity; [`Error::InvalidParameter`] if
/// `coordinate_scale` is not positive and finite.
pub fn stop_gradient_loss(
    drift: &[f32],
    coordinate_scale: f32,
    gradient: &mut [f32],
) -> Result<f32, Error> {
    if drift.is_empty() {
        return Err(Error::EmptyCloud { input: "drift" });
    }
    if gradient.len() != drift.len() {
        return Err(Error::ShapeMismatch {
            input: "gradient",
            expected: drift.len(),
            found: gradient.len(),
        });
    }
    if !drift.iter().all(|v| v.is_finite()) {
        return Err(Error::NonFinite { input: "drift" });
    }
    if !(coordinate_scale.is_finite() && coordinate_scale > 0.0) {
        return Err(Error::InvalidParameter {
            name: "coordinate_scale",
        });
    }
    #[allow(clippy::cast_precision_loss)]
    let factor = -2.0 / (coordinate_scale * drift.len() as f32);
    for (g, v) in gradient.iter_mut().zip(drift) {
        *g = factor * v;
    }
    Ok(mean_square(drift))
}
