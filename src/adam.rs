//! Adam and AdamW on flat parameter slices, with optional global gradient-norm clipping.
//!
//! The update is PyTorch's `torch.optim.Adam` / `torch.optim.AdamW` (default settings: no
//! `amsgrad`, no `maximize`, the single-tensor loop `foreach=False`), operation by operation in
//! `f32`, so that a run of this crate and a run of PyTorch on the same `f32` inputs agree to about
//! one ulp (tested against PyTorch values in `tests/adam_reference.rs`). Clipping is
//! `torch.nn.utils.clip_grad_norm_` applied to the whole gradient before the step.
//!
//! Parameters, gradients and both moment estimates are caller-owned flat slices of one length
//! (an MLP hands its whole parameter vector at once); nothing is allocated. The hot loop runs over
//! `wide::f32x8` lanes with a scalar tail; both use the same `f32` operations in the same order
//! (plain multiplications and additions, no fused multiply-add, true division and correctly
//! rounded square roots), so the SIMD and scalar paths are bit-identical on every target.

use crate::engine::simd::{F32s, LANES, sqrt};
use crate::error::Error;

/// Adam / AdamW hyper-parameters. [`Adam::default`] is PyTorch's `torch.optim.Adam` default
/// (`lr = 1e-3`, `betas = (0.9, 0.999)`, `eps = 1e-8`, no weight decay, no clipping), which is
/// also the official drifting 2D demo's optimiser.
///
/// One step (`t` counts steps from 1; `g` the gradient, `p` the parameters, `m`, `v` the
/// moments, all element-wise):
///
/// ```text
/// if max_grad_norm = Some(c):  g ← g · min(1, c/(‖g‖₂ + 1e-6))          (clip_grad_norm_)
/// p ← p · (1 − lr·wd)                                                  (AdamW, if wd > 0)
/// m ← m + (1 − β₁)(g − m)            (= β₁m + (1 − β₁)g; PyTorch's fused lerp)
/// v ← β₂v + (1 − β₂)g²
/// p ← p − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)
/// ```
///
/// The weight decay is *decoupled* (AdamW, Loshchilov & Hutter 2019): it shrinks the parameters
/// directly and never enters the moments. With `weight_decay = 0` the step is plain Adam.
/// (`torch.optim.Adam`'s own `weight_decay` argument is the *coupled* L2 form `g ← g + wd·p`,
/// which this type does not implement.)
///
/// See [`Adam::step`] for the exact `f32` operation order and [`AdamState`] for the step count.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adam {
    /// Step size `lr > 0` (default `1e-3`).
    pub learning_rate: f32,
    /// Decay of the first moment, `0 ≤ β₁ < 1` (default `0.9`).
    pub beta1: f32,
    /// Decay of the second moment, `0 ≤ β₂ < 1` (default `0.999`).
    pub beta2: f32,
    /// Added to the denominator, `ε > 0` (default `1e-8`).
    pub epsilon: f32,
    /// Decoupled weight decay `wd ≥ 0` (default `0`: Adam; PyTorch's AdamW default is `1e-2`).
    pub weight_decay: f32,
    /// Global L2 gradient-norm clipping threshold `c > 0`, or `None` (default) for no clipping.
    pub max_grad_norm: Option<f32>,
}

impl Default for Adam {
    fn default() -> Self {
        Self::new()
    }
}

/// What one [`Adam::step`] did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamStepReport {
    /// The step number `t` just taken (1 for the first step).
    pub step: u64,
    /// Global L2 norm of the gradient *before* clipping (`f64` accumulation of `f32` block sums),
    /// saturated at `f32::MAX` when it exceeds `f32` (finite `f32` gradients near `f32::MAX`).
    pub gradient_norm: f32,
    /// The factor the gradient was multiplied by: `min(1, c/(‖g‖ + 1e-6))` with clipping,
    /// exactly 1 without. For a gradient whose norm exceeds `f32::MAX` the factor is computed
    /// from the exact `f64` norm and applied as two `f32` factors (so the clipped gradient has
    /// norm `c`, not 0); its `f32` value reported here may then be subnormal.
    pub clip_scale: f32,
}

