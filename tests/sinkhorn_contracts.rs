//! The Sinkhorn solver's contracts (issue 15): one marginal-error definition for the stop test
//! and the report, measured on the returned potentials; tolerances below the `f32` floor end as
//! *stalled*, not at the iteration cap; ε settable directly; warm starts; a capped ε schedule;
//! the proxy drift range-checked like the Sinkhorn drift.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use drifting::sinkhorn::{MAX_SCALING_STEPS, STALL_WINDOW, sinkhorn_proxy_scratch_len};
use drifting::{
    CloudView, Error, SinkhornConfig, SinkhornReport, SinkhornWorkspace, UpdateRule, WeightedCloud,
    entropic_transport, sinkhorn_divergence, sinkhorn_drift, sinkhorn_proxy_drift,
};

/// The clouds: `x = {0, 0.3, 1}`, `y = {0.1, 0.5, 0.6, 1.4}`, uniform.
const X: [[f32; 1]; 3] = [[0.0], [0.3], [1.0]];
const Y: [[f32; 1]; 4] = [[0.1], [0.5], [0.6], [1.4]];

fn solve<const D: usize>(
    x: &[[f32; D]],
    y: &[[f32; D]],
    config: &SinkhornConfig,
) -> (f32, SinkhornReport, Vec<f32>, Vec<f32>) {
    let (n, m) = (x.len(), y.len());
    let mut buffer = vec![0.0; SinkhornWorkspace::required_len(n, m)];
    let mut workspace = SinkhornWorkspace::new(&mut buffer, n, m).unwrap();
    let (a, b) = (
        WeightedCloud::uniform(CloudView::from_points(x)),
        WeightedCloud::uniform(CloudView::from_points(y)),
    );
    let (value, report) = entropic_transport(&a, &b, config, &mut workspace).unwrap();
    (
        value,
        report,
        workspace.f().to_vec(),
        workspace.g().to_vec(),
    )
}

/// The L1 marginal error of the plan of `(f, g)` in `f64` (cost `½‖x−y‖²`, uniform weights).
fn plan_error<const D: usize>(
    x: &[[f32; D]],
    y: &[[f32; D]],
    f: &[f32],
    g: &[f32],
    eps: f32,
) -> f64 {
    let (n, m) = (x.len(), y.len());
    let eps = f64::from(eps);
    let mut rows = vec![0.0; n];
    let mut cols = vec![0.0; m];
    for i in 0..n {
        for j in 0..m {
            let c: f64 = (0..D)
                .map(|d| 0.5 * (f64::from(x[i][d]) - f64::from(y[j][d])).powi(2))
                .sum();
            let p = ((f64::from(f[i]) + f64::from(g[j]) - c) / eps).exp() / (n * m) as f64;
            rows[i] += p;
            cols[j] += p;
        }
    }
    rows.iter().map(|r| (r - 1.0 / n as f64).abs()).sum::<f64>()
        + cols.iter().map(|c| (c - 1.0 / m as f64).abs()).sum::<f64>()
}

/// Issue 15: the alternating rule at tolerance 2.2e-6 stopped after 82 iterations and reported
/// 2.36e-6, not converged; the symmetric rule at 1e-6 stopped after 339 and reported 1.33e-6:
/// the stop test measured the pair before the last update, the report the returned pair. Now
/// both are the returned pair's: over a grid of tolerances, `converged ⇔ marginal_error ≤
/// tolerance`, a solve that stopped before the cap without stalling converged, and the
/// returned potentials' `f64` plan has the reported error up to the `f32` rounding of the
/// softmins the solver measures with (here `C/ε ≤ 98`: at most `1e-6`, measured `3.4e-7`).
#[test]
fn stop_test_and_report_share_one_marginal_error() {
    for update in [UpdateRule::Alternating, UpdateRule::Symmetric] {
        for tolerance in [1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 3e-6, 2.2e-6, 1e-6, 5e-7, 2e-7] {
            let config = SinkhornConfig {
                blur: 0.1,
                update,
                scaling: None,
                tolerance,
                max_iterations: 100_000,
                ..SinkhornConfig::default()
            };
            let (_, r, f, g) = solve(&X, &Y, &config);
            assert_eq!(
                r.converged,
                r.marginal_error <= tolerance,
                "{update:?} {r:?}"
            );
            assert!(r.converged || r.stalled, "{update:?} {tolerance}: {r:?}");
            assert!(!(r.converged && r.stalled), "{r:?}");
            let exact = plan_error(&X, &Y, &f, &g, config.epsilon());
            assert!(
                (exact - f64::from(r.marginal_error)).abs() <= 1e-6,
                "{update:?} {tolerance}: reported {:e}, plan {exact:e}",
                r.marginal_error
            );
        }
    }
    // The two cases, by name.
    let alternating = SinkhornConfig {
        blur: 0.1,
        update: UpdateRule::Alternating,
        scaling: None,
        tolerance: 2.2e-6,
        max_iterations: 100_000,
        ..SinkhornConfig::default()
    };
    let (_, r, ..) = solve(&X, &Y, &alternating);
    assert!(r.converged && r.marginal_error <= 2.2e-6, "{r:?}");
    let symmetric = SinkhornConfig {
        update: UpdateRule::Symmetric,
        tolerance: 1e-6,
        ..alternating
    };
    let (_, r, ..) = solve(&X, &Y, &symmetric);
    assert!(r.converged && r.marginal_error <= 1e-6, "{r:?}");
}

