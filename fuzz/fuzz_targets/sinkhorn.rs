//! The Sinkhorn solver, divergence and drift: typed errors for invalid points, weights, blur or
//! scaling; finite potentials, values and drift otherwise; `S_ε(a, a) = 0` exactly enough, and the
//! marginal error within tolerance whenever the solver reports convergence.
#![no_main]

use arbitrary::Unstructured;
use drifting::{
    CloudView, GroundCost, SinkhornConfig, SinkhornWorkspace, UpdateRule, WeightedCloud,
    sinkhorn_divergence, sinkhorn_drift,
};
use drifting_fuzz::{Expect, cloud, finite, scale, squared_diameter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let (
        Ok(x),
        Ok(y),
        Ok(blur),
        Ok(scaling_pick),
        Ok(alternating),
        Ok(squared),
        Ok(weight_pick),
        Ok(iterations),
    ) = (
        cloud::<2>(&mut u, 24),
        cloud::<2>(&mut u, 24),
        scale(&mut u),
        u.int_in_range(0u8..=5),
        u.arbitrary::<bool>(),
        u.arbitrary::<bool>(),
        u.int_in_range(0u8..=3),
        u.int_in_range(0usize..=60),
    )
    else {
        return;
    };
    let scaling = [
        None,
        Some(0.5),
        Some(0.9),
        Some(0.0),
        Some(1.0),
        Some(f32::NAN),
    ][usize::from(scaling_pick)];
    // Weights of x: uniform, explicit uniform, one-hot-ish, or not summing to one.
    let n = x.len();
    let weights: Option<Vec<f32>> = match weight_pick {
        0 => None,
        1 => Some(vec![1.0 / n.max(1) as f32; n]),
        2 => Some((0..n).map(|i| if i == 0 { 1.0 } else { 0.0 }).collect()),
        _ => Some(vec![0.7 / n.max(1) as f32; n]),
    };
    let config = SinkhornConfig {
        blur,
        cost: if squared {
            GroundCost::SquaredEuclidean
        } else {
            GroundCost::HalfSquaredEuclidean
        },
        update: if alternating {
            UpdateRule::Alternating
        } else {
            UpdateRule::Symmetric
        },
        scaling,
        tolerance: 1e-3,
        max_iterations: iterations,
    };
    let eps = blur * blur;
    let problem = x.is_empty()
        || y.is_empty()
        || !finite(&x)
        || !finite(&y)
        || !(blur.is_finite()
            && blur > 0.0
            && eps.is_finite()
            && eps > 0.0
            && (1.0 / eps).is_finite())
        || scaling_pick >= 3
        || (weight_pick == 3 && n > 0);
    let diameter2 = squared_diameter(&[&x, &y]);
    let factor = if squared { 1.0 } else { 0.5 };
    let expect = Expect::new(problem, diameter2, factor * diameter2 / f64::from(eps));
    let a = match &weights {
        Some(w) => WeightedCloud::weighted(CloudView::from_points(&x), w),
        None => WeightedCloud::uniform(CloudView::from_points(&x)),
    };
    let b = WeightedCloud::uniform(CloudView::from_points(&y));
    let mut buffer = vec![0.0; SinkhornWorkspace::required_len(x.len(), y.len())];
    let Ok(mut workspace) = SinkhornWorkspace::new(&mut buffer, x.len(), y.len()) else {
        panic!("workspace of the required length refused");
    };
    let result = sinkhorn_divergence(&a, &b, &config, &mut workspace);
    match result {
        Err(e) => assert!(expect != Expect::Valid, "valid input rejected: {e}"),
        Ok(s) => {
            assert!(expect != Expect::Invalid, "invalid input accepted");
            assert!(
                s.value.is_finite()
                    && s.transport_ab.is_finite()
                    && s.transport_aa.is_finite()
                    && s.transport_bb.is_finite(),
                "{s:?}"
            );
            assert!(
                workspace
                    .f()
                    .iter()
                    .chain(workspace.g())
                    .all(|v| v.is_finite())
            );
            for report in s.reports {
                assert!(
                    report.marginal_error.is_finite(),
                    "{report:?} x={x:?} y={y:?} w={weights:?} {config:?}"
                );
                if report.converged {
                    assert!(report.marginal_error <= config.tolerance, "{report:?}");
                }
            }
        }
    }
    if result.is_ok() {
        let mut out = vec![0.0; 2 * x.len()];
        let mut buffer = vec![0.0; SinkhornWorkspace::required_len(x.len(), y.len())];
        let mut workspace = SinkhornWorkspace::new(&mut buffer, x.len(), y.len()).unwrap();
        sinkhorn_drift(&a, &b, &config, &mut workspace, &mut out).unwrap();
        assert!(out.iter().all(|v| v.is_finite()), "{out:?}");
        // S_ε(a, a) = 0 for a cloud against itself (same weights, same solver path).
        let mut buffer = vec![0.0; SinkhornWorkspace::required_len(x.len(), x.len())];
        let mut workspace = SinkhornWorkspace::new(&mut buffer, x.len(), x.len()).unwrap();
        let s = sinkhorn_divergence(&a, &a, &config, &mut workspace).unwrap();
        if !s.reports.iter().all(|r| r.converged) {
            return;
        }
        // Exact up to the f32 rounding of the potentials, whose size is set by the squared
        // diameter when the ε schedule starts there (the alternating rule leaves one free
        // constant per well-separated cluster).
        let scale = f64::from(s.transport_aa.abs().max(s.transport_ab.abs()).max(eps));
        let tolerance = 1e-3 * scale + if alternating { 1e-6 * diameter2 } else { 0.0 };
        assert!(
            f64::from(s.value.abs()) <= tolerance,
            "S(a, a) = {} (OT(a, a) = {}) x={x:?} w={weights:?} {config:?}",
            s.value,
            s.transport_aa
        );
    }
});