/// The optimiser's own state besides the moment slices: the step count `t` and the running
/// products `β₁ᵗ`, `β₂ᵗ` of the bias corrections.
///
/// The products are updated by one multiplication per step (no `powf`) and kept in `f64`:
/// PyTorch computes `1 − βᵗ` in double precision, and the subtraction amplifies the relative
/// error of `βᵗ` by `βᵗ/(1 − βᵗ)` (about 1000 for `β₂ = 0.999` early on), so an `f32` product
/// would shift the update by hundreds of ulp. Two `f64` multiplications per step cost nothing,
/// even in software on a Cortex-M.
///
/// The moment slices `m`, `v` must be zero when `t = 0` ([`AdamState::new`]); use
/// [`AdamState::reset`] together with zeroing them to restart.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamState {
    step: u64,
    beta1_power: f64,
    beta2_power: f64,
}

impl Default for AdamState {
    fn default() -> Self {
        Self::new()
    }
}

impl AdamState {
    /// The state before the first step: `t = 0`, `β₁⁰ = β₂⁰ = 1`. `const`, so it can live in a
    /// `static`.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            step: 0,
            beta1_power: 1.0,
            beta2_power: 1.0,
        }
    }

    /// Back to [`AdamState::new`] (the caller zeroes `m` and `v`).
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// Number of steps taken.
    #[must_use]
    pub const fn step_count(&self) -> u64 {
        self.step
    }

    /// `β₁ᵗ` after `t` steps.
    #[must_use]
    pub const fn beta1_power(&self) -> f64 {
        self.beta1_power
    }

    /// `β₂ᵗ` after `t` steps.
    #[must_use]
    pub const fn beta2_power(&self) -> f64 {
        self.beta2_power
    }

    /// The state after `step` steps with the bias powers `β₁ᵗ`, `β₂ᵗ` as [`AdamState::beta1_power`]
    /// and [`AdamState::beta2_power`] returned them: restores a checkpoint bit for bit (the
    /// powers are running products, so recomputing them as `β^t` could differ in the last bit).
    ///
    /// ```
    /// use drifting::AdamState;
    /// let saved = AdamState::new();
    /// let restored = AdamState::from_parts(saved.step_count(), saved.beta1_power(), saved.beta2_power())?;
    /// assert_eq!(restored, saved);
    /// assert!(AdamState::from_parts(3, 1.5, 0.9).is_err());
    /// # Ok::<(), drifting::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`"beta1_power"`, `"beta2_power"`) for a power outside
    /// `(0, 1]` or one that is not exactly 1 at step 0.
    pub fn from_parts(step: u64, beta1_power: f64, beta2_power: f64) -> Result<Self, Error> {
        for (power, input) in [(beta1_power, "beta1_power"), (beta2_power, "beta2_power")] {
            let valid = power > 0.0 && power <= 1.0 && (step > 0 || power == 1.0);
            if !valid {
                return Err(Error::InvalidParameter { input });
            }
        }
        Ok(Self {
            step,
            beta1_power,
            beta2_power,
        })
    }
}

