//! Generator training for the papers' experiments 3, 4, 6 and 7 (`examples/README.md`), shared by
//! `examples/paper_training.rs`, `examples/paper_flows.rs` and their reduced tests
//! (`tests/paper_training.rs`, `tests/paper_flows.rs`).
//!
//! The generator is the official 2D demo's `Linear(32,256)–SiLU–…–Linear(256,2)`, trained with
//! the crate's stop-gradient `Trainer` (or, for the ablation, without the stop-gradient through
//! the drift's vector-Jacobian product), and scored like the papers: SWD (`p = 2`, 200
//! directions) and MMD² (Gaussian bandwidths 0.01–1) between `eval` generated and `eval` data
//! samples. With the crate's `std` feature every pass runs on all cores (the same bits as the
//! serial build).
#![allow(dead_code)]

use drifting::metrics::{
    DEFAULT_MMD_BANDWIDTHS, MmdConfig, SlicedWassersteinConfig, sliced_wasserstein_scratch_len,
};
use drifting::sample::fill_standard_normal;
use drifting::{
    Activation, Adam, AdamState, CloudView, Dataset, DriftField, Error, Kernel, KernelFamily,
    MeanShiftConfig, Mlp, Negatives, SelfMask, Trainer, TrainerConfig, TwoAxisConfig,
    mean_shift_vjp, mean_shift_vjp_scratch_len, two_axis_scratch_len, two_axis_softmax_drift,
    two_axis_vjp, two_axis_vjp_scratch_len,
};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// The official demo's generator.
pub type Generator = Mlp<32, 256, 2>;

/// Experiment 4's Sinkhorn drift: the crate's defaults when the experiment was run (GeomLoss's
/// ε-scaling 0.5 and averaged updates, then at most 100 iterations to an L1 marginal error of
/// `1e-3`); pinned so the experiment does not change with the crate's defaults.
pub const EXPERIMENT_4_SINKHORN: drifting::SinkhornConfig = drifting::SinkhornConfig {
    update: drifting::UpdateRule::Symmetric,
    scaling: Some(0.5),
    tolerance: 1.0e-3,
    max_iterations: 100,
    ..drifting::SinkhornConfig::new()
};

/// Steps, batch sizes and evaluation cadence of a run.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Training steps.
    pub steps: usize,
    /// Generated and data samples per step.
    pub batch: usize,
    /// Score the generator every this many steps (and at the end).
    pub every: usize,
    /// Generated and data samples per evaluation (the papers: 5000).
    pub eval: usize,
}

/// A training run: `(step, SWD, mean drift norm)` at every checkpoint (the norm of the tracked
/// drift, `NaN` when none is), the mean norm of the Laplace mean-shift drift at the same
/// checkpoints (the first paper's diagnostic; `NaN` when not tracked), the final SWD and MMD², and
/// the parameters.
pub struct Run {
    pub curve: Vec<(usize, f64, f64)>,
    pub mean_shift_norms: Vec<f64>,
    pub swd: f64,
    pub mmd2: f64,
    pub params: Vec<f32>,
}

impl Run {
    /// Whether every score is finite.
    pub fn finite(&self) -> bool {
        self.swd.is_finite() && self.mmd2.is_finite()
    }
}

/// `eval` samples of the generator with parameters `params` (coordinate-major), the noise drawn
/// from `rng`.
pub fn generate(
    params: &[f32],
    eval: usize,
    rng: &mut Xoshiro256PlusPlus,
) -> Result<Vec<f32>, Error> {
    let mut noise = vec![0.0; 32 * eval];
    fill_standard_normal(rng, &mut noise);
    let mut cache = vec![0.0; Generator::cache_len(eval)];
    let mut generated = vec![0.0; 2 * eval];
    Generator::new(Activation::Silu).forward(params, &noise, eval, &mut cache, &mut generated)?;
    Ok(generated)
}

