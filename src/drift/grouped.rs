//! The official feature-space drift loss over a group axis: `B` independent drift problems
//! (classes × feature locations) with statistics global over all of them, unconditional
//! negatives for classifier-free guidance, and a feature dimension known only at run time
//! (Deng et al. 2026, the official `drift_loss`; `docs/mathematics.md` §5).

use crate::drift::multi_temperature::{MAX_TEMPERATURES, validate_official, validate_weights};
use crate::drift::{DistanceMethod, NormaliserMethod};
use crate::engine::chunks::Share::PerRow;
use crate::engine::chunks::{Exec, map_blocks};
use crate::engine::dense::{
    Affinities, DistanceForm, Rows, channel_pack_len, coefficient_row, column_log_sum_exp,
    distance_epilogue, distance_products, drift_sums, mean_row, pack_both, pack_channels,
    pack_queries, pack_targets, query_pack_len, row_log_sum_exp, squared_distances,
    target_pack_len,
};
use crate::engine::gemm::{LINE_SLACK, MR, line_aligned, panels, split_lines, whole_lines};
use crate::engine::gram::{gram_len, gram_products, norm_sum, norm_sum_len, store_gram};
use crate::engine::simd::{F32s, LANES, sqrt};
use crate::engine::{LOGIT_LIMIT, MAX_SQUARED_DISTANCE, all_finite, sum_of_squares, take_buffer};
use crate::error::Error;

pub use crate::engine::dense::NEAR_PAIR_RATIO;
pub use crate::engine::gram::{GRAM_SIGMAS, GRAM_TOLERANCE};

/// The shape of one feature key's batch: `groups` independent problems, each with `generated`
/// generated samples (the queries, also negatives), `unconditional` extra negatives and
/// `positives` data samples, all with `channels` values. Arrays are `[groups, count, channels]`
/// row-major: sample `i` of group `b` at `[(b·count + i)·channels ..][..channels]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupShape {
    /// `B`: classes × feature locations.
    pub groups: usize,
    /// `Cg`: generated samples per group (official: 64).
    pub generated: usize,
    /// `Cu`: unconditional negatives per group (official: 16; 0 allowed).
    pub unconditional: usize,
    /// `Cp`: positives per group (official: 64).
    pub positives: usize,
    /// `S`: channels of the feature key (64 to 2048 in the official models).
    pub channels: usize,
}

impl GroupShape {
    /// Targets per group, `T = Cg + Cu + Cp` (saturating at `usize::MAX`: the entry points
    /// refuse such shapes).
    #[must_use]
    pub const fn targets(&self) -> usize {
        self.generated
            .saturating_add(self.unconditional)
            .saturating_add(self.positives)
    }

    /// `B·Cg·S`: the length of `generated` and of the field (saturating at `usize::MAX`).
    #[must_use]
    pub const fn generated_len(&self) -> usize {
        self.groups
            .saturating_mul(self.generated)
            .saturating_mul(self.channels)
    }

    fn checked_len(&self, count: usize) -> Option<usize> {
        self.groups.checked_mul(count)?.checked_mul(self.channels)
    }
}

/// Configuration of [`grouped_drift_loss`]; [`GroupedDriftConfig::official`] gives the official
/// defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GroupedDriftConfig<'a> {
    /// The temperatures `R` (on the normalised distance), 1 to [`MAX_TEMPERATURES`] of them
    /// (official `{0.02, 0.05, 0.2}`).
    pub temperatures: &'a [f32],
    /// Affinities are `sqrt(max(softmax_row · softmax_col, floor))` (official `1e-6`; 0 allowed).
    pub affinity_floor: f32,
    /// Added to the normalised distance of each generated sample to itself (official `100`).
    pub self_mask_distance: f32,
    /// Classifier-free guidance: a scale `α_b ≥ 1` per group; the unconditional negatives of
    /// group `b` get the column weight `(α_b − 1)(Cg − 1)/Cu`. `None`: weight 1 (the official
    /// default when no weights are passed).
    pub guidance: Option<&'a [f32]>,
    /// Per-sample column weights of the generated samples, `[B, Cg]` (`None`: 1).
    pub generated_weights: Option<&'a [f32]>,
    /// Per-sample column weights of the unconditional negatives, `[B, Cu]` (`None`: from
    /// `guidance`, or 1). Not together with `guidance`.
    pub unconditional_weights: Option<&'a [f32]>,
    /// Per-sample column weights of the positives, `[B, Cp]` (`None`: 1).
    pub positive_weights: Option<&'a [f32]>,
    /// How squared distances are computed (default [`DistanceMethod::Auto`]).
    pub distances: DistanceMethod,
    /// How the per-temperature normalisers `n_R` are computed (default
    /// [`NormaliserMethod::Auto`]).
    pub normalisers: NormaliserMethod,
}

impl GroupedDriftConfig<'static> {
    /// The official defaults: `R ∈ {0.02, 0.05, 0.2}`, floor `1e-6`, self-mask `+100`, unit
    /// weights, no guidance.
    #[must_use]
    pub const fn official() -> Self {
        Self {
            temperatures: &crate::drift::multi_temperature::OFFICIAL_TEMPERATURES,
            affinity_floor: 1.0e-6,
            self_mask_distance: 100.0,
            guidance: None,
            generated_weights: None,
            unconditional_weights: None,
            positive_weights: None,
            distances: DistanceMethod::Auto,
            normalisers: NormaliserMethod::Auto,
        }
    }
}

/// What [`grouped_drift_loss`] measured on the way.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GroupedDriftReport {
    /// The global distance scale `Σ_{b,i,j} dist_bij w_bj / (Cg Σ_{b,j} w_bj)`.
    pub distance_scale: f32,
    /// `s_in = max(scale/√S, 1e-3)`: the field is in coordinates divided by `s_in`.
    pub input_scale: f32,
    /// Per temperature, the raw drift RMS² `n_R = mean(F_R²)` over every group, sample and
    /// channel (first `temperature_count` entries).
    pub raw_rms2: [f32; MAX_TEMPERATURES],
    /// Number of temperatures.
    pub temperature_count: usize,
    /// The official loss `mean_b loss_b = mean(F²)`.
    pub loss: f32,
    /// `∂loss/∂generated = gradient_factor · F`, i.e. `−2/(s_in·B·Cg·S)`.
    pub gradient_factor: f32,
    /// Pairs whose expanded squared distance was recomputed in the difference form (near pairs
    /// and self-pairs; 0 with [`DistanceMethod::Difference`]).
    pub recomputed_pairs: usize,
    /// Whether the normalisers went through the Gram matrix ([`NormaliserMethod`]).
    pub gram_normalisers: bool,
    /// Groups × temperatures whose Gram-form `Σ ‖F_R‖²` had a rounding-error bound above
    /// [`GRAM_TOLERANCE`] and was recomputed with the product (nearly converged groups).
    pub gram_fallbacks: usize,
}