/// The per-step `f32` constants of the update, derived as PyTorch derives them (in `f64`, from
/// the `f32` hyper-parameters, then rounded once to `f32`).
#[derive(Clone, Copy, Debug)]
struct StepConstants {
    /// Gradient factor (exactly 1 when not clipping).
    clip: f32,
    /// Second gradient factor: exactly 1, except when the gradient's norm overflows `f32` and
    /// the clip factor is split into a power of two (`clip`) and this.
    clip_rest: f32,
    /// `1 − lr·wd`, or exactly 1 without weight decay.
    decay: f32,
    /// `1 − β₁` (the lerp weight).
    lerp_weight: f32,
    /// Whether PyTorch's lerp takes its small-weight branch (`w < 0.5`).
    lerp_small: bool,
    /// `w − 1` in `f32` (the large-weight branch's factor).
    lerp_weight_minus_one: f32,
    /// `β₂`.
    beta2: f32,
    /// `1 − β₂`.
    one_minus_beta2: f32,
    /// `√(1 − β₂ᵗ)`.
    bias2_sqrt: f32,
    /// `ε`.
    epsilon: f32,
    /// `−lr/(1 − β₁ᵗ)`.
    neg_step_size: f32,
}

/// Gradient elements summed in `f32` lanes before one `f64` accumulation.
const NORM_BLOCK: usize = 64 * LANES;

