//! Properties of the log-domain Sinkhorn solver that hold exactly in exact arithmetic, checked in
//! `f32` with the tolerances stated on each test.

use drifting::sample::fill_standard_normal;
use drifting::sinkhorn::epsilon_schedule;
use drifting::{
    CloudView, GroundCost, SinkhornConfig, SinkhornWorkspace, UpdateRule, WeightedCloud,
    entropic_transport, sinkhorn_divergence, sinkhorn_drift, sinkhorn_proxy_drift,
};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// A coordinate-major cloud of `n` standard normal points in 2D scaled by `scale`, shifted.
fn cloud(seed: u64, n: usize, scale: f32, shift: [f32; 2]) -> Vec<f32> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut v = vec![0.0; 2 * n];
    fill_standard_normal(&mut rng, &mut v);
    for (k, x) in v.iter_mut().enumerate() {
        *x = *x * scale + shift[k / n];
    }
    v
}

fn view(data: &[f32]) -> CloudView<'_, 2> {
    CloudView::from_coordinate_major(data, data.len() / 2).unwrap()
}

fn tight(update: UpdateRule, blur: f32) -> SinkhornConfig {
    SinkhornConfig {
        blur,
        update,
        scaling: Some(0.8),
        tolerance: 1e-5,
        max_iterations: 2000,
        ..SinkhornConfig::default()
    }
}

/// `OT_ε(a, b) = OT_ε(b, a)` to 1e-5 relative, and the solver converges (L1 marginal error under
/// the 1e-5 tolerance) with both update rules.
#[test]
fn entropic_transport_is_symmetric_and_converges() {
    let x = cloud(1, 37, 0.5, [0.0, 0.0]);
    let y = cloud(2, 23, 0.4, [0.5, -0.2]);
    for update in [UpdateRule::Alternating, UpdateRule::Symmetric] {
        let config = tight(update, 0.3);
        let mut buf = vec![0.0; SinkhornWorkspace::required_len(37, 23)];
        let mut ws = SinkhornWorkspace::new(&mut buf, 37, 23).unwrap();
        let (ab, report) = entropic_transport(
            &WeightedCloud::uniform(view(&x)),
            &WeightedCloud::uniform(view(&y)),
            &config,
            &mut ws,
        )
        .unwrap();
        assert!(report.converged, "{report:?}");
        let mut buf = vec![0.0; SinkhornWorkspace::required_len(23, 37)];
        let mut ws = SinkhornWorkspace::new(&mut buf, 23, 37).unwrap();
        let (ba, _) = entropic_transport(
            &WeightedCloud::uniform(view(&y)),
            &WeightedCloud::uniform(view(&x)),
            &config,
            &mut ws,
        )
        .unwrap();
        assert!(
            (ab - ba).abs() <= 1e-5 * ab.abs(),
            "{update:?}: {ab} vs {ba}"
        );
    }
}

/// `S_ε(a, a) = 0` (to 1e-6 of `OT_ε(a,a)`) and `S_ε(a, b) > 0` for distinct clouds.
#[test]
fn divergence_vanishes_on_equal_clouds_and_is_positive_otherwise() {
    let x = cloud(3, 40, 0.5, [0.0, 0.0]);
    let y = cloud(4, 40, 0.5, [0.3, 0.0]);
    let config = tight(UpdateRule::Symmetric, 0.2);
    let mut buf = vec![0.0; SinkhornWorkspace::required_len(40, 40)];
    let mut ws = SinkhornWorkspace::new(&mut buf, 40, 40).unwrap();
    let a = WeightedCloud::uniform(view(&x));
    let same = sinkhorn_divergence(&a, &a, &config, &mut ws).unwrap();
    assert!(
        same.value.abs() <= 1e-6 * same.transport_aa.abs().max(1e-3),
        "{same:?}"
    );
    let b = WeightedCloud::uniform(view(&y));
    let different = sinkhorn_divergence(&a, &b, &config, &mut ws).unwrap();
    assert!(different.value > 1e-3, "{different:?}");
}

/// The Sinkhorn drift equals `−∇_{x_i} S_ε / a_i`, by central finite differences of the
/// divergence (step 1e-2, relative error under 2e-2 of the drift's largest entry: the finite
/// difference of an `f32` divergence loses about three digits).
#[test]
fn sinkhorn_drift_is_the_negative_divergence_gradient() {
    let n = 12;
    let x = cloud(5, n, 0.5, [0.0, 0.0]);
    let y = cloud(6, 15, 0.5, [0.4, 0.1]);
    let config = SinkhornConfig {
        scaling: None,
        ..tight(UpdateRule::Symmetric, 0.5)
    };
    let mut buf = vec![0.0; SinkhornWorkspace::required_len(n, 15)];
    let mut ws = SinkhornWorkspace::new(&mut buf, n, 15).unwrap();
    let mut drift = vec![0.0; 2 * n];
    let b = WeightedCloud::uniform(view(&y));
    sinkhorn_drift(
        &WeightedCloud::uniform(view(&x)),
        &b,
        &config,
        &mut ws,
        &mut drift,
    )
    .unwrap();
    let largest = drift.iter().fold(0.0_f32, |m, v| m.max(v.abs()));
    let h = 1e-2;
    for k in 0..2 * n {
        let mut plus = x.clone();
        plus[k] += h;
        let mut minus = x.clone();
        minus[k] -= h;
        let s = |p: &[f32], ws: &mut SinkhornWorkspace<'_>| {
            f64::from(
                sinkhorn_divergence(&WeightedCloud::uniform(view(p)), &b, &config, ws)
                    .unwrap()
                    .value,
            )
        };
        let grad = (s(&plus, &mut ws) - s(&minus, &mut ws)) / (2.0 * f64::from(h));
        let expected = -grad * n as f64;
        assert!(
            (f64::from(drift[k]) - expected).abs() <= 2e-2 * f64::from(largest),
            "entry {k}: drift {} vs −n∇S {expected}",
            drift[k]
        );
    }
}

