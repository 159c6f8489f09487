//! The generator: a fixed-depth multilayer perceptron with a hand-written SIMD forward and
//! backward pass (docs/mathematics.md §10).
//!
//! The papers' 2D generators are four linear layers with an activation between them:
//!
//! ```text
//! z ∈ R^I ─ Linear(I,H) ─ act ─ Linear(H,H) ─ act ─ Linear(H,H) ─ act ─ Linear(H,O) ─ x ∈ R^O
//! ```
//!
//! (official demo: `I = 32`, `H = 256`, `O = 2`, SiLU). [`Mlp<I, H, O>`] is that network's
//! *layout*; the numbers live in caller-owned flat slices, so a `[f32; N]` in a `static` on a
//! microcontroller and a `Vec<f32>` on a workstation feed the same code.
//!
//! # Parameter layout
//! Layer by layer (`l = 0..4`), the weight matrix then the bias, each layer's weight row-major
//! as PyTorch stores it, `W[o][i]` at `o·inputs + i` — so the flat vector is exactly
//! `torch.cat([p.flatten() for p in model.parameters()])` of the equivalent `nn.Sequential`, and
//! a PyTorch state dict converts without any transposition. Gradients use the same layout (Adam
//! works on flat slices). Offsets: [`Mlp::LAYERS`].
//!
//! # Batch layout
//! Batches are *feature-major* (lanes over the batch): the input is `I` rows of `batch` values
//! (`input[i·batch + b]`) and the output `O` rows (`out[o·batch + b]`) — the coordinate-major
//! layout that [`CloudView::from_coordinate_major`](crate::CloudView::from_coordinate_major)
//! borrows and that the drift operators write, so generated samples go to the drift and the
//! loss gradient `−2V/(N·D)` comes back into [`Mlp::backward`] with no copy.
//!
//! # Speed
//! All three products of a layer — `Z = W·X` (forward), `dX = Wᵀ·dZ` and `dW = dZ·Xᵀ`
//! (backward) — run on one register-blocked micro-kernel (`gemm.rs`: `MR` rows × `NR` vectors of
//! 8 batch columns, `MR·NR` `f32x8` accumulators, packed operands, no horizontal reduction). The
//! bias, activation and activation derivative are fused into the kernel's epilogues. Hidden
//! activations are kept in the cache in a tiled layout (`TILE` batch columns per tile, each tile
//! `rows × TILE` contiguous) so every kernel streams contiguous memory.
//!
//! # Accuracy
//! `f32` with fused multiply-adds where the target has them; forward and backward agree with a
//! scalar `f64` reference of the same network to about `1e-5` relative (tests/mlp_gradients.rs).
//! Activations: see [`Activation`].

mod activation;
mod backward;
mod bytes;
mod forward;
mod init;

pub use activation::Activation;
pub use bytes::{BLOB_MAGIC, BLOB_VERSION};
pub(crate) use forward::MAX_BATCH;

use crate::engine::gemm::{self, MR, TILE};
use crate::error::Error;

/// The shape and place of one linear layer inside the flat parameter vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerShape {
    /// Input features (`fan_in`).
    pub inputs: usize,
    /// Output features (`fan_out`).
    pub outputs: usize,
    /// Offset of `W[0][0]`; `W[o][i]` is at `weights + o·inputs + i`.
    pub weights: usize,
    /// Offset of `b[0]`; `b[o]` is at `bias + o`.
    pub bias: usize,
}

impl LayerShape {
    const fn new(inputs: usize, outputs: usize, weights: usize) -> Self {
        Self {
            inputs,
            outputs,
            weights,
            bias: weights + inputs * outputs,
        }
    }

    /// One past the layer's last parameter (the next layer's `weights`).
    #[must_use]
    pub const fn end(&self) -> usize {
        self.bias + self.outputs
    }
}

/// The generator `Linear(I,H)–act–Linear(H,H)–act–Linear(H,H)–act–Linear(H,O)` of the drifting
/// papers' 2D experiments (official demo: `Mlp::<32, 256, 2>::new(Activation::Silu)`).
///
/// The value holds only the [`Activation`]; parameters, gradients, the forward cache and the
/// backward scratch are caller-owned `f32` slices whose lengths are the associated constants and
/// `const fn`s below (stable Rust cannot use `I·H + …` as an array length in a generic context,
/// hence flat slices: `[f32; Mlp::<2, 32, 2>::PARAMETERS]` works for concrete sizes).
///
/// * [`Mlp::init_pytorch`]: PyTorch's `nn.Linear` default initialisation.
/// * [`Mlp::forward`] / [`Mlp::backward`]: training passes through a cache.
/// * [`Mlp::save`] / [`Mlp::load`]: a little-endian byte blob.
///
/// ```
/// use drifting::{Activation, Mlp};
/// type Generator = Mlp<32, 256, 2>; // the official demo's generator
/// let generator = Generator::new(Activation::Silu);
/// // Sizes are associated constants and `const fn`s: buffers can be arrays or `static`s.
/// assert_eq!(Generator::PARAMETERS, 33 * 256 + 2 * 257 * 256 + 257 * 2); // 140 034
/// let [first, .., last] = Generator::LAYERS;
/// assert_eq!((first.weights, first.bias, last.end()), (0, 32 * 256, Generator::PARAMETERS));
/// assert_eq!(Generator::blob_len(), 36 + 4 * Generator::PARAMETERS);
/// assert_eq!(generator.activation, Activation::Silu);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mlp<const I: usize, const H: usize, const O: usize> {
    /// The activation between the linear layers.
    pub activation: Activation,
}

