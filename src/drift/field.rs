//! The registry of drift operators: the fields a training step regresses onto, one line per
//! operator ([`DriftField::visit`]), used by the trainer, the fuzz targets, the panic audit
//! (`tests/hostile_inputs.rs`), the benches (`benches/drift.rs`) and the shared test template
//! (`tests/operator_template.rs`) through [`DriftField::CATALOGUE`].

use crate::cloud::CloudView;
use crate::drift::Negatives;
use crate::drift::mean_shift::MeanShiftConfig;
#[cfg(feature = "flow-fields")]
use crate::drift::mmd_flow::MmdFlowConfig;
use crate::drift::multi_temperature::{MAX_TEMPERATURES, MultiTemperatureConfig};
use crate::drift::operator::{DriftOperator, DriftShape, TemperatureUse, saturated};
#[cfg(feature = "flow-fields")]
use crate::drift::sliced_wasserstein_drift::SlicedWassersteinDriftConfig;
use crate::drift::two_axis::{SelfMask, TwoAxisConfig};
use crate::error::Error;
use crate::kernel::Kernel;
use crate::sinkhorn::SinkhornConfig;
#[cfg(feature = "flow-fields")]
use crate::sinkhorn::SinkhornProxy;
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

    /// One field per operator of the registry (both kernel families where the operator has a
    /// kernel; the `flow-fields` variants when that feature is on): what the fuzz targets, the
    /// panic audit, the benches and the test template iterate over.
    pub const CATALOGUE: &'static [Self] = &[
        Self::MeanShift(KernelFamily::Laplace),
        Self::MeanShift(KernelFamily::Gaussian),
        Self::OFFICIAL_DEMO,
        Self::TwoAxis(KernelFamily::Gaussian, SelfMask::Exclude),
        Self::MultiTemperature {
            affinity_floor: 1.0e-6,
            self_mask_distance: 100.0,
        },
        Self::Sinkhorn(SinkhornConfig::new()),
        #[cfg(feature = "flow-fields")]
        Self::SinkhornProxy(SinkhornConfig::new()),
        #[cfg(feature = "flow-fields")]
        Self::MmdFlow(KernelFamily::Laplace),
        #[cfg(feature = "flow-fields")]
        Self::MmdFlow(KernelFamily::Gaussian),
        #[cfg(feature = "flow-fields")]
        Self::SlicedWasserstein { directions: 16 },
    ];

    /// **The registry**: the field's operator as a function of the temperature (`temperatures`
    /// is the list the multi-temperature drift holds), handed to `visitor` with the way it takes
    /// the temperatures. One line per operator; a new operator
    /// is its file (the configuration implementing [`DriftOperator`]), a variant, a line here
    /// and a line in [`DriftField::checked_workspace_len`].
    pub fn visit<'t, V: OperatorVisitor<'t>>(
        &self,
        temperatures: &'t [f32],
        visitor: V,
    ) -> V::Output {
        use TemperatureUse::{All, EachSummed, First};
        match *self {
            Self::MeanShift(k) => visitor.visit(EachSummed, |t| MeanShiftConfig::new(k.kernel(t))),
            Self::TwoAxis(k, self_mask) => visitor.visit(EachSummed, |t| TwoAxisConfig {
                self_mask,
                ..TwoAxisConfig::new(k.kernel(t))
            }),
            Self::MultiTemperature {
                affinity_floor,
                self_mask_distance,
            } => visitor.visit(All, |_| MultiTemperatureConfig {
                temperatures,
                affinity_floor,
                self_mask_distance,
                ..MultiTemperatureConfig::official()
            }),
            Self::Sinkhorn(config) => visitor.visit(First, |t| with_blur(config, t)),
            #[cfg(feature = "flow-fields")]
            Self::SinkhornProxy(config) => {
                visitor.visit(First, |t| SinkhornProxy(with_blur(config, t)))
            }
            #[cfg(feature = "flow-fields")]
            Self::MmdFlow(k) => visitor.visit(EachSummed, |t| MmdFlowConfig::new(k.kernel(t))),
            #[cfg(feature = "flow-fields")]
            Self::SlicedWasserstein { directions } => {
                visitor.visit(TemperatureUse::Unused, |_| SlicedWassersteinDriftConfig {
                    directions,
                    ..SlicedWassersteinDriftConfig::new()
                })
            }
        }
    }

    /// The operator's name ([`DriftOperator::NAME`]).
    #[must_use]
    pub fn name(&self) -> &'static str {
        struct Name;
        impl OperatorVisitor<'_> for Name {
            type Output = &'static str;
            fn visit<O: DriftOperator, F: Fn(f32) -> O>(
                self,
                _: TemperatureUse,
                _: F,
            ) -> Self::Output {
                O::NAME
            }
        }
        self.visit(&[], Name)
    }

    /// How the field takes the trainer's temperatures.
    #[must_use]
    pub fn temperature_use(&self) -> TemperatureUse {
        struct Use;
        impl OperatorVisitor<'_> for Use {
            type Output = TemperatureUse;
            fn visit<O: DriftOperator, F: Fn(f32) -> O>(
                self,
                usage: TemperatureUse,
                _: F,
            ) -> Self::Output {
                usage
            }
        }
        self.visit(&[], Use)
    }

    /// Workspace values the field needs for `n` generated and `p` data samples in `R^D`,
    /// saturating at `usize::MAX` (`const`, for buffers in a `static`; no buffer is that long, so
    /// a saturated length never passes a check; [`DriftField::checked_workspace_len`] says `None`).
    #[must_use]
    pub const fn workspace_len(&self, n: usize, p: usize, dim: usize) -> usize {
        saturated(self.checked_workspace_len(n, p, dim))
    }

    /// The former name of [`DriftField::workspace_len`].
    #[deprecated(note = "renamed workspace_len (one workspace convention)")]
    #[must_use]
    pub const fn scratch_len(&self, n: usize, p: usize, dim: usize) -> usize {
        self.workspace_len(n, p, dim)
    }

    /// [`DriftField::workspace_len`], or `None` if it overflows `usize`: the operator's own
    /// workspace (its `const fn workspace_len`; the streaming sizes), plus one field (`N·D`) for
    /// the fields summed over temperatures.
    #[must_use]
    pub const fn checked_workspace_len(&self, n: usize, p: usize, dim: usize) -> Option<usize> {
        let shape = DriftShape::training(n, p, dim);
        let Some(field) = shape.field_len() else {
            return None;
        };
        let k = Kernel::laplace(1.0);
        let (own, summed) = match *self {
            Self::MeanShift(_) => (MeanShiftConfig::new(k).workspace_len(&shape), true),
            Self::TwoAxis(..) => (TwoAxisConfig::new(k).workspace_len(&shape), true),
            Self::MultiTemperature { .. } => (
                MultiTemperatureConfig::official().workspace_len(&shape),
                false,
            ),
            Self::Sinkhorn(config) => (config.workspace_len(&shape), false),
            #[cfg(feature = "flow-fields")]
            Self::SinkhornProxy(config) => (SinkhornProxy(config).workspace_len(&shape), false),
            #[cfg(feature = "flow-fields")]
            Self::MmdFlow(_) => (MmdFlowConfig::new(k).workspace_len(&shape), true),
            #[cfg(feature = "flow-fields")]
            Self::SlicedWasserstein { .. } => (
                SlicedWassersteinDriftConfig::new().workspace_len(&shape),
                false,
            ),
        };
        if own == usize::MAX {
            return None;
        }
        if summed {
            own.checked_add(field)
        } else {
            Some(own)
        }
    }

    /// The former name of [`DriftField::checked_workspace_len`].
    #[deprecated(note = "renamed checked_workspace_len (one workspace convention)")]
    #[must_use]
    pub const fn checked_scratch_len(&self, n: usize, p: usize, dim: usize) -> Option<usize> {
        self.checked_workspace_len(n, p, dim)
    }
}

