//! The mean-shift drift's vector-Jacobian product (the gradient through `V` that the
//! no-stop-gradient ablation needs) against central finite differences of `Σ_i u_i·V_i(x)`
//! computed in `f64`.
//!
//! Tolerance: `2e-4` relative to the gradient's largest entry (`f32` SIMD product against `f64`
//! differences at `h = 1e-6`; the Laplace kernel's gradient is continuous away from coincident
//! points, which random clouds avoid).

use drifting::sample::fill_standard_normal;
use drifting::{
    CloudView, Error, Kernel, MeanShiftConfig, Negatives, mean_shift_drift, mean_shift_vjp,
    mean_shift_vjp_scratch_len,
};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

fn normals(seed: u64, count: usize, scale: f32, shift: f32) -> Vec<f32> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut v = vec![0.0; count];
    fill_standard_normal(&mut rng, &mut v);
    v.iter().map(|x| x * scale + shift).collect()
}

/// The drift with negatives = queries (self excluded), in `f64`, coordinate-major.
fn drift_f64(
    x: &[f64],
    y: &[f64],
    n: usize,
    p: usize,
    dim: usize,
    laplace: bool,
    s: f64,
) -> Vec<f64> {
    let logit = |a: &[f64], b: &[f64]| {
        let r2: f64 = a.iter().zip(b).map(|(u, v)| (u - v) * (u - v)).sum();
        if laplace {
            -r2.sqrt() / s
        } else {
            -r2 / (2.0 * s * s)
        }
    };
    let point =
        |c: &[f64], len: usize, i: usize| (0..dim).map(|d| c[d * len + i]).collect::<Vec<f64>>();
    let mut out = vec![0.0; n * dim];
    for i in 0..n {
        let xi = point(x, n, i);
        for (cloud, len, sign, skip) in [(y, p, 1.0, None), (x, n, -1.0, Some(i))] {
            let ls: Vec<f64> = (0..len)
                .map(|j| {
                    if Some(j) == skip {
                        f64::NEG_INFINITY
                    } else {
                        logit(&xi, &point(cloud, len, j))
                    }
                })
                .collect();
            let m = ls.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let total: f64 = ls.iter().map(|l| (l - m).exp()).sum();
            for j in 0..len {
                let w = (ls[j] - m).exp() / total;
                for d in 0..dim {
                    out[d * n + i] += sign * w * (cloud[d * len + j] - xi[d]);
                }
            }
        }
    }
    out
}

fn check<const D: usize>(seed: u64, n: usize, p: usize, kernel: Kernel) {
    let x = normals(seed, n * D, 1.0, 0.0);
    let y = normals(seed + 1, p * D, 0.7, 0.5);
    let u = normals(seed + 2, n * D, 1.0, 0.0);
    let config = MeanShiftConfig::new(kernel);
    let (laplace, s) = match kernel {
        Kernel::Laplace { temperature } => (true, f64::from(temperature)),
        Kernel::Gaussian { bandwidth } => (false, f64::from(bandwidth)),
    };
    let queries = CloudView::<D>::from_coordinate_major(&x, n).unwrap();
    let positives = CloudView::<D>::from_coordinate_major(&y, p).unwrap();
    let mut scratch = vec![0.0; mean_shift_vjp_scratch_len(n, D)];
    let mut grad = vec![0.0; n * D];
    mean_shift_vjp(&queries, &positives, &config, &u, &mut scratch, &mut grad).unwrap();

    // The f64 drift agrees with the crate's (so the reference differentiates the right map).
    let (x64, y64, u64_): (Vec<f64>, Vec<f64>, Vec<f64>) = (
        x.iter().map(|&v| f64::from(v)).collect(),
        y.iter().map(|&v| f64::from(v)).collect(),
        u.iter().map(|&v| f64::from(v)).collect(),
    );
    let mut v32 = vec![0.0; n * D];
    mean_shift_drift(&queries, &positives, Negatives::Queries, &config, &mut v32).unwrap();
    let v64 = drift_f64(&x64, &y64, n, p, D, laplace, s);
    let vmax = v64.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    assert!(
        v32.iter()
            .zip(&v64)
            .all(|(a, b)| (f64::from(*a) - b).abs() < 1e-5 * vmax)
    );

    let objective = |x: &[f64]| -> f64 {
        drift_f64(x, &y64, n, p, D, laplace, s)
            .iter()
            .zip(&u64_)
            .map(|(v, u)| v * u)
            .sum()
    };
    let h = 1e-6;
    let mut fd = vec![0.0; n * D];
    for (k, slot) in fd.iter_mut().enumerate() {
        let (mut up, mut down) = (x64.clone(), x64.clone());
        up[k] += h;
        down[k] -= h;
        *slot = (objective(&up) - objective(&down)) / (2.0 * h);
    }
    let largest = fd.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    let err = grad
        .iter()
        .zip(&fd)
        .fold(0.0_f64, |m, (g, f)| m.max((f64::from(*g) - f).abs()))
        / largest;
    assert!(err < 2e-4, "{kernel:?}, D = {D}: relative error {err:e}");
}

#[test]
fn vjp_equals_finite_differences() {
    check::<2>(1, 13, 17, Kernel::gaussian(0.6));
    check::<2>(4, 13, 17, Kernel::laplace(0.4));
    check::<3>(7, 21, 9, Kernel::gaussian(0.9));
    check::<3>(10, 21, 9, Kernel::laplace(0.7));
    // Partial SIMD blocks on both sides, wider temperature range.
    check::<2>(13, 9, 30, Kernel::laplace(0.05));
}

#[test]
fn vjp_rejects_bad_input() {
    let x = normals(20, 10, 1.0, 0.0);
    let q = CloudView::<2>::from_coordinate_major(&x, 5).unwrap();
    let u = vec![0.0; 10];
    let mut scratch = vec![0.0; mean_shift_vjp_scratch_len(5, 2)];
    let mut out = vec![0.0; 10];
    let config = MeanShiftConfig::new(Kernel::laplace(0.2));
    let keep_self = MeanShiftConfig {
        exclude_self: false,
        ..config
    };
    assert_eq!(
        mean_shift_vjp(&q, &q, &keep_self, &u, &mut scratch, &mut out),
        Err(Error::InvalidParameter {
            input: "exclude_self"
        })
    );
    assert!(matches!(
        mean_shift_vjp(&q, &q, &config, &u[..9], &mut scratch, &mut out),
        Err(Error::ShapeMismatch {
            input: "cotangent",
            ..
        })
    ));
    assert!(matches!(
        mean_shift_vjp(&q, &q, &config, &u, &mut scratch[..30], &mut out),
        Err(Error::ScratchTooSmall { .. })
    ));
    let mut nan = u.clone();
    nan[3] = f32::NAN;
    assert_eq!(
        mean_shift_vjp(&q, &q, &config, &nan, &mut scratch, &mut out),
        Err(Error::NonFinite { input: "cotangent" })
    );
    let one = CloudView::<2>::from_coordinate_major(&x[..2], 1).unwrap();
    assert!(matches!(
        mean_shift_vjp(&one, &q, &config, &u[..2], &mut scratch, &mut out[..2]),
        Err(Error::TooFewPoints { .. })
    ));
}
