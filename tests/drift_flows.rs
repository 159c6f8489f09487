//! The MMD-flow and sliced-Wasserstein-flow drifts (docs/mathematics.md §7) against scalar `f64`
//! references, finite differences of the MMD witness function, and their exact properties.
//!
//! Tolerances: MMD flow `1e-5` relative to the field's largest entry (one `exp` per pair in `f32`
//! SIMD, `f32` accumulation over ≤ 300 partners); its finite-difference check `1e-4` (central
//! differences of the `f64` witness at `h = 1e-5`, compared with the `f32` field). Sliced flow:
//! `1e-5` relative against the `f64` reference that uses the same directions (projections in `f32`
//! then `f64`).

use drifting::metrics::random_direction;
use drifting::sample::fill_standard_normal;
use drifting::{
    CloudView, Error, Kernel, MmdFlowConfig, Negatives, SlicedWassersteinDriftConfig,
    mmd_flow_drift, sliced_wasserstein_drift, sliced_wasserstein_drift_scratch_len,
};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// `n` points of a standard normal cloud in `D` dimensions, times `scale`, plus `shift`.
fn cloud<const D: usize>(seed: u64, n: usize, scale: f32, shift: f32) -> Vec<[f32; D]> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut flat = vec![0.0; n * D];
    fill_standard_normal(&mut rng, &mut flat);
    flat.chunks_exact(D)
        .map(|c| std::array::from_fn(|d| c[d] * scale + shift))
        .collect()
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0_f64, |m, x| m.max(x.abs()))
}

/// `max |got − want| / max |want|`.
fn relative_error(got: &[f32], want: &[f64]) -> f64 {
    let err = got
        .iter()
        .zip(want)
        .fold(0.0_f64, |m, (g, w)| m.max((f64::from(*g) - w).abs()));
    err / max_abs(want)
}

#[derive(Clone, Copy)]
enum RefKernel {
    Laplace(f64),
    Gaussian(f64),
}

fn kernel_value(k: RefKernel, x: &[f64], y: &[f64]) -> f64 {
    let r2: f64 = x.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum();
    match k {
        RefKernel::Laplace(t) => (-r2.sqrt() / t).exp(),
        RefKernel::Gaussian(s) => (-r2 / (2.0 * s * s)).exp(),
    }
}

/// `∇_x k(x, y)` in `f64` (Laplace: 0 at `x = y`).
fn kernel_gradient(k: RefKernel, x: &[f64], y: &[f64]) -> Vec<f64> {
    let r2: f64 = x.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum();
    let w = match k {
        RefKernel::Laplace(t) if r2 > 0.0 => (-r2.sqrt() / t).exp() / (t * r2.sqrt()),
        RefKernel::Laplace(_) => 0.0,
        RefKernel::Gaussian(s) => (-r2 / (2.0 * s * s)).exp() / (s * s),
    };
    x.iter().zip(y).map(|(a, b)| w * (b - a)).collect()
}

fn f64s<const D: usize>(p: &[f32; D]) -> Vec<f64> {
    p.iter().map(|&v| f64::from(v)).collect()
}

/// The MMD witness `(1/P) Σ k(x, y⁺) − (1/Q) Σ k(x, y⁻)`.
fn witness<const D: usize>(k: RefKernel, x: &[f64], pos: &[[f32; D]], neg: &[[f32; D]]) -> f64 {
    let mean = |c: &[[f32; D]]| {
        c.iter().map(|y| kernel_value(k, x, &f64s(y))).sum::<f64>() / c.len() as f64
    };
    mean(pos) - mean(neg)
}

/// The MMD-flow field in `f64`, coordinate-major.
fn mmd_reference<const D: usize>(
    k: RefKernel,
    queries: &[[f32; D]],
    pos: &[[f32; D]],
    neg: &[[f32; D]],
) -> Vec<f64> {
    let n = queries.len();
    let mut out = vec![0.0; n * D];
    for (i, q) in queries.iter().enumerate() {
        let x = f64s(q);
        for (cloud, sign) in [(pos, 1.0), (neg, -1.0)] {
            for y in cloud {
                let g = kernel_gradient(k, &x, &f64s(y));
                for d in 0..D {
                    out[d * n + i] += sign * g[d] / cloud.len() as f64;
                }
            }
        }
    }
    out
}

