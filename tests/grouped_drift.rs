//! The official grouped feature-space drift loss against a dense `f64` reference
//! (`tests/reference/grouped.rs`), with both distance forms forced, groups of unequal content,
//! unconditional negatives with guidance weights, translation and degenerate clouds.
#![cfg(feature = "dense")]

#[path = "reference/grouped.rs"]
mod reference;

use drifting::{
    DistanceMethod, Error, GroupShape, GroupedDriftConfig, NormaliserMethod, grouped_drift_loss,
    grouped_drift_workspace_len, grouped_drift_workspace_len_with,
};
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use reference::{GroupedInputs, grouped};

fn normal(rng: &mut Xoshiro256PlusPlus) -> f32 {
    let u1 = ((rng.next_u32() >> 8) as f32 + 0.5) / 16_777_216.0;
    let u2 = (rng.next_u32() >> 8) as f32 / 16_777_216.0;
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

/// `[B, C, S]` features whose centre and spread differ per group (and per channel).
fn features(rng: &mut Xoshiro256PlusPlus, b: usize, c: usize, s: usize, offset: f32) -> Vec<f32> {
    let mut out = Vec::with_capacity(b * c * s);
    for g in 0..b {
        let spread = [0.05, 0.3, 1.0, 0.15, 2.0][g % 5] / (s as f32).sqrt();
        let centre: Vec<f32> = (0..s)
            .map(|_| 0.2 * normal(rng) / (s as f32).sqrt())
            .collect();
        for _ in 0..c {
            for c in &centre {
                out.push(offset + c + spread * normal(rng));
            }
        }
    }
    out
}

struct Case {
    shape: GroupShape,
    generated_points: Vec<f32>,
    unc: Vec<f32>,
    pos: Vec<f32>,
}

fn case(seed: u64, shape: GroupShape) -> Case {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let (b, s) = (shape.groups, shape.channels);
    let generated_points = features(&mut rng, b, shape.generated, s, 0.0);
    let unc = features(&mut rng, b, shape.unconditional, s, 0.0);
    let mut pos = features(&mut rng, b, shape.positives, s, 0.0);
    // One group's positives far from its generated samples.
    for v in pos.iter_mut().take(shape.positives * s) {
        *v += 0.7;
    }
    Case {
        shape,
        generated_points,
        unc,
        pos,
    }
}

fn run(
    case: &Case,
    config: &GroupedDriftConfig<'_>,
) -> Result<(Vec<f32>, Vec<f32>, drifting::GroupedDriftReport), Error> {
    let temperatures = config.temperatures.len();
    let len = grouped_drift_workspace_len_with(&case.shape, temperatures, config.normalisers);
    let mut workspace = vec![0.0; len.unwrap()];
    let mut field = vec![0.0; case.shape.generated_len()];
    let mut losses = vec![0.0; case.shape.groups];
    let report = grouped_drift_loss(
        &case.shape,
        &case.generated_points,
        &case.unc,
        &case.pos,
        config,
        &mut workspace,
        &mut field,
        Some(&mut losses),
    )?;
    Ok((field, losses, report))
}

fn reference_of(case: &Case, config: &GroupedDriftConfig<'_>) -> reference::GroupedRef {
    let sh = &case.shape;
    let weights = |w: Option<&[f32]>, count: usize| -> Vec<f64> {
        w.map_or(vec![1.0; sh.groups * count], |w| {
            w.iter().map(|&v| f64::from(v)).collect()
        })
    };
    let w_unc = match (config.unconditional_weights, config.guidance) {
        (None, Some(alpha)) => alpha
            .iter()
            .flat_map(|&a| {
                let w = (a - 1.0) * (sh.generated as f32 - 1.0) / sh.unconditional.max(1) as f32;
                vec![f64::from(w); sh.unconditional]
            })
            .collect(),
        (w, _) => weights(w, sh.unconditional),
    };
    let temps: Vec<f64> = config.temperatures.iter().map(|&t| f64::from(t)).collect();
    grouped(
        &GroupedInputs {
            groups: sh.groups,
            generated: sh.generated,
            unconditional: sh.unconditional,
            positives: sh.positives,
            channels: sh.channels,
            generated_points: &case.generated_points,
            unc: &case.unc,
            pos: &case.pos,
            w_gen: &weights(config.generated_weights, sh.generated),
            w_unc: &w_unc,
            w_pos: &weights(config.positive_weights, sh.positives),
        },
        &temps,
        f64::from(config.affinity_floor),
        f64::from(config.self_mask_distance),
    )
}

/// Largest error of the field relative to its RMS, and the scalar errors; returns the report.
fn compare(
    case: &Case,
    config: &GroupedDriftConfig<'_>,
    tolerance: f64,
    label: &str,
) -> drifting::GroupedDriftReport {
    let (field, losses, report) = run(case, config).unwrap();
    let want = reference_of(case, config);
    let rms = (want.field.iter().map(|v| v * v).sum::<f64>() / want.field.len() as f64).sqrt();
    let worst = field
        .iter()
        .zip(&want.field)
        .map(|(&a, b)| (f64::from(a) - b).abs())
        .fold(0.0, f64::max)
        / rms;
    let rel = |a: f32, b: f64| (f64::from(a) - b).abs() / b.abs().max(1e-30);
    println!(
        "{label}: field {worst:.2e} of its RMS, scale {:.1e}, n_R {:?}, loss {:.1e}, recomputed {}, \
         Gram fallbacks {}",
        rel(report.distance_scale, want.scale),
        report
            .raw_rms2
            .iter()
            .zip(&want.raw_rms2)
            .map(|(&a, &b)| format!("{:.1e}", rel(a, b)))
            .collect::<Vec<_>>(),
        rel(report.loss, want.loss),
        report.recomputed_pairs,
        report.gram_fallbacks
    );
    assert!(worst < tolerance, "{label}: field error {worst:e} of RMS");
    assert!(
        rel(report.distance_scale, want.scale) < 1e-5,
        "{label}: scale"
    );
    assert!(
        rel(report.input_scale, want.input_scale) < 1e-5,
        "{label}: s_in"
    );
    for (a, b) in report.raw_rms2.iter().zip(&want.raw_rms2) {
        assert!(rel(*a, *b) < tolerance, "{label}: n_R {a} vs {b}");
    }
    assert!(rel(report.loss, want.loss) < tolerance, "{label}: loss");
    for (a, b) in losses.iter().zip(&want.group_losses) {
        assert!(
            rel(*a, *b) < 2.0 * tolerance,
            "{label}: group loss {a} vs {b}"
        );
    }
    report
}

#[test]
fn grouped_loss_matches_the_f64_reference_with_both_distance_forms() {
    let alpha = [1.0_f32, 1.5, 4.0, 2.5];
    for (s, tolerance) in [(3, 1e-4), (64, 1e-4), (257, 1e-4)] {
        let shape = GroupShape {
            groups: 4,
            generated: 9,
            unconditional: 3,
            positives: 11,
            channels: s,
        };
        let case = case(s as u64, shape);
        for distances in [DistanceMethod::Expanded, DistanceMethod::Difference] {
            for normalisers in [NormaliserMethod::Products, NormaliserMethod::Gram] {
                let config = GroupedDriftConfig {
                    guidance: Some(&alpha),
                    distances,
                    normalisers,
                    ..GroupedDriftConfig::official()
                };
                let report = compare(
                    &case,
                    &config,
                    tolerance,
                    &format!("S = {s}, {distances:?}, {normalisers:?}"),
                );
                assert_eq!(
                    report.gram_normalisers,
                    normalisers == NormaliserMethod::Gram
                );
            }
        }
    }
}

/// The Gram form of the normalisers where attraction and repulsion nearly cancel: one generated
/// sample at the centre of positives placed in symmetric pairs `±v_k` (plus 2 % asymmetry), so
/// that `F = Σ_j c_j y_j` is a few % of `(Σ_j c_j² n_j²)^½`. The probabilistic bound refuses
/// the Gram value there (fallbacks reported) and the result still matches the `f64` reference;
/// on groups in general position the Gram value is accepted (no fallback) and matches too. Also:
/// `Auto` takes the Gram path at the official shape with `S = 768`, not at `S = 64`.
#[test]
fn gram_normalisers_fall_back_where_attraction_and_repulsion_cancel() {
    let s = 300;
    let shape = GroupShape {
        groups: 2,
        generated: 1,
        unconditional: 0,
        positives: 10,
        channels: s,
    };
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(8);
    let scale = 1.0 / (s as f32).sqrt();
    let mut noise = |amount: f32| amount * scale * normal(&mut rng);
    let mut generated_points = Vec::new();
    let mut pos = Vec::new();
    for _ in 0..shape.groups {
        generated_points.extend((0..s).map(|_| noise(2e-2)));
        let pairs: Vec<Vec<f32>> = (0..5)
            .map(|_| (0..s).map(|_| noise(1.0)).collect())
            .collect();
        for sign in [1.0_f32, -1.0] {
            for v in &pairs {
                pos.extend(v.iter().map(|&x| sign * x + noise(2e-2)));
            }
        }
    }
    let cancelling = Case {
        shape,
        generated_points,
        unc: Vec::new(),
        pos,
    };
    let config = GroupedDriftConfig {
        normalisers: NormaliserMethod::Gram,
        ..GroupedDriftConfig::official()
    };
    let report = compare(&cancelling, &config, 1e-4, "cancelling, Gram");
    assert!(report.gram_normalisers);
    assert!(report.gram_fallbacks > 0, "{report:?}");
    let products = GroupedDriftConfig {
        normalisers: NormaliserMethod::Products,
        ..config
    };
    compare(&cancelling, &products, 1e-4, "cancelling, products");
    let shape = GroupShape {
        groups: 3,
        generated: 12,
        unconditional: 4,
        positives: 12,
        channels: s,
    };
    let config = GroupedDriftConfig {
        normalisers: NormaliserMethod::Gram,
        ..GroupedDriftConfig::official()
    };
    let general = case(9, shape);
    let report = compare(&general, &config, 1e-4, "general position, Gram");
    assert_eq!(report.gram_fallbacks, 0, "{report:?}");

    // A tiny group with the expanded distances forced: the Gram path pays even at 9 channels,
    // and the `Auto` workspace size covers it (found by the fuzz target `grouped_loss`).
    let tiny = GroupShape {
        groups: 2,
        generated: 1,
        unconditional: 0,
        positives: 1,
        channels: 9,
    };
    let expanded = GroupedDriftConfig {
        distances: DistanceMethod::Expanded,
        ..GroupedDriftConfig::official()
    };
    let (_, _, report) = run(&case(3, tiny), &expanded).unwrap();
    assert!(report.gram_normalisers);
    for (channels, gram) in [(64, false), (768, true)] {
        let official = GroupShape {
            groups: 2,
            generated: 64,
            unconditional: 16,
            positives: 64,
            channels,
        };
        let case = case(channels as u64, official);
        let config = GroupedDriftConfig::official();
        let len = grouped_drift_workspace_len(&official, 3).unwrap();
        let with = grouped_drift_workspace_len_with(&official, 3, NormaliserMethod::Auto).unwrap();
        assert_eq!(len, with);
        let (_, _, report) = run(&case, &config).unwrap();
        assert_eq!(report.gram_normalisers, gram, "S = {channels}");
    }
}

/// Identical points everywhere (every generated sample, negative and positive the same point,
/// far from the origin): a zero field and zero loss, not NaN.
#[test]
fn identical_points_give_a_zero_field() {
    let shape = GroupShape {
        groups: 3,
        generated: 5,
        unconditional: 2,
        positives: 4,
        channels: 33,
    };
    let point: Vec<f32> = (0..shape.channels).map(|d| 40.0 + d as f32 * 0.5).collect();
    let tile = |count: usize| -> Vec<f32> { point.repeat(shape.groups * count) };
    let case = Case {
        shape,
        generated_points: tile(shape.generated),
        unc: tile(shape.unconditional),
        pos: tile(shape.positives),
    };
    for (distances, normalisers) in [
        (DistanceMethod::Expanded, NormaliserMethod::Products),
        (DistanceMethod::Difference, NormaliserMethod::Products),
        (DistanceMethod::Expanded, NormaliserMethod::Gram),
    ] {
        let config = GroupedDriftConfig {
            distances,
            normalisers,
            ..GroupedDriftConfig::official()
        };
        let (field, losses, report) = run(&case, &config).unwrap();
        assert!(field.iter().all(|&v| v == 0.0), "{distances:?}: {field:?}");
        assert!(losses.iter().all(|&v| v == 0.0));
        assert_eq!(report.loss, 0.0);
        assert!(report.raw_rms2.iter().all(|v| *v == 0.0));
    }
}

/// Typed errors for every kind of bad input, before anything is written.
#[test]
fn bad_inputs_are_typed_errors() {
    let shape = GroupShape {
        groups: 2,
        generated: 3,
        unconditional: 2,
        positives: 3,
        channels: 5,
    };
    let good = case(9, shape);
    let config = GroupedDriftConfig::official();
    let call = |case: &Case, config: &GroupedDriftConfig<'_>, workspace: usize, out: usize| {
        let mut ws = vec![0.0; workspace];
        let mut field = vec![0.0; out];
        grouped_drift_loss(
            &case.shape,
            &case.generated_points,
            &case.unc,
            &case.pos,
            config,
            &mut ws,
            &mut field,
            None,
        )
    };
    let len = grouped_drift_workspace_len(&shape, 3).unwrap();
    let out = shape.generated_len();
    assert!(call(&good, &config, len, out).is_ok());
    // Shapes.
    for (bad, expected) in [
        (GroupShape { groups: 0, ..shape }, "groups"),
        (
            GroupShape {
                generated: 0,
                ..shape
            },
            "generated",
        ),
        (
            GroupShape {
                positives: 0,
                ..shape
            },
            "positives",
        ),
    ] {
        let c = Case {
            shape: bad,
            ..case(9, shape)
        };
        assert_eq!(
            call(&c, &config, len, out),
            Err(Error::EmptyCloud { input: expected })
        );
    }
    let c = Case {
        shape: GroupShape {
            channels: 0,
            ..shape
        },
        ..case(9, shape)
    };
    assert_eq!(
        call(&c, &config, len, out),
        Err(Error::InvalidParameter { input: "channels" })
    );
    let c = Case {
        shape: GroupShape {
            channels: 6,
            ..shape
        },
        ..case(9, shape)
    };
    assert!(matches!(
        call(&c, &config, len, out),
        Err(Error::ShapeMismatch {
            input: "generated",
            ..
        })
    ));
    assert!(matches!(
        call(&good, &config, len, out - 1),
        Err(Error::ShapeMismatch { input: "field", .. })
    ));
    let huge = GroupShape {
        groups: usize::MAX / 2,
        ..shape
    };
    assert_eq!(grouped_drift_workspace_len(&huge, 3), None);
    let c = Case {
        shape: huge,
        ..case(9, shape)
    };
    assert_eq!(
        call(&c, &config, len, out),
        Err(Error::OutOfRange { input: "shape" })
    );
    assert!(matches!(
        call(&good, &config, len - 1, out),
        Err(Error::ScratchTooSmall { .. })
    ));
    // Forcing the Gram normalisers where `Auto` would not take them needs their (larger)
    // workspace: the `Auto` size is refused, naming the buffer and the size.
    let gram = GroupedDriftConfig {
        normalisers: NormaliserMethod::Gram,
        ..config
    };
    let gram_len = grouped_drift_workspace_len_with(&shape, 3, NormaliserMethod::Gram).unwrap();
    assert!(gram_len > len);
    assert_eq!(
        call(&good, &gram, len, out),
        Err(Error::ScratchTooSmall {
            input: "workspace",
            required: gram_len,
            provided: len,
        })
    );
    assert!(call(&good, &gram, gram_len, out).is_ok());
    assert_eq!(
        grouped_drift_workspace_len_with(&huge, 3, NormaliserMethod::Gram),
        None
    );
    // Values.
    for (family, name) in [(0, "generated"), (1, "unconditional"), (2, "positives")] {
        for bad_value in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let mut c = case(9, shape);
            match family {
                0 => c.generated_points[7] = bad_value,
                1 => c.unc[3] = bad_value,
                _ => c.pos[11] = bad_value,
            }
            assert_eq!(
                call(&c, &config, len, out),
                Err(Error::NonFinite { input: name })
            );
        }
    }
    let mut far = case(9, shape);
    far.pos[0] = 1.0e19;
    assert_eq!(
        call(&far, &config, len, out),
        Err(Error::OutOfRange { input: "points" })
    );
    // Parameters.
    for temperatures in [
        &[][..],
        &[0.0],
        &[-0.1],
        &[f32::NAN],
        &[f32::INFINITY],
        &[1e-45],
        &[0.1; 9],
    ] {
        let c = GroupedDriftConfig {
            temperatures,
            ..config
        };
        assert_eq!(
            call(&good, &c, len, out),
            Err(Error::InvalidParameter {
                input: "temperatures"
            }),
            "{temperatures:?}"
        );
    }
    let tiny = GroupedDriftConfig {
        temperatures: &[1e-30],
        ..config
    };
    assert_eq!(
        call(&good, &tiny, len, out),
        Err(Error::OutOfRange {
            input: "temperatures"
        })
    );
    for floor in [-1.0, f32::NAN, f32::INFINITY] {
        let c = GroupedDriftConfig {
            affinity_floor: floor,
            ..config
        };
        assert_eq!(
            call(&good, &c, len, out),
            Err(Error::InvalidParameter {
                input: "affinity_floor"
            })
        );
    }
    let c = GroupedDriftConfig {
        self_mask_distance: -1.0,
        ..config
    };
    assert_eq!(
        call(&good, &c, len, out),
        Err(Error::InvalidParameter {
            input: "self_mask_distance"
        })
    );
    for alpha in [[0.5, 2.0], [f32::NAN, 2.0], [1e12, 2.0]] {
        let c = GroupedDriftConfig {
            guidance: Some(&alpha),
            ..config
        };
        assert!(call(&good, &c, len, out).is_err(), "{alpha:?}");
    }
    let c = GroupedDriftConfig {
        guidance: Some(&[2.0]),
        ..config
    };
    assert!(matches!(
        call(&good, &c, len, out),
        Err(Error::ShapeMismatch {
            input: "guidance",
            ..
        })
    ));
    let unc_w = [1.0_f32; 4];
    let c = GroupedDriftConfig {
        guidance: Some(&[2.0, 2.0]),
        unconditional_weights: Some(&unc_w),
        ..config
    };
    assert_eq!(
        call(&good, &c, len, out),
        Err(Error::InvalidParameter { input: "guidance" })
    );
    let negative = [-1.0_f32, 1.0, 1.0, 1.0, 1.0, 1.0];
    let c = GroupedDriftConfig {
        positive_weights: Some(&negative),
        ..config
    };
    assert_eq!(
        call(&good, &c, len, out),
        Err(Error::InvalidParameter {
            input: "positive_weights"
        })
    );
    let zeros6 = [0.0_f32; 6];
    let zeros4 = [0.0_f32; 4];
    let c = GroupedDriftConfig {
        generated_weights: Some(&zeros6),
        unconditional_weights: Some(&zeros4),
        positive_weights: Some(&zeros6),
        ..config
    };
    assert_eq!(
        call(&good, &c, len, out),
        Err(Error::InvalidParameter { input: "weights" })
    );
}

