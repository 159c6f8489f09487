//! The official multi-temperature drift with its normalisation (the JAX `drift_loss` of
//! Deng et al. 2026; docs/mathematics.md §5).

use crate::cloud::CloudView;
#[cfg(feature = "dense")]
use crate::drift::grouped::{
    GroupShape, GroupedDriftConfig, grouped_drift_loss, grouped_drift_workspace_len,
};
use crate::drift::operator::{
    DriftOperator, DriftOutcome, DriftShape, queries_as_negatives, saturated,
};
use crate::drift::{Evaluation, Negatives, validate_clouds};
use crate::engine::affinity::TwoAxisProblem;
use crate::engine::chunks::{Exec, block_starts, fold_chunks};
#[cfg(feature = "dense")]
use crate::engine::dense::DistanceForm;
use crate::engine::simd::F32s;
use crate::engine::{
    Block, LaplaceShape, LogitRule, PairMask, Partners, check_range, mean_square, squared_diameter,
    sweep, take_scratch,
};
use crate::error::Error;
use crate::kernel::UNDERFLOW_LOGIT;
use rand_core::Rng;

/// Most temperatures one call accepts.
pub const MAX_TEMPERATURES: usize = 8;

/// Largest column weight accepted (the official weights are `O(N)`; larger ones would overflow
/// `f32` in the weighted affinity sums).
pub const MAX_WEIGHT: f32 = 1.0e9;

/// The official temperatures `R ∈ {0.02, 0.05, 0.2}`.
pub const OFFICIAL_TEMPERATURES: [f32; 3] = [0.02, 0.05, 0.2];

/// Configuration of [`multi_temperature_drift`]; [`MultiTemperatureConfig::official`] gives the
/// official defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MultiTemperatureConfig<'a> {
    /// The temperatures `R` (on the normalised distance), 1 to [`MAX_TEMPERATURES`] of them.
    pub temperatures: &'a [f32],
    /// Affinities are `sqrt(max(softmax_row · softmax_col, floor))`. Official: `1e-6`. It is not
    /// in the paper and swamps the field for large flat batches, so 0 is allowed.
    pub affinity_floor: f32,
    /// Added to the normalised distance of the self-pairs (official: `100`).
    pub self_mask_distance: f32,
    /// Column weights of the positives (`None`: all 1).
    pub positive_weights: Option<&'a [f32]>,
    /// Column weights of the generated samples as negatives (`None`: all 1).
    pub negative_weights: Option<&'a [f32]>,
    /// Streaming or dense evaluation (default [`Evaluation::Auto`]; the dense path is the
    /// grouped feature-space loss with one group, see `multi_temperature_dense_scratch_len`,
    /// feature `dense`).
    pub evaluation: Evaluation,
}

impl MultiTemperatureConfig<'static> {
    /// The official defaults: `R ∈ {0.02, 0.05, 0.2}`, floor `1e-6`, self-mask `+100`, unit
    /// weights.
    #[must_use]
    pub const fn official() -> Self {
        Self {
            temperatures: &OFFICIAL_TEMPERATURES,
            affinity_floor: 1.0e-6,
            self_mask_distance: 100.0,
            positive_weights: None,
            negative_weights: None,
            evaluation: Evaluation::Auto,
        }
    }
}

/// What [`multi_temperature_drift`] measured on the way.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MultiTemperatureReport {
    /// The global distance scale `Σ_ij dist_ij w_j / (N Σ_j w_j)`.
    pub distance_scale: f32,
    /// `s_in = max(scale/√D, 1e-3)`: the output is in coordinates divided by `s_in`.
    pub input_scale: f32,
    /// Per temperature, the raw drift RMS² `n_R = mean(F_R²)` (first `temperature_count`
    /// entries): the quantity that tracks training progress, unlike the loss.
    pub raw_rms2: [f32; MAX_TEMPERATURES],
    /// Number of temperatures used.
    pub temperature_count: usize,
    /// The official loss `mean(F²)` (nearly constant, about 3 to 9, whatever the progress).
    pub loss: f32,
}

