//! Regression tests for what the fuzz targets (`fuzz/`) found: each case is the minimised input
//! of a crash, with the contract it broke.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use drifting::{
    CloudView, Error, Kernel, MeanShiftConfig, MultiTemperatureConfig, Negatives, SinkhornConfig,
    SinkhornWorkspace, TwoAxisConfig, UpdateRule, WeightedCloud, mean_shift_drift,
    multi_temperature_drift, multi_temperature_scratch_len, sinkhorn_divergence,
    stop_gradient_loss, two_axis_scratch_len, two_axis_softmax_drift,
};

/// `fuzz/mean_shift`, `fuzz/two_axis`: points `±3e38` apart made every squared distance `+∞`
/// and the drift NaN. Now: [`Error::OutOfRange`] for points more than `1e18` apart.
#[test]
fn points_too_far_apart_are_out_of_range() {
    let x = [[-3e38_f32, 0.0], [3e38, 0.0]];
    let y = [[0.0_f32, 0.0]];
    let (xv, yv) = (CloudView::from_points(&x), CloudView::from_points(&y));
    let mut out = [0.0; 4];
    let result = mean_shift_drift(
        &xv,
        &yv,
        Negatives::Queries,
        &MeanShiftConfig::new(Kernel::laplace(0.1)),
        &mut out,
    );
    assert_eq!(result, Err(Error::OutOfRange { input: "points" }));
    let mut scratch = [0.0; 8];
    let result = two_axis_softmax_drift(
        &xv,
        &yv,
        Negatives::Queries,
        &TwoAxisConfig::new(Kernel::gaussian(1.0)),
        &mut scratch,
        &mut out,
    );
    assert_eq!(result, Err(Error::OutOfRange { input: "points" }));
    // 1e17 apart is still fine, and the drift is finite.
    let x = [[-5e16_f32, 0.0], [5e16, 0.0]];
    let xv = CloudView::from_points(&x);
    mean_shift_drift(
        &xv,
        &yv,
        Negatives::Queries,
        &MeanShiftConfig::new(Kernel::laplace(1e17)),
        &mut out,
    )
    .unwrap();
    assert!(out.iter().all(|v| v.is_finite()));
}

/// `fuzz/two_axis`: a temperature so small that logits overflowed (`−∞ − (−∞)` = NaN in the
/// affinity). Now: [`Error::OutOfRange`] naming the temperature when a logit would exceed `1e28`.
#[test]
fn temperatures_too_small_for_the_extent_are_out_of_range() {
    let x = [[0.0_f32, 0.0], [1.0, 0.0]];
    let (xv, yv) = (CloudView::from_points(&x), CloudView::from_points(&x));
    let mut out = [0.0; 4];
    let mut scratch = vec![0.0; two_axis_scratch_len(2, 2, 2)];
    let tiny = TwoAxisConfig::new(Kernel::laplace(1e-30));
    assert_eq!(
        two_axis_softmax_drift(&xv, &yv, Negatives::Queries, &tiny, &mut scratch, &mut out),
        Err(Error::OutOfRange {
            input: "temperature"
        })
    );
    // The official +1e6 self-mask distance counts too: 1e6/1e-24 = 1e30 > 1e28.
    let masked = TwoAxisConfig {
        kernel: Kernel::laplace(1e-24),
        ..TwoAxisConfig::official_demo()
    };
    assert_eq!(
        two_axis_softmax_drift(
            &xv,
            &yv,
            Negatives::Queries,
            &masked,
            &mut scratch,
            &mut out
        ),
        Err(Error::OutOfRange {
            input: "temperature"
        })
    );
    // A small but representable range works, and a one-point row stays finite.
    let small = TwoAxisConfig::new(Kernel::laplace(1e-20));
    two_axis_softmax_drift(&xv, &yv, Negatives::Queries, &small, &mut scratch, &mut out).unwrap();
    assert!(out.iter().all(|v| v.is_finite()), "{out:?}");
}

