//! Sample-quality metrics between two point clouds: the numbers the papers report next to their
//! pictures.
//!
//! - [`sliced_wasserstein`]: sliced Wasserstein distance, `L` random directions (200 in the
//!   papers), sorted projections, `p = 1` or `p = 2`;
//! - [`mmd`]: the unbiased MMD² with a sum of Gaussian kernels over several bandwidths;
//! - [`energy_distance`]: `2E‖X−Y‖ − E‖X−X'‖ − E‖Y−Y'‖`, unbiased;
//! - [`data_floor`]: the value of a metric between two *independent samples of the data*, the
//!   floor any generator's value should be read against (docs/mathematics.md §11: "report both").
//!
//! The papers (Turan & Ovsjanikov 2026, App. I; the unified-view paper, §C and Fig. 8) evaluate
//! 5 000 generated against 5 000 data samples, SWD with 200 random projections and an "RBF-MMD";
//! neither states the power of the SWD nor the MMD bandwidths, so both are explicit parameters
//! here.
//!
//! The pairwise statistics stream over the crate's tiled pair loop (8 lanes of the first cloud
//! against tiles of 16 points of the second): `O(N·M·D)` time, `O(1)` memory, per-tile `f32`
//! sums accumulated in `f64`. The sliced Wasserstein distance sorts projections in a caller-owned
//! scratch of `2n` floats.

mod energy;
mod floor;
mod mmd;
pub(crate) mod sliced_wasserstein;

pub use energy::energy_distance;
pub use floor::data_floor;
pub use mmd::{DEFAULT_MMD_BANDWIDTHS, MAX_MMD_BANDWIDTHS, MmdConfig, mmd};
pub use sliced_wasserstein::{
    MAX_DIRECTIONS, SlicedWassersteinConfig, WassersteinPower, random_direction,
    sliced_wasserstein, sliced_wasserstein_scratch_len,
};

use crate::cloud::CloudView;
use crate::engine::chunks::{Exec, block_starts, fold_chunks};
use crate::engine::simd::{F32s, LANES};
use crate::engine::{Block, GaussianShape, LogitRule, PairMask, Partners, sweep};
use crate::error::Error;

/// A two-sample statistic and the three pair means it is made of.
///
/// For a pair function `h` (a kernel for MMD², a distance for the energy distance):
/// `within_first = Σ_{i≠j} h(x_i, x_j)/(N(N−1))`, `within_second` likewise over `Y`,
/// `cross = Σ_{i,j} h(x_i, y_j)/(N·M)`, all accumulated in `f64`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TwoSampleStatistic {
    /// The statistic (MMD²: `within_first + within_second − 2·cross`; energy distance:
    /// `2·cross − within_first − within_second`). Unbiased, so it can be slightly negative when
    /// the two distributions are equal.
    pub value: f64,
    /// Mean of `h` over pairs of distinct points of the first cloud.
    pub within_first: f64,
    /// Mean of `h` over pairs of distinct points of the second cloud.
    pub within_second: f64,
    /// Mean of `h` over all pairs `(x_i, y_j)`.
    pub cross: f64,
}

/// Checks a cloud for an unbiased two-sample statistic: finite, at least 2 points.
fn validate_two_sample<const D: usize>(
    cloud: &CloudView<'_, D>,
    input: &'static str,
) -> Result<(), Error> {
    cloud.validate(input)?;
    if cloud.len() < 2 {
        return Err(Error::TooFewPoints {
            input,
            required: 2,
            found: cloud.len(),
        });
    }
    Ok(())
}

/// `Σ_i Σ_j f(−‖a_i − b_j‖²)` for up to `K` pair functions at once (the first `active`
/// accumulators), summed over valid lanes in `f64`.
///
/// `f` receives a vector of *negative* squared distances of 8 lane points to one partner and
/// adds `K` transformed vectors into its accumulators. When `is_self`, the pair `(i, i)` gets the
/// value `EXCLUDED_LOGIT = −1e30` instead, so `f` must map it to 0 (e.g. `exp(c·l)` with `c > 0`
/// or `√(−l)` masked by a select).
fn pair_sums<const D: usize, const K: usize>(
    exec: Exec,
    a: &CloudView<'_, D>,
    b: &CloudView<'_, D>,
    is_self: bool,
    active: usize,
    f: impl Fn(F32s, &mut [F32s; K]) + Send + Sync,
) -> [f64; K] {
    // Gaussian logits with inverse scale 1 are exactly −‖x − y‖².
    let rule = LogitRule {
        inverse_scale: 1.0,
        squared_distance_floor: 0.0,
        mask: PairMask::Exclude,
    };
    let partners = Partners::new(*b, is_self);
    // Per chunk of `a`, the block totals in block order; the chunk totals are then added in
    // chunk order (fixed by `a.len()` alone), on one thread or many.
    let chunk_totals = |start: usize, end: usize| {
        let mut totals = [0.0_f64; K];
        for start in block_starts(start, end) {
            let block = Block::gather(a, start);
            let mut lane_totals = [[0.0_f64; LANES]; K];
            sweep::<D, GaussianShape>(&block, &partners, &rule, |tile| {
                let mut tile_sums = [F32s::splat(0.0); K];
                for &l in tile.logits() {
                    f(l, &mut tile_sums);
                }
                for (lanes, sums) in lane_totals.iter_mut().zip(tile_sums).take(active) {
                    for (t, s) in lanes.iter_mut().zip(sums.to_array()) {
                        *t += f64::from(s);
                    }
                }
            });
            for (total, lanes) in totals.iter_mut().zip(lane_totals) {
                *total += lanes.iter().take(block.valid).sum::<f64>();
            }
        }
        totals
    };
    fold_chunks(
        exec,
        a.len(),
        [0.0_f64; K],
        chunk_totals,
        |mut acc, part| {
            for (a, p) in acc.iter_mut().zip(part) {
                *a += p;
            }
            acc
        },
    )
}
