//! The SIMD `f32` drift operators against two independent references: the dense scalar `f64`
//! transcription of the formulas (`tests/reference/mod.rs`) and PyTorch `float64` values
//! (`tests/reference/torch_values.rs`, made by `tests/reference/make_torch_references.py`).
//!
//! Error measure: `max_i,d |V_f32 − V_ref| / max_i,d |V_ref|` (relative to the field's largest
//! entry, so that entries that cancel to nearly zero are not judged by a meaningless relative
//! error). Tolerances, per operator, are stated on each test.

use crate::reference;
#[path = "reference/torch_values.rs"]
mod torch_values;

use drifting::sample::fill_standard_normal;
use drifting::{
    CloudView, DistanceMethod, Evaluation, Kernel, MeanShiftConfig, MultiTemperatureConfig,
    Negatives, SelfMask, TwoAxisConfig, mean_shift_drift, multi_temperature_drift,
    multi_temperature_scratch_len, two_axis_scratch_len, two_axis_softmax_drift,
};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use reference::{Points, RefKernel, RefMask};

/// Point-major `f32` points of a standard normal cloud times `scale`, shifted by `shift`.
fn cloud<const D: usize>(seed: u64, n: usize, scale: f32, shift: f32) -> Vec<[f32; D]> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut flat = vec![0.0; n * D];
    fill_standard_normal(&mut rng, &mut flat);
    flat.chunks_exact(D)
        .map(|c| std::array::from_fn(|d| c[d] * scale + shift))
        .collect()
}

fn to_ref<const D: usize>(points: &[[f32; D]]) -> Points {
    points
        .iter()
        .map(|p| p.iter().map(|&v| f64::from(v)).collect())
        .collect()
}

/// `max |got − want| / max |want|`, with `got` coordinate-major and `want` point-major rows.
fn relative_error(got: &[f32], want: &Points) -> f64 {
    let n = want.len();
    let scale = want.iter().flatten().fold(1e-30_f64, |m, v| m.max(v.abs()));
    let mut worst = 0.0_f64;
    for (i, row) in want.iter().enumerate() {
        for (d, w) in row.iter().enumerate() {
            worst = worst.max((f64::from(got[d * n + i]) - w).abs());
        }
    }
    worst / scale
}

fn kernels(t: f32) -> [(Kernel, RefKernel); 2] {
    [
        (Kernel::laplace(t), RefKernel::Laplace(f64::from(t))),
        (Kernel::gaussian(t), RefKernel::Gaussian(f64::from(t))),
    ]
}

/// Cloud scale for temperature `t`: a few kernel widths, so kernels are neither all 0 nor all 1.
fn scale_for(t: f32) -> f32 {
    (4.0 * t).min(1.0)
}

const SIZES: [usize; 5] = [1, 7, 8, 9, 33];
const TEMPERATURES: [f32; 3] = [0.02, 0.1, 1.0];

fn mean_shift_case<const D: usize>(seed: u64) -> f64 {
    mean_shift_case_sizes::<D>(seed, &SIZES)
}

/// [`mean_shift_case`] over the given numbers of queries.
fn mean_shift_case_sizes<const D: usize>(seed: u64, sizes: &[usize]) -> f64 {
    let mut worst = 0.0_f64;
    for (k, &n) in sizes.iter().enumerate() {
        for &t in &TEMPERATURES {
            let s = scale_for(t);
            let x = cloud::<D>(seed + k as u64, n, s, 0.0);
            let p = cloud::<D>(seed + 100 + k as u64, n + 3, s, 0.5 * s);
            let q = cloud::<D>(seed + 200 + k as u64, n + 5, s, -0.2 * s);
            for (kernel, ref_kernel) in kernels(t) {
                let config = MeanShiftConfig::new(kernel);
                let mut out = vec![0.0; n * D];
                let (xv, pv, qv) = (
                    CloudView::from_points(&x),
                    CloudView::from_points(&p),
                    CloudView::from_points(&q),
                );
                mean_shift_drift(&xv, &pv, Negatives::Queries, &config, &mut out).unwrap();
                let want =
                    reference::mean_shift(&to_ref(&x), &to_ref(&p), None, ref_kernel, 1.0, true);
                worst = worst.max(relative_error(&out, &want));
                mean_shift_drift(&xv, &pv, Negatives::Cloud(qv), &config, &mut out).unwrap();
                let want = reference::mean_shift(
                    &to_ref(&x),
                    &to_ref(&p),
                    Some(&to_ref(&q)),
                    ref_kernel,
                    1.0,
                    true,
                );
                worst = worst.max(relative_error(&out, &want));
            }
        }
    }
    worst
}