#[cfg(feature = "dense")]
/// Scratch values the dense path of [`multi_temperature_drift`] needs for `N` queries, `P`
/// positives in dimension `dim` with `temperatures` temperatures: the grouped loss's workspace for
/// one group ([`grouped_drift_workspace_len`]), token-major
/// copies of the clouds and the row-major field; `None` if that overflows `usize`.
#[must_use]
pub fn multi_temperature_dense_scratch_len(
    queries: usize,
    positives: usize,
    dim: usize,
    temperatures: usize,
) -> Option<usize> {
    let shape = GroupShape {
        groups: 1,
        generated: queries,
        unconditional: 0,
        positives,
        channels: dim,
    };
    grouped_drift_workspace_len(&shape, temperatures)?
        .checked_add(queries.checked_add(positives)?.checked_mul(dim)?)?
        .checked_add(queries.checked_mul(dim)?)
}

#[cfg(feature = "dense")]
/// The dense path: the grouped loss with one group (`B = 1`, no unconditional negatives), every
/// distance once and kept for every temperature. One problem is one group, so it runs on one
/// thread.
fn dense_multi_temperature<const D: usize>(
    form: DistanceForm,
    queries: &CloudView<'_, D>,
    positives: &CloudView<'_, D>,
    config: &MultiTemperatureConfig<'_>,
    scratch: &mut [f32],
    out: &mut [f32],
) -> Result<MultiTemperatureReport, Error> {
    let (n, p) = (queries.len(), positives.len());
    let shape = GroupShape {
        groups: 1,
        generated: n,
        unconditional: 0,
        positives: p,
        channels: D,
    };
    let (query_copy, rest) = scratch.split_at_mut((n * D).min(scratch.len()));
    let (positive_copy, rest) = rest.split_at_mut((p * D).min(rest.len()));
    let (field, workspace) = rest.split_at_mut((n * D).min(rest.len()));
    let generated = queries.token_major(query_copy);
    let positive_rows = positives.token_major(positive_copy);
    let grouped = GroupedDriftConfig {
        temperatures: config.temperatures,
        affinity_floor: config.affinity_floor,
        self_mask_distance: config.self_mask_distance,
        guidance: None,
        generated_weights: config.negative_weights,
        unconditional_weights: None,
        positive_weights: config.positive_weights,
        distances: form.method(),
        normalisers: crate::drift::NormaliserMethod::Auto,
    };
    let report = grouped_drift_loss(
        &shape,
        generated,
        &[],
        positive_rows,
        &grouped,
        workspace,
        field,
        None,
    )?;
    for (i, row) in field.chunks_exact(D.max(1)).enumerate() {
        for (d, &v) in row.iter().enumerate() {
            if let Some(o) = out.get_mut(d * n + i) {
                *o = v;
            }
        }
    }
    Ok(MultiTemperatureReport {
        distance_scale: report.distance_scale,
        input_scale: report.input_scale,
        raw_rms2: report.raw_rms2,
        temperature_count: report.temperature_count,
        loss: report.loss,
    })
}

/// Scratch length [`multi_temperature_drift`] needs: `2N + P` log-sum-exps and `N·D` for one
/// temperature's field, saturating at `usize::MAX`.
#[must_use]
pub const fn multi_temperature_scratch_len(queries: usize, positives: usize, dim: usize) -> usize {
    saturated(DriftShape::training(queries, positives, dim).linear(2, 1, 0, 1))
}

