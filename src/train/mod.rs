//! End-to-end drifting training: the stop-gradient step of Deng et al. 2026 (docs/mathematics.md §10).
//!
//! One step: draw noise `z ~ N(0, I)`, generate `x = f_θ(z)`, evaluate a drift `V(x)` against a
//! data batch with the generated batch as negatives, take the stop-gradient loss
//! `mean ‖x − sg(x + V)‖²` and its gradient `−2V/(N·D)`, backpropagate through the MLP, and
//! update `θ` with Adam. Everything lives in caller-owned slices (no allocation), so the same
//! trainer runs on a workstation and on a Cortex-M4F.

use crate::drift::field;
pub use crate::drift::field::{DriftField, KernelFamily};

use crate::adam::{Adam, AdamState};
use crate::cloud::CloudView;
use crate::drift::multi_temperature::MAX_TEMPERATURES;
use crate::engine::mean_square;
use crate::error::Error;
use crate::loss::stop_gradient_loss;
use crate::mlp::{Activation, MAX_BATCH, Mlp};
use crate::sample::fill_standard_normal;
use crate::schedule::AnnealingSchedule;
use rand_core::Rng;

/// Configuration of a [`Trainer`]. [`TrainerConfig::official_demo`] is the official 2D demo.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainerConfig<'a> {
    /// The drift field (official demo: [`DriftField::OFFICIAL_DEMO`]).
    pub field: DriftField,
    /// The field's scales at step 0, 1 to [`MAX_TEMPERATURES`] of them: `τ` (Laplace), `σ`
    /// (Gaussian), `R` (multi-temperature) or `blur` (Sinkhorn). Official demo: `[0.05]`.
    pub temperatures: &'a [f32],
    /// Optional annealing: every temperature is multiplied by
    /// [`AnnealingSchedule::factor`]`(t)` at step `t`.
    pub annealing: Option<AnnealingSchedule>,
    /// The generator's activation (official demo: SiLU).
    pub activation: Activation,
    /// The optimiser (official demo: Adam, `lr = 1e-3`, PyTorch defaults otherwise).
    pub optimizer: Adam,
    /// Generated samples per step `N` (official demo: 2048).
    pub batch: usize,
}

impl TrainerConfig<'static> {
    /// The official 2D demo: two-axis Laplace drift at `τ = 0.05` with the `+1e6` self-mask,
    /// SiLU, Adam at `1e-3`, 2048 generated samples per step (use 2048 data samples too).
    #[must_use]
    pub const fn official_demo() -> Self {
        Self {
            field: DriftField::OFFICIAL_DEMO,
            temperatures: &[0.05],
            annealing: None,
            activation: Activation::Silu,
            optimizer: Adam::new(),
            batch: 2048,
        }
    }
}

/// What one training step measured.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct StepReport {
    /// The step index (0-based) this report belongs to.
    pub step: u64,
    /// The stop-gradient loss `mean(V²)` (in the field's coordinates).
    pub loss: f32,
    /// `sqrt(mean(V²))` of the field used as the target (equal to `sqrt(loss)`).
    pub drift_rms: f32,
    /// Per temperature, the raw drift RMS² (first `temperature_count` entries).
    pub raw_rms2: [f32; MAX_TEMPERATURES],
    /// Number of temperatures.
    pub temperature_count: usize,
    /// The annealing factor applied to the temperatures at this step (1 without annealing).
    pub temperature_factor: f32,
    /// The fraction of generated samples out of the field's reach: every data point is so far
    /// that the kernel affinity underflows `f32` (logit below `ln 1.18e-38 = −87.3`, the
    /// smallest normal `f32`) at the smallest temperature of the step, so the data's pull on
    /// the sample is zero or below `f32` resolution. A loss near 0 with this near 1 means the
    /// data are out of reach, not that the generator converged.
    ///
    /// Measured for the fields whose pull is a kernel affinity not normalised over the data
    /// alone: [`DriftField::TwoAxis`] (nearest data point beyond `87.3 τ`, or `13.2 σ` for the
    /// Gaussian), [`DriftField::MultiTemperature`] with a zero floor (beyond `87.3 R` in its
    /// normalised distances; a positive floor keeps every affinity above it) and the MMD flow.
    /// Always 0 for the others: the mean-shift drift normalises its weights over the data, the
    /// Sinkhorn fields normalise their plans per sample, and the sliced flow has no kernel;
    /// they pull at any distance the crate accepts.
    pub underflow_fraction: f32,
}

