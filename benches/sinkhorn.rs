//! Criterion bench `sinkhorn`: 100 iterations at fixed `ε = blur² = 0.05` (cost `½‖x−y‖²`,
//! uniform weights, D = 2) for N = M ∈ {1024, 4096}, both update rules, reported as pair
//! evaluations per second (`2·N·M` per iteration: one softmin each way).
//!
//! ```sh
//! RUSTFLAGS="-C target-cpu=x86-64-v3" cargo bench --bench sinkhorn
//! ```
//! The side-by-side comparison with POT and GeomLoss is `python3 benches/baselines/compare.py`.
//!
//! Group `sinkhorn/divergence_to_1e-3/tori_3d`: the divergence between the interlocked tori of
//! `examples/pruned_sinkhorn.rs` and their deformed copy (blur 0.05, solved to an L1 marginal
//! error of `1e-3`), `N = M = 4096`, three ways: dense (`sinkhorn_divergence`), pruned
//! (`pruned_sinkhorn_divergence`, tolerance `1e-6`) and multiscale
//! (`multiscale_sinkhorn_divergence`, clusters of the blur's side).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use drifting::sample::fill_standard_normal;
use drifting::spatial::BoundingBox;
use drifting::{
    CloudView, MultiscaleSinkhornConfig, MultiscaleSinkhornWorkspace, PrunedSinkhornConfig,
    PrunedSinkhornWorkspace, PrunedWorkspace, SinkhornConfig, SinkhornWorkspace, UpdateRule,
    WeightedCloud, entropic_transport, multiscale_sinkhorn_divergence,
    multiscale_sinkhorn_workspace_len, pruned_sinkhorn_divergence, pruned_sinkhorn_workspace_len,
    sinkhorn_divergence,
};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

#[path = "../examples/support/shapes.rs"]
mod shapes;

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

/// The pruned workspace of `n + n` points in the given buffers.
fn fine<'a>(
    n: usize,
    buffer: &'a mut [f32],
    keys: &'a mut [u64],
    points: &'a mut [[f32; 3]],
    boxes: &'a mut [BoundingBox<3>],
    values: &'a mut [f32],
) -> PrunedSinkhornWorkspace<'a, 3> {
    PrunedSinkhornWorkspace {
        sinkhorn: SinkhornWorkspace::new(buffer, n, n).unwrap(),
        spatial: PrunedWorkspace {
            keys,
            points,
            boxes,
        },
        values,
    }
}

/// Dense, pruned and multiscale divergences on the 3D tori, to convergence.
fn large_shapes(c: &mut Criterion) {
    let n = 4096_usize;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
    let xs = shapes::tori(&mut rng, n);
    let ys: Vec<[f32; 3]> = shapes::tori(&mut rng, n)
        .into_iter()
        .map(shapes::deformed)
        .collect();
    let a = WeightedCloud::uniform(CloudView::from_points(&xs));
    let b = WeightedCloud::uniform(CloudView::from_points(&ys));
    let sinkhorn = SinkhornConfig::new();
    let pruned = PrunedSinkhornConfig {
        sinkhorn,
        tolerance: 1e-6,
    };
    let multiscale = MultiscaleSinkhornConfig::new(pruned);
    let (keys, points, boxes, values) = pruned_sinkhorn_workspace_len(n, n).unwrap();
    let empty = BoundingBox {
        min: [0.0; 3],
        max: [0.0; 3],
        count: 0,
    };
    let (mut keys, mut points) = (vec![0_u64; keys], vec![[0.0_f32; 3]; points]);
    let (mut boxes, mut values) = (vec![empty; boxes], vec![0.0_f32; values]);
    let (clusters, coarse) = multiscale_sinkhorn_workspace_len(n, n).unwrap();
    let (mut clusters, mut coarse) = (vec![[0.0_f32; 3]; clusters], vec![0.0_f32; coarse]);
    let mut buffer = vec![0.0_f32; SinkhornWorkspace::required_len(n, n)];

    let mut group = c.benchmark_group("sinkhorn/divergence_to_1e-3/tori_3d");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function(BenchmarkId::new("dense", n), |bench| {
        bench.iter(|| {
            let mut ws = SinkhornWorkspace::new(&mut buffer, n, n).unwrap();
            black_box(sinkhorn_divergence(&a, &b, &sinkhorn, &mut ws).unwrap())
        })
    });
    group.bench_function(BenchmarkId::new("pruned", n), |bench| {
        bench.iter(|| {
            let mut ws = fine(
                n,
                &mut buffer,
                &mut keys,
                &mut points,
                &mut boxes,
                &mut values,
            );
            black_box(pruned_sinkhorn_divergence(&a, &b, &pruned, &mut ws).unwrap())
        })
    });
    group.bench_function(BenchmarkId::new("multiscale", n), |bench| {
        bench.iter(|| {
            let mut ws = MultiscaleSinkhornWorkspace {
                fine: fine(
                    n,
                    &mut buffer,
                    &mut keys,
                    &mut points,
                    &mut boxes,
                    &mut values,
                ),
                clusters: &mut clusters,
                values: &mut coarse,
            };
            black_box(multiscale_sinkhorn_divergence(&a, &b, &multiscale, &mut ws).unwrap())
        })
    });
    group.finish();
}

criterion_group!(benches, sinkhorn, large_shapes);
criterion_main!(benches);