/// The official multi-temperature drift `F`, in coordinates divided by `s_in`.
///
/// Following the official `drift_loss` (docs/mathematics.md §5), with targets
/// `[x ; y+]` (the generated samples are the negatives):
/// 1. `dist_ij = sqrt(max(‖x_i − t_j‖², 1e-8))`, `scale = Σ dist_ij w_j / (N Σ_j w_j)`,
///    `s_in = max(scale/√D, 1e-3)`, `d̃ = dist / max(scale, 1e-3)`, `+100` on the self-pairs;
/// 2. for each `R`: `l = −d̃/R`, `A = sqrt(max(softmax_row · softmax_col, floor)) · w_j`,
///    `F_R` the two-axis drift of [`two_axis_softmax_drift`](crate::two_axis_softmax_drift) with
///    these affinities, in coordinates divided by `s_in`; `n_R = mean(F_R²)`;
///    `F += F_R / sqrt(max(n_R, 1e-8))`.
///
/// The training target is `x/s_in + F`; the loss is `mean(F²)` and its gradient with respect to
/// `x` is `−2F/(s_in·N·D)` ([`stop_gradient_loss`](crate::stop_gradient_loss) with
/// `coordinate_scale = s_in`).
///
/// Output coordinate-major (`F_d(x_i)` at `out[d·N + i]`). Cost: one distance pass plus, per
/// temperature, three streaming passes (`O(N·(N+P)·D)` each); `scratch` of
/// [`multi_temperature_scratch_len`] values.
///
/// Multithreaded with feature `std` (the current rayon pool; the same bits whatever the number
/// of threads).
///
/// # Errors
/// Empty or non-finite clouds; no temperature, more than [`MAX_TEMPERATURES`], or one that is not
/// positive and finite; a negative or non-finite floor or mask distance; weights of the wrong
/// length, negative, non-finite or all zero; `out.len() != N·D`; scratch too small.
///
/// # Example
/// ```
/// use drifting::{CloudView, MultiTemperatureConfig, stop_gradient_loss};
/// use drifting::{multi_temperature_drift, multi_temperature_scratch_len};
/// const N: usize = 8;
/// let generated: [[f32; 2]; N] = core::array::from_fn(|i| [0.1 * i as f32, 0.0]);
/// let data: [[f32; 2]; N] = core::array::from_fn(|i| [0.0, 0.5 + 0.1 * i as f32]);
/// let config = MultiTemperatureConfig::official(); // R ∈ {0.02, 0.05, 0.2}
/// let mut scratch = [0.0_f32; multi_temperature_scratch_len(N, N, 2)];
/// let mut field = [0.0_f32; N * 2];
/// let report = multi_temperature_drift(
///     &CloudView::from_points(&generated),
///     &CloudView::from_points(&data),
///     &config,
///     &mut scratch,
///     &mut field,
/// )?;
/// assert_eq!(report.temperature_count, 3);
/// // Each temperature's field is normalised to RMS 1 before the sum: mean(F²) ≤ 3² = 9.
/// assert!(report.loss > 0.0 && report.loss <= 9.0 + 1e-4);
/// // The stop-gradient loss of F, in coordinates divided by s_in, is the reported loss.
/// let mut gradient = [0.0_f32; N * 2];
/// let loss = stop_gradient_loss(&field, report.input_scale, &mut gradient)?;
/// assert!((loss - report.loss).abs() <= 1e-5 * report.loss);
/// # Ok::<(), drifting::Error>(())
/// ```
pub fn multi_temperature_drift<const D: usize>(
    queries: &CloudView<'_, D>,
    positives: &CloudView<'_, D>,
    config: &MultiTemperatureConfig<'_>,
    scratch: &mut [f32],
    out: &mut [f32],
) -> Result<MultiTemperatureReport, Error> {
    let exec = Exec::current();
    validate_clouds(queries, positives, Negatives::Queries, out)?;
    let (n, p) = (queries.len(), positives.len());
    validate_config(config, n, p)?;
    #[cfg(not(feature = "dense"))]
    config.evaluation.check_streaming()?;
    #[cfg(feature = "dense")]
    if let Some(form) = config.evaluation.dense_form(
        D,
        n.saturating_mul(n.saturating_add(p)),
        multi_temperature_dense_scratch_len(n, p, D, config.temperatures.len()),
        scratch.len(),
    )? {
        return dense_multi_temperature(form, queries, positives, config, scratch, out);
    }
    let scratch = take_scratch(scratch, multi_temperature_scratch_len(n, p, D))?;

    let (distance_scale, input_scale) = checked_scales(exec, queries, positives, config)?;
    let clamped_scale = distance_scale.max(1.0e-3);
    let (lse, force) = scratch.split_at_mut((2 * n + p).min(scratch.len()));
    let force = force.get_mut(..n * D).unwrap_or(&mut []);
    out.fill(0.0);
    let mut report = MultiTemperatureReport {
        distance_scale,
        input_scale,
        raw_rms2: [0.0; MAX_TEMPERATURES],
        temperature_count: config.temperatures.len(),
        loss: 0.0,
    };
    let problem = TwoAxisProblem {
        queries: *queries,
        positives: *positives,
        negatives: *queries,
        negatives_are_queries: true,
        positive_weights: config.positive_weights,
        negative_weights: config.negative_weights,
        affinity_floor_logit: (config.affinity_floor > 0.0)
            .then(|| 0.5 * libm::logf(config.affinity_floor)),
        output_scale: 1.0 / input_scale,
    };
    for (&r, raw) in config.temperatures.iter().zip(report.raw_rms2.iter_mut()) {
        let rule = LogitRule {
            inverse_scale: 1.0 / (r * clamped_scale),
            squared_distance_floor: 1.0e-8,
            mask: PairMask::AddDistance(config.self_mask_distance * clamped_scale),
        };
        problem.drift::<LaplaceShape>(exec, &rule, lse, force);
        let n_r = mean_square(force);
        *raw = n_r;
        let inv_norm = 1.0 / libm::sqrtf(n_r.max(1.0e-8));
        for (o, f) in out.iter_mut().zip(force.iter()) {
            *o += f * inv_norm;
        }
    }
    report.loss = mean_square(out);
    // A safety net after the range checks above: weights near MAX_WEIGHT on far-apart clouds can
    // still overflow the weighted sums; report it rather than return non-finite values.
    let finite = report.loss.is_finite()
        && report.raw_rms2.iter().all(|v| v.is_finite())
        && out.iter().all(|v| v.is_finite());
    if !finite {
        return Err(Error::OutOfRange { input: "weights" });
    }
    Ok(report)
}