/// The lengths of the pieces of a grouped workspace (totals over the groups, and per group).
#[derive(Clone, Copy)]
struct Layout {
    distances: usize,
    centres: usize,
    forces: usize,
    problem: usize,
    group_distances: usize,
    group_forces: usize,
    group_field: usize,
    channels: usize,
    /// The Gram path: each group's force region holds its Gram matrix ([`gram_len`]) and every
    /// temperature's coefficient tile instead of every temperature's field but the first.
    gram: bool,
}

impl Layout {
    fn new(shape: &GroupShape, temperatures: usize, gram: bool) -> Option<Self> {
        let (cg, s, t) = (shape.generated, shape.channels, shape.targets());
        let b = shape.groups;
        let group_field = cg.checked_mul(s)?;
        let group_forces = if gram {
            let coefficients = cg.checked_mul(t)?.checked_mul(temperatures)?;
            coefficients.checked_add(gram_len(t))?
        } else {
            // The first temperature's field goes to the output itself.
            group_field.checked_mul(temperatures.saturating_sub(1))?
        };
        // `gram_len` saturates: refuse a size it could not represent.
        if group_forces == usize::MAX {
            return None;
        }
        Some(Self {
            distances: b.checked_mul(cg)?.checked_mul(t)?,
            centres: b.checked_mul(s)?,
            forces: b.checked_mul(group_forces)?,
            problem: problem_len(cg, t, s, gram)?,
            group_distances: cg.checked_mul(t)?,
            group_forces,
            group_field,
            channels: s,
            gram,
        })
    }

    /// The whole workspace: every piece on whole cache lines, from the first line of the buffer.
    fn total(&self) -> Option<usize> {
        [self.distances, self.centres, self.forces]
            .iter()
            .try_fold(LINE_SLACK, |total, &len| {
                total.checked_add(whole_lines(len))
            })?
            .checked_add(self.problem)
    }
}

/// Per-problem scratch: column weights, then the largest of the distance stage (packed targets
/// and queries; on the Gram path every target as a query and the `T × T` Gram matrix), the drift
/// stage (row and column log-sum-exps, coefficients and their sums, the packed coefficient
/// panels and target channels; on the Gram path the products `C·G` instead of the coefficients)
/// and, on the Gram path, the field stage (the combined coefficients, their panels, the target
/// channels).
fn problem_len(cg: usize, t: usize, s: usize, gram: bool) -> Option<usize> {
    let packing = |queries: usize| target_pack_len(t, s).checked_add(query_pack_len(queries, s));
    let panels_len = panels(cg).checked_mul(t)?.checked_mul(MR)?;
    let logsumexps = cg.checked_mul(2)?.checked_add(t)?;
    let channels = channel_pack_len(t, s);
    let stages = if gram {
        let distance_stage = packing(t)?.checked_add(t.checked_mul(t)?)?;
        let drift_stage = logsumexps
            .checked_add(norm_sum_len(cg, t))?
            .checked_add(channels)?;
        let field_stage = cg
            .checked_mul(t)?
            .checked_add(panels_len)?
            .checked_add(channels)?;
        distance_stage.max(drift_stage).max(field_stage)
    } else {
        let distance_stage = packing(cg)?;
        let drift_stage = cg
            .checked_mul(t)?
            .checked_add(logsumexps)?
            .checked_add(channels)?
            .checked_add(panels_len)?;
        distance_stage.max(drift_stage)
    };
    // `*_len` helpers saturate: refuse a size they could not represent.
    if stages == usize::MAX {
        return None;
    }
    t.checked_add(stages)
}

/// Whether the Gram path needs fewer multiply-adds per group than the products:
/// `T²·S/2 + R·Cg·T² + Cg·T·S` (the Gram matrix, `C_R G` per temperature, the one field
/// product) against `(1 + R)·Cg·T·S` (the distance product and one field product per
/// temperature), below 85 % of them. Official shape, `R = 3`: from `S ≈ 340` on.
fn gram_pays(shape: &GroupShape, temperatures: usize) -> bool {
    let (cg, t, s) = (shape.generated, shape.targets(), shape.channels);
    let gram = (t.saturating_mul(t) / 2)
        .saturating_mul(s)
        .saturating_add(
            temperatures
                .saturating_mul(cg)
                .saturating_mul(t)
                .saturating_mul(t),
        )
        .saturating_add(cg.saturating_mul(t).saturating_mul(s));
    let products = (1 + temperatures)
        .saturating_mul(cg)
        .saturating_mul(t)
        .saturating_mul(s);
    // Measured (x86-64-v3, one thread, official shape): the Gram path's time is about its
    // share of multiply-adds plus 0.1 (packing `G`, the coefficient tiles), so it is taken
    // below 85 %: at `S = 256` (95 %) 18.5 vs 17.5 ms, at `S = 768` (67 %) 40.4 vs 55.0 ms.
    gram.saturating_mul(20) < products.saturating_mul(17)
}

/// Whether a call takes the Gram path.
fn uses_gram(shape: &GroupShape, config: &GroupedDriftConfig<'_>) -> bool {
    match config.normalisers {
        NormaliserMethod::Products => false,
        NormaliserMethod::Gram => true,
        NormaliserMethod::Auto => {
            config.distances.form(shape.channels) == DistanceForm::Expanded
                && gram_pays(shape, config.temperatures.len())
        }
    }
}

/// Workspace values [`grouped_drift_loss`] needs for `shape` and `temperatures` temperatures:
/// the distance tile of every group (`B·Cg·T`), the groups' centres (`B·S`), every temperature's
/// field but the first's, which goes to the output (`(temperatures − 1)·B·Cg·S`), and one
/// problem's packing space (`O((Cg + T)·S + Cg·T)`);
/// `None` if that overflows `usize`.
///
/// This covers [`NormaliserMethod::Auto`] and [`NormaliserMethod::Products`] with any distance
/// method; forcing [`NormaliserMethod::Gram`] needs [`grouped_drift_workspace_len_with`].
#[must_use]
pub fn grouped_drift_workspace_len(shape: &GroupShape, temperatures: usize) -> Option<usize> {
    let products = Layout::new(shape, temperatures, false)?.total()?;
    // `Auto` takes the Gram path where it pays and the distances are expanded, which a forced
    // `DistanceMethod::Expanded` makes them at any channel count.
    if gram_pays(shape, temperatures) {
        Some(products.max(Layout::new(shape, temperatures, true)?.total()?))
    } else {
        Some(products)
    }
}

