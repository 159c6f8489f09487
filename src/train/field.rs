//! The drift field a training step regresses onto: any operator of the crate, at one or several
//! (annealed) temperatures.

use crate::cloud::CloudView;
use crate::drift::Negatives;
use crate::drift::mean_shift::{MeanShiftConfig, mean_shift_drift};
#[cfg(feature = "flow-fields")]
use crate::drift::mmd_flow::{MmdFlowConfig, mmd_flow_drift};
use crate::drift::multi_temperature::{
    MAX_TEMPERATURES, MultiTemperatureConfig, multi_temperature_drift,
    multi_temperature_scratch_len,
};
#[cfg(feature = "flow-fields")]
use crate::drift::sliced_wasserstein_drift::{
    SlicedWassersteinDriftConfig, sliced_wasserstein_drift,
};
use crate::drift::two_axis::{
    SelfMask, TwoAxisConfig, two_axis_scratch_len, two_axis_softmax_drift,
};
use crate::error::Error;
use crate::kernel::Kernel;
use crate::sinkhorn::{SinkhornConfig, SinkhornWorkspace, WeightedCloud, sinkhorn_drift};
#[cfg(feature = "flow-fields")]
use crate::sinkhorn::{checked_sinkhorn_proxy_scratch_len, sinkhorn_proxy_drift};
use rand_core::Rng;

/// The kernel family of a drift whose scale the trainer sets (and anneals).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum KernelFamily {
    /// `exp(−‖x−y‖/τ)`, the temperature is `τ` (the official demo's kernel; the default).
    #[default]
    Laplace,
    /// `exp(−‖x−y‖²/(2σ²))`, the temperature is the bandwidth `σ`.
    Gaussian,
}

impl KernelFamily {
    /// The kernel at scale `t`.
    #[must_use]
    pub const fn kernel(self, t: f32) -> Kernel {
        match self {
            Self::Laplace => Kernel::laplace(t),
            Self::Gaussian => Kernel::gaussian(t),
        }
    }
}

/// Which drift a training step uses, the generated batch always being the negatives.
///
/// The scale of every field comes from the trainer's temperatures (annealed by its schedule):
/// `τ` or `σ` for the kernel drifts, `R` for the multi-temperature drift, `blur` for Sinkhorn and
/// the Sinkhorn proxy. The sliced-Wasserstein flow has no scale: its temperatures are not used.
///
/// Non-exhaustive: the feature `flow-fields` (on by default) adds the last three variants.
///
/// The third paper's flows map onto these fields: KL / score difference is
/// `MeanShift(KernelFamily::Gaussian)` (§3), the method's Algorithm 2 is `TwoAxis`, the Sinkhorn
/// divergence flow is `Sinkhorn`, and `SinkhornProxy`, `MmdFlow`, `SlicedWasserstein` are §6–§7.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum DriftField {
    /// [`mean_shift_drift`](crate::mean_shift_drift) (§3) with the self-pair excluded; with several
    /// temperatures the fields are summed.
    MeanShift(KernelFamily),
    /// [`two_axis_softmax_drift`](crate::two_axis_softmax_drift) (Algorithm 2, §4; the official
    /// 2D demo with Laplace, `τ = 0.05` and [`SelfMask::OFFICIAL_DEMO`]); with several
    /// temperatures the fields are summed.
    TwoAxis(KernelFamily, SelfMask),
    /// [`multi_temperature_drift`](crate::multi_temperature_drift) (§5): the temperatures are the
    /// `R` values; the floor and the self-mask distance are these.
    MultiTemperature {
        /// Affinity floor (official `1e-6`; 0 allowed).
        affinity_floor: f32,
        /// Self-mask distance (official `100`).
        self_mask_distance: f32,
    },
    /// [`sinkhorn_drift`](crate::sinkhorn_drift) `T_ab − T_aa` (§6, third paper) with the first
    /// temperature as `blur`; the other fields of the configuration are kept.
    Sinkhorn(SinkhornConfig),
    /// [`sinkhorn_proxy_drift`](crate::sinkhorn_proxy_drift) (the third paper's one-shot Sinkhorn
    /// proxy, §6; feature `flow-fields`, on by default) with the first temperature as `blur`; the configuration's `cost` is kept.
    #[cfg(feature = "flow-fields")]
    SinkhornProxy(SinkhornConfig),
    /// [`mmd_flow_drift`](crate::mmd_flow_drift) (§7, unnormalised kernel gradients, `η = 1`);
    /// with several temperatures the fields are summed.
    #[cfg(feature = "flow-fields")]
    MmdFlow(KernelFamily),
    /// [`sliced_wasserstein_drift`](crate::sliced_wasserstein_drift) (§7, `η = 1`) over
    /// `directions` random directions, drawn from the step's generator after the noise. The
    /// temperatures are not used.
    #[cfg(feature = "flow-fields")]
    SlicedWasserstein {
        /// Random directions per step (`≥ 1`).
        directions: usize,
    },
}