/// The same contract at the cap: a solve stopped by `max_iterations` reports the error of what
/// it returns (for the symmetric rule, GeomLoss's final extrapolation), whatever the cap.
#[test]
fn capped_solves_report_the_returned_pair() {
    for update in [UpdateRule::Alternating, UpdateRule::Symmetric] {
        for cap in [0, 1, 2, 5, 10, 30] {
            let config = SinkhornConfig {
                blur: 0.1,
                update,
                scaling: Some(0.5),
                tolerance: 1e-9,
                max_iterations: cap,
                ..SinkhornConfig::default()
            };
            let (_, r, f, g) = solve(&X, &Y, &config);
            assert!(!r.converged && r.iterations <= cap, "{r:?}");
            let exact = plan_error(&X, &Y, &f, &g, config.epsilon());
            assert!(
                (exact - f64::from(r.marginal_error)).abs() <= 1e-6 + 1e-3 * exact,
                "{update:?} cap {cap}: reported {:e}, plan {exact:e}",
                r.marginal_error
            );
        }
    }
}

/// Seven points against nine on two parallel lines, the clouds of the floor measurements.
fn grid() -> (Vec<[f32; 2]>, Vec<[f32; 2]>) {
    (
        (0..7).map(|i| [i as f32 * 0.15, 0.0]).collect(),
        (0..9).map(|i| [i as f32 * 0.11 + 0.05, 0.2]).collect(),
    )
}

/// Issue 15: a tolerance below the `f32` floor ran the whole cap (100 000 iterations for
/// nothing). Now the solve stops [`STALL_WINDOW`] iterations after its last new minimum and
/// says `stalled`. On these clouds at blur 0.1 the alternating updates stall at `3.5e-8`; the
/// averaged (symmetric) ones alone at `2.2e-7`, and the solve then finishes with alternating
/// updates (see [`UpdateRule::Symmetric`]). A tolerance of 0 ("run the cap") stops there too.
/// (An `f32` iteration can also reach an exact fixed point, where its measured error is 0:
/// that is convergence by the solver's measure; the test clouds of the issue do that.)
#[test]
fn tolerance_below_the_f32_floor_stalls_instead_of_running_the_cap() {
    let (x, y) = grid();
    for update in [UpdateRule::Alternating, UpdateRule::Symmetric] {
        for tolerance in [1e-12, 0.0] {
            let config = SinkhornConfig {
                blur: 0.1,
                update,
                scaling: None,
                tolerance,
                max_iterations: usize::MAX,
                ..SinkhornConfig::default()
            };
            let (_, r, ..) = solve(&x, &y, &config);
            eprintln!("{update:?} {tolerance}: {r:?}");
            assert!(r.stalled && !r.converged, "{r:?}");
            assert!(r.iterations < 2000, "{r:?}");
            assert!(r.marginal_error < 1e-6, "{r:?}");
            // The report says where the alternating updates took over (the symmetric rule's
            // stall, at least `STALL_WINDOW` iterations in and before the final stall).
            match update {
                UpdateRule::Alternating => assert_eq!(r.alternating_from, None, "{r:?}"),
                UpdateRule::Symmetric => assert!(
                    r.alternating_from
                        .is_some_and(|k| k >= STALL_WINDOW && k + STALL_WINDOW <= r.iterations),
                    "{r:?}"
                ),
            }
        }
    }
    // On the clouds the same solves end within a few hundred iterations, whichever way.
    for update in [UpdateRule::Alternating, UpdateRule::Symmetric] {
        let config = SinkhornConfig {
            blur: 0.1,
            update,
            scaling: None,
            tolerance: 1e-12,
            max_iterations: 100_000,
            ..SinkhornConfig::default()
        };
        let (_, r, ..) = solve(&X, &Y, &config);
        assert!((r.converged || r.stalled) && r.iterations < 2000, "{r:?}");
    }
    const { assert!(STALL_WINDOW >= 32) };
}