fn run_mmd<const D: usize>(
    kernel: Kernel,
    queries: &[[f32; D]],
    pos: &[[f32; D]],
    neg: Option<&[[f32; D]]>,
) -> Vec<f32> {
    let mut out = vec![0.0; queries.len() * D];
    let negatives = neg.map_or(Negatives::Queries, |c| {
        Negatives::Cloud(CloudView::from_points(c))
    });
    mmd_flow_drift(
        &CloudView::from_points(queries),
        &CloudView::from_points(pos),
        negatives,
        &MmdFlowConfig::new(kernel),
        &mut out,
    )
    .unwrap();
    out
}

#[test]
fn mmd_flow_matches_the_f64_reference() {
    let queries = cloud::<2>(1, 203, 1.0, 0.0);
    let pos = cloud::<2>(2, 257, 0.6, 0.7);
    let neg = cloud::<2>(3, 131, 1.3, -0.2);
    for (kernel, reference) in [
        (Kernel::gaussian(0.5), RefKernel::Gaussian(0.5)),
        (Kernel::laplace(0.3), RefKernel::Laplace(0.3)),
    ] {
        let got = run_mmd(kernel, &queries, &pos, Some(&neg));
        let err = relative_error(&got, &mmd_reference(reference, &queries, &pos, &neg));
        assert!(err < 1e-5, "explicit negatives: relative error {err:e}");
        // Negatives = queries: the self-pair contributes 0 (Gaussian: y − x = 0; Laplace:
        // subgradient at the apex), so the reference keeps it.
        let got = run_mmd(kernel, &queries, &pos, None);
        let err = relative_error(&got, &mmd_reference(reference, &queries, &pos, &queries));
        assert!(err < 1e-5, "negatives = queries: relative error {err:e}");
    }
    // Higher dimension.
    let (q16, p16) = (cloud::<16>(4, 77, 1.0, 0.0), cloud::<16>(5, 91, 1.0, 0.5));
    let got = run_mmd(Kernel::gaussian(2.0), &q16, &p16, None);
    let err = relative_error(
        &got,
        &mmd_reference(RefKernel::Gaussian(2.0), &q16, &p16, &q16),
    );
    assert!(err < 1e-5, "D = 16: relative error {err:e}");
}

#[test]
fn mmd_flow_is_the_gradient_of_the_witness_function() {
    let queries = cloud::<3>(6, 40, 1.0, 0.0);
    let pos = cloud::<3>(7, 60, 0.8, 0.4);
    let neg = cloud::<3>(8, 50, 1.1, -0.3);
    for (kernel, reference) in [
        (Kernel::gaussian(0.7), RefKernel::Gaussian(0.7)),
        (Kernel::laplace(0.5), RefKernel::Laplace(0.5)),
    ] {
        let got = run_mmd(kernel, &queries, &pos, Some(&neg));
        let n = queries.len();
        let h = 1e-5;
        let mut fd = vec![0.0; n * 3];
        for (i, q) in queries.iter().enumerate() {
            for d in 0..3 {
                let (mut up, mut down) = (f64s(q), f64s(q));
                up[d] += h;
                down[d] -= h;
                fd[d * n + i] = (witness(reference, &up, &pos, &neg)
                    - witness(reference, &down, &pos, &neg))
                    / (2.0 * h);
            }
        }
        let err = relative_error(&got, &fd);
        assert!(err < 1e-4, "finite differences: relative error {err:e}");
    }
}

