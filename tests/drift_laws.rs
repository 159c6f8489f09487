//! Laws the drift operators obey exactly in exact arithmetic, checked in `f32`: zero drift for
//! equal clouds, translation equivariance, invariance to the order of the targets, the
//! two-axis identity, and correct (not zero, not NaN) fields for far-away clouds.

use crate::reference;

use drifting::sample::fill_standard_normal;
use drifting::{
    CloudView, Kernel, MeanShiftConfig, MultiTemperatureConfig, Negatives, TwoAxisConfig,
    mean_shift_drift, multi_temperature_drift, multi_temperature_scratch_len, two_axis_scratch_len,
    two_axis_softmax_drift,
};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

fn cloud(seed: u64, n: usize, scale: f32, shift: [f32; 2]) -> Vec<[f32; 2]> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut flat = vec![0.0; 2 * n];
    fill_standard_normal(&mut rng, &mut flat);
    flat.chunks_exact(2)
        .map(|c| [c[0] * scale + shift[0], c[1] * scale + shift[1]])
        .collect()
}

fn mean_shift(x: &[[f32; 2]], p: &[[f32; 2]], neg: Negatives<'_, 2>, kernel: Kernel) -> Vec<f32> {
    let mut out = vec![0.0; 2 * x.len()];
    mean_shift_drift(
        &CloudView::from_points(x),
        &CloudView::from_points(p),
        neg,
        &MeanShiftConfig::new(kernel),
        &mut out,
    )
    .unwrap();
    out
}

fn two_axis(x: &[[f32; 2]], p: &[[f32; 2]], neg: Negatives<'_, 2>, kernel: Kernel) -> Vec<f32> {
    let q = match neg {
        Negatives::Queries => x.len(),
        Negatives::Cloud(c) => c.len(),
    };
    let mut out = vec![0.0; 2 * x.len()];
    let mut scratch = vec![0.0; two_axis_scratch_len(x.len(), p.len(), q)];
    two_axis_softmax_drift(
        &CloudView::from_points(x),
        &CloudView::from_points(p),
        neg,
        &TwoAxisConfig::new(kernel),
        &mut scratch,
        &mut out,
    )
    .unwrap();
    out
}

fn max_abs(v: &[f32]) -> f32 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

/// Positives equal to (separate) negatives: the attraction and the repulsion cancel. Mean shift
/// gives exactly 0 (the same sums in the same order); the two-axis drift `S·X − S·X` cancels to
/// within 1e-6 of the scale of its terms.
#[test]
fn zero_drift_when_positives_equal_negatives() {
    let x = cloud(1, 37, 0.5, [0.0, 0.0]);
    let y = cloud(2, 29, 0.5, [0.3, 0.1]);
    for kernel in [Kernel::laplace(0.1), Kernel::gaussian(0.2)] {
        let v = mean_shift(&x, &y, Negatives::Cloud(CloudView::from_points(&y)), kernel);
        assert_eq!(max_abs(&v), 0.0, "{kernel:?}");
        let v = two_axis(&x, &y, Negatives::Cloud(CloudView::from_points(&y)), kernel);
        let scale = max_abs(&two_axis(&x, &y, Negatives::Queries, kernel));
        assert!(
            max_abs(&v) <= 1e-6 * scale.max(1.0),
            "{kernel:?}: {}",
            max_abs(&v)
        );
    }
}

/// Translating every cloud by `c` leaves the field unchanged: exactly representable shifts
/// (points on a 2^-10 grid, shift 1000) change nothing beyond 1e-5 of the field's scale.
#[test]
fn drift_is_translation_equivariant() {
    let snap = |v: Vec<[f32; 2]>| -> Vec<[f32; 2]> {
        v.into_iter()
            .map(|p| p.map(|c| (c * 1024.0).round() / 1024.0))
            .collect()
    };
    let x = snap(cloud(3, 40, 0.5, [0.0, 0.0]));
    let y = snap(cloud(4, 33, 0.5, [0.4, -0.2]));
    let shift = |v: &[[f32; 2]]| -> Vec<[f32; 2]> {
        v.iter().map(|p| [p[0] + 1000.0, p[1] - 1000.0]).collect()
    };
    let (xs, ys) = (shift(&x), shift(&y));
    for kernel in [Kernel::laplace(0.05), Kernel::gaussian(0.2)] {
        let a = mean_shift(&x, &y, Negatives::Queries, kernel);
        let b = mean_shift(&xs, &ys, Negatives::Queries, kernel);
        assert!(
            max_diff(&a, &b) <= 1e-5 * max_abs(&a),
            "mean shift {kernel:?}: {}",
            max_diff(&a, &b)
        );
        let a = two_axis(&x, &y, Negatives::Queries, kernel);
        let b = two_axis(&xs, &ys, Negatives::Queries, kernel);
        assert!(
            max_diff(&a, &b) <= 1e-5 * max_abs(&a),
            "two-axis {kernel:?}: {}",
            max_diff(&a, &b)
        );
    }
    let config = MultiTemperatureConfig::official();
    let run = |x: &[[f32; 2]], y: &[[f32; 2]]| {
        let mut out = vec![0.0; 2 * x.len()];
        let mut scratch = vec![0.0; multi_temperature_scratch_len(x.len(), y.len(), 2)];
        multi_temperature_drift(
            &CloudView::from_points(x),
            &CloudView::from_points(y),
            &config,
            &mut scratch,
            &mut out,
        )
        .unwrap();
        out
    };
    let (a, b) = (run(&x, &y), run(&xs, &ys));
    assert!(
        max_diff(&a, &b) <= 1e-4 * max_abs(&a),
        "multi-temperature: {}",
        max_diff(&a, &b)
    );
}

