//! The generator of `tests/reference/feature_inputs.rs` reproduces, bit for bit, the f32 inputs
//! `tests/reference/make_feature_references.py` fed to its float64 reference, and the stored
//! cases are consistent (shapes, field length, the shifted clouds are the unshifted plus 1e3).
use crate::{feature_inputs, feature_values};

use feature_inputs::{SplitMix64, inputs, inputs_translated, weights};
use feature_values::{FEATURE_CASES, FLOAT32_CHECKS, FeatureCase};

fn assert_bits(case: &str, what: &str, values: &[f32], head: &[f64], tail: &[f64]) {
    let n = values.len();
    assert_eq!(head.len(), n.min(3), "{case}: {what} head length");
    assert_eq!(tail.len(), n.min(3), "{case}: {what} tail length");
    for (k, &expected) in head.iter().enumerate() {
        let got = values[k] as f64;
        assert_eq!(
            got.to_bits(),
            expected.to_bits(),
            "{case}: {what}[{k}] = {got:e}, Python {expected:e}"
        );
    }
    for (k, &expected) in tail.iter().enumerate() {
        let i = n - tail.len() + k;
        let got = values[i] as f64;
        assert_eq!(
            got.to_bits(),
            expected.to_bits(),
            "{case}: {what}[{i}] = {got:e}, Python {expected:e}"
        );
    }
}

#[test]
fn splitmix64_matches_the_published_sequence() {
    let mut rng = SplitMix64::new(0);
    assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
    assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
}

#[test]
fn generated_inputs_match_python_bit_for_bit() {
    for case in FEATURE_CASES {
        let (generated, uncond, pos) = inputs(case);
        let s = case.channels;
        assert_eq!(
            generated.len(),
            case.groups * case.generated * s,
            "{}",
            case.name
        );
        assert_eq!(
            uncond.len(),
            case.groups * case.unconditional * s,
            "{}",
            case.name
        );
        assert_eq!(pos.len(), case.groups * case.positives * s, "{}", case.name);
        assert_bits(case.name, "gen", &generated, case.gen_head, case.gen_tail);
        assert_bits(
            case.name,
            "uncond",
            &uncond,
            case.uncond_head,
            case.uncond_tail,
        );
        assert_bits(case.name, "pos", &pos, case.pos_head, case.pos_tail);
        assert!(
            generated
                .iter()
                .chain(&uncond)
                .chain(&pos)
                .all(|v| v.is_finite())
        );
    }
}

#[test]
fn cases_are_consistent() {
    for case in FEATURE_CASES {
        let FeatureCase {
            name,
            groups,
            generated,
            channels,
            ..
        } = *case;
        assert_eq!(
            case.field.len(),
            groups * generated * channels,
            "{name}: field [B, Cg, S]"
        );
        assert_eq!(case.group_losses.len(), groups, "{name}");
        assert_eq!(case.raw_rms2.len(), case.temperatures.len(), "{name}");
        if let Some(alpha) = case.alpha {
            assert_eq!(alpha.len(), groups, "{name}: one α per group");
            assert!(case.weights.is_none());
        }
        if let Some((wg, wu, wp)) = weights(case) {
            assert_eq!(wg.len(), groups * generated, "{name}");
            assert_eq!(wu.len(), groups * case.unconditional, "{name}");
            assert_eq!(wp.len(), groups * case.positives, "{name}");
        }
        // loss_b = mean over (Cg, S) of F², loss = mean_b loss_b.
        let per = generated * channels;
        for (b, &loss_b) in case.group_losses.iter().enumerate() {
            let sum: f64 = case.field[b * per..(b + 1) * per]
                .iter()
                .map(|f| f * f)
                .sum();
            assert!(
                (sum / per as f64 - loss_b).abs() <= 1e-12 * loss_b.max(1.0),
                "{name}: group {b}"
            );
        }
        let mean = case.group_losses.iter().sum::<f64>() / groups as f64;
        assert!(
            (mean - case.loss).abs() <= 1e-12 * case.loss,
            "{name}: loss"
        );
    }
}

#[test]
fn shifted_clouds_are_the_unshifted_plus_the_shift() {
    for check in FLOAT32_CHECKS {
        let case = FEATURE_CASES
            .iter()
            .find(|c| c.name == check.case)
            .expect("case");
        assert_eq!(case.translate, check.shift);
        let (g, u, p) = inputs(case);
        let (gs, us, ps) = inputs_translated(case, 0.0);
        for (a, b) in g
            .iter()
            .chain(&u)
            .chain(&p)
            .zip(gs.iter().chain(&us).chain(&ps))
        {
            assert_eq!(
                a + check.shift as f32,
                *b,
                "{}: exact translation",
                case.name
            );
        }
    }
    // The spread-1e-2 pair: the stored shifted and unshifted float64 fields agree to rounding.
    let field = |name: &str| {
        FEATURE_CASES
            .iter()
            .find(|c| c.name == name)
            .expect(name)
            .field
    };
    let (a, b) = (
        field("s256_spread1e-2_shifted"),
        field("s256_spread1e-2_unshifted"),
    );
    let diff: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt();
    let norm: f64 = b.iter().map(|y| y * y).sum::<f64>().sqrt();
    assert!(diff <= 1e-10 * norm, "{diff:e} vs {norm:e}");
}
