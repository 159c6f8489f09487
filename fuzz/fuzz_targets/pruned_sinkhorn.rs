//! The pruned Sinkhorn divergence: the same typed errors as the dense one (plus the pruning
//! tolerance's); finite values and potentials otherwise, the report contract of every solve, at
//! most as many pairs evaluated as the dense softmins have; and, when both took the same path
//! (iterations, and the iteration at which symmetric updates handed over to alternating ones),
//! the same value as the dense divergence to within its certified bound `2B_ab + B_aa + B_bb`
//! plus the `f32` rounding of `K` softmins (`tests/pruned_sinkhorn.rs`; found here: the
//! rounding of one softmin grows with `C_max`, not only with the potentials). The pruned drift
//! on the same input: the dense drift's typed errors (plus the tolerance's), a finite field and
//! sound reports otherwise. The multiscale divergence and drift (clusters of a fuzzed scale,
//! invalid ones included): the pruned calls' errors plus the cluster scale's; finite values,
//! potentials and field otherwise, fine solves at the target from the first iteration, the
//! report contract of every solve and cluster counts within the clouds' sizes.
#![no_main]

use arbitrary::Unstructured;
use drifting::spatial::BoundingBox;
use drifting::{
    CloudView, MultiscaleSinkhornConfig, MultiscaleSinkhornWorkspace, PrunedSinkhornConfig, PrunedSinkhornWorkspace, PrunedWorkspace, SinkhornConfig,
    SinkhornWorkspace, UpdateRule, WeightedCloud, pruned_sinkhorn_divergence,
    multiscale_sinkhorn_divergence, multiscale_sinkhorn_drift, multiscale_sinkhorn_workspace_len,
    pruned_sinkhorn_drift, pruned_sinkhorn_workspace_len, sinkhorn_divergence, sinkhorn_drift,
};
use drifting_fuzz::{cloud, scale, squared_diameter};
use libfuzzer_sys::fuzz_target;