/// SWD (`p = 2`, 200 directions) and MMD² of `eval` generator samples against `eval` data; the
/// noise, the data and the directions come from one generator seeded by `seed`.
pub fn evaluate(
    params: &[f32],
    dataset: &Dataset,
    seed: u64,
    eval: usize,
) -> Result<(f64, f64), Error> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0xe7a1);
    let generated = generate(params, eval, &mut rng)?;
    let mut data = vec![0.0; 2 * eval];
    dataset.sample(&mut rng, &mut data, eval)?;
    scores(&generated, &data, eval, &mut rng)
}

/// The metrics' floor: SWD and MMD² between two independent `eval`-sample data sets, the value a
/// perfect generator would score, averaged over 5 such pairs (seeded by `seed`; one pair is noisy:
/// on the ring of 8 Gaussians two single draws gave 4.3e-2 and 6.7e-2).
pub fn floor(dataset: &Dataset, seed: u64, eval: usize) -> Result<(f64, f64), Error> {
    const PAIRS: usize = 5;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0xf100);
    let (mut a, mut b) = (vec![0.0; 2 * eval], vec![0.0; 2 * eval]);
    let (mut swd, mut mmd2) = (0.0, 0.0);
    for _ in 0..PAIRS {
        dataset.sample(&mut rng, &mut a, eval)?;
        dataset.sample(&mut rng, &mut b, eval)?;
        let (s, m) = scores(&a, &b, eval, &mut rng)?;
        swd += s / PAIRS as f64;
        mmd2 += m / PAIRS as f64;
    }
    Ok((swd, mmd2))
}

/// SWD (`p = 2`, 200 directions) and MMD² (bandwidths 0.01–1) of two equal-size clouds.
pub fn scores(
    x: &[f32],
    y: &[f32],
    n: usize,
    rng: &mut Xoshiro256PlusPlus,
) -> Result<(f64, f64), Error> {
    let (x, y) = (
        CloudView::<2>::from_coordinate_major(x, n)?,
        CloudView::<2>::from_coordinate_major(y, n)?,
    );
    let mut scratch = vec![0.0; sliced_wasserstein_scratch_len(n)];
    let swd = drifting::metrics::sliced_wasserstein(
        &x,
        &y,
        &SlicedWassersteinConfig::new(),
        rng,
        &mut scratch,
    )?;
    let mmd2 = drifting::metrics::mmd(
        &x,
        &y,
        &MmdConfig {
            bandwidths: &DEFAULT_MMD_BANDWIDTHS,
        },
    )?
    .value;
    Ok((swd, mmd2))
}

/// Mean Euclidean norm of a coordinate-major 2D field of `n` vectors.
pub fn mean_norm(field: &[f32], n: usize) -> f64 {
    let (a, b) = field.split_at(n.min(field.len()));
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x).hypot(f64::from(*y)))
        .sum::<f64>()
        / n as f64
}

/// The Laplace mean-shift drift at `τ` of `samples` against `data`, negatives = samples.
pub fn laplace_drift(
    samples: &[f32],
    data: &[f32],
    n: usize,
    tau: f32,
    out: &mut [f32],
) -> Result<(), Error> {
    drifting::mean_shift_drift(
        &CloudView::<2>::from_coordinate_major(samples, n)?,
        &CloudView::<2>::from_coordinate_major(data, n)?,
        Negatives::Queries,
        &MeanShiftConfig::new(Kernel::laplace(tau)),
        out,
    )
}

/// Which drift's norm a run records at its checkpoints.
#[derive(Clone, Copy, Debug)]
pub enum Tracked {
    /// None.
    Nothing,
    /// The Laplace mean-shift drift at this `τ` (negatives = the generated batch).
    MeanShift(f32),
    /// Algorithm 2's two-axis drift, Laplace at this `τ`, the official demo's self-mask (and the
    /// mean-shift drift at the same `τ` as the diagnostic).
    TwoAxis(f32),
}