/// Lengths of the pieces of a trainer's workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Layout {
    noise: usize,
    samples: usize,
    cache: usize,
    drift: usize,
    gradient: usize,
    backward: usize,
    field: usize,
}

impl Layout {
    /// The sum of the pieces, or `None` if it overflows.
    fn total(&self) -> Option<usize> {
        [
            self.samples,
            self.cache,
            self.drift,
            self.gradient,
            self.backward,
            self.field,
        ]
        .iter()
        .try_fold(self.noise, |total, &piece| total.checked_add(piece))
    }
}

/// `len`, or `None` if it is `usize::MAX`: the MLP's and the fields' scratch lengths saturate
/// there on overflow (no buffer is that long).
fn unsaturated(len: usize) -> Option<usize> {
    (len != usize::MAX).then_some(len)
}

/// A drifting trainer for the generator [`Mlp<I, H, O>`] over borrowed parameter, optimiser and
/// work buffers.
///
/// Buffers: `parameters`, `gradients`, `first_moment`, `second_moment` each of
/// [`Mlp::PARAMETERS`] values; a workspace of [`Trainer::workspace_len`] values.
///
/// ```
/// use drifting::{CloudView, Dataset, Mlp, Trainer, TrainerConfig};
/// use rand_core::SeedableRng;
/// use rand_xoshiro::Xoshiro256PlusPlus;
/// type Generator = Mlp<4, 16, 2>; // the demo's is Mlp<32, 256, 2>
/// const P: usize = Generator::PARAMETERS;
/// const DATA: usize = 64;
/// // The official demo (two-axis Laplace drift, τ = 0.05, Adam 1e-3) on a small batch.
/// let config = TrainerConfig { batch: 64, ..TrainerConfig::official_demo() };
/// let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
/// let mut params = [0.0_f32; P];
/// Generator::init_pytorch(&mut params, &mut rng)?;
/// let [mut grads, mut m, mut v] = [[0.0_f32; P]; 3]; // the gradient and Adam's moments
/// let mut workspace = vec![0.0_f32; Trainer::<4, 16, 2>::workspace_len(&config, DATA)];
/// let mut trainer = Trainer::<4, 16, 2>::new(
///     config, DATA, &mut params, &mut grads, &mut m, &mut v, &mut workspace,
/// )?;
/// let mut data = [0.0_f32; 2 * DATA];
/// for _ in 0..3 {
///     Dataset::checkerboard().sample(&mut rng, &mut data, DATA)?;
///     let report = trainer.step(&mut rng, &CloudView::from_coordinate_major(&data, DATA)?)?;
///     assert!(report.loss.is_finite());
/// }
/// assert_eq!(trainer.steps(), 3);
/// # Ok::<(), drifting::Error>(())
/// ```
#[derive(Debug)]
pub struct Trainer<'a, const I: usize, const H: usize, const O: usize> {
    config: TrainerConfig<'a>,
    parameters: &'a mut [f32],
    gradients: &'a mut [f32],
    first_moment: &'a mut [f32],
    second_moment: &'a mut [f32],
    workspace: &'a mut [f32],
    state: AdamState,
    data_batch: usize,
    temperatures: [f32; MAX_TEMPERATURES],
}

/// The caller-owned buffers of a [`Trainer`]: parameters, gradients, first and second moments,
/// workspace.
type TrainerBuffers<'a> = (
    &'a mut [f32],
    &'a mut [f32],
    &'a mut [f32],
    &'a mut [f32],
    &'a mut [f32],
);

impl<'a, const I: usize, const H: usize, const O: usize> Trainer<'a, I, H, O> {
    /// The workspace layout, or `None` if a length overflows `usize`.
    fn layout(config: &TrainerConfig<'_>, data_batch: usize) -> Option<Layout> {
        let n = config.batch;
        let per_sample = |width: usize| width.checked_mul(n);
        Some(Layout {
            noise: per_sample(I)?,
            samples: per_sample(O)?,
            cache: unsaturated(Mlp::<I, H, O>::cache_len(n))?,
            drift: per_sample(O)?,
            gradient: per_sample(O)?,
            backward: unsaturated(Mlp::<I, H, O>::backward_scratch_len(n))?,
            field: config.field.checked_workspace_len(n, data_batch, O)?,
        })
    }

    /// Workspace values a trainer with this configuration and `data_batch` data samples per
    /// step needs, saturating at `usize::MAX` (no buffer is that long, so a saturated length
    /// never passes [`Trainer::new`]; [`Trainer::checked_workspace_len`] says `None`).
    #[must_use]
    pub fn workspace_len(config: &TrainerConfig<'_>, data_batch: usize) -> usize {
        Self::checked_workspace_len(config, data_batch).unwrap_or(usize::MAX)
    }