impl Adam {
    /// PyTorch's defaults (see the type's docs); `const`, so it can live in a `static`.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            learning_rate: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            weight_decay: 0.0,
            max_grad_norm: None,
        }
    }

    /// AdamW with PyTorch's `torch.optim.AdamW` defaults (`lr = 1e-3`, `betas = (0.9, 0.999)`,
    /// `eps = 1e-8`, `weight_decay = 1e-2`).
    #[must_use]
    pub const fn adamw() -> Self {
        Self {
            weight_decay: 1e-2,
            ..Self::new()
        }
    }

    /// Checks every hyper-parameter is finite and in range: `lr > 0`, `0 ≤ β₁, β₂ < 1`, `ε > 0`,
    /// `wd ≥ 0`, `max_grad_norm > 0` if set.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first offending field.
    pub fn validate(&self) -> Result<(), Error> {
        let positive = |x: f32| x.is_finite() && x > 0.0;
        let beta = |x: f32| x.is_finite() && (0.0..1.0).contains(&x);
        let checks = [
            (positive(self.learning_rate), "learning_rate"),
            (beta(self.beta1), "beta1"),
            (beta(self.beta2), "beta2"),
            (positive(self.epsilon), "epsilon"),
            (
                self.weight_decay.is_finite() && self.weight_decay >= 0.0,
                "weight_decay",
            ),
            (self.max_grad_norm.is_none_or(positive), "max_grad_norm"),
        ];
        match checks.iter().find(|(ok, _)| !ok) {
            Some(&(_, name)) => Err(Error::InvalidParameter { input: name }),
            None => Ok(()),
        }
    }

    /// One Adam(W) step on flat slices: updates `params`, `m`, `v` in place and advances `state`.
    ///
    /// Element-wise, in this exact `f32` order (every operation rounded once; `∘` is an `f32`
    /// multiplication, `fma(a, b, c)` is `a·b + c` rounded once), with the constants computed in
    /// `f64` from the `f32` hyper-parameters and rounded once to `f32`, as PyTorch does with its
    /// Python-float scalars (`w = f32(1 − β₁)`):
    ///
    /// ```text
    /// g  = grad ∘ clip                       (only if clip < 1; clip = min(1, c / (‖g‖ + 1e-6)) in f32;
    ///                                         if ‖g‖ > f32::MAX, the f64 factor as two f32 factors)
    /// p  = p ∘ f32(1 − lr·wd)                (only when wd > 0)
    /// m  = fma(w, g − m, m)                  (if w < 0.5, else  m = fma(w − 1, g − m, g))
    /// v  = fma(f32(1 − β₂) ∘ g, g, v ∘ β₂)
    /// d  = √v / f32(√(1 − β₂ᵗ)) + ε
    /// p  = p + (f32(−lr/(1 − β₁ᵗ)) ∘ m) / d
    /// ```
    ///
    /// The two `fma`s are evaluated in `f64` (exact product, one rounding of the sum, then one to
    /// `f32`), which gives the fused result on every target, with or without an FMA unit, except
    /// for `f32` rounding ties of the `f64` sum (probability about `2⁻²⁹`).
    ///
    /// That is PyTorch's single-tensor sequence `param.mul_(1 − lr·wd)`, `exp_avg.lerp_(grad,
    /// 1 − β₁)`, `exp_avg_sq.mul_(β₂).addcmul_(grad, grad, value=1 − β₂)`,
    /// `denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)`,
    /// `param.addcdiv_(exp_avg, denom, value=−step_size)`: PyTorch's vectorised CPU `lerp` is an
    /// explicit fused multiply-add, and its `addcmul` (`self + value·t1·t2`) is contracted to
    /// `fma(value·t1, t2, self)` by the compiler (checked on its `float32` values: this form
    /// reproduces all of them, the unfused one 88%). With an unfused lerp, `m` would differ
    /// from PyTorch's by up to 70 ulp where `m` nearly cancels.
    ///
    /// With clipping, the gradient norm is the correctly rounded `f32` of the `f64` norm;
    /// PyTorch's `f32` reduction differs from it by an ulp in about 30% of cases, so its clip
    /// factor, and hence the whole clipped gradient, can differ by one ulp.
    ///
    /// The gradient norm is always computed (it is reported); `f32` lane sums over blocks of 512
    /// elements are accumulated in `f64`.
    ///
    /// Cost: three passes (gradient norm and finiteness, the read-only overflow check, the
    /// update), `O(P)` time, no memory beyond the slices.
    ///
    /// # Errors
    /// Checked in this order, before anything is written (`state` is then unchanged too):
    /// - [`Error::InvalidParameter`] for a hyper-parameter out of range ([`Adam::validate`]);
    /// - [`Error::ShapeMismatch`] if `grads`, `m` or `v` differ in length from `params`;
    /// - [`Error::NonFinite`] (`"grads"`, `"params"`, `"m"`, `"v"`) if an element is NaN or
    ///   infinite;
    /// - [`Error::InvalidParameter`] (`"v"`) if the second moment holds a negative value (it is
    ///   a running mean of squares: a negative value is corrupted state, whose square root would
    ///   be NaN);
    /// - [`Error::OutOfRange`] (`"learning_rate"`) if the update would take a parameter (or a
    ///   moment) out of `f32`: a read-only pass computes the step first (the same arithmetic),
    ///   so this costs one extra pass over the parameters and guarantees that a failed step
    ///   writes nothing.
    ///
    /// # Example
    /// ```
    /// use drifting::{Adam, AdamState};
    /// let adam = Adam::new(); // PyTorch's defaults: lr = 1e-3, betas (0.9, 0.999), eps 1e-8
    /// let mut state = AdamState::new();
    /// let mut params = [1.0_f32, -2.0, 0.5];
    /// let grads = [0.3_f32, -4.0, 1e-3];
    /// let (mut m, mut v) = ([0.0_f32; 3], [0.0_f32; 3]); // the moments, zero at the start
    /// let report = adam.step(&mut state, &mut params, &grads, &mut m, &mut v)?;
    /// // The first bias-corrected step is lr·g/(|g| + ε) ≈ lr·sign(g), whatever the size of g.
    /// for (p, (start, g)) in params.iter().zip([(1.0_f32, 0.3_f32), (-2.0, -4.0), (0.5, 1e-3)]) {
    ///     assert!((p - (start - 1e-3 * g.signum())).abs() < 1e-6);
    /// }
    /// assert_eq!((report.step, state.step_count(), report.clip_scale), (1, 1, 1.0));
    /// # Ok::<(), drifting::Error>(())
    /// ```
    pub fn step(
        &self,
        state: &mut AdamState,
        params: &mut [f32],
        grads: &[f32],
        m: &mut [f32],
        v: &mut [f32],
    ) -> Result<AdamStepReport, Error> {
        self.validate()?;
        let len = params.len();
        for (input, found) in [("grads", grads.len()), ("m", m.len()), ("v", v.len())] {
            if found != len {
                return Err(Error::ShapeMismatch {
                    input,
                    expected: len,
                    found,
                });
            }
        }
        let exact_norm = gradient_norm(grads)?;
        for (values, input) in [(&*params, "params"), (&*m, "m"), (&*v, "v")] {
            if !values.iter().all(|x| x.is_finite()) {
                return Err(Error::NonFinite { input });
            }
        }
        if v.iter().any(|x| *x < 0.0) {
            return Err(Error::InvalidParameter { input: "v" });
        }
        #[allow(clippy::cast_possible_truncation)]
        let norm = exact_norm as f32;
        let gradient_norm = norm.min(f32::MAX);

        let (clip, clip_rest) = match self.max_grad_norm {
            // torch: clip_coef = max_norm / (total_norm + 1e-6), clamped to 1 (f32 tensor ops); a
            // norm within 1e-6 below the threshold is scaled (by a factor just below 1) too.
            Some(c) if norm.is_finite() => ((c / (norm + 1e-6)).min(1.0), 1.0),
            // The norm overflows f32 (torch's f32 factor would be 0 and zero the gradient): the
            // f64 factor as a power of two near it times a factor near 1, both normal f32.
            Some(c) => split_factor(f64::from(c) / (exact_norm + 1e-6)),
            None => (1.0, 1.0),
        };

        let saved = *state;
        state.step += 1;
        state.beta1_power *= f64::from(self.beta1);
        state.beta2_power *= f64::from(self.beta2);

        let lr = f64::from(self.learning_rate);
        let lerp_weight = (1.0 - f64::from(self.beta1)) as f32;
        #[allow(clippy::cast_possible_truncation)]
        let constants = StepConstants {
            clip,
            clip_rest,
            decay: (1.0 - lr * f64::from(self.weight_decay)) as f32,
            lerp_weight,
            lerp_small: lerp_weight < 0.5,
            lerp_weight_minus_one: lerp_weight - 1.0,
            beta2: self.beta2,
            one_minus_beta2: (1.0 - f64::from(self.beta2)) as f32,
            bias2_sqrt: libm::sqrt(1.0 - state.beta2_power) as f32,
            epsilon: self.epsilon,
            neg_step_size: (-lr / (1.0 - state.beta1_power)) as f32,
        };
        let clipping = clip < 1.0 || clip_rest < 1.0;
        let decaying = self.weight_decay > 0.0;
        // Monomorphise the four variants so the inner loop carries no branch; a read-only pass
        // first, so that an update that would overflow writes nothing.
        let finite = match (clipping, decaying) {
            (false, false) => update::<false, false, false>(&constants, params, grads, m, v),
            (false, true) => update::<false, true, false>(&constants, params, grads, m, v),
            (true, false) => update::<true, false, false>(&constants, params, grads, m, v),
            (true, true) => update::<true, true, false>(&constants, params, grads, m, v),
        };
        if !finite {
            *state = saved;
            return Err(Error::OutOfRange {
                input: "learning_rate",
            });
        }
        match (clipping, decaying) {
            (false, false) => update::<false, false, true>(&constants, params, grads, m, v),
            (false, true) => update::<false, true, true>(&constants, params, grads, m, v),
            (true, false) => update::<true, false, true>(&constants, params, grads, m, v),
            (true, true) => update::<true, true, true>(&constants, params, grads, m, v),
        };
        Ok(AdamStepReport {
            step: state.step,
            gradient_norm,
            clip_scale: clip * clip_rest,
        })
    }
}