/// Workspace values [`grouped_drift_loss`] needs for `shape`, `temperatures` temperatures and the
/// normaliser method `normalisers` (with the Gram path: every group's Gram matrix `T²` and
/// coefficient tiles `R·Cg·T` instead of the `(R − 1)·Cg·S` values of the extra fields).
#[must_use]
pub fn grouped_drift_workspace_len_with(
    shape: &GroupShape,
    temperatures: usize,
    normalisers: NormaliserMethod,
) -> Option<usize> {
    match normalisers {
        NormaliserMethod::Auto => grouped_drift_workspace_len(shape, temperatures),
        NormaliserMethod::Products => Layout::new(shape, temperatures, false)?.total(),
        NormaliserMethod::Gram => Layout::new(shape, temperatures, true)?.total(),
    }
}

/// The official grouped drift loss of one feature key, and its field.
///
/// For every group `b` (targets `[generated ; unconditional ; positives]`, column weights `w`),
/// following the official `drift_loss` (`docs/mathematics.md` §5):
/// 1. `dist_ij = sqrt(max(‖x_i − t_j‖², 1e-8))`; **global** `scale = Σ_{b,i,j} dist w / (Cg Σ_{b,j}
///    w)`, `s_in = max(scale/√S, 1e-3)`, `d̃ = dist / max(scale, 1e-3)`, `+self_mask_distance` on
///    each generated sample's distance to itself;
/// 2. for each `R`: `l = −d̃/R`, `A = sqrt(max(softmax_row · softmax_col, floor)) · w_j` (softmax
///    over the targets, and over the `Cg` generated rows), `F_R = S− Σ_{pos} A y − S+ Σ_{neg} A y −
///    (…)x` in coordinates divided by `s_in`; **global** `n_R = mean(F_R²)`;
///    `F += F_R / sqrt(max(n_R, 1e-8))`.
///
/// Writes `F` to `field` (`[B, Cg, S]`, the official `goal − generated/s_in`); the loss is
/// `mean(F²)` and its gradient with respect to `generated` is `report.gradient_factor · F`
/// ([`stop_gradient_loss`](crate::stop_gradient_loss) with `coordinate_scale = s_in` gives the
/// same). Per-group losses `mean_{i,s} F_bis²` go to `group_losses` when given.
///
/// Every distance is computed once (`O(B·Cg·T·S)`, through the matrix-multiply kernel above
/// [`EXPANDED_FROM_CHANNELS`](crate::EXPANDED_FROM_CHANNELS) channels) and kept for every
/// temperature; the drift sums are one product `O(B·Cg·T·S)` per temperature; `3` exponentials
/// per pair and temperature. With feature `std`, the groups run in parallel on the current rayon
/// pool, with the same result bit for bit.
///
/// # Errors
/// Zero groups, generated samples, positives or channels; slices whose length is not the shape's;
/// non-finite inputs or weights; no temperature, more than [`MAX_TEMPERATURES`] or one that is not
/// positive and finite; a negative or non-finite floor or mask; guidance of the wrong length,
/// non-finite or below 1, or given together with unconditional weights; weights negative,
/// above `1e9` or all zero; a workspace shorter than [`grouped_drift_workspace_len`];
/// [`Error::OutOfRange`] for points more than `1e18` apart in a group or temperatures so small
/// that a logit would pass `1e28`.
///
/// # Example
/// ```
/// use drifting::{GroupShape, GroupedDriftConfig, grouped_drift_loss, grouped_drift_workspace_len};
/// // 2 groups (classes × locations) of 4 generated, 2 unconditional, 4 positive samples, S = 8.
/// let shape = GroupShape { groups: 2, generated: 4, unconditional: 2, positives: 4, channels: 8 };
/// let features = |count: usize, seed: usize| -> Vec<f32> {
///     (0..shape.groups * count * shape.channels)
///         .map(|k| ((k * 37 + seed) % 101) as f32 / 101.0)
///         .collect()
/// };
/// let (generated, unconditional, positives) = (features(4, 1), features(2, 2), features(4, 3));
/// let config = GroupedDriftConfig::official();
/// let len = grouped_drift_workspace_len(&shape, config.temperatures.len()).expect("fits usize");
/// let mut workspace = vec![0.0; len]; // or a static buffer of that length
/// let mut field = vec![0.0; shape.generated_len()]; // F, [B, Cg, S]
/// let mut group_losses = [0.0; 2];
/// let report = grouped_drift_loss(
///     &shape, &generated, &unconditional, &positives, &config,
///     &mut workspace, &mut field, Some(&mut group_losses),
/// )?;
/// // The loss is mean(F²), the mean of the groups' losses; its gradient is gradient_factor · F.
/// let mean_square = field.iter().map(|f| f * f).sum::<f32>() / field.len() as f32;
/// assert!((report.loss - mean_square).abs() <= 1e-5 * report.loss);
/// assert!((report.loss - (group_losses[0] + group_losses[1]) / 2.0).abs() <= 1e-5 * report.loss);
/// let factor = -2.0 / (report.input_scale * (2 * 4 * 8) as f32); // −2/(s_in·B·Cg·S)
/// assert!((report.gradient_factor - factor).abs() <= 1e-6 * factor.abs());
/// # Ok::<(), drifting::Error>(())
/// ```
#[allow(clippy::too_many_arguments)]
pub fn grouped_drift_loss(
    shape: &GroupShape,
    generated: &[f32],
    unconditional: &[f32],
    positives: &[f32],
    config: &GroupedDriftConfig<'_>,
    workspace: &mut [f32],
    field: &mut [f32],
    group_losses: Option<&mut [f32]>,
) -> Result<GroupedDriftReport, Error> {
    let exec = Exec::current();
    let layout = validate(
        shape,
        generated,
        unconditional,
        positives,
        config,
        field,
        group_losses.as_deref(),
    )?;
    let required = layout.total().ok_or(Error::OutOfRange { input: "shape" })?;
    let workspace = take_buffer(workspace, required, "workspace")?;
    let problem = Problem {
        shape: *shape,
        generated,
        unconditional,
        positives,
        config,
        form: config.distances.form(shape.channels),
        gram: layout.gram,
    };
    let workspace = line_aligned(workspace);
    let (distances, rest) = split_lines(workspace, layout.distances);
    let (centres, rest) = split_lines(rest, layout.centres);
    let (forces, rest) = split_lines(rest, layout.forces);
    let scratch = rest.get_mut(..layout.problem).unwrap_or(&mut []);
    let (b, cg, s, t) = (
        shape.groups,
        shape.generated,
        shape.channels,
        shape.targets(),
    );

    // Stage 1: every distance once, the weighted distance sum and the largest distance.
    let mut totals = DistanceTotals {
        finite: true,
        weighted: 0.0,
        weights: 0.0,
        largest: 0.0,
        recomputed: 0,
    };
    for_each_group(
        exec,
        &layout,
        [&mut *distances, &mut *centres, &mut *forces, &mut *field],
        scratch,
        |g, regions, scratch| distance_stage(&problem, g, regions, scratch),
        |partial| totals.add(partial),
    );
    if !totals.finite {
        // Name the input (only on this error path: a second look at the data).
        let input = [(generated, "generated"), (unconditional, "unconditional")]
            .iter()
            .find(|(data, _)| !all_finite(data))
            .map_or("positives", |(_, name)| name);
        return Err(Error::NonFinite { input });
    }
    let weight_total = totals.weights;
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
    let distance_scale = (totals.weighted / (cg as f64 * weight_total)) as f32;
    if !distance_scale.is_finite() {
        return Err(Error::OutOfRange { input: "weights" });
    }
    if totals.largest.is_nan() || totals.largest > libm::sqrt(MAX_SQUARED_DISTANCE) {
        return Err(Error::OutOfRange { input: "points" });
    }
    let clamped_scale = distance_scale.max(1.0e-3);
    let smallest = config
        .temperatures
        .iter()
        .fold(f32::INFINITY, |m, &r| m.min(r));
    let largest_logit = (totals.largest / f64::from(clamped_scale)
        + f64::from(config.self_mask_distance))
        / f64::from(smallest);
    if largest_logit.is_nan() || largest_logit > LOGIT_LIMIT {
        return Err(Error::OutOfRange {
            input: "temperatures",
        });
    }
    #[allow(clippy::cast_precision_loss)]
    let input_scale = (distance_scale / libm::sqrtf(s as f32)).max(1.0e-3);
    // The self-mask on each generated sample's distance to itself, in unnormalised distance.
    let added = config.self_mask_distance * clamped_scale;
    for tile in distances.chunks_mut((cg * t).max(1)).take(b) {
        for i in 0..cg {
            if let Some(v) = tile.get_mut(i * t + i) {
                *v += added;
            }
        }
    }

    // Stage 2: every temperature's field Y_R (data units) in every group, and Σ Y_R² per
    // temperature over all groups.
    let mut report = GroupedDriftReport {
        distance_scale,
        input_scale,
        raw_rms2: [0.0; MAX_TEMPERATURES],
        temperature_count: config.temperatures.len(),
        loss: 0.0,
        gradient_factor: 0.0,
        recomputed_pairs: totals.recomputed,
        gram_normalisers: problem.gram,
        gram_fallbacks: 0,
    };
    let mut square_sums = [0.0_f64; MAX_TEMPERATURES];
    for_each_group(
        exec,
        &layout,
        [&mut *distances, &mut *centres, &mut *forces, &mut *field],
        scratch,
        |g, regions, scratch| drift_stage(&problem, g, regions, scratch, clamped_scale),
        |(partial, fallbacks)| {
            for (total, p) in square_sums.iter_mut().zip(partial) {
                *total += p;
            }
            report.gram_fallbacks += fallbacks;
        },
    );
    // F_R = Y_R/s_in: n_R = mean(Y_R²)/s_in², and F_R/sqrt(max(n_R, 1e-8)) is Y_R times the
    // factor below.
    #[allow(clippy::cast_precision_loss)]
    let count = (b * cg * s) as f64;
    let mut factors = [0.0_f32; MAX_TEMPERATURES];
    for ((raw, factor), total) in report
        .raw_rms2
        .iter_mut()
        .zip(factors.iter_mut())
        .zip(square_sums)
        .take(config.temperatures.len())
    {
        #[allow(clippy::cast_possible_truncation)]
        let n_r = (total / count / (f64::from(input_scale) * f64::from(input_scale))) as f32;
        *raw = n_r;
        *factor = 1.0 / (input_scale * libm::sqrtf(n_r.max(1.0e-8)));
    }

    // Stage 3: F = Σ_R factor_R Y_R, and the per-group losses.
    let mut loss_total = 0.0_f64;
    let mut losses = group_losses.map(|l| l.iter_mut());
    let temperatures = config.temperatures.len();
    for_each_group(
        exec,
        &layout,
        [&mut *distances, &mut *centres, &mut *forces, &mut *field],
        scratch,
        |g, regions, scratch| {
            if problem.gram {
                return gram_field(&problem, g, regions, scratch, &factors);
            }
            let group = regions.field.len();
            let [first, rest @ ..] = factors;
            for v in regions.field.iter_mut() {
                *v *= first;
            }
            for (force, &factor) in regions
                .force
                .chunks(group.max(1))
                .zip(&rest)
                .take(temperatures.saturating_sub(1))
            {
                add_scaled(regions.field, force, factor);
            }
            sum_of_squares(regions.field)
        },
        |partial| {
            if let Some(slot) = losses.as_mut().and_then(Iterator::next) {
                #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
                let group_loss = (partial / (cg * s) as f64) as f32;
                *slot = group_loss;
            }
            loss_total += partial;
        },
    );
    #[allow(clippy::cast_possible_truncation)]
    let loss = (loss_total / count) as f32;
    report.loss = loss;
    #[allow(clippy::cast_possible_truncation)]
    let gradient_factor = (-2.0 / (f64::from(input_scale) * count)) as f32;
    report.gradient_factor = gradient_factor;
    // A non-finite field value makes the loss (a sum of squares) non-finite too.
    let finite = loss.is_finite() && report.raw_rms2.iter().all(|v| v.is_finite());
    if !finite {
        return Err(Error::OutOfRange { input: "weights" });
    }
    Ok(report)
}