/// `base` repeated `copies` times, copy `k` moved by `k·spacing` along the first axis (clouds
/// of several tiles, some far apart).
fn replicated(base: &[[f32; 2]], copies: usize, spacing: f32) -> Vec<[f32; 2]> {
    (0..copies)
        .flat_map(|k| base.iter().map(move |&[u, v]| [u + k as f32 * spacing, v]))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let (
        Ok(x_base),
        Ok(y_base),
        Ok(copies),
        Ok(spacing_pick),
        Ok(blur),
        Ok(scaling_pick),
        Ok(alternating),
        Ok(iterations),
        Ok(tolerance_pick),
        Ok(pruning_pick),
        Ok(weight_bytes),
        Ok(cluster_pick),
    ) = (
        cloud::<2>(&mut u, 24),
        cloud::<2>(&mut u, 24),
        u.int_in_range(1usize..=10),
        u.int_in_range(0u8..=3),
        scale(&mut u),
        u.int_in_range(0u8..=3),
        u.arbitrary::<bool>(),
        u.int_in_range(0usize..=200),
        u.int_in_range(0u8..=2),
        u.int_in_range(0u8..=5),
        u.arbitrary::<Vec<u8>>(),
        u.int_in_range(0u8..=5),
    )
    else {
        return;
    };
    let spacing = [0.0, 0.5, 3.0, 1e3][usize::from(spacing_pick)];
    let x = replicated(&x_base, copies, spacing);
    let y = replicated(&y_base, copies.div_ceil(2), spacing);
    let (n, m) = (x.len(), y.len());
    // Weights of x from the bytes (zeros included), uniform when there are too few bytes.
    let weights: Option<Vec<f32>> = (weight_bytes.len() >= n && n > 0).then(|| {
        let raw: Vec<f64> = weight_bytes[..n]
            .iter()
            .map(|&b| f64::from(b % 8))
            .collect();
        let total: f64 = raw.iter().sum();
        if total > 0.0 {
            raw.iter().map(|w| (w / total) as f32).collect()
        } else {
            vec![1.0 / n as f32; n]
        }
    });
    let sinkhorn = SinkhornConfig {
        blur,
        update: if alternating {
            UpdateRule::Alternating
        } else {
            UpdateRule::Symmetric
        },
        scaling: [None, Some(0.5), Some(0.9), Some(f32::NAN)][usize::from(scaling_pick)],
        tolerance: [1e-3, 1e-6, 0.0][usize::from(tolerance_pick)],
        max_iterations: iterations,
        ..SinkhornConfig::default()
    };
    let tolerance = [1e-6, 1e-3, 0.5, 1e-8, 0.0, f32::NAN][usize::from(pruning_pick)];
    let a = match &weights {
        Some(w) => WeightedCloud::weighted(CloudView::from_points(&x), w),
        None => WeightedCloud::uniform(CloudView::from_points(&x)),
    };
    let b = WeightedCloud::uniform(CloudView::from_points(&y));

    let mut dense_buffer = vec![0.0; SinkhornWorkspace::required_len(n, m)];
    let mut dense_workspace = SinkhornWorkspace::new(&mut dense_buffer, n, m).unwrap();
    let dense = sinkhorn_divergence(&a, &b, &sinkhorn, &mut dense_workspace);

    let (keys, points, boxes, values) = pruned_sinkhorn_workspace_len(n, m).unwrap();
    let empty = BoundingBox {
        min: [0.0; 2],
        max: [0.0; 2],
        count: 0,
    };
    let mut buffer = vec![0.0; SinkhornWorkspace::required_len(n, m)];
    let mut keys = vec![0; keys];
    let mut points = vec![[0.0; 2]; points];
    let mut boxes = vec![empty; boxes];
    let mut values = vec![0.0; values];
    let mut workspace = PrunedSinkhornWorkspace {
        sinkhorn: SinkhornWorkspace::new(&mut buffer, n, m).unwrap(),
        spatial: PrunedWorkspace {
            keys: &mut keys,
            points: &mut points,
            boxes: &mut boxes,
        },
        values: &mut values,
    };
    let config = PrunedSinkhornConfig {
        sinkhorn,
        tolerance,
    };
    let valid_tolerance = tolerance > 0.0 && tolerance < 1.0;
    let mut field = vec![f32::NAN; 2 * n];
    let pruned_field = pruned_sinkhorn_drift(&a, &b, &config, &mut workspace, &mut field);
    let mut drift_buffer = vec![0.0; SinkhornWorkspace::required_len(n, m)];
    let mut drift_workspace = SinkhornWorkspace::new(&mut drift_buffer, n, m).unwrap();
    let mut dense_field = vec![0.0; 2 * n];
    let dense_drift = sinkhorn_drift(&a, &b, &sinkhorn, &mut drift_workspace, &mut dense_field);
    match (&pruned_field, &dense_drift) {
        (Err(p), Err(d)) => assert_eq!(p, d, "the dense drift's error first"),
        (Err(p), Ok(_)) => assert!(
            !valid_tolerance && *p == drifting::Error::InvalidParameter { input: "tolerance" },
            "pruned drift refused valid input: {p:?}"
        ),
        (Ok(_), Err(d)) => panic!("pruned drift accepted what the dense drift refused: {d:?}"),
        (Ok((solves, reports)), Ok(_)) => {
            assert!(valid_tolerance);
            assert!(field.iter().all(|v| v.is_finite()), "{field:?}");
            for r in reports {
                assert!(r.evaluated <= r.pairs && r.bound.is_finite() && r.bound >= 0.0);
            }
            for report in solves {
                assert_eq!(
                    report.converged,
                    report.marginal_error <= sinkhorn.tolerance
                );
            }
        }
    }
    let pruned = pruned_sinkhorn_divergence(&a, &b, &config, &mut workspace);
    match (&pruned, &dense) {
        (Err(p), Err(d)) => assert_eq!(p, d, "the dense divergence's error first"),
        (Err(p), Ok(_)) => assert!(
            !valid_tolerance && *p == drifting::Error::InvalidParameter { input: "tolerance" },
            "pruned refused valid input: {p:?}"
        ),
        (Ok(_), Err(d)) => panic!("pruned accepted what the dense divergence refused: {d:?}"),
        (Ok((p, reports)), Ok(d)) => {
            assert!(valid_tolerance);
            let s = &workspace.sinkhorn;
            let potentials: Vec<f32> = [s.f(), s.g(), s.f_aa(), s.g_bb()].concat();
            assert!(potentials.iter().all(|v| v.is_finite()));
            assert!(
                [p.value, p.transport_ab, p.transport_aa, p.transport_bb]
                    .iter()
                    .all(|v| v.is_finite()),
                "{p:?}"
            );
            let sizes = [n * m, n * n, m * m];
            let mut softmins = 0_u64;
            for ((r, report), size) in reports.iter().zip(&p.reports).zip(sizes) {
                assert!(r.evaluated <= r.pairs && r.bound.is_finite() && r.bound >= 0.0);
                assert_eq!(r.pairs % size as u64, 0, "{r:?}");
                softmins += r.pairs / size as u64;
                assert_eq!(
                    report.converged,
                    report.marginal_error <= sinkhorn.tolerance
                );
                assert!(!(report.converged && report.stalled));
                assert!(report.iterations <= sinkhorn.max_iterations);
            }
            // Agreement, where both solves took the same path (the same iterations, and with
            // symmetric updates the same switch to alternating ones: found here, a switch
            // decided one iteration apart in the two solves moves an unconverged value by
            // 1e-2) and f32 resolves the plan (`C_max/ε ≤ 1e6`, documented on `UpdateRule`).
            let same = p.reports.iter().zip(&d.reports).all(|(q, r)| {
                (q.iterations, q.scaling_steps, q.alternating_from)
                    == (r.iterations, r.scaling_steps, r.alternating_from)
            });
            let eps = f64::from(sinkhorn.epsilon());
            let range = 0.5 * squared_diameter(&[&x, &y]) / eps;
            if same && range <= 1e6 {
                let largest = potentials
                    .iter()
                    .fold(0.0_f64, |l, &v| l.max(f64::from(v).abs()));
                // Per softmin about `2⁻²⁴(|f|_max + C_max + ε ln N)`: the logits `β_j − C_ij/ε`
                // are differences of terms up to `C_max/ε`.
                let unit = f64::from(f32::EPSILON);
                let rounding = 8.0
                    * unit
                    * (largest + eps * range + eps * ((n + m) as f64).ln())
                    * (2 * softmins) as f64;
                let bound = 2.0 * reports[0].bound + reports[1].bound + reports[2].bound;
                let difference = (f64::from(p.value) - f64::from(d.value)).abs();
                assert!(
                    difference <= bound + rounding + 1e-6 * f64::from(d.transport_ab.abs()),
                    "|ΔS| = {difference:e} > {bound:e} + {rounding:e}: pruned {p:?} dense {d:?} reports {reports:?}"
                );
            }
        }
    }
    // The multiscale calls on the same input, in the pruned calls' buffers (nothing is read
    // from them: the multiscale calls refuse a warm start).
    let cluster_scale = [0.05, 1e-3, 10.0, 0.0, f32::NAN, 1e30][usize::from(cluster_pick)];
    let valid_scale = cluster_scale > 0.0 && cluster_scale.is_finite();
    let multiscale = MultiscaleSinkhornConfig {
        pruned: config,
        cluster_scale,
    };
    let (clusters, coarse) = multiscale_sinkhorn_workspace_len(n, m).unwrap();
    let (mut clusters, mut coarse) = (vec![[0.0; 2]; clusters], vec![0.0; coarse]);
    let mut workspace = MultiscaleSinkhornWorkspace {
        fine: workspace,
        clusters: &mut clusters,
        values: &mut coarse,
    };
    let scale_error = drifting::Error::InvalidParameter {
        input: "cluster_scale",
    };
    let check_report = |report: &drifting::MultiscaleReport| {
        let [kx, ky] = report.clusters;
        assert!((1..=n).contains(&kx) && (1..=m).contains(&ky), "{report:?}");
        for r in report.coarse_pruning.iter().chain(&report.fine_pruning) {
            assert!(r.evaluated <= r.pairs && r.bound.is_finite() && r.bound >= 0.0);
        }
    };
    let mut field = vec![f32::NAN; 2 * n];
    match (
        multiscale_sinkhorn_drift(&a, &b, &multiscale, &mut workspace, &mut field),
        &pruned_field,
    ) {
        (Err(e), Err(p)) => assert!(e == *p || (!valid_scale && e == scale_error), "{e:?} {p:?}"),
        (Err(e), Ok(_)) => assert!(!valid_scale && e == scale_error, "refused: {e:?}"),
        (Ok(_), Err(p)) => panic!("multiscale drift accepted what the pruned one refused: {p:?}"),
        (Ok((solves, report)), Ok(_)) => {
            assert!(valid_scale);
            assert!(field.iter().all(|v| v.is_finite()), "{field:?}");
            check_report(&report);
            // The fine solves start at the target ε from the extrapolation, unless each cloud
            // is one cluster: then from zero with the configured schedule.
            for r in solves {
                assert!(report.clusters == [1, 1] || r.scaling_steps == 0, "{report:?}");
                assert_eq!(r.converged, r.marginal_error <= sinkhorn.tolerance);
            }
        }
    }
    match (
        multiscale_sinkhorn_divergence(&a, &b, &multiscale, &mut workspace),
        &pruned,
    ) {
        (Err(e), Err(p)) => assert!(e == *p || (!valid_scale && e == scale_error), "{e:?} {p:?}"),
        (Err(e), Ok(_)) => assert!(!valid_scale && e == scale_error, "refused: {e:?}"),
        (Ok(_), Err(p)) => panic!("multiscale accepted what the pruned divergence refused: {p:?}"),
        (Ok((divergence, report)), Ok(_)) => {
            assert!(valid_scale);
            check_report(&report);
            let s = &workspace.fine.sinkhorn;
            assert!(
                [s.f(), s.g(), s.f_aa(), s.g_bb()]
                    .iter()
                    .all(|p| p.iter().all(|v| v.is_finite()))
            );
            assert!(divergence.value.is_finite(), "{divergence:?}");
            for r in &divergence.reports {
                assert!(report.clusters == [1, 1] || r.scaling_steps == 0, "{report:?}");
                assert_eq!(r.converged, r.marginal_error <= sinkhorn.tolerance);
                assert!(!(r.converged && r.stalled));
                assert!(r.iterations <= sinkhorn.max_iterations);
            }
        }
    }
});
