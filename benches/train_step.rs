//! Criterion bench `train_step`: one whole stop-gradient training step (noise, generator
//! forward, drift against the data batch with the generated batch as negatives, loss, backward,
//! Adam), for the official demo (MLP 32→256→256→256→2, 2048 + 2048 samples, two-axis Laplace
//! drift at τ = 0.05) and a small generator (2→32→32→32→2, 256 + 256 samples).
//!
//! ```sh
//! RUSTFLAGS="-C target-cpu=x86-64-v3" cargo bench --bench train_step
//! python3 benches/baselines/torch_train.py --time-steps 20   # PyTorch's step, same configuration
//! ```

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use drifting::{CloudView, Dataset, Mlp, Trainer, TrainerConfig};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

fn bench_step<const I: usize, const H: usize>(c: &mut Criterion, name: &str, batch: usize) {
    let config = TrainerConfig {
        batch,
        ..TrainerConfig::official_demo()
    };
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(4);
    let p = Mlp::<I, H, 2>::PARAMETERS;
    let mut params = vec![0.0; p];
    Mlp::<I, H, 2>::init_pytorch(&mut params, &mut rng).unwrap();
    let (mut g, mut m, mut v) = (vec![0.0; p], vec![0.0; p], vec![0.0; p]);
    let mut workspace = vec![0.0; Trainer::<I, H, 2>::workspace_len(&config, batch)];
    let mut trainer = Trainer::<I, H, 2>::new(
        config,
        batch,
        &mut params,
        &mut g,
        &mut m,
        &mut v,
        &mut workspace,
    )
    .unwrap();
    let mut data = vec![0.0; 2 * batch];
    let mut group = c.benchmark_group("train_step");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(batch as u64));
    group.bench_function(BenchmarkId::new(name, batch), |b| {
        b.iter(|| {
            Dataset::checkerboard()
                .sample(&mut rng, &mut data, batch)
                .unwrap();
            let view = CloudView::<2>::from_coordinate_major(&data, batch).unwrap();
            trainer.step(&mut rng, &view).unwrap()
        });
    });
    group.finish();
}

fn train_step(c: &mut Criterion) {
    bench_step::<32, 256>(c, "demo_32-256-2", 2048);
    bench_step::<2, 32>(c, "small_2-32-2", 256);
}

criterion_group!(benches, train_step);
criterion_main!(benches);
