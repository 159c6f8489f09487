//! Every public entry point against hostile inputs (issue 15): NaN, ±∞, subnormals, `f32::MAX`,
//! points `1e19` apart, identical points, one point, no point, temperatures 0, negative, NaN,
//! `1e-30`, `1e30`, `usize::MAX` sizes and mismatched lengths, serial and (feature `std`) on the
//! rayon pool. The contract: a typed [`Error`] or a finite result, never a panic (each call
//! runs under `catch_unwind`, so a failure names the entry point and the input), never NaN or
//! ∞ as `Ok`.
//!
//! The named regression tests after the walk cover the other defects issue 15 listed (the
//! Sinkhorn ones are in `tests/sinkhorn_contracts.rs` and `tests/sinkhorn_defaults.rs`).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::too_many_lines)]

use std::panic::{AssertUnwindSafe, catch_unwind};

use drifting::metrics::{
    MAX_DIRECTIONS, MmdConfig, SlicedWassersteinConfig, energy_distance, mmd, sliced_wasserstein,
    sliced_wasserstein_scratch_len,
};
use drifting::schedule::AnnealingSchedule;
use drifting::sinkhorn::{checked_sinkhorn_proxy_scratch_len, sinkhorn_proxy_scratch_len};
use drifting::{
    Activation, Adam, AdamState, CloudView, Dataset, DriftField, Error, GroundCost, Kernel,
    KernelFamily, MeanShiftConfig, Mlp, MmdFlowConfig, MultiTemperatureConfig, Negatives,
    PrunedSinkhornConfig, PrunedSinkhornWorkspace, SelfMask, SinkhornConfig, SinkhornWorkspace,
    SlicedWassersteinDriftConfig, Trainer, TrainerConfig, TwoAxisConfig, UpdateRule, WeightedCloud,
    barycentric_projection, entropic_transport, mean_shift_drift, mean_shift_vjp,
    mean_shift_vjp_scratch_len, mmd_flow_drift, multi_temperature_drift,
    multi_temperature_scratch_len, multi_temperature_vjp, multi_temperature_vjp_scratch_len,
    pruned_sinkhorn_divergence, pruned_sinkhorn_workspace_len, sinkhorn_divergence, sinkhorn_drift,
    sinkhorn_proxy_drift, sliced_wasserstein_drift, sliced_wasserstein_drift_scratch_len,
    stop_gradient_loss, two_axis_scratch_len, two_axis_softmax_drift, two_axis_vjp,
    two_axis_vjp_scratch_len,
};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

type Points = Vec<[f32; 2]>;

/// The hostile clouds, and an ordinary one.
fn clouds() -> Vec<(&'static str, Points)> {
    vec![
        (
            "ordinary",
            vec![[0.0, 0.0], [1.0, 0.5], [-0.5, 0.25], [0.3, -0.7]],
        ),
        ("nan", vec![[f32::NAN, 0.0], [0.0, 0.0]]),
        ("+inf", vec![[f32::INFINITY, 0.0], [0.0, 0.0]]),
        ("-inf", vec![[0.0, f32::NEG_INFINITY], [0.0, 0.0]]),
        (
            "subnormal",
            vec![[1e-45, 0.0], [0.0, -1e-45], [1e-40, 1e-42]],
        ),
        ("f32::MAX", vec![[f32::MAX, 0.0], [0.0, 0.0]]),
        ("1e19 apart", vec![[0.0, 0.0], [1e19, 0.0]]),
        ("identical", vec![[0.5, -0.5]; 5]),
        ("one point", vec![[0.25, 0.75]]),
        ("no point", vec![]),
    ]
}

/// The hostile temperatures (bandwidths, blurs, …), and an ordinary one.
const SCALES: [f32; 9] = [
    0.5,
    0.0,
    -1.0,
    f32::NAN,
    1e-30,
    1e30,
    f32::INFINITY,
    1e-45,
    f32::MAX,
];

/// Runs `call` under `catch_unwind`: a panic fails the test, naming the call; an `Ok` value is
/// returned for its outputs to be checked.
fn check<T>(what: &str, call: impl FnOnce() -> Result<T, Error>) -> Option<T> {
    match catch_unwind(AssertUnwindSafe(call)) {
        Err(_) => panic!("{what}: panicked"),
        Ok(Err(_)) => None,
        Ok(Ok(value)) => Some(value),
    }
}

/// Fails the test, naming the call, if an output of an `Ok` call is NaN or infinite.
fn finite(what: &str, values: Vec<f64>) {
    if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
        panic!("{what}: Ok with a non-finite value {bad}");
    }
}

/// `outputs(value)`, with the closure's argument typed `&T` (so patterns such as `|()|` and
/// `|(v, r)|` bind through the reference).
fn outputs_of<T>(value: &T, outputs: impl FnOnce(&T) -> Vec<f64>) -> Vec<f64> {
    outputs(value)
}

/// The contract of one call: no panic; `Ok` only with every value `outputs(&ok)` lists finite.
/// Evaluates to whether the call succeeded.
macro_rules! contract {
    ($what:expr, $call:expr, $outputs:expr $(,)?) => {{
        let what: &str = &$what;
        match check(what, $call) {
            Some(value) => {
                finite(what, outputs_of(&value, $outputs));
                true
            }
            None => false,
        }
    }};
}

fn floats(values: &[f32]) -> Vec<f64> {
    values.iter().map(|&v| f64::from(v)).collect()
}

