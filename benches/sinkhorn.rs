//! Criterion bench `sinkhorn`: 100 iterations at fixed `ε = blur² = 0.05` (cost `½‖x−y‖²`,
//! uniform weights, D = 2) for N = M ∈ {1024, 4096}, both update rules, reported as pair
//! evaluations per second (`2·N·M` per iteration: one softmin each way).
//!
//! ```sh
//! RUSTFLAGS="-C target-cpu=x86-64-v3" cargo bench --bench sinkhorn
//! ```
//! The side-by-side comparison with POT and GeomLoss is `python3 benches/baselines/compare.py`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use drifting::sample::fill_standard_normal;
use drifting::{
    CloudView, SinkhornConfig, SinkhornWorkspace, UpdateRule, WeightedCloud, entropic_transport,
    sinkhorn_divergence,
};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

fn sinkhorn(c: &mut Criterion) {
    let mut group = c.benchmark_group("sinkhorn/100_iterations_eps_0.05/d2");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(5));
    for n in [1024_usize, 4096] {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(n as u64);
        let mut x = vec![0.0_f32; 2 * n];
        let mut y = vec![0.0_f32; 2 * n];
        fill_standard_normal(&mut rng, &mut x);
        fill_standard_normal(&mut rng, &mut y);
        x.iter_mut().chain(y.iter_mut()).for_each(|v| *v *= 0.5);
        let a = WeightedCloud::uniform(CloudView::<2>::from_coordinate_major(&x, n).unwrap());
        let b = WeightedCloud::uniform(CloudView::<2>::from_coordinate_major(&y, n).unwrap());
        let mut buffer = vec![0.0_f32; SinkhornWorkspace::required_len(n, n)];
        group.throughput(Throughput::Elements((100 * 2 * n * n) as u64));
        for (name, update) in [
            ("alternating", UpdateRule::Alternating),
            ("symmetric", UpdateRule::Symmetric),
        ] {
            let config = SinkhornConfig {
                blur: 0.05_f32.sqrt(),
                update,
                scaling: None,
                tolerance: 0.0,
                max_iterations: 100,
                ..SinkhornConfig::default()
            };
            group.bench_function(BenchmarkId::new(name, n), |bench| {
                bench.iter(|| {
                    let mut ws = SinkhornWorkspace::new(&mut buffer, n, n).unwrap();
                    black_box(entropic_transport(&a, &b, &config, &mut ws).unwrap())
                })
            });
        }
    }
    group.finish();

    let mut group = c.benchmark_group("sinkhorn/divergence_default_config/d2");
    group.sample_size(10);
    {
        let n = 1024_usize;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let mut x = vec![0.0_f32; 2 * n];
        let mut y = vec![0.0_f32; 2 * n];
        fill_standard_normal(&mut rng, &mut x);
        fill_standard_normal(&mut rng, &mut y);
        let a = WeightedCloud::uniform(CloudView::<2>::from_coordinate_major(&x, n).unwrap());
        let b = WeightedCloud::uniform(CloudView::<2>::from_coordinate_major(&y, n).unwrap());
        let mut buffer = vec![0.0_f32; SinkhornWorkspace::required_len(n, n)];
        group.bench_function(BenchmarkId::new("geomloss_defaults", n), |bench| {
            bench.iter(|| {
                let mut ws = SinkhornWorkspace::new(&mut buffer, n, n).unwrap();
                black_box(sinkhorn_divergence(&a, &b, &SinkhornConfig::default(), &mut ws).unwrap())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, sinkhorn);
criterion_main!(benches);
