//! The generator's backward pass equals central finite differences of an independent `f64`
//! network, for every parameter kind (each layer's `W` and `b`, and the input), every
//! activation, and batch sizes that are and are not multiples of the SIMD tile.
#![allow(clippy::unwrap_used, clippy::cast_precision_loss)]

#[path = "reference/mlp.rs"]
mod mlp_reference;

use drifting::{Activation, Error, Mlp};
use mlp_reference::RefActivation;
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

const BATCHES: [usize; 4] = [1, 7, 8, 33];

fn reference_activation(a: Activation) -> RefActivation {
    match a {
        Activation::Identity => RefActivation::Identity,
        Activation::Relu => RefActivation::Relu,
        Activation::Silu => RefActivation::Silu,
        Activation::Tanh => RefActivation::Tanh,
    }
}

fn normal(rng: &mut Xoshiro256PlusPlus, n: usize, scale: f32) -> Vec<f32> {
    let mut v = vec![0.0; n];
    drifting::sample::fill_standard_normal(rng, &mut v);
    v.iter_mut().for_each(|x| *x *= scale);
    v
}

fn widen(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

/// Which parameter kind an index belongs to: `("W0", …)`, `("b3", …)`.
fn kind<const I: usize, const H: usize, const O: usize>(k: usize) -> String {
    for (l, layer) in Mlp::<I, H, O>::LAYERS.iter().enumerate() {
        if k < layer.bias {
            return format!("W{l}");
        }
        if k < layer.end() {
            return format!("b{l}");
        }
    }
    unreachable!()
}

/// Runs forward + backward for `L = Σ c ⊙ f(z)` and compares every gradient with
/// `(L(θ + h) − L(θ − h)) / 2h` computed in `f64` (`h = 1e-5`).
///
/// Tolerance: `|g − g_fd| ≤ 2e-4 · (|g_fd| + s)` where `s` is the largest |gradient| of the same
/// kind: the library computes in `f32` (relative rounding ~1e-6 per product, sums of up to `H`
/// terms), the difference quotient is exact to ~1e-9 in `f64`.
fn check<const I: usize, const H: usize, const O: usize>(activation: Activation, batch: usize) {
    let dims = (I, H, O);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(batch as u64 * 31 + activation.code() as u64);
    let mut params = vec![0.0; Mlp::<I, H, O>::PARAMETERS];
    Mlp::<I, H, O>::init_pytorch(&mut params, &mut rng).unwrap();
    // Larger biases so that ReLU/SiLU/tanh work in every regime.
    let input = normal(&mut rng, I * batch, 1.0);
    let c = normal(&mut rng, O * batch, 1.0);
    let mlp = Mlp::<I, H, O>::new(activation);
    let mut cache = vec![f32::NAN; Mlp::<I, H, O>::cache_len(batch)];
    let mut output = vec![0.0; O * batch];
    mlp.forward(&params, &input, batch, &mut cache, &mut output)
        .unwrap();
    let mut grads = vec![f32::NAN; params.len()];
    let mut grad_input = vec![f32::NAN; I * batch];
    let mut scratch = vec![f32::NAN; Mlp::<I, H, O>::backward_scratch_len(batch)];
    mlp.backward(
        &params,
        &cache,
        &c,
        batch,
        &mut grads,
        Some(&mut grad_input),
        &mut scratch,
    )
    .unwrap();

    let act = reference_activation(activation);
    let p64 = widen(&params);
    let z64 = widen(&input);
    let c64 = widen(&c);
    // Forward against the reference.
    let want = mlp_reference::forward(&p64, act, dims, &z64, batch);
    let scale = want.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    for (got, want) in output.iter().zip(&want) {
        assert!(
            (f64::from(*got) - want).abs() <= 1e-5 * (scale + 1.0),
            "{activation:?} batch {batch}: forward {got} vs {want}"
        );
    }
    let h = 1e-5;
    let loss = |p: &[f64], z: &[f64]| mlp_reference::weighted_output(p, act, dims, z, batch, &c64);
    let mut fd = vec![0.0; params.len()];
    let mut p = p64.clone();
    for k in 0..params.len() {
        let saved = p[k];
        p[k] = saved + h;
        let up = loss(&p, &z64);
        p[k] = saved - h;
        let down = loss(&p, &z64);
        p[k] = saved;
        fd[k] = (up - down) / (2.0 * h);
    }
    let mut fd_input = vec![0.0; input.len()];
    let mut z = z64.clone();
    for k in 0..input.len() {
        let saved = z[k];
        z[k] = saved + h;
        let up = loss(&p64, &z);
        z[k] = saved - h;
        let down = loss(&p64, &z);
        z[k] = saved;
        fd_input[k] = (up - down) / (2.0 * h);
    }
    let compare = |name: &str, got: &[f32], want: &[f64]| {
        let s = want.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        for (k, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (f64::from(*g) - w).abs() <= 2e-4 * (w.abs() + s) + 1e-9,
                "{activation:?} batch {batch} {name}[{k}]: backward {g} vs finite difference {w}"
            );
        }
    };
    for l in 0..4 {
        let layer = Mlp::<I, H, O>::LAYERS[l];
        let w = layer.weights..layer.bias;
        let b = layer.bias..layer.end();
        compare(&kind::<I, H, O>(w.start), &grads[w.clone()], &fd[w]);
        compare(&kind::<I, H, O>(b.start), &grads[b.clone()], &fd[b]);
    }
    compare("input", &grad_input, &fd_input);
}