/// `scale` (positive, below 1) as `(2^−e, scale·2^e)`, `0 ≤ e ≤ 126`: two normal `f32` factors
/// whose product is `scale` to `f32` precision even where `scale` itself is below `f32`'s range.
/// The exponent is read from the `f64` bits (no `log2`/`exp2`: their tables would cost kilobytes
/// of flash on a Cortex-M0); dividing by a power of two is exact.
fn split_factor(scale: f64) -> (f32, f32) {
    #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
    let exponent = ((scale.to_bits() >> 52) & 0x7ff) as i64 - 1023;
    let e = (-exponent).clamp(0, 126);
    #[allow(clippy::cast_sign_loss)]
    let power = f64::from_bits(((1023 - e) as u64) << 52);
    #[allow(clippy::cast_possible_truncation)]
    let factors = (power as f32, (scale / power) as f32);
    factors
}

/// `‖g‖₂` in `f64`, or [`Error::NonFinite`] if an element is NaN or infinite.
fn gradient_norm(grads: &[f32]) -> Result<f64, Error> {
    let mut total = 0.0_f64;
    for block in grads.chunks(NORM_BLOCK) {
        let mut lanes = [F32s::splat(0.0); 2];
        let mut chunks = block.chunks_exact(2 * LANES);
        for pair in &mut chunks {
            let (a, b) = pair.split_at(LANES);
            let a = load(a);
            let b = load(b);
            let [even, odd] = &mut lanes;
            *even += a * a;
            *odd += b * b;
        }
        let [even, odd] = lanes;
        let mut sum: f32 = (even + odd).to_array().iter().sum();
        for g in chunks.remainder() {
            sum += g * g;
        }
        total += f64::from(sum);
    }
    if total.is_finite() {
        return Ok(libm::sqrt(total));
    }
    // A NaN or infinity, or finite values whose squares overflow `f32`: tell them apart.
    if grads.iter().all(|g| g.is_finite()) {
        let total: f64 = grads.iter().map(|&g| f64::from(g) * f64::from(g)).sum();
        Ok(libm::sqrt(total))
    } else {
        Err(Error::NonFinite { input: "grads" })
    }
}

