//! The pair engine every operator runs on: validation of ranges, kernel shapes, the streaming
//! tiled sweep with its online log-sum-exp, the register-blocked matrix-multiply micro-kernel,
//! row chunks for threads, caller-owned scratch and whole-buffer reductions.
//!
//! | module | owns |
//! | --- | --- |
//! | `simd` | the vector type, `exp`, `sqrt`, the streaming log-sum-exp |
//! | `range` | the extent of clouds and the scale of kernels: every logit and distance in range |
//! | `shape` | Laplace and Gaussian logits of a squared distance, self-pair masks |
//! | `sweep` | the direct tiled pair loop (`Σ_d (x_d − y_d)²` per pair), row log-sum-exps, softmax-weighted mean displacements |
//! | `gemm` | the one micro-kernel (`MR × NR` vectors of `f32x8` accumulators: products or squared differences), its packing and blocked driver |
//! | `dispatch` | hosted x86-64: the dense products' micro-kernel chosen at run time (AVX-512, AVX2 + FMA), same bits on every CPU with FMA |
//! | `dense` | high-dimensional problems: every distance once (expanded form, cancellation-safe, or difference form), kept in a tile for the row and column log-sum-exps, affinities and every temperature; drift sums as one product |
//! | `gram` | the Gram matrix of a problem's centred targets and the squared norms `c G cᵀ` of drift sums from it, with a certified error bound |
//! | `affinity` | the streaming two-axis pass: row and column log-sum-exps, doubly normalised affinities, the drift sums |
//! | `chunks` | the fixed partition of a lane cloud into chunks, serial or on rayon, bit-identical |
//! | `projection` | random directions on the sphere and the projections `θ·(x − c)` of the sliced distances and flows |
//! | `scratch` | caller-owned buffers |
//! | `reduce` | whole-buffer reductions |
//!
//! Operators depend on the engine, never on each other.

pub(crate) mod affinity;
pub(crate) mod chunks;
#[cfg(feature = "dense")]
pub(crate) mod dense;
#[cfg(all(feature = "dense", target_arch = "x86_64", not(target_os = "none")))]
pub(crate) mod dispatch;
pub(crate) mod gemm;
#[cfg(feature = "dense")]
pub(crate) mod gram;
pub(crate) mod projection;
pub(crate) mod range;
pub(crate) mod reduce;
pub(crate) mod scratch;
pub(crate) mod shape;
pub(crate) mod simd;
pub(crate) mod sweep;

#[cfg(feature = "dense")]
pub(crate) use range::{LOGIT_LIMIT, MAX_SQUARED_DISTANCE};
pub(crate) use range::{check_kernel_range, check_range, squared_diameter};
#[cfg(feature = "dense")]
pub(crate) use reduce::sum_of_squares;
pub(crate) use reduce::{all_finite, mean_square};
pub(crate) use scratch::take_buffer;
pub(crate) use scratch::take_scratch;
pub(crate) use shape::{
    GaussianShape, LaplaceShape, LogitRule, PairMask, Shape, dispatch_shape, is_laplace,
};
pub(crate) use sweep::{
    Block, DisplacementSums, Partners, TILE, log_sum_exp, mean_displacement,
    mean_displacement_and_normaliser, sweep, sweep_blocks,
};