#[test]
fn backward_equals_finite_differences_small_widths() {
    for activation in Activation::ALL {
        for batch in BATCHES {
            // Widths that are not multiples of the kernel's 4 rows nor of its 8-lane vectors.
            check::<3, 5, 2>(activation, batch);
        }
    }
}

#[test]
fn backward_equals_finite_differences_wider_than_a_tile() {
    for activation in Activation::ALL {
        for batch in BATCHES {
            // 29 hidden units: more than one tile of inputs in the weight-gradient kernel.
            check::<2, 29, 3>(activation, batch);
        }
    }
}

#[test]
fn backward_equals_finite_differences_many_tiles() {
    // 70 samples = several tiles and (with 8-wide tiles) more than one weight-gradient block
    // is 136; use 150 for that.
    check::<4, 9, 2>(Activation::Silu, 150);
    check::<4, 9, 2>(Activation::Tanh, 70);
}

/// The official demo's shape against the `f64` reference: forward within `1e-5·(max|x| + 1)`,
/// gradients of a few parameters of each kind by finite differences.
#[test]
fn demo_generator_matches_reference() {
    const I: usize = 32;
    const H: usize = 256;
    const O: usize = 2;
    let batch = 37;
    let dims = (I, H, O);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
    let mut params = vec![0.0; Mlp::<I, H, O>::PARAMETERS];
    Mlp::<I, H, O>::init_pytorch(&mut params, &mut rng).unwrap();
    let input = normal(&mut rng, I * batch, 1.0);
    let c = normal(&mut rng, O * batch, 1.0);
    let mlp = Mlp::<I, H, O>::new(Activation::Silu);
    let mut cache = vec![0.0; Mlp::<I, H, O>::cache_len(batch)];
    let mut output = vec![0.0; O * batch];
    mlp.forward(&params, &input, batch, &mut cache, &mut output)
        .unwrap();
    let mut grads = vec![0.0; params.len()];
    let mut scratch = vec![0.0; Mlp::<I, H, O>::backward_scratch_len(batch)];
    mlp.backward(&params, &cache, &c, batch, &mut grads, None, &mut scratch)
        .unwrap();
    let p64 = widen(&params);
    let z64 = widen(&input);
    let c64 = widen(&c);
    let act = RefActivation::Silu;
    let want = mlp_reference::forward(&p64, act, dims, &z64, batch);
    let scale = want.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    for (got, want) in output.iter().zip(&want) {
        assert!((f64::from(*got) - want).abs() <= 1e-5 * (scale + 1.0));
    }
    let mut p = p64.clone();
    for k in (0..params.len()).step_by(997) {
        let h = 1e-5;
        let saved = p[k];
        p[k] = saved + h;
        let up = mlp_reference::weighted_output(&p, act, dims, &z64, batch, &c64);
        p[k] = saved - h;
        let down = mlp_reference::weighted_output(&p, act, dims, &z64, batch, &c64);
        p[k] = saved;
        let fd = (up - down) / (2.0 * h);
        assert!(
            (f64::from(grads[k]) - fd).abs() <= 2e-4 * (fd.abs() + 0.05),
            "{}[{k}]: {} vs {fd}",
            kind::<I, H, O>(k),
            grads[k]
        );
    }
}