#[test]
fn mmd_flow_vanishes_when_positives_and_negatives_coincide() {
    let queries = cloud::<2>(9, 100, 1.0, 0.0);
    let data = cloud::<2>(10, 150, 0.5, 0.3);
    for kernel in [Kernel::gaussian(0.4), Kernel::laplace(0.2)] {
        let got = run_mmd(kernel, &queries, &data, Some(&data));
        assert!(got.iter().all(|v| *v == 0.0), "not exactly zero");
    }
}

#[test]
fn mmd_flow_rejects_bad_input() {
    let q = cloud::<2>(11, 10, 1.0, 0.0);
    let mut out = vec![0.0; 20];
    let view = CloudView::from_points(&q);
    let call = |config: MmdFlowConfig, out: &mut [f32]| {
        mmd_flow_drift(&view, &view, Negatives::Queries, &config, out)
    };
    assert_eq!(
        call(MmdFlowConfig::new(Kernel::gaussian(0.0)), &mut out),
        Err(Error::InvalidParameter { input: "bandwidth" })
    );
    assert_eq!(
        call(MmdFlowConfig::new(Kernel::laplace(-1.0)), &mut out),
        Err(Error::InvalidParameter {
            input: "temperature"
        })
    );
    let nan_step = MmdFlowConfig {
        step: f32::NAN,
        ..MmdFlowConfig::new(Kernel::gaussian(1.0))
    };
    assert_eq!(
        call(nan_step, &mut out),
        Err(Error::InvalidParameter { input: "step" })
    );
    let huge_step = MmdFlowConfig {
        step: 3e38,
        ..MmdFlowConfig::new(Kernel::laplace(1e-3))
    };
    assert_eq!(
        call(huge_step, &mut out),
        Err(Error::OutOfRange { input: "step" })
    );
    assert!(matches!(
        call(MmdFlowConfig::new(Kernel::gaussian(1.0)), &mut out[..19]),
        Err(Error::ShapeMismatch { .. })
    ));
    let bad = [[0.0_f32, f32::NAN]];
    let mut one = [0.0; 2];
    assert!(matches!(
        mmd_flow_drift(
            &CloudView::from_points(&bad),
            &view,
            Negatives::Queries,
            &MmdFlowConfig::new(Kernel::gaussian(1.0)),
            &mut one
        ),
        Err(Error::NonFinite { .. })
    ));
}

/// The sliced flow in `f64` with the directions the function draws from the same seed.
fn sliced_reference<const D: usize>(
    queries: &[[f32; D]],
    pos: &[[f32; D]],
    directions: usize,
    seed: u64,
) -> Vec<f64> {
    let (n, p) = (queries.len(), pos.len());
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut out = vec![0.0; n * D];
    for _ in 0..directions {
        let theta: [f32; D] = random_direction(&mut rng);
        let proj = |c: &[f32; D]| {
            c.iter()
                .zip(&theta)
                .map(|(a, t)| f64::from(*a) * f64::from(*t))
                .sum::<f64>()
        };
        let qp: Vec<f64> = queries.iter().map(proj).collect();
        let mut dp: Vec<f64> = pos.iter().map(proj).collect();
        dp.sort_by(f64::total_cmp);
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|a, b| qp[*a].total_cmp(&qp[*b]));
        for (rank, &i) in order.iter().enumerate() {
            let u = (rank as f64 + 0.5) / n as f64;
            let target = dp[((u * p as f64) as usize).min(p - 1)];
            for d in 0..D {
                out[d * n + i] += (target - qp[i]) * f64::from(theta[d]) / directions as f64;
            }
        }
    }
    out
}

fn run_sliced<const D: usize>(
    queries: &[[f32; D]],
    pos: &[[f32; D]],
    directions: usize,
    seed: u64,
) -> Vec<f32> {
    let mut out = vec![0.0; queries.len() * D];
    let mut scratch = vec![0.0; sliced_wasserstein_drift_scratch_len(queries.len(), pos.len())];
    let config = SlicedWassersteinDriftConfig {
        directions,
        ..SlicedWassersteinDriftConfig::new()
    };
    sliced_wasserstein_drift(
        &CloudView::from_points(queries),
        &CloudView::from_points(pos),
        &config,
        &mut Xoshiro256PlusPlus::seed_from_u64(seed),
        &mut scratch,
        &mut out,
    )
    .unwrap();
    out
}

