//! A plain scalar `f64` reference of the generator MLP (docs/mathematics.md §10): one sample at a
//! time, weights read in PyTorch's `[out][in]` layout from the same flat vector as the library,
//! no tiling, no SIMD, so it shares nothing with the code it checks.
#![allow(dead_code, clippy::needless_range_loop)]

/// The activations, in `f64`.
#[derive(Clone, Copy, Debug)]
pub enum RefActivation {
    Identity,
    Relu,
    Silu,
    Tanh,
}

impl RefActivation {
    pub fn apply(self, z: f64) -> f64 {
        match self {
            Self::Identity => z,
            Self::Relu => z.max(0.0),
            Self::Silu => z / (1.0 + (-z).exp()),
            Self::Tanh => z.tanh(),
        }
    }
}

/// Layer shapes `(inputs, outputs)` of `Linear(I,H)–act–Linear(H,H)–act–Linear(H,H)–act–Linear(H,O)`.
pub fn shapes(i: usize, h: usize, o: usize) -> [(usize, usize); 4] {
    [(i, h), (h, h), (h, h), (h, o)]
}

pub fn parameter_count(i: usize, h: usize, o: usize) -> usize {
    shapes(i, h, o).iter().map(|(a, b)| (a + 1) * b).sum()
}

/// `f_θ(z)` for one sample.
pub fn forward_one(
    params: &[f64],
    act: RefActivation,
    dims: (usize, usize, usize),
    z: &[f64],
) -> Vec<f64> {
    let (i, h, o) = dims;
    let mut x = z.to_vec();
    let mut offset = 0;
    for (l, (inputs, outputs)) in shapes(i, h, o).into_iter().enumerate() {
        let w = &params[offset..offset + inputs * outputs];
        let b = &params[offset + inputs * outputs..offset + (inputs + 1) * outputs];
        offset += (inputs + 1) * outputs;
        let mut y = vec![0.0; outputs];
        for r in 0..outputs {
            let mut s = b[r];
            for c in 0..inputs {
                s += w[r * inputs + c] * x[c];
            }
            y[r] = if l < 3 { act.apply(s) } else { s };
        }
        x = y;
    }
    x
}

/// The whole batch, feature-major in and out (`input[i·batch + b]`, `out[o·batch + b]`).
pub fn forward(
    params: &[f64],
    act: RefActivation,
    dims: (usize, usize, usize),
    input: &[f64],
    batch: usize,
) -> Vec<f64> {
    let (i, _, o) = dims;
    let mut out = vec![0.0; o * batch];
    for b in 0..batch {
        let z: Vec<f64> = (0..i).map(|k| input[k * batch + b]).collect();
        let x = forward_one(params, act, dims, &z);
        for k in 0..o {
            out[k * batch + b] = x[k];
        }
    }
    out
}

/// `L = Σ c ⊙ f_θ(input)`, whose gradient with respect to the output is `c`.
pub fn weighted_output(
    params: &[f64],
    act: RefActivation,
    dims: (usize, usize, usize),
    input: &[f64],
    batch: usize,
    weights: &[f64],
) -> f64 {
    forward(params, act, dims, input, batch)
        .iter()
        .zip(weights)
        .map(|(x, c)| x * c)
        .sum()
}