/// The inputs of one call, validated.
struct Problem<'a> {
    shape: GroupShape,
    generated: &'a [f32],
    unconditional: &'a [f32],
    positives: &'a [f32],
    config: &'a GroupedDriftConfig<'a>,
    form: DistanceForm,
    /// The Gram path ([`NormaliserMethod::Gram`]).
    gram: bool,
}

impl<'a> Problem<'a> {
    /// The queries and targets of group `b`.
    fn rows(&self, b: usize) -> (Rows<'a>, Rows<'a>) {
        let s = self.shape.channels;
        let part = |data: &'a [f32], count: usize| {
            let len = count * s;
            data.get(b * len..(b + 1) * len).unwrap_or(&[])
        };
        let generated = part(self.generated, self.shape.generated);
        let targets = Rows::new(
            [
                generated,
                part(self.unconditional, self.shape.unconditional),
                part(self.positives, self.shape.positives),
            ],
            s,
        );
        (Rows::single(generated, s), targets)
    }

    /// The column weights of group `b` (`[generated ; unconditional ; positives]`).
    fn weights(&self, b: usize, out: &mut [f32]) {
        let shape = &self.shape;
        let (cg, cu, cp) = (shape.generated, shape.unconditional, shape.positives);
        let (generated, rest) = out.split_at_mut(cg.min(out.len()));
        let (unc, pos) = rest.split_at_mut(cu.min(rest.len()));
        fill_weights(generated, self.config.generated_weights, b, cg);
        match (self.config.unconditional_weights, self.config.guidance) {
            (Some(w), _) => fill_weights(unc, Some(w), b, cu),
            (None, Some(alpha)) => {
                let a = alpha.get(b).copied().unwrap_or(1.0);
                #[allow(clippy::cast_precision_loss)]
                let w = (a - 1.0) * (cg as f32 - 1.0) / cu.max(1) as f32;
                unc.fill(w);
            }
            (None, None) => unc.fill(1.0),
        }
        fill_weights(pos, self.config.positive_weights, b, cp);
    }
}

