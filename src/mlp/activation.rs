//! The activations between the linear layers, with their derivatives, lane-wise on `f32x8`.

use crate::engine::simd::{F32s, exp};

/// The activation applied after each hidden linear layer.
///
/// | variant    | `a(z)`                       | `a'(z)`                    |
/// | ---------- | ---------------------------- | -------------------------- |
/// | `Identity` | `z`                          | `1`                        |
/// | `Relu`     | `max(z, 0)`                  | `1` if `z > 0` else `0` (PyTorch's choice at 0) |
/// | `Silu`     | `z·σ(z)`, `σ(z) = 1/(1+e^−z)` | `σ(z)·(1 + z·(1 − σ(z)))`  |
/// | `Tanh`     | `tanh z`                     | `1 − tanh² z`              |
///
/// **Accuracy** (measured against `f64` over `[−30, 30]`, tests in this file): SiLU within 4 ulp,
/// its derivative within 4 ulp where `|SiLU'| > 0.1` and within `4·2^−23` absolutely near its
/// root at `z ≈ −1.28` (the logistic uses the crate's 2-ulp `exp` of `−|z|` and
/// one true division, so it never overflows: `σ → 0` below `z ≈ −88`, `SiLU(z) → −0`); tanh
/// within 3 ulp (Cephes' odd polynomial for `|z| < 0.625`, `(1 − e)/(1 + e)` with
/// `e = exp(−2|z|)` above, which saturates to exactly `±1` for `|z| > 9` without NaN); the tanh
/// derivative `1 − t²` is accurate in absolute terms (`≤ 2^−23`), like PyTorch's.
///
/// The official demo uses SiLU (`nn.SiLU`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Activation {
    /// No activation (a purely linear network; for tests and baselines).
    Identity,
    /// Rectified linear unit.
    Relu,
    /// Sigmoid linear unit (swish), the official demo's choice.
    #[default]
    Silu,
    /// Hyperbolic tangent.
    Tanh,
}

impl Activation {
    /// Every activation, in the order of their byte codes.
    pub const ALL: [Activation; 4] = [Self::Identity, Self::Relu, Self::Silu, Self::Tanh];

    /// The byte stored in a saved generator (`0` identity, `1` ReLU, `2` SiLU, `3` tanh).
    #[must_use]
    pub const fn code(self) -> u8 {
        match self {
            Self::Identity => 0,
            Self::Relu => 1,
            Self::Silu => 2,
            Self::Tanh => 3,
        }
    }

    /// The activation with this [`code`](Self::code), if any.
    #[must_use]
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Self::Identity),
            1 => Some(Self::Relu),
            2 => Some(Self::Silu),
            3 => Some(Self::Tanh),
            _ => None,
        }
    }

    /// `a(z)` for one value (the same SIMD code as the network, on one lane).
    #[must_use]
    pub fn apply(self, z: f32) -> f32 {
        let (a, _) = self.value_and_derivative(F32s::splat(z));
        a.to_array()[0]
    }

    /// `a'(z)` for one value (the same SIMD code as the network, on one lane).
    #[must_use]
    pub fn derivative(self, z: f32) -> f32 {
        let (_, d) = self.value_and_derivative(F32s::splat(z));
        d.to_array()[0]
    }

    /// `(a(z), a'(z))` lane-wise: the forward epilogue stores both, so the backward pass is one
    /// multiplication per value whatever the activation.
    #[inline(always)]
    pub(crate) fn value_and_derivative(self, z: F32s) -> (F32s, F32s) {
        let one = F32s::splat(1.0);
        match self {
            Self::Identity => (z, one),
            Self::Relu => {
                let positive = z.simd_gt(F32s::splat(0.0));
                (z.fast_max(F32s::splat(0.0)), positive & one)
            }
            Self::Silu => {
                // e = e^(−|z|) ∈ (0, 1]: σ(|z|) = 1/(1+e), σ(−|z|) = e/(1+e), no overflow.
                let e = exp(-z.abs());
                let r = one / (one + e);
                let er = e * r;
                let nonnegative = z.simd_ge(F32s::splat(0.0));
                let sigma = nonnegative.select(r, er);
                let complement = nonnegative.select(er, r); // 1 − σ(z), exactly as accurate
                let a = z * sigma;
                (a, sigma * z.mul_add(complement, one))
            }
            Self::Tanh => {
                let t = tanh(z);
                (t, t.mul_neg_add(t, one))
            }
        }
    }
}