impl DriftField {
    /// The official 2D demo's field: two-axis, Laplace, self-mask `+1e6` (use `τ = 0.05`).
    pub const OFFICIAL_DEMO: Self = Self::TwoAxis(KernelFamily::Laplace, SelfMask::OFFICIAL_DEMO);

    /// Scratch values the field needs for `n` generated and `p` data samples in `R^D`,
    /// saturating at `usize::MAX` (`const`, for buffers in a `static`; no buffer is that long, so
    /// a saturated length never passes a check; [`DriftField::checked_scratch_len`] says `None`).
    #[must_use]
    pub const fn scratch_len(&self, n: usize, p: usize, dim: usize) -> usize {
        match self.checked_scratch_len(n, p, dim) {
            Some(len) => len,
            None => usize::MAX,
        }
    }

    /// [`DriftField::scratch_len`], or `None` if it overflows `usize`.
    #[must_use]
    pub const fn checked_scratch_len(&self, n: usize, p: usize, dim: usize) -> Option<usize> {
        // One field per temperature (summed into the output) for the summed fields.
        let Some(field) = n.checked_mul(dim) else {
            return None;
        };
        // The drift operators' own scratch lengths are linear in the sizes with small
        // coefficients (`N + P + Q`, `2N + P + N·D`): under this bound they cannot overflow.
        let bound = match (n.checked_add(p), dim.checked_add(4)) {
            (Some(sizes), Some(width)) => sizes.checked_mul(width),
            _ => None,
        };
        if bound.is_none() {
            return None;
        }
        match self {
            Self::MeanShift(_) => Some(field),
            #[cfg(feature = "flow-fields")]
            Self::MmdFlow(_) => Some(field),
            Self::TwoAxis(..) => two_axis_scratch_len(n, p, n).checked_add(field),
            Self::MultiTemperature { .. } => Some(multi_temperature_scratch_len(n, p, dim)),
            Self::Sinkhorn(_) => SinkhornWorkspace::checked_required_len(n, p),
            #[cfg(feature = "flow-fields")]
            Self::SinkhornProxy(_) => checked_sinkhorn_proxy_scratch_len(n, p),
            #[cfg(feature = "flow-fields")]
            Self::SlicedWasserstein { .. } => match n.checked_mul(2) {
                Some(two_n) => two_n.checked_add(p),
                None => None,
            },
        }
    }
}

impl DriftField {
    /// Evaluates the field at `queries` (also the negatives) against `positives` into `out`
    /// (coordinate-major `N·D`), at `temperatures` (`1..=`[`MAX_TEMPERATURES`] positive finite
    /// values, as [`TrainerConfig::temperatures`](crate::TrainerConfig::temperatures)): the same
    /// code a training step runs, for particle flows and diagnostics. `rng` draws the sliced
    /// flow's directions (the other fields draw nothing). `scratch` holds at least
    /// [`DriftField::scratch_len`]`(N, P, D)` values.
    ///
    /// Returns the coordinate scale `s` of the output: 1, except for
    /// [`DriftField::MultiTemperature`], whose drift lives in coordinates divided by its `s_in`.
    ///
    /// Multithreaded with feature `std` (the current rayon pool; the same bits).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for no, too many, non-finite or non-positive temperatures and
    /// zero sliced directions; otherwise those of the field's operator.
    ///
    /// # Example
    /// ```
    /// use drifting::{CloudView, DriftField, Kernel, KernelFamily, MeanShiftConfig, Negatives};
    /// use drifting::mean_shift_drift;
    /// use rand_core::SeedableRng;
    /// use rand_xoshiro::Xoshiro256PlusPlus;
    /// const FIELD: DriftField = DriftField::MeanShift(KernelFamily::Gaussian);
    /// let generated = [[0.0_f32, 0.0], [0.5, 0.2], [1.0, -0.4]];
    /// let data = [[1.0_f32, 1.0], [-1.0, 0.5], [0.3, 0.3]];
    /// let (x, y) = (CloudView::from_points(&generated), CloudView::from_points(&data));
    /// let mut scratch = [0.0_f32; FIELD.scratch_len(3, 3, 2)];
    /// let mut field = [0.0_f32; 3 * 2];
    /// let mut rng = Xoshiro256PlusPlus::seed_from_u64(0); // drawn from by the sliced flow only
    /// let scale = FIELD.evaluate(&[0.5], &mut rng, &x, &y, &mut scratch, &mut field)?;
    /// assert_eq!(scale, 1.0); // data coordinates (the multi-temperature field returns its s_in)
    /// // The operator it names, with the generated samples as negatives:
    /// let mut direct = [0.0_f32; 3 * 2];
    /// let config = MeanShiftConfig::new(Kernel::gaussian(0.5));
    /// mean_shift_drift(&x, &y, Negatives::Queries, &config, &mut direct)?;
    /// assert_eq!(field, direct);
    /// # Ok::<(), drifting::Error>(())
    /// ```
    pub fn evaluate<const D: usize, R: Rng + ?Sized>(
        &self,
        temperatures: &[f32],
        rng: &mut R,
        queries: &CloudView<'_, D>,
        positives: &CloudView<'_, D>,
        scratch: &mut [f32],
        out: &mut [f32],
    ) -> Result<f32, Error> {
        self.validate(temperatures)?;
        let report = evaluate(self, temperatures, rng, queries, positives, scratch, out)?;
        Ok(report.coordinate_scale)
    }