    /// [`Trainer::workspace_len`], or `None` if it overflows `usize`.
    #[must_use]
    pub fn checked_workspace_len(config: &TrainerConfig<'_>, data_batch: usize) -> Option<usize> {
        Self::layout(config, data_batch)?.total()
    }

    /// Checks everything a step would refuse before looking at the data: the batch sizes, the
    /// whole field configuration at every temperature the schedule can produce, the schedule,
    /// the optimiser.
    fn validate(config: &TrainerConfig<'_>, data_batch: usize) -> Result<(), Error> {
        if config.batch == 0 || config.batch > MAX_BATCH {
            return Err(Error::InvalidParameter { input: "batch" });
        }
        if data_batch == 0 {
            return Err(Error::InvalidParameter {
                input: "data_batch",
            });
        }
        config.field.validate(config.temperatures)?;
        if let Some(schedule) = config.annealing {
            schedule.validate()?;
            // The schedules are monotone: every annealed temperature lies between the
            // configured one (factor 1) and the configured one times the final factor, and the
            // product is monotone in the factor (in f32 too), so checking that end suffices.
            let last = schedule.final_factor();
            for &t in config.temperatures {
                config.field.validate_temperature(t * last).map_err(|_| {
                    Error::InvalidParameter {
                        input: "annealing (temperature × final factor)",
                    }
                })?;
            }
        }
        config.optimizer.validate()
    }

    /// A trainer over these buffers. The parameters are used as they are (initialise them with
    /// [`Mlp::init_pytorch`] or load them); the moments are zeroed.
    ///
    /// Validates the whole configuration here, so that a step fails only on its data or on a
    /// diverging generator: the field's own parameters (self-mask distance, floor, Sinkhorn
    /// configuration, direction count) and every temperature the annealing schedule can
    /// produce.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for an empty batch or one above `2^24` (`"batch"`), an empty
    /// data batch, no or too many temperatures, a non-positive or non-finite temperature (or
    /// one whose logit scale overflows), an invalid field parameter (named), an invalid
    /// schedule or a temperature it would anneal out of range, an invalid optimiser, or sizes
    /// whose workspace length overflows `usize` (`"batch"`); [`Error::ShapeMismatch`] for
    /// buffers of the wrong length; [`Error::ScratchTooSmall`]; [`Error::NonFinite`] for
    /// non-finite parameters.
    ///
    /// # Example
    /// ```
    /// use drifting::{Error, Mlp, Trainer, TrainerConfig};
    /// type Generator = Mlp<2, 8, 2>;
    /// const P: usize = Generator::PARAMETERS;
    /// let [mut params, mut grads, mut m, mut v] = [[0.1_f32; P]; 4];
    /// // A temperature of 0 is refused here, not at the first step.
    /// let config =
    ///     TrainerConfig { batch: 16, temperatures: &[0.0], ..TrainerConfig::official_demo() };
    /// let mut workspace = vec![0.0_f32; Trainer::<2, 8, 2>::workspace_len(&config, 16)];
    /// let trainer = Trainer::<2, 8, 2>::new(
    ///     config, 16, &mut params, &mut grads, &mut m, &mut v, &mut workspace,
    /// );
    /// assert!(matches!(trainer, Err(Error::InvalidParameter { .. })));
    /// ```
    pub fn new(
        config: TrainerConfig<'a>,
        data_batch: usize,
        parameters: &'a mut [f32],
        gradients: &'a mut [f32],
        first_moment: &'a mut [f32],
        second_moment: &'a mut [f32],
        workspace: &'a mut [f32],
    ) -> Result<Self, Error> {
        let buffers = (
            parameters,
            gradients,
            first_moment,
            second_moment,
            workspace,
        );
        Self::build(config, data_batch, buffers, None)
    }

    /// A trainer that continues a run from a checkpoint: `parameters`, the Adam moments
    /// `first_moment` and `second_moment` as the run left them (kept, not zeroed) and the
    /// optimiser's [`Trainer::optimizer_state`] (step count, bias powers; the annealing schedule
    /// continues from that step). With the same configuration, data and random stream, the
    /// continued run is the uninterrupted one, bit for bit (`tests/training.rs`).
    ///
    /// # Errors
    /// As [`Trainer::new`], and [`Error::NonFinite`] for a non-finite moment or
    /// [`Error::InvalidParameter`] (`"second_moment"`) for a negative second moment.
    #[allow(clippy::too_many_arguments)]
    pub fn resume(
        config: TrainerConfig<'a>,
        data_batch: usize,
        parameters: &'a mut [f32],
        gradients: &'a mut [f32],
        first_moment: &'a mut [f32],
        second_moment: &'a mut [f32],
        workspace: &'a mut [f32],
        state: AdamState,
    ) -> Result<Self, Error> {
        let buffers = (
            parameters,
            gradients,
            first_moment,
            second_moment,
            workspace,
        );
        Self::build(config, data_batch, buffers, Some(state))
    }