fn fill_weights(out: &mut [f32], weights: Option<&[f32]>, b: usize, count: usize) {
    match weights.and_then(|w| w.get(b * count..(b + 1) * count)) {
        Some(w) => {
            for (o, v) in out.iter_mut().zip(w) {
                *o = *v;
            }
        }
        None => out.fill(1.0),
    }
}

/// Checks every input of a call; returns the workspace layout.
fn validate(
    shape: &GroupShape,
    generated: &[f32],
    unconditional: &[f32],
    positives: &[f32],
    config: &GroupedDriftConfig<'_>,
    field: &[f32],
    group_losses: Option<&[f32]>,
) -> Result<Layout, Error> {
    for (count, input) in [
        (shape.groups, "groups"),
        (shape.generated, "generated"),
        (shape.positives, "positives"),
    ] {
        if count == 0 {
            return Err(Error::EmptyCloud { input });
        }
    }
    if shape.channels == 0 {
        return Err(Error::InvalidParameter { input: "channels" });
    }
    let too_large = Error::OutOfRange { input: "shape" };
    for (data, count, input) in [
        (generated, shape.generated, "generated"),
        (unconditional, shape.unconditional, "unconditional"),
        (positives, shape.positives, "positives"),
        (field, shape.generated, "field"),
    ] {
        let expected = shape.checked_len(count).ok_or(too_large)?;
        if data.len() != expected {
            return Err(Error::ShapeMismatch {
                input,
                expected,
                found: data.len(),
            });
        }
    }
    if let Some(losses) = group_losses
        && losses.len() != shape.groups
    {
        return Err(Error::ShapeMismatch {
            input: "group_losses",
            expected: shape.groups,
            found: losses.len(),
        });
    }
    // The inputs' finiteness is checked by the first stage, which reads every value anyway
    // (`NonFinite` is returned before any output is written).
    validate_official(
        config.temperatures,
        config.affinity_floor,
        config.self_mask_distance,
    )?;
    let per_group = |count: usize| shape.groups.checked_mul(count).ok_or(too_large);
    validate_weights(
        config.generated_weights,
        per_group(shape.generated)?,
        "generated_weights",
    )?;
    validate_weights(
        config.unconditional_weights,
        per_group(shape.unconditional)?,
        "unconditional_weights",
    )?;
    validate_weights(
        config.positive_weights,
        per_group(shape.positives)?,
        "positive_weights",
    )?;
    if let Some(alpha) = config.guidance {
        if config.unconditional_weights.is_some() {
            return Err(Error::InvalidParameter { input: "guidance" });
        }
        if alpha.len() != shape.groups {
            return Err(Error::ShapeMismatch {
                input: "guidance",
                expected: shape.groups,
                found: alpha.len(),
            });
        }
        if !alpha.iter().all(|a| a.is_finite()) {
            return Err(Error::NonFinite { input: "guidance" });
        }
        // The weight (α − 1)(Cg − 1)/Cu must stay a valid column weight.
        #[allow(clippy::cast_precision_loss)]
        let factor = (shape.generated as f32 - 1.0) / shape.unconditional.max(1) as f32;
        if alpha
            .iter()
            .any(|&a| a < 1.0 || (a - 1.0) * factor > crate::drift::multi_temperature::MAX_WEIGHT)
        {
            return Err(Error::InvalidParameter { input: "guidance" });
        }
    }
    let layout =
        Layout::new(shape, config.temperatures.len(), uses_gram(shape, config)).ok_or(too_large)?;
    // The weights may not all be zero (the distance scale divides by their sum).
    #[allow(clippy::cast_precision_loss)]
    let total = |w: Option<&[f32]>, count: usize| {
        w.map_or((shape.groups * count) as f64, |w| {
            w.iter().map(|&v| f64::from(v)).sum()
        })
    };
    #[allow(clippy::cast_precision_loss)]
    let unconditional = match (config.unconditional_weights, config.guidance) {
        (None, Some(alpha)) => alpha
            .iter()
            .map(|&a| f64::from(a - 1.0) * (shape.generated as f64 - 1.0))
            .sum(),
        (w, _) => total(w, shape.unconditional),
    };
    let weight_total = total(config.generated_weights, shape.generated)
        + unconditional
        + total(config.positive_weights, shape.positives);
    if weight_total.is_nan() || weight_total <= 0.0 {
        return Err(Error::InvalidParameter { input: "weights" });
    }
    Ok(layout)
}

/// The per-group regions of the workspace and output.
struct Regions<'r> {
    distances: &'r mut [f32],
    centre: &'r mut [f32],
    force: &'r mut [f32],
    field: &'r mut [f32],
}

/// What stage 1 accumulates over the groups.
struct DistanceTotals {
    /// The group's inputs are all finite.
    finite: bool,
    weighted: f64,
    weights: f64,
    largest: f64,
    recomputed: usize,
}

impl DistanceTotals {
    fn add(&mut self, other: Self) {
        self.finite &= other.finite;
        self.weighted += other.weighted;
        self.weights += other.weights;
        self.largest = self.largest.max(other.largest);
        self.recomputed += other.recomputed;
    }
}