    /// Checks the temperatures and the field's own parameters: everything the field's operator
    /// would refuse before looking at the clouds, so that [`Trainer::new`](crate::Trainer::new)
    /// catches a bad field at construction instead of at the first step.
    pub(crate) fn validate(&self, temperatures: &[f32]) -> Result<(), Error> {
        let count = temperatures.len();
        if count == 0 || count > MAX_TEMPERATURES {
            return Err(Error::InvalidParameter {
                input: "temperatures",
            });
        }
        for &t in temperatures {
            self.validate_temperature(t)?;
        }
        match *self {
            Self::TwoAxis(_, SelfMask::AddDistance(d)) if !(d.is_finite() && d >= 0.0) => {
                Err(Error::InvalidParameter { input: "self_mask" })
            }
            Self::MultiTemperature { affinity_floor, .. }
                if !(affinity_floor.is_finite() && affinity_floor >= 0.0) =>
            {
                Err(Error::InvalidParameter {
                    input: "affinity_floor",
                })
            }
            Self::MultiTemperature {
                self_mask_distance, ..
            } if !(self_mask_distance.is_finite() && self_mask_distance >= 0.0) => {
                Err(Error::InvalidParameter {
                    input: "self_mask_distance",
                })
            }
            #[cfg(feature = "flow-fields")]
            Self::SlicedWasserstein { directions }
                if directions == 0 || directions > crate::metrics::MAX_DIRECTIONS =>
            {
                Err(Error::InvalidParameter {
                    input: "directions",
                })
            }
            _ => Ok(()),
        }
    }

    /// Checks one (annealed) temperature as the field's operator will: positive and finite,
    /// and a finite logit scale (`1/τ`, `1/(2σ²)`, `1/R`, `1/blur²`).
    pub(crate) fn validate_temperature(&self, t: f32) -> Result<(), Error> {
        if !(t.is_finite() && t > 0.0) {
            return Err(Error::InvalidParameter {
                input: "temperatures",
            });
        }
        match *self {
            Self::MeanShift(family) | Self::TwoAxis(family, _) => family.kernel(t).validate(),
            #[cfg(feature = "flow-fields")]
            Self::MmdFlow(family) => family.kernel(t).validate(),
            Self::MultiTemperature { .. } if !(1.0 / t).is_finite() => {
                Err(Error::InvalidParameter {
                    input: "temperatures",
                })
            }
            Self::Sinkhorn(config) => with_blur(config, t).validate(),
            #[cfg(feature = "flow-fields")]
            Self::SinkhornProxy(config) => with_blur(config, t).validate(),
            _ => Ok(()),
        }
    }

    /// The distance beyond which the field's kernel at temperature `t` underflows `f32` (logit
    /// below [`UNDERFLOW_LOGIT`]), for the fields whose pull on a sample is a kernel affinity not
    /// normalised over the data alone; `None` for the others (mean shift normalises over the
    /// data, the transport fields per sample, the sliced flow has no kernel).
    /// `distance_scale`: the multi-temperature drift's normalising scale (1 otherwise).
    fn reach(&self, t: f32, distance_scale: f32) -> Option<f32> {
        let limit = -UNDERFLOW_LOGIT;
        let kernel_reach = |family: KernelFamily| match family {
            KernelFamily::Laplace => limit * t,
            KernelFamily::Gaussian => libm::sqrtf(2.0 * limit) * t,
        };
        match *self {
            Self::TwoAxis(family, _) => Some(kernel_reach(family)),
            #[cfg(feature = "flow-fields")]
            Self::MmdFlow(family) => Some(kernel_reach(family)),
            Self::MultiTemperature { affinity_floor, .. } if affinity_floor == 0.0 => {
                Some(limit * t * distance_scale.max(1.0e-3))
            }
            _ => None,
        }
    }
}