#[test]
fn init_matches_pytorch_bounds_and_moments() {
    const I: usize = 32;
    const H: usize = 256;
    const O: usize = 2;
    assert_eq!(
        Mlp::<I, H, O>::PARAMETERS,
        33 * 256 + 2 * 257 * 256 + 257 * 2
    );
    let mut params = vec![0.0; Mlp::<I, H, O>::PARAMETERS];
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    Mlp::<I, H, O>::init_pytorch(&mut params, &mut rng).unwrap();
    for layer in Mlp::<I, H, O>::LAYERS {
        let bound = 1.0 / (layer.inputs as f64).sqrt();
        let w = &params[layer.weights..layer.bias];
        assert!(w.iter().all(|v| f64::from(v.abs()) <= bound));
        let n = w.len() as f64;
        let mean = w.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = w.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / n;
        // U(−B, B): mean 0, variance B²/3; standard errors B/√(3n) and B²·0.3/√n.
        assert!(
            mean.abs() < 5.0 * bound / (3.0 * n).sqrt(),
            "{layer:?} mean {mean}"
        );
        assert!(
            (var - bound * bound / 3.0).abs() < 5.0 * 0.3 * bound * bound / n.sqrt(),
            "{layer:?} var {var}"
        );
        let b = &params[layer.bias..layer.end()];
        assert!(b.iter().all(|v| f64::from(v.abs()) <= bound));
        assert!(b.iter().any(|v| *v != 0.0));
    }
}

#[test]
fn entry_errors_are_typed() {
    type Net = Mlp<2, 8, 2>;
    let mlp = Net::new(Activation::Relu);
    let params = vec![0.1; Net::PARAMETERS];
    let batch = 5;
    let input = vec![0.5; 2 * batch];
    let mut cache = vec![0.0; Net::cache_len(batch)];
    let mut output = vec![0.0; 2 * batch];
    assert!(matches!(
        mlp.forward(&params, &input, 0, &mut cache, &mut output),
        Err(Error::InvalidParameter { input: "batch" })
    ));
    assert!(matches!(
        mlp.forward(&params[1..], &input, batch, &mut cache, &mut output),
        Err(Error::ShapeMismatch {
            input: "params",
            ..
        })
    ));
    let mut bad = params.clone();
    bad[3] = f32::NAN;
    assert!(matches!(
        mlp.forward(&bad, &input, batch, &mut cache, &mut output),
        Err(Error::NonFinite { input: "params" })
    ));
    assert!(matches!(
        mlp.forward(&params, &input[1..], batch, &mut cache, &mut output),
        Err(Error::ShapeMismatch { input: "input", .. })
    ));
    let mut small = vec![0.0; Net::cache_len(batch) - 1];
    assert!(matches!(
        mlp.forward(&params, &input, batch, &mut small, &mut output),
        Err(Error::ScratchTooSmall { .. })
    ));
    let mut grads = vec![0.0; Net::PARAMETERS];
    let mut scratch = vec![0.0; Net::backward_scratch_len(batch)];
    let g = vec![1.0; 2 * batch];
    // Backward before any forward: the cache header is not there.
    assert!(matches!(
        mlp.backward(&params, &cache, &g, batch, &mut grads, None, &mut scratch),
        Err(Error::InvalidParameter { input: "cache" })
    ));
    mlp.forward(&params, &input, batch, &mut cache, &mut output)
        .unwrap();
    assert!(matches!(
        Net::new(Activation::Tanh).backward(
            &params,
            &cache,
            &g,
            batch,
            &mut grads,
            None,
            &mut scratch
        ),
        Err(Error::InvalidParameter { input: "cache" })
    ));
    assert!(matches!(
        mlp.backward(&params, &cache, &g, 4, &mut grads, None, &mut scratch),
        Err(Error::InvalidParameter { input: "cache" }) | Err(Error::ShapeMismatch { .. })
    ));
    let mut short = vec![0.0; Net::backward_scratch_len(batch) - 1];
    assert!(matches!(
        mlp.backward(&params, &cache, &g, batch, &mut grads, None, &mut short),
        Err(Error::ScratchTooSmall { .. })
    ));
    let mut g_bad = g.clone();
    g_bad[0] = f32::INFINITY;
    assert!(matches!(
        mlp.backward(
            &params,
            &cache,
            &g_bad,
            batch,
            &mut grads,
            None,
            &mut scratch
        ),
        Err(Error::NonFinite {
            input: "grad_output"
        })
    ));
    let mut gi = vec![0.0; 3];
    assert!(matches!(
        mlp.backward(
            &params,
            &cache,
            &g,
            batch,
            &mut grads,
            Some(&mut gi),
            &mut scratch
        ),
        Err(Error::ShapeMismatch {
            input: "grad_input",
            ..
        })
    ));
    mlp.backward(&params, &cache, &g, batch, &mut grads, None, &mut scratch)
        .unwrap();
    let _ = Xoshiro256PlusPlus::seed_from_u64(0).next_u32();
}