/// Shuffling the positives (and the separate negatives) changes the field only by `f32`
/// summation order: within 1e-5 of its scale.
#[test]
fn drift_is_invariant_to_permuting_targets() {
    let x = cloud(5, 25, 0.5, [0.0, 0.0]);
    let y = cloud(6, 41, 0.5, [0.2, 0.2]);
    let q = cloud(7, 19, 0.5, [-0.2, 0.0]);
    let permute = |v: &[[f32; 2]]| -> Vec<[f32; 2]> {
        (0..v.len()).map(|k| v[(k * 7 + 3) % v.len()]).collect()
    };
    let (yp, qp) = (permute(&y), permute(&q));
    assert_ne!(y, yp);
    for kernel in [Kernel::laplace(0.05), Kernel::gaussian(0.2)] {
        let a = mean_shift(&x, &y, Negatives::Cloud(CloudView::from_points(&q)), kernel);
        let b = mean_shift(
            &x,
            &yp,
            Negatives::Cloud(CloudView::from_points(&qp)),
            kernel,
        );
        assert!(max_diff(&a, &b) <= 1e-5 * max_abs(&a));
        let a = two_axis(&x, &y, Negatives::Queries, kernel);
        let b = two_axis(&x, &yp, Negatives::Queries, kernel);
        assert!(max_diff(&a, &b) <= 1e-5 * max_abs(&a));
    }
}

/// `K / sqrt(rowsum ⊗ colsum) = sqrt(softmax_row · softmax_col)`: the official demo's
/// normalisation and the log-domain affinity of Algorithm 2 are the same matrix (checked in
/// `f64` on a random logit matrix, to 1e-14 relative), so computing `exp(l − r/2 − c/2)` is exact.
#[test]
fn demo_normalisation_equals_geometric_mean_of_softmaxes() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(8);
    let mut flat = vec![0.0_f32; 9 * 13];
    fill_standard_normal(&mut rng, &mut flat);
    let l: Vec<Vec<f64>> = flat
        .chunks_exact(13)
        .map(|r| r.iter().map(|&v| 3.0 * f64::from(v)).collect())
        .collect();
    let k: Vec<Vec<f64>> = l
        .iter()
        .map(|r| r.iter().map(|v| v.exp()).collect())
        .collect();
    let rowsum: Vec<f64> = k.iter().map(|r| r.iter().sum()).collect();
    let colsum: Vec<f64> = (0..13).map(|j| k.iter().map(|r| r[j]).sum()).collect();
    let r: Vec<f64> = l.iter().map(|row| reference::log_sum_exp(row)).collect();
    let c: Vec<f64> = (0..13)
        .map(|j| reference::log_sum_exp(&l.iter().map(|row| row[j]).collect::<Vec<_>>()))
        .collect();
    for i in 0..9 {
        for j in 0..13 {
            let demo = k[i][j] / (rowsum[i] * colsum[j]).sqrt();
            let geometric = ((l[i][j] - r[i]).exp() * (l[i][j] - c[j]).exp()).sqrt();
            let log_domain = (l[i][j] - r[i] / 2.0 - c[j] / 2.0).exp();
            assert!((demo - geometric).abs() <= 1e-14 * geometric);
            assert!((demo - log_domain).abs() <= 1e-14 * geometric);
        }
    }
}

/// Queries near the origin, data 50 away in each coordinate, `τ = 0.02`: every kernel value
/// underflows in `f32` (`exp(−3535)`), yet the mean-shift drift must be the exact displacement
/// to the data's nearest region (the `f64` reference's value, to 1e-5), not 0 or NaN. The same
/// for the two-axis drift, whose attraction is genuinely tiny but whose field must stay finite.
#[test]
fn far_away_cloud_at_small_temperature_gives_the_correct_drift() {
    let x = cloud(9, 20, 0.3, [0.0, 0.0]);
    let y = cloud(10, 30, 0.3, [50.0, 50.0]);
    let kernel = Kernel::laplace(0.02);
    let v = mean_shift(&x, &y, Negatives::Queries, kernel);
    assert!(v.iter().all(|c| c.is_finite()));
    let to_ref = |v: &[[f32; 2]]| {
        v.iter()
            .map(|p| p.iter().map(|&c| f64::from(c)).collect())
            .collect::<Vec<_>>()
    };
    let want = reference::mean_shift(
        &to_ref(&x),
        &to_ref(&y),
        None,
        reference::RefKernel::Laplace(0.02),
        1.0,
        true,
    );
    for (i, w) in want.iter().enumerate() {
        for d in 0..2 {
            assert!(
                (f64::from(v[d * 20 + i]) - w[d]).abs() <= 1e-5 * 50.0,
                "query {i}: {} vs {}",
                v[d * 20 + i],
                w[d]
            );
        }
        // The attraction dominates: about 50 along each axis.
        assert!(v[i] > 45.0 && v[20 + i] > 45.0);
    }
    let v = two_axis(&x, &y, Negatives::Queries, kernel);
    assert!(v.iter().all(|c| c.is_finite()));
}
