//! Whole-buffer reductions shared by the operators, the loss and the trainer.

/// `mean(v²)`.
pub(crate) fn mean_square(values: &[f32]) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    let mut acc = [0.0_f32; 8];
    let mut chunks = values.chunks_exact(8);
    for chunk in &mut chunks {
        for (a, v) in acc.iter_mut().zip(chunk) {
            *a += v * v;
        }
    }
    let tail: f32 = chunks.remainder().iter().map(|v| v * v).sum();
    #[allow(clippy::cast_precision_loss)]
    let mean = (acc.iter().sum::<f32>() + tail) / values.len() as f32;
    mean
}

#[cfg(feature = "dense")]
/// `Σ v²` in `f64`: blocks of 256 values summed in eight `f32` lanes (a fixed order), the blocks
/// added in `f64`, so that long buffers keep about `1e-6` relative precision.
pub(crate) fn sum_of_squares(values: &[f32]) -> f64 {
    use crate::engine::simd::{F32s, LANES};
    let mut total = 0.0_f64;
    for block in values.chunks(256) {
        let (chunks, tail) = block.as_chunks::<LANES>();
        let mut acc = F32s::splat(0.0);
        for c in chunks {
            let v = F32s::new(*c);
            acc = v.mul_add(v, acc);
        }
        total += acc.to_array().iter().map(|&v| f64::from(v)).sum::<f64>();
        total += tail.iter().map(|&v| f64::from(v * v)).sum::<f64>();
    }
    total
}

/// Whether every value is finite, without a branch per value: `0·v` is `0` for a finite `v` and
/// NaN otherwise, and a NaN survives every later addition.
pub(crate) fn all_finite(values: &[f32]) -> bool {
    use crate::engine::simd::{F32s, LANES};
    let (chunks, tail) = values.as_chunks::<LANES>();
    let mut acc = F32s::splat(0.0);
    for c in chunks {
        let v = F32s::new(*c);
        acc += v * F32s::splat(0.0);
    }
    let tail_acc = tail.iter().fold(0.0_f32, |a, &v| a + v * 0.0);
    acc.to_array().iter().all(|&v| v == 0.0) && tail_acc == 0.0
}
