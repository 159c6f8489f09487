//! The one interface every drift operator implements, and the typed workspace built on it.
//!
//! A drift operator is its configuration type: it knows the workspace it needs for a problem's
//! [`DriftShape`] ([`DriftOperator::workspace_len`], also a `const fn` on the configuration for
//! buffers in a `static`), what it refuses before seeing the clouds
//! ([`DriftOperator::validate`]), and how to run ([`DriftOperator::run`]). The registry of
//! operators the trainer can regress onto is [`DriftField`](crate::DriftField) (`drift/field.rs`,
//! one line per operator); the fuzz targets, the panic audit (`tests/hostile_inputs.rs`), the
//! benches and the shared test template (`tests/operator_template.rs`) iterate over its
//! [`DriftField::CATALOGUE`](crate::DriftField::CATALOGUE). `ARCHITECTURE.md` ("Adding an
//! operator") lists the steps.
//!
//! | operator (configuration)              | workspace values (`N, P, Q, D`)          | negatives          |
//! | ------------------------------------- | ---------------------------------------- | ------------------ |
//! | [`MeanShiftConfig`](crate::MeanShiftConfig) | 0                                   | queries or a cloud |
//! | [`TwoAxisConfig`](crate::TwoAxisConfig)     | `N + P + Q` (streaming; the dense tile with [`Evaluation::Dense`](crate::Evaluation)) | queries or a cloud |
//! | [`MultiTemperatureConfig`](crate::MultiTemperatureConfig) | `2N + P + N·D`        | the queries        |
//! | [`MmdFlowConfig`](crate::MmdFlowConfig)     | 0                                   | queries or a cloud |
//! | [`SlicedWassersteinDriftConfig`](crate::SlicedWassersteinDriftConfig) | `2N + P`  | the queries        |
//! | [`SinkhornConfig`](crate::SinkhornConfig) (the Sinkhorn drift) | the solver's workspace, [`SinkhornWorkspace::required_len`](crate::SinkhornWorkspace::required_len) | the queries |
//! | [`SinkhornProxy`](crate::sinkhorn::SinkhornProxy) | `2N + P + 2·max(N, P)`        | the queries        |

use crate::cloud::CloudView;
use crate::drift::Negatives;
use crate::drift::multi_temperature::MAX_TEMPERATURES;
use crate::engine::take_buffer;
use crate::error::Error;
use rand_core::Rng;

/// The sizes of one drift problem: `N` queries, `P` positives, `Q` negatives (`Q = N` when the
/// negatives are the queries) in `D` coordinates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DriftShape {
    /// `N`, the generated samples the field is evaluated at.
    pub queries: usize,
    /// `P`, the data samples.
    pub positives: usize,
    /// `Q`, the negative samples (`N` for [`Negatives::Queries`]).
    pub negatives: usize,
    /// `D`, the coordinates per sample.
    pub dim: usize,
}

impl DriftShape {
    /// The training setting: the queries are the negatives (`Q = N`).
    #[must_use]
    pub const fn training(queries: usize, positives: usize, dim: usize) -> Self {
        Self {
            queries,
            positives,
            negatives: queries,
            dim,
        }
    }

    /// The shape of a call on these clouds.
    #[must_use]
    pub fn of<const D: usize>(
        queries: &CloudView<'_, D>,
        positives: &CloudView<'_, D>,
        negatives: Negatives<'_, D>,
    ) -> Self {
        let n = queries.len();
        Self {
            queries: n,
            positives: positives.len(),
            negatives: match negatives {
                Negatives::Queries => n,
                Negatives::Cloud(cloud) => cloud.len(),
            },
            dim: D,
        }
    }

    /// `N·D`, the length of the field, or `None` if it overflows.
    #[must_use]
    pub const fn field_len(&self) -> Option<usize> {
        self.queries.checked_mul(self.dim)
    }

    /// `a·N + b·P + c·Q + d·N·D`, or `None` if it overflows (the workspace lengths of the
    /// streaming operators are of this form).
    #[must_use]
    pub const fn linear(&self, a: usize, b: usize, c: usize, d: usize) -> Option<usize> {
        let Some(field) = self.field_len() else {
            return None;
        };
        match (
            self.queries.checked_mul(a),
            self.positives.checked_mul(b),
            self.negatives.checked_mul(c),
            field.checked_mul(d),
        ) {
            (Some(a), Some(b), Some(c), Some(d)) => match a.checked_add(b) {
                Some(ab) => match ab.checked_add(c) {
                    Some(abc) => abc.checked_add(d),
                    None => None,
                },
                None => None,
            },
            _ => None,
        }
    }
}