#[test]
fn kernel_drifts_give_typed_errors_or_finite_fields() {
    for (qn, q) in clouds() {
        for (pn, p) in clouds() {
            let (qv, pv) = (CloudView::from_points(&q), CloudView::from_points(&p));
            let n = q.len();
            for &t in &SCALES {
                for kernel in [Kernel::laplace(t), Kernel::gaussian(t)] {
                    let what = format!("{qn} vs {pn}, {kernel:?}");
                    let mut out = vec![0.0; 2 * n];
                    let config = MeanShiftConfig::new(kernel);
                    contract!(
                        &format!("mean_shift_drift {what}"),
                        || mean_shift_drift(&qv, &pv, Negatives::Queries, &config, &mut out),
                        |()| floats(&out),
                    );
                    let mut out = vec![0.0; 2 * n];
                    for tolerance in [1e-6, 0.5] {
                        let config = drifting::PrunedMeanShiftConfig {
                            mean_shift: MeanShiftConfig::new(kernel),
                            tolerance,
                        };
                        let (keys, pts, boxes) =
                            drifting::pruned_mean_shift_workspace_len(n, p.len(), 0).unwrap();
                        let empty = drifting::spatial::BoundingBox {
                            min: [0.0; 2],
                            max: [0.0; 2],
                            count: 0,
                        };
                        let (mut keys, mut pts, mut boxes) = (
                            vec![0_u64; keys],
                            vec![[0.0_f32; 2]; pts],
                            vec![empty; boxes],
                        );
                        contract!(
                            &format!("pruned_mean_shift_drift {what} ε = {tolerance}"),
                            || drifting::pruned_mean_shift_drift(
                                &qv,
                                &pv,
                                Negatives::Queries,
                                &config,
                                drifting::PrunedWorkspace {
                                    keys: &mut keys,
                                    points: &mut pts,
                                    boxes: &mut boxes,
                                },
                                &mut out,
                            ),
                            |r| {
                                let mut v = floats(&out);
                                v.push(r.bound);
                                v
                            },
                        );
                    }
                    for (tolerance, separate) in [(1e-6, false), (0.5, true)] {
                        let config = drifting::PrunedMmdFlowConfig {
                            mmd_flow: drifting::MmdFlowConfig::new(kernel),
                            tolerance,
                        };
                        let q = if separate { p.len() } else { 0 };
                        let (keys, pts, boxes) =
                            drifting::pruned_mmd_flow_workspace_len(n, p.len(), q).unwrap();
                        let empty = drifting::spatial::BoundingBox {
                            min: [0.0; 2],
                            max: [0.0; 2],
                            count: 0,
                        };
                        let (mut keys, mut pts, mut boxes) = (
                            vec![0_u64; keys],
                            vec![[0.0_f32; 2]; pts],
                            vec![empty; boxes],
                        );
                        let negatives = if separate {
                            Negatives::Cloud(pv)
                        } else {
                            Negatives::Queries
                        };
                        let mut out = vec![0.0; 2 * n];
                        contract!(
                            &format!(
                                "pruned_mmd_flow_drift {what} ε = {tolerance} separate {separate}"
                            ),
                            || drifting::pruned_mmd_flow_drift(
                                &qv,
                                &pv,
                                negatives,
                                &config,
                                drifting::PrunedWorkspace {
                                    keys: &mut keys,
                                    points: &mut pts,
                                    boxes: &mut boxes,
                                },
                                &mut out,
                            ),
                            |r| {
                                let mut v = floats(&out);
                                v.push(r.bound);
                                v
                            },
                        );
                    }
                    for (tolerance, separate) in [(1e-6, false), (0.5, true)] {
                        let config = drifting::PrunedTwoAxisConfig {
                            two_axis: TwoAxisConfig::new(kernel),
                            tolerance,
                        };
                        let q = if separate { p.len() } else { 0 };
                        let (keys, pts, boxes, values) =
                            drifting::pruned_two_axis_workspace_len(n, p.len(), q).unwrap();
                        let empty = drifting::spatial::BoundingBox {
                            min: [0.0; 2],
                            max: [0.0; 2],
                            count: 0,
                        };
                        let (mut keys, mut pts, mut boxes, mut values) = (
                            vec![0_u64; keys],
                            vec![[0.0_f32; 2]; pts],
                            vec![empty; boxes],
                            vec![0.0_f32; values],
                        );
                        let negatives = if separate {
                            Negatives::Cloud(pv)
                        } else {
                            Negatives::Queries
                        };
                        let mut out = vec![0.0; 2 * n];
                        contract!(
                            &format!(
                                "pruned_two_axis_drift {what} ε = {tolerance} separate {separate}"
                            ),
                            || drifting::pruned_two_axis_drift(
                                &qv,
                                &pv,
                                negatives,
                                &config,
                                drifting::PrunedTwoAxisWorkspace {
                                    spatial: drifting::PrunedWorkspace {
                                        keys: &mut keys,
                                        points: &mut pts,
                                        boxes: &mut boxes,
                                    },
                                    normalisers: &mut values,
                                },
                                &mut out,
                            ),
                            |r| {
                                let mut v = floats(&out);
                                v.push(r.bound);
                                v
                            },
                        );
                    }
                    let mut out = vec![0.0; 2 * n];
                    let config = MmdFlowConfig::new(kernel);
                    contract!(
                        &format!("mmd_flow_drift {what}"),
                        || mmd_flow_drift(&qv, &pv, Negatives::Cloud(pv), &config, &mut out),
                        |()| floats(&out),
                    );
                    let mut out = vec![0.0; 2 * n];
                    let mut scratch = vec![0.0; two_axis_scratch_len(n, p.len(), n)];
                    for self_mask in [SelfMask::Exclude, SelfMask::AddDistance(1e6)] {
                        let config = TwoAxisConfig {
                            kernel,
                            self_mask,
                            ..TwoAxisConfig::new(kernel)
                        };
                        contract!(
                            &format!("two_axis_softmax_drift {what} {self_mask:?}"),
                            || {
                                two_axis_softmax_drift(
                                    &qv,
                                    &pv,
                                    Negatives::Queries,
                                    &config,
                                    &mut scratch,
                                    &mut out,
                                )
                            },
                            |()| floats(&out),
                        );
                        let mut vjp_scratch = vec![0.0; two_axis_vjp_scratch_len(n, p.len(), n)];
                        let cotangent = vec![0.5; 2 * n];
                        let mut grad = vec![0.0; 2 * n];
                        contract!(
                            &format!("two_axis_vjp {what} {self_mask:?}"),
                            || {
                                two_axis_vjp(
                                    &qv,
                                    &pv,
                                    Negatives::Queries,
                                    &config,
                                    &cotangent,
                                    &mut vjp_scratch,
                                    &mut grad,
                                )
                            },
                            |()| floats(&grad),
                        );
                    }
                    let mut scratch = vec![0.0; mean_shift_vjp_scratch_len(n, 2)];
                    let cotangent = vec![0.5; 2 * n];
                    let mut out = vec![0.0; 2 * n];
                    contract!(
                        &format!("mean_shift_vjp {what}"),
                        || {
                            mean_shift_vjp(
                                &qv,
                                &pv,
                                &MeanShiftConfig::new(kernel),
                                &cotangent,
                                &mut scratch,
                                &mut out,
                            )
                        },
                        |()| floats(&out),
                    );
                }
                // Multi-temperature: the temperature is R; hostile floors and mask distances.
                for (floor, mask) in [(1e-6, 100.0), (0.0, 0.0), (f32::NAN, 100.0), (1e-6, -1.0)] {
                    let temperatures = [t, 0.05];
                    let config = MultiTemperatureConfig {
                        temperatures: &temperatures,
                        affinity_floor: floor,
                        self_mask_distance: mask,
                        ..MultiTemperatureConfig::official()
                    };
                    let mut out = vec![0.0; 2 * n];
                    let mut scratch = vec![0.0; multi_temperature_scratch_len(n, p.len(), 2)];
                    contract!(
                        &format!("multi_temperature_drift {qn} vs {pn}, R {t}, floor {floor}"),
                        || multi_temperature_drift(&qv, &pv, &config, &mut scratch, &mut out),
                        |r| {
                            let mut v = floats(&out);
                            v.push(f64::from(r.loss));
                            v
                        },
                    );
                    let mut scratch = vec![0.0; multi_temperature_vjp_scratch_len(n, p.len(), 2)];
                    let cotangent = vec![0.5; 2 * n];
                    contract!(
                        &format!("multi_temperature_vjp {qn} vs {pn}, R {t}, floor {floor}"),
                        || {
                            multi_temperature_vjp(
                                &qv,
                                &pv,
                                &config,
                                &cotangent,
                                &mut scratch,
                                &mut out,
                            )
                        },
                        |()| floats(&out),
                    );
                }
            }
            // The sliced flow: directions 0, 1, huge; steps hostile.
            for directions in [0, 1, 8, MAX_DIRECTIONS + 1, usize::MAX] {
                for step in [1.0, f32::NAN, 1e38] {
                    let config = SlicedWassersteinDriftConfig { directions, step };
                    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
                    let mut scratch = vec![0.0; sliced_wasserstein_drift_scratch_len(n, p.len())];
                    let mut out = vec![0.0; 2 * n];
                    contract!(
                        &format!(
                            "sliced_wasserstein_drift {qn} vs {pn}, {directions} directions, step {step}"
                        ),
                        || {
                            sliced_wasserstein_drift(
                                &qv,
                                &pv,
                                &config,
                                &mut rng,
                                &mut scratch,
                                &mut out,
                            )
                        },
                        |()| floats(&out),
                    );
                }
            }
        }
    }
}

