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