/// Tolerance for the kernel-mean operators: `1.5e-5` of the largest entry up to D = 8, `2e-4` at
/// D = 64, `2e-3` at D = 256. The logits `−‖x−y‖/τ` reach about 50 in magnitude on these clouds
/// at D = 64 (about 100 at D = 256: the clouds' scale is fixed per temperature, so distances grow
/// like `√D`) and the `f32` rounding of a squared distance summed over D coordinates grows with
/// D; a logit error `δ` perturbs the weights by `δ` relative. The streaming path measures
/// 8.5e-4 at D = 256, the dense path 5.8e-4 (expanded form) — the same budget for both.
fn tolerance(dim: usize) -> f64 {
    if dim <= 8 {
        1.5e-5
    } else if dim <= 64 {
        2e-4
    } else {
        2e-3
    }
}

const DIMS: [usize; 5] = [1, 2, 3, 8, 64];

/// The evaluations every two-axis and multi-temperature case runs through: the streaming path,
/// and with feature `dense` the dense path with each distance form forced.
fn evaluations() -> Vec<Evaluation> {
    let mut all = vec![Evaluation::Streaming];
    if cfg!(feature = "dense") {
        all.push(Evaluation::Dense(DistanceMethod::Expanded));
        all.push(Evaluation::Dense(DistanceMethod::Difference));
    }
    all
}

/// Mean-shift drift within [`tolerance`] over sizes {1, 7, 8, 9, 33} (on and off the 8-lane
/// width), D ∈ {1, 2, 3, 8, 64}, both kernels, τ ∈ {0.02, 0.1, 1}, negatives = the queries (self
/// excluded) and a separate cloud.
#[test]
fn mean_shift_matches_f64_reference() {
    let errors = [
        mean_shift_case::<1>(1),
        mean_shift_case::<2>(2),
        mean_shift_case::<3>(3),
        mean_shift_case::<8>(4),
        mean_shift_case::<64>(5),
    ];
    assert!(
        errors.iter().zip(DIMS).all(|(&e, d)| e < tolerance(d)),
        "relative errors per D: {errors:?}"
    );
}

fn two_axis_case<const D: usize>(seed: u64, evaluation: Evaluation) -> f64 {
    two_axis_case_sizes::<D>(seed, evaluation, &SIZES)
}