/// What one run of an operator measured.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct DriftOutcome {
    /// The field is in coordinates divided by this (the multi-temperature drift's `s_in`; 1 for
    /// every other operator).
    pub coordinate_scale: f32,
    /// The multi-temperature drift's global distance scale (1 for the others).
    pub distance_scale: f32,
    /// Per temperature, the raw field's `mean(V²)` (the multi-temperature drift's `n_R`); one
    /// entry for the single-temperature operators.
    pub raw_rms2: [f32; MAX_TEMPERATURES],
    /// Entries of `raw_rms2` in use.
    pub temperature_count: usize,
}

impl DriftOutcome {
    /// The outcome of a single-temperature operator whose field is `out`.
    pub(crate) fn single(out: &[f32]) -> Self {
        let mut raw_rms2 = [0.0; MAX_TEMPERATURES];
        raw_rms2[0] = crate::engine::mean_square(out);
        Self {
            coordinate_scale: 1.0,
            distance_scale: 1.0,
            raw_rms2,
            temperature_count: 1,
        }
    }
}

/// How an operator in the [`DriftField`](crate::DriftField) registry takes the trainer's
/// temperatures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TemperatureUse {
    /// One field per temperature (the kernel's `τ` or `σ`), summed.
    EachSummed,
    /// The operator takes the whole list (the multi-temperature drift's `R` values).
    All,
    /// The first temperature is the operator's scale (Sinkhorn's `blur`).
    First,
    /// The operator has no scale (the sliced-Wasserstein flow).
    Unused,
}

/// A drift operator: a configuration that sizes its workspace, validates itself and runs.
///
/// Implemented by every drift configuration of the crate; generic code (the trainer's
/// [`DriftField`](crate::DriftField), [`DriftWorkspace`], the tests' template) goes through it.
pub trait DriftOperator: Copy + Send + Sync {
    /// The operator's name in reports, benches and tests.
    const NAME: &'static str;

    /// Whether [`Negatives::Cloud`] is accepted (the others take the queries as negatives and
    /// refuse a separate cloud with [`Error::InvalidParameter`] `"negatives"`).
    const SEPARATE_NEGATIVES: bool;

    /// Workspace values for a problem of this shape, or `None` if that overflows `usize`.
    fn workspace_len(&self, shape: &DriftShape) -> Option<usize>;

    /// Checks everything the operator refuses before seeing the clouds (kernel, temperatures,
    /// steps, masks).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the offending field.
    fn validate(&self) -> Result<(), Error>;

    /// The drift at `queries` into `out` (coordinate-major, `V_d(x_i)` at `out[d·N + i]`);
    /// `rng` is drawn from only by the sliced-Wasserstein flow. `workspace` holds at least
    /// [`DriftOperator::workspace_len`] values.
    ///
    /// # Errors
    /// Those of the operator's function.
    fn run<const D: usize, R: Rng + ?Sized>(
        &self,
        queries: &CloudView<'_, D>,
        positives: &CloudView<'_, D>,
        negatives: Negatives<'_, D>,
        rng: &mut R,
        workspace: &mut [f32],
        out: &mut [f32],
    ) -> Result<DriftOutcome, Error>;

    /// The distance beyond which the operator's kernel underflows `f32` for a field that is
    /// not normalised over the data alone (its pull vanishes there), given the run's outcome;
    /// `None` when every query is pulled whatever its distance.
    fn reach(&self, _outcome: &DriftOutcome) -> Option<f32> {
        None
    }
}

/// Checks a kernel and a finite step `η` (the kernel drifts' parameters).
pub(crate) fn validate_kernel_step(kernel: &crate::kernel::Kernel, step: f32) -> Result<(), Error> {
    kernel.validate()?;
    validate_step(step)
}

/// Checks a finite step `η`.
pub(crate) fn validate_step(step: f32) -> Result<(), Error> {
    if step.is_finite() {
        Ok(())
    } else {
        Err(Error::InvalidParameter { input: "step" })
    }
}

/// Refuses a separate negative cloud for the operators that take the queries as negatives.
pub(crate) fn queries_as_negatives<const D: usize>(
    negatives: Negatives<'_, D>,
) -> Result<(), Error> {
    match negatives {
        Negatives::Queries => Ok(()),
        Negatives::Cloud(_) => Err(Error::InvalidParameter { input: "negatives" }),
    }
}

/// A checked length, saturated at `usize::MAX` for the `const fn` sizes (no buffer is that long,
/// so a saturated length never passes a check).
pub(crate) const fn saturated(len: Option<usize>) -> usize {
    match len {
        Some(len) => len,
        None => usize::MAX,
    }
}

