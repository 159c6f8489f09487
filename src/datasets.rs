//! The 2D target distributions of the papers' experiments, sampled into caller-owned buffers.
//!
//! Every sampler writes `n` points coordinate-major into `out` (`x` of point `i` at `out[i]`,
//! `y` at `out[n + i]`: view the result with `CloudView::<2>::from_coordinate_major(out, n)`),
//! draws from any `rand_core` generator, and allocates nothing.
//!
//! Sources:
//! - **checkerboard** and **swiss roll**: the official drifting 2D demo (Deng et al. 2026, the
//!   Colab linked from the project page), whose samplers are reproduced verbatim by the public
//!   ports of that notebook (`sample_checkerboard(n, noise=0.05)`, `sample_swiss_roll(n,
//!   noise=0.03)`); the one deliberate difference (the swiss roll's scale) is stated on
//!   [`Dataset::SwissRoll`];
//! - **two moons**: scikit-learn's `make_moons` geometry, centred and scaled into `[−1, 1]²` as
//!   the demo ports do; the second paper (Fig. 8) trains on it with "Ring MoG", swiss roll and
//!   checkerboard;
//! - **ring of Gaussians**: `k` isotropic modes equally spaced on a circle (the `ring8` toy set
//!   of the demo ports: 8 modes, radius 1, std 0.04);
//! - **8 Gaussians**: the FFJORD toy set (Grathwohl et al. 2019, `toy_data.py`, `8gaussians`);
//! - **4-mode mixture**: means `(±1, ±1)`, std 0.3, the first paper's score-difference check
//!   (Turan & Ovsjanikov 2026, Fig. 1; `tests/score_difference.rs`).
//!
//! Uniform numbers are [`crate::sample::uniform`] (24 bits), normal ones
//! [`crate::sample::fill_standard_normal`] (Box–Muller), angles go through `libm`.

use core::f32::consts::{FRAC_1_SQRT_2, PI};

use rand_core::Rng;

use crate::error::Error;
use crate::sample::{fill_standard_normal, uniform};

/// A 2D target distribution and its parameters. The `const fn` constructors
/// ([`Dataset::checkerboard`], …) give the documented defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Dataset {
    /// The official demo's checkerboard: 8 of the 16 cells of side ½ tiling `[−1, 1]²` (cell
    /// `(i, j)`, `i, j ∈ {0,1,2,3}` from the left/bottom, is occupied iff `i + j` is even),
    /// uniform inside a cell, plus isotropic Gaussian noise.
    ///
    /// `b ~ U{0,1}`, `i = 2·U{0,1} + b`, `j = 2·U{0,1} + b`, `u, v ~ U[0,1)`,
    /// `x = ((i + u, j + v) − 2)/2 + noise·N(0, I)`. Without noise: `E x = 0`,
    /// `Var x_d = 1/3`, `Cov(x₁, x₂) = 1/16`.
    Checkerboard {
        /// Standard deviation of the added noise (official: 0.05).
        noise: f32,
    },
    /// The official demo's swiss roll: `t = π/2 + 4π·u`, `u ~ U[0,1)`,
    /// `x = (t cos t, t sin t)/(9π/2) + noise·N(0, I)`: two turns of an Archimedean spiral, radius
    /// `t/(9π/2) ∈ [1/9, 1]`, angle `t`.
    ///
    /// The official sampler divides by the largest absolute coordinate *of the batch* (plus
    /// `1e-8`); that maximum tends to `sup_t |t sin t| = 9π/2` (reached at the end `t = 9π/2`),
    /// and this sampler uses that limit so that the distribution does not depend on the batch
    /// size. For a batch of 2048 the two scales differ by about `4e-4` (relative).
    SwissRoll {
        /// Standard deviation of the added noise (official: 0.03).
        noise: f32,
    },
    /// Two interleaving half circles (scikit-learn's `make_moons` with `θ ~ U[0, π]` instead of
    /// a grid): with probability ½ the upper moon `(cos θ, sin θ)`, else the lower moon
    /// `(1 − cos θ, ½ − sin θ)`; then centred by the set's mean `(½, ¼)` and divided by `3/2` so
    /// the noiseless set spans `x ∈ [−1, 1]`, `y ∈ [−½, ½]`; plus `noise·N(0, I)`.
    TwoMoons {
        /// Standard deviation of the added noise (default 0.05).
        noise: f32,
    },
    /// `modes` equally weighted isotropic Gaussians with means
    /// `radius·(cos 2πk/modes, sin 2πk/modes)`, `k = 0, …, modes − 1`.
    RingOfGaussians {
        /// Number of modes, at least 1 (default 8).
        modes: u32,
        /// Radius of the circle of means (default 1).
        radius: f32,
        /// Standard deviation of each mode (default 0.04).
        std: f32,
    },
    /// FFJORD's `8gaussians`: means `(±1, 0), (0, ±1), (±1/√2, ±1/√2)` times `scale`, plus
    /// `std·N(0, I)`, all divided by `√2` (FFJORD: `scale = 4`, `std = 0.5`, so the means lie on
    /// a circle of radius `2√2 ≈ 2.83` and each mode has std `0.5/√2 ≈ 0.354`).
    EightGaussians {
        /// Radius of the means before the division by `√2` (default 4).
        scale: f32,
        /// Standard deviation of each mode before the division by `√2` (default 0.5).
        std: f32,
    },
    /// The equally weighted 4-mode mixture with means `(±1, ±1)` and isotropic std `std`:
    /// `E x = 0`, `Var x_d = 1 + std²`.
    FourModeMixture {
        /// Standard deviation of each mode (default 0.3).
        std: f32,
    },
}

