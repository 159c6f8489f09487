//! The forward pass: `Z_l = W_l·X_l + b_l`, `X_{l+1} = act(Z_l)`, bias and activation fused
//! into the micro-kernel's epilogue.

use super::{Activation, CACHE_HEADER, CACHE_TAG, LayerShape, Mlp, check_len, check_scratch};
use crate::engine::chunks::Exec;
use crate::engine::gemm::{
    Accumulators, MR, NR, TILE, kernel_for_columns, pack_rows, pack_tiled, panels, store,
    store_feature_major,
};
use crate::engine::simd::F32s;
use crate::error::Error;

/// The cache regions of one batch (see [`Mlp::cache_len`]), each in the tiled layout.
pub(super) struct CacheRegions<'a, T> {
    /// `cache[..CACHE_HEADER]`.
    pub(super) header: &'a mut [f32],
    /// The input, `I` rows per tile.
    pub(super) input: T,
    /// The three hidden activations, `H` rows per tile.
    pub(super) activations: [T; 3],
    /// The three activation derivatives `act'(Z)`, `H` rows per tile.
    pub(super) derivatives: [T; 3],
}

/// A region as tiled rows.
fn tiles(s: &mut [f32]) -> &mut [[f32; TILE]] {
    s.as_chunks_mut::<TILE>().0
}

/// Largest batch whose size the cache header records exactly (as an `f32`).
pub(crate) const MAX_BATCH: usize = 1 << 24;

impl<const I: usize, const H: usize, const O: usize> Mlp<I, H, O> {
    /// Splits a cache of at least `cache_len(batch)` values into its regions and the packing
    /// area (`None` if it is too short).
    #[allow(clippy::type_complexity)]
    pub(super) fn cache_regions(
        cache: &mut [f32],
        batch: usize,
    ) -> Option<(CacheRegions<'_, &mut [[f32; TILE]]>, &mut [[f32; MR]])> {
        let columns = Self::padded(batch);
        let (header, rest) = cache.split_at_mut_checked(CACHE_HEADER)?;
        let (input, rest) = rest.split_at_mut_checked(columns * I)?;
        let (a0, rest) = rest.split_at_mut_checked(columns * H)?;
        let (a1, rest) = rest.split_at_mut_checked(columns * H)?;
        let (a2, rest) = rest.split_at_mut_checked(columns * H)?;
        let (d0, rest) = rest.split_at_mut_checked(columns * H)?;
        let (d1, rest) = rest.split_at_mut_checked(columns * H)?;
        let (d2, rest) = rest.split_at_mut_checked(columns * H)?;
        let (pack, _) = rest.split_at_mut_checked(Self::PACK)?;
        Some((
            CacheRegions {
                header,
                input: tiles(input),
                activations: [tiles(a0), tiles(a1), tiles(a2)],
                derivatives: [tiles(d0), tiles(d1), tiles(d2)],
            },
            pack.as_chunks_mut::<MR>().0,
        ))
    }

    /// The cache header recording a forward pass over `batch` samples with `activation`.
    #[allow(clippy::cast_precision_loss)]
    pub(super) fn cache_header(batch: usize, activation: Activation) -> [f32; 6] {
        [
            CACHE_TAG,
            batch as f32,
            f32::from(activation.code()),
            I as f32,
            H as f32,
            O as f32,
        ]
    }