/// The pruned Sinkhorn divergence with fresh buffers sized for `a` and `b` (lengths that
/// overflow are refused before any buffer is made); returns its potentials as well.
fn pruned(
    a: &WeightedCloud<'_, 2>,
    b: &WeightedCloud<'_, 2>,
    sinkhorn: &SinkhornConfig,
    tolerance: f32,
) -> Result<
    (
        drifting::SinkhornDivergence,
        [drifting::PruneReport; 3],
        Vec<f32>,
    ),
    Error,
> {
    let (n, m) = (a.len(), b.len());
    let (keys, points, boxes, values) =
        pruned_sinkhorn_workspace_len(n, m).ok_or(Error::InvalidParameter { input: "n + m" })?;
    let empty = drifting::spatial::BoundingBox {
        min: [0.0; 2],
        max: [0.0; 2],
        count: 0,
    };
    let mut buffer = vec![0.0; SinkhornWorkspace::required_len(n, m)];
    let mut workspace = PrunedSinkhornWorkspace {
        sinkhorn: SinkhornWorkspace::new(&mut buffer, n, m)?,
        spatial: drifting::PrunedWorkspace {
            keys: &mut vec![0; keys],
            points: &mut vec![[0.0; 2]; points],
            boxes: &mut vec![empty; boxes],
        },
        values: &mut vec![0.0; values],
    };
    let config = PrunedSinkhornConfig {
        sinkhorn: *sinkhorn,
        tolerance,
    };
    let (divergence, reports) = pruned_sinkhorn_divergence(a, b, &config, &mut workspace)?;
    let s = &workspace.sinkhorn;
    let potentials = [s.f(), s.g(), s.f_aa(), s.g_bb()].concat();
    Ok((divergence, reports, potentials))
}

#[test]
fn sinkhorn_routines_give_typed_errors_or_finite_results() {
    let configs = |blur: f32| {
        [
            SinkhornConfig {
                blur,
                ..SinkhornConfig::default()
            },
            SinkhornConfig {
                blur,
                update: UpdateRule::Symmetric,
                scaling: Some(0.5),
                tolerance: 0.0,
                max_iterations: usize::MAX,
                ..SinkhornConfig::default()
            },
            SinkhornConfig {
                blur,
                cost: GroundCost::SquaredEuclidean,
                scaling: None,
                max_iterations: 3,
                ..SinkhornConfig::default()
            },
            SinkhornConfig {
                blur,
                scaling: Some(0.999_999_94),
                ..SinkhornConfig::default()
            },
            SinkhornConfig {
                blur,
                scaling: Some(f32::NAN),
                tolerance: f32::NAN,
                ..SinkhornConfig::default()
            },
            SinkhornConfig::default().with_epsilon(blur),
            SinkhornConfig {
                blur,
                warm_start: true,
                ..SinkhornConfig::default()
            },
        ]
    };
    for (xn, x) in clouds() {
        for (yn, y) in clouds() {
            let (n, m) = (x.len(), y.len());
            let (a, b) = (
                WeightedCloud::uniform(CloudView::from_points(&x)),
                WeightedCloud::uniform(CloudView::from_points(&y)),
            );
            for &blur in &SCALES {
                for config in configs(blur) {
                    let what = format!("{xn} vs {yn}, {config:?}");
                    let mut buffer = vec![0.0; SinkhornWorkspace::required_len(n, m)];
                    let mut workspace = SinkhornWorkspace::new(&mut buffer, n, m).unwrap();
                    let report_values = |r: &drifting::SinkhornReport| {
                        vec![f64::from(r.marginal_error), f64::from(r.epsilon)]
                    };
                    contract!(
                        &format!("entropic_transport {what}"),
                        || entropic_transport(&a, &b, &config, &mut workspace),
                        |(v, r)| {
                            let mut out = report_values(r);
                            out.push(f64::from(*v));
                            out
                        },
                    );
                    contract!(
                        &format!("sinkhorn_divergence {what}"),
                        || sinkhorn_divergence(&a, &b, &config, &mut workspace),
                        |s| floats(&[s.value, s.transport_ab, s.transport_aa, s.transport_bb]),
                    );
                    for tolerance in [1e-6, 0.0, f32::NAN] {
                        contract!(
                            &format!("pruned_sinkhorn_divergence {what} tolerance {tolerance}"),
                            || pruned(&a, &b, &config, tolerance),
                            |(s, reports, potentials)| {
                                let mut out = floats(&[
                                    s.value,
                                    s.transport_ab,
                                    s.transport_aa,
                                    s.transport_bb,
                                ]);
                                out.extend(reports.iter().map(|r| r.bound));
                                out.extend(floats(potentials));
                                out
                            },
                        );
                    }
                    let mut out = vec![0.0; 2 * n];
                    contract!(
                        &format!("barycentric_projection {what}"),
                        || barycentric_projection(&a, &b, &config, &mut workspace, &mut out),
                        |r| {
                            let mut values = report_values(r);
                            values.extend(floats(&out));
                            values
                        },
                    );
                    contract!(
                        &format!("sinkhorn_drift {what}"),
                        || sinkhorn_drift(&a, &b, &config, &mut workspace, &mut out),
                        |_| floats(&out),
                    );
                    let mut scratch = vec![0.0; sinkhorn_proxy_scratch_len(n, m)];
                    contract!(
                        &format!("sinkhorn_proxy_drift {what}"),
                        || sinkhorn_proxy_drift(&a, &b, &config, &mut scratch, &mut out),
                        |()| floats(&out),
                    );
                }
            }
            // Hostile weights and a workspace of other sizes.
            let weights: Vec<Vec<f32>> = vec![
                vec![f32::NAN; n],
                vec![-1.0; n],
                vec![0.0; n],
                vec![1.0; n + 1],
                vec![f32::MAX; n],
            ];
            for w in &weights {
                let a = WeightedCloud::weighted(CloudView::from_points(&x), w);
                let mut buffer = vec![0.0; SinkhornWorkspace::required_len(n, m)];
                let mut workspace = SinkhornWorkspace::new(&mut buffer, n, m).unwrap();
                contract!(
                    &format!("entropic_transport {xn} vs {yn}, weights {w:?}"),
                    || entropic_transport(&a, &b, &SinkhornConfig::default(), &mut workspace),
                    |(v, _)| vec![f64::from(*v)],
                );
                contract!(
                    &format!("pruned_sinkhorn_divergence {xn} vs {yn}, weights {w:?}"),
                    || pruned(&a, &b, &SinkhornConfig::default(), 1e-6),
                    |(s, _, potentials)| {
                        let mut out = floats(&[s.value]);
                        out.extend(floats(potentials));
                        out
                    },
                );
            }
            let mut buffer = vec![0.0; SinkhornWorkspace::required_len(n + 1, m)];
            let mut workspace = SinkhornWorkspace::new(&mut buffer, n + 1, m).unwrap();
            assert!(
                entropic_transport(&a, &b, &SinkhornConfig::default(), &mut workspace).is_err()
            );
        }
    }
}

