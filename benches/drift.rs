//! Criterion bench `drift`: pairs per second (`N × (P + Q)` per call, N = P = Q, negatives = the
//! queries) of every drift operator, both kernels, beside the plain scalar `f64` reference of the
//! test tree so that the SIMD gain is visible.
//!
//! ```sh
//! cargo bench --bench drift
//! RUSTFLAGS="-C target-cpu=x86-64-v3" cargo bench --bench drift
//! ```
//! The group `drift/registry` runs every operator of the registry (`DriftField::CATALOGUE`)
//! through the trainer's entry point. The reference path is dense and allocates an `N × (P+Q)` matrix; it is benched up to N = 1024.

#[path = "../tests/reference/mod.rs"]
mod reference;

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use drifting::{
    CloudView, DriftField, Kernel, MeanShiftConfig, MultiTemperatureConfig, Negatives,
    TwoAxisConfig, mean_shift_drift, multi_temperature_drift, multi_temperature_scratch_len,
    two_axis_scratch_len, two_axis_softmax_drift,
};
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use reference::{RefKernel, RefMask};

const SIZES: [usize; 3] = [256, 1024, 4096];
const REFERENCE_MAX_N: usize = 1024;

fn cloud(rng: &mut Xoshiro256PlusPlus, n: usize, dim: usize) -> Vec<f32> {
    (0..n * dim)
        .map(|_| {
            // Sum of 4 uniforms: a cheap bell-shaped cloud of scale ~0.5.
            (0..4)
                .map(|_| (rng.next_u32() >> 8) as f32 / 16_777_216.0 - 0.5)
                .sum::<f32>()
                * 0.85
        })
        .collect()
}

fn to_points(data: &[f32], n: usize, dim: usize) -> reference::Points {
    (0..n)
        .map(|i| (0..dim).map(|d| f64::from(data[d * n + i])).collect())
        .collect()
}

fn bench_dim<const D: usize>(c: &mut Criterion) {
    for (kernel_name, kernel, ref_kernel) in [
        ("laplace", Kernel::laplace(0.05), RefKernel::Laplace(0.05)),
        (
            "gaussian",
            Kernel::gaussian(0.05),
            RefKernel::Gaussian(0.05),
        ),
    ] {
        for op in ["mean_shift", "two_axis", "multi_temperature"] {
            if op == "multi_temperature" && kernel_name == "gaussian" {
                continue; // the official multi-temperature drift is Laplace-only
            }
            let mut group = c.benchmark_group(format!("drift/{op}/{kernel_name}/d{D}"));
            group
                .sample_size(10)
                .warm_up_time(Duration::from_millis(300));
            group.measurement_time(Duration::from_secs(2));
            for n in SIZES {
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(n as u64);
                let x = cloud(&mut rng, n, D);
                let y = cloud(&mut rng, n, D);
                let queries = CloudView::<D>::from_coordinate_major(&x, n).unwrap();
                let positives = CloudView::<D>::from_coordinate_major(&y, n).unwrap();
                let mut out = vec![0.0_f32; n * D];
                group.throughput(Throughput::Elements((n * 2 * n) as u64));
                match op {
                    "mean_shift" => {
                        let config = MeanShiftConfig::new(kernel);
                        group.bench_function(BenchmarkId::new("simd_f32", n), |b| {
                            b.iter(|| {
                                mean_shift_drift(
                                    &queries,
                                    &positives,
                                    Negatives::Queries,
                                    &config,
                                    &mut out,
                                )
                                .unwrap();
                                black_box(&out);
                            })
                        });
                    }
                    "two_axis" => {
                        let config = TwoAxisConfig::new(kernel);
                        let mut scratch = vec![0.0; two_axis_scratch_len(n, n, n)];
                        group.bench_function(BenchmarkId::new("simd_f32", n), |b| {
                            b.iter(|| {
                                two_axis_softmax_drift(
                                    &queries,
                                    &positives,
                                    Negatives::Queries,
                                    &config,
                                    &mut scratch,
                                    &mut out,
                                )
                                .unwrap();
                                black_box(&out);
                            })
                        });
                    }
                    _ => {
                        let config = MultiTemperatureConfig::official();
                        let mut scratch = vec![0.0; multi_temperature_scratch_len(n, n, D)];
                        group.bench_function(BenchmarkId::new("simd_f32", n), |b| {
                            b.iter(|| {
                                black_box(
                                    multi_temperature_drift(
                                        &queries,
                                        &positives,
                                        &config,
                                        &mut scratch,
                                        &mut out,
                                    )
                                    .unwrap(),
                                );
                            })
                        });
                    }
                }
                if n <= REFERENCE_MAX_N {
                    let (xr, yr) = (to_points(&x, n, D), to_points(&y, n, D));
                    group.bench_function(BenchmarkId::new("scalar_f64_reference", n), |b| {
                        b.iter(|| match op {
                            "mean_shift" => black_box(reference::mean_shift(
                                &xr, &yr, None, ref_kernel, 1.0, true,
                            ))
                            .len(),
                            "two_axis" => black_box(reference::two_axis(
                                &xr,
                                &yr,
                                None,
                                ref_kernel,
                                RefMask::Exclude,
                            ))
                            .len(),
                            _ => black_box(reference::multi_temperature(
                                &xr,
                                &yr,
                                &[0.02, 0.05, 0.2],
                                1e-6,
                                100.0,
                                &vec![1.0; n],
                                &vec![1.0; n],
                            ))
                            .force
                            .len(),
                        })
                    });
                }
            }
            group.finish();
        }
    }
}

/// Every operator of the registry ([`DriftField::CATALOGUE`]) through the trainer's entry point
/// [`DriftField::evaluate`], one temperature, N = P = 1024 in 2D: the per-step cost of each field
/// a training run can regress onto (`drift/registry/<operator>`).
fn registry(c: &mut Criterion) {
    const N: usize = 1024;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
    let (x, y) = (cloud(&mut rng, N, 2), cloud(&mut rng, N, 2));
    let (qx, qy) = (
        CloudView::<2>::from_coordinate_major(&x, N).expect("valid"),
        CloudView::<2>::from_coordinate_major(&y, N).expect("valid"),
    );
    let mut group = c.benchmark_group("drift/registry");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Elements((N * 2 * N) as u64));
    for (k, field) in DriftField::CATALOGUE.iter().enumerate() {
        let mut scratch = vec![0.0; field.workspace_len(N, N, 2)];
        let mut out = vec![0.0; N * 2];
        // The catalogue's index and the operator (the index tells the kernel families apart).
        let id = format!("{k}-{}", field.name().replace(' ', "_"));
        group.bench_function(BenchmarkId::new(id, N), |b| {
            b.iter(|| {
                field
                    .evaluate(&[0.1], &mut rng, &qx, &qy, &mut scratch, &mut out)
                    .expect("valid field");
                black_box(&out);
            });
        });
    }
    group.finish();
}

fn drift(c: &mut Criterion) {
    registry(c);
    bench_dim::<2>(c);
    bench_dim::<16>(c);
    bench_dim::<64>(c);
}

criterion_group!(benches, drift);
criterion_main!(benches);
