//! The backward pass (reverse-mode through the four layers):
//! `db_l = Σ_b dZ_l`, `dW_l = dZ_l·X_lᵀ`, `dZ_{l−1} = (W_lᵀ·dZ_l) ⊙ act'(Z_{l−1})`.

use super::forward::{MAX_BATCH, weights_and_bias};
use super::{CACHE_HEADER, LayerShape, Mlp, check_len, check_scratch, max, round_up};
use crate::engine::chunks::Exec;
use crate::engine::gemm::{
    BLOCK, MR, NR, TILE, kernel_for_columns, load, pack_columns, pack_tiled, panels, store,
    store_feature_major, weight_gradient,
};
use crate::engine::simd::F32s;
use crate::error::Error;

/// Where the input gradient of a layer goes.
enum Below<'a> {
    /// A hidden layer: `dZ = (Wᵀ·dZ_above) ⊙ act'` into the tiled `dz`.
    Hidden {
        derivative: &'a [[f32; TILE]],
        dz: &'a mut [[f32; TILE]],
    },
    /// The network's input: `Wᵀ·dZ` into the feature-major `grad_input` (`I` rows of `batch`).
    Input {
        grad_input: &'a mut [f32],
        batch: usize,
    },
    /// Not wanted.
    Nothing,
}

/// Scratch regions of one backward pass.
struct Scratch<'a> {
    dz: [&'a mut [[f32; TILE]]; 2],
    pack: &'a mut [[f32; MR]],
    dz_panels: &'a mut [[f32; MR]],
    xt: &'a mut [[f32; TILE]],
}

