//! Adam / AdamW steps: typed errors for invalid hyper-parameters, lengths and non-finite
//! gradients (nothing written then); finite parameters after a valid step.
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
    let mut state = AdamState::new();
    let valid_config = adam.validate().is_ok();
    for _ in 0..steps {
        let before = params.clone();
        let result = adam.step(&mut state, &mut params, &grads, &mut m, &mut v);
        let bad_input =
            mismatch || !valid_config || params.iter().chain(&grads).any(|x| !x.is_finite());
        match result {
            Err(_) => {
                assert!(
                    before
                        .iter()
                        .zip(&params)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "parameters written on error"
                );
                return;
            }
            Ok(_) => {
                assert!(!bad_input, "invalid step accepted");
                assert!(
                    params.iter().all(|p| p.is_finite()),
                    "non-finite parameters after a valid step"
                );
                assert!(m.iter().chain(&v).all(|x| x.is_finite()));
            }
        }
    }
});