/// Floats at the start of the cache that record which forward pass filled it.
const CACHE_HEADER: usize = 8;
/// `f32` tag in the cache header (`cache[0]`); an arbitrary exactly representable value.
const CACHE_TAG: f32 = 20_260_417.0;

const fn max(a: usize, b: usize) -> usize {
    if a > b { a } else { b }
}

const fn round_up(n: usize, to: usize) -> usize {
    n.div_ceil(to).saturating_mul(to)
}

impl<const I: usize, const H: usize, const O: usize> Mlp<I, H, O> {
    /// Number of linear layers (the depth of the papers' generators).
    pub const DEPTH: usize = 4;

    /// The four linear layers: shapes and offsets into the flat parameter vector.
    pub const LAYERS: [LayerShape; 4] = {
        let first = LayerShape::new(I, H, 0);
        let second = LayerShape::new(H, H, first.end());
        let third = LayerShape::new(H, H, second.end());
        let last = LayerShape::new(H, O, third.end());
        [first, second, third, last]
    };

    /// Total number of parameters: `(I+1)·H + 2·(H+1)·H + (H+1)·O` (weights and biases).
    pub const PARAMETERS: usize = Self::LAYERS[3].end();

    /// Floats of the weight-panel area (the largest packed weight matrix of any layer, in
    /// either orientation).
    const PACK: usize = max(
        max(round_up(H, MR) * max(I, H), round_up(O, MR) * H),
        max(round_up(I, MR) * H, round_up(H, MR) * max(H, O)),
    );

    /// A generator with this activation.
    #[must_use]
    pub const fn new(activation: Activation) -> Self {
        Self { activation }
    }

    /// The batch rounded up to whole tiles (the cache's column count).
    #[must_use]
    const fn padded(batch: usize) -> usize {
        round_up(batch, TILE)
    }

    /// Length of the cache [`Mlp::forward`] fills and [`Mlp::backward`] reads, for `batch`
    /// samples: about `(I + 6·H)·batch` floats (the input and, per hidden layer, the activation
    /// and its derivative) plus one packed weight matrix.
    #[must_use]
    pub const fn cache_len(batch: usize) -> usize {
        let columns = Self::padded(batch);
        CACHE_HEADER
            .saturating_add(columns.saturating_mul(I + 6 * H))
            .saturating_add(Self::PACK)
    }

    /// Length of the scratch buffer [`Mlp::backward`] needs for `batch` samples: about
    /// `2·max(H, O)·batch` floats (two layers of output gradients) plus one packed weight matrix
    /// and two small blocks.
    #[must_use]
    pub const fn backward_scratch_len(batch: usize) -> usize {
        let columns = Self::padded(batch);
        columns
            .saturating_mul(2 * max(H, O))
            .saturating_add(Self::PACK)
            .saturating_add(round_up(max(H, O), MR) * gemm::BLOCK)
            .saturating_add(gemm::BLOCK * TILE)
    }

    /// Forward multiply-adds per sample: `I·H + 2·H² + H·O` (twice that in flops).
    pub const MULTIPLY_ADDS: usize = I * H + 2 * H * H + H * O;

    /// Checks the sizes and the parameters; shared by the passes.
    fn check_parameters(params: &[f32], input: &'static str) -> Result<(), Error> {
        if I == 0 || H == 0 || O == 0 {
            return Err(Error::InvalidParameter {
                input: "layer width",
            });
        }
        if params.len() != Self::PARAMETERS {
            return Err(Error::ShapeMismatch {
                input,
                expected: Self::PARAMETERS,
                found: params.len(),
            });
        }
        if !params.iter().all(|p| p.is_finite()) {
            return Err(Error::NonFinite { input });
        }
        Ok(())
    }
}

/// `Err(ShapeMismatch)` unless `slice` holds exactly `rows·batch` values.
fn check_len(slice: &[f32], rows: usize, batch: usize, input: &'static str) -> Result<(), Error> {
    let expected = rows.saturating_mul(batch);
    if slice.len() == expected {
        Ok(())
    } else {
        Err(Error::ShapeMismatch {
            input,
            expected,
            found: slice.len(),
        })
    }
}

/// `Err(ScratchTooSmall)` naming `input` unless `slice` holds at least `required` values.
fn check_scratch(slice: &[f32], required: usize, input: &'static str) -> Result<(), Error> {
    if slice.len() >= required {
        Ok(())
    } else {
        Err(Error::ScratchTooSmall {
            input,
            required,
            provided: slice.len(),
        })
    }
}