impl<const I: usize, const H: usize, const O: usize> Mlp<I, H, O> {
    fn scratch_regions(scratch: &mut [f32], batch: usize) -> Option<Scratch<'_>> {
        let columns = Self::padded(batch);
        let rows = max(H, O);
        let (dz0, rest) = scratch.split_at_mut_checked(columns * rows)?;
        let (dz1, rest) = rest.split_at_mut_checked(columns * rows)?;
        let (pack, rest) = rest.split_at_mut_checked(Self::PACK)?;
        let (dz_panels, rest) = rest.split_at_mut_checked(round_up(rows, MR) * BLOCK)?;
        let (xt, _) = rest.split_at_mut_checked(BLOCK * TILE)?;
        Some(Scratch {
            dz: [dz0.as_chunks_mut::<TILE>().0, dz1.as_chunks_mut::<TILE>().0],
            pack: pack.as_chunks_mut::<MR>().0,
            dz_panels: dz_panels.as_chunks_mut::<MR>().0,
            xt: xt.as_chunks_mut::<TILE>().0,
        })
    }

    /// The backward pass: given `grad_output = ∂L/∂x` for the batch of the last
    /// [`Mlp::forward`] (whose `cache` is passed back unchanged), writes `∂L/∂θ` into `grads`
    /// and, if asked, `∂L/∂z` into `grad_input`.
    ///
    /// `grad_output`: `O` rows of `batch` values (`∂L/∂x_o` of sample `b` at `o·batch + b`; the
    /// stop-gradient loss's `−2V/(N·D)` as written by
    /// [`stop_gradient_loss`](crate::stop_gradient_loss)); `grads`: [`Mlp::PARAMETERS`] values
    /// in the parameters' layout, **overwritten** (not accumulated); `grad_input`: `I` rows of
    /// `batch` values, overwritten; `scratch`: at least [`Mlp::backward_scratch_len`]`(batch)`
    /// values.
    ///
    /// Per layer, from the last: `db = Σ_b dZ`, `dW = dZ·Xᵀ` (PyTorch's `Linear` backward),
    /// then `dZ_below = (Wᵀ·dZ) ⊙ act'(Z_below)` with `act'` stored by the forward pass.
    ///
    /// Cost: `4·batch·(I·H + 2·H² + H·O)` flops, minus `2·batch·I·H` without `grad_input`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`"batch"`) if `batch` is 0 or above `2^24`, (`"cache"`) if
    /// the cache was not filled by a forward pass of this network, activation and batch;
    /// [`Error::ShapeMismatch`] if `params`, `grad_output`, `grads` or `grad_input` has the
    /// wrong length; [`Error::NonFinite`] if `params` or `grad_output` holds a NaN or an
    /// infinity; [`Error::ScratchTooSmall`] if `cache` or `scratch` is too short;
    /// [`Error::OutOfRange`] (`"grad_output"`) if a gradient overflows `f32` (`grads` and
    /// `grad_input` then hold partial values).
    ///
    /// # Example
    /// ```
    /// use drifting::{Activation, Mlp};
    /// use rand_core::SeedableRng;
    /// use rand_xoshiro::Xoshiro256PlusPlus;
    /// type Generator = Mlp<2, 8, 2>;
    /// const BATCH: usize = 4;
    /// let generator = Generator::new(Activation::Tanh);
    /// let mut params = [0.0_f32; Generator::PARAMETERS];
    /// Generator::init_pytorch(&mut params, &mut Xoshiro256PlusPlus::seed_from_u64(0))?;
    /// let noise = [0.1_f32, -0.3, 0.5, 0.0, 1.0, 0.2, -0.7, 0.4];
    /// let mut cache = [0.0_f32; Generator::cache_len(BATCH)];
    /// let mut samples = [0.0_f32; 2 * BATCH];
    /// generator.forward(&params, &noise, BATCH, &mut cache, &mut samples)?;
    ///
    /// // ∂L/∂x for L = Σ u·x, O rows of BATCH values (in training: the loss gradient −2V/(N·D)).
    /// let grad_output = [1.0_f32, 1.0, 1.0, 1.0, /* ∂L/∂x₂: */ 0.5, 0.0, 0.0, -0.5];
    /// let mut grads = [0.0_f32; Generator::PARAMETERS];
    /// let mut grad_noise = [0.0_f32; 2 * BATCH];
    /// let mut scratch = [0.0_f32; Generator::backward_scratch_len(BATCH)];
    /// let grad_input = Some(&mut grad_noise[..]); // ∂L/∂z, if the noise comes from an encoder
    /// generator.backward(&params, &cache, &grad_output, BATCH, &mut grads, grad_input, &mut scratch)?;
    /// // The last layer's bias gradient is ∂L/∂x summed over the batch.
    /// let last = Generator::LAYERS[3];
    /// assert_eq!(grads[last.bias..last.end()], [4.0, 0.0]);
    /// assert!(grad_noise.iter().all(|g| g.is_finite()));
    /// # Ok::<(), drifting::Error>(())
    /// ```
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        params: &[f32],
        cache: &[f32],
        grad_output: &[f32],
        batch: usize,
        grads: &mut [f32],
        grad_input: Option<&mut [f32]>,
        scratch: &mut [f32],
    ) -> Result<(), Error> {
        let exec = Exec::current();
        if batch == 0 || batch > MAX_BATCH {
            return Err(Error::InvalidParameter { input: "batch" });
        }
        Self::check_parameters(params, "params")?;
        check_scratch(cache, Self::cache_len(batch), "cache")?;
        let expected_header = Self::cache_header(batch, self.activation);
        if cache.get(..expected_header.len()) != Some(&expected_header[..]) {
            return Err(Error::InvalidParameter { input: "cache" });
        }
        check_len(grad_output, O, batch, "grad_output")?;
        if !grad_output.iter().all(|v| v.is_finite()) {
            return Err(Error::NonFinite {
                input: "grad_output",
            });
        }
        if grads.len() != Self::PARAMETERS {
            return Err(Error::ShapeMismatch {
                input: "grads",
                expected: Self::PARAMETERS,
                found: grads.len(),
            });
        }
        if let Some(g) = grad_input.as_deref() {
            check_len(g, I, batch, "grad_input")?;
        }
        let required = Self::backward_scratch_len(batch);
        check_scratch(scratch, required, "scratch")?;
        let too_small = Error::ScratchTooSmall {
            input: "scratch",
            required,
            provided: scratch.len(),
        };
        let Some(Scratch {
            dz: [dz0, dz1],
            pack,
            dz_panels,
            xt,
        }) = Self::scratch_regions(scratch, batch)
        else {
            return Err(too_small);
        };
        let Some(Cached {
            input: x0,
            activations: [a0, a1, a2],
            derivatives: [d0, d1, d2],
        }) = cached(cache, Self::padded(batch), I, H)
        else {
            return Err(too_small);
        };

        grads.fill(0.0);
        let columns = Self::padded(batch);
        let [l0, l1, l2, l3] = Self::LAYERS;
        let (dz_last, _) = dz0.split_at_mut((columns / TILE * O).min(dz0.len()));
        pack_tiled(grad_output, O, batch, dz_last);
        let mut work = Work {
            exec,
            batch,
            params,
            grads,
            pack,
            dz_panels,
            xt,
        };
        work.layer(
            l3,
            dz_last,
            a2,
            Below::Hidden {
                derivative: d2,
                dz: dz1,
            },
        );
        work.layer(
            l2,
            dz1,
            a1,
            Below::Hidden {
                derivative: d1,
                dz: dz0,
            },
        );
        work.layer(
            l1,
            dz0,
            a0,
            Below::Hidden {
                derivative: d0,
                dz: dz1,
            },
        );
        let mut grad_input = grad_input;
        let below = match grad_input.as_deref_mut() {
            Some(grad_input) => Below::Input { grad_input, batch },
            None => Below::Nothing,
        };
        work.layer(l0, dz1, x0, below);
        // Gradients that overflow f32 (huge activations or output gradients): refuse rather than
        // hand non-finite values to the optimiser.
        let finite = grads.iter().all(|g| g.is_finite())
            && grad_input
                .as_deref()
                .is_none_or(|g| g.iter().all(|v| v.is_finite()));
        if !finite {
            return Err(Error::OutOfRange {
                input: "grad_output",
            });
        }
        Ok(())
    }
}