/// The two-axis drift of experiment 3 (Algorithm 2 as in the official demo: Laplace, self-mask
/// `+1e6`) at `τ`.
pub fn two_axis_config(tau: f32) -> TwoAxisConfig {
    TwoAxisConfig {
        kernel: Kernel::laplace(tau),
        ..TwoAxisConfig::official_demo()
    }
}

/// The two-axis drift at `τ` of `samples` against `data`, negatives = samples (serial).
pub fn two_axis_drift(
    samples: &[f32],
    data: &[f32],
    n: usize,
    tau: f32,
    out: &mut [f32],
) -> Result<(), Error> {
    let mut scratch = vec![0.0; two_axis_scratch_len(n, n, n)];
    two_axis_softmax_drift(
        &CloudView::<2>::from_coordinate_major(samples, n)?,
        &CloudView::<2>::from_coordinate_major(data, n)?,
        Negatives::Queries,
        &two_axis_config(tau),
        &mut scratch,
        out,
    )
}

/// `(tracked norm, mean-shift norm)` of `samples` against `data`.
fn tracked_norms(
    track: Tracked,
    samples: &[f32],
    data: &[f32],
    n: usize,
    out: &mut [f32],
) -> Result<(f64, f64), Error> {
    match track {
        Tracked::Nothing => Ok((f64::NAN, f64::NAN)),
        Tracked::MeanShift(tau) => {
            laplace_drift(samples, data, n, tau, out)?;
            let norm = mean_norm(out, n);
            Ok((norm, norm))
        }
        Tracked::TwoAxis(tau) => {
            two_axis_drift(samples, data, n, tau, out)?;
            let norm = mean_norm(out, n);
            laplace_drift(samples, data, n, tau, out)?;
            Ok((norm, mean_norm(out, n)))
        }
    }
}

/// Trains with the crate's stop-gradient `Trainer`: `field` at `temperatures`, Adam at `lr`,
/// one fresh data batch per step. With `track_tau`, every checkpoint also records the mean norm
/// of the Laplace mean-shift drift at that `τ` on the last generated batch.
pub fn train(
    field: DriftField,
    temperatures: &[f32],
    lr: f32,
    dataset: &Dataset,
    seed: u64,
    budget: &Budget,
    track_tau: Option<f32>,
) -> Result<Run, Error> {
    let track = track_tau.map_or(Tracked::Nothing, Tracked::MeanShift);
    train_tracking(field, temperatures, lr, dataset, seed, budget, track)
}

/// [`train`], recording the norm of the `track`ed drift at every checkpoint.
pub fn train_tracking(
    field: DriftField,
    temperatures: &[f32],
    lr: f32,
    dataset: &Dataset,
    seed: u64,
    budget: &Budget,
    track: Tracked,
) -> Result<Run, Error> {
    let n = budget.batch;
    let config = TrainerConfig {
        field,
        temperatures,
        batch: n,
        optimizer: Adam {
            learning_rate: lr,
            ..Adam::new()
        },
        ..TrainerConfig::official_demo()
    };
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut params = vec![0.0; Generator::PARAMETERS];
    Generator::init_pytorch(&mut params, &mut rng)?;
    let p = Generator::PARAMETERS;
    let (mut g, mut m, mut v) = (vec![0.0; p], vec![0.0; p], vec![0.0; p]);
    let mut workspace = vec![0.0; Trainer::<32, 256, 2>::workspace_len(&config, n)];
    let mut trainer = Trainer::<32, 256, 2>::new(
        config,
        n,
        &mut params,
        &mut g,
        &mut m,
        &mut v,
        &mut workspace,
    )?;
    let mut data = vec![0.0; 2 * n];
    let mut field_out = vec![0.0; 2 * n];
    let mut curve = Vec::new();
    let mut mean_shift_norms = Vec::new();
    let mut last = (f64::NAN, f64::NAN);
    for step in 0..=budget.steps {
        dataset.sample(&mut rng, &mut data, n)?;
        if step % budget.every.max(1) == 0 || step == budget.steps {
            let (swd, mmd2) = evaluate(trainer.parameters(), dataset, seed, budget.eval)?;
            last = (swd, mmd2);
            let (norm, mean_shift) = if step > 0 {
                let samples = trainer.last_samples().to_vec();
                tracked_norms(track, &samples, &data, n, &mut field_out)?
            } else {
                (f64::NAN, f64::NAN)
            };
            curve.push((step, swd, norm));
            mean_shift_norms.push(mean_shift);
        }
        if step < budget.steps {
            trainer.step(&mut rng, &CloudView::from_coordinate_major(&data, n)?)?;
        }
    }
    let params = trainer.parameters().to_vec();
    let (swd, mmd2) = last;
    Ok(Run {
        curve,
        mean_shift_norms,
        swd,
        mmd2,
        params,
    })
}

