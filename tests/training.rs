//! End-to-end drifting training (docs/mathematics.md §10): same seed, same bits; the demo configuration
//! learns the checkerboard on a reduced budget; a saved generator reloads bit-identically; the
//! trainer's errors are typed.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use drifting::metrics::{
    SlicedWassersteinConfig, sliced_wasserstein, sliced_wasserstein_scratch_len,
};
use drifting::{
    Activation, Adam, AnnealingSchedule, CloudView, Dataset, DriftField, Error, KernelFamily, Mlp,
    SelfMask, TemperatureUse, Trainer, TrainerConfig,
};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// Trains `Mlp<I, H, 2>` for `steps` steps on `dataset`; returns the parameters and the losses.
fn train<const I: usize, const H: usize>(
    config: TrainerConfig<'_>,
    dataset: Dataset,
    steps: usize,
    seed: u64,
) -> (Vec<f32>, Vec<f32>) {
    let n = config.batch;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let p = Mlp::<I, H, 2>::PARAMETERS;
    let mut parameters = vec![0.0; p];
    Mlp::<I, H, 2>::init_pytorch(&mut parameters, &mut rng).unwrap();
    let (mut g, mut m, mut v) = (vec![0.0; p], vec![0.0; p], vec![0.0; p]);
    let mut workspace = vec![0.0; Trainer::<I, H, 2>::workspace_len(&config, n)];
    let mut trainer = Trainer::<I, H, 2>::new(
        config,
        n,
        &mut parameters,
        &mut g,
        &mut m,
        &mut v,
        &mut workspace,
    )
    .unwrap();
    let mut data = vec![0.0; 2 * n];
    let mut losses = Vec::new();
    for _ in 0..steps {
        dataset.sample(&mut rng, &mut data, n).unwrap();
        let report = trainer
            .step(
                &mut rng,
                &CloudView::from_coordinate_major(&data, n).unwrap(),
            )
            .unwrap();
        assert!(report.loss.is_finite() && report.drift_rms.is_finite());
        losses.push(report.loss);
    }
    (parameters, losses)
}

fn generate<const I: usize, const H: usize>(parameters: &[f32], n: usize, seed: u64) -> Vec<f32> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut noise = vec![0.0; I * n];
    drifting::sample::fill_standard_normal(&mut rng, &mut noise);
    let mut cache = vec![0.0; Mlp::<I, H, 2>::cache_len(n)];
    let mut out = vec![0.0; 2 * n];
    Mlp::<I, H, 2>::new(Activation::Silu)
        .forward(parameters, &noise, n, &mut cache, &mut out)
        .unwrap();
    out
}

fn swd(x: &[f32], y: &[f32], n: usize) -> f64 {
    let mut scratch = vec![0.0; sliced_wasserstein_scratch_len(n)];
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(99);
    sliced_wasserstein(
        &CloudView::<2>::from_coordinate_major(x, n).unwrap(),
        &CloudView::<2>::from_coordinate_major(y, n).unwrap(),
        &SlicedWassersteinConfig::default(),
        &mut rng,
        &mut scratch,
    )
    .unwrap()
}

#[test]
fn same_seed_gives_identical_weights() {
    let temperatures = [0.05, 0.2];
    // Every operator of the registry (the Sinkhorn solve capped at 5 iterations).
    for &field in DriftField::CATALOGUE {
        let field = match field {
            DriftField::Sinkhorn(config) => DriftField::Sinkhorn(drifting::SinkhornConfig {
                max_iterations: 5,
                ..config
            }),
            other => other,
        };
        let single = matches!(
            field.temperature_use(),
            TemperatureUse::First | TemperatureUse::Unused
        );
        let config = TrainerConfig {
            field,
            temperatures: &temperatures[..if single { 1 } else { 2 }],
            annealing: Some(AnnealingSchedule::Exponential {
                initial: 1.0,
                rate: 0.01,
                minimum: 0.5,
            }),
            batch: 100,
            ..TrainerConfig::official_demo()
        };
        let (a, la) = train::<8, 24>(config, Dataset::two_moons(), 12, 5);
        let (b, lb) = train::<8, 24>(config, Dataset::two_moons(), 12, 5);
        assert!(
            a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
            "{field:?}"
        );
        assert_eq!(la, lb);
        let (c, _) = train::<8, 24>(config, Dataset::two_moons(), 12, 6);
        assert!(a != c, "a different seed must give different weights");
    }
}

