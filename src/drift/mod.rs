//! Kernel drift fields `V(x)`: the vector each generated sample is pushed along during training
//! (Deng et al. 2026; docs/mathematics.md §3–5).
//!
//! Every operator takes the queries `x` (generated samples), the positives `y+` (data) and the
//! negatives `y−` (usually the queries themselves, [`Negatives::Queries`], in which case the pair
//! `(i, i)` is masked), and writes `V` *coordinate-major*: `V_d(x_i)` at `out[d·N + i]`, the layout
//! the MLP's batch lanes consume. Memory is `O(N + P + Q)` (caller-owned scratch where needed);
//! no `N × (P+Q)` matrix is ever formed.

#[cfg(feature = "dense")]
mod dense_two_axis;
pub mod field;
#[cfg(feature = "dense")]
pub mod grouped;
pub mod mean_shift;
pub mod mmd_flow;
pub mod multi_temperature;
pub mod multi_temperature_vjp;
pub mod operator;
pub mod pruned_mean_shift;
pub mod pruned_mmd_flow;
pub mod pruned_two_axis;
pub(crate) mod pruning;
pub mod sliced_wasserstein_drift;
pub mod two_axis;
pub mod two_axis_vjp;
pub mod vjp;

use crate::cloud::CloudView;
#[cfg(feature = "dense")]
use crate::engine::dense::DistanceForm;
use crate::error::Error;

#[cfg(feature = "dense")]
pub use dense_two_axis::two_axis_dense_scratch_len;

/// How the squared distances are computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DistanceMethod {
    /// The faster form for the channel count, by the measured crossover
    /// [`EXPANDED_FROM_CHANNELS`].
    #[default]
    Auto,
    /// Always `‖x‖² + ‖y‖² − 2⟨x, y⟩` through the matrix-multiply kernel, centred, near pairs
    /// recomputed in the difference form (`NEAR_PAIR_RATIO`, feature `dense`).
    Expanded,
    /// Always `Σ_d (x_d − y_d)²` (register-blocked, no cancellation).
    Difference,
}

/// How the multi-temperature feature loss computes its per-temperature normalisers
/// `n_R = mean ‖F_R‖²` (global over the groups, so needed before any field is combined).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum NormaliserMethod {
    /// The Gram form where it needs under 85 % of the products' multiply-adds (many channels
    /// per target: from about `S ≥ 2.4·T` for three temperatures) and the distances are
    /// expanded; the products otherwise.
    #[default]
    Auto,
    /// One product of every temperature's coefficient tile with the targets (`Cg·T·S`
    /// multiply-adds per group and temperature); the per-temperature fields are kept and
    /// combined.
    Products,
    /// `‖F_i‖² = c_i G c_iᵀ` through the Gram matrix `G` of the targets (`Cg·T²` per group and
    /// temperature, plus `T²·S/2` once for `G`), each group and temperature accepted when a
    /// probabilistic rounding-error bound (`GRAM_SIGMAS` standard deviations) is within
    /// `GRAM_TOLERANCE`, else recomputed with the product; the field is
    /// then one product of `Σ_R C_R/√n_R` with the targets. Needs the workspace of
    /// `grouped_drift_workspace_len_with`.
    Gram,
}

/// From this many channels on, [`DistanceMethod::Auto`] uses the expanded (GEMM) form.
///
/// Measured (`cargo bench --bench side_by_side`, x86-64-v3, one thread): the register-blocked
/// difference form is as fast up to 24 channels (grouped official shape: 5.3 vs 7.0 ms at
/// `S = 3`, a tie at 16; flat two-axis `N = 4096`: 145 vs 156 ms at `D = 8`, 159 vs 163 at 24) and
/// 2–10 % slower from 32 on (grouped 6.9 vs 6.8 ms at `S = 32`, 23.2 vs 22.5 at 256; flat 197 vs
/// 194 ms at `D = 32`, 246 vs 221 at 64). Below the crossover the exact form is kept.
pub const EXPANDED_FROM_CHANNELS: usize = 32;

#[cfg(feature = "dense")]
impl DistanceMethod {
    pub(crate) fn form(self, channels: usize) -> DistanceForm {
        match self {
            Self::Expanded => DistanceForm::Expanded,
            Self::Difference => DistanceForm::Difference,
            Self::Auto if channels >= EXPANDED_FROM_CHANNELS => DistanceForm::Expanded,
            Self::Auto => DistanceForm::Difference,
        }
    }
}

/// From this many coordinates on, [`Evaluation::Auto`] evaluates a drift over flat clouds on the
/// dense path (when the scratch holds the dense size), whatever the problem's size.
///
/// The crossover depends on the size of the `N × (P + Q)` tile, which the dense path writes and
/// reads back once: measured (two-axis, Laplace, one thread, x86-64-v3) at `N = P = Q = 1024`
/// (a 2M-entry tile) the dense path wins from `D = 12` (6.0 vs 6.8 ms), at `N = 4096` (33.5M
/// entries, 134 MB) only from `D = 24` (163 vs 218 ms; at 16: 164 vs 138). Hence two thresholds:
/// this one, and [`DENSE_FROM_DIMENSION_SMALL`] for tiles of at most [`SMALL_TILE`] entries.
pub const DENSE_FROM_DIMENSION: usize = 24;

