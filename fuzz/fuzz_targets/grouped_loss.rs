//! The official grouped feature-space loss (runtime channel count, unconditional negatives,
//! guidance, weights, both distance forms, both ways of computing the normalisers): typed errors for bad shapes, lengths, weights,
//! guidance scales, temperatures and non-finite values; finite field and report for valid input.
#![no_main]

use arbitrary::Unstructured;
use drifting::{
    DistanceMethod, GroupShape, GroupedDriftConfig, NormaliserMethod, grouped_drift_loss,
    grouped_drift_workspace_len_with,
};
use drifting_fuzz::{Expect, check_contract, coordinate, scale};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(dims) = (0..6)
        .map(|k| u.int_in_range(0usize..=[4, 6, 3, 6, 9, 4][k]))
        .collect::<Result<Vec<_>, _>>()
    else {
        return;
    };
    let shape = GroupShape {
        groups: dims[0],
        generated: dims[1],
        unconditional: dims[2],
        positives: dims[3],
        channels: dims[4],
    };
    let temperature_count = dims[5];
    let Ok(length_error) = u.int_in_range(0u8..=15) else {
        return;
    };
    let mut values = |count: usize, off_by: bool| -> Option<Vec<f32>> {
        let len = shape.groups * count * shape.channels + usize::from(off_by);
        (0..len).map(|_| coordinate(&mut u).ok()).collect()
    };
    let (Some(generated), Some(unconditional), Some(positives)) = (
        values(shape.generated, length_error == 1),
        values(shape.unconditional, length_error == 2),
        values(shape.positives, length_error == 3),
    ) else {
        return;
    };
    let mut temperatures = Vec::new();
    for _ in 0..temperature_count {
        let Ok(t) = scale(&mut u) else { return };
        temperatures.push(t);
    }
    let (Ok(floor_pick), Ok(alpha_pick), Ok(weight_pick), Ok(method_pick), Ok(short)) = (
        u.int_in_range(0u8..=4),
        u.int_in_range(0u8..=5),
        u.int_in_range(0u8..=3),
        u.int_in_range(0u8..=2),
        u.ratio(1u8, 16u8),
    ) else {
        return;
    };
    let Ok(normaliser_pick) = u.int_in_range(0u8..=2) else {
        return;
    };
    let floor = [1e-6, 0.0, -1e-6, f32::NAN, 0.5][usize::from(floor_pick)];
    let alpha_value = [1.5_f32, 1.0, 4.0, 0.5, f32::NAN, 1e12][usize::from(alpha_pick)];
    let alpha = vec![alpha_value; shape.groups];
    let guided = alpha_pick > 0 || u.ratio(1u8, 2u8).unwrap_or(false);
    let weight_value = [1.0_f32, 0.5, -1.0, f32::INFINITY][usize::from(weight_pick)];
    let positive_weights = vec![weight_value; shape.groups * shape.positives];
    let config = GroupedDriftConfig {
        temperatures: &temperatures,
        affinity_floor: floor,
        guidance: guided.then_some(alpha.as_slice()),
        positive_weights: (weight_pick > 0).then_some(positive_weights.as_slice()),
        distances: [
            DistanceMethod::Auto,
            DistanceMethod::Expanded,
            DistanceMethod::Difference,
        ][usize::from(method_pick)],
        normalisers: [
            NormaliserMethod::Auto,
            NormaliserMethod::Products,
            NormaliserMethod::Gram,
        ][usize::from(normaliser_pick)],
        ..GroupedDriftConfig::official()
    };

    let finite = |v: &[f32]| v.iter().all(|x| x.is_finite());
    let moderate = |v: &[f32]| v.iter().all(|x| x.abs() <= 2.0);
    let bad_temperature = |t: &f32| !(t.is_finite() && *t > 0.0 && (1.0 / t).is_finite());
    let empty = shape.groups == 0 || shape.generated == 0 || shape.positives == 0;
    let cfg_factor = (shape.generated as f32 - 1.0) / shape.unconditional.max(1) as f32;
    let bad_alpha = guided
        && shape.groups > 0
        && (!alpha_value.is_finite()
            || alpha_value < 1.0
            || (alpha_value - 1.0) * cfg_factor > 1e9);
    let bad_weights = weight_pick >= 2 && shape.groups * shape.positives > 0;
    // Positive weights of 0 are never drawn, and generated weights are 1: the total is positive
    // whenever there is a generated sample.
    let problem = empty
        || shape.channels == 0
        || length_error <= 3 && length_error >= 1
        || temperatures.is_empty()
        || temperatures.len() > drifting::MAX_TEMPERATURES
        || temperatures.iter().any(bad_temperature)
        || !(floor.is_finite() && floor >= 0.0)
        || bad_alpha
        || bad_weights
        || short
        || !finite(&generated)
        || !finite(&unconditional)
        || !finite(&positives);
    let tame = moderate(&generated)
        && moderate(&unconditional)
        && moderate(&positives)
        && temperatures.iter().all(|t| *t >= 0.02);
    let expect = if problem {
        Expect::Invalid
    } else if tame {
        Expect::Valid
    } else {
        Expect::Either
    };
    let size = |normalisers| {
        grouped_drift_workspace_len_with(&shape, temperatures.len().max(1), normalisers)
            .unwrap_or(0)
    };
    let len = size(config.normalisers);
    // Too short for whichever path the call takes (the `Auto` size covers both paths).
    let short_len = match config.normalisers {
        NormaliserMethod::Auto => {
            size(NormaliserMethod::Products).min(size(NormaliserMethod::Gram))
        }
        method => size(method),
    }
    .saturating_sub(1);
    let mut workspace = vec![0.0; if short { short_len } else { len }];
    let mut field = vec![0.0; shape.groups * shape.generated * shape.channels];
    let mut losses = vec![0.0; shape.groups];
    let result = grouped_drift_loss(
        &shape,
        &generated,
        &unconditional,
        &positives,
        &config,
        &mut workspace,
        &mut field,
        Some(&mut losses),
    );
    if let Ok(report) = result {
        let n = report.temperature_count;
        assert!(
            report.loss.is_finite()
                && report.input_scale.is_finite()
                && report.distance_scale.is_finite()
                && report.raw_rms2[..n].iter().all(|v| v.is_finite())
                && losses.iter().all(|v| v.is_finite()),
            "{report:?}"
        );
    }
    check_contract(expect, result.map(|_| ()), &field, "grouped_drift_loss");
});