/// [`two_axis_case`] over the given numbers of queries.
fn two_axis_case_sizes<const D: usize>(seed: u64, evaluation: Evaluation, sizes: &[usize]) -> f64 {
    let mut worst = 0.0_f64;
    for (k, &n) in sizes.iter().enumerate() {
        for &t in &TEMPERATURES {
            let s = scale_for(t);
            let x = cloud::<D>(seed + k as u64, n, s, 0.0);
            let p = cloud::<D>(seed + 100 + k as u64, n + 3, s, 0.5 * s);
            let q = cloud::<D>(seed + 200 + k as u64, n + 5, s, -0.2 * s);
            for (kernel, ref_kernel) in kernels(t) {
                let (xv, pv, qv) = (
                    CloudView::from_points(&x),
                    CloudView::from_points(&p),
                    CloudView::from_points(&q),
                );
                let mut out = vec![0.0; n * D];
                let len = match evaluation {
                    #[cfg(feature = "dense")]
                    Evaluation::Dense(_) => {
                        drifting::two_axis_dense_scratch_len(n, n + 3, n + 5, D).unwrap()
                    }
                    _ => two_axis_scratch_len(n, n + 3, n + 5),
                };
                let mut scratch = vec![0.0; len];
                for mask in [SelfMask::Exclude, SelfMask::OFFICIAL_DEMO] {
                    let config = TwoAxisConfig {
                        kernel,
                        self_mask: mask,
                        evaluation,
                    };
                    two_axis_softmax_drift(
                        &xv,
                        &pv,
                        Negatives::Queries,
                        &config,
                        &mut scratch,
                        &mut out,
                    )
                    .unwrap();
                    let ref_mask = match mask {
                        SelfMask::Exclude => RefMask::Exclude,
                        SelfMask::AddDistance(a) => RefMask::AddDistance(f64::from(a)),
                    };
                    let want =
                        reference::two_axis(&to_ref(&x), &to_ref(&p), None, ref_kernel, ref_mask);
                    if n > 1 {
                        worst = worst.max(relative_error(&out, &want));
                    }
                }
                let config = TwoAxisConfig {
                    evaluation,
                    ..TwoAxisConfig::new(kernel)
                };
                two_axis_softmax_drift(
                    &xv,
                    &pv,
                    Negatives::Cloud(qv),
                    &config,
                    &mut scratch,
                    &mut out,
                )
                .unwrap();
                let want = reference::two_axis(
                    &to_ref(&x),
                    &to_ref(&p),
                    Some(&to_ref(&q)),
                    ref_kernel,
                    RefMask::Exclude,
                );
                worst = worst.max(relative_error(&out, &want));
            }
        }
    }
    worst
}

/// Two-axis drift (Algorithm 2) within [`tolerance`], same grid as the mean-shift test, both self-masks (exclusion and the demo's `+1e6` distance) and separate negatives.
/// A single query with itself as the only negative is skipped against the dense reference (its
/// drift is `0·…`: both formulas give 0, the relative measure is undefined).
///
/// Every dimension through both paths: the streaming sweep, and the dense path (logit tile kept in
/// the scratch) with each distance form forced — the expanded `‖x‖² + ‖y‖² − 2⟨x, y⟩` through the
/// matrix-multiply kernel (centred, near pairs recomputed) and the register-blocked difference
/// form — plus D = 256 on the dense path.
#[test]
fn two_axis_matches_f64_reference() {
    for evaluation in evaluations() {
        let errors = [
            two_axis_case::<1>(11, evaluation),
            two_axis_case::<2>(12, evaluation),
            two_axis_case::<3>(13, evaluation),
            two_axis_case::<8>(14, evaluation),
            two_axis_case::<64>(15, evaluation),
        ];
        println!("{evaluation:?}: {errors:?}");
        assert!(
            errors.iter().zip(DIMS).all(|(&e, d)| e < tolerance(d)),
            "{evaluation:?}: relative errors per D: {errors:?}"
        );
    }
    for evaluation in evaluations() {
        let error = two_axis_case::<256>(16, evaluation);
        println!("{evaluation:?}, D = 256: {error:e}");
        assert!(error < tolerance(256), "{evaluation:?}, D = 256: {error:e}");
    }
}