#[test]
fn metrics_give_typed_errors_or_finite_values() {
    for (xn, x) in clouds() {
        for (yn, y) in clouds() {
            let (xv, yv) = (CloudView::from_points(&x), CloudView::from_points(&y));
            for directions in [0, 1, 50, MAX_DIRECTIONS + 1, usize::MAX] {
                let config = SlicedWassersteinConfig {
                    directions,
                    ..SlicedWassersteinConfig::new()
                };
                let mut scratch = vec![0.0; sliced_wasserstein_scratch_len(x.len())];
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
                contract!(
                    &format!("sliced_wasserstein {xn} vs {yn}, {directions} directions"),
                    || sliced_wasserstein(&xv, &yv, &config, &mut rng, &mut scratch),
                    |v| vec![*v],
                );
            }
            for &bandwidth in &SCALES {
                let bandwidths = [bandwidth, 0.5];
                let config = MmdConfig {
                    bandwidths: &bandwidths,
                };
                contract!(
                    &format!("mmd {xn} vs {yn}, σ {bandwidth}"),
                    || mmd(&xv, &yv, &config),
                    |s| vec![s.value, s.cross, s.within_first, s.within_second],
                );
            }
            contract!(
                &format!("energy_distance {xn} vs {yn}"),
                || energy_distance(&xv, &yv),
                |s| vec![s.value, s.cross, s.within_first, s.within_second],
            );
        }
    }
}

#[test]
fn loss_mlp_adam_datasets_and_schedules_give_typed_errors_or_finite_values() {
    type Net = Mlp<2, 8, 2>;
    let net = Net::new(Activation::Silu);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
    let mut params = vec![0.0; Net::PARAMETERS];
    Net::init_pytorch(&mut params, &mut rng).unwrap();
    let hostile = [0.5, f32::NAN, f32::INFINITY, 1e-45, f32::MAX, -f32::MAX];
    for &v in &hostile {
        // The loss.
        for len in [0, 4, 5] {
            let drift = vec![v; len];
            let mut gradient = vec![0.0; 4];
            for scale in [1.0, 0.0, f32::NAN, 1e-30, 1e30] {
                contract!(
                    &format!("stop_gradient_loss {v} ×{len}, scale {scale}"),
                    || stop_gradient_loss(&drift, scale, &mut gradient),
                    |l| {
                        let mut out = floats(&gradient);
                        out.push(f64::from(*l));
                        out
                    },
                );
            }
        }
        // The MLP, forward and backward, at hostile inputs and parameters.
        for batch in [0, 1, 3, 1 << 25, usize::MAX] {
            let len = batch.min(64);
            let input = vec![v; 2 * len];
            let mut cache = vec![0.0; Net::cache_len(len)];
            let mut output = vec![0.0; 2 * len];
            contract!(
                &format!("Mlp::forward input {v}, batch {batch}"),
                || net.forward(&params, &input, batch, &mut cache, &mut output),
                |()| floats(&output),
            );
            let mut bad = params.clone();
            bad[3] = v;
            contract!(
                &format!("Mlp::forward parameter {v}, batch {batch}"),
                || net.forward(&bad, &input, batch, &mut cache, &mut output),
                |()| floats(&output),
            );
            let grad_output = vec![v; 2 * len];
            let mut grads = vec![0.0; Net::PARAMETERS];
            let mut scratch = vec![0.0; Net::backward_scratch_len(len)];
            contract!(
                &format!("Mlp::backward grad {v}, batch {batch}"),
                || {
                    net.backward(
                        &params,
                        &cache,
                        &grad_output,
                        batch,
                        &mut grads,
                        None,
                        &mut scratch,
                    )
                },
                |()| floats(&grads),
            );
        }
        // Adam at hostile gradients, moments and hyper-parameters.
        for &hyper in &[1e-3, 0.0, -1.0, f32::NAN, 1e30, f32::MAX] {
            for clip in [None, Some(1.0), Some(hyper)] {
                let adam = Adam {
                    learning_rate: hyper.abs().max(1e-3),
                    epsilon: if hyper > 0.0 { hyper } else { 1e-8 },
                    max_grad_norm: clip,
                    ..Adam::new()
                };
                let mut p = vec![0.5; 9];
                let g = vec![v; 9];
                let (mut m, mut second) = (vec![0.0; 9], vec![v.abs(); 9]);
                let mut state = AdamState::new();
                contract!(
                    &format!("Adam::step grad {v}, {adam:?}"),
                    || adam.step(&mut state, &mut p, &g, &mut m, &mut second),
                    |r| {
                        let mut out = floats(&p);
                        out.extend(floats(&[r.gradient_norm, r.clip_scale]));
                        out
                    },
                );
            }
        }
        // Datasets at hostile parameters and sizes.
        for dataset in [
            Dataset::Checkerboard { noise: v },
            Dataset::SwissRoll { noise: v },
            Dataset::TwoMoons { noise: v },
            Dataset::RingOfGaussians {
                modes: 8,
                radius: v,
                std: 0.04,
            },
            Dataset::RingOfGaussians {
                modes: 0,
                radius: 1.0,
                std: v,
            },
            Dataset::EightGaussians { scale: v, std: v },
            Dataset::FourModeMixture { std: v },
        ] {
            for n in [0, 1, 100, usize::MAX] {
                let mut out = vec![0.0; 2 * n.min(100)];
                contract!(
                    &format!("Dataset::sample {dataset:?}, n {n}"),
                    || dataset.sample(&mut rng, &mut out, n),
                    |()| floats(&out),
                );
            }
        }
        // Schedules.
        for schedule in [
            AnnealingSchedule::Constant { initial: v },
            AnnealingSchedule::Exponential {
                initial: 1.0,
                rate: v,
                minimum: 0.1,
            },
            AnnealingSchedule::Exponential {
                initial: 0.1,
                rate: 0.5,
                minimum: v,
            },
            AnnealingSchedule::Linear {
                initial: 1e-30,
                end: v,
                steps: 10,
            },
            AnnealingSchedule::Cosine {
                initial: v,
                end: 1e-30,
                steps: 0,
            },
        ] {
            if schedule.validate().is_ok() {
                for t in [0, 1, 10, 1000, u64::MAX] {
                    let (value, factor) = (schedule.value(t), schedule.factor(t));
                    assert!(
                        value.is_finite() && value > 0.0 && factor.is_finite() && factor > 0.0,
                        "{schedule:?} at {t}: {value} {factor}"
                    );
                }
            }
        }
    }
    // Blobs: empty, truncated, another shape.
    let mut blob = vec![0u8; Net::blob_len()];
    let written = net.save(&params, &mut blob).unwrap();
    let mut into = vec![0.0; Net::PARAMETERS];
    for bytes in [
        &blob[..0],
        &blob[..7],
        &blob[..40],
        &blob[..written],
        &blob[1..],
    ] {
        contract!(
            &format!("Mlp::load {} bytes", bytes.len()),
            || Net::load(bytes, &mut into),
            |_| floats(&into),
        );
    }
}