/// `fuzz/multi_temperature`: weights near `3e38` overflowed the weighted distance scale to `+∞`.
/// Now: weights above [`drifting::drift::multi_temperature::MAX_WEIGHT`] are out of range.
#[test]
fn huge_multi_temperature_weights_are_out_of_range() {
    let x = [[0.0_f32, 0.0, 0.0], [1.0, 0.0, 0.0]];
    let y = [[0.5_f32, 0.5, 0.0], [0.0, 1.0, 0.0]];
    let weights = [3e38_f32, 1.0];
    let config = MultiTemperatureConfig {
        positive_weights: Some(&weights),
        ..MultiTemperatureConfig::official()
    };
    let mut scratch = vec![0.0; multi_temperature_scratch_len(2, 2, 3)];
    let mut out = [0.0; 6];
    let result = multi_temperature_drift(
        &CloudView::from_points(&x),
        &CloudView::from_points(&y),
        &config,
        &mut scratch,
        &mut out,
    );
    assert_eq!(
        result.map(|_| ()),
        Err(Error::OutOfRange {
            input: "positive_weights"
        })
    );
}

/// `fuzz/sinkhorn`: a blur of `3e38` squared to `ε = +∞` and passed validation (`1/∞ = 0` is
/// finite); and a negative blur once slipped through a rewrite of the check.
#[test]
fn infinite_or_negative_epsilon_is_invalid() {
    let x = [[0.0_f32, 0.0]];
    let a = WeightedCloud::uniform(CloudView::from_points(&x));
    for blur in [3e38_f32, -0.05] {
        let config = SinkhornConfig {
            blur,
            ..SinkhornConfig::default()
        };
        let mut buffer = vec![0.0; SinkhornWorkspace::required_len(1, 1)];
        let mut workspace = SinkhornWorkspace::new(&mut buffer, 1, 1).unwrap();
        let result = sinkhorn_divergence(&a, &a, &config, &mut workspace);
        assert_eq!(
            result.map(|_| ()),
            Err(Error::InvalidParameter { input: "blur" })
        );
    }
}

/// `fuzz/sinkhorn`: far from convergence a plan's marginal overflowed `f32` and the report said
/// `marginal_error: inf`. Now it is accumulated in `f64` and saturates at `f32::MAX`: finite, and
/// reported as not converged.
#[test]
fn marginal_error_of_an_unresolvable_problem_is_finite() {
    let x = [[0.0_f32, -1.112]; 3];
    let y = [[10_000.0_f32, 1.796]; 3];
    let weights = [1.0_f32, 0.0, 0.0];
    let a = WeightedCloud::weighted(CloudView::from_points(&x), &weights);
    let b = WeightedCloud::uniform(CloudView::from_points(&y));
    let config = SinkhornConfig {
        blur: 0.02,
        scaling: Some(0.9),
        max_iterations: 6,
        ..SinkhornConfig::default()
    };
    let mut buffer = vec![0.0; SinkhornWorkspace::required_len(3, 3)];
    let mut workspace = SinkhornWorkspace::new(&mut buffer, 3, 3).unwrap();
    let s = sinkhorn_divergence(&a, &b, &config, &mut workspace).unwrap();
    for report in s.reports {
        assert!(report.marginal_error.is_finite(), "{report:?}");
        assert_eq!(report.converged, report.marginal_error <= config.tolerance);
    }
    assert!(s.value.is_finite() && s.transport_ab.is_finite());
}

/// `fuzz/sinkhorn`: with the alternating rule the potentials of well-separated clusters drift by
/// opposite constants (up to `1e7` here), and `S_ε(a, a)` lost its value to cancellation. The
/// contract: `S_ε(a, a)` is 0 up to `f32` rounding of potentials of the size of the squared
/// diameter (`1e-6 · 1e8` here); with the default symmetric rule it is exactly 0.
#[test]
fn self_divergence_of_separated_clusters_is_zero_to_rounding() {
    let x = [
        [-0.112_f32, -1.743],
        [-0.112, -1.743],
        [-0.112, -1.743],
        [-0.119, 10_000.0],
    ];
    let a = WeightedCloud::uniform(CloudView::from_points(&x));
    for (update, tolerance) in [
        (UpdateRule::Symmetric, 0.0),
        (UpdateRule::Alternating, 1e-6 * 1e8),
    ] {
        let config = SinkhornConfig {
            blur: 0.05,
            update,
            max_iterations: 0,
            ..SinkhornConfig::default()
        };
        let mut buffer = vec![0.0; SinkhornWorkspace::required_len(4, 4)];
        let mut workspace = SinkhornWorkspace::new(&mut buffer, 4, 4).unwrap();
        let s = sinkhorn_divergence(&a, &a, &config, &mut workspace).unwrap();
        assert!(s.value.abs() <= tolerance, "{update:?}: {s:?}");
        // OT_ε(a, a) itself: ε·KL of the plan that spreads each point over its cluster,
        // ε (¾ ln(4/3) + ¼ ln 4) = 0.0025 · 0.5623.
        assert!((s.transport_aa - 0.0025 * 0.562_335).abs() < 1e-6, "{s:?}");
    }
}