/// The `f32` floor of each update rule (ignored: a measurement, printed). For the symmetric rule
/// alone, the self problems of a divergence (which always use averaged updates) are measured.
#[test]
#[ignore = "measurement; run with --ignored --nocapture"]
fn f32_floors_of_the_update_rules() {
    type Pair = (&'static str, Vec<[f32; 2]>, Vec<[f32; 2]>);
    let clouds: Vec<Pair> = vec![
        ("grid 7 vs 9", grid().0, grid().1),
        (
            "spiral 40 vs 30",
            (0..40)
                .map(|i| {
                    let t = i as f32 * 0.3;
                    [0.05 * t * t.cos(), 0.05 * t * t.sin()]
                })
                .collect(),
            (0..30)
                .map(|i| {
                    let t = i as f32 * 0.37 + 0.1;
                    [0.6 + 0.04 * t * t.cos(), 0.04 * t * t.sin()]
                })
                .collect(),
        ),
    ];
    for (name, x, y) in &clouds {
        for blur in [1.0_f32, 0.3, 0.1, 0.05] {
            for update in [UpdateRule::Alternating, UpdateRule::Symmetric] {
                let config = SinkhornConfig {
                    blur,
                    update,
                    tolerance: 0.0,
                    max_iterations: 1_000_000,
                    ..SinkhornConfig::default()
                };
                let (n, m) = (x.len(), y.len());
                let mut buffer = vec![0.0; SinkhornWorkspace::required_len(n, m)];
                let mut workspace = SinkhornWorkspace::new(&mut buffer, n, m).unwrap();
                let (a, b) = (
                    WeightedCloud::uniform(CloudView::from_points(x)),
                    WeightedCloud::uniform(CloudView::from_points(y)),
                );
                let s = sinkhorn_divergence(&a, &b, &config, &mut workspace).unwrap();
                let [ab, aa, bb] = s.reports;
                println!(
                    "{name:<16} blur {blur:<5} {update:?}: (a,b) {:.1e} after {} | (a,a) averaged {:.1e} after {} | (b,b) {:.1e} after {}",
                    ab.marginal_error,
                    ab.iterations,
                    aa.marginal_error,
                    aa.iterations,
                    bb.marginal_error,
                    bb.iterations
                );
            }
        }
    }
}

/// Issue 15: ε could only be given as `blur`, squared in `f32`, which cannot hit every ε:
/// `0.031622775² = 1.0000000e-3` is not `1e-3`. `with_epsilon` sets it exactly; the solve runs at
/// that ε, reports it, and agrees with the blur route where the blur is exact (`0.5² = 0.25`).
#[test]
fn epsilon_can_be_set_directly() {
    let blur = 1e-3_f32.sqrt();
    assert_ne!(blur * blur, 1e-3, "the blur route rounds");
    let config = SinkhornConfig::default().with_epsilon(1e-3);
    assert_eq!(config.epsilon(), 1e-3);
    let (_, r, ..) = solve(&X, &Y, &config);
    assert_eq!(r.epsilon, 1e-3);
    assert!(r.converged, "{r:?}");
    // Same problem two ways.
    let by_blur = SinkhornConfig {
        blur: 0.5,
        ..SinkhornConfig::default()
    };
    let by_epsilon = SinkhornConfig::default().with_epsilon(0.25);
    let (v1, r1, ..) = solve(&X, &Y, &by_blur);
    let (v2, r2, ..) = solve(&X, &Y, &by_epsilon);
    assert_eq!(r1.epsilon, r2.epsilon);
    assert!((v1 - v2).abs() <= 1e-6, "{v1} vs {v2}");
    // An invalid ε is named as such (the blur is ignored then).
    for bad in [0.0, -1.0, f32::NAN, f32::INFINITY, 1e-45] {
        let config = SinkhornConfig {
            blur: f32::NAN,
            ..SinkhornConfig::default().with_epsilon(bad)
        };
        assert_eq!(
            config.validate(),
            Err(Error::InvalidParameter { input: "epsilon" }),
            "{bad}"
        );
    }
    // A huge ε would overflow the potentials (ε ln N): out of range, not infinite values.
    let huge = SinkhornConfig::default().with_epsilon(1e37);
    let mut buffer = vec![0.0; SinkhornWorkspace::required_len(3, 4)];
    let mut workspace = SinkhornWorkspace::new(&mut buffer, 3, 4).unwrap();
    assert_eq!(
        entropic_transport(
            &WeightedCloud::uniform(CloudView::from_points(&X)),
            &WeightedCloud::uniform(CloudView::from_points(&Y)),
            &huge,
            &mut workspace
        ),
        Err(Error::OutOfRange { input: "epsilon" })
    );
}

/// Issue 15: potentials could not be warm-started. With `warm_start` the solve starts from the
/// workspace's potentials at the target ε (no schedule): from converged potentials it converges
/// at once, from a perturbed copy in a few iterations, and its answer is the cold solve's.
/// Non-finite or absurd starting potentials are refused.
#[test]
fn warm_start_from_given_potentials() {
    let x: Vec<[f32; 2]> = (0..20)
        .map(|i| [(i as f32 * 0.37).sin(), (i as f32 * 0.61).cos()])
        .collect();
    let y: Vec<[f32; 2]> = (0..25)
        .map(|i| [0.3 + (i as f32 * 0.29).cos(), (i as f32 * 0.47).sin()])
        .collect();
    let (a, b) = (
        WeightedCloud::uniform(CloudView::from_points(&x)),
        WeightedCloud::uniform(CloudView::from_points(&y)),
    );
    let cold = SinkhornConfig {
        blur: 0.1,
        tolerance: 1e-5,
        ..SinkhornConfig::default()
    };
    let mut buffer = vec![0.0; SinkhornWorkspace::required_len(20, 25)];
    let mut workspace = SinkhornWorkspace::new(&mut buffer, 20, 25).unwrap();
    let (value, report) = entropic_transport(&a, &b, &cold, &mut workspace).unwrap();
    assert!(report.converged && report.scaling_steps > 0, "{report:?}");
    let warm = SinkhornConfig {
        warm_start: true,
        ..cold
    };
    let (again, report) = entropic_transport(&a, &b, &warm, &mut workspace).unwrap();
    assert!(report.converged, "{report:?}");
    assert_eq!(
        (report.scaling_steps, report.iterations),
        (0, 0),
        "{report:?}"
    );
    assert!(
        (again - value).abs() <= 1e-6 * value.abs(),
        "{again} vs {value}"
    );
    // Perturbed potentials: a few iterations, the same answer.
    for (k, f) in workspace.f_mut().iter_mut().enumerate() {
        *f += 0.01 * (k as f32).sin();
    }
    let (perturbed, report) = entropic_transport(&a, &b, &warm, &mut workspace).unwrap();
    assert!(report.converged && report.iterations < 100, "{report:?}");
    assert!(
        (perturbed - value).abs() <= 1e-5 * value.abs(),
        "{perturbed} vs {value}"
    );
    // Garbage is refused.
    workspace.g_mut()[3] = f32::NAN;
    assert_eq!(
        entropic_transport(&a, &b, &warm, &mut workspace),
        Err(Error::NonFinite {
            input: "potentials"
        })
    );
    workspace.g_mut()[3] = 1e30;
    assert_eq!(
        entropic_transport(&a, &b, &warm, &mut workspace),
        Err(Error::OutOfRange {
            input: "potentials"
        })
    );
    // The divergence and the drift warm-start their self potentials too (from zero here).
    let mut buffer = vec![0.0; SinkhornWorkspace::required_len(20, 25)];
    let mut workspace = SinkhornWorkspace::new(&mut buffer, 20, 25).unwrap();
    let s = sinkhorn_divergence(&a, &b, &warm, &mut workspace).unwrap();
    assert!(
        s.reports
            .iter()
            .all(|r| r.converged && r.scaling_steps == 0),
        "{s:?}"
    );
    let mut out = vec![0.0; 40];
    let reports = sinkhorn_drift(&a, &b, &warm, &mut workspace, &mut out).unwrap();
    assert!(reports.iter().all(|r| r.converged), "{reports:?}");
    assert!(out.iter().all(|v| v.is_finite()));
}

/// Issue 15: ε-scaling with a factor just below 1 had no cap on its steps (minutes on 13
/// points). Factors above `MAX_SCALING` (0.995) are refused at once, which keeps every schedule
/// a solve accepts within [`MAX_SCALING_STEPS`] whatever the clouds (checked at the extreme
/// `d²/ε` the range check allows).
#[test]
fn epsilon_scaling_steps_are_capped() {
    let config = SinkhornConfig {
        scaling: Some(0.999_999_94),
        ..SinkhornConfig::default()
    };
    let schedule = drifting::sinkhorn::epsilon_schedule(2.0, 0.05, 0.999_999_94);
    assert!(schedule.len() > MAX_SCALING_STEPS, "{}", schedule.len());
    let started = std::time::Instant::now();
    let mut buffer = vec![0.0; SinkhornWorkspace::required_len(3, 4)];
    let mut workspace = SinkhornWorkspace::new(&mut buffer, 3, 4).unwrap();
    let result = entropic_transport(
        &WeightedCloud::uniform(CloudView::from_points(&X)),
        &WeightedCloud::uniform(CloudView::from_points(&Y)),
        &config,
        &mut workspace,
    );
    assert_eq!(result, Err(Error::InvalidParameter { input: "scaling" }));
    assert!(started.elapsed().as_secs_f64() < 1.0);
    let extreme =
        drifting::sinkhorn::epsilon_schedule(1.4e14, 1.0, drifting::sinkhorn::MAX_SCALING);
    assert!(extreme.len() <= MAX_SCALING_STEPS, "{}", extreme.len());
    // 0.99 on unit-scale clouds is long but allowed.
    let slow = SinkhornConfig {
        scaling: Some(0.99),
        ..SinkhornConfig::default()
    };
    let (_, r, ..) = solve(&X, &Y, &slow);
    assert!(r.converged && r.scaling_steps < MAX_SCALING_STEPS, "{r:?}");
}

/// Issue 15: the proxy drift returned `Ok` with an all-NaN field for clouds about `1e18` apart or
/// a blur of `1e-16`, which the Sinkhorn drift refuses. Now both refuse them alike, and whatever
/// they accept is finite.
#[test]
fn proxy_drift_is_range_checked_like_the_sinkhorn_drift() {
    let near = [[0.0_f32, 0.0], [1.0, 0.5]];
    let far = [[1e18_f32, 0.0], [1e18, 1.0]];
    let cases: [(&[[f32; 2]], f32, Error); 2] = [
        (&far, 0.1, Error::OutOfRange { input: "blur" }),
        (&near, 1e-16, Error::OutOfRange { input: "blur" }),
    ];
    for (y, blur, expected) in cases {
        let config = SinkhornConfig {
            blur,
            ..SinkhornConfig::default()
        };
        let (a, b) = (
            WeightedCloud::uniform(CloudView::from_points(&near)),
            WeightedCloud::uniform(CloudView::from_points(y)),
        );
        let mut scratch = vec![0.0; sinkhorn_proxy_scratch_len(2, 2)];
        let mut out = [0.0; 4];
        let proxy = sinkhorn_proxy_drift(&a, &b, &config, &mut scratch, &mut out);
        let mut buffer = vec![0.0; SinkhornWorkspace::required_len(2, 2)];
        let mut workspace = SinkhornWorkspace::new(&mut buffer, 2, 2).unwrap();
        let drift = sinkhorn_drift(&a, &b, &config, &mut workspace, &mut out);
        assert_eq!(proxy, Err(expected), "blur {blur}");
        assert_eq!(drift.map(|_| ()), Err(expected), "blur {blur}");
    }
    // Points more than 1e18 apart: "points", for both.
    let farther = [[3e18_f32, 0.0], [-3e18, 1.0]];
    let (a, b) = (
        WeightedCloud::uniform(CloudView::from_points(&near)),
        WeightedCloud::uniform(CloudView::from_points(&farther)),
    );
    let mut scratch = vec![0.0; sinkhorn_proxy_scratch_len(2, 2)];
    let mut out = [0.0; 4];
    assert_eq!(
        sinkhorn_proxy_drift(&a, &b, &SinkhornConfig::default(), &mut scratch, &mut out),
        Err(Error::OutOfRange { input: "points" })
    );
}