fn multi_temperature_case<const D: usize>(seed: u64, evaluation: Evaluation) -> f64 {
    let mut worst = 0.0_f64;
    for (k, &n) in [2_usize, 7, 9, 33, 300].iter().enumerate() {
        let x = cloud::<D>(seed + k as u64, n, 0.5, 0.0);
        let p = cloud::<D>(seed + 50 + k as u64, n + 4, 0.5, 0.2);
        let pos_w: Vec<f32> = (0..n + 4).map(|j| 0.5 + (j % 3) as f32).collect();
        for (floor, weighted) in [(1e-6_f32, false), (0.0, false), (1e-6, true), (0.0, true)] {
            let config = MultiTemperatureConfig {
                affinity_floor: floor,
                positive_weights: weighted.then_some(pos_w.as_slice()),
                evaluation,
                ..MultiTemperatureConfig::official()
            };
            let mut out = vec![0.0; n * D];
            let len = match evaluation {
                #[cfg(feature = "dense")]
                Evaluation::Dense(_) => {
                    drifting::multi_temperature_dense_scratch_len(n, n + 4, D, 3).unwrap()
                }
                _ => multi_temperature_scratch_len(n, n + 4, D),
            };
            let mut scratch = vec![0.0; len];
            let report = multi_temperature_drift(
                &CloudView::from_points(&x),
                &CloudView::from_points(&p),
                &config,
                &mut scratch,
                &mut out,
            )
            .unwrap();
            let w: Vec<f64> = if weighted {
                pos_w.iter().map(|&v| f64::from(v)).collect()
            } else {
                vec![1.0; n + 4]
            };
            let want = reference::multi_temperature(
                &to_ref(&x),
                &to_ref(&p),
                &[0.02, 0.05, 0.2],
                f64::from(floor),
                100.0,
                &vec![1.0; n],
                &w,
            );
            worst = worst.max(relative_error(&out, &want.force));
            assert!((f64::from(report.distance_scale) - want.scale).abs() < 1e-5 * want.scale);
            assert!(
                (f64::from(report.loss) - want.loss).abs() < 1e-4 * want.loss.max(1e-6),
                "{} vs {}",
                report.loss,
                want.loss
            );
            for (got, w) in report.raw_rms2.iter().zip(&want.raw_rms2) {
                assert!(
                    (f64::from(*got) - w).abs() <= 1e-4 * w.abs() + 1e-12,
                    "n_R {got} vs {w}"
                );
            }
        }
    }
    worst
}

/// The official multi-temperature drift: force within 1e-4 of its largest entry; distance scale
/// to 1e-5, loss and each temperature's raw RMS² to 1e-4 relative; floor 1e-6 and 0, with and
/// without column weights, D ∈ {1, 2, 3, 8, 64}; the streaming path and the dense path (the
/// grouped loss with one group) with both distance forms.
#[test]
fn multi_temperature_matches_f64_reference() {
    for evaluation in evaluations() {
        let errors = [
            multi_temperature_case::<1>(21, evaluation),
            multi_temperature_case::<2>(22, evaluation),
            multi_temperature_case::<3>(23, evaluation),
            multi_temperature_case::<8>(24, evaluation),
            multi_temperature_case::<64>(25, evaluation),
        ];
        println!("{evaluation:?}: {errors:?}");
        assert!(
            errors.iter().all(|&e| e < 1e-4),
            "{evaluation:?}: relative errors per D: {errors:?}"
        );
    }
}

fn as_points<const D: usize>(flat: &[f64]) -> Vec<[f32; D]> {
    flat.chunks_exact(D)
        .map(|c| std::array::from_fn(|d| c[d] as f32))
        .collect()
}

fn rows(flat: &[f64], dim: usize) -> Points {
    flat.chunks_exact(dim).map(<[f64]>::to_vec).collect()
}

fn torch_two_axis<const D: usize>(case: &torch_values::TwoAxisCase) -> f64 {
    let x = as_points::<D>(case.queries);
    let p = as_points::<D>(case.positives);
    let q = as_points::<D>(case.negatives);
    let t = case.temperature as f32;
    let kernel = if case.kernel == "laplace" {
        Kernel::laplace(t)
    } else {
        Kernel::gaussian(t)
    };
    let negatives = if case.self_negatives {
        Negatives::Queries
    } else {
        Negatives::Cloud(CloudView::from_points(&q))
    };
    let mut out = vec![0.0; x.len() * D];
    let q_len = if case.self_negatives {
        x.len()
    } else {
        q.len()
    };
    let mut scratch = vec![0.0; two_axis_scratch_len(x.len(), p.len(), q_len)];
    two_axis_softmax_drift(
        &CloudView::from_points(&x),
        &CloudView::from_points(&p),
        negatives,
        &TwoAxisConfig::new(kernel),
        &mut scratch,
        &mut out,
    )
    .unwrap();
    relative_error(&out, &rows(case.drift, D))
}

/// Two-axis drift against PyTorch (dense `float64`, the official demo's formulation checked
/// equal to the log-domain one by the generating script): within 1e-5 of the largest entry.
#[test]
fn two_axis_matches_pytorch() {
    for case in torch_values::TWO_AXIS_CASES {
        let error = match case.dim {
            1 => torch_two_axis::<1>(case),
            2 => torch_two_axis::<2>(case),
            3 => torch_two_axis::<3>(case),
            8 => torch_two_axis::<8>(case),
            other => panic!("no case for D = {other}"),
        };
        assert!(error < 1e-5, "{}: relative error {error:e}", case.name);
    }
}