#[test]
fn sliced_flow_matches_the_f64_reference() {
    let queries = cloud::<2>(12, 300, 1.0, 0.0);
    let pos = cloud::<2>(13, 457, 0.5, 1.0);
    let got = run_sliced(&queries, &pos, 32, 14);
    let err = relative_error(&got, &sliced_reference(&queries, &pos, 32, 14));
    assert!(err < 1e-5, "2D: relative error {err:e}");
    let (q8, p8) = (cloud::<8>(15, 120, 1.0, 0.0), cloud::<8>(16, 120, 1.0, 0.3));
    let got = run_sliced(&q8, &p8, 16, 17);
    let err = relative_error(&got, &sliced_reference(&q8, &p8, 16, 17));
    assert!(err < 1e-5, "8D: relative error {err:e}");
}

#[test]
fn sliced_flow_is_zero_on_a_permutation_of_the_data_and_a_shift_on_a_translate() {
    let data = cloud::<2>(18, 256, 1.0, 0.0);
    let mut permuted = data.clone();
    permuted.reverse();
    permuted.swap(3, 100);
    assert!(
        run_sliced(&permuted, &data, 40, 19)
            .iter()
            .all(|v| *v == 0.0)
    );

    // Y = X + t: every projection moves by θ·t, so V(x) = (1/L) Σ (θ·t) θ for every query
    // (→ t/D as L grows).
    let t = [0.3_f32, -0.2];
    let shifted: Vec<[f32; 2]> = data.iter().map(|p| [p[0] + t[0], p[1] + t[1]]).collect();
    let got = run_sliced(&data, &shifted, 400, 20);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(20);
    let mut expected = [0.0_f64; 2];
    for _ in 0..400 {
        let theta: [f32; 2] = random_direction(&mut rng);
        let along = f64::from(theta[0]) * 0.3 - f64::from(theta[1]) * 0.2;
        for d in 0..2 {
            expected[d] += along * f64::from(theta[d]) / 400.0;
        }
    }
    let n = data.len();
    for i in 0..n {
        for d in 0..2 {
            let v = f64::from(got[d * n + i]);
            assert!(
                (v - expected[d]).abs() < 2e-6,
                "query {i}, coordinate {d}: {v} vs {}",
                expected[d]
            );
        }
    }
    assert!((expected[0] - 0.15).abs() < 0.02 && (expected[1] + 0.1).abs() < 0.02);
}

#[test]
fn sliced_flow_rejects_bad_input() {
    let q = cloud::<2>(21, 10, 1.0, 0.0);
    let view = CloudView::from_points(&q);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let mut out = vec![0.0; 20];
    let mut scratch = vec![0.0; sliced_wasserstein_drift_scratch_len(10, 10)];
    let zero = SlicedWassersteinDriftConfig {
        directions: 0,
        ..SlicedWassersteinDriftConfig::new()
    };
    assert_eq!(
        sliced_wasserstein_drift(&view, &view, &zero, &mut rng, &mut scratch, &mut out),
        Err(Error::InvalidParameter {
            input: "directions"
        })
    );
    let config = SlicedWassersteinDriftConfig::new();
    assert!(matches!(
        sliced_wasserstein_drift(
            &view,
            &view,
            &config,
            &mut rng,
            &mut scratch[..29],
            &mut out
        ),
        Err(Error::ScratchTooSmall { required: 30, .. })
    ));
    assert!(matches!(
        sliced_wasserstein_drift(&view, &view, &config, &mut rng, &mut scratch, &mut out[..5]),
        Err(Error::ShapeMismatch { .. })
    ));
    let empty: [[f32; 2]; 0] = [];
    assert!(matches!(
        sliced_wasserstein_drift(
            &view,
            &CloudView::from_points(&empty),
            &config,
            &mut rng,
            &mut scratch,
            &mut out
        ),
        Err(Error::EmptyCloud { .. })
    ));
}

