//! PyTorch's default initialisation of `nn.Linear`.

use super::Mlp;
use crate::error::Error;
use crate::sample::uniform;
use rand_core::Rng;

impl<const I: usize, const H: usize, const O: usize> Mlp<I, H, O> {
    /// Initialises `params` like PyTorch's `nn.Linear.reset_parameters`:
    /// `kaiming_uniform_(W, a = √5)`, i.e. `W ~ U(−1/√fan_in, 1/√fan_in)` (gain `√(2/(1+a²)) =
    /// √(1/3)`, bound `√3·gain/√fan_in`), and `b ~ U(−1/√fan_in, 1/√fan_in)`, layer by layer,
    /// weights before biases (PyTorch's order; the random streams differ, the distributions are
    /// the same). Uniforms come from [`sample::uniform`](crate::sample::uniform) (24 bits), so
    /// every value lies in `[−bound, bound)`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `params` does not hold [`Mlp::PARAMETERS`] values;
    /// [`Error::InvalidParameter`] if a layer width is 0.
    ///
    /// # Example
    /// ```
    /// use drifting::Mlp;
    /// use rand_core::SeedableRng;
    /// use rand_xoshiro::Xoshiro256PlusPlus;
    /// type Generator = Mlp<2, 8, 2>;
    /// let mut params = [0.0_f32; Generator::PARAMETERS];
    /// Generator::init_pytorch(&mut params, &mut Xoshiro256PlusPlus::seed_from_u64(0))?;
    /// for layer in Generator::LAYERS {
    ///     let bound = 1.0 / (layer.inputs as f32).sqrt(); // 1/√fan_in
    ///     assert!(params[layer.weights..layer.end()].iter().all(|p| (-bound..bound).contains(p)));
    /// }
    /// # Ok::<(), drifting::Error>(())
    /// ```
    pub fn init_pytorch<R: Rng + ?Sized>(params: &mut [f32], rng: &mut R) -> Result<(), Error> {
        if I == 0 || H == 0 || O == 0 {
            return Err(Error::InvalidParameter {
                input: "layer width",
            });
        }
        if params.len() != Self::PARAMETERS {
            return Err(Error::ShapeMismatch {
                input: "params",
                expected: Self::PARAMETERS,
                found: params.len(),
            });
        }
        for layer in Self::LAYERS {
            #[allow(clippy::cast_precision_loss)]
            let bound = 1.0 / libm::sqrtf(layer.inputs as f32);
            for p in params
                .get_mut(layer.weights..layer.end())
                .unwrap_or_default()
            {
                *p = (2.0 * uniform(rng) - 1.0) * bound;
            }
        }
        Ok(())
    }
}