/// The read-only cache regions written by the forward pass (same split as
/// `Mlp::cache_regions`), each in the tiled layout.
struct Cached<'a> {
    input: &'a [[f32; TILE]],
    activations: [&'a [[f32; TILE]]; 3],
    derivatives: [&'a [[f32; TILE]]; 3],
}

fn cached(cache: &[f32], columns: usize, inputs: usize, hidden: usize) -> Option<Cached<'_>> {
    let (_, rest) = cache.split_at_checked(CACHE_HEADER)?;
    let (input, rest) = rest.split_at_checked(columns * inputs)?;
    let mut regions = [&[][..]; 6];
    let mut rest = rest;
    for region in &mut regions {
        let (r, tail) = rest.split_at_checked(columns * hidden)?;
        *region = r.as_chunks::<TILE>().0;
        rest = tail;
    }
    let [a0, a1, a2, d0, d1, d2] = regions;
    Some(Cached {
        input: input.as_chunks::<TILE>().0,
        activations: [a0, a1, a2],
        derivatives: [d0, d1, d2],
    })
}

/// The buffers every layer's backward step uses.
struct Work<'a> {
    exec: Exec,
    batch: usize,
    params: &'a [f32],
    grads: &'a mut [f32],
    pack: &'a mut [[f32; MR]],
    dz_panels: &'a mut [[f32; MR]],
    xt: &'a mut [[f32; TILE]],
}

