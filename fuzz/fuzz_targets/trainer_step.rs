//! A training step: typed errors for bad configurations and data; when a step succeeds the
//! parameters stay finite, and a failed step leaves them untouched.
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
    let (Ok(batch), Ok(points), Ok(t), Ok(lr), Ok(field_pick), Ok(steps)) = (
        u.int_in_range(0usize..=24),
        cloud::<2>(&mut u, 24),
        scale(&mut u),
        scale(&mut u),
        u.int_in_range(0u8..=7),
        u.int_in_range(1usize..=3),
    ) else {
        return;
    };
    let field = match field_pick {
        0 => DriftField::OFFICIAL_DEMO,
        1 => DriftField::TwoAxis(KernelFamily::Gaussian, SelfMask::Exclude),
        2 => DriftField::MeanShift(KernelFamily::Laplace),
        3 => DriftField::MultiTemperature {
            affinity_floor: 1e-6,
            self_mask_distance: 100.0,
        },
        4 => DriftField::Sinkhorn(SinkhornConfig {
            max_iterations: 3,
            ..SinkhornConfig::default()
        }),
        5 => DriftField::SinkhornProxy(SinkhornConfig::default()),
        6 => DriftField::MmdFlow(KernelFamily::Gaussian),
        _ => DriftField::SlicedWasserstein { directions: 5 },
    };
    let temperatures = [t];
    let config = TrainerConfig {
        field,
        temperatures: &temperatures,
        annealing: Some(AnnealingSchedule::Exponential {
            initial: 1.0,
            rate: 0.1,
            minimum: 0.5,
        }),
        optimizer: Adam {
            learning_rate: lr,
            ..Adam::new()
        },
        batch,
        ..TrainerConfig::official_demo()
    };
    let n_data = points.len();
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
                assert!(
                    trainer.parameters().iter().all(|p| p.is_finite()),
                    "non-finite parameters"
                );
            }
            Err(_) => {
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