/// From this many coordinates on, problems whose tile has at most [`SMALL_TILE`] entries take the
/// dense path under [`Evaluation::Auto`] (see [`DENSE_FROM_DIMENSION`]).
pub const DENSE_FROM_DIMENSION_SMALL: usize = 12;

/// Tile entries (`N·(P + Q)`) up to which [`DENSE_FROM_DIMENSION_SMALL`] applies: 4M, a 16 MB tile.
pub const SMALL_TILE: usize = 1 << 22;

/// How a drift over flat clouds visits its pairs.
///
/// ```
/// # #[cfg(feature = "dense")]
/// # {
/// use drifting::{CloudView, DistanceMethod, Evaluation, Kernel, Negatives, TwoAxisConfig};
/// use drifting::{two_axis_dense_scratch_len, two_axis_softmax_drift};
/// const D: usize = 16; // feature space: the dense path pays from 12 coordinates on
/// let points = |n: usize, seed: usize| -> Vec<[f32; D]> {
///     let value = |i: usize, d: usize| ((i * 31 + d * 7 + seed) % 17) as f32 / 17.0;
///     (0..n).map(|i| core::array::from_fn(|d| value(i, d))).collect()
/// };
/// let (generated, data) = (points(8, 0), points(6, 5));
/// let (x, y) = (CloudView::from_points(&generated), CloudView::from_points(&data));
/// let len = two_axis_dense_scratch_len(8, 6, 8, D).expect("fits usize"); // the N × (P + Q) tile…
/// let mut scratch = vec![0.0_f32; len];
/// let (mut streamed, mut dense) = (vec![0.0_f32; 8 * D], vec![0.0_f32; 8 * D]);
/// let config = TwoAxisConfig::new(Kernel::laplace(1.0));
/// let streaming = TwoAxisConfig { evaluation: Evaluation::Streaming, ..config };
/// let tiled = TwoAxisConfig { evaluation: Evaluation::Dense(DistanceMethod::Auto), ..config };
/// two_axis_softmax_drift(&x, &y, Negatives::Queries, &streaming, &mut scratch, &mut streamed)?;
/// two_axis_softmax_drift(&x, &y, Negatives::Queries, &tiled, &mut scratch, &mut dense)?;
/// // The same drift to f32 rounding.
/// assert!(streamed.iter().zip(&dense).all(|(s, d)| (s - d).abs() < 1e-5));
/// # }
/// # Ok::<(), drifting::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Evaluation {
    /// Dense from [`DENSE_FROM_DIMENSION`] coordinates on ([`DENSE_FROM_DIMENSION_SMALL`] for tiles
    /// of at most [`SMALL_TILE`] entries) when the scratch holds the dense size (e.g.
    /// `two_axis_dense_scratch_len`), streaming otherwise.
    #[default]
    Auto,
    /// The streaming tiled sweep: `O(N + P + Q)` scratch, every distance recomputed in each pass
    /// (`Σ_d (x_d − y_d)²`, lanes over 8 queries): the fastest form in 2D and 3D, and the only
    /// one for clouds whose `N × (P + Q)` tile does not fit.
    Streaming,
    /// The dense path with this distance form: every distance once, the logit tile kept in the
    /// scratch (which must hold the dense size). Needs feature `dense` (default).
    Dense(DistanceMethod),
}

impl Evaluation {
    /// The distance form of the dense path, or `None` for the streaming sweep, given the
    /// dimension, the tile's entries, the dense scratch size (`None` if it overflows) and the
    /// scratch provided.
    ///
    /// # Errors
    /// [`Error::ScratchTooSmall`] when the dense path is forced and the scratch is shorter.
    /// Whether the dense path beats the streaming one at `dim` coordinates and a tile of `tile`
    /// entries (the measured crossovers [`DENSE_FROM_DIMENSION`], [`DENSE_FROM_DIMENSION_SMALL`]).
    #[cfg(feature = "dense")]
    pub(crate) const fn pays(dim: usize, tile: usize) -> bool {
        dim >= DENSE_FROM_DIMENSION || (dim >= DENSE_FROM_DIMENSION_SMALL && tile <= SMALL_TILE)
    }

    #[cfg(feature = "dense")]
    pub(crate) fn dense_form(
        self,
        dim: usize,
        tile: usize,
        required: Option<usize>,
        provided: usize,
    ) -> Result<Option<DistanceForm>, Error> {
        let fits = required.is_some_and(|r| provided >= r);
        let pays = Self::pays(dim, tile);
        match self {
            Self::Streaming => Ok(None),
            Self::Auto if !pays || !fits => Ok(None),
            Self::Auto => Ok(Some(DistanceMethod::Auto.form(dim))),
            Self::Dense(method) if fits => Ok(Some(method.form(dim))),
            Self::Dense(_) => Err(Error::ScratchTooSmall {
                input: "scratch",
                required: required.unwrap_or(usize::MAX),
                provided,
            }),
        }
    }

    /// Without feature `dense` every drift streams; forcing the dense path is refused.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`"evaluation"`) for [`Evaluation::Dense`].
    #[cfg(not(feature = "dense"))]
    pub(crate) fn check_streaming(self) -> Result<(), Error> {
        match self {
            Self::Dense(_) => Err(Error::InvalidParameter {
                input: "evaluation",
            }),
            _ => Ok(()),
        }
    }
}

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
        return Err(Error::InvalidParameter { input: "D" });
    }
    Ok((negatives, is_self))
}