/// `tanh z` lane-wise (Cephes `tanhf`): `z + z³·P(z²)` for `|z| < 0.625`, otherwise
/// `sign(z)·(1 − e)/(1 + e)` with `e = e^(−2|z|)`.
#[inline(always)]
fn tanh(z: F32s) -> F32s {
    let one = F32s::splat(1.0);
    let magnitude = z.abs();
    let e = exp(F32s::splat(-2.0) * magnitude);
    let large = (one - e) / (one + e);
    let large = large | (z & F32s::splat(-0.0)); // the sign of z (large ≥ 0)
    let z2 = z * z;
    let mut p = F32s::splat(-5.704_988_7e-3);
    p = p.mul_add(z2, F32s::splat(2.063_909e-2));
    p = p.mul_add(z2, F32s::splat(-5.373_971_6e-2));
    p = p.mul_add(z2, F32s::splat(1.333_144_2e-1));
    p = p.mul_add(z2, F32s::splat(-3.333_328e-1));
    let small = (p * z2).mul_add(z, z);
    magnitude.simd_lt(F32s::splat(0.625)).select(small, large)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    fn ulps(got: f32, want: f64) -> f64 {
        let w = want as f32;
        let ulp = f64::from(f32::from_bits(w.abs().to_bits() + 1) - w.abs()).max(1e-45);
        (f64::from(got) - want).abs() / ulp
    }

    fn worst(f: impl Fn(f32) -> f32, reference: impl Fn(f64) -> f64, floor: f64) -> f64 {
        let mut worst = 0.0_f64;
        let mut z = -30.0_f32;
        while z < 30.0 {
            let want = reference(f64::from(z));
            if want.abs() > floor {
                worst = worst.max(ulps(f(z), want));
            }
            z += 0.000_731;
        }
        worst
    }

    fn sigmoid(z: f64) -> f64 {
        1.0 / (1.0 + (-z).exp())
    }

    #[test]
    fn silu_is_within_four_ulp() {
        let w = worst(|z| Activation::Silu.apply(z), |z| z * sigmoid(z), 1e-30);
        assert!(w <= 4.0, "SiLU worst {w} ulp");
        let d = worst(
            |z| Activation::Silu.derivative(z),
            |z| {
                let s = sigmoid(z);
                s * (1.0 + z * (1.0 - s))
            },
            0.1,
        );
        assert!(d <= 4.0, "SiLU' worst {d} ulp where |SiLU'| > 0.1");
        // Near its root (z ≈ −1.28) the derivative is accurate in absolute terms.
        let mut z = -30.0_f32;
        while z < 30.0 {
            let s = sigmoid(f64::from(z));
            let want = s * (1.0 + f64::from(z) * (1.0 - s));
            let got = f64::from(Activation::Silu.derivative(z));
            assert!((got - want).abs() < 4.0 * f64::from(f32::EPSILON), "{z}");
            z += 0.000_731;
        }
    }

    #[test]
    fn tanh_is_within_three_ulp_and_saturates() {
        let w = worst(|z| Activation::Tanh.apply(z), f64::tanh, 1e-30);
        assert!(w <= 3.0, "tanh worst {w} ulp");
        for z in [10.0_f32, 50.0, 1e4, 3e38, f32::MAX] {
            assert_eq!(Activation::Tanh.apply(z), 1.0);
            assert_eq!(Activation::Tanh.apply(-z), -1.0);
            assert_eq!(Activation::Tanh.derivative(z), 0.0);
        }
        assert_eq!(Activation::Tanh.apply(0.0), 0.0);
    }

    #[test]
    fn silu_has_no_overflow_and_relu_derivative_is_zero_at_zero() {
        for z in [-1e4_f32, -100.0, -88.5, f32::MIN] {
            let (a, d) = (Activation::Silu.apply(z), Activation::Silu.derivative(z));
            assert!(a.is_finite() && a.abs() < 1e-30, "{z}: {a}");
            assert!(d.is_finite() && d.abs() < 1e-30, "{z}: {d}");
        }
        assert_eq!(Activation::Silu.apply(1e4), 1e4);
        assert_eq!(Activation::Silu.derivative(1e4), 1.0);
        assert_eq!(Activation::Relu.derivative(0.0), 0.0);
        assert_eq!(Activation::Relu.derivative(1e-30), 1.0);
        assert_eq!(Activation::Relu.apply(-2.0), 0.0);
    }

    #[test]
    fn codes_round_trip() {
        for a in Activation::ALL {
            assert_eq!(Activation::from_code(a.code()), Some(a));
        }
        assert_eq!(Activation::from_code(4), None);
    }
}