/// The ε schedule is GeomLoss's: `[d², d², d²s², …, blur²]`, strictly decreasing after the
/// repeated first entry, ending at `blur²`.
#[test]
fn epsilon_schedule_follows_geomloss() {
    let eps: Vec<f32> = epsilon_schedule(4.0, 0.05, 0.5).collect();
    assert_eq!(eps[0], 16.0);
    assert_eq!(eps[1], 16.0);
    assert!((eps[2] - 4.0).abs() < 1e-6);
    assert_eq!(*eps.last().unwrap(), 0.05_f32 * 0.05_f32);
    assert!(eps.windows(2).skip(1).all(|w| w[1] < w[0]));
    // ln(16/0.0025)/ln(4) = 6.3 → 7 interior entries + first + last.
    assert_eq!(eps.len(), 9);
}

/// Identical single points, diameter 0: finite potentials, `OT = 0`, `S = 0`.
#[test]
fn degenerate_clouds_give_finite_answers() {
    let x = [[0.25_f32, -0.5]];
    let config = SinkhornConfig::default();
    let mut buf = vec![0.0; SinkhornWorkspace::required_len(1, 1)];
    let mut ws = SinkhornWorkspace::new(&mut buf, 1, 1).unwrap();
    let a = WeightedCloud::uniform(CloudView::from_points(&x));
    let s = sinkhorn_divergence(&a, &a, &config, &mut ws).unwrap();
    assert_eq!(s.value, 0.0);
    assert!(s.transport_ab.abs() < 1e-6);
    let same = [[1.0_f32, 1.0]; 5];
    let mut buf = vec![0.0; SinkhornWorkspace::required_len(5, 5)];
    let mut ws = SinkhornWorkspace::new(&mut buf, 5, 5).unwrap();
    let b = WeightedCloud::uniform(CloudView::from_points(&same));
    let s = sinkhorn_divergence(&b, &b, &config, &mut ws).unwrap();
    assert!(s.value.abs() < 1e-6 && s.transport_ab.is_finite());
    let mut drift = vec![0.0; 10];
    sinkhorn_drift(&b, &b, &config, &mut ws, &mut drift).unwrap();
    assert!(drift.iter().all(|v| v.abs() < 1e-6));
}

/// The proxy drift vanishes when `a = b` (the third paper's consistency), to 1e-5 of the cloud's
/// scale, and is non-zero otherwise.
#[test]
fn proxy_drift_vanishes_only_for_equal_clouds() {
    let x = cloud(7, 30, 0.5, [0.0, 0.0]);
    let y = cloud(8, 30, 0.5, [0.5, 0.0]);
    let config = SinkhornConfig {
        blur: 0.3,
        ..SinkhornConfig::default()
    };
    let mut scratch = vec![0.0; drifting::sinkhorn::sinkhorn_proxy_scratch_len(30, 30)];
    let mut out = vec![0.0; 60];
    let a = WeightedCloud::uniform(view(&x));
    sinkhorn_proxy_drift(&a, &a, &config, &mut scratch, &mut out).unwrap();
    assert!(out.iter().all(|v| v.abs() < 1e-5), "{out:?}");
    sinkhorn_proxy_drift(
        &a,
        &WeightedCloud::uniform(view(&y)),
        &config,
        &mut scratch,
        &mut out,
    )
    .unwrap();
    let mean_x: f32 = out[..30].iter().sum::<f32>() / 30.0;
    assert!(
        mean_x > 0.05,
        "mean x-drift {mean_x} should point toward the shifted cloud"
    );
}

/// The ground cost `‖x−y‖²` is `½‖x−y‖²` with `ε` halved: same plan, value doubled.
#[test]
fn squared_cost_is_the_half_cost_with_half_epsilon() {
    let x = cloud(9, 20, 0.5, [0.0, 0.0]);
    let y = cloud(10, 20, 0.5, [0.2, 0.2]);
    let mut buf = vec![0.0; SinkhornWorkspace::required_len(20, 20)];
    let half = SinkhornConfig {
        blur: 0.3,
        ..tight(UpdateRule::Alternating, 0.3)
    };
    let full = SinkhornConfig {
        blur: 0.3 * std::f32::consts::SQRT_2,
        cost: GroundCost::SquaredEuclidean,
        ..half
    };
    let a = WeightedCloud::uniform(view(&x));
    let b = WeightedCloud::uniform(view(&y));
    let mut ws = SinkhornWorkspace::new(&mut buf, 20, 20).unwrap();
    let (v_half, _) = entropic_transport(&a, &b, &half, &mut ws).unwrap();
    let (v_full, _) = entropic_transport(&a, &b, &full, &mut ws).unwrap();
    assert!(
        (v_full - 2.0 * v_half).abs() < 1e-4 * v_full.abs(),
        "{v_full} vs 2×{v_half}"
    );
}
