//! Caller-owned scratch: checks a buffer holds what an operator needs.

use crate::error::Error;

/// Checks the argument `scratch` holds at least `required` values and returns that prefix.
pub(crate) fn take_scratch(scratch: &mut [f32], required: usize) -> Result<&mut [f32], Error> {
    take_buffer(scratch, required, "scratch")
}

/// Checks the buffer argument `input` holds at least `required` values and returns that prefix;
/// [`Error::ScratchTooSmall`] names `input` otherwise.
pub(crate) fn take_buffer<'a>(
    buffer: &'a mut [f32],
    required: usize,
    input: &'static str,
) -> Result<&'a mut [f32], Error> {
    let provided = buffer.len();
    buffer.get_mut(..required).ok_or(Error::ScratchTooSmall {
        input,
        required,
        provided,
    })
}