/// The demo configuration (the official MLP widths, two-axis Laplace drift at τ = 0.05 with the
/// +1e6 self-mask, Adam at 1e-3) on a budget CI can afford: 512 samples a step, 400 steps. The
/// sliced Wasserstein distance (p = 2, 200 directions, 2000 vs 2000 samples) must fall at least
/// 5× from the untrained generator's and end within 3× of the data-vs-data floor; the loss must
/// rise first and then fall (the published shape).
#[test]
fn demo_configuration_learns_the_checkerboard_on_a_reduced_budget() {
    let config = TrainerConfig {
        batch: 512,
        ..TrainerConfig::official_demo()
    };
    let (initial, _) = train::<32, 256>(config, Dataset::checkerboard(), 0, 3);
    let (trained, losses) = train::<32, 256>(config, Dataset::checkerboard(), 400, 3);
    let n = 2000;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
    let (mut data, mut other) = (vec![0.0; 2 * n], vec![0.0; 2 * n]);
    Dataset::checkerboard()
        .sample(&mut rng, &mut data, n)
        .unwrap();
    Dataset::checkerboard()
        .sample(&mut rng, &mut other, n)
        .unwrap();
    let floor = swd(&other, &data, n);
    let before = swd(&generate::<32, 256>(&initial, n, 1), &data, n);
    let after = swd(&generate::<32, 256>(&trained, n, 1), &data, n);
    println!("SWD: untrained {before:.4e}, trained {after:.4e}, floor {floor:.4e}");
    assert!(after * 5.0 <= before, "{before} → {after}");
    assert!(after <= 3.0 * floor, "{after} vs floor {floor}");
    let (peak_step, peak) = losses
        .iter()
        .enumerate()
        .fold((0, 0.0_f32), |b, (k, l)| if *l > b.1 { (k, *l) } else { b });
    let last: f32 = losses[losses.len() - 20..].iter().sum::<f32>() / 20.0;
    println!(
        "loss: first {:.3e}, peak {peak:.3e} at step {peak_step}, last-20 mean {last:.3e}",
        losses[0]
    );
    assert!(peak > 2.0 * losses[0] && peak_step > 0, "no rise");
    assert!(last < 0.8 * peak, "no fall after the peak");
}

#[test]
fn saved_generator_reloads_bit_identically() {
    let config = TrainerConfig {
        batch: 64,
        ..TrainerConfig::official_demo()
    };
    let (trained, _) = train::<4, 16>(config, Dataset::swiss_roll(), 5, 1);
    let mlp = Mlp::<4, 16, 2>::new(Activation::Silu);
    let mut blob = vec![0u8; Mlp::<4, 16, 2>::blob_len()];
    let written = mlp.save(&trained, &mut blob).unwrap();
    let mut loaded = vec![0.0; Mlp::<4, 16, 2>::PARAMETERS];
    let back = Mlp::<4, 16, 2>::load(&blob[..written], &mut loaded).unwrap();
    assert_eq!(back.activation, Activation::Silu);
    assert!(
        trained
            .iter()
            .zip(&loaded)
            .all(|(a, b)| a.to_bits() == b.to_bits())
    );
    assert_eq!(
        generate::<4, 16>(&trained, 50, 3),
        generate::<4, 16>(&loaded, 50, 3)
    );
}

#[test]
fn trainer_errors_are_typed() {
    type Small = Mlp<4, 8, 2>;
    let p = Small::PARAMETERS;
    let config = TrainerConfig {
        batch: 16,
        ..TrainerConfig::official_demo()
    };
    let need = Trainer::<4, 8, 2>::workspace_len(&config, 16);
    let (mut params, mut g, mut m, mut v) =
        (vec![0.0; p], vec![0.0; p], vec![0.0; p], vec![0.0; p]);
    let mut short = vec![0.0; need - 1];
    assert_eq!(
        Trainer::<4, 8, 2>::new(config, 16, &mut params, &mut g, &mut m, &mut v, &mut short)
            .map(|_| ()),
        Err(Error::ScratchTooSmall {
            input: "workspace",
            required: need,
            provided: need - 1
        })
    );
    let mut workspace = vec![0.0; need];
    for (bad, name) in [
        (TrainerConfig { batch: 0, ..config }, "batch"),
        (
            TrainerConfig {
                temperatures: &[],
                ..config
            },
            "temperatures",
        ),
        (
            TrainerConfig {
                temperatures: &[0.05, -1.0],
                ..config
            },
            "temperatures",
        ),
    ] {
        let result =
            Trainer::<4, 8, 2>::new(bad, 16, &mut params, &mut g, &mut m, &mut v, &mut workspace);
        assert_eq!(
            result.map(|_| ()),
            Err(Error::InvalidParameter { input: name })
        );
    }
    let bad_lr = TrainerConfig {
        optimizer: Adam {
            learning_rate: -1.0,
            ..Adam::new()
        },
        ..config
    };
    assert!(
        Trainer::<4, 8, 2>::new(
            bad_lr,
            16,
            &mut params,
            &mut g,
            &mut m,
            &mut v,
            &mut workspace
        )
        .is_err()
    );
    let mut wrong = vec![0.0; p + 1];
    assert!(matches!(
        Trainer::<4, 8, 2>::new(
            config,
            16,
            &mut wrong,
            &mut g,
            &mut m,
            &mut v,
            &mut workspace
        ),
        Err(Error::ShapeMismatch {
            input: "parameters",
            ..
        })
    ));
    params[3] = f32::NAN;
    assert!(matches!(
        Trainer::<4, 8, 2>::new(
            config,
            16,
            &mut params,
            &mut g,
            &mut m,
            &mut v,
            &mut workspace
        ),
        Err(Error::NonFinite { .. })
    ));
    params[3] = 0.0;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
    Small::init_pytorch(&mut params, &mut rng).unwrap();
    let mut trainer = Trainer::<4, 8, 2>::new(
        config,
        16,
        &mut params,
        &mut g,
        &mut m,
        &mut v,
        &mut workspace,
    )
    .unwrap();
    let data = vec![0.0_f32; 2 * 15];
    assert!(matches!(
        trainer.step(
            &mut rng,
            &CloudView::from_coordinate_major(&data, 15).unwrap()
        ),
        Err(Error::ShapeMismatch { input: "data", .. })
    ));
    let mut data = vec![0.0_f32; 2 * 16];
    data[5] = f32::INFINITY;
    assert!(matches!(
        trainer.step(
            &mut rng,
            &CloudView::from_coordinate_major(&data, 16).unwrap()
        ),
        Err(Error::NonFinite { .. })
    ));
    assert_eq!(trainer.steps(), 0, "a failed step changes nothing");
    let _ = (SelfMask::Exclude, KernelFamily::Laplace);
}

