//! The pruned two-axis drift: the same typed errors as the dense one (plus the tolerance's), a
//! finite field and a finite bound otherwise; it agrees with the dense drift to its bound plus
//! `f32` rounding; zero drift when the negatives are the positives.
#![no_main]

use arbitrary::Unstructured;
use drifting::spatial::BoundingBox;
use drifting::{
    CloudView, Kernel, Negatives, PrunedTwoAxisConfig, PrunedTwoAxisWorkspace, PrunedWorkspace,
    SelfMask, TwoAxisConfig, pruned_two_axis_drift, pruned_two_axis_workspace_len,
    two_axis_scratch_len, two_axis_softmax_drift,
};
use drifting_fuzz::cloud;
use libfuzzer_sys::fuzz_target;

/// Per query, in `f64`: the absolute sum `Σ A_ij A_ik (‖y+_j − x_i‖ + ‖y−_k − x_i‖)` the rounding
/// of both evaluations is relative to, and the largest `|l|`, `|r|`, `|c|` (the `f32` exponents
/// `l − r/2 − c/2` are rounded relative to those).
fn rounding_scale(
    x: &[[f32; 2]],
    y: &[[f32; 2]],
    negatives: Option<&[[f32; 2]]>,
    kernel: Kernel,
    self_mask: SelfMask,
) -> (Vec<f64>, f64) {
    let negs = negatives.unwrap_or(x);
    let targets: Vec<[f32; 2]> = y.iter().chain(negs).copied().collect();
    let (n, p, t) = (x.len(), y.len(), targets.len());
    let logit = |d: f64| match kernel {
        Kernel::Laplace { temperature } => -d / f64::from(temperature),
        Kernel::Gaussian { bandwidth } => -d * d / (2.0 * f64::from(bandwidth).powi(2)),
    };
    let distance = |a: &[f32; 2], b: &[f32; 2]| {
        (f64::from(a[0]) - f64::from(b[0])).hypot(f64::from(a[1]) - f64::from(b[1]))
    };
    let mut logits = vec![f64::NEG_INFINITY; n * t];
    for (i, a) in x.iter().enumerate() {
        for (j, b) in targets.iter().enumerate() {
            let d = distance(a, b);
            logits[i * t + j] = match self_mask {
                _ if negatives.is_some() || j != p + i => logit(d),
                SelfMask::AddDistance(add) => logit(d + f64::from(add)),
                SelfMask::Exclude => f64::NEG_INFINITY,
            };
        }
    }
    let lse = |v: Vec<f64>| {
        let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if m == f64::NEG_INFINITY {
            m
        } else {
            m + v.iter().map(|l| (l - m).exp()).sum::<f64>().ln()
        }
    };
    let rows: Vec<f64> = (0..n)
        .map(|i| lse(logits[i * t..(i + 1) * t].to_vec()))
        .collect();
    let columns: Vec<f64> = (0..t)
        .map(|j| lse((0..n).map(|i| logits[i * t + j]).collect()))
        .collect();
    let mut exponent = 0.0_f64;
    for v in logits.iter().chain(&rows).chain(&columns) {
        if v.is_finite() {
            exponent = exponent.max(v.abs());
        }
    }
    let absolute = (0..n)
        .map(|i| {
            let (mut s, mut m) = ([0.0_f64; 2], [0.0_f64; 2]);
            for j in 0..t {
                let l = logits[i * t + j];
                if l > f64::NEG_INFINITY {
                    let a = (l - rows[i] / 2.0 - columns[j] / 2.0).exp();
                    let side = usize::from(j >= p);
                    s[side] += a;
                    m[side] += a * distance(&x[i], &targets[j]);
                }
            }
            s[1] * m[0] + s[0] * m[1]
        })
        .collect();
    (absolute, exponent)
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let (Ok(x), Ok(y), Ok(z), Ok(t), Ok(gaussian), Ok(which), Ok(mask), Ok(tolerance)) = (
        cloud::<2>(&mut u, 150),
        cloud::<2>(&mut u, 150),
        cloud::<2>(&mut u, 150),
        drifting_fuzz::scale(&mut u),
        u.arbitrary::<bool>(),
        u.int_in_range(0u8..=2),
        u.arbitrary::<bool>(),
        u.int_in_range(0u8..=4),
    ) else {
        return;
    };
    let kernel = if gaussian {
        Kernel::gaussian(t)
    } else {
        Kernel::laplace(t)
    };
    let self_mask = if mask {
        SelfMask::OFFICIAL_DEMO
    } else {
        SelfMask::Exclude
    };
    let tolerance = [1e-6, 1e-3, 0.5, 0.0, f32::NAN][usize::from(tolerance)];
    let two_axis = TwoAxisConfig {
        self_mask,
        ..TwoAxisConfig::new(kernel)
    };
    // The negatives: the queries, the positives (the drift vanishes), or their own cloud.
    let negatives_points: Option<&[[f32; 2]]> = match which {
        0 => None,
        1 => Some(&y),
        _ => Some(&z),
    };
    let (qv, pv) = (CloudView::from_points(&x), CloudView::from_points(&y));
    let negatives = || {
        negatives_points.map_or(Negatives::Queries, |z| {
            Negatives::Cloud(CloudView::from_points(z))
        })
    };
    let q = negatives_points.map_or(0, <[_]>::len);
    let (keys, points, boxes, values) = pruned_two_axis_workspace_len(x.len(), y.len(), q).unwrap();
    let empty = BoundingBox {
        min: [0.0; 2],
        max: [0.0; 2],
        count: 0,
    };
    let mut out = vec![0.0; 2 * x.len()];
    let result = pruned_two_axis_drift(
        &qv,
        &pv,
        negatives(),
        &PrunedTwoAxisConfig {
            two_axis,
            tolerance,
        },
        PrunedTwoAxisWorkspace {
            spatial: PrunedWorkspace {
                keys: &mut vec![0; keys],
                points: &mut vec![[0.0; 2]; points],
                boxes: &mut vec![empty; boxes],
            },
            normalisers: &mut vec![0.0; values],
        },
        &mut out,
    );
    let mut dense = vec![0.0; 2 * x.len()];
    let mut scratch = vec![0.0; two_axis_scratch_len(x.len(), y.len(), q.max(x.len()))];
    let dense_result =
        two_axis_softmax_drift(&qv, &pv, negatives(), &two_axis, &mut scratch, &mut dense);
    let valid_tolerance = tolerance > 0.0 && tolerance < 1.0;
    match (&result, &dense_result) {
        (Ok(report), Ok(())) => {
            assert!(valid_tolerance);
            assert!(report.bound.is_finite() && out.iter().all(|v| v.is_finite()));
            if which == 1 {
                assert!(out.iter().all(|v| *v == 0.0), "{out:?}");
                return;
            }
            let (absolute, exponent) = rounding_scale(&x, &y, negatives_points, kernel, self_mask);
            let n = x.len();
            #[allow(clippy::cast_precision_loss)]
            let terms = (x.len() + y.len() + q.max(x.len())) as f64;
            let unit = f64::from(f32::EPSILON);
            // The exponents `l − r/2 − c/2` are rounded relative to their parts: past a relative
            // error of the affinities of about 50 % (logits near 1e6 and beyond) neither f32
            // evaluation (nor the f64 scale) means anything; only the contract is checked.
            let exponent_error = 8.0 * unit * (1.0 + exponent);
            if exponent_error > 0.5 {
                return;
            }
            for i in 0..n {
                let difference =
                    f64::from(out[i] - dense[i]).hypot(f64::from(out[n + i] - dense[n + i]));
                let norm = f64::from(dense[i]).hypot(f64::from(dense[n + i]));
                // f32 rounding of two summation orders of up to `terms` terms, and of the
                // exponents `l − r/2 − c/2` (relative to their parts' magnitude).
                let rounding = absolute[i] * (4.0 * terms * unit + exponent_error.exp_m1());
                assert!(
                    difference <= report.bound + 1e-4 * norm + rounding + 1e-30,
                    "query {i}: {difference} > bound {} + {rounding} (t {t}, gaussian {gaussian}, negatives {which}, mask {mask}, ε {tolerance}, n {}, p {}, q {q}, x {:?}, pruned ({}, {}), dense ({}, {}), report {report:?})",
                    report.bound,
                    x.len(),
                    y.len(),
                    x[i],
                    out[i],
                    out[n + i],
                    dense[i],
                    dense[n + i]
                );
            }
        }
        (Err(e), Ok(())) => assert!(!valid_tolerance, "pruned refused valid input: {e:?}"),
        (Ok(_), Err(e)) => panic!("pruned accepted what the dense drift refused: {e:?}"),
        (Err(a), Err(b)) => assert!(!valid_tolerance || a == b, "{a:?} vs {b:?}"),
    }
});