/// Stage 1 for group `g`: centre, distances `sqrt(max(d², 1e-8))` into the group's tile, and the
/// group's weighted distance sum; on the Gram path also the Gram matrix of the centred targets
/// into the group's force region (the distances' dot products are its first `Cg` rows).
fn distance_stage(
    problem: &Problem<'_>,
    g: usize,
    regions: Regions<'_>,
    scratch: &mut [f32],
) -> DistanceTotals {
    let (cg, t) = (problem.shape.generated, problem.shape.targets());
    let (queries, targets) = problem.rows(g);
    let finite = mean_row(&targets, regions.centre);
    let (weights, rest) = scratch.split_at_mut(t.min(scratch.len()));
    problem.weights(g, weights);
    let s = problem.shape.channels;
    let (target_buffer, rest) = rest.split_at_mut(target_pack_len(t, s).min(rest.len()));
    let recomputed = if problem.gram {
        // Every target as a query row: the generated samples are the first `Cg` targets, so
        // the first `Cg` rows of the Gram matrix are the distances' dot products.
        let (row_buffer, square) = rest.split_at_mut(query_pack_len(t, s).min(rest.len()));
        let (packed_rows, packed_targets) =
            pack_both(&targets, t, regions.centre, row_buffer, target_buffer);
        let square = square.get_mut(..t * t).unwrap_or(&mut []);
        gram_products(&packed_rows, &packed_targets, square);
        store_gram(square, t, regions.force);
        match problem.form {
            DistanceForm::Expanded => {
                for (d, g) in regions
                    .distances
                    .chunks_exact_mut(t.max(1))
                    .zip(square.chunks_exact(t.max(1)))
                    .take(cg)
                {
                    d.copy_from_slice(g);
                }
            }
            DistanceForm::Difference => distance_products(
                problem.form,
                &packed_rows,
                0,
                cg,
                &packed_targets,
                regions.distances,
                t,
                None,
            ),
        }
        distance_epilogue(
            problem.form,
            &packed_rows,
            &targets,
            0,
            cg,
            &packed_targets,
            &targets,
            regions.distances,
            t,
        )
    } else {
        let packed_targets = pack_targets(&targets, regions.centre, problem.form, target_buffer);
        let packed_queries = pack_queries(&queries, regions.centre, problem.form, rest);
        squared_distances(
            problem.form,
            &packed_queries,
            &queries,
            0,
            cg,
            &packed_targets,
            &targets,
            regions.distances,
            t,
        )
    };
    // Distances `sqrt(max(d², 1e-8))` in place; `Σ_j d_ij w_j` per row (eight lanes, then `f64`
    // across rows) and the largest distance. An overflowed squared distance (inf − inf = NaN in
    // the expanded form) is recorded as infinite, which the range check then refuses.
    let mut weighted = 0.0_f64;
    let mut largest = F32s::splat(0.0);
    for row in regions.distances.chunks_mut(t.max(1)).take(cg) {
        let mut row_sum = F32s::splat(0.0);
        let (row8, row_tail) = row.as_chunks_mut::<LANES>();
        let (w8, w_tail) = weights.as_chunks::<LANES>();
        for (d, w) in row8.iter_mut().zip(w8) {
            let squared = F32s::new(*d);
            let squared = squared
                .simd_eq(squared)
                .select(squared, F32s::splat(f32::INFINITY));
            let v = sqrt(squared.fast_max(F32s::splat(1.0e-8)));
            row_sum = v.mul_add(F32s::new(*w), row_sum);
            largest = largest.fast_max(v);
            *d = v.to_array();
        }
        let mut tail_sum = 0.0_f32;
        for (d, &w) in row_tail.iter_mut().zip(w_tail) {
            let squared = if d.is_nan() { f32::INFINITY } else { *d };
            *d = libm::sqrtf(squared.max(1.0e-8));
            tail_sum += *d * w;
            largest = largest.fast_max(F32s::splat(*d));
        }
        weighted += row_sum
            .to_array()
            .iter()
            .map(|&v| f64::from(v))
            .sum::<f64>()
            + f64::from(tail_sum);
    }
    let largest = f64::from(
        largest
            .to_array()
            .iter()
            .fold(0.0_f32, |m, &v| if v > m || v.is_nan() { v } else { m }),
    );
    DistanceTotals {
        finite,
        weighted,
        weights: weights.iter().map(|&w| f64::from(w)).sum(),
        largest,
        recomputed,
    }
}

/// `out += factor · values`.
fn add_scaled(out: &mut [f32], values: &[f32], factor: f32) {
    let f = F32s::splat(factor);
    let (out8, out_tail) = out.as_chunks_mut::<LANES>();
    let (in8, in_tail) = values.as_chunks::<LANES>();
    for (o, v) in out8.iter_mut().zip(in8) {
        *o = F32s::new(*v).mul_add(f, F32s::new(*o)).to_array();
    }
    for (o, v) in out_tail.iter_mut().zip(in_tail) {
        *o += v * factor;
    }
}

/// Stage 2's per-group scratch: the group's column weights (`T`), and per temperature the row
/// log-sum-exps (`Cg`), the halved negated column log-sum-exps (`T`) and the coefficients' row
/// sums (`Cg`).
struct CoefficientScratch<'s> {
    weights: &'s mut [f32],
    rows: &'s mut [f32],
    half_columns: &'s mut [f32],
    row_sums: &'s mut [f32],
}

impl<'s> CoefficientScratch<'s> {
    /// Takes the scratch of group `g` from the front of `scratch` (weights filled in); returns
    /// it and the rest.
    fn take(problem: &Problem<'_>, g: usize, scratch: &'s mut [f32]) -> (Self, &'s mut [f32]) {
        let (cg, t) = (problem.shape.generated, problem.shape.targets());
        let (weights, rest) = scratch.split_at_mut(t.min(scratch.len()));
        problem.weights(g, weights);
        let (rows, rest) = rest.split_at_mut(cg.min(rest.len()));
        let (half_columns, rest) = rest.split_at_mut(t.min(rest.len()));
        let (row_sums, rest) = rest.split_at_mut(cg.min(rest.len()));
        let parts = Self {
            weights,
            rows,
            half_columns,
            row_sums,
        };
        (parts, rest)
    }

    /// The drift coefficients of temperature `r` from the group's distance tile: the row and
    /// column log-sum-exps of the logits `−d̃/R`, then `coefficients` (`Cg × T`) and their row
    /// sums (in `self.row_sums`).
    fn fill(
        &mut self,
        problem: &Problem<'_>,
        tile: &[f32],
        r: f32,
        clamped_scale: f32,
        coefficients: &mut [f32],
    ) {
        let shape = &problem.shape;
        let (cg, t) = (shape.generated, shape.targets());
        let logit_scale = -1.0 / (r * clamped_scale);
        for (i, r) in self.rows.iter_mut().enumerate() {
            *r = row_log_sum_exp(tile.get(i * t..(i + 1) * t).unwrap_or(&[]), logit_scale);
        }
        // The coefficient buffer (written below) holds the column sums meanwhile.
        let column_sums = coefficients.get_mut(..t).unwrap_or(&mut []);
        column_log_sum_exp(tile, cg, t, logit_scale, self.half_columns, column_sums);
        for c in self.half_columns.iter_mut() {
            *c *= -0.5;
        }
        let rule = Affinities {
            scale: logit_scale,
            floor_logit: (problem.config.affinity_floor > 0.0)
                .then(|| 0.5 * libm::logf(problem.config.affinity_floor)),
            weights: Some(self.weights),
            negative_columns: shape.generated + shape.unconditional,
        };
        for (c, v) in coefficients.iter_mut().zip(tile) {
            *c = *v;
        }
        for ((sum, r), row) in self
            .row_sums
            .iter_mut()
            .zip(self.rows.iter())
            .zip(coefficients.chunks_mut(t.max(1)))
        {
            *sum = coefficient_row(row, -0.5 * r, self.half_columns, &rule);
        }
    }
}