/// `ln` of the smallest normal `f32` (`1.18e-38`): a kernel affinity `exp(l)` with a logit below
/// this is subnormal or flushed to zero by the crate's `exp`.
pub(crate) const UNDERFLOW_LOGIT: f32 = -87.336_55;

/// The fraction of `queries` with no point of `positives` within `reach` (exact; each block of
/// eight queries stops scanning the data as soon as all eight have a point within reach, so
/// the cost is `O(N)` when the data are near and `O(N·P·D)` only when they are out of reach).
fn fraction_out_of_reach<const D: usize>(
    queries: &CloudView<'_, D>,
    positives: &CloudView<'_, D>,
    reach: f32,
) -> f32 {
    let reach2 = reach * reach;
    let n = queries.len();
    let mut outside = 0_usize;
    let mut start = 0;
    while start < n {
        let mut block = [[0.0_f32; 8]; D];
        let mut valid = [false; 8];
        for (k, v) in valid.iter_mut().enumerate() {
            if let Some(point) = queries.point(start + k) {
                *v = true;
                for (column, c) in block.iter_mut().zip(point) {
                    if let Some(slot) = column.get_mut(k) {
                        *slot = c;
                    }
                }
            }
        }
        let mut found = valid.map(|v| !v);
        for point in positives.points() {
            let mut d2 = [0.0_f32; 8];
            for (column, c) in block.iter().zip(point) {
                for (d, q) in d2.iter_mut().zip(column) {
                    let delta = q - c;
                    *d += delta * delta;
                }
            }
            for (f, d) in found.iter_mut().zip(d2) {
                *f |= d <= reach2;
            }
            if found.iter().all(|f| *f) {
                break;
            }
        }
        outside += found.iter().filter(|f| !**f).count();
        start += 8;
    }
    #[allow(clippy::cast_precision_loss)]
    let fraction = outside as f32 / n.max(1) as f32;
    fraction
}

/// What one evaluation of the field measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct FieldReport {
    /// The loss lives in coordinates divided by this (multi-temperature: `s_in`; else 1).
    pub(crate) coordinate_scale: f32,
    /// Per temperature, the raw drift RMS² `mean(V_R²)`.
    pub(crate) raw_rms2: [f32; MAX_TEMPERATURES],
    /// The fraction of queries out of the kernel's `f32` reach of every data point at the
    /// smallest temperature (see [`StepReport::underflow_fraction`](crate::StepReport)).
    pub(crate) underflow_fraction: f32,
}