fn torch_multi<const D: usize>(case: &torch_values::MultiTemperatureCase) {
    let x = as_points::<D>(case.queries);
    let p = as_points::<D>(case.positives);
    let w_pos = vec![case.pos_weight as f32; p.len()];
    let config = MultiTemperatureConfig {
        affinity_floor: case.floor as f32,
        positive_weights: (case.pos_weight != 1.0).then_some(w_pos.as_slice()),
        ..MultiTemperatureConfig::official()
    };
    let mut out = vec![0.0; x.len() * D];
    let mut scratch = vec![0.0; multi_temperature_scratch_len(x.len(), p.len(), D)];
    let report = multi_temperature_drift(
        &CloudView::from_points(&x),
        &CloudView::from_points(&p),
        &config,
        &mut scratch,
        &mut out,
    )
    .unwrap();
    let error = relative_error(&out, &rows(case.force, D));
    assert!(
        error < 1e-4,
        "{}: force relative error {error:e}",
        case.name
    );
    assert!(
        (f64::from(report.distance_scale) - case.scale).abs() < 1e-5 * case.scale,
        "{}",
        case.name
    );
    assert!(
        (f64::from(report.input_scale) - case.input_scale).abs() < 1e-5 * case.input_scale,
        "{}",
        case.name
    );
    assert!(
        (f64::from(report.loss) - case.loss).abs() < 1e-4 * case.loss,
        "{}",
        case.name
    );
    for (got, want) in report.raw_rms2.iter().zip(case.raw_rms2) {
        assert!(
            (f64::from(*got) - want).abs() <= 1e-4 * want,
            "{}: n_R {got} vs {want}",
            case.name
        );
    }
}

/// The multi-temperature drift against a PyTorch port of the official JAX `drift_loss`: force
/// within 1e-4 of its largest entry, scales to 1e-5, loss and raw RMS² to 1e-4 relative.
#[test]
fn multi_temperature_matches_pytorch_port_of_official_code() {
    for case in torch_values::MULTI_TEMPERATURE_CASES {
        match case.dim {
            2 => torch_multi::<2>(case),
            3 => torch_multi::<3>(case),
            8 => torch_multi::<8>(case),
            other => panic!("no case for D = {other}"),
        }
    }
}

/// More queries than one row chunk (256), for every operator whose rows are cut into chunks: the
/// dense two-axis path's column log-sum-exps merge the chunks' partials (a bug once dropped every
/// chunk but the first, which the sizes above never reached). Same tolerances as the tests above.
#[test]
fn drifts_match_f64_reference_across_row_chunks() {
    let errors = [
        mean_shift_case_sizes::<2>(43, &[257, 600]),
        mean_shift_case_sizes::<64>(44, &[300]),
    ];
    assert!(
        errors[0] < tolerance(2) && errors[1] < tolerance(64),
        "mean shift: relative errors (D = 2, 64): {errors:?}"
    );
    for evaluation in evaluations() {
        let errors = [
            two_axis_case_sizes::<3>(41, evaluation, &[257, 600]),
            two_axis_case_sizes::<64>(42, evaluation, &[300]),
        ];
        println!("{evaluation:?}: {errors:?}");
        assert!(
            errors[0] < tolerance(3) && errors[1] < tolerance(64),
            "{evaluation:?}: relative errors (D = 3, 64): {errors:?}"
        );
    }
}

/// The points transposed into coordinate-major slices.
#[cfg(feature = "dense")]
fn coordinate_major<const D: usize>(points: &[[f32; D]]) -> Vec<f32> {
    (0..D)
        .flat_map(|d| points.iter().map(move |p| p[d]))
        .collect()
}