/// The workspace's address does not change a bit: the loss places its pieces and packed operands
/// on 64-byte cache lines within the workspace it is given, so the same call on workspaces that
/// start 0 to 15 values apart (every alignment of a line) gives identical fields and losses, on
/// both normaliser paths and with ragged channel counts.
#[test]
fn the_workspace_address_does_not_change_the_bits() {
    for s in [3, 61, 257] {
        let shape = GroupShape {
            groups: 3,
            generated: 9,
            unconditional: 3,
            positives: 11,
            channels: s,
        };
        let case = case(40 + s as u64, shape);
        for normalisers in [NormaliserMethod::Products, NormaliserMethod::Gram] {
            let config = GroupedDriftConfig {
                normalisers,
                ..GroupedDriftConfig::official()
            };
            let len = grouped_drift_workspace_len_with(&shape, 3, normalisers).unwrap();
            let mut workspace = vec![0.0_f32; len + 16];
            let mut first: Option<(Vec<u32>, Vec<u32>)> = None;
            for offset in 0..16 {
                let mut field = vec![0.0; shape.generated_len()];
                let mut losses = vec![0.0; shape.groups];
                grouped_drift_loss(
                    &shape,
                    &case.generated_points,
                    &case.unc,
                    &case.pos,
                    &config,
                    &mut workspace[offset..offset + len],
                    &mut field,
                    Some(&mut losses),
                )
                .unwrap();
                let bits = (
                    field.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    losses.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                );
                assert!(field.iter().all(|v| v.is_finite()));
                match &first {
                    None => first = Some(bits),
                    Some(want) => assert!(
                        *want == bits,
                        "S = {s}, {normalisers:?}: offset {offset} changed the result"
                    ),
                }
            }
        }
    }
}