#[test]
fn clouds_and_size_helpers_give_typed_errors_or_saturate() {
    let data = [0.0_f32; 8];
    for len in [0, 1, 4, 5, usize::MAX / 2 + 1, usize::MAX] {
        contract!(
            &format!("CloudView::from_coordinate_major len {len}"),
            || CloudView::<2>::from_coordinate_major(&data, len).map(|_| ()),
            |()| vec![],
        );
    }
    contract!(
        "CloudView::from_coordinates mismatched",
        || CloudView::<2>::from_coordinates([&data[..3], &data[..4]]).map(|_| ()),
        |()| vec![],
    );
    // The size helpers never panic and saturate; the constructors refuse what overflows.
    for (n, m) in [
        (usize::MAX, 1),
        (1, usize::MAX),
        (usize::MAX / 4, usize::MAX / 4),
    ] {
        assert_eq!(SinkhornWorkspace::required_len(n, m), usize::MAX);
        assert_eq!(SinkhornWorkspace::checked_required_len(n, m), None);
        assert_eq!(sinkhorn_proxy_scratch_len(n, m), usize::MAX);
        assert_eq!(checked_sinkhorn_proxy_scratch_len(n, m), None);
        if n == usize::MAX || m == usize::MAX {
            assert_eq!(sliced_wasserstein_drift_scratch_len(n, m), usize::MAX);
        }
        let mut buffer = [0.0; 16];
        assert_eq!(
            SinkhornWorkspace::new(&mut buffer, n, m).map(|_| ()),
            Err(Error::InvalidParameter { input: "n + m" })
        );
        for field in every_field() {
            // Saturated exactly when the checked length overflows; the fields whose workspace
            // does not grow with the data (mean shift, MMD flow: one field of N·D values) have a
            // finite one whatever P.
            let checked = field.checked_workspace_len(n, m, 2);
            assert_eq!(
                field.workspace_len(n, m, 2),
                checked.unwrap_or(usize::MAX),
                "{field:?}"
            );
            let grows_with_data = !matches!(field.name(), "mean shift" | "MMD flow");
            if n == usize::MAX || (m == usize::MAX && grows_with_data) {
                assert_eq!(checked, None, "{field:?}");
            } else if !grows_with_data {
                assert_eq!(checked, n.checked_mul(2), "{field:?}");
            }
        }
    }
    assert_eq!(sliced_wasserstein_scratch_len(usize::MAX), usize::MAX);
    assert_eq!(mean_shift_vjp_scratch_len(usize::MAX, 2), usize::MAX);
    assert_eq!(two_axis_vjp_scratch_len(usize::MAX, 1, 1), usize::MAX);
    assert_eq!(
        multi_temperature_vjp_scratch_len(1, usize::MAX, 2),
        usize::MAX
    );
    assert_eq!(Mlp::<2, 8, 2>::cache_len(usize::MAX), usize::MAX);
}

/// Every trainer field, with ordinary parameters.
/// Every operator of the registry ([`DriftField::CATALOGUE`]), the Sinkhorn solve capped at 20
/// iterations (hostile inputs need not converge, only stay finite or be refused).
fn every_field() -> Vec<DriftField> {
    DriftField::CATALOGUE
        .iter()
        .map(|field| match *field {
            DriftField::Sinkhorn(config) => DriftField::Sinkhorn(SinkhornConfig {
                max_iterations: 20,
                ..config
            }),
            other => other,
        })
        .collect()
}

