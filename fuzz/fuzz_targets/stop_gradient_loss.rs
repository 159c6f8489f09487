//! The stop-gradient loss: typed errors for empty, non-finite or mismatched input; otherwise a
//! finite loss equal to mean(V²) and the gradient −2V/(s·N·D).
#![no_main]

use arbitrary::Unstructured;
use drifting::stop_gradient_loss;
use drifting_fuzz::{coordinate, scale};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let (Ok(n), Ok(s), Ok(mismatch)) = (
        u.int_in_range(0usize..=64),
        scale(&mut u),
        u.ratio(1u8, 10u8),
    ) else {
        return;
    };
    let mut drift = Vec::new();
    for _ in 0..n {
        let Ok(v) = coordinate(&mut u) else { return };
        drift.push(v);
    }
    let mut gradient = vec![0.0; if mismatch { n + 1 } else { n }];
    let result = stop_gradient_loss(&drift, s, &mut gradient);
    let problem =
        n == 0 || mismatch || drift.iter().any(|v| !v.is_finite()) || !(s.is_finite() && s > 0.0);
    let exact = drift.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / n.max(1) as f64;
    match result {
        // Invalid input, or a mean square beyond f32 (OutOfRange; the f32 sum may overflow a
        // little before the mean does).
        Err(e) => {
            let largest = drift.iter().fold(0.0_f64, |m, v| m.max(f64::from(v.abs())));
            let gradient_overflow = 2.0 * largest / (f64::from(s) * n as f64) > 3.3e38;
            assert!(
                problem || exact > 1e36 || gradient_overflow,
                "valid input rejected: {e} (drift {drift:?}, s = {s})"
            );
        }
        Ok(loss) => {
            assert!(!problem, "invalid input accepted");
            assert!(loss.is_finite(), "loss {loss}");
            assert!(
                (f64::from(loss) - exact).abs() <= 1e-5 * exact + 1e-30,
                "{loss} vs {exact}"
            );
            let factor = -2.0 / (f64::from(s) * n as f64);
            for (g, v) in gradient.iter().zip(&drift) {
                let want = factor * f64::from(*v);
                // One f32 rounding of the f64 value (subnormal results keep their absolute accuracy).
                assert!(
                    g.is_finite() && (f64::from(*g) - want).abs() <= 1e-7 * want.abs() + 1e-45,
                    "{g} vs {want}"
                );
            }
        }
    }
});
