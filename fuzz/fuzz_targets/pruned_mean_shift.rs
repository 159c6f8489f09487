//! The pruned mean-shift drift: the same typed errors as the dense one, a finite field and a
//! finite bound otherwise; it agrees with the dense drift to its bound (plus `f32` rounding); zero
//! drift when the positives are the negatives.
#![no_main]

use arbitrary::Unstructured;
use drifting::spatial::BoundingBox;
use drifting::{
    CloudView, Kernel, MeanShiftConfig, Negatives, PrunedMeanShiftConfig, PrunedWorkspace,
    mean_shift_drift, pruned_mean_shift_drift, pruned_mean_shift_workspace_len,
};
use drifting_fuzz::cloud;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let (Ok(x), Ok(y), Ok(t), Ok(gaussian), Ok(separate), Ok(tolerance)) = (
        cloud::<2>(&mut u, 200),
        cloud::<2>(&mut u, 200),
        drifting_fuzz::scale(&mut u),
        u.arbitrary::<bool>(),
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
    let tolerance = [1e-6, 1e-3, 0.5, 0.0, f32::NAN][usize::from(tolerance)];
    let mean_shift = MeanShiftConfig::new(kernel);
    let (qv, pv) = (CloudView::from_points(&x), CloudView::from_points(&y));
    let negatives = || {
        if separate {
            Negatives::Cloud(pv)
        } else {
            Negatives::Queries
        }
    };
    let q = if separate { y.len() } else { 0 };
    let (keys, points, boxes) = pruned_mean_shift_workspace_len(x.len(), y.len(), q).unwrap();
    let empty = BoundingBox {
        min: [0.0; 2],
        max: [0.0; 2],
        count: 0,
    };
    let mut out = vec![0.0; 2 * x.len()];
    let result = pruned_mean_shift_drift(
        &qv,
        &pv,
        negatives(),
        &PrunedMeanShiftConfig {
            mean_shift,
            tolerance,
        },
        PrunedWorkspace {
            keys: &mut vec![0; keys],
            points: &mut vec![[0.0; 2]; points],
            boxes: &mut vec![empty; boxes],
        },
        &mut out,
    );
    let mut dense = vec![0.0; 2 * x.len()];
    let dense_result = mean_shift_drift(&qv, &pv, negatives(), &mean_shift, &mut dense);
    let valid_tolerance = tolerance > 0.0 && tolerance < 1.0;
    match (&result, &dense_result) {
        (Ok(report), Ok(())) => {
            assert!(valid_tolerance);
            assert!(report.bound.is_finite() && out.iter().all(|v| v.is_finite()));
            let n = x.len();
            for i in 0..n {
                let (d0, d1) = (out[i] - dense[i], out[n + i] - dense[n + i]);
                let difference = f64::from(d0).hypot(f64::from(d1));
                let reach = x
                    .iter()
                    .chain(&y)
                    .map(|p| f64::from(p[0] - x[i][0]).hypot(f64::from(p[1] - x[i][1])))
                    .fold(0.0, f64::max);
                let norm = f64::from(dense[i]).hypot(f64::from(dense[n + i]));
                // f32 rounding of two summation orders of means of up to `terms` displacements
                // no longer than `reach` (worst case, linear in the count).
                #[allow(clippy::cast_precision_loss)]
                let terms = (x.len() + 2 * y.len()) as f64;
                let rounding = 4.0 * terms * f64::from(f32::EPSILON) * reach;
                assert!(
                    difference <= report.bound + 1e-4 * norm + rounding + 1e-7,
                    "query {i}: {difference} > bound {} (t {t}, gaussian {gaussian}, separate {separate}, ε {tolerance}, n {}, p {}, x {:?}, pruned ({}, {}), dense ({}, {}), reach {reach}, report {report:?})",
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
            if separate {
                assert!(out.iter().all(|v| *v == 0.0), "{out:?}");
            }
        }
        (Err(e), Ok(())) => assert!(!valid_tolerance, "pruned refused valid input: {e:?}"),
        (Ok(_), Err(e)) => panic!("pruned accepted what the dense drift refused: {e:?}"),
        (Err(a), Err(b)) => assert!(!valid_tolerance || a == b, "{a:?} vs {b:?}"),
    }
});