/// A run stopped after some steps and continued with `Trainer::resume` from its checkpoint
/// (parameters, Adam moments, `Trainer::optimizer_state`) is the uninterrupted run, bit for bit,
/// annealing included; bad moments are refused.
#[test]
fn resumed_run_is_the_uninterrupted_run() {
    const N: usize = 32;
    let schedule = AnnealingSchedule::Exponential {
        initial: 1.0,
        rate: 0.1,
        minimum: 0.5,
    };
    let config = TrainerConfig {
        batch: N,
        temperatures: &[0.1],
        annealing: Some(schedule),
        ..TrainerConfig::official_demo()
    };
    let p = Mlp::<4, 8, 2>::PARAMETERS;
    let mut init = vec![0.0; p];
    Mlp::<4, 8, 2>::init_pytorch(&mut init, &mut Xoshiro256PlusPlus::seed_from_u64(3)).unwrap();
    // Each step draws from its own stream, so a continued run needs only the step count.
    let step_rng = |step: u64| Xoshiro256PlusPlus::seed_from_u64(1000 + step);
    let run = |trainer: &mut Trainer<'_, 4, 8, 2>, steps: u64| {
        let mut data = vec![0.0; 2 * N];
        for _ in 0..steps {
            let mut rng = step_rng(trainer.steps());
            Dataset::checkerboard()
                .sample(&mut rng, &mut data, N)
                .unwrap();
            let view = CloudView::from_coordinate_major(&data, N).unwrap();
            trainer.step(&mut rng, &view).unwrap();
        }
    };
    let mut workspace = vec![0.0; Trainer::<4, 8, 2>::workspace_len(&config, N)];
    let (mut g, mut m, mut v) = (vec![0.0; p], vec![0.0; p], vec![0.0; p]);

    let mut straight = init.clone();
    let mut trainer = Trainer::<4, 8, 2>::new(
        config,
        N,
        &mut straight,
        &mut g,
        &mut m,
        &mut v,
        &mut workspace,
    )
    .unwrap();
    run(&mut trainer, 8);
    let final_state = trainer.optimizer_state();
    let straight_moments = (m.clone(), v.clone());

    let mut resumed = init.clone();
    let (mut m2, mut v2) = (vec![0.0; p], vec![0.0; p]);
    let mut trainer = Trainer::<4, 8, 2>::new(
        config,
        N,
        &mut resumed,
        &mut g,
        &mut m2,
        &mut v2,
        &mut workspace,
    )
    .unwrap();
    run(&mut trainer, 5);
    // The checkpoint: the buffers and the optimiser's state, through its parts.
    let s = trainer.optimizer_state();
    let state =
        drifting::AdamState::from_parts(s.step_count(), s.beta1_power(), s.beta2_power()).unwrap();
    let mut trainer = Trainer::<4, 8, 2>::resume(
        config,
        N,
        &mut resumed,
        &mut g,
        &mut m2,
        &mut v2,
        &mut workspace,
        state,
    )
    .unwrap();
    assert_eq!(trainer.steps(), 5);
    run(&mut trainer, 3);
    assert_eq!(trainer.optimizer_state(), final_state);
    let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&resumed), bits(&straight));
    assert_eq!(bits(&m2), bits(&straight_moments.0));
    assert_eq!(bits(&v2), bits(&straight_moments.1));
    assert_ne!(bits(&resumed), bits(&init));

    // Bad moments are refused.
    v2[0] = -1.0;
    let refused = Trainer::<4, 8, 2>::resume(
        config,
        N,
        &mut resumed,
        &mut g,
        &mut m2,
        &mut v2,
        &mut workspace,
        state,
    );
    assert_eq!(
        refused.map(|_| ()),
        Err(Error::InvalidParameter {
            input: "second_moment"
        })
    );
    m2[0] = f32::NAN;
    v2[0] = 0.0;
    let refused = Trainer::<4, 8, 2>::resume(
        config,
        N,
        &mut resumed,
        &mut g,
        &mut m2,
        &mut v2,
        &mut workspace,
        state,
    );
    assert_eq!(
        refused.map(|_| ()),
        Err(Error::NonFinite {
            input: "first_moment"
        })
    );
}