impl DriftField {
    /// Evaluates the field at `queries` (also the negatives) against `positives` into `out`
    /// (coordinate-major `N·D`), at `temperatures` (`1..=`[`MAX_TEMPERATURES`] positive finite
    /// values, as [`TrainerConfig::temperatures`](crate::TrainerConfig::temperatures)): the same
    /// code a training step runs, for particle flows and diagnostics. `rng` draws the sliced
    /// flow's directions (the other fields draw nothing). `scratch` holds at least
    /// [`DriftField::workspace_len`]`(N, P, D)` values.
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
    /// let mut scratch = [0.0_f32; FIELD.workspace_len(3, 3, 2)];
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
        if !temperatures.iter().all(|t| t.is_finite() && *t > 0.0) {
            return Err(Error::InvalidParameter {
                input: "temperatures",
            });
        }
        self.visit(temperatures, Validate { temperatures })
    }

    /// Checks one (annealed) temperature as the field's operator will: positive and finite,
    /// and a finite logit scale (`1/τ`, `1/(2σ²)`, `1/R`, `1/blur²`).
    pub(crate) fn validate_temperature(&self, t: f32) -> Result<(), Error> {
        self.validate(&[t])
    }
}

/// Generic code over every operator of the registry: [`DriftField::visit`] calls
/// [`OperatorVisitor::visit`] with the field's operator as a function of the temperature.
///
/// ```
/// use drifting::{DriftField, DriftOperator, OperatorVisitor, TemperatureUse};
/// struct Name;
/// impl OperatorVisitor<'_> for Name {
///     type Output = (&'static str, bool);
///     fn visit<O: DriftOperator, F: Fn(f32) -> O>(self, _: TemperatureUse, _: F) -> Self::Output {
///         (O::NAME, O::SEPARATE_NEGATIVES)
///     }
/// }
/// for field in DriftField::CATALOGUE {
///     let (name, separate) = field.visit(&[0.1], Name);
///     assert!(!name.is_empty());
///     assert_eq!(name, field.name());
///     let _ = separate; // the operators that accept a negative cloud besides the queries
/// }
/// ```
pub trait OperatorVisitor<'t> {
    /// What the visit returns.
    type Output;
    /// Called with the field's operator as a function of the temperature, `operator_at(t)`,
    /// and how it takes the temperatures (`operator_at` ignores its argument for
    /// [`TemperatureUse::All`], whose operator holds the whole list, and
    /// [`TemperatureUse::Unused`]).
    fn visit<O: DriftOperator, F: Fn(f32) -> O>(
        self,
        usage: TemperatureUse,
        operator_at: F,
    ) -> Self::Output;
}

