//! Kernel drift fields `V(x)`: the vector each generated sample is pushed along during training
//! (Deng et al. 2026; ALGORITHMS.md §3–5).
//!
//! Every operator takes the queries `x` (generated samples), the positives `y+` (data) and the
//! negatives `y−` (usually the queries themselves, [`Negatives::Queries`], in which case the pair
//! `(i, i)` is masked), and writes `V` *coordinate-major*: `V_d(x_i)` at `out[d·N + i]`, the layout
//! the MLP's batch lanes consume. Memory is `O(N + P + Q)` (caller-owned scratch where needed);
//! no `N × (P+Q)` matrix is ever formed.

pub mod grouped;
pub mod mean_shift;
pub mod mmd_flow;
pub mod multi_temperature;
pub mod sliced_flow;
pub mod two_axis;
pub mod vjp;

use crate::cloud::CloudView;
use crate::error::Error;

/// The negative samples of a drift.
#[derive(Clone, Copy, Debug)]
pub enum Negatives<'a, const D: usize> {
    /// The queries themselves (the usual training setting): the self-pair `(i, i)` is masked
    /// according to the operator's configuration.
    Queries,
    /// A separate cloud; no pair is masked.
    Cloud(CloudView<'a, D>),
}

impl<'a, const D: usize> Negatives<'a, D> {
    /// The negative cloud and whether it is the query cloud.
    pub(crate) fn resolve(self, queries: CloudView<'a, D>) -> (CloudView<'a, D>, bool) {
        match self {
            Self::Queries => (queries, true),
            Self::Cloud(cloud) => (cloud, false),
        }
    }
}

/// Validates the clouds of a drift call and the output length; returns the negatives cloud and
/// whether it is the queries.
pub(crate) fn validate_clouds<'a, const D: usize>(
    queries: &CloudView<'a, D>,
    positives: &CloudView<'a, D>,
    negatives: Negatives<'a, D>,
    out: &[f32],
) -> Result<(CloudView<'a, D>, bool), Error> {
    queries.validate("queries")?;
    positives.validate("positives")?;
    let (negatives, is_self) = negatives.resolve(*queries);
    if !is_self {
        negatives.validate("negatives")?;
    }
    let expected = queries.len().saturating_mul(D);
    if out.len() != expected {
        return Err(Error::ShapeMismatch {
            input: "out",
            expected,
            found: out.len(),
        });
    }
    if D == 0 {
        return Err(Error::InvalidParameter { name: "D" });
    }
    Ok((negatives, is_self))
}
