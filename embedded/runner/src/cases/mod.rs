//! The test cases, shared by the build script (compiled for the host: computes the expected
//! values with `drifting` there) and the target tests (run the very same calls on the core).
//!
//! Only `core`, `drifting` and the random-number crates it builds on (`rand_core`,
//! `rand_xoshiro`) may be used here. One module per family; each exposes its configurations as
//! constants and one function per case that makes the library call, so the host and the target
//! cannot drift apart in how they call it.

// The deployed generator is M4F-only: its 562 KB blob does not fit the micro:bit's 256 KB flash.
#[cfg(not(armv6m))]
pub mod deploy;
pub mod drift;
pub mod mlp;
pub mod sinkhorn;
pub mod train;

/// Dimension of every cloud.
pub const D: usize = 2;
/// Generated samples (the queries `x`).
pub const N: usize = 32;
/// Data (the positives `y+`, Sinkhorn's second cloud).
pub const P: usize = 40;
/// A separate negative cloud.
pub const Q: usize = 24;