/// Validates the operator at every temperature it will see.
struct Validate<'t> {
    temperatures: &'t [f32],
}

impl<'t> OperatorVisitor<'t> for Validate<'t> {
    type Output = Result<(), Error>;
    fn visit<O: DriftOperator, F: Fn(f32) -> O>(
        self,
        usage: TemperatureUse,
        operator_at: F,
    ) -> Self::Output {
        match usage {
            TemperatureUse::All | TemperatureUse::Unused => operator_at(1.0).validate(),
            TemperatureUse::EachSummed | TemperatureUse::First => self
                .temperatures
                .iter()
                .try_for_each(|&t| operator_at(t).validate()),
        }
    }
}

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
/// (coordinate-major `N·D`); `rng` draws the sliced flow's directions (the other fields draw
/// nothing).
#[allow(clippy::too_many_arguments)]
pub(crate) fn evaluate<const D: usize, R: Rng + ?Sized>(
    field: &DriftField,
    temperatures: &[f32],
    rng: &mut R,
    queries: &CloudView<'_, D>,
    positives: &CloudView<'_, D>,
    scratch: &mut [f32],
    out: &mut [f32],
) -> Result<FieldReport, Error> {
    field.visit(
        temperatures,
        Evaluate {
            temperatures,
            rng,
            queries,
            positives,
            scratch,
            out,
        },
    )
}

/// Runs the operator (summed over the temperatures where it takes each) and measures the
/// fraction of queries out of its reach.
struct Evaluate<'t, 'a, 'c, const D: usize, R: Rng + ?Sized> {
    temperatures: &'t [f32],
    rng: &'a mut R,
    queries: &'a CloudView<'c, D>,
    positives: &'a CloudView<'c, D>,
    scratch: &'a mut [f32],
    out: &'a mut [f32],
}

impl<'t, const D: usize, R: Rng + ?Sized> OperatorVisitor<'t> for Evaluate<'t, '_, '_, D, R> {
    type Output = Result<FieldReport, Error>;
    fn visit<O: DriftOperator, F: Fn(f32) -> O>(
        self,
        usage: TemperatureUse,
        operator_at: F,
    ) -> Self::Output {
        let Self {
            temperatures,
            rng,
            queries,
            positives,
            scratch,
            out,
        } = self;
        let first = temperatures
            .first()
            .copied()
            .ok_or(Error::InvalidParameter {
                input: "temperatures",
            })?;
        let mut report = FieldReport {
            coordinate_scale: 1.0,
            raw_rms2: [0.0; MAX_TEMPERATURES],
            underflow_fraction: 0.0,
        };
        let (operator, outcome) = match usage {
            TemperatureUse::EachSummed => {
                let (one, rest) = split(scratch, out.len())?;
                out.fill(0.0);
                let mut outcome = None;
                for (&t, rms2) in temperatures.iter().zip(report.raw_rms2.iter_mut()) {
                    let run = operator_at(t).run(
                        queries,
                        positives,
                        Negatives::Queries,
                        rng,
                        rest,
                        one,
                    )?;
                    for (o, v) in out.iter_mut().zip(one.iter()) {
                        *o += v;
                    }
                    *rms2 = run.raw_rms2[0];
                    outcome = Some(run);
                }
                let smallest = temperatures.iter().fold(f32::INFINITY, |m, &t| m.min(t));
                (operator_at(smallest), outcome)
            }
            TemperatureUse::All | TemperatureUse::First | TemperatureUse::Unused => {
                let operator = operator_at(first);
                let outcome =
                    operator.run(queries, positives, Negatives::Queries, rng, scratch, out)?;
                report.coordinate_scale = outcome.coordinate_scale;
                report.raw_rms2 = outcome.raw_rms2;
                (operator, Some(outcome))
            }
        };
        if let Some(reach) = outcome.and_then(|o| operator.reach(&o)) {
            report.underflow_fraction = fraction_out_of_reach(queries, positives, reach);
        }
        Ok(report)
    }
}

/// `config` with `blur` as its regularisation (a configured `epsilon` gives way to it: the
/// trainer's temperature is the blur).
const fn with_blur(config: SinkhornConfig, blur: f32) -> SinkhornConfig {
    SinkhornConfig {
        blur,
        epsilon: None,
        ..config
    }
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