/// Trains **without** the stop-gradient: the loss `mean‖V(x)‖²` of the Laplace mean-shift drift
/// at `τ` differentiated through `V` (its vector-Jacobian product, the queries being the
/// negatives too), Adam at `lr`; records the mean drift norm at every checkpoint.
pub fn train_without_stop_gradient(
    tau: f32,
    lr: f32,
    dataset: &Dataset,
    seed: u64,
    budget: &Budget,
) -> Result<Run, Error> {
    let n = budget.batch;
    let mut vjp_scratch = vec![0.0; mean_shift_vjp_scratch_len(n, 2)];
    let config = MeanShiftConfig::new(Kernel::laplace(tau));
    let vjp = |samples: &[f32], data: &[f32], cotangent: &[f32], gradient: &mut [f32]| {
        mean_shift_vjp(
            &CloudView::<2>::from_coordinate_major(samples, n)?,
            &CloudView::<2>::from_coordinate_major(data, n)?,
            &config,
            cotangent,
            &mut vjp_scratch,
            gradient,
        )
    };
    train_through_drift(tau, lr, dataset, seed, budget, laplace_drift, vjp)
}

/// Trains **without** the stop-gradient with the method's Algorithm 2: the loss `mean‖V(x)‖²` of
/// the two-axis drift (Laplace at `τ`, the official demo's self-mask `+1e6`, negatives = the
/// generated batch) differentiated through `V` with `two_axis_vjp`, Adam at `lr`. Records the
/// mean two-axis drift norm and the mean Laplace mean-shift drift norm at every checkpoint.
pub fn train_two_axis_without_stop_gradient(
    tau: f32,
    lr: f32,
    dataset: &Dataset,
    seed: u64,
    budget: &Budget,
) -> Result<Run, Error> {
    let n = budget.batch;
    let mut vjp_scratch = vec![0.0; two_axis_vjp_scratch_len(n, n, n)];
    let config = two_axis_config(tau);
    let vjp = |samples: &[f32], data: &[f32], cotangent: &[f32], gradient: &mut [f32]| {
        two_axis_vjp(
            &CloudView::<2>::from_coordinate_major(samples, n)?,
            &CloudView::<2>::from_coordinate_major(data, n)?,
            Negatives::Queries,
            &config,
            cotangent,
            &mut vjp_scratch,
            gradient,
        )
    };
    train_through_drift(tau, lr, dataset, seed, budget, two_axis_drift, vjp)
}

/// A drift of `(samples, data, n, τ, out)`, both coordinate-major.
type DriftFn = fn(&[f32], &[f32], usize, f32, &mut [f32]) -> Result<(), Error>;