/// Stage 2 for group `g`: for every temperature, the drift coefficients
/// ([`CoefficientScratch::fill`]) and `Σ Y_R²` (data units). Products path: `Y_R`, the
/// coefficients' product with the targets (packed once), into the group's `field` region (the
/// first temperature) and `force` regions (the others). Gram path ([`gram_drift_stage`]): the
/// coefficients are kept instead. Returns `Σ Y_R²` per temperature and the number of Gram
/// fallbacks.
fn drift_stage(
    problem: &Problem<'_>,
    g: usize,
    regions: Regions<'_>,
    scratch: &mut [f32],
    clamped_scale: f32,
) -> ([f64; MAX_TEMPERATURES], usize) {
    if problem.gram {
        return gram_drift_stage(problem, g, regions, scratch, clamped_scale);
    }
    let shape = &problem.shape;
    let (cg, t) = (shape.generated, shape.targets());
    let (queries, targets) = problem.rows(g);
    let (mut parts, rest) = CoefficientScratch::take(problem, g, scratch);
    let (coefficients, rest) = rest.split_at_mut((cg * t).min(rest.len()));
    let (channel_buffer, panel_buffer) =
        rest.split_at_mut(channel_pack_len(t, shape.channels).min(rest.len()));
    let channels = pack_channels(&targets, regions.centre, channel_buffer);
    let mut square_sums = [0.0_f64; MAX_TEMPERATURES];
    let group = regions.field.len().max(1);
    // The first temperature's field goes to the output, the others to the force buffers.
    let destinations = core::iter::once(&mut *regions.field).chain(regions.force.chunks_mut(group));
    let temperatures = problem.config.temperatures.iter().zip(destinations);
    for ((&r, force), square_sum) in temperatures.zip(square_sums.iter_mut()) {
        parts.fill(problem, regions.distances, r, clamped_scale, coefficients);
        drift_sums(
            &queries,
            0,
            cg,
            coefficients,
            t,
            parts.row_sums,
            &channels,
            regions.centre,
            panel_buffer,
            force,
        );
        *square_sum = sum_of_squares(force);
    }
    (square_sums, 0)
}

/// Stage 2 on the Gram path: every temperature's coefficients `C_R` (the displacement term
/// folded into each generated sample's own column, so `Y_R = C_R·(targets − centre)`) into the
/// group's force region after its Gram matrix, and `Σ Y_R² = Σ_i c_i G c_iᵀ`, kept when its
/// rounding-error bound is within [`GRAM_TOLERANCE`], else recomputed with the product (into
/// the group's `field` region, which stage 3 overwrites).
fn gram_drift_stage(
    problem: &Problem<'_>,
    g: usize,
    regions: Regions<'_>,
    scratch: &mut [f32],
    clamped_scale: f32,
) -> ([f64; MAX_TEMPERATURES], usize) {
    let shape = &problem.shape;
    let (cg, t, s) = (shape.generated, shape.targets(), shape.channels);
    let (queries, targets) = problem.rows(g);
    let (mut parts, rest) = CoefficientScratch::take(problem, g, scratch);
    let (norm_scratch, mut channel_buffer) = rest.split_at_mut(norm_sum_len(cg, t).min(rest.len()));
    let (gram, stored) = regions
        .force
        .split_at_mut(gram_len(t).min(regions.force.len()));
    let mut square_sums = [0.0_f64; MAX_TEMPERATURES];
    let mut fallbacks = 0;
    let mut channels = None;
    let temperatures = problem.config.temperatures.iter();
    let tiles_of_coefficients = temperatures.zip(stored.chunks_exact_mut((cg * t).max(1)));
    for ((&r, coefficients), square_sum) in tiles_of_coefficients.zip(square_sums.iter_mut()) {
        parts.fill(problem, regions.distances, r, clamped_scale, coefficients);
        for (i, &sum) in parts.row_sums.iter().enumerate() {
            if let Some(c) = coefficients.get_mut(i * t + i) {
                *c -= sum;
            }
        }
        let norms = norm_sum(coefficients, cg, t, s, gram, norm_scratch);
        *square_sum = if norms.accepted() {
            norms.value
        } else {
            // Not accepted (nearly cancelling attraction and repulsion): the product itself
            // (the displacement is in the coefficients: no row sums), `norm_sum`'s scratch
            // reused for the coefficient panels.
            fallbacks += 1;
            if channels.is_none() {
                let buffer = core::mem::take(&mut channel_buffer);
                channels = Some(pack_channels(&targets, regions.centre, buffer));
            }
            if let Some(packed) = &channels {
                drift_sums(
                    &queries,
                    0,
                    cg,
                    coefficients,
                    t,
                    &[],
                    packed,
                    regions.centre,
                    norm_scratch
                        .get_mut(..panels(cg) * t * MR)
                        .unwrap_or(&mut []),
                    regions.field,
                );
            }
            sum_of_squares(regions.field)
        };
    }
    (square_sums, fallbacks)
}

/// Stage 3 on the Gram path for group `g`: the field `F = (Σ_R factor_R C_R)·(targets − centre)`
/// into the group's `field` region (one product); returns `Σ F²`.
fn gram_field(
    problem: &Problem<'_>,
    g: usize,
    regions: Regions<'_>,
    scratch: &mut [f32],
    factors: &[f32; MAX_TEMPERATURES],
) -> f64 {
    let shape = &problem.shape;
    let (cg, t) = (shape.generated, shape.targets());
    let (queries, targets) = problem.rows(g);
    let (combined, rest) = scratch.split_at_mut((cg * t).min(scratch.len()));
    let (panel_buffer, channel_buffer) = rest.split_at_mut((panels(cg) * t * MR).min(rest.len()));
    let tiles_of_coefficients = regions.force.get(gram_len(t)..).unwrap_or(&[]);
    combined.fill(0.0);
    for (coefficients, &factor) in tiles_of_coefficients
        .chunks_exact((cg * t).max(1))
        .zip(factors)
        .take(problem.config.temperatures.len())
    {
        add_scaled(combined, coefficients, factor);
    }
    let channels = pack_channels(&targets, regions.centre, channel_buffer);
    drift_sums(
        &queries,
        0,
        cg,
        combined,
        t,
        &[],
        &channels,
        regions.centre,
        panel_buffer,
        regions.field,
    );
    sum_of_squares(regions.field)
}