/// An operator's workspace: the caller's buffer checked once against the operator and the
/// problem's shape, so that every later run needs no size computation and cannot fail on it.
///
/// ```
/// use drifting::{CloudView, DriftShape, DriftWorkspace, Kernel, Negatives, TwoAxisConfig};
/// use rand_core::SeedableRng;
/// use rand_xoshiro::Xoshiro256PlusPlus;
/// const SHAPE: DriftShape = DriftShape::training(3, 2, 2); // N = Q = 3, P = 2, D = 2
/// const CONFIG: TwoAxisConfig = TwoAxisConfig::new(Kernel::laplace(0.5));
/// // The size is a `const fn` of the configuration and the shape: a stack or `static` array.
/// let mut buffer = [0.0_f32; CONFIG.workspace_len(&SHAPE)];
/// let mut workspace = DriftWorkspace::new(CONFIG, SHAPE, &mut buffer)?;
/// let generated = [[0.0_f32, 0.0], [0.5, 0.5], [1.0, -0.5]];
/// let data = [[1.0_f32, 1.0], [-1.0, 0.5]];
/// let (x, y) = (CloudView::from_points(&generated), CloudView::from_points(&data));
/// let mut rng = Xoshiro256PlusPlus::seed_from_u64(0); // drawn from by the sliced flow only
/// let mut drift = [0.0_f32; 3 * 2];
/// workspace.run(&x, &y, Negatives::Queries, &mut rng, &mut drift)?;
/// assert!(drift.iter().all(|v| v.is_finite()));
/// // Clouds of another shape than the workspace's are refused, naming the cloud.
/// let refused = workspace.run(&y, &y, Negatives::Queries, &mut rng, &mut drift);
/// assert!(matches!(refused, Err(drifting::Error::ShapeMismatch { input: "queries", .. })));
/// // A buffer too short for the shape is refused when the workspace is built.
/// let mut short = [0.0_f32; 4];
/// let error = DriftWorkspace::new(CONFIG, SHAPE, &mut short).unwrap_err();
/// assert!(matches!(error, drifting::Error::ScratchTooSmall { input: "workspace", required: 8, .. }));
/// # Ok::<(), drifting::Error>(())
/// ```
#[derive(Debug)]
pub struct DriftWorkspace<'b, O: DriftOperator> {
    operator: O,
    shape: DriftShape,
    buffer: &'b mut [f32],
}

impl<'b, O: DriftOperator> DriftWorkspace<'b, O> {
    /// Validates `operator` and checks that `buffer` holds its workspace for `shape`.
    ///
    /// # Errors
    /// The operator's [`DriftOperator::validate`] errors; [`Error::InvalidParameter`]
    /// (`"shape"`) when the workspace length overflows `usize`; [`Error::ScratchTooSmall`]
    /// (`"workspace"`, with the length needed) when `buffer` is shorter.
    pub fn new(operator: O, shape: DriftShape, buffer: &'b mut [f32]) -> Result<Self, Error> {
        operator.validate()?;
        let required = operator
            .workspace_len(&shape)
            .ok_or(Error::InvalidParameter { input: "shape" })?;
        let buffer = take_buffer(buffer, required, "workspace")?;
        Ok(Self {
            operator,
            shape,
            buffer,
        })
    }

    /// The operator.
    #[must_use]
    pub const fn operator(&self) -> &O {
        &self.operator
    }

    /// The shape the workspace was built for.
    #[must_use]
    pub const fn shape(&self) -> DriftShape {
        self.shape
    }

    /// Runs the operator on clouds of the workspace's shape.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] naming the cloud whose size differs from the shape's (or `"D"`);
    /// otherwise those of [`DriftOperator::run`].
    pub fn run<const D: usize, R: Rng + ?Sized>(
        &mut self,
        queries: &CloudView<'_, D>,
        positives: &CloudView<'_, D>,
        negatives: Negatives<'_, D>,
        rng: &mut R,
        out: &mut [f32],
    ) -> Result<DriftOutcome, Error> {
        let found = DriftShape::of(queries, positives, negatives);
        let checks = [
            ("D", self.shape.dim, found.dim),
            ("queries", self.shape.queries, found.queries),
            ("positives", self.shape.positives, found.positives),
            ("negatives", self.shape.negatives, found.negatives),
        ];
        for (input, expected, found) in checks {
            if expected != found {
                return Err(Error::ShapeMismatch {
                    input,
                    expected,
                    found,
                });
            }
        }
        self.operator
            .run(queries, positives, negatives, rng, self.buffer, out)
    }
}
