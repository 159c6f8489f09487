//! Caller-owned scratch: checks a buffer holds what an operator needs.

use crate::error::Error;

/// Checks `scratch` holds at least `required` values and returns that prefix.
pub(crate) fn take_scratch(scratch: &mut [f32], required: usize) -> Result<&mut [f32], Error> {
    let provided = scratch.len();
    scratch
        .get_mut(..required)
        .ok_or(Error::ScratchTooSmall { required, provided })
}
