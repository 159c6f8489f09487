//! The Sinkhorn solver, divergence, drift and proxy drift: typed errors for invalid points,
//! weights, blur, ε or scaling (including schedules longer than `MAX_SCALING_STEPS`, refused at
//! once); finite potentials, values and drifts otherwise; `S_ε(a, a) = 0` exactly enough; and for
//! every solve the report's contract (issue 15): `converged ⇔ marginal_error ≤ tolerance`, never
//! `converged` and `stalled` together, at most `max_iterations` iterations, and a solve that
//! neither converged nor stalled ran its cap. The proxy drift follows the same range contract as
//! the Sinkhorn drift (issue 15: it returned all-NaN fields as `Ok`).
#![no_main]

use arbitrary::Unstructured;
use drifting::sinkhorn::sinkhorn_proxy_scratch_len;
use drifting::{
    CloudView, GroundCost, SinkhornConfig, SinkhornReport, SinkhornWorkspace, UpdateRule,
    WeightedCloud, sinkhorn_divergence, sinkhorn_drift, sinkhorn_proxy_drift,
};
use drifting_fuzz::{Expect, check_contract, cloud, finite, scale, squared_diameter};

/// The report contract of every solve.
fn check_report(report: &SinkhornReport, config: &SinkhornConfig) {
    assert!(report.marginal_error.is_finite(), "{report:?}");
    assert_eq!(
        report.converged,
        report.marginal_error <= config.tolerance,
        "converged ⇔ error ≤ tolerance: {report:?} {config:?}"
    );
    assert!(!(report.converged && report.stalled), "{report:?}");
    assert!(report.iterations <= config.max_iterations, "{report:?}");
    if !report.converged && !report.stalled {
        assert_eq!(
            report.iterations, config.max_iterations,
            "stopped early: {report:?}"
        );
    }
}
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
        Ok(tolerance_pick),
        Ok(direct_epsilon),
    ) = (
        cloud::<2>(&mut u, 24),
        cloud::<2>(&mut u, 24),
        scale(&mut u),
        u.int_in_range(0u8..=7),
        u.arbitrary::<bool>(),
        u.arbitrary::<bool>(),
        u.int_in_range(0u8..=3),
        u.int_in_range(0usize..=300),
        u.int_in_range(0u8..=4),
        u.arbitrary::<bool>(),
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
        Some(0.999_999_94),
        Some(0.99),
    ][usize::from(scaling_pick)];
    // Weights of x: uniform, explicit uniform, one-hot-ish, or not summing to one.
    let n = x.len();
    let weights: Option<Vec<f32>> = match weight_pick {
        0 => None,
        1 => Some(vec![1.0 / n.max(1) as f32; n]),
        2 => Some((0..n).map(|i| if i == 0 { 1.0 } else { 0.0 }).collect()),
        _ => Some(vec![0.7 / n.max(1) as f32; n]),
    };
    // Tolerances from ordinary to below the f32 floor (which must end as stalled, not at the cap).
    let tolerance = [1e-3, 1e-1, 1e-6, 1e-12, 0.0][usize::from(tolerance_pick)];
    let config = SinkhornConfig {
        blur,
        // ε given directly instead of through the blur (then the blur is ignored).
        epsilon: direct_epsilon.then_some(blur),
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
        tolerance,
        max_iterations: iterations,
        ..SinkhornConfig::default()
    };
    let eps = config.epsilon();
    let diameter2 = squared_diameter(&[&x, &y]);
    let problem = x.is_empty()
        || y.is_empty()
        || !finite(&x)
        || !finite(&y)
        || !((direct_epsilon || (blur.is_finite() && blur > 0.0))
            && eps.is_finite()
            && eps > 0.0
            && (1.0 / eps).is_finite())
        || f64::from(eps) > 1e34
        // 0, 1, NaN, and 0.99999994 above MAX_SCALING (whose schedules would be tens of
        // millions of steps long).
        || (3..=6).contains(&scaling_pick)
        || (weight_pick == 3 && n > 0);
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
    // The proxy drift: the same range contract as the solver's, finite output when accepted.
    let mut proxy_out = vec![0.0; 2 * x.len()];
    let mut proxy_scratch = vec![0.0; sinkhorn_proxy_scratch_len(x.len(), y.len())];
    let proxy = sinkhorn_proxy_drift(&a, &b, &config, &mut proxy_scratch, &mut proxy_out);
    // The proxy validates the whole configuration but runs no iterations.
    let proxy_problem = x.is_empty()
        || y.is_empty()
        || !finite(&x)
        || !finite(&y)
        || !((direct_epsilon || (blur.is_finite() && blur > 0.0))
            && eps.is_finite()
            && eps > 0.0
            && (1.0 / eps).is_finite())
        || (3..=6).contains(&scaling_pick)
        || (weight_pick == 3 && n > 0);
    check_contract(
        Expect::new(
            proxy_problem,
            diameter2,
            factor * diameter2 / f64::from(eps),
        ),
        proxy,
        &proxy_out,
        "sinkhorn_proxy_drift",
    );
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
                check_report(&report, &config);
            }
        }
    }
    if result.is_ok() {
        let mut out = vec![0.0; 2 * x.len()];
        let mut buffer = vec![0.0; SinkhornWorkspace::required_len(x.len(), y.len())];
        let mut workspace = SinkhornWorkspace::new(&mut buffer, x.len(), y.len()).unwrap();
        let reports = sinkhorn_drift(&a, &b, &config, &mut workspace, &mut out).unwrap();
        assert!(out.iter().all(|v| v.is_finite()), "{out:?}");
        for report in &reports {
            check_report(report, &config);
        }
        // A warm start from the potentials just computed: same contract, no schedule.
        let warm = SinkhornConfig {
            warm_start: true,
            ..config
        };
        let reports = sinkhorn_drift(&a, &b, &warm, &mut workspace, &mut out).unwrap();
        assert!(out.iter().all(|v| v.is_finite()), "{out:?}");
        for report in &reports {
            check_report(report, &warm);
            assert_eq!(report.scaling_steps, 0);
        }
        // S_ε(a, a) = 0 for a cloud against itself (same weights, same solver path).
        let mut buffer = vec![0.0; SinkhornWorkspace::required_len(x.len(), x.len())];
        let mut workspace = SinkhornWorkspace::new(&mut buffer, x.len(), x.len()).unwrap();
        let s = sinkhorn_divergence(&a, &a, &config, &mut workspace).unwrap();
        // Only for solves converged to 1e-3 or better (the bound below assumes it), and only
        // where f32 potentials resolve the plan: above `C_max/ε ≈ 2^24` one ulp of a potential
        // exceeds ε, the iteration degenerates into alternating c-transforms whose fixed points
        // need not be optimal, and the measured marginal error is 0 or huge, never a true error
        // (documented on `UpdateRule`; found by this target at C_max/ε = 7e16).
        if !s.reports.iter().all(|r| r.converged)
            || config.tolerance > 1e-3
            || factor * diameter2 / f64::from(eps) > 1e6
        {
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
