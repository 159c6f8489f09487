//! The pruned MMD-flow drift: the same typed errors as the dense one, a finite field and a
//! finite bound otherwise; it agrees with the dense flow to its bound (plus `f32` rounding); zero
//! field when the positives are the negatives.
#![no_main]

use arbitrary::Unstructured;
use drifting::spatial::BoundingBox;
use drifting::{
    CloudView, Kernel, MmdFlowConfig, Negatives, PrunedMmdFlowConfig, PrunedWorkspace,
    mmd_flow_drift, pruned_mmd_flow_drift, pruned_mmd_flow_workspace_len,
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
    let flow = MmdFlowConfig::new(kernel);
    let (qv, pv) = (CloudView::from_points(&x), CloudView::from_points(&y));
    let negatives = || {
        if separate {
            Negatives::Cloud(pv)
        } else {
            Negatives::Queries
        }
    };
    let q = if separate { y.len() } else { 0 };
    let (keys, points, boxes) = pruned_mmd_flow_workspace_len(x.len(), y.len(), q).unwrap();
    let empty = BoundingBox {
        min: [0.0; 2],
        max: [0.0; 2],
        count: 0,
    };
    let mut out = vec![0.0; 2 * x.len()];
    let result = pruned_mmd_flow_drift(
        &qv,
        &pv,
        negatives(),
        &PrunedMmdFlowConfig {
            mmd_flow: flow,
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
    let dense_result = mmd_flow_drift(&qv, &pv, negatives(), &flow, &mut dense);
    let valid_tolerance = tolerance > 0.0 && tolerance < 1.0;
    match (&result, &dense_result) {
        (Ok(report), Ok(())) => {
            assert!(valid_tolerance);
            assert!(report.bound.is_finite() && out.iter().all(|v| v.is_finite()));
            // The longest kernel gradient: 1/τ (Laplace), 1/(σ√e) (Gaussian); each side's sum
            // is a mean of terms no longer than that.
            let longest = if gaussian {
                1.0 / (f64::from(t) * core::f64::consts::E.sqrt())
            } else {
                1.0 / f64::from(t)
            };
            #[allow(clippy::cast_precision_loss)]
            let terms = (x.len() + 2 * y.len()) as f64;
            let n = x.len();
            for i in 0..n {
                let (d0, d1) = (out[i] - dense[i], out[n + i] - dense[n + i]);
                let difference = f64::from(d0).hypot(f64::from(d1));
                let norm = f64::from(dense[i]).hypot(f64::from(dense[n + i]));
                // f32 rounding of two summation orders of both sides' sums (worst case, linear
                // in the count).
                let rounding = 8.0 * terms * f64::from(f32::EPSILON) * longest;
                assert!(
                    difference <= report.bound + 1e-4 * norm + rounding + 1e-30,
                    "query {i}: {difference} > bound {} (t {t}, gaussian {gaussian}, separate {separate}, ε {tolerance}, n {}, p {}, x {:?}, pruned ({}, {}), dense ({}, {}), report {report:?})",
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
        (Ok(_), Err(e)) => panic!("pruned accepted what the dense flow refused: {e:?}"),
        (Err(a), Err(b)) => assert!(!valid_tolerance || a == b, "{a:?} vs {b:?}"),
    }
});