    /// The forward pass `x = f_θ(z)` for a batch, keeping what [`Mlp::backward`] needs in
    /// `cache`.
    ///
    /// `params`: [`Mlp::PARAMETERS`] values ([layout](crate::mlp)); `input`: `I` rows of `batch`
    /// values (`input[i·batch + b]`); `output`: `O` rows of `batch` values, overwritten;
    /// `cache`: at least [`Mlp::cache_len`]`(batch)` values, overwritten.
    ///
    /// Computes, for each sample, `h₁ = act(W₀z + b₀)`, `h₂ = act(W₁h₁ + b₁)`,
    /// `h₃ = act(W₂h₂ + b₂)`, `x = W₃h₃ + b₃` — `torch.nn.Sequential(Linear, act, Linear, act,
    /// Linear, act, Linear)` with the same parameters gives the same values to `f32` rounding.
    ///
    /// Cost: `2·batch·(I·H + 2·H² + H·O)` flops on the micro-kernel (about 60 GFLOP/s single
    /// thread on a Zen 3 core with `-C target-cpu=x86-64-v3`, see `benches/mlp.rs`); memory:
    /// the caller's cache.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`"batch"`) if `batch` is 0 or above `2^24`;
    /// [`Error::ShapeMismatch`] if `params`, `input` or `output` has the wrong length;
    /// [`Error::NonFinite`] if `params` or `input` holds a NaN or an infinity;
    /// [`Error::ScratchTooSmall`] if `cache` is shorter than [`Mlp::cache_len`]`(batch)`;
    /// [`Error::OutOfRange`] (`"input"`) if finite inputs and weights overflow `f32` on the way
    /// (the cache is then marked unusable for [`Mlp::backward`]).
    ///
    /// # Example
    /// ```
    /// use drifting::{Activation, Mlp};
    /// use rand_core::SeedableRng;
    /// use rand_xoshiro::Xoshiro256PlusPlus;
    /// type Generator = Mlp<2, 8, 2>;
    /// const BATCH: usize = 4;
    /// let generator = Generator::new(Activation::Silu);
    /// let mut params = [0.0_f32; Generator::PARAMETERS];
    /// Generator::init_pytorch(&mut params, &mut Xoshiro256PlusPlus::seed_from_u64(0))?;
    /// // Feature-major batches: every sample's z₁, then every z₂; the output likewise.
    /// let noise = [0.1_f32, -0.3, 0.5, 0.0, /* z₂: */ 1.0, 0.2, -0.7, 0.4];
    /// let mut cache = [0.0_f32; Generator::cache_len(BATCH)];
    /// let mut samples = [0.0_f32; 2 * BATCH]; // ready for CloudView::from_coordinate_major
    /// generator.forward(&params, &noise, BATCH, &mut cache, &mut samples)?;
    ///
    /// // Sample 0 alone gives the same point: samples do not interact.
    /// let mut small_cache = [0.0_f32; Generator::cache_len(1)];
    /// let mut alone = [0.0_f32; 2];
    /// generator.forward(&params, &[0.1, 1.0], 1, &mut small_cache, &mut alone)?;
    /// assert!((alone[0] - samples[0]).abs() < 1e-6 && (alone[1] - samples[BATCH]).abs() < 1e-6);
    /// # Ok::<(), drifting::Error>(())
    /// ```
    pub fn forward(
        &self,
        params: &[f32],
        input: &[f32],
        batch: usize,
        cache: &mut [f32],
        output: &mut [f32],
    ) -> Result<(), Error> {
        let exec = Exec::current();
        if batch == 0 || batch > MAX_BATCH {
            return Err(Error::InvalidParameter { input: "batch" });
        }
        Self::check_parameters(params, "params")?;
        check_len(input, I, batch, "input")?;
        if !input.iter().all(|v| v.is_finite()) {
            return Err(Error::NonFinite { input: "input" });
        }
        check_len(output, O, batch, "output")?;
        check_scratch(cache, Self::cache_len(batch), "cache")?;
        let Some((regions, pack)) = Self::cache_regions(cache, batch) else {
            return Err(Error::ScratchTooSmall {
                input: "cache",
                required: Self::cache_len(batch),
                provided: 0,
            });
        };
        let CacheRegions {
            header,
            input: x0,
            activations: [a0, a1, a2],
            derivatives: [d0, d1, d2],
        } = regions;
        for (h, v) in header
            .iter_mut()
            .zip(Self::cache_header(batch, self.activation))
        {
            *h = v;
        }
        pack_tiled(input, I, batch, x0);
        let [l0, l1, l2, l3] = Self::LAYERS;
        let act = self.activation;
        hidden_layer(exec, params, l0, act, x0, a0, d0, pack, batch);
        hidden_layer(exec, params, l1, act, a0, a1, d1, pack, batch);
        hidden_layer(exec, params, l2, act, a1, a2, d2, pack, batch);
        output_layer(params, l3, a2, pack, output, batch);
        if !output.iter().all(|v| v.is_finite()) {
            // Finite inputs and weights whose products overflow f32: refuse, and mark the cache
            // so that no backward pass uses it.
            header.fill(0.0);
            return Err(Error::OutOfRange { input: "input" });
        }
        Ok(())
    }
}

/// The layer's weight matrix and bias.
pub(super) fn weights_and_bias(params: &[f32], layer: LayerShape) -> (&[f32], &[f32]) {
    (
        params.get(layer.weights..layer.bias).unwrap_or(&[]),
        params.get(layer.bias..layer.end()).unwrap_or(&[]),
    )
}

