//! The test cases, shared by the build script (compiled for the host: computes the expected
//! values with `drifting` there) and the target tests (run the very same calls on the core).
//!
//! Only `core` and `drifting` may be used here. One module per family; each exposes its
//! configurations as constants and one function per case that makes the library call, so the
//! host and the target cannot drift apart in how they call it.

pub mod drift;
pub mod mlp;
pub mod sinkhorn;

/// Dimension of every cloud.
pub const D: usize = 2;
/// Generated samples (the queries `x`).
pub const N: usize = 32;
/// Data (the positives `y+`, Sinkhorn's second cloud).
pub const P: usize = 40;
/// A separate negative cloud.
pub const Q: usize = 24;