#[test]
fn trainer_and_fields_give_typed_errors_or_finite_reports() {
    type Net = Mlp<2, 8, 2>;
    let mut fields = every_field();
    fields.extend([
        DriftField::TwoAxis(KernelFamily::Laplace, SelfMask::AddDistance(f32::NAN)),
        DriftField::MultiTemperature {
            affinity_floor: f32::NAN,
            self_mask_distance: 100.0,
        },
        DriftField::Sinkhorn(SinkhornConfig {
            scaling: Some(2.0),
            ..SinkhornConfig::default()
        }),
    ]);
    #[cfg(feature = "flow-fields")]
    fields.push(DriftField::SlicedWasserstein {
        directions: usize::MAX,
    });
    for field in fields {
        for (pn, p) in clouds() {
            for &t in &SCALES {
                for batch in [0, 3, 1 << 25, usize::MAX] {
                    let temperatures = [t];
                    let config = TrainerConfig {
                        field,
                        temperatures: &temperatures,
                        batch,
                        ..TrainerConfig::official_demo()
                    };
                    let what = format!("{field:?} τ {t} batch {batch} data {pn}");
                    let data_batch = p.len().max(1);
                    let len = Trainer::<2, 8, 2>::workspace_len(&config, data_batch);
                    if len > 1 << 24 {
                        // Too large to allocate: `new` must refuse the sizes without a buffer.
                        let mut tiny = [0.0; 4];
                        let mut params = vec![0.0; Net::PARAMETERS];
                        let (mut g, mut m, mut v) = (
                            vec![0.0; Net::PARAMETERS],
                            vec![0.0; Net::PARAMETERS],
                            vec![0.0; Net::PARAMETERS],
                        );
                        let result = catch_unwind(AssertUnwindSafe(|| {
                            Trainer::<2, 8, 2>::new(
                                config,
                                data_batch,
                                &mut params,
                                &mut g,
                                &mut m,
                                &mut v,
                                &mut tiny,
                            )
                            .map(|_| ())
                        }));
                        assert!(matches!(result, Ok(Err(_))), "{what}");
                        continue;
                    }
                    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
                    let mut params = vec![0.0; Net::PARAMETERS];
                    Net::init_pytorch(&mut params, &mut rng).unwrap();
                    let (mut g, mut m, mut v) = (
                        vec![0.0; Net::PARAMETERS],
                        vec![0.0; Net::PARAMETERS],
                        vec![0.0; Net::PARAMETERS],
                    );
                    let mut workspace = vec![0.0; len];
                    let buffers = (&mut params, &mut g, &mut m, &mut v, &mut workspace);
                    let built = catch_unwind(AssertUnwindSafe(move || {
                        let (params, g, m, v, workspace) = buffers;
                        Trainer::<2, 8, 2>::new(config, data_batch, params, g, m, v, workspace)
                    }));
                    let Ok(built) = built else {
                        panic!("Trainer::new {what}: panicked");
                    };
                    let Ok(mut trainer) = built else { continue };
                    let flat: Vec<f32> = p
                        .iter()
                        .map(|q| q[0])
                        .chain(p.iter().map(|q| q[1]))
                        .collect();
                    let Ok(view) = CloudView::<2>::from_coordinate_major(&flat, p.len()) else {
                        continue;
                    };
                    for _ in 0..2 {
                        let ok = contract!(
                            &format!("Trainer::step {what}"),
                            || trainer.step(&mut rng, &view),
                            |r| {
                                floats(&[
                                    r.loss,
                                    r.drift_rms,
                                    r.temperature_factor,
                                    r.underflow_fraction,
                                ])
                            },
                        );
                        assert!(trainer.parameters().iter().all(|x| x.is_finite()), "{what}");
                        if !ok {
                            break;
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn drift_field_evaluate_gives_typed_errors_or_finite_fields() {
    for field in every_field() {
        for (qn, q) in clouds() {
            for (pn, p) in clouds() {
                for &t in &SCALES {
                    let temperatures = [t];
                    let (qv, pv) = (CloudView::from_points(&q), CloudView::from_points(&p));
                    let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
                    let mut scratch = vec![0.0; field.workspace_len(q.len(), p.len(), 2)];
                    let mut out = vec![0.0; 2 * q.len()];
                    contract!(
                        &format!("DriftField::evaluate {field:?} {qn} vs {pn}, τ {t}"),
                        || {
                            field.evaluate(
                                &temperatures,
                                &mut rng,
                                &qv,
                                &pv,
                                &mut scratch,
                                &mut out,
                            )
                        },
                        |s| {
                            let mut v = floats(&out);
                            v.push(f64::from(*s));
                            v
                        },
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The other defects of issue 15, by name.
// ---------------------------------------------------------------------------------------------

/// `sliced_wasserstein` with a huge direction count panicked on the thread pool (capacity
/// overflow) or aborted on allocation, and looped for ever serially. It refuses counts above
/// [`MAX_DIRECTIONS`] at once; on a pool it draws its directions in bounded batches and still
/// equals the serial value bit for bit.
#[test]
fn huge_direction_counts_are_refused_at_once() {
    let x = [[0.0_f32, 0.0], [1.0, 0.5], [0.2, 0.1]];
    let y = [[0.5_f32, 0.5], [-1.0, 0.0], [0.3, 0.3]];
    let (xv, yv) = (CloudView::from_points(&x), CloudView::from_points(&y));
    let mut scratch = [0.0; 6];
    let started = std::time::Instant::now();
    for directions in [MAX_DIRECTIONS + 1, usize::MAX / 2, usize::MAX] {
        let config = SlicedWassersteinConfig {
            directions,
            ..SlicedWassersteinConfig::new()
        };
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        assert_eq!(
            sliced_wasserstein(&xv, &yv, &config, &mut rng, &mut scratch),
            Err(Error::InvalidParameter {
                input: "directions"
            })
        );
        let mut out = [0.0; 6];
        let mut flow_scratch = [0.0; 9];
        assert_eq!(
            sliced_wasserstein_drift(
                &xv,
                &yv,
                &SlicedWassersteinDriftConfig {
                    directions,
                    step: 1.0
                },
                &mut rng,
                &mut flow_scratch,
                &mut out
            ),
            Err(Error::InvalidParameter {
                input: "directions"
            })
        );
    }
    assert!(started.elapsed().as_secs_f64() < 1.0);
    // More directions than one parallel batch: the same value as the serial loop.
    #[cfg(feature = "std")]
    {
        let config = SlicedWassersteinConfig {
            directions: 10_000,
            ..SlicedWassersteinConfig::new()
        };
        let run = || {
            let mut scratch = [0.0; 6];
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(4);
            sliced_wasserstein(&xv, &yv, &config, &mut rng, &mut scratch)
                .unwrap()
                .to_bits()
        };
        let pool = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
        };
        assert_eq!(pool(1).install(run), pool(3).install(run));
    }
}

/// The scratch-size helpers and workspace constructors overflowed (debug: panic; release: a
/// wrapped size that then passed validation). They saturate now, and every constructor checks
/// with checked arithmetic: `Trainer::new` refuses a batch whose workspace length overflows
/// without being handed a buffer that long.
#[test]
fn overflowing_sizes_are_refused_by_the_constructors() {
    let config = TrainerConfig {
        batch: usize::MAX / 2,
        ..TrainerConfig::official_demo()
    };
    assert_eq!(
        Trainer::<2, 8, 2>::workspace_len(&config, 16),
        usize::MAX,
        "saturates"
    );
    assert_eq!(Trainer::<2, 8, 2>::checked_workspace_len(&config, 16), None);
    type Net = Mlp<2, 8, 2>;
    let mut params = vec![0.1; Net::PARAMETERS];
    let (mut g, mut m, mut v) = (
        vec![0.0; Net::PARAMETERS],
        vec![0.0; Net::PARAMETERS],
        vec![0.0; Net::PARAMETERS],
    );
    let mut workspace = [0.0; 64];
    for batch in [usize::MAX, usize::MAX / 3, (1 << 24) + 1] {
        let config = TrainerConfig {
            batch,
            ..TrainerConfig::official_demo()
        };
        assert_eq!(
            Trainer::<2, 8, 2>::new(
                config,
                16,
                &mut params,
                &mut g,
                &mut m,
                &mut v,
                &mut workspace
            )
            .map(|_| ()),
            Err(Error::InvalidParameter { input: "batch" })
        );
    }
    // A data batch whose field scratch overflows is refused as well.
    let config = TrainerConfig {
        batch: 16,
        ..TrainerConfig::official_demo()
    };
    assert_eq!(
        Trainer::<2, 8, 2>::new(
            config,
            usize::MAX,
            &mut params,
            &mut g,
            &mut m,
            &mut v,
            &mut workspace
        )
        .map(|_| ()),
        Err(Error::InvalidParameter { input: "batch" })
    );
}

/// Adam with a negative second moment reported `OutOfRange { learning_rate }`; it names `v`.
#[test]
fn adam_names_a_negative_second_moment() {
    let mut state = AdamState::new();
    let (mut p, g, mut m, mut v) = (vec![1.0; 9], vec![0.1; 9], vec![0.0; 9], vec![0.0; 9]);
    v[8] = -1e-3;
    assert_eq!(
        Adam::new().step(&mut state, &mut p, &g, &mut m, &mut v),
        Err(Error::InvalidParameter { input: "v" })
    );
    assert_eq!(p, vec![1.0; 9], "nothing written");
    assert_eq!(state.step_count(), 0);
}

/// Adam clipping `f32::MAX` gradients returned an infinite norm and zeroed the gradient instead of
/// clipping it. Now the norm saturates at `f32::MAX` in the report and the gradient is scaled
/// by the exact factor: the step equals the one for the same direction at a norm `f32` holds.
#[test]
fn adam_clips_gradients_whose_norm_overflows_f32() {
    let adam = Adam {
        max_grad_norm: Some(1.0),
        ..Adam::new()
    };
    let n = 20;
    let huge: Vec<f32> = (0..n)
        .map(|k| {
            if k % 3 == 0 {
                f32::MAX
            } else {
                -f32::MAX / 2.0
            }
        })
        .collect();
    let tame: Vec<f32> = huge.iter().map(|g| g * 2f32.powi(-100)).collect();
    let run = |grads: &[f32]| {
        let mut state = AdamState::new();
        let (mut p, mut m, mut v) = (vec![0.5; n], vec![0.0; n], vec![0.0; n]);
        let report = adam
            .step(&mut state, &mut p, grads, &mut m, &mut v)
            .unwrap();
        (p, m, report)
    };
    let (p_huge, m_huge, r_huge) = run(&huge);
    let (p_tame, m_tame, r_tame) = run(&tame);
    assert_eq!(r_huge.gradient_norm, f32::MAX, "saturated, not infinite");
    assert!(r_huge.clip_scale > 0.0 && r_huge.clip_scale.is_finite());
    assert!(r_tame.clip_scale < 1.0);
    // The clipped gradients agree, so do the moments and the parameters (to rounding).
    for k in 0..n {
        assert!(
            (m_huge[k] - m_tame[k]).abs() <= 1e-6 * m_tame[k].abs(),
            "{k}: {} vs {}",
            m_huge[k],
            m_tame[k]
        );
        assert!((p_huge[k] - p_tame[k]).abs() <= 1e-6, "{k}");
        assert!((p_huge[k] - 0.5).abs() > 1e-4, "{k}: the parameter moved");
    }
}

/// A diverging trainer (learning rate `1e30`) reported `OutOfRange { input: "input" }` (the
/// MLP's name for its own input) where the docs promise `NonFinite`: it names the generator's
/// output now, and the parameters stay as they were before the failed step.
#[test]
fn a_diverging_trainer_names_the_generator_output() {
    type Net = Mlp<4, 16, 2>;
    let temperatures = [0.05];
    let config = TrainerConfig {
        temperatures: &temperatures,
        optimizer: Adam {
            learning_rate: 1e30,
            ..Adam::new()
        },
        batch: 64,
        ..TrainerConfig::official_demo()
    };
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let mut params = vec![0.0; Net::PARAMETERS];
    Net::init_pytorch(&mut params, &mut rng).unwrap();
    let (mut g, mut m, mut v) = (
        vec![0.0; Net::PARAMETERS],
        vec![0.0; Net::PARAMETERS],
        vec![0.0; Net::PARAMETERS],
    );
    let mut workspace = vec![0.0; Trainer::<4, 16, 2>::workspace_len(&config, 64)];
    let mut trainer = Trainer::<4, 16, 2>::new(
        config,
        64,
        &mut params,
        &mut g,
        &mut m,
        &mut v,
        &mut workspace,
    )
    .unwrap();
    let mut data = vec![0.0; 128];
    let mut error = None;
    for _ in 0..5 {
        Dataset::checkerboard()
            .sample(&mut rng, &mut data, 64)
            .unwrap();
        let view = CloudView::from_coordinate_major(&data, 64).unwrap();
        let before = trainer.parameters().to_vec();
        if let Err(e) = trainer.step(&mut rng, &view) {
            assert_eq!(before, trainer.parameters(), "parameters kept");
            error = Some(e);
            break;
        }
    }
    assert_eq!(
        error,
        Some(Error::NonFinite {
            input: "generator output"
        })
    );
}

/// `Trainer::new` accepted an invalid field (NaN mask, NaN floor, Sinkhorn scaling 2.0) and
/// failed only at the first step; it refuses them now, naming the parameter, as it refuses
/// schedules whose floor exceeds the initial value or that anneal a temperature out of range.
#[test]
fn trainer_new_validates_the_whole_field_and_the_schedule() {
    type Net = Mlp<2, 8, 2>;
    let build = |config: TrainerConfig<'_>| {
        let mut params = vec![0.1; Net::PARAMETERS];
        let (mut g, mut m, mut v) = (
            vec![0.0; Net::PARAMETERS],
            vec![0.0; Net::PARAMETERS],
            vec![0.0; Net::PARAMETERS],
        );
        let len = Trainer::<2, 8, 2>::workspace_len(&config, 8);
        let mut workspace = vec![0.0; len];
        Trainer::<2, 8, 2>::new(
            config,
            8,
            &mut params,
            &mut g,
            &mut m,
            &mut v,
            &mut workspace,
        )
        .map(|_| ())
    };
    let temperatures = [0.05];
    let with = |field| TrainerConfig {
        field,
        temperatures: &temperatures,
        batch: 8,
        ..TrainerConfig::official_demo()
    };
    #[allow(unused_mut)]
    let mut cases = vec![
        (
            DriftField::TwoAxis(KernelFamily::Laplace, SelfMask::AddDistance(f32::NAN)),
            "self_mask",
        ),
        (
            DriftField::MultiTemperature {
                affinity_floor: f32::NAN,
                self_mask_distance: 100.0,
            },
            "affinity_floor",
        ),
        (
            DriftField::MultiTemperature {
                affinity_floor: 1e-6,
                self_mask_distance: f32::INFINITY,
            },
            "self_mask_distance",
        ),
        (
            DriftField::Sinkhorn(SinkhornConfig {
                scaling: Some(2.0),
                ..SinkhornConfig::default()
            }),
            "scaling",
        ),
    ];
    #[cfg(feature = "flow-fields")]
    cases.extend([
        (
            DriftField::SinkhornProxy(SinkhornConfig {
                tolerance: f32::NAN,
                ..SinkhornConfig::default()
            }),
            "tolerance",
        ),
        (
            DriftField::SlicedWasserstein { directions: 0 },
            "directions",
        ),
        (
            DriftField::SlicedWasserstein {
                directions: usize::MAX,
            },
            "directions",
        ),
    ]);
    for (field, name) in cases {
        assert_eq!(
            build(with(field)),
            Err(Error::InvalidParameter { input: name }),
            "{field:?}"
        );
    }
    // A Gaussian bandwidth whose 1/(2σ²) overflows is refused at construction too.
    let tiny = [1e-30];
    assert_eq!(
        build(TrainerConfig {
            field: DriftField::MeanShift(KernelFamily::Gaussian),
            temperatures: &tiny,
            batch: 8,
            ..TrainerConfig::official_demo()
        }),
        Err(Error::InvalidParameter { input: "bandwidth" })
    );
    // Schedules: a floor above the initial value; a temperature annealed out of range.
    let schedule_config = |annealing| TrainerConfig {
        annealing: Some(annealing),
        ..with(DriftField::OFFICIAL_DEMO)
    };
    assert_eq!(
        build(schedule_config(AnnealingSchedule::Exponential {
            initial: 0.1,
            rate: 0.1,
            minimum: 1.0
        })),
        Err(Error::InvalidParameter {
            input: "schedule.minimum"
        })
    );
    let huge_factor = TrainerConfig {
        temperatures: &[1e30],
        annealing: Some(AnnealingSchedule::Linear {
            initial: 1.0,
            end: 1e10,
            steps: 10,
        }),
        ..with(DriftField::OFFICIAL_DEMO)
    };
    assert_eq!(
        build(huge_factor),
        Err(Error::InvalidParameter {
            input: "annealing (temperature × final factor)"
        })
    );
    // And a valid configuration still builds.
    assert_eq!(build(with(DriftField::OFFICIAL_DEMO)), Ok(()));
}

/// A blob saved for another shape reported a byte count (`ShapeMismatch`) instead of the field
/// that differs.
#[test]
fn a_blob_of_another_shape_names_the_field() {
    let small = Mlp::<2, 8, 2>::new(Activation::Tanh);
    let params = vec![0.25; Mlp::<2, 8, 2>::PARAMETERS];
    let mut blob = vec![0u8; Mlp::<2, 8, 2>::blob_len()];
    let written = small.save(&params, &mut blob).unwrap();
    let mut into = vec![7.0; Mlp::<2, 16, 2>::PARAMETERS];
    assert_eq!(
        Mlp::<2, 16, 2>::load(&blob[..written], &mut into).map(|_| ()),
        Err(Error::InvalidBlob { field: "hidden" })
    );
    let mut into = vec![7.0; Mlp::<3, 8, 2>::PARAMETERS];
    assert_eq!(
        Mlp::<3, 8, 2>::load(&blob[..written], &mut into).map(|_| ()),
        Err(Error::InvalidBlob { field: "inputs" })
    );
    // Same shape, truncated: that one is a length problem.
    let mut into = vec![7.0; Mlp::<2, 8, 2>::PARAMETERS];
    assert!(matches!(
        Mlp::<2, 8, 2>::load(&blob[..written - 1], &mut into),
        Err(Error::ShapeMismatch { input: "blob", .. })
    ));
}

/// Datasets with huge noise or radius returned infinite points as `Ok`. Lengths above
/// [`Dataset::MAX_SCALE`] are out of range; at the limit every point is finite.
#[test]
fn datasets_refuse_scales_whose_points_overflow() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
    let mut out = vec![0.0; 2000];
    for (dataset, input) in [
        (Dataset::Checkerboard { noise: 3e38 }, "noise"),
        (Dataset::SwissRoll { noise: 1e38 }, "noise"),
        (
            Dataset::RingOfGaussians {
                modes: 8,
                radius: 3e38,
                std: 0.04,
            },
            "radius",
        ),
        (
            Dataset::EightGaussians {
                scale: -3e38,
                std: 0.5,
            },
            "scale",
        ),
        (Dataset::FourModeMixture { std: 1e38 }, "std"),
    ] {
        assert_eq!(
            dataset.sample(&mut rng, &mut out, 1000),
            Err(Error::OutOfRange { input }),
            "{dataset:?}"
        );
    }
    let limit = Dataset::MAX_SCALE;
    for dataset in [
        Dataset::TwoMoons { noise: limit },
        Dataset::RingOfGaussians {
            modes: 3,
            radius: -limit,
            std: limit,
        },
        Dataset::EightGaussians {
            scale: limit,
            std: limit,
        },
    ] {
        dataset.sample(&mut rng, &mut out, 1000).unwrap();
        assert!(out.iter().all(|v| v.is_finite()), "{dataset:?}");
    }
}

/// The trainer reported loss 0 when the data were far away (the drift underflowed), exactly as
/// when it converged. `StepReport::underflow_fraction` tells them apart: 1 when every generated
/// sample is out of the kernel's `f32` reach of the data, 0 on the demo's data at the start.
#[test]
fn loss_underflow_is_reported_when_the_data_are_out_of_reach() {
    type Net = Mlp<4, 16, 2>;
    let run = |shift: f32, field: DriftField| {
        let temperatures = [0.05];
        let config = TrainerConfig {
            field,
            temperatures: &temperatures,
            batch: 64,
            ..TrainerConfig::official_demo()
        };
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let mut params = vec![0.0; Net::PARAMETERS];
        Net::init_pytorch(&mut params, &mut rng).unwrap();
        let (mut g, mut m, mut v) = (
            vec![0.0; Net::PARAMETERS],
            vec![0.0; Net::PARAMETERS],
            vec![0.0; Net::PARAMETERS],
        );
        let mut workspace = vec![0.0; Trainer::<4, 16, 2>::workspace_len(&config, 64)];
        let mut trainer = Trainer::<4, 16, 2>::new(
            config,
            64,
            &mut params,
            &mut g,
            &mut m,
            &mut v,
            &mut workspace,
        )
        .unwrap();
        let mut data = vec![0.0; 128];
        Dataset::checkerboard()
            .sample(&mut rng, &mut data, 64)
            .unwrap();
        for d in &mut data {
            *d += shift;
        }
        let view = CloudView::from_coordinate_major(&data, 64).unwrap();
        trainer.step(&mut rng, &view).unwrap()
    };
    let far = run(100.0, DriftField::OFFICIAL_DEMO);
    assert_eq!(far.loss, 0.0, "the drift underflows");
    assert_eq!(far.underflow_fraction, 1.0);
    let near = run(0.0, DriftField::OFFICIAL_DEMO);
    assert!(near.loss > 0.0);
    assert_eq!(near.underflow_fraction, 0.0);
    // The MMD flow's pull underflows too (its loss is the repulsion's, not 0)…
    #[cfg(feature = "flow-fields")]
    {
        let mmd = run(100.0, DriftField::MmdFlow(KernelFamily::Gaussian));
        assert_eq!(mmd.underflow_fraction, 1.0);
    }
    // …while the mean shift normalises over the data and pulls from any distance.
    let mean_shift = run(100.0, DriftField::MeanShift(KernelFamily::Laplace));
    assert_eq!(mean_shift.underflow_fraction, 0.0);
    assert!(mean_shift.loss > 1.0);
}

/// The dense path (forced, both distance forms) of the two-axis and multi-temperature drifts, and
/// the grouped feature-space loss, on the hostile clouds and temperatures: a typed error or
/// finite outputs, never a panic.
#[cfg(feature = "dense")]
#[test]
fn dense_path_and_grouped_loss_give_typed_errors_or_finite_fields() {
    use drifting::{
        DistanceMethod, Evaluation, GroupShape, GroupedDriftConfig, grouped_drift_loss,
        grouped_drift_workspace_len, multi_temperature_dense_scratch_len,
        two_axis_dense_scratch_len,
    };
    for (qn, q) in clouds() {
        for (pn, p) in clouds() {
            let (qv, pv) = (CloudView::from_points(&q), CloudView::from_points(&p));
            let (n, m) = (q.len(), p.len());
            for &t in &SCALES {
                for method in [DistanceMethod::Expanded, DistanceMethod::Difference] {
                    let what = format!("{qn} vs {pn}, t = {t:e}, {method:?}");
                    let evaluation = Evaluation::Dense(method);
                    for kernel in [Kernel::laplace(t), Kernel::gaussian(t)] {
                        let mut scratch =
                            vec![0.0; two_axis_dense_scratch_len(n, m, n, 2).unwrap()];
                        let mut out = vec![0.0; 2 * n];
                        let config = TwoAxisConfig {
                            evaluation,
                            ..TwoAxisConfig::new(kernel)
                        };
                        contract!(
                            &format!("dense two_axis_softmax_drift {what} {kernel:?}"),
                            || {
                                two_axis_softmax_drift(
                                    &qv,
                                    &pv,
                                    Negatives::Queries,
                                    &config,
                                    &mut scratch,
                                    &mut out,
                                )
                            },
                            |()| floats(&out),
                        );
                    }
                    let temperatures = [t];
                    let config = MultiTemperatureConfig {
                        temperatures: &temperatures,
                        evaluation,
                        ..MultiTemperatureConfig::official()
                    };
                    let mut scratch =
                        vec![0.0; multi_temperature_dense_scratch_len(n, m, 2, 1).unwrap()];
                    let mut out = vec![0.0; 2 * n];
                    contract!(
                        &format!("dense multi_temperature_drift {what}"),
                        || multi_temperature_drift(&qv, &pv, &config, &mut scratch, &mut out),
                        |r| {
                            let mut v = floats(&out);
                            v.push(f64::from(r.loss));
                            v
                        },
                    );
                    // The grouped loss: one group, the hostile clouds as generated samples and
                    // positives, one unconditional negative (the first positive, if any).
                    let shape = GroupShape {
                        groups: 1,
                        generated: n,
                        unconditional: usize::from(m > 0),
                        positives: m,
                        channels: 2,
                    };
                    let generated: Vec<f32> = q.iter().flatten().copied().collect();
                    let positives: Vec<f32> = p.iter().flatten().copied().collect();
                    let unconditional: Vec<f32> = p.iter().take(1).flatten().copied().collect();
                    let alpha = [2.0_f32];
                    let config = GroupedDriftConfig {
                        temperatures: &temperatures,
                        guidance: Some(&alpha),
                        distances: method,
                        ..GroupedDriftConfig::official()
                    };
                    let mut workspace =
                        vec![0.0; grouped_drift_workspace_len(&shape, 1).unwrap_or(0)];
                    let mut field = vec![0.0; shape.generated_len()];
                    let mut losses = vec![0.0; 1];
                    contract!(
                        &format!("grouped_drift_loss {what}"),
                        || {
                            grouped_drift_loss(
                                &shape,
                                &generated,
                                &unconditional,
                                &positives,
                                &config,
                                &mut workspace,
                                &mut field,
                                Some(&mut losses),
                            )
                        },
                        |r| {
                            let mut v = floats(&field);
                            v.extend(floats(&losses));
                            v.push(f64::from(r.loss));
                            v.extend(floats(&r.raw_rms2[..r.temperature_count]));
                            v
                        },
                    );
                }
            }
        }
    }
    // usize::MAX shapes: a typed error, not an overflow.
    let huge = GroupShape {
        groups: usize::MAX,
        generated: 2,
        unconditional: 0,
        positives: 2,
        channels: 3,
    };
    assert_eq!(grouped_drift_workspace_len(&huge, 3), None);
    assert_eq!(two_axis_dense_scratch_len(usize::MAX, 2, 2, 2), None);
    assert_eq!(
        multi_temperature_dense_scratch_len(usize::MAX, 2, 2, 3),
        None
    );
    let mut field = [0.0_f32; 6];
    assert!(
        grouped_drift_loss(
            &huge,
            &[0.0; 6],
            &[],
            &[0.0; 6],
            &GroupedDriftConfig::official(),
            &mut [],
            &mut field,
            None
        )
        .is_err()
    );
}
