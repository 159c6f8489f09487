//! End-to-end drifting training: the stop-gradient step of Deng et al. 2026 (docs/mathematics.md §10).
//!
//! One step: draw noise `z ~ N(0, I)`, generate `x = f_θ(z)`, evaluate a drift `V(x)` against a
//! data batch with the generated batch as negatives, take the stop-gradient loss
//! `mean ‖x − sg(x + V)‖²` and its gradient `−2V/(N·D)`, backpropagate through the MLP, and
//! update `θ` with Adam. Everything lives in caller-owned slices (no allocation), so the same
//! trainer runs on a workstation and on a Cortex-M4F.

mod field;

pub use field::{DriftField, KernelFamily};

use crate::adam::{Adam, AdamState};
use crate::cloud::CloudView;
use crate::drift::multi_temperature::MAX_TEMPERATURES;
use crate::engine::chunks::Exec;
use crate::engine::mean_square;
use crate::error::Error;
use crate::loss::stop_gradient_loss;
use crate::mlp::{Activation, Mlp};
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
    const fn total(&self) -> usize {
        self.noise
            + self.samples
            + self.cache
            + self.drift
            + self.gradient
            + self.backward
            + self.field
    }
}

/// A drifting trainer for the generator [`Mlp<I, H, O>`] over borrowed parameter, optimiser and
/// work buffers.
///
/// Buffers: `parameters`, `gradients`, `first_moment`, `second_moment` each of
/// [`Mlp::PARAMETERS`] values; a workspace of [`Trainer::workspace_len`] values.
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

impl<'a, const I: usize, const H: usize, const O: usize> Trainer<'a, I, H, O> {
    fn layout(config: &TrainerConfig<'_>, data_batch: usize) -> Layout {
        let n = config.batch;
        Layout {
            noise: I * n,
            samples: O * n,
            cache: Mlp::<I, H, O>::cache_len(n),
            drift: O * n,
            gradient: O * n,
            backward: Mlp::<I, H, O>::backward_scratch_len(n),
            field: config.field.scratch_len(n, data_batch, O),
        }
    }

    /// Workspace values a trainer with this configuration and `data_batch` data samples per
    /// step needs.
    #[must_use]
    pub fn workspace_len(config: &TrainerConfig<'_>, data_batch: usize) -> usize {
        Self::layout(config, data_batch).total()
    }

    /// A trainer over these buffers. The parameters are used as they are (initialise them with
    /// [`Mlp::init_pytorch`] or load them); the moments are zeroed.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for an empty batch, no or too many temperatures, a
    /// non-positive or non-finite temperature, an invalid schedule or optimiser;
    /// [`Error::ShapeMismatch`] for buffers of the wrong length; [`Error::ScratchTooSmall`];
    /// [`Error::NonFinite`] for non-finite parameters.
    pub fn new(
        config: TrainerConfig<'a>,
        data_batch: usize,
        parameters: &'a mut [f32],
        gradients: &'a mut [f32],
        first_moment: &'a mut [f32],
        second_moment: &'a mut [f32],
        workspace: &'a mut [f32],
    ) -> Result<Self, Error> {
        if config.batch == 0 {
            return Err(Error::InvalidParameter { name: "batch" });
        }
        if data_batch == 0 {
            return Err(Error::InvalidParameter { name: "data_batch" });
        }
        config.field.validate(config.temperatures)?;
        if let Some(schedule) = config.annealing {
            schedule.validate()?;
        }
        config.optimizer.validate()?;
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
        let required = Self::workspace_len(&config, data_batch);
        if workspace.len() < required {
            return Err(Error::ScratchTooSmall {
                required,
                provided: workspace.len(),
            });
        }
        first_moment.fill(0.0);
        second_moment.fill(0.0);
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
            state: AdamState::new(),
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
        let layout = Self::layout(&self.config, self.data_batch);
        self.workspace
            .get(layout.noise..layout.noise + layout.samples)
            .unwrap_or(&[])
    }

    /// One stop-gradient step against `data` (`data_batch` samples), noise from `rng`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `data` does not hold `data_batch` points; [`Error::NonFinite`]
    /// for non-finite data, or if the generator's output or the drift stopped being finite
    /// (divergence): the parameters are then left as they were before the step.
    pub fn step<R: Rng + ?Sized>(
        &mut self,
        rng: &mut R,
        data: &CloudView<'_, O>,
    ) -> Result<StepReport, Error> {
        self.step_on(Exec::Serial, rng, data)
    }

    /// [`Trainer::step`] with the drift's pair passes and the generator's batch work run by
    /// `exec` (the parallel driver is [`crate::parallel::train_step`]).
    pub(crate) fn step_on<R: Rng + ?Sized>(
        &mut self,
        exec: Exec,
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
        let layout = Self::layout(&self.config, self.data_batch);
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
        mlp.forward_on(exec, self.parameters, noise, n, cache, samples)?;
        let queries = CloudView::<O>::from_coordinate_major(samples, n)?;
        let report = field::evaluate(
            exec,
            &self.config.field,
            temperatures,
            rng,
            &queries,
            data,
            field_scratch,
            drift,
        )?;
        let loss = stop_gradient_loss(drift, report.coordinate_scale, gradient)?;
        mlp.backward_on(
            exec,
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
        })
    }
}

/// `slice.split_at_mut(mid)` with `mid` clamped to the length.
fn split(slice: &mut [f32], mid: usize) -> (&mut [f32], &mut [f32]) {
    let mid = mid.min(slice.len());
    slice.split_at_mut(mid)
}
