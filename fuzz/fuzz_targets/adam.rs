//! Adam / AdamW steps: typed errors for invalid hyper-parameters, lengths, non-finite gradients
//! and negative second moments (nothing written then; issue 15: a negative `v` was reported as
//! the learning rate's fault); finite parameters and a finite report after a valid step, and a
//! clipped step never zeroes a non-zero gradient (issue 15: `f32::MAX` gradients were zeroed).
#![no_main]

use arbitrary::Unstructured;
use drifting::{Adam, AdamState};
use drifting_fuzz::{coordinate, scale};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let (Ok(n), Ok(lr), Ok(wd_pick), Ok(clip_pick), Ok(beta_pick), Ok(steps), Ok(mismatch)) = (
        u.int_in_range(0usize..=40),
        scale(&mut u),
        u.int_in_range(0u8..=3),
        u.int_in_range(0u8..=3),
        u.int_in_range(0u8..=3),
        u.int_in_range(1usize..=5),
        u.ratio(1u8, 16u8),
    ) else {
        return;
    };
    let adam = Adam {
        learning_rate: lr,
        weight_decay: [0.0, 1e-2, -1.0, f32::NAN][usize::from(wd_pick)],
        max_grad_norm: [None, Some(1.0), Some(0.0), Some(f32::INFINITY)][usize::from(clip_pick)],
        beta1: [0.9, 0.0, 1.0, 0.5][usize::from(beta_pick)],
        ..Adam::new()
    };
    let mut params = vec![0.0_f32; n];
    let mut grads = vec![0.0_f32; if mismatch { n + 1 } else { n }];
    for v in params.iter_mut().chain(grads.iter_mut()) {
        let Ok(x) = coordinate(&mut u) else { return };
        *v = x;
    }
    let (mut m, mut v) = (vec![0.0; n], vec![0.0; n]);
    // Now and then a corrupted second moment (negative), or gradients at f32::MAX.
    let negative_v = n > 0 && u.ratio(1u8, 16u8).unwrap_or(false);
    if negative_v {
        v[n - 1] = -1e-3;
    }
    if u.ratio(1u8, 8u8).unwrap_or(false) {
        for (k, g) in grads.iter_mut().enumerate() {
            *g = if k % 2 == 0 { f32::MAX } else { -f32::MAX };
        }
    }
    let mut state = AdamState::new();
    let valid_config = adam.validate().is_ok();
    for _ in 0..steps {
        let before = params.clone();
        let result = adam.step(&mut state, &mut params, &grads, &mut m, &mut v);
        let bad_input = mismatch
            || !valid_config
            || params.iter().chain(&grads).any(|x| !x.is_finite())
            || v.iter().any(|x| *x < 0.0);
        match result {
            Err(e) => {
                if negative_v && valid_config && !mismatch {
                    let finite_inputs = params.iter().chain(&grads).all(|x| x.is_finite());
                    if finite_inputs {
                        assert_eq!(e, drifting::Error::InvalidParameter { input: "v" });
                    }
                }
                assert!(
                    before
                        .iter()
                        .zip(&params)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "parameters written on error"
                );
                return;
            }
            Ok(report) => {
                assert!(!bad_input, "invalid step accepted");
                assert!(
                    report.gradient_norm.is_finite() && report.clip_scale.is_finite(),
                    "{report:?}"
                );
                // A clipped step moves m off zero wherever the gradient is non-zero: the
                // gradient was scaled, not zeroed (its f32 product may still underflow for
                // gradients below f32::MIN_POSITIVE / clip, so only large ones are checked).
                if let (Some(c), 1) = (adam.max_grad_norm, state.step_count()) {
                    let norm = grads
                        .iter()
                        .map(|g| f64::from(*g) * f64::from(*g))
                        .sum::<f64>()
                        .sqrt();
                    let factor = (f64::from(c) / (norm + 1e-6)).min(1.0);
                    for (g, m) in grads.iter().zip(&m) {
                        if (f64::from(*g) * factor).abs() >= 1e-30 {
                            assert!(*m != 0.0, "gradient {g} zeroed: {report:?}");
                        }
                    }
                }
                assert!(
                    params.iter().all(|p| p.is_finite()),
                    "non-finite parameters after a valid step"
                );
                assert!(m.iter().chain(&v).all(|x| x.is_finite()));
            }
        }
    }
});
