//! The generator's passes and a training step, on all cores with the crate's `std` feature
//! (`drifting::parallel`) and serial without it — the same bits either way. Shared by the
//! examples' support modules and `benches/side_by_side.rs`.
#![allow(dead_code)]

use drifting::{CloudView, Error, Mlp, StepReport, Trainer};
use rand_core::Rng;

/// `Mlp::forward`, parallel with `std`.
pub fn forward<const I: usize, const H: usize, const O: usize>(
    mlp: &Mlp<I, H, O>,
    params: &[f32],
    input: &[f32],
    batch: usize,
    cache: &mut [f32],
    out: &mut [f32],
) -> Result<(), Error> {
    #[cfg(feature = "std")]
    return drifting::parallel::mlp_forward(mlp, params, input, batch, cache, out);
    #[cfg(not(feature = "std"))]
    return mlp.forward(params, input, batch, cache, out);
}

/// `Mlp::backward` without the input gradient, parallel with `std`.
pub fn backward<const I: usize, const H: usize, const O: usize>(
    mlp: &Mlp<I, H, O>,
    params: &[f32],
    cache: &[f32],
    grad_output: &[f32],
    batch: usize,
    grads: &mut [f32],
    scratch: &mut [f32],
) -> Result<(), Error> {
    #[cfg(feature = "std")]
    return drifting::parallel::mlp_backward(
        mlp,
        params,
        cache,
        grad_output,
        batch,
        grads,
        None,
        scratch,
    );
    #[cfg(not(feature = "std"))]
    return mlp.backward(params, cache, grad_output, batch, grads, None, scratch);
}

/// `Trainer::step`, parallel with `std`.
pub fn train_step<const I: usize, const H: usize, const O: usize, R: Rng + ?Sized>(
    trainer: &mut Trainer<'_, I, H, O>,
    rng: &mut R,
    data: &CloudView<'_, O>,
) -> Result<StepReport, Error> {
    #[cfg(feature = "std")]
    return drifting::parallel::train_step(trainer, rng, data);
    #[cfg(not(feature = "std"))]
    return trainer.step(rng, data);
}

/// `DriftField::evaluate`, parallel with `std`.
pub fn drift_field<const D: usize, R: Rng + ?Sized>(
    field: &drifting::DriftField,
    temperatures: &[f32],
    rng: &mut R,
    queries: &CloudView<'_, D>,
    positives: &CloudView<'_, D>,
    scratch: &mut [f32],
    out: &mut [f32],
) -> Result<f32, Error> {
    #[cfg(feature = "std")]
    return drifting::parallel::drift_field(
        field,
        temperatures,
        rng,
        queries,
        positives,
        scratch,
        out,
    );
    #[cfg(not(feature = "std"))]
    return field.evaluate(temperatures, rng, queries, positives, scratch, out);
}