pub(crate) fn validate_config(
    config: &MultiTemperatureConfig<'_>,
    n: usize,
    p: usize,
) -> Result<(), Error> {
    validate_official(
        config.temperatures,
        config.affinity_floor,
        config.self_mask_distance,
    )?;
    validate_weights(config.positive_weights, p, "positive_weights")?;
    validate_weights(config.negative_weights, n, "negative_weights")?;
    #[allow(clippy::cast_precision_loss)]
    let total = config.positive_weights.map_or(p as f32, |w| w.iter().sum())
        + config.negative_weights.map_or(n as f32, |w| w.iter().sum());
    if !(total > 0.0 && total.is_finite()) {
        return Err(Error::InvalidParameter { input: "weights" });
    }
    Ok(())
}

/// Checks the parameters shared by the official drifts: 1 to [`MAX_TEMPERATURES`] positive,
/// finite temperatures (with finite reciprocals), a non-negative finite affinity floor and
/// self-mask distance.
pub(crate) fn validate_official(
    temperatures: &[f32],
    affinity_floor: f32,
    self_mask_distance: f32,
) -> Result<(), Error> {
    if temperatures.is_empty()
        || temperatures.len() > MAX_TEMPERATURES
        || !temperatures
            .iter()
            .all(|r| r.is_finite() && *r > 0.0 && (1.0 / r).is_finite())
    {
        return Err(Error::InvalidParameter {
            input: "temperatures",
        });
    }
    if !(affinity_floor.is_finite() && affinity_floor >= 0.0) {
        return Err(Error::InvalidParameter {
            input: "affinity_floor",
        });
    }
    if !(self_mask_distance.is_finite() && self_mask_distance >= 0.0) {
        return Err(Error::InvalidParameter {
            input: "self_mask_distance",
        });
    }
    Ok(())
}

