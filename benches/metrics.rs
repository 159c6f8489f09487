//! Criterion bench `metrics`: the sliced Wasserstein distance (200 directions, `p = 2`) and the
//! unbiased MMD² (default 5 bandwidths) and energy distance between two 2D clouds of n = 2048
//! points (checkerboard vs swiss roll).
//!
//! ```sh
//! RUSTFLAGS="-C target-cpu=x86-64-v3" cargo bench --bench metrics
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use drifting::metrics::{
    MmdConfig, SlicedWassersteinConfig, energy_distance, mmd, sliced_wasserstein,
    sliced_wasserstein_scratch_len,
};
use drifting::{CloudView, Dataset};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

const N: usize = 2048;

fn metrics(c: &mut Criterion) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let mut x = vec![0.0_f32; 2 * N];
    let mut y = vec![0.0_f32; 2 * N];
    Dataset::checkerboard().sample(&mut rng, &mut x, N).unwrap();
    Dataset::swiss_roll().sample(&mut rng, &mut y, N).unwrap();
    let a = CloudView::<2>::from_coordinate_major(&x, N).unwrap();
    let b = CloudView::<2>::from_coordinate_major(&y, N).unwrap();

    let mut group = c.benchmark_group("metrics/n2048/d2");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));

    let config = SlicedWassersteinConfig::default();
    let mut scratch = vec![0.0_f32; sliced_wasserstein_scratch_len(N)];
    // Throughput: projected-and-sorted points (2 clouds × 200 directions).
    group.throughput(Throughput::Elements((2 * config.directions * N) as u64));
    group.bench_function("sliced_wasserstein_200", |bench| {
        bench.iter(|| {
            let mut directions = Xoshiro256PlusPlus::seed_from_u64(7);
            black_box(sliced_wasserstein(&a, &b, &config, &mut directions, &mut scratch).unwrap())
        })
    });

    // Throughput: pairs (N² + N² + N²; the within sums run over full rows).
    group.throughput(Throughput::Elements((3 * N * N) as u64));
    let mmd_config = MmdConfig::default();
    group.bench_function("mmd_5_bandwidths", |bench| {
        bench.iter(|| black_box(mmd(&a, &b, &mmd_config).unwrap()))
    });
    group.bench_function("energy_distance", |bench| {
        bench.iter(|| black_box(energy_distance(&a, &b).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, metrics);
criterion_main!(benches);