/// Eight `f32` from a slice of length [`LANES`] (zeros for a shorter one, which never occurs).
#[inline(always)]
fn load(values: &[f32]) -> F32s {
    F32s::new(values.try_into().unwrap_or([0.0; LANES]))
}

/// PyTorch's CPU `lerp(m, g, w)` with the difference `d = g − m` already rounded:
/// `fma(w, d, m)` for `w < 0.5`, else `fma(w − 1, d, g)`. The fused multiply-add is computed
/// exactly in `f64` (the product of two `f32` is exact there) and rounded once to `f32`; that
/// equals the hardware FMA except when the `f64` sum lands exactly on an `f32` rounding tie
/// (probability about `2⁻²⁹`), and it is the same on every target.
#[inline(always)]
fn lerp(c: &StepConstants, m: f32, d: f32, g: f32) -> f32 {
    if c.lerp_small {
        fma(c.lerp_weight, d, m)
    } else {
        fma(c.lerp_weight_minus_one, d, g)
    }
}

/// [`lerp`] on the lanes of one vector.
#[inline(always)]
fn fused_lerp(
    c: &StepConstants,
    m: [f32; LANES],
    d: [f32; LANES],
    g: [f32; LANES],
) -> [f32; LANES] {
    let mut out = [0.0_f32; LANES];
    for (((o, m), d), g) in out.iter_mut().zip(m).zip(d).zip(g) {
        *o = lerp(c, m, d, g);
    }
    out
}

/// `a·b + c` rounded once (up to the double-rounding tie noted on [`Adam::step`]): the product
/// of two `f32` is exact in `f64`, the sum is rounded to `f64`, then to `f32`. The same on every
/// target; the compiler never contracts it further (Rust does not fuse `a * b + c`).
#[inline(always)]
fn fma(a: f32, b: f32, c: f32) -> f32 {
    #[allow(clippy::cast_possible_truncation)]
    let r = (f64::from(a) * f64::from(b) + f64::from(c)) as f32;
    r
}

