//! MLP forward and backward: typed errors for wrong lengths and non-finite parameters; finite
//! outputs and gradients for finite inputs within range; backward after forward with the same
//! batch only.
#![no_main]

use arbitrary::Unstructured;
use drifting::{Activation, Mlp};
use drifting_fuzz::coordinate;
use libfuzzer_sys::fuzz_target;

type Net = Mlp<3, 10, 2>;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let (Ok(batch), Ok(act), Ok(scale_pick), Ok(len_delta)) = (
        u.int_in_range(0usize..=40),
        u.int_in_range(0u8..=3),
        u.int_in_range(0u8..=3),
        u.int_in_range(0u8..=12),
    ) else {
        return;
    };
    let activation = Activation::ALL[usize::from(act) % Activation::ALL.len()];
    let scale = [1.0_f32, 1e-3, 10.0, 1e18][usize::from(scale_pick)];
    let mut params = vec![0.0_f32; Net::PARAMETERS];
    for p in &mut params {
        let Ok(v) = u.int_in_range(-1000i32..=1000) else {
            return;
        };
        *p = v as f32 / 1000.0 * scale;
    }
    if u.ratio(1u8, 20u8).unwrap_or(false) {
        params[0] = f32::NAN;
    }
    let mut input = vec![0.0_f32; 3 * batch];
    for x in &mut input {
        let Ok(v) = coordinate(&mut u) else { return };
        *x = v;
    }
    let mlp = Net::new(activation);
    let mut cache = vec![0.0; Net::cache_len(batch)];
    let out_len = if len_delta == 0 {
        (2 * batch).saturating_sub(1)
    } else {
        2 * batch
    };
    let mut out = vec![0.0; out_len];
    let forward = mlp.forward(&params, &input, batch, &mut cache, &mut out);
    let invalid = batch == 0
        || len_delta == 0
        || params.iter().any(|p| !p.is_finite())
        || input.iter().any(|x| !x.is_finite());
    if invalid {
        assert!(forward.is_err(), "invalid forward accepted");
        return;
    }
    let Ok(()) = forward else {
        // Finite inputs whose activations overflow f32 must be refused, not passed on as inf.
        return;
    };
    assert!(
        out.iter().all(|v| v.is_finite()),
        "forward produced {out:?}"
    );
    let grad_out: Vec<f32> = (0..2 * batch)
        .map(|k| if k % 3 == 0 { 1e-3 } else { -2e-3 })
        .collect();
    let mut grads = vec![0.0; Net::PARAMETERS];
    let mut grad_in = vec![0.0; 3 * batch];
    let mut scratch = vec![0.0; Net::backward_scratch_len(batch)];
    match mlp.backward(
        &params,
        &cache,
        &grad_out,
        batch,
        &mut grads,
        Some(&mut grad_in),
        &mut scratch,
    ) {
        Ok(()) => assert!(
            grads.iter().chain(&grad_in).all(|v| v.is_finite()),
            "non-finite gradient"
        ),
        Err(_) => {}
    }
    // A backward with another batch size than the cached forward is refused.
    if batch > 1 {
        let mut grads = vec![0.0; Net::PARAMETERS];
        let small = &grad_out[..2 * (batch - 1)];
        let mut scratch = vec![0.0; Net::backward_scratch_len(batch - 1)];
        assert!(
            mlp.backward(
                &params,
                &cache,
                small,
                batch - 1,
                &mut grads,
                None,
                &mut scratch
            )
            .is_err()
        );
    }
});