/// Checks optional column weights: `len` of them, finite, non-negative, at most [`MAX_WEIGHT`].
pub(crate) fn validate_weights(
    weights: Option<&[f32]>,
    len: usize,
    name: &'static str,
) -> Result<(), Error> {
    let Some(w) = weights else {
        return Ok(());
    };
    if w.len() != len {
        return Err(Error::ShapeMismatch {
            input: name,
            expected: len,
            found: w.len(),
        });
    }
    if !w.iter().all(|v| v.is_finite()) {
        return Err(Error::NonFinite { input: name });
    }
    if w.iter().any(|v| *v < 0.0) {
        return Err(Error::InvalidParameter { input: name });
    }
    if w.iter().any(|v| *v > MAX_WEIGHT) {
        return Err(Error::OutOfRange { input: name });
    }
    Ok(())
}

/// `Σ_i Σ_j dist_ij w_j / (N Σ_j w_j)` over targets `[x ; y+]`, self-pairs included (distance
/// `sqrt(1e-8)`), as the official code computes it before masking.
///
/// The sum over `i` is the one reduction across rows of the crate: each chunk of queries sums
/// its blocks in `f64`, and the chunk partials are added in chunk order, serial or parallel.
pub(crate) fn distance_scale<const D: usize>(
    exec: Exec,
    queries: &CloudView<'_, D>,
    positives: &CloudView<'_, D>,
    config: &MultiTemperatureConfig<'_>,
) -> f32 {
    // A Laplace logit with inverse scale −1 is the (floored) distance itself.
    let rule = LogitRule {
        inverse_scale: -1.0,
        squared_distance_floor: 1.0e-8,
        mask: PairMask::Exclude,
    };
    let groups = [
        (Partners::new(*queries, false), config.negative_weights),
        (Partners::new(*positives, false), config.positive_weights),
    ];
    let chunk_sum = |first: usize, end: usize| -> f64 {
        let mut total = 0.0_f64;
        for start in block_starts(first, end) {
            let block = Block::gather(queries, start);
            let mut acc = F32s::splat(0.0);
            for (partners, weights) in &groups {
                sweep::<D, LaplaceShape>(&block, partners, &rule, |tile| {
                    for (t, dist) in tile.logits.iter().take(tile.count).enumerate() {
                        let w =
                            weights.map_or(1.0, |w| w.get(tile.start + t).copied().unwrap_or(0.0));
                        acc = dist.mul_add(F32s::splat(w), acc);
                    }
                });
            }
            let lanes = acc.to_array();
            total += lanes
                .iter()
                .take(block.valid)
                .map(|&v| f64::from(v))
                .sum::<f64>();
        }
        total
    };
    let total = fold_chunks(exec, queries.len(), 0.0_f64, chunk_sum, |a, b| a + b);
    #[allow(clippy::cast_precision_loss)]
    let weight_total = config.positive_weights.map_or(positives.len() as f64, |w| {
        w.iter().map(|&v| f64::from(v)).sum()
    }) + config.negative_weights.map_or(queries.len() as f64, |w| {
        w.iter().map(|&v| f64::from(v)).sum()
    });
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
    let scale = (total / (queries.len() as f64 * weight_total)) as f32;
    scale
}