impl Work<'_> {
    /// One layer: bias and weight gradients from `dz` (tiles of `outputs` rows) and the layer
    /// input `x` (tiles of `inputs` rows), then the gradient below.
    fn layer(
        &mut self,
        layer: LayerShape,
        dz: &[[f32; TILE]],
        x: &[[f32; TILE]],
        below: Below<'_>,
    ) {
        let outputs = layer.outputs.max(1);
        let inputs = layer.inputs.max(1);
        let tiles = x.len() / inputs.max(1);
        let dz = dz.get(..tiles * outputs).unwrap_or(&[]);
        let layer_grads = self
            .grads
            .get_mut(layer.weights..layer.end())
            .unwrap_or_default();
        let weights = (layer.bias - layer.weights).min(layer_grads.len());
        let (grad_w, grad_b) = layer_grads.split_at_mut(weights);
        // db[o] = Σ_b dZ[o][b]: lane sums per row, one horizontal sum per row.
        for (o, g) in grad_b.iter_mut().enumerate() {
            let mut acc = [F32s::splat(0.0); NR];
            for row in dz.iter().skip(o).step_by(outputs.max(1)) {
                for (a, v) in acc.iter_mut().zip(load(row)) {
                    *a += v;
                }
            }
            *g = acc.iter().map(|v| v.reduce_add()).sum();
        }
        weight_gradient(
            self.exec,
            dz,
            x,
            outputs,
            inputs,
            grad_w,
            self.dz_panels,
            self.xt,
        );

        if matches!(below, Below::Nothing) {
            return;
        }
        let (w, _) = weights_and_bias(self.params, layer);
        let packed = self
            .pack
            .get_mut(..panels(inputs) * outputs)
            .unwrap_or_default();
        pack_columns(w, outputs, inputs, packed);
        match below {
            Below::Hidden {
                derivative,
                dz: out,
            } => {
                // Batch tiles are independent: any number of threads, the same values.
                let batch = self.batch;
                let packed = &*packed;
                let tile = |t: usize,
                            dz_tile: &[[f32; TILE]],
                            d_tile: &[[f32; TILE]],
                            out_tile: &mut [[f32; TILE]]| {
                    let valid = batch.saturating_sub(t * TILE);
                    for (p, panel) in packed.chunks_exact(outputs).enumerate() {
                        let acc = kernel_for_columns(valid, panel, dz_tile);
                        let first = p * MR;
                        let d_rows = d_tile.get(first..).unwrap_or(&[]);
                        let out_rows = out_tile.get_mut(first..).unwrap_or_default();
                        for ((values, d_row), out_row) in acc.iter().zip(d_rows).zip(out_rows) {
                            let mut g = load(d_row);
                            for (g, v) in g.iter_mut().zip(values) {
                                *g *= *v;
                            }
                            store(out_row, &g);
                        }
                    }
                };
                match self.exec {
                    Exec::Serial => {
                        let tiles = dz
                            .chunks_exact(outputs)
                            .zip(derivative.chunks_exact(inputs))
                            .zip(out.chunks_exact_mut(inputs));
                        for (t, ((dz_tile, d_tile), out_tile)) in tiles.enumerate() {
                            tile(t, dz_tile, d_tile, out_tile);
                        }
                    }
                    #[cfg(feature = "std")]
                    Exec::Rayon => {
                        use rayon::prelude::*;
                        dz.par_chunks_exact(outputs)
                            .zip(derivative.par_chunks_exact(inputs))
                            .zip(out.par_chunks_exact_mut(inputs))
                            .enumerate()
                            .for_each(|(t, ((dz_tile, d_tile), out_tile))| {
                                tile(t, dz_tile, d_tile, out_tile);
                            });
                    }
                }
            }
            Below::Input { grad_input, batch } => {
                for (t, dz_tile) in dz.chunks_exact(outputs).enumerate() {
                    let valid = batch.saturating_sub(t * TILE);
                    for (p, panel) in packed.chunks_exact(outputs).enumerate() {
                        let acc = kernel_for_columns(valid, panel, dz_tile);
                        for (values, row) in acc.iter().zip(p * MR..inputs) {
                            store_feature_major(grad_input, row, batch, t, values);
                        }
                    }
                }
            }
            Below::Nothing => {}
        }
    }
}