    /// The optimiser's state (step count and bias powers): with the parameters and the two
    /// moment buffers, everything [`Trainer::resume`] needs.
    #[must_use]
    pub const fn optimizer_state(&self) -> AdamState {
        self.state
    }

    /// [`Trainer::new`] (`state: None`: fresh moments) or [`Trainer::resume`].
    fn build(
        config: TrainerConfig<'a>,
        data_batch: usize,
        buffers: TrainerBuffers<'a>,
        state: Option<AdamState>,
    ) -> Result<Self, Error> {
        let (parameters, gradients, first_moment, second_moment, workspace) = buffers;
        Self::validate(&config, data_batch)?;
        for (buffer, input) in [
            (&*parameters, "parameters"),
            (&*gradients, "gradients"),
            (&*first_moment, "first_moment"),
            (&*second_moment, "second_moment"),
        ] {
            if buffer.len() != Mlp::<I, H, O>::PARAMETERS {
                return Err(Error::ShapeMismatch {
                    input,
                    expected: Mlp::<I, H, O>::PARAMETERS,
                    found: buffer.len(),
                });
            }
        }
        if !parameters.iter().all(|p| p.is_finite()) {
            return Err(Error::NonFinite {
                input: "parameters",
            });
        }
        let Some(required) = Self::checked_workspace_len(&config, data_batch) else {
            return Err(Error::InvalidParameter { input: "batch" });
        };
        if workspace.len() < required {
            return Err(Error::ScratchTooSmall {
                input: "workspace",
                required,
                provided: workspace.len(),
            });
        }
        match state {
            None => {
                first_moment.fill(0.0);
                second_moment.fill(0.0);
            }
            Some(_) => {
                for (buffer, input) in [
                    (&*first_moment, "first_moment"),
                    (&*second_moment, "second_moment"),
                ] {
                    if !buffer.iter().all(|v| v.is_finite()) {
                        return Err(Error::NonFinite { input });
                    }
                }
                if second_moment.iter().any(|&v| v < 0.0) {
                    return Err(Error::InvalidParameter {
                        input: "second_moment",
                    });
                }
            }
        }
        let mut temperatures = [0.0; MAX_TEMPERATURES];
        for (t, c) in temperatures.iter_mut().zip(config.temperatures) {
            *t = *c;
        }
        Ok(Self {
            config,
            parameters,
            gradients,
            first_moment,
            second_moment,
            workspace,
            state: state.unwrap_or_default(),
            data_batch,
            temperatures,
        })
    }

    /// The generator's parameters.
    #[must_use]
    pub fn parameters(&self) -> &[f32] {
        self.parameters
    }

    /// Steps taken so far.
    #[must_use]
    pub fn steps(&self) -> u64 {
        self.state.step_count()
    }

    /// The generated batch of the last step (coordinate-major, `O·N` values).
    #[must_use]
    pub fn last_samples(&self) -> &[f32] {
        // The layout was checked by `new`.
        let Some(layout) = Self::layout(&self.config, self.data_batch) else {
            return &[];
        };
        self.workspace
            .get(layout.noise..layout.noise.saturating_add(layout.samples))
            .unwrap_or(&[])
    }