/// The global distance scale and `s_in = max(scale/√D, 1e-3)` of a streaming evaluation, after
/// checking that every normalised distance over the smallest temperature stays in range (shared
/// with the vector-Jacobian product).
///
/// # Errors
/// [`Error::OutOfRange`] (`"temperatures"`) for clouds too far apart for the temperatures,
/// (`"weights"`) for a non-finite scale.
pub(crate) fn checked_scales<const D: usize>(
    exec: Exec,
    queries: &CloudView<'_, D>,
    positives: &CloudView<'_, D>,
    config: &MultiTemperatureConfig<'_>,
) -> Result<(f32, f32), Error> {
    let diameter2 = squared_diameter(&[queries, positives]);
    check_range(diameter2, 0.0, "temperatures")?;
    let scale = distance_scale(exec, queries, positives, config);
    if !scale.is_finite() {
        return Err(Error::OutOfRange { input: "weights" });
    }
    let clamped_scale = scale.max(1.0e-3);
    let smallest = config
        .temperatures
        .iter()
        .fold(f32::INFINITY, |m, &r| m.min(r));
    let largest_normalised =
        libm::sqrt(diameter2) / f64::from(clamped_scale) + f64::from(config.self_mask_distance);
    check_range(
        diameter2,
        largest_normalised / f64::from(smallest),
        "temperatures",
    )?;
    #[allow(clippy::cast_precision_loss)]
    let input_scale = (scale / libm::sqrtf(D as f32)).max(1.0e-3);
    Ok((scale, input_scale))
}

impl MultiTemperatureConfig<'_> {
    /// Workspace values the streaming evaluation needs for `shape`: `2N + P` log-sum-exps and
    /// one temperature's field (`N·D`); saturating at `usize::MAX`. `const`, for buffers in a
    /// `static`. The dense evaluation ([`Evaluation::Dense`]) needs
    /// `multi_temperature_dense_scratch_len` (feature `dense`), which
    /// [`DriftOperator::workspace_len`] returns for it.
    #[must_use]
    pub const fn workspace_len(&self, shape: &DriftShape) -> usize {
        saturated(shape.linear(2, 1, 0, 1))
    }
}

impl DriftOperator for MultiTemperatureConfig<'_> {
    const NAME: &'static str = "multi-temperature";
    const SEPARATE_NEGATIVES: bool = false;

    fn workspace_len(&self, shape: &DriftShape) -> Option<usize> {
        match self.evaluation {
            #[cfg(feature = "dense")]
            Evaluation::Dense(_) => multi_temperature_dense_scratch_len(
                shape.queries,
                shape.positives,
                shape.dim,
                self.temperatures.len(),
            ),
            _ => shape.linear(2, 1, 0, 1),
        }
    }

    fn validate(&self) -> Result<(), Error> {
        validate_official(
            self.temperatures,
            self.affinity_floor,
            self.self_mask_distance,
        )?;
        #[cfg(not(feature = "dense"))]
        self.evaluation.check_streaming()?;
        Ok(())
    }

    fn run<const D: usize, R: Rng + ?Sized>(
        &self,
        queries: &CloudView<'_, D>,
        positives: &CloudView<'_, D>,
        negatives: Negatives<'_, D>,
        _rng: &mut R,
        workspace: &mut [f32],
        out: &mut [f32],
    ) -> Result<DriftOutcome, Error> {
        queries_as_negatives(negatives)?;
        let report = multi_temperature_drift(queries, positives, self, workspace, out)?;
        Ok(DriftOutcome {
            coordinate_scale: report.input_scale,
            distance_scale: report.distance_scale,
            raw_rms2: report.raw_rms2,
            temperature_count: report.temperature_count,
        })
    }

    /// Without a floor the affinities underflow like a kernel on the normalised distance: a
    /// query beyond `87.3·R·scale` (smallest `R`) of every data point feels no pull. With a
    /// floor every pair keeps an affinity.
    fn reach(&self, outcome: &DriftOutcome) -> Option<f32> {
        if self.affinity_floor != 0.0 {
            return None;
        }
        let smallest = self
            .temperatures
            .iter()
            .fold(f32::INFINITY, |m, &t| m.min(t));
        Some(-UNDERFLOW_LOGIT * smallest * outcome.distance_scale.max(1.0e-3))
    }
}
