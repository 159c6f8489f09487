//! The official multi-temperature drift: typed errors for invalid configurations, finite output
//! and a finite report otherwise.
#![no_main]

use arbitrary::Unstructured;
use drifting::{
    CloudView, MultiTemperatureConfig, multi_temperature_drift, multi_temperature_scratch_len,
};
use drifting_fuzz::{Expect, check_contract, cloud, coordinate, finite, scale, squared_diameter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let (Ok(x), Ok(y), Ok(count), Ok(floor_pick), Ok(weighted)) = (
        cloud::<3>(&mut u, 24),
        cloud::<3>(&mut u, 24),
        u.int_in_range(0usize..=9),
        u.int_in_range(0u8..=4),
        u.arbitrary::<bool>(),
    ) else {
        return;
    };
    let mut temperatures = Vec::new();
    for _ in 0..count {
        let Ok(t) = scale(&mut u) else { return };
        temperatures.push(t);
    }
    let floor = [1e-6, 0.0, -1e-6, f32::NAN, 0.5][usize::from(floor_pick)];
    let mut weights = Vec::new();
    if weighted {
        for _ in 0..y.len() {
            let Ok(w) = coordinate(&mut u) else { return };
            weights.push(w);
        }
    }
    let config = MultiTemperatureConfig {
        temperatures: &temperatures,
        affinity_floor: floor,
        positive_weights: weighted.then_some(weights.as_slice()),
        ..MultiTemperatureConfig::official()
    };
    let bad_temperature = |t: &f32| !(t.is_finite() && *t > 0.0 && (1.0 / t).is_finite());
    let bad_weights = weighted
        && (weights.iter().any(|w| !w.is_finite() || *w < 0.0) || {
            let total: f32 = weights.iter().sum::<f32>() + x.len() as f32;
            !(total > 0.0 && total.is_finite())
        });
    let problem = x.is_empty()
        || y.is_empty()
        || !finite(&x)
        || !finite(&y)
        || temperatures.is_empty()
        || temperatures.len() > drifting::MAX_TEMPERATURES
        || temperatures.iter().any(bad_temperature)
        || !(floor.is_finite() && floor >= 0.0)
        || bad_weights;
    let diameter2 = squared_diameter(&[&x, &y]);
    let largest = if problem || diameter2 > 1e36 {
        0.0
    } else {
        // The official normalisation: distances over their weighted mean (clamped at 1e-3), +100.
        let w = |j: usize| if weighted { f64::from(weights[j]) } else { 1.0 };
        let dist = |a: &[f32; 3], b: &[f32; 3]| {
            a.iter()
                .zip(b)
                .map(|(p, q)| (f64::from(*p) - f64::from(*q)).powi(2))
                .sum::<f64>()
                .max(1e-8)
                .sqrt()
        };
        let mut total = 0.0;
        for a in &x {
            total += x.iter().map(|b| dist(a, b)).sum::<f64>()
                + y.iter()
                    .enumerate()
                    .map(|(j, b)| w(j) * dist(a, b))
                    .sum::<f64>();
        }
        let weight_sum = x.len() as f64 + (0..y.len()).map(w).sum::<f64>();
        let scale = (total / (x.len() as f64 * weight_sum)).max(1e-3);
        let smallest = temperatures.iter().fold(f32::INFINITY, |m, &r| m.min(r));
        (diameter2.sqrt() / scale + 100.0) / f64::from(smallest)
    };
    let heavy = weights.iter().any(|w| *w > 1e9);
    let expect = Expect::new(problem || heavy, diameter2, largest);
    // Weights up to MAX_WEIGHT on far-apart clouds may still be refused (OutOfRange).
    let expect = if expect == Expect::Valid && weights.iter().any(|w| *w > 1e3) {
        Expect::Either
    } else {
        expect
    };
    let mut scratch = vec![0.0; multi_temperature_scratch_len(x.len(), y.len(), 3)];
    let mut out = vec![0.0; 3 * x.len()];
    let (qv, pv) = (CloudView::from_points(&x), CloudView::from_points(&y));
    let result = multi_temperature_drift(&qv, &pv, &config, &mut scratch, &mut out);
    if let Ok(report) = result {
        let n = report.temperature_count;
        assert!(
            report.loss.is_finite()
                && report.input_scale.is_finite()
                && report.raw_rms2[..n].iter().all(|v| v.is_finite()),
            "{report:?}"
        );
    }
    check_contract(expect, result.map(|_| ()), &out, "multi_temperature_drift");
});
