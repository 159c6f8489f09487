//! The stop-gradient drifting loss (docs/mathematics.md §4, §10).

use crate::engine::mean_square;
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
/// `coordinate_scale` is not positive and finite; [`Error::OutOfRange`] if `mean(V²)` overflows
/// `f32` (a drift above about `1.8e19`) or the gradient does (a `coordinate_scale` so small
/// that `2|V|/(s·N·D)` exceeds `f32::MAX`).
///
/// # Example
/// ```
/// use drifting::stop_gradient_loss;
/// let drift = [0.5_f32, -1.0, 0.0, 2.0]; // V of two 2D samples, coordinate-major
/// let mut gradient = [0.0_f32; 4];
/// let loss = stop_gradient_loss(&drift, 1.0, &mut gradient)?;
/// assert_eq!(loss, (0.25 + 1.0 + 0.0 + 4.0) / 4.0); // mean(V²)
/// assert_eq!(gradient, [-0.25, 0.5, 0.0, -1.0]); // −2V/(N·D): descent moves x along V
/// # Ok::<(), drifting::Error>(())
/// ```
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
            input: "coordinate_scale",
        });
    }
    let loss = mean_square(drift);
    if !loss.is_finite() {
        return Err(Error::OutOfRange { input: "drift" });
    }
    #[allow(clippy::cast_precision_loss)]
    let count = drift.len() as f32;
    let largest = drift.iter().fold(0.0_f32, |m, v| m.max(v.abs()));
    // 2|V|/(s·N·D) must fit f32; computed in f64 (so that subnormal drifts and scales lose no
    // precision and a zero drift with a tiny scale passes).
    let factor = -2.0 / (f64::from(coordinate_scale) * f64::from(count));
    if -factor * f64::from(largest) > f64::from(f32::MAX) {
        return Err(Error::OutOfRange {
            input: "coordinate_scale",
        });
    }
    for (g, v) in gradient.iter_mut().zip(drift) {
        #[allow(clippy::cast_possible_truncation)]
        let value = (factor * f64::from(*v)) as f32;
        *g = value;
    }
    Ok(loss)
}
