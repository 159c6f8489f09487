//! A training step: typed errors for bad configurations and data; when a step succeeds the
//! parameters stay finite and the report is finite (its underflow fraction in `[0, 1]`), and a
//! failed step leaves them untouched. `Trainer::new` validates the whole configuration (issue 15:
//! it accepted a NaN mask, a NaN floor, a Sinkhorn scaling of 2 and failed at the first step), so
//! a step never fails with `InvalidParameter`; huge batch sizes are refused without a panic or
//! a wrapped workspace length.
#![no_main]

use arbitrary::Unstructured;
use drifting::{
    Adam, AnnealingSchedule, CloudView, DriftField, KernelFamily, Mlp, SelfMask, SinkhornConfig,
    Trainer, TrainerConfig,
};
use drifting_fuzz::{cloud, scale};
use libfuzzer_sys::fuzz_target;
use rand_core::SeedableRng;

type Net = Mlp<2, 8, 2>;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let (
        Ok(batch),
        Ok(points),
        Ok(t),
        Ok(lr),
        Ok(field_pick),
        Ok(steps),
        Ok(parameter),
        Ok(schedule_pick),
        Ok(huge),
    ) = (
        u.int_in_range(0usize..=24),
        cloud::<2>(&mut u, 24),
        scale(&mut u),
        scale(&mut u),
        u.int_in_range(0u8..=(DriftField::CATALOGUE.len() as u8 + 3)),
        u.int_in_range(1usize..=3),
        scale(&mut u),
        u.int_in_range(0u8..=3),
        u.ratio(1u8, 16u8),
    )
    else {
        return;
    };
    let catalogue = DriftField::CATALOGUE;
    let pick = usize::from(field_pick);
    let field = if let Some(&field) = catalogue.get(pick) {
        // Every operator of the registry, the Sinkhorn solve capped at 3 iterations.
        match field {
            DriftField::Sinkhorn(config) => DriftField::Sinkhorn(SinkhornConfig {
                max_iterations: 3,
                ..config
            }),
            other => other,
        }
    } else {
        // The field's own parameters, fuzzed: Trainer::new must check them.
        match pick - catalogue.len() {
            0 => DriftField::TwoAxis(KernelFamily::Laplace, SelfMask::AddDistance(parameter)),
            1 => DriftField::MultiTemperature {
                affinity_floor: parameter,
                self_mask_distance: 100.0,
            },
            2 => DriftField::Sinkhorn(SinkhornConfig {
                scaling: Some(parameter),
                tolerance: parameter,
                max_iterations: 3,
                ..SinkhornConfig::default()
            }),
            _ => DriftField::SlicedWasserstein {
                directions: if huge { usize::MAX } else { 0 },
            },
        }
    };
    let annealing = [
        AnnealingSchedule::Exponential {
            initial: 1.0,
            rate: 0.1,
            minimum: 0.5,
        },
        AnnealingSchedule::Exponential {
            initial: 1.0,
            rate: 0.5,
            minimum: parameter,
        },
        AnnealingSchedule::Linear {
            initial: 1.0,
            end: parameter,
            steps: 2,
        },
        AnnealingSchedule::Cosine {
            initial: parameter,
            end: 1.0,
            steps: 1,
        },
    ][usize::from(schedule_pick)];
    let temperatures = [t];
    let config = TrainerConfig {
        field,
        temperatures: &temperatures,
        annealing: Some(annealing),
        optimizer: Adam {
            learning_rate: lr,
            ..Adam::new()
        },
        batch: if huge { usize::MAX / 3 } else { batch },
        ..TrainerConfig::official_demo()
    };
    let n_data = points.len();
    if huge {
        // A workspace length that overflows: saturated by the helper, refused by `new`.
        assert_eq!(Trainer::<2, 8, 2>::checked_workspace_len(&config, 4), None);
        let (mut p, mut g, mut m, mut v, mut w) = (
            vec![0.0; Net::PARAMETERS],
            vec![0.0; Net::PARAMETERS],
            vec![0.0; Net::PARAMETERS],
            vec![0.0; Net::PARAMETERS],
            vec![0.0; 64],
        );
        assert!(
            Trainer::<2, 8, 2>::new(config, 4, &mut p, &mut g, &mut m, &mut v, &mut w).is_err()
        );
        return;
    }
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(3);
    let mut params = vec![0.0; Net::PARAMETERS];
    Net::init_pytorch(&mut params, &mut rng).unwrap();
    let (mut g, mut m, mut v) = (
        vec![0.0; Net::PARAMETERS],
        vec![0.0; Net::PARAMETERS],
        vec![0.0; Net::PARAMETERS],
    );
    let mut workspace = vec![0.0; Trainer::<2, 8, 2>::workspace_len(&config, n_data.max(1))];
    let Ok(mut trainer) = Trainer::<2, 8, 2>::new(
        config,
        n_data.max(1),
        &mut params,
        &mut g,
        &mut m,
        &mut v,
        &mut workspace,
    ) else {
        return;
    };
    let flat: Vec<f32> = points
        .iter()
        .map(|p| p[0])
        .chain(points.iter().map(|p| p[1]))
        .collect();
    let Ok(view) = CloudView::<2>::from_coordinate_major(&flat, n_data) else {
        return;
    };
    for _ in 0..steps {
        let before = trainer.parameters().to_vec();
        match trainer.step(&mut rng, &view) {
            Ok(report) => {
                assert!(report.loss.is_finite());
                assert!(report.drift_rms.is_finite() && report.temperature_factor.is_finite());
                assert!(
                    (0.0..=1.0).contains(&report.underflow_fraction),
                    "{report:?}"
                );
                assert!(
                    trainer.parameters().iter().all(|p| p.is_finite()),
                    "non-finite parameters"
                );
            }
            Err(e) => {
                // Everything a step could refuse for its parameters was checked by `new`.
                assert!(
                    !matches!(e, drifting::Error::InvalidParameter { .. }),
                    "a step failed on its configuration after Trainer::new accepted it: {e:?} {config:?}"
                );
                assert!(
                    before
                        .iter()
                        .zip(trainer.parameters())
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "a failed step changed the parameters"
                );
                return;
            }
        }
    }
});