/// The no-stop-gradient loop: per step, data and noise, the generated batch, its `drift` at `τ`
/// (the curve records its mean norm, `mean_shift_norms` the Laplace mean shift's), the loss
/// `mean‖V‖²`'s gradient `2V/(N·D)` taken through `V` by `vjp`, backward, Adam at `lr`.
fn train_through_drift(
    tau: f32,
    lr: f32,
    dataset: &Dataset,
    seed: u64,
    budget: &Budget,
    drift: DriftFn,
    mut vjp: impl FnMut(&[f32], &[f32], &[f32], &mut [f32]) -> Result<(), Error>,
) -> Result<Run, Error> {
    let n = budget.batch;
    let mlp = Generator::new(Activation::Silu);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut params = vec![0.0; Generator::PARAMETERS];
    Generator::init_pytorch(&mut params, &mut rng)?;
    let p = Generator::PARAMETERS;
    let (mut g, mut m, mut v) = (vec![0.0; p], vec![0.0; p], vec![0.0; p]);
    let adam = Adam {
        learning_rate: lr,
        ..Adam::new()
    };
    let mut state = AdamState::new();
    let mut noise = vec![0.0; 32 * n];
    let mut cache = vec![0.0; Generator::cache_len(n)];
    let mut scratch = vec![0.0; Generator::backward_scratch_len(n)];
    let mut samples = vec![0.0; 2 * n];
    let mut data = vec![0.0; 2 * n];
    let mut field = vec![0.0; 2 * n];
    let mut diagnostic = vec![0.0; 2 * n];
    let mut cotangent = vec![0.0; 2 * n];
    let mut gradient = vec![0.0; 2 * n];
    let mut curve = Vec::new();
    let mut mean_shift_norms = Vec::new();
    let mut last = (f64::NAN, f64::NAN);
    for step in 0..=budget.steps {
        dataset.sample(&mut rng, &mut data, n)?;
        fill_standard_normal(&mut rng, &mut noise);
        mlp.forward(&params, &noise, n, &mut cache, &mut samples)?;
        drift(&samples, &data, n, tau, &mut field)?;
        if step % budget.every.max(1) == 0 || step == budget.steps {
            let (swd, mmd2) = evaluate(&params, dataset, seed, budget.eval)?;
            last = (swd, mmd2);
            curve.push((step, swd, mean_norm(&field, n)));
            laplace_drift(&samples, &data, n, tau, &mut diagnostic)?;
            mean_shift_norms.push(mean_norm(&diagnostic, n));
        }
        if step == budget.steps {
            break;
        }
        // ∂/∂V of mean‖V‖² is 2V/(N·D); through V to the samples with the VJP.
        for (u, f) in cotangent.iter_mut().zip(&field) {
            *u = 2.0 * f / (2 * n) as f32;
        }
        vjp(&samples, &data, &cotangent, &mut gradient)?;
        mlp.backward(&params, &cache, &gradient, n, &mut g, None, &mut scratch)?;
        adam.step(&mut state, &mut params, &g, &mut m, &mut v)?;
    }
    let (swd, mmd2) = last;
    Ok(Run {
        curve,
        mean_shift_norms,
        swd,
        mmd2,
        params,
    })
}

/// The stop-gradient twin of [`train_two_axis_without_stop_gradient`]: the crate's `Trainer` with
/// the same two-axis field, tracking the same norms.
pub fn train_two_axis_with_stop_gradient(
    tau: f32,
    lr: f32,
    dataset: &Dataset,
    seed: u64,
    budget: &Budget,
) -> Result<Run, Error> {
    train_tracking(
        DriftField::TwoAxis(KernelFamily::Laplace, SelfMask::OFFICIAL_DEMO),
        &[tau],
        lr,
        dataset,
        seed,
        budget,
        Tracked::TwoAxis(tau),
    )
}

/// Pearson correlation of `ln x` and `ln y` over the pairs with both positive and finite.
pub fn log_correlation(points: &[(f64, f64)]) -> f64 {
    let logs: Vec<(f64, f64)> = points
        .iter()
        .filter(|(x, y)| x.is_finite() && y.is_finite() && *x > 0.0 && *y > 0.0)
        .map(|(x, y)| (x.ln(), y.ln()))
        .collect();
    let n = logs.len() as f64;
    let (mx, my) = (
        logs.iter().map(|p| p.0).sum::<f64>() / n,
        logs.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxy: f64 = logs.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = logs.iter().map(|(x, _)| (x - mx).powi(2)).sum();
    let syy: f64 = logs.iter().map(|(_, y)| (y - my).powi(2)).sum();
    sxy / (sxx * syy).sqrt()
}