/// `DriftField::evaluate` (what a training step and the particle flows call) gives the operators'
/// own bits, and refuses bad temperatures and zero directions with typed errors.
#[test]
#[cfg(feature = "flow-fields")]
fn drift_field_evaluate_is_the_operators() {
    use drifting::{
        DriftField, KernelFamily, SinkhornConfig, WeightedCloud,
        sinkhorn::sinkhorn_proxy_scratch_len, sinkhorn_proxy_drift,
    };
    let (n, p) = (37, 53);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(91);
    let (mut x, mut y) = (vec![0.0_f32; 2 * n], vec![0.0_f32; 2 * p]);
    fill_standard_normal(&mut rng, &mut x);
    fill_standard_normal(&mut rng, &mut y);
    let queries = CloudView::<2>::from_coordinate_major(&x, n).unwrap();
    let positives = CloudView::<2>::from_coordinate_major(&y, p).unwrap();
    let run = |field: DriftField, t: f32, seed: u64| {
        let mut scratch = vec![0.0; field.workspace_len(n, p, 2)];
        let mut out = vec![0.0; 2 * n];
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let scale = field
            .evaluate(&[t], &mut rng, &queries, &positives, &mut scratch, &mut out)
            .unwrap();
        assert_eq!(scale, 1.0);
        out
    };

    let mut want = vec![0.0; 2 * n];
    let config = SinkhornConfig {
        blur: 0.3,
        ..SinkhornConfig::default()
    };
    let mut scratch = vec![0.0; sinkhorn_proxy_scratch_len(n, p)];
    sinkhorn_proxy_drift(
        &WeightedCloud::uniform(queries),
        &WeightedCloud::uniform(positives),
        &config,
        &mut scratch,
        &mut want,
    )
    .unwrap();
    assert_eq!(
        run(DriftField::SinkhornProxy(SinkhornConfig::default()), 0.3, 0),
        want
    );

    mmd_flow_drift(
        &queries,
        &positives,
        Negatives::Queries,
        &MmdFlowConfig::new(Kernel::gaussian(0.4)),
        &mut want,
    )
    .unwrap();
    assert_eq!(
        run(DriftField::MmdFlow(KernelFamily::Gaussian), 0.4, 0),
        want
    );

    let mut scratch = vec![0.0; sliced_wasserstein_drift_scratch_len(n, p)];
    let mut direction_rng = Xoshiro256PlusPlus::seed_from_u64(5);
    sliced_wasserstein_drift(
        &queries,
        &positives,
        &SlicedWassersteinDriftConfig {
            directions: 12,
            ..SlicedWassersteinDriftConfig::new()
        },
        &mut direction_rng,
        &mut scratch,
        &mut want,
    )
    .unwrap();
    // The temperature of the sliced flow is not used.
    assert_eq!(
        run(DriftField::SlicedWasserstein { directions: 12 }, 7.0, 5),
        want
    );

    let field = DriftField::SlicedWasserstein { directions: 0 };
    let mut scratch = vec![0.0; field.workspace_len(n, p, 2)];
    let mut out = vec![0.0; 2 * n];
    assert_eq!(
        field.evaluate(
            &[1.0],
            &mut rng,
            &queries,
            &positives,
            &mut scratch,
            &mut out
        ),
        Err(Error::InvalidParameter {
            input: "directions"
        })
    );
    let field = DriftField::MmdFlow(KernelFamily::Laplace);
    for bad in [
        &[][..],
        &[0.0][..],
        &[-1.0][..],
        &[f32::NAN][..],
        &[0.1; 9][..],
    ] {
        assert_eq!(
            field.evaluate(bad, &mut rng, &queries, &positives, &mut scratch, &mut out),
            Err(Error::InvalidParameter {
                input: "temperatures"
            }),
            "{bad:?}"
        );
    }
}