    /// One stop-gradient step against `data` (`data_batch` samples), noise from `rng`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `data` does not hold `data_batch` points; [`Error::NonFinite`]
    /// (`"positives"`) for non-finite data; a diverging generator (a learning rate too large)
    /// gives [`Error::NonFinite`] (`"generator output"`) when its output overflows `f32`,
    /// [`Error::OutOfRange`] (`"points"` or the temperature's name) when its samples are finite
    /// but beyond the field's range (more than `1e18` apart, or too far for the temperature),
    /// [`Error::OutOfRange`] (`"drift"`, `"grad_output"`) when the drift or the gradient
    /// overflows, or [`Error::OutOfRange`] (`"learning_rate"`) when the update would. The
    /// parameters are then left as they were before the step.
    ///
    /// # Example
    /// ```
    /// use drifting::{CloudView, Dataset, Mlp, Trainer, TrainerConfig};
    /// use rand_core::SeedableRng;
    /// use rand_xoshiro::Xoshiro256PlusPlus;
    /// # type Generator = Mlp<2, 8, 2>;
    /// # const P: usize = Generator::PARAMETERS;
    /// # let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
    /// # let [mut params, mut grads, mut m, mut v] = [[0.0_f32; P]; 4];
    /// # Generator::init_pytorch(&mut params, &mut rng)?;
    /// let config = TrainerConfig { batch: 32, ..TrainerConfig::official_demo() };
    /// let mut workspace = vec![0.0_f32; Trainer::<2, 8, 2>::workspace_len(&config, 32)];
    /// let mut trainer = Trainer::<2, 8, 2>::new(
    ///     config, 32, &mut params, &mut grads, &mut m, &mut v, &mut workspace,
    /// )?;
    /// let mut data = [0.0_f32; 2 * 32];
    /// Dataset::two_moons().sample(&mut rng, &mut data, 32)?;
    /// let report = trainer.step(&mut rng, &CloudView::from_coordinate_major(&data, 32)?)?;
    /// assert_eq!((report.step, trainer.steps()), (0, 1));
    /// assert!((report.loss - report.drift_rms * report.drift_rms).abs() <= 1e-6 * report.loss);
    /// assert!(report.underflow_fraction < 0.5); // the data are within the kernel's reach
    /// assert_eq!(trainer.last_samples().len(), 2 * 32); // the generated batch, coordinate-major
    /// # Ok::<(), drifting::Error>(())
    /// ```
    pub fn step<R: Rng + ?Sized>(
        &mut self,
        rng: &mut R,
        data: &CloudView<'_, O>,
    ) -> Result<StepReport, Error> {
        if data.len() != self.data_batch {
            return Err(Error::ShapeMismatch {
                input: "data",
                expected: self.data_batch,
                found: data.len(),
            });
        }
        let step = self.state.step_count();
        let factor = self.config.annealing.map_or(1.0, |s| s.factor(step));
        let count = self.config.temperatures.len();
        for (t, c) in self.temperatures.iter_mut().zip(self.config.temperatures) {
            *t = *c * factor;
        }
        let temperatures = self.temperatures.get(..count).unwrap_or(&[]);
        let n = self.config.batch;
        // Checked by `new`; an impossible failure is reported, not unwrapped.
        let layout = Self::layout(&self.config, self.data_batch)
            .ok_or(Error::InvalidParameter { input: "batch" })?;
        // The workspace length was checked by `new`; the splits saturate regardless (no panic
        // path), and a short region would surface as a typed error from the pass using it.
        let (noise, rest) = split(self.workspace, layout.noise);
        let (samples, rest) = split(rest, layout.samples);
        let (cache, rest) = split(rest, layout.cache);
        let (drift, rest) = split(rest, layout.drift);
        let (gradient, rest) = split(rest, layout.gradient);
        let (backward, field_scratch) = split(rest, layout.backward);

        fill_standard_normal(rng, noise);
        let mlp = Mlp::<I, H, O>::new(self.config.activation);
        // The parameters are finite (checked by `new`, kept so by Adam) and the noise is bounded,
        // so an overflow here is the generator diverging.
        mlp.forward(self.parameters, noise, n, cache, samples)
            .map_err(|e| match e {
                Error::OutOfRange { .. } | Error::NonFinite { .. } => Error::NonFinite {
                    input: "generator output",
                },
                other => other,
            })?;
        let queries = CloudView::<O>::from_coordinate_major(samples, n)?;
        let report = field::evaluate(
            &self.config.field,
            temperatures,
            rng,
            &queries,
            data,
            field_scratch,
            drift,
        )?;
        let loss = stop_gradient_loss(drift, report.coordinate_scale, gradient)?;
        mlp.backward(
            self.parameters,
            cache,
            gradient,
            n,
            self.gradients,
            None,
            backward,
        )?;
        self.config.optimizer.step(
            &mut self.state,
            self.parameters,
            self.gradients,
            self.first_moment,
            self.second_moment,
        )?;
        Ok(StepReport {
            step,
            loss,
            drift_rms: libm::sqrtf(mean_square(drift)),
            raw_rms2: report.raw_rms2,
            temperature_count: count,
            temperature_factor: factor,
            underflow_fraction: report.underflow_fraction,
        })
    }
}

/// `slice.split_at_mut(mid)` with `mid` clamped to the length.
fn split(slice: &mut [f32], mid: usize) -> (&mut [f32], &mut [f32]) {
    let mid = mid.min(slice.len());
    slice.split_at_mut(mid)
}