/// Runs `body` on every group with its regions of the four buffers (`[distances, centres,
/// forces, field]`) and a problem scratch, and hands the results to `combine` in group order
/// ([`map_blocks`]: the same bits whatever the number of threads).
fn for_each_group<T: Send>(
    exec: Exec,
    layout: &Layout,
    buffers: [&mut [f32]; 4],
    scratch: &mut [f32],
    body: impl Fn(usize, Regions<'_>, &mut [f32]) -> T + Send + Sync,
    combine: impl FnMut(T),
) {
    let [distances, centres, forces, field] = buffers;
    let groups = layout.centres / layout.channels.max(1);
    map_blocks(
        exec,
        groups,
        1,
        [
            (distances, PerRow(layout.group_distances)),
            (centres, PerRow(layout.channels)),
            (forces, PerRow(layout.group_forces)),
            (field, PerRow(layout.group_field)),
        ],
        scratch,
        layout.problem,
        |g, _, [distances, centre, force, field], scratch| {
            body(
                g,
                Regions {
                    distances,
                    centre,
                    force,
                    field,
                },
                scratch,
            )
        },
        combine,
    );
}

/// Most feature keys [`feature_drift_loss`] takes in one call.
pub const MAX_FEATURE_KEYS: usize = 16;

/// One feature key of a training step (the raw output, a layer's activations, their means, …):
/// its shape and features, its loss configuration, and the buffer its gradient goes to.
#[derive(Debug)]
pub struct FeatureKey<'a> {
    /// `B`, `Cg`, `Cu`, `Cp` and this key's channel count `S`.
    pub shape: GroupShape,
    /// `[B, Cg, S]`.
    pub generated: &'a [f32],
    /// `[B, Cu, S]` (empty when `Cu = 0`).
    pub unconditional: &'a [f32],
    /// `[B, Cp, S]`.
    pub positives: &'a [f32],
    /// The loss configuration of this key (temperatures, floor, guidance, weights, …).
    pub config: GroupedDriftConfig<'a>,
    /// Receives `∂loss_key/∂generated` (`[B, Cg, S]`).
    pub gradient: &'a mut [f32],
}

/// What [`feature_drift_loss`] measured: the summed loss and each key's report.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureLossReport {
    /// `Σ_keys loss_key` (the official training sums the keys' losses).
    pub loss: f32,
    /// Each key's report, in order.
    pub keys: heapless::Vec<GroupedDriftReport, MAX_FEATURE_KEYS>,
}

/// Workspace values [`feature_drift_loss`] needs for keys of these shapes and temperature counts:
/// the largest key's ([`grouped_drift_workspace_len`]; the keys run one after the other and share
/// it). `None` if a size overflows `usize`.
#[must_use]
pub fn feature_drift_workspace_len(keys: &[(GroupShape, usize)]) -> Option<usize> {
    keys.iter()
        .try_fold(0_usize, |largest, (shape, temperatures)| {
            Some(largest.max(grouped_drift_workspace_len(shape, *temperatures)?))
        })
}

/// The official loss of one training step over several feature keys of different dimensions:
/// `Σ_keys loss_key`, each key's [`grouped_drift_loss`] with its own statistics, and each key's
/// gradient `∂loss_key/∂generated = gradient_factor · F_key` written to its `gradient` buffer
/// (the caller backpropagates each through its feature map and sums them at the generator's
/// output). The keys share `workspace` (of [`feature_drift_workspace_len`] values) and run one
/// after the other, each on the current rayon pool with feature `std`.
///
/// # Errors
/// [`Error::CapacityExceeded`] for more than [`MAX_FEATURE_KEYS`] keys, [`Error::EmptyCloud`]
/// for none; otherwise the first key's error of [`grouped_drift_loss`] (keys before it have
/// their gradients written).
///
/// # Example
/// ```
/// use drifting::{FeatureKey, GroupShape, GroupedDriftConfig};
/// use drifting::{feature_drift_loss, feature_drift_workspace_len};
/// let shape =
///     |channels| GroupShape { groups: 1, generated: 4, unconditional: 0, positives: 4, channels };
/// let (raw, layer) = (shape(2), shape(16)); // two feature keys of different widths S
/// let values = |len: usize, seed: usize| -> Vec<f32> {
///     (0..len).map(|k| ((k * 29 + seed) % 53) as f32 / 53.0).collect()
/// };
/// let (raw_generated, raw_positives) = (values(4 * 2, 0), values(4 * 2, 1));
/// let (layer_generated, layer_positives) = (values(4 * 16, 2), values(4 * 16, 3));
/// let mut raw_gradient = vec![0.0; raw.generated_len()];
/// let mut layer_gradient = vec![0.0; layer.generated_len()];
/// let config = GroupedDriftConfig::official();
/// let len = feature_drift_workspace_len(&[(raw, 3), (layer, 3)]).expect("fits usize");
/// let mut workspace = vec![0.0; len]; // shared by the keys: the largest key's size
/// let mut keys = [
///     FeatureKey {
///         shape: raw, generated: &raw_generated, unconditional: &[], positives: &raw_positives,
///         config, gradient: &mut raw_gradient,
///     },
///     FeatureKey {
///         shape: layer, generated: &layer_generated, unconditional: &[],
///         positives: &layer_positives, config, gradient: &mut layer_gradient,
///     },
/// ];
/// let report = feature_drift_loss(&mut keys, &mut workspace)?;
/// assert_eq!(report.keys.len(), 2);
/// assert_eq!(report.loss, report.keys[0].loss + report.keys[1].loss); // the keys' losses add up
/// assert!(layer_gradient.iter().any(|&g| g != 0.0)); // ∂loss/∂generated of each key
/// # Ok::<(), drifting::Error>(())
/// ```
pub fn feature_drift_loss(
    keys: &mut [FeatureKey<'_>],
    workspace: &mut [f32],
) -> Result<FeatureLossReport, Error> {
    if keys.is_empty() {
        return Err(Error::EmptyCloud { input: "keys" });
    }
    if keys.len() > MAX_FEATURE_KEYS {
        return Err(Error::CapacityExceeded {
            capacity: MAX_FEATURE_KEYS,
            required: keys.len(),
        });
    }
    let mut report = FeatureLossReport {
        loss: 0.0,
        keys: heapless::Vec::new(),
    };
    let count = keys.len();
    for key in keys.iter_mut() {
        let key_report = grouped_drift_loss(
            &key.shape,
            key.generated,
            key.unconditional,
            key.positives,
            &key.config,
            workspace,
            key.gradient,
            None,
        )?;
        let factor = key_report.gradient_factor;
        for g in key.gradient.iter_mut() {
            *g *= factor;
        }
        report.loss += key_report.loss;
        report
            .keys
            .push(key_report)
            .map_err(|_| Error::CapacityExceeded {
                capacity: MAX_FEATURE_KEYS,
                required: count,
            })?;
    }
    Ok(report)
}
