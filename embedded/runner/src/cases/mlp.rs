//! The generator: MLP forward, backward and Adam steps (`Mlp<2, 8, 2>`, SiLU, batch 8: small
//! enough for the 16 KB Cortex-M0 with the other tests' stacks).

use drifting::{Activation, Adam, AdamState, Error, Mlp};

/// The network: 2 → 8 → 8 → 8 → 2.
pub type Net = Mlp<2, 8, 2>;
/// Samples per batch.
pub const BATCH: usize = 8;
/// Parameters of [`Net`].
pub const PARAMETERS: usize = Net::PARAMETERS;
/// Cache of one forward pass.
pub const CACHE: usize = Net::cache_len(BATCH);
/// Backward scratch.
pub const SCRATCH: usize = Net::backward_scratch_len(BATCH);
/// Adam steps taken by [`adam_steps`].
pub const ADAM_STEPS: usize = 3;
/// The optimiser: AdamW with clipping, so every branch of the update runs.
pub const OPTIMIZER: Adam = Adam {
    learning_rate: 1.0e-2,
    weight_decay: 1.0e-2,
    max_grad_norm: Some(0.5),
    ..Adam::new()
};

/// `output = f_θ(input)` (feature-major), filling `cache`.
pub fn forward(
    params: &[f32],
    input: &[f32],
    cache: &mut [f32],
    output: &mut [f32],
) -> Result<(), Error> {
    Net::new(Activation::Silu).forward(params, input, BATCH, cache, output)
}

/// Gradients of `⟨grad_output, f_θ(input)⟩` with respect to every parameter and the input.
pub fn backward(
    params: &[f32],
    cache: &[f32],
    grad_output: &[f32],
    grads: &mut [f32],
    grad_input: &mut [f32],
    scratch: &mut [f32],
) -> Result<(), Error> {
    Net::new(Activation::Silu).backward(
        params,
        cache,
        grad_output,
        BATCH,
        grads,
        Some(grad_input),
        scratch,
    )
}

/// [`ADAM_STEPS`] steps of [`OPTIMIZER`] with the same gradient, from zero moments.
pub fn adam_steps(
    params: &mut [f32],
    grads: &[f32],
    m: &mut [f32],
    v: &mut [f32],
) -> Result<(), Error> {
    let mut state = AdamState::new();
    m.fill(0.0);
    v.fill(0.0);
    for _ in 0..ADAM_STEPS {
        OPTIMIZER.step(&mut state, params, grads, m, v)?;
    }
    Ok(())
}
