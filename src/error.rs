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
        /// The parameter's name.
        name: &'static str,
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
    /// A caller-owned scratch buffer is shorter than the routine needs.
    ScratchTooSmall {
        /// The number of `f32` the routine needs.
        required: usize,
        /// The number provided.
        provided: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::NonFinite { input } => write!(f, "`{input}` holds a NaN or an infinity"),
            Error::EmptyCloud { input } => write!(f, "`{input}` is empty"),
            Error::InvalidParameter { name } => {
                write!(f, "parameter `{name}` is outside its valid range")
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
            Error::ScratchTooSmall { required, provided } => write!(
                f,
                "scratch buffer too small: {required} f32 needed, {provided} provided"
            ),
        }
    }
}

impl core::error::Error for Error {}