/// Evaluates `field` at `temperatures` with the queries as negatives into `out`
/// (coordinate-major `N·D`); `rng` draws the sliced flow's
/// directions (the other fields draw nothing).
#[allow(clippy::too_many_arguments)]
pub(crate) fn evaluate<const D: usize, R: Rng + ?Sized>(
    field: &DriftField,
    temperatures: &[f32],
    #[cfg_attr(not(feature = "flow-fields"), allow(unused_variables))] rng: &mut R,
    queries: &CloudView<'_, D>,
    positives: &CloudView<'_, D>,
    scratch: &mut [f32],
    out: &mut [f32],
) -> Result<FieldReport, Error> {
    let mut report = FieldReport {
        coordinate_scale: 1.0,
        raw_rms2: [0.0; MAX_TEMPERATURES],
        underflow_fraction: 0.0,
    };
    let mut distance_scale = 1.0_f32;
    match *field {
        DriftField::MeanShift(family) => {
            summed(temperatures, scratch, out, &mut report, |t, _, one| {
                let config = MeanShiftConfig::new(family.kernel(t));
                mean_shift_drift(queries, positives, Negatives::Queries, &config, one)
            })?;
        }
        DriftField::TwoAxis(family, self_mask) => {
            summed(temperatures, scratch, out, &mut report, |t, rest, one| {
                let config = TwoAxisConfig {
                    kernel: family.kernel(t),
                    self_mask,
                    evaluation: crate::drift::Evaluation::Auto,
                };
                two_axis_softmax_drift(queries, positives, Negatives::Queries, &config, rest, one)
            })?;
        }
        DriftField::MultiTemperature {
            affinity_floor,
            self_mask_distance,
        } => {
            let config = MultiTemperatureConfig {
                temperatures,
                affinity_floor,
                self_mask_distance,
                positive_weights: None,
                negative_weights: None,
                evaluation: crate::drift::Evaluation::Auto,
            };
            let r = multi_temperature_drift(queries, positives, &config, scratch, out)?;
            report.coordinate_scale = r.input_scale;
            report.raw_rms2 = r.raw_rms2;
            distance_scale = r.distance_scale;
        }
        DriftField::Sinkhorn(config) => {
            let config = with_first_blur(config, temperatures)?;
            let mut workspace = SinkhornWorkspace::new(scratch, queries.len(), positives.len())?;
            sinkhorn_drift(
                &WeightedCloud::uniform(*queries),
                &WeightedCloud::uniform(*positives),
                &config,
                &mut workspace,
                out,
            )?;
            report.set_single(out);
        }
        #[cfg(feature = "flow-fields")]
        DriftField::SinkhornProxy(config) => {
            let config = with_first_blur(config, temperatures)?;
            sinkhorn_proxy_drift(
                &WeightedCloud::uniform(*queries),
                &WeightedCloud::uniform(*positives),
                &config,
                scratch,
                out,
            )?;
            report.set_single(out);
        }
        #[cfg(feature = "flow-fields")]
        DriftField::MmdFlow(family) => {
            summed(temperatures, scratch, out, &mut report, |t, _, one| {
                let config = MmdFlowConfig::new(family.kernel(t));
                mmd_flow_drift(queries, positives, Negatives::Queries, &config, one)
            })?;
        }
        #[cfg(feature = "flow-fields")]
        DriftField::SlicedWasserstein { directions } => {
            let config = SlicedWassersteinDriftConfig {
                directions,
                ..SlicedWassersteinDriftConfig::new()
            };
            sliced_wasserstein_drift(queries, positives, &config, rng, scratch, out)?;
            report.set_single(out);
        }
    }
    let smallest = temperatures.iter().fold(f32::INFINITY, |m, &t| m.min(t));
    if let Some(reach) = field.reach(smallest, distance_scale) {
        report.underflow_fraction = fraction_out_of_reach(queries, positives, reach);
    }
    Ok(report)
}

impl FieldReport {
    /// Records `mean(out²)` as the single temperature's raw RMS².
    fn set_single(&mut self, out: &[f32]) {
        if let Some(rms2) = self.raw_rms2.first_mut() {
            *rms2 = crate::engine::mean_square(out);
        }
    }
}

/// `config` with the first temperature as its `blur`.
fn with_first_blur(config: SinkhornConfig, temperatures: &[f32]) -> Result<SinkhornConfig, Error> {
    let blur = temperatures
        .first()
        .copied()
        .ok_or(Error::InvalidParameter {
            input: "temperatures",
        })?;
    Ok(with_blur(config, blur))
}

/// `config` with `blur` as its regularisation (a configured `epsilon` gives way to it: the
/// trainer's temperature is the blur).
fn with_blur(config: SinkhornConfig, blur: f32) -> SinkhornConfig {
    SinkhornConfig {
        blur,
        epsilon: None,
        ..config
    }
}

/// The sum over `temperatures` of the fields `one_field(t, rest, one)` writes into `one` (the
/// first `out.len()` values of `scratch`; `rest` is the remainder), into `out`, with each
/// field's `mean(V²)` recorded in the report.
fn summed(
    temperatures: &[f32],
    scratch: &mut [f32],
    out: &mut [f32],
    report: &mut FieldReport,
    mut one_field: impl FnMut(f32, &mut [f32], &mut [f32]) -> Result<(), Error>,
) -> Result<(), Error> {
    let (one, rest) = split(scratch, out.len())?;
    out.fill(0.0);
    for (&t, rms2) in temperatures.iter().zip(report.raw_rms2.iter_mut()) {
        one_field(t, rest, one)?;
        for (o, v) in out.iter_mut().zip(one.iter()) {
            *o += v;
        }
        *rms2 = crate::engine::mean_square(one);
    }
    Ok(())
}

fn split(scratch: &mut [f32], first: usize) -> Result<(&mut [f32], &mut [f32]), Error> {
    if scratch.len() < first {
        return Err(Error::ScratchTooSmall {
            input: "scratch",
            required: first,
            provided: scratch.len(),
        });
    }
    Ok(scratch.split_at_mut(first))
}
