//! The drift field a training step regresses onto: any operator of the crate, at one or several
//! (annealed) temperatures.

use crate::cloud::CloudView;
use crate::drift::Negatives;
use crate::drift::mean_shift::{MeanShiftConfig, mean_shift_drift_on};
#[cfg(feature = "flow-fields")]
use crate::drift::mmd_flow::{MmdFlowConfig, mmd_flow_drift_on};
use crate::drift::multi_temperature::{
    MAX_TEMPERATURES, MultiTemperatureConfig, multi_temperature_drift_on,
    multi_temperature_scratch_len,
};
#[cfg(feature = "flow-fields")]
use crate::drift::sliced_flow::{
    SlicedFlowConfig, sliced_flow_scratch_len, sliced_wasserstein_drift,
};
use crate::drift::two_axis::{
    SelfMask, TwoAxisConfig, two_axis_scratch_len, two_axis_softmax_drift_on,
};
use crate::engine::chunks::Exec;
use crate::error::Error;
use crate::kernel::Kernel;
use crate::sinkhorn::{SinkhornConfig, SinkhornWorkspace, WeightedCloud, sinkhorn_drift_on};
#[cfg(feature = "flow-fields")]
use crate::sinkhorn::{sinkhorn_proxy_drift_on, sinkhorn_proxy_scratch_len};
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

    /// Scratch values the field needs for `n` generated and `p` data samples in `R^D`.
    #[must_use]
    pub const fn scratch_len(&self, n: usize, p: usize, dim: usize) -> usize {
        match self {
            // One extra field per temperature (summed into the output).
            Self::MeanShift(_) => n * dim,
            #[cfg(feature = "flow-fields")]
            Self::MmdFlow(_) => n * dim,
            Self::TwoAxis(..) => two_axis_scratch_len(n, p, n) + n * dim,
            Self::MultiTemperature { .. } => multi_temperature_scratch_len(n, p, dim),
            Self::Sinkhorn(_) => SinkhornWorkspace::required_len(n, p),
            #[cfg(feature = "flow-fields")]
            Self::SinkhornProxy(_) => sinkhorn_proxy_scratch_len(n, p),
            #[cfg(feature = "flow-fields")]
            Self::SlicedWasserstein { .. } => sliced_flow_scratch_len(n, p),
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
    /// Multithreaded (feature `std`; the same bits): `drifting::parallel::drift_field`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for no, too many, non-finite or non-positive temperatures and
    /// zero sliced directions; otherwise those of the field's operator.
    pub fn evaluate<const D: usize, R: Rng + ?Sized>(
        &self,
        temperatures: &[f32],
        rng: &mut R,
        queries: &CloudView<'_, D>,
        positives: &CloudView<'_, D>,
        scratch: &mut [f32],
        out: &mut [f32],
    ) -> Result<f32, Error> {
        self.evaluate_on(
            Exec::Serial,
            temperatures,
            rng,
            queries,
            positives,
            scratch,
            out,
        )
    }

    /// [`DriftField::evaluate`] with the pair passes run by `exec`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn evaluate_on<const D: usize, R: Rng + ?Sized>(
        &self,
        exec: Exec,
        temperatures: &[f32],
        rng: &mut R,
        queries: &CloudView<'_, D>,
        positives: &CloudView<'_, D>,
        scratch: &mut [f32],
        out: &mut [f32],
    ) -> Result<f32, Error> {
        self.validate(temperatures)?;
        let report = evaluate(
            exec,
            self,
            temperatures,
            rng,
            queries,
            positives,
            scratch,
            out,
        )?;
        Ok(report.coordinate_scale)
    }

    /// Checks the temperatures and the field's own parameters.
    pub(crate) fn validate(&self, temperatures: &[f32]) -> Result<(), Error> {
        let count = temperatures.len();
        if count == 0
            || count > MAX_TEMPERATURES
            || !temperatures.iter().all(|t| t.is_finite() && *t > 0.0)
        {
            return Err(Error::InvalidParameter {
                name: "temperatures",
            });
        }
        #[cfg(feature = "flow-fields")]
        if let Self::SlicedWasserstein { directions: 0 } = self {
            return Err(Error::InvalidParameter { name: "directions" });
        }
        Ok(())
    }
}

/// What one evaluation of the field measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct FieldReport {
    /// The loss lives in coordinates divided by this (multi-temperature: `s_in`; else 1).
    pub(crate) coordinate_scale: f32,
    /// Per temperature, the raw drift RMS² `mean(V_R²)`.
    pub(crate) raw_rms2: [f32; MAX_TEMPERATURES],
}

/// Evaluates `field` at `temperatures` with the queries as negatives into `out`
/// (coordinate-major `N·D`), its pair passes run by `exec`; `rng` draws the sliced flow's
/// directions (the other fields draw nothing).
#[allow(clippy::too_many_arguments)]
pub(crate) fn evaluate<const D: usize, R: Rng + ?Sized>(
    exec: Exec,
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
    };
    match *field {
        DriftField::MeanShift(family) => {
            summed(temperatures, scratch, out, &mut report, |t, _, one| {
                let config = MeanShiftConfig::new(family.kernel(t));
                mean_shift_drift_on(exec, queries, positives, Negatives::Queries, &config, one)
            })?;
        }
        DriftField::TwoAxis(family, self_mask) => {
            summed(temperatures, scratch, out, &mut report, |t, rest, one| {
                let config = TwoAxisConfig {
                    kernel: family.kernel(t),
                    self_mask,
                    evaluation: crate::drift::Evaluation::Auto,
                };
                two_axis_softmax_drift_on(
                    exec,
                    queries,
                    positives,
                    Negatives::Queries,
                    &config,
                    rest,
                    one,
                )
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
            let r = multi_temperature_drift_on(exec, queries, positives, &config, scratch, out)?;
            report.coordinate_scale = r.input_scale;
            report.raw_rms2 = r.raw_rms2;
        }
        DriftField::Sinkhorn(config) => {
            let config = with_blur(config, temperatures)?;
            let mut workspace = SinkhornWorkspace::new(scratch, queries.len(), positives.len())?;
            sinkhorn_drift_on(
                exec,
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
            let config = with_blur(config, temperatures)?;
            sinkhorn_proxy_drift_on(
                exec,
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
                mmd_flow_drift_on(exec, queries, positives, Negatives::Queries, &config, one)
            })?;
        }
        #[cfg(feature = "flow-fields")]
        DriftField::SlicedWasserstein { directions } => {
            let config = SlicedFlowConfig {
                directions,
                ..SlicedFlowConfig::new()
            };
            sliced_wasserstein_drift(queries, positives, &config, rng, scratch, out)?;
            report.set_single(out);
        }
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
fn with_blur(config: SinkhornConfig, temperatures: &[f32]) -> Result<SinkhornConfig, Error> {
    let blur = temperatures
        .first()
        .copied()
        .ok_or(Error::InvalidParameter {
            name: "temperatures",
        })?;
    Ok(SinkhornConfig { blur, ..config })
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
            required: first,
            provided: scratch.len(),
        });
    }
    Ok(scratch.split_at_mut(first))
}