/// Runs `Z = W·X` tile by tile (`x`: tiles of `inputs` rows) and hands each micro-tile
/// (tile `t`, rows `p·MR ..`) to `epilogue`. `W` is packed once into `pack`.
#[inline(always)]
fn linear(
    params: &[f32],
    layer: LayerShape,
    x: &[[f32; TILE]],
    pack: &mut [[f32; MR]],
    batch: usize,
    mut epilogue: impl FnMut(usize, usize, &Accumulators),
) {
    let packed = pack_layer(params, layer, pack);
    // Widths are at least 1 (checked at construction); `max` keeps chunking panic-free.
    let inputs = layer.inputs.max(1);
    for (t, x_tile) in x.chunks_exact(inputs).enumerate() {
        let valid = batch.saturating_sub(t * TILE);
        for (p, panel) in packed.chunks_exact(inputs).enumerate() {
            epilogue(t, p * MR, &kernel_for_columns(valid, panel, x_tile));
        }
    }
}

/// Packs the layer's weight rows into `pack` (the `A` operand of `Z = W·X`).
fn pack_layer<'p>(params: &[f32], layer: LayerShape, pack: &'p mut [[f32; MR]]) -> &'p [[f32; MR]] {
    let (w, _) = weights_and_bias(params, layer);
    let packed = pack
        .get_mut(..panels(layer.outputs) * layer.inputs)
        .unwrap_or_default();
    pack_rows(w, layer.outputs, layer.inputs, packed);
    packed
}

/// A hidden layer: `a = act(W·x + b)` and `d = act'(W·x + b)` into the tiled `a_out`, `d_out`.
///
/// The batch tiles are independent (each reads its own `x` tile and writes its own `a`, `d`
/// tiles), so `exec` may run them on any number of threads with the same result.
#[allow(clippy::too_many_arguments)]
fn hidden_layer(
    exec: Exec,
    params: &[f32],
    layer: LayerShape,
    activation: Activation,
    x: &[[f32; TILE]],
    a_out: &mut [[f32; TILE]],
    d_out: &mut [[f32; TILE]],
    pack: &mut [[f32; MR]],
    batch: usize,
) {
    let (_, bias) = weights_and_bias(params, layer);
    let (inputs, outputs) = (layer.inputs.max(1), layer.outputs.max(1));
    let packed = pack_layer(params, layer, pack);
    let tile = |t: usize,
                x_tile: &[[f32; TILE]],
                a_tile: &mut [[f32; TILE]],
                d_tile: &mut [[f32; TILE]]| {
        let valid = batch.saturating_sub(t * TILE);
        for (p, panel) in packed.chunks_exact(inputs).enumerate() {
            let acc = kernel_for_columns(valid, panel, x_tile);
            let row0 = p * MR;
            let a_rows = a_tile.get_mut(row0..).unwrap_or_default();
            let d_rows = d_tile.get_mut(row0..).unwrap_or_default();
            let biases = bias.get(row0..).unwrap_or(&[]);
            for (((values, a_row), d_row), b) in acc.iter().zip(a_rows).zip(d_rows).zip(biases) {
                let b = F32s::splat(*b);
                let mut a = [F32s::splat(0.0); NR];
                let mut d = [F32s::splat(0.0); NR];
                for ((v, a), d) in values.iter().zip(&mut a).zip(&mut d) {
                    (*a, *d) = activation.value_and_derivative(*v + b);
                }
                store(a_row, &a);
                store(d_row, &d);
            }
        }
    };
    match exec {
        Exec::Serial => {
            let tiles = x
                .chunks_exact(inputs)
                .zip(a_out.chunks_exact_mut(outputs))
                .zip(d_out.chunks_exact_mut(outputs));
            for (t, ((x_tile, a_tile), d_tile)) in tiles.enumerate() {
                tile(t, x_tile, a_tile, d_tile);
            }
        }
        #[cfg(feature = "std")]
        Exec::Rayon => {
            use rayon::prelude::*;
            x.par_chunks_exact(inputs)
                .zip(a_out.par_chunks_exact_mut(outputs))
                .zip(d_out.par_chunks_exact_mut(outputs))
                .enumerate()
                .for_each(|(t, ((x_tile, a_tile), d_tile))| tile(t, x_tile, a_tile, d_tile));
        }
    }
}

/// The output layer: `x = W·h + b` into the feature-major `output` (`O` rows of `batch`).
fn output_layer(
    params: &[f32],
    layer: LayerShape,
    x: &[[f32; TILE]],
    pack: &mut [[f32; MR]],
    output: &mut [f32],
    batch: usize,
) {
    let (_, bias) = weights_and_bias(params, layer);
    linear(params, layer, x, pack, batch, |t, row0, acc| {
        for ((values, b), row) in acc.iter().zip(bias.get(row0..).unwrap_or(&[])).zip(row0..) {
            let b = F32s::splat(*b);
            let z = values.map(|v| v + b);
            store_feature_major(output, row, batch, t, &z);
        }
    });
}