/// `fuzz/stop_gradient_loss`: a zero drift with a subnormal coordinate scale gave `0 · ∞ = NaN`
/// in the gradient; subnormal drifts lost precision. Now the gradient `−2V/(s·N·D)` is formed in
/// `f64` and rounded once; it is refused only when it overflows `f32`.
#[test]
fn stop_gradient_with_extreme_scales() {
    let mut gradient = [1.0_f32];
    assert_eq!(stop_gradient_loss(&[0.0], 1e-45, &mut gradient), Ok(0.0));
    assert_eq!(gradient, [0.0]);
    let mut gradient = [0.0_f32; 2];
    let (drift, scale) = ([1e-45_f32, -3e-39], 1e-38_f32);
    stop_gradient_loss(&drift, scale, &mut gradient).unwrap();
    for (g, v) in gradient.iter().zip(drift) {
        // −2V/(s·N·D) with N·D = 2, from the exact f32 inputs.
        let want = -f64::from(v) / f64::from(scale);
        assert!(
            (f64::from(*g) - want).abs() <= 1e-7 * want.abs(),
            "{g} vs {want}"
        );
    }
    assert_eq!(
        stop_gradient_loss(&[1.0, 1.0], 1e-45, &mut gradient),
        Err(Error::OutOfRange {
            input: "coordinate_scale"
        })
    );
    assert_eq!(
        stop_gradient_loss(&[3e38, 3e38], 1.0, &mut gradient),
        Err(Error::OutOfRange { input: "drift" })
    );
}

/// `fuzz/sinkhorn` (issue 15's warm start): potentials a solve had just returned were refused
/// as a warm start (`OutOfRange { potentials }`) when `C/ε` was large: the potentials reach
/// `C_max/ε` in units of ε (here `2.5e27`), above the first bound (`1e27`). Whatever a solve
/// returns is accepted back now (bound `1e29`, still far from the exclusion logit `−1e30`).
#[test]
fn warm_start_accepts_the_potentials_a_solve_returned() {
    let x = [[0.0_f32, 0.0]];
    let y = [[1e4_f32, 0.0]];
    let (a, b) = (
        WeightedCloud::uniform(CloudView::from_points(&x)),
        WeightedCloud::uniform(CloudView::from_points(&y)),
    );
    let config = SinkhornConfig {
        blur: 1e-10,
        scaling: None,
        ..SinkhornConfig::default()
    };
    let mut buffer = vec![0.0; SinkhornWorkspace::required_len(1, 1)];
    let mut workspace = SinkhornWorkspace::new(&mut buffer, 1, 1).unwrap();
    let cold = sinkhorn_divergence(&a, &b, &config, &mut workspace).unwrap();
    let ratio = f64::from(workspace.f()[0].abs()) / f64::from(config.epsilon());
    assert!(ratio > 1e27, "{ratio:e}");
    let warm = SinkhornConfig {
        warm_start: true,
        ..config
    };
    let again = sinkhorn_divergence(&a, &b, &warm, &mut workspace).unwrap();
    assert_eq!(again.value, cold.value);
    assert!(again.reports.iter().all(|r| r.converged), "{again:?}");
}

/// `fuzz/trainer_step`: a cosine schedule rising from `σ0 = 1.35e-17` to 1 gave `σ(0) = 0` (the
/// `f64` cancellation of `σ_end + (σ0 − σ_end)·1`): `Trainer::new` accepted it and the first
/// step failed on a zero blur. The schedules are convex combinations now, exact at both ends.
#[test]
fn a_rising_schedule_starts_at_its_initial_value() {
    use drifting::schedule::AnnealingSchedule;
    let schedule = AnnealingSchedule::Cosine {
        initial: 1.352_233_9e-17,
        end: 1.0,
        steps: 1,
    };
    assert_eq!(schedule.value(0), 1.352_233_9e-17);
    assert_eq!(schedule.factor(0), 1.0);
    assert_eq!(schedule.value(1), 1.0);
}