/// The dense two-axis drift does not depend on its scratch's address: scratch slices starting 0
/// to 15 values apart (every alignment of a 64-byte line, which the pieces and packed operands
/// are placed on) give the same bits, with self-negatives (the symmetric block) and without.
#[cfg(feature = "dense")]
#[test]
fn dense_two_axis_same_bits_at_every_scratch_address() {
    fn check<const D: usize>(n: usize) {
        let x = cloud::<D>(41, n, 0.3, 0.0);
        let p = cloud::<D>(42, n + 3, 0.3, 0.1);
        let q = cloud::<D>(43, n + 5, 0.3, -0.1);
        let len = drifting::two_axis_dense_scratch_len(n, n + 3, n + 5, D).unwrap();
        let mut scratch = vec![0.0; len + 16];
        let config = TwoAxisConfig {
            evaluation: Evaluation::Dense(DistanceMethod::Auto),
            ..TwoAxisConfig::new(Kernel::laplace(0.5))
        };
        let (xv, pv, qv) = (
            CloudView::from_points(&x),
            CloudView::from_points(&p),
            CloudView::from_points(&q),
        );
        for negatives in [Negatives::Queries, Negatives::Cloud(qv)] {
            let mut first: Option<Vec<u32>> = None;
            for offset in 0..16 {
                let mut out = vec![f32::NAN; n * D];
                let part = &mut scratch[offset..offset + len];
                two_axis_softmax_drift(&xv, &pv, negatives, &config, part, &mut out).unwrap();
                assert!(out.iter().all(|v| v.is_finite()), "D = {D}, n = {n}");
                let bits: Vec<u32> = out.iter().map(|v| v.to_bits()).collect();
                match &first {
                    None => first = Some(bits),
                    Some(want) => assert!(*want == bits, "D = {D}, n = {n}: offset {offset}"),
                }
            }
        }
    }
    check::<5>(37);
    check::<130>(45);
}

/// The dense two-axis drift gives the same bits whether the clouds are point-major or
/// coordinate-major (the latter goes through the 8 × 8 block transposes on the way in and out),
/// for dimensions and sizes that leave ragged blocks on both axes.
#[cfg(feature = "dense")]
#[test]
fn dense_two_axis_same_bits_in_both_layouts() {
    fn check<const D: usize>(n: usize) {
        let x = cloud::<D>(31, n, 0.3, 0.0);
        let p = cloud::<D>(32, n + 3, 0.3, 0.1);
        let q = cloud::<D>(33, n + 5, 0.3, -0.1);
        let (xc, pc, qc) = (
            coordinate_major(&x),
            coordinate_major(&p),
            coordinate_major(&q),
        );
        let len = drifting::two_axis_dense_scratch_len(n, n + 3, n + 5, D).unwrap();
        let mut scratch = vec![0.0; len];
        let config = TwoAxisConfig {
            evaluation: Evaluation::Dense(DistanceMethod::Auto),
            ..TwoAxisConfig::new(Kernel::laplace(0.5))
        };
        let views = [
            (
                CloudView::from_points(&x),
                CloudView::from_points(&p),
                CloudView::from_points(&q),
            ),
            (
                CloudView::from_coordinate_major(&xc, n).unwrap(),
                CloudView::from_coordinate_major(&pc, n + 3).unwrap(),
                CloudView::from_coordinate_major(&qc, n + 5).unwrap(),
            ),
        ];
        let mut results = Vec::new();
        for (xv, pv, qv) in &views {
            for negatives in [Negatives::Queries, Negatives::Cloud(*qv)] {
                let mut out = vec![f32::NAN; n * D];
                two_axis_softmax_drift(xv, pv, negatives, &config, &mut scratch, &mut out).unwrap();
                let bad = out.iter().position(|v| !v.is_finite());
                assert!(
                    bad.is_none(),
                    "D = {D}, n = {n}: {bad:?} {:?}",
                    bad.map(|k| out[k])
                );
                results.push(out);
            }
        }
        assert!(
            results[0]
                .iter()
                .zip(&results[2])
                .chain(results[1].iter().zip(&results[3]))
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "D = {D}, n = {n}: the layouts differ"
        );
    }
    for n in [5, 37, 257, 600] {
        check::<3>(n);
        check::<13>(n);
        check::<64>(n);
        check::<200>(n);
    }
}
