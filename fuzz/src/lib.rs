//! Shared input builders and contract checks for the fuzz targets.
//!
//! Values are drawn so that the edges come up on purpose: NaN, ±inf, subnormals, ±3e38, zero,
//! negative and tiny scales, empty and single-point clouds, duplicated points.

use arbitrary::{Result, Unstructured};
use drifting::Error;

/// Values a float input should hit often.
pub const EDGE_VALUES: [f32; 16] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    1e-3,
    f32::MIN_POSITIVE,
    1e-45, // subnormal
    3e38,
    -3e38,
    1e18,
    -1e18,
    f32::NAN,
    f32::INFINITY,
    f32::NEG_INFINITY,
    1e4,
];

/// A coordinate: usually a moderate value, sometimes an edge value, sometimes raw bits.
pub fn coordinate(u: &mut Unstructured<'_>) -> Result<f32> {
    Ok(match u.int_in_range(0u8..=15)? {
        0 => *u.choose(&EDGE_VALUES)?,
        1 => f32::from_bits(u.arbitrary()?),
        _ => f32::from(u.int_in_range(-2000i16..=2000)?) / 1000.0,
    })
}

/// A scale parameter (temperature, bandwidth, blur): edges included.
pub fn scale(u: &mut Unstructured<'_>) -> Result<f32> {
    Ok(match u.int_in_range(0u8..=9)? {
        0 => *u.choose(&EDGE_VALUES)?,
        1 => f32::from_bits(u.arbitrary()?),
        2 => -0.05,
        _ => *u.choose(&[0.02_f32, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0])?,
    })
}

/// A cloud of up to `max` points in `R^D`; sometimes with duplicated points.
pub fn cloud<const D: usize>(u: &mut Unstructured<'_>, max: usize) -> Result<Vec<[f32; D]>> {
    let n = u.int_in_range(0..=max)?;
    let mut points = Vec::with_capacity(n);
    for _ in 0..n {
        if !points.is_empty() && u.ratio(1u8, 8u8)? {
            let k = u.choose_index(points.len())?;
            points.push(points[k]);
        } else {
            let mut p = [0.0; D];
            for v in &mut p {
                *v = coordinate(u)?;
            }
            points.push(p);
        }
    }
    Ok(points)
}

/// Whether every coordinate is finite.
pub fn finite<const D: usize>(points: &[[f32; D]]) -> bool {
    points.iter().flatten().all(|v| v.is_finite())
}

/// Whether a scale is a valid temperature/bandwidth (positive, finite, finite inverse).
pub fn valid_scale(t: f32, gaussian: bool) -> bool {
    t.is_finite()
        && t > 0.0
        && if gaussian {
            (1.0 / (2.0 * t * t)).is_finite()
        } else {
            (1.0 / t).is_finite()
        }
}

/// What the contract says a call must do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Succeed with finite outputs.
    Valid,
    /// Fail with a typed error.
    Invalid,
    /// Near a documented range limit (`1e36` squared distance, `1e28` logit): either.
    Either,
}

impl Expect {
    /// `Invalid` if `problem`, else what the range limits say.
    pub fn new(problem: bool, squared_diameter: f64, largest_logit: f64) -> Self {
        if problem || squared_diameter > 1e37 || largest_logit > 1e29 || largest_logit.is_nan() {
            Self::Invalid
        } else if squared_diameter < 1e35 && largest_logit < 1e27 {
            Self::Valid
        } else {
            Self::Either
        }
    }
}

/// Squared diameter of the union of the clouds' bounding boxes (the crate's range check).
pub fn squared_diameter<const D: usize>(clouds: &[&[[f32; D]]]) -> f64 {
    let mut bounds = [(f64::INFINITY, f64::NEG_INFINITY); D];
    for cloud in clouds {
        for p in cloud.iter() {
            for (b, &v) in bounds.iter_mut().zip(p) {
                b.0 = b.0.min(f64::from(v));
                b.1 = b.1.max(f64::from(v));
            }
        }
    }
    bounds
        .iter()
        .filter(|(lo, hi)| lo <= hi)
        .map(|(lo, hi)| (hi - lo) * (hi - lo))
        .sum()
}

/// The largest logit of a Laplace (`gaussian = false`) or Gaussian kernel at scale `t` over
/// distances up to `sqrt(squared_diameter) + added`.
pub fn largest_logit(squared_diameter: f64, added: f64, t: f32, gaussian: bool) -> f64 {
    let d = squared_diameter.sqrt() + added;
    let t = f64::from(t);
    if gaussian {
        d * d / (2.0 * t * t)
    } else {
        d / t
    }
}

/// The contract of an entry point: an invalid call fails with a typed error; a valid one succeeds
/// and writes only finite values.
pub fn check_contract(
    expect: Expect,
    result: core::result::Result<(), Error>,
    outputs: &[f32],
    what: &str,
) {
    match (expect, result) {
        (Expect::Invalid | Expect::Either, Err(_)) => {}
        (Expect::Invalid, Ok(())) => panic!("{what}: invalid input accepted"),
        (Expect::Valid, Err(e)) => panic!("{what}: valid input rejected: {e}"),
        (Expect::Valid | Expect::Either, Ok(())) => {
            if let Some(k) = outputs.iter().position(|v| !v.is_finite()) {
                panic!(
                    "{what}: non-finite output {} at {k} for valid input",
                    outputs[k]
                );
            }
        }
    }
}
