//! The crate's one error type.

use core::fmt;

/// Everything that can go wrong at the entry of an algorithm.
///
/// Every public routine validates its inputs once, before any work, and reports the first
/// problem it finds as one of these variants; the loops that follow cannot fail. The enum is
/// `Copy`, carries no heap data, and is `#[non_exhaustive]` so later versions can add variants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// An input holds a NaN or an infinity. `input` names the argument (`"queries"`,
    /// `"positives"`, `"weights"`, …).
    NonFinite {
        /// Which argument held the value.
        input: &'static str,
    },
    /// A point cloud that must hold at least one point is empty.
    EmptyCloud {
        /// Which argument was empty.
        input: &'static str,
    },
    /// A parameter (temperature, bandwidth, step size, floor, …) is zero, negative, NaN or
    /// infinite where it must be positive and finite, or otherwise outside its documented range.
    InvalidParameter {
        /// The parameter's name (or the argument whose size computation overflowed).
        input: &'static str,
    },
    /// A fixed-capacity buffer cannot take the points offered; nothing was written.
    CapacityExceeded {
        /// The buffer's capacity.
        capacity: usize,
        /// The length the operation would have needed.
        required: usize,
    },
    /// Two arguments that must agree in length (or a buffer and its declared shape) do not.
    ShapeMismatch {
        /// Which argument is off.
        input: &'static str,
        /// The length it must have.
        expected: usize,
        /// The length it has.
        found: usize,
    },
    /// A cloud holds fewer points than the estimator needs (an unbiased two-sample statistic
    /// averages over pairs of distinct points, so it needs at least 2).
    TooFewPoints {
        /// Which argument is too small.
        input: &'static str,
        /// The smallest number of points accepted.
        required: usize,
        /// The number of points it has.
        found: usize,
    },
    /// The inputs are finite but their scale would overflow `f32` inside the computation: points
    /// farther apart than `1e18` (squared distances above `1e36`), or a temperature, bandwidth or
    /// blur so small for the clouds' extent that a logit would exceed `1e28` in magnitude (the
    /// crate keeps logits well away from its exclusion value `−1e30`), or a drift whose mean
    /// square overflows.
    OutOfRange {
        /// Which argument (or parameter) is out of range.
        input: &'static str,
    },
    /// A caller-owned scratch buffer or workspace is shorter than the routine needs.
    ScratchTooSmall {
        /// Which buffer (`"scratch"`, `"workspace"`, `"cache"`, …).
        input: &'static str,
        /// The number of `f32` the routine needs.
        required: usize,
        /// The number provided.
        provided: usize,
    },
    /// A serialised blob (a saved generator, see `Mlp::load`) is not valid for the type it is
    /// loaded into: wrong magic, unsupported format version, different shape, unknown code or a
    /// checksum mismatch. `field` names the header field that failed.
    InvalidBlob {
        /// The header field that failed (`"magic"`, `"version"`, `"checksum"`, …).
        field: &'static str,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::NonFinite { input } => write!(f, "`{input}` holds a NaN or an infinity"),
            Error::EmptyCloud { input } => write!(f, "`{input}` is empty"),
            Error::InvalidParameter { input } => {
                write!(f, "parameter `{input}` is outside its valid range")
            }
            Error::CapacityExceeded { capacity, required } => write!(
                f,
                "capacity exceeded: {required} points needed, capacity is {capacity}"
            ),
            Error::ShapeMismatch {
                input,
                expected,
                found,
            } => write!(f, "`{input}` has length {found}, expected {expected}"),
            Error::TooFewPoints {
                input,
                required,
                found,
            } => write!(
                f,
                "`{input}` has {found} points, at least {required} needed"
            ),
            Error::OutOfRange { input } => write!(
                f,
                "`{input}` is out of range: the computation would overflow f32"
            ),
            Error::ScratchTooSmall {
                input,
                required,
                provided,
            } => write!(
                f,
                "`{input}` too small: {required} f32 needed, {provided} provided"
            ),
            Error::InvalidBlob { field } => write!(f, "invalid blob: bad `{field}`"),
        }
    }
}

impl core::error::Error for Error {}
