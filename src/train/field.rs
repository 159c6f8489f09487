//! The drift field a training step regresses onto: any operator of the crate, at one or several
//! (annealed) temperatures.

use crate::chunks::Exec;
use crate::cloud::CloudView;
use crate::drift::Negatives;
use crate::drift::mean_shift::{MeanShiftConfig, mean_shift_drift_on};
use crate::drift::multi_temperature::{
    MAX_TEMPERATURES, MultiTemperatureConfig, multi_temperature_drift_on,
    multi_temperature_scratch_len,
};
use crate::drift::two_axis::{
    SelfMask, TwoAxisConfig, two_axis_scratch_len, two_axis_softmax_drift_on,
};
use crate::error::Error;
use crate::kernel::Kernel;
use crate::sinkhorn::{SinkhornConfig, SinkhornWorkspace, WeightedCloud, sinkhorn_drift_on};

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
/// `τ` or `σ` for the kernel drifts, `R` for the multi-temperature drift, `blur` for Sinkhorn.
#[derive(Clone, Copy, Debug, PartialEq)]
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
            Self::TwoAxis(..) => two_axis_scratch_len(n, p, n) + n * dim,
            Self::MultiTemperature { .. } => multi_temperature_scratch_len(n, p, dim),
            Self::Sinkhorn(_) => SinkhornWorkspace::required_len(n, p),
        }
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
/// (coordinate-major `N·D`), its pair passes run by `exec`.
pub(crate) fn evaluate<const D: usize>(
    exec: Exec,
    field: &DriftField,
    temperatures: &[f32],
    queries: &CloudView<'_, D>,
    positives: &CloudView<'_, D>,
    scratch: &mut [f32],
    out: &mut [f32],
) -> Result<FieldReport, Error> {
    let mut report = FieldReport {
        coordinate_scale: 1.0,
        raw_rms2: [0.0; MAX_TEMPERATURES],
    };
    let n_d = out.len();
    match *field {
        DriftField::MeanShift(family) => {
            let (one, _) = split(scratch, n_d)?;
            out.fill(0.0);
            for (&t, rms2) in temperatures.iter().zip(report.raw_rms2.iter_mut()) {
                let config = MeanShiftConfig::new(family.kernel(t));
                mean_shift_drift_on(exec, queries, positives, Negatives::Queries, &config, one)?;
                *rms2 = accumulate(out, one);
            }
        }
        DriftField::TwoAxis(family, self_mask) => {
            let (one, rest) = split(scratch, n_d)?;
            out.fill(0.0);
            for (&t, rms2) in temperatures.iter().zip(report.raw_rms2.iter_mut()) {
                let config = TwoAxisConfig {
                    kernel: family.kernel(t),
                    self_mask,
                };
                two_axis_softmax_drift_on(
                    exec,
                    queries,
                    positives,
                    Negatives::Queries,
                    &config,
                    rest,
                    one,
                )?;
                *rms2 = accumulate(out, one);
            }
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
            };
            let r = multi_temperature_drift_on(exec, queries, positives, &config, scratch, out)?;
            report.coordinate_scale = r.input_scale;
            report.raw_rms2 = r.raw_rms2;
        }
        DriftField::Sinkhorn(config) => {
            let blur = temperatures
                .first()
                .copied()
                .ok_or(Error::InvalidParameter {
                    name: "temperatures",
                })?;
            let config = SinkhornConfig { blur, ..config };
            let mut workspace = SinkhornWorkspace::new(scratch, queries.len(), positives.len())?;
            sinkhorn_drift_on(
                exec,
                &WeightedCloud::uniform(*queries),
                &WeightedCloud::uniform(*positives),
                &config,
                &mut workspace,
                out,
            )?;
            if let Some(rms2) = report.raw_rms2.first_mut() {
                *rms2 = crate::drift::multi_temperature::mean_square(out);
            }
        }
    }
    Ok(report)
}

/// `out += field`; returns `mean(field²)`.
fn accumulate(out: &mut [f32], field: &[f32]) -> f32 {
    for (o, v) in out.iter_mut().zip(field) {
        *o += v;
    }
    crate::drift::multi_temperature::mean_square(field)
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