/// [`fma`] lane by lane.
#[inline(always)]
fn fused(a: [f32; LANES], b: [f32; LANES], c: [f32; LANES]) -> [f32; LANES] {
    let mut out = [0.0_f32; LANES];
    for (((o, a), b), c) in out.iter_mut().zip(a).zip(b).zip(c) {
        *o = fma(a, b, c);
    }
    out
}

/// The element-wise update over lanes and the scalar tail. With `WRITE = false` nothing is
/// written: the same arithmetic only reports whether every new parameter, moment and second
/// moment would be finite (the check [`Adam::step`] runs before writing).
fn update<const CLIP: bool, const DECAY: bool, const WRITE: bool>(
    c: &StepConstants,
    params: &mut [f32],
    grads: &[f32],
    m: &mut [f32],
    v: &mut [f32],
) -> bool {
    let mut finite = true;
    let mut p_chunks = params.chunks_exact_mut(LANES);
    let mut g_chunks = grads.chunks_exact(LANES);
    let mut m_chunks = m.chunks_exact_mut(LANES);
    let mut v_chunks = v.chunks_exact_mut(LANES);
    let clip = F32s::splat(c.clip);
    let clip_rest = F32s::splat(c.clip_rest);
    let decay = F32s::splat(c.decay);
    let beta2 = F32s::splat(c.beta2);
    let one_minus_beta2 = F32s::splat(c.one_minus_beta2);
    let bias2_sqrt = F32s::splat(c.bias2_sqrt);
    let epsilon = F32s::splat(c.epsilon);
    let neg_step_size = F32s::splat(c.neg_step_size);
    for (((p, g), m), v) in (&mut p_chunks)
        .zip(&mut g_chunks)
        .zip(&mut m_chunks)
        .zip(&mut v_chunks)
    {
        let mut gs = load(g);
        if CLIP {
            // `clip_rest` is exactly 1 unless the norm overflowed f32: the product is then
            // bit-identical to the single factor.
            gs = gs * clip * clip_rest;
        }
        let mut ps = load(p);
        if DECAY {
            ps *= decay;
        }
        let ms = load(m);
        let ms = F32s::new(fused_lerp(
            c,
            ms.to_array(),
            (gs - ms).to_array(),
            gs.to_array(),
        ));
        let vs = F32s::new(fused(
            (one_minus_beta2 * gs).to_array(),
            gs.to_array(),
            (load(v) * beta2).to_array(),
        ));
        let denom = sqrt(vs) / bias2_sqrt + epsilon;
        let ps = ps + neg_step_size * ms / denom;
        if WRITE {
            p.copy_from_slice(&ps.to_array());
            m.copy_from_slice(&ms.to_array());
            v.copy_from_slice(&vs.to_array());
        } else {
            finite &= ps
                .to_array()
                .iter()
                .chain(&ms.to_array())
                .chain(&vs.to_array())
                .all(|x| x.is_finite());
        }
    }
    let tail = p_chunks
        .into_remainder()
        .iter_mut()
        .zip(g_chunks.remainder())
        .zip(m_chunks.into_remainder().iter_mut())
        .zip(v_chunks.into_remainder().iter_mut());
    for (((p, &g), m), v) in tail {
        let g = if CLIP { g * c.clip * c.clip_rest } else { g };
        let decayed = if DECAY { *p * c.decay } else { *p };
        let new_m = lerp(c, *m, g - *m, g);
        let new_v = fma(c.one_minus_beta2 * g, g, *v * c.beta2);
        let denom = libm::sqrtf(new_v) / c.bias2_sqrt + c.epsilon;
        let new_p = decayed + c.neg_step_size * new_m / denom;
        if WRITE {
            (*p, *m, *v) = (new_p, new_m, new_v);
        } else {
            finite &= new_p.is_finite() && new_m.is_finite() && new_v.is_finite();
        }
    }
    finite
}