impl Dataset {
    /// The official demo's checkerboard, noise 0.05.
    #[must_use]
    pub const fn checkerboard() -> Self {
        Self::Checkerboard { noise: 0.05 }
    }

    /// The official demo's swiss roll, noise 0.03.
    #[must_use]
    pub const fn swiss_roll() -> Self {
        Self::SwissRoll { noise: 0.03 }
    }

    /// Two moons, noise 0.05.
    #[must_use]
    pub const fn two_moons() -> Self {
        Self::TwoMoons { noise: 0.05 }
    }

    /// Ring of 8 Gaussians, radius 1, std 0.04.
    #[must_use]
    pub const fn ring_of_gaussians() -> Self {
        Self::RingOfGaussians {
            modes: 8,
            radius: 1.0,
            std: 0.04,
        }
    }

    /// FFJORD's 8 Gaussians (scale 4, std 0.5, divided by `√2`).
    #[must_use]
    pub const fn eight_gaussians() -> Self {
        Self::EightGaussians {
            scale: 4.0,
            std: 0.5,
        }
    }

    /// The 4-mode mixture, means `(±1, ±1)`, std 0.3.
    #[must_use]
    pub const fn four_mode_mixture() -> Self {
        Self::FourModeMixture { std: 0.3 }
    }

    /// A short lowercase name (`"checkerboard"`, `"swiss_roll"`, `"two_moons"`,
    /// `"ring_of_gaussians"`, `"eight_gaussians"`, `"four_mode_mixture"`), for logs and files.
    #[must_use]
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Checkerboard { .. } => "checkerboard",
            Self::SwissRoll { .. } => "swiss_roll",
            Self::TwoMoons { .. } => "two_moons",
            Self::RingOfGaussians { .. } => "ring_of_gaussians",
            Self::EightGaussians { .. } => "eight_gaussians",
            Self::FourModeMixture { .. } => "four_mode_mixture",
        }
    }

    /// Checks the parameters: noise and standard deviations finite and `≥ 0`, radius and scale
    /// finite, `modes ≥ 1`, and every length at most [`Dataset::MAX_SCALE`] in magnitude, so that
    /// every point drawn is finite (a normal draw is at most 5.8 in magnitude).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the offending field; [`Error::OutOfRange`] naming it
    /// when it is finite but above [`Dataset::MAX_SCALE`] (the points would overflow `f32`).
    pub fn validate(&self) -> Result<(), Error> {
        let non_negative = |x: f32| x.is_finite() && x >= 0.0;
        let lengths: [(f32, &'static str, bool); 2] = match *self {
            Self::Checkerboard { noise } | Self::SwissRoll { noise } | Self::TwoMoons { noise } => {
                [(noise, "noise", true), (0.0, "noise", true)]
            }
            Self::RingOfGaussians { modes, radius, std } => {
                if modes == 0 {
                    return Err(Error::InvalidParameter { input: "modes" });
                }
                [(radius, "radius", false), (std, "std", true)]
            }
            Self::EightGaussians { scale, std } => [(scale, "scale", false), (std, "std", true)],
            Self::FourModeMixture { std } => [(std, "std", true), (0.0, "std", true)],
        };
        for (value, name, sign) in lengths {
            let ok = if sign {
                non_negative(value)
            } else {
                value.is_finite()
            };
            if !ok {
                return Err(Error::InvalidParameter { input: name });
            }
            if value.abs() > Self::MAX_SCALE {
                return Err(Error::OutOfRange { input: name });
            }
        }
        Ok(())
    }

    /// The largest noise, standard deviation, radius or scale a dataset accepts, `1e37`: the
    /// points are then at most `(1 + 5.8)·1e37 < f32::MAX` in magnitude.
    pub const MAX_SCALE: f32 = 1.0e37;

    /// Draws `n` independent points into `out` (`2n` floats, coordinate-major: `x` coordinates in
    /// `out[..n]`, `y` in `out[n..]`).
    ///
    /// Cost `O(n)`: per point a few uniforms, two normals (one Box–Muller pair) and, for the
    /// swiss roll and moons, one `sincos`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] or [`Error::OutOfRange`] for an out-of-range parameter
    /// ([`Dataset::validate`]); [`Error::InvalidParameter`] (`"n"`) if `2n` overflows `usize`;
    /// [`Error::ShapeMismatch`] if `out.len() != 2n`. Nothing is written on error; every point written is finite.
    ///
    /// # Example
    /// ```
    /// use drifting::{CloudView, Dataset, Error};
    /// use rand_core::SeedableRng;
    /// use rand_xoshiro::Xoshiro256PlusPlus;
    /// let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
    /// let mut out = [0.0_f32; 2 * 100];
    /// // Without noise, every point lies in an occupied cell of the checkerboard in [−1, 1]².
    /// Dataset::Checkerboard { noise: 0.0 }.sample(&mut rng, &mut out, 100)?;
    /// let cloud = CloudView::<2>::from_coordinate_major(&out, 100)?;
    /// for [x, y] in cloud.points() {
    ///     assert!(x.abs() <= 1.0 && y.abs() <= 1.0);
    ///     let (i, j) = (((x + 1.0) * 2.0) as i32, ((y + 1.0) * 2.0) as i32); // cells of side ½
    ///     assert_eq!((i + j) % 2, 0);
    /// }
    /// let result = Dataset::checkerboard().sample(&mut rng, &mut out, 99); // 200 ≠ 2·99
    /// assert!(matches!(result, Err(Error::ShapeMismatch { .. })));
    /// # Ok::<(), drifting::Error>(())
    /// ```
    pub fn sample<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        out: &mut [f32],
        n: usize,
    ) -> Result<(), Error> {
        self.validate()?;
        let Some(expected) = n.checked_mul(2) else {
            return Err(Error::InvalidParameter { input: "n" });
        };
        if out.len() != expected {
            return Err(Error::ShapeMismatch {
                input: "out",
                expected,
                found: out.len(),
            });
        }
        let (xs, ys) = out.split_at_mut(n.min(out.len()));
        for (x, y) in xs.iter_mut().zip(ys.iter_mut()) {
            [*x, *y] = self.point(rng);
        }
        Ok(())
    }

    /// One point (parameters already validated).
    fn point<R: Rng + ?Sized>(&self, rng: &mut R) -> [f32; 2] {
        match *self {
            Self::Checkerboard { noise } => {
                let b = bit(rng);
                let i = 2.0 * bit(rng) + b;
                let j = 2.0 * bit(rng) + b;
                let u = uniform(rng);
                let v = uniform(rng);
                let [e1, e2] = normal_pair(rng);
                [
                    (i + u - 2.0) / 2.0 + noise * e1,
                    (j + v - 2.0) / 2.0 + noise * e2,
                ]
            }
            Self::SwissRoll { noise } => {
                const SCALE: f32 = 4.5 * PI;
                let t = 0.5 * PI + 4.0 * PI * uniform(rng);
                let (sin, cos) = libm::sincosf(t);
                let [e1, e2] = normal_pair(rng);
                [t * cos / SCALE + noise * e1, t * sin / SCALE + noise * e2]
            }
            Self::TwoMoons { noise } => {
                let upper = bit(rng) == 0.0;
                let (sin, cos) = libm::sincosf(PI * uniform(rng));
                let (x, y) = if upper {
                    (cos, sin)
                } else {
                    (1.0 - cos, 0.5 - sin)
                };
                let [e1, e2] = normal_pair(rng);
                [(x - 0.5) / 1.5 + noise * e1, (y - 0.25) / 1.5 + noise * e2]
            }
            Self::RingOfGaussians { modes, radius, std } => {
                let k = index(rng, modes);
                #[allow(clippy::cast_precision_loss)]
                let angle = 2.0 * PI * (k as f32) / (modes as f32);
                let (sin, cos) = libm::sincosf(angle);
                let [e1, e2] = normal_pair(rng);
                [radius * cos + std * e1, radius * sin + std * e2]
            }
            Self::EightGaussians { scale, std } => {
                const CENTRES: [[f32; 2]; 8] = [
                    [1.0, 0.0],
                    [-1.0, 0.0],
                    [0.0, 1.0],
                    [0.0, -1.0],
                    [FRAC_1_SQRT_2, FRAC_1_SQRT_2],
                    [FRAC_1_SQRT_2, -FRAC_1_SQRT_2],
                    [-FRAC_1_SQRT_2, FRAC_1_SQRT_2],
                    [-FRAC_1_SQRT_2, -FRAC_1_SQRT_2],
                ];
                let k = index(rng, 8) as usize;
                let [cx, cy] = CENTRES.get(k).copied().unwrap_or([1.0, 0.0]);
                let [e1, e2] = normal_pair(rng);
                [
                    (scale * cx + std * e1) * FRAC_1_SQRT_2,
                    (scale * cy + std * e2) * FRAC_1_SQRT_2,
                ]
            }
            Self::FourModeMixture { std } => {
                let sx = if bit(rng) == 0.0 { 1.0 } else { -1.0 };
                let sy = if bit(rng) == 0.0 { 1.0 } else { -1.0 };
                let [e1, e2] = normal_pair(rng);
                [sx + std * e1, sy + std * e2]
            }
        }
    }
}

/// 0.0 or 1.0 with probability ½ each (the top bit of one `u32`).
fn bit<R: Rng + ?Sized>(rng: &mut R) -> f32 {
    if rng.next_u32() >> 31 == 0 { 0.0 } else { 1.0 }
}

/// Uniform on `{0, …, count − 1}` (multiply-shift of one `u32`; bias at most `count/2³²`).
fn index<R: Rng + ?Sized>(rng: &mut R, count: u32) -> u32 {
    #[allow(clippy::cast_possible_truncation)]
    let k = ((u64::from(rng.next_u32()) * u64::from(count)) >> 32) as u32;
    k
}

/// Two independent standard normal values.
fn normal_pair<R: Rng + ?Sized>(rng: &mut R) -> [f32; 2] {
    let mut pair = [0.0_f32; 2];
    fill_standard_normal(rng, &mut pair);
    pair
}
