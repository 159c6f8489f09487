//! On-target tests, one module per family. Each test runs a case of `crate::cases` on the core
//! and compares it with the values the build script computed on the host (`OUT_DIR`).
//! To add a family: `src/cases/NAME.rs` (the calls), `generate_NAME` in `build/main.rs` (the
//! expected values), `src/tests/NAME.rs` (the checks and its `TESTS`), and one line below.

use crate::harness::Test;

#[cfg(not(armv6m))]
pub mod deploy;
pub mod drift;
pub mod mlp;
pub mod sinkhorn;
pub mod train;

/// The input clouds (bit-identical to the host's).
pub mod inputs {
    include!(concat!(env!("OUT_DIR"), "/inputs.rs"));
}

/// Every family, in order.
pub const FAMILIES: &[(&str, &[Test])] = &[
    ("drift", drift::TESTS),
    ("sinkhorn", sinkhorn::TESTS),
    ("mlp", mlp::TESTS),
    ("train", train::TESTS),
    #[cfg(not(armv6m))]
    ("deploy", deploy::TESTS),
];
