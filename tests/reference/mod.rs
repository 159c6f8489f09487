//! Plain scalar `f64` references of every drift operator: dense, direct transcriptions of the
//! formulas in docs/mathematics.md §3–5, with no tiling, no SIMD and no streaming, so that they share
//! nothing with the library code they check. Used by the tests and, as the "scalar reference
//! path", by the `drift` bench.
#![allow(dead_code, clippy::needless_range_loop)]

/// A point cloud: one `Vec` per point.
pub type Points = Vec<Vec<f64>>;

#[derive(Clone, Copy, Debug)]
pub enum RefKernel {
    Laplace(f64),
    Gaussian(f64),
}

#[derive(Clone, Copy, Debug)]
pub enum RefMask {
    Exclude,
    AddDistance(f64),
}

pub fn squared_distance(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum()
}

pub fn logit_of_distance(kernel: RefKernel, dist: f64) -> f64 {
    match kernel {
        RefKernel::Laplace(t) => -dist / t,
        RefKernel::Gaussian(s) => -dist * dist / (2.0 * s * s),
    }
}

pub fn logit(kernel: RefKernel, x: &[f64], y: &[f64]) -> f64 {
    logit_of_distance(kernel, squared_distance(x, y).sqrt())
}

/// `ln Σ exp(v)`, with `−∞` entries allowed.
pub fn log_sum_exp(values: &[f64]) -> f64 {
    let m = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + values.iter().map(|v| (v - m).exp()).sum::<f64>().ln()
}

/// `μ_π(x) − x` with softmax weights over `ys`, skipping index `skip`.
fn mean_displacement(kernel: RefKernel, x: &[f64], ys: &Points, skip: Option<usize>) -> Vec<f64> {
    let logits: Vec<f64> = ys
        .iter()
        .enumerate()
        .map(|(j, y)| {
            if Some(j) == skip {
                f64::NEG_INFINITY
            } else {
                logit(kernel, x, y)
            }
        })
        .collect();
    let lse = log_sum_exp(&logits);
    let mut out = vec![0.0; x.len()];
    if lse == f64::NEG_INFINITY {
        return out;
    }
    for (l, y) in logits.iter().zip(ys) {
        let w = (l - lse).exp();
        for d in 0..x.len() {
            out[d] += w * (y[d] - x[d]);
        }
    }
    out
}

/// `η (μ_p(x) − μ_q(x))`; `neg = None` means the negatives are the queries.
pub fn mean_shift(
    x: &Points,
    pos: &Points,
    neg: Option<&Points>,
    kernel: RefKernel,
    step: f64,
    exclude_self: bool,
) -> Points {
    x.iter()
        .enumerate()
        .map(|(i, xi)| {
            let p = mean_displacement(kernel, xi, pos, None);
            let q = match neg {
                Some(neg) => mean_displacement(kernel, xi, neg, None),
                None => mean_displacement(kernel, xi, x, exclude_self.then_some(i)),
            };
            p.iter().zip(&q).map(|(a, b)| step * (a - b)).collect()
        })
        .collect()
}

/// Dense logit matrix `N × (P+Q)` of the two-axis drift, with the self-mask.
fn two_axis_logits(
    x: &Points,
    targets: &Points,
    p: usize,
    self_negatives: bool,
    kernel: RefKernel,
    mask: RefMask,
    distance_of: &dyn Fn(&[f64], &[f64]) -> f64,
) -> Vec<Vec<f64>> {
    x.iter()
        .enumerate()
        .map(|(i, xi)| {
            targets
                .iter()
                .enumerate()
                .map(|(j, y)| {
                    let d = distance_of(xi, y);
                    if self_negatives && j >= p && j - p == i {
                        match mask {
                            RefMask::Exclude => f64::NEG_INFINITY,
                            RefMask::AddDistance(a) => logit_of_distance(kernel, d + a),
                        }
                    } else {
                        logit_of_distance(kernel, d)
                    }
                })
                .collect()
        })
        .collect()
}

/// `V_i = S−_i Σ_pos A_ij y+_j − S+_i Σ_neg A_ik y−_k`, `A = exp(l − r/2 − c/2)`, optionally with
/// the affinity floor and column weights of the official `drift_loss`.
fn two_axis_from_logits(
    x: &Points,
    targets: &Points,
    p: usize,
    logits: &[Vec<f64>],
    floor: f64,
    weights: &[f64],
) -> Points {
    let n = x.len();
    let m = targets.len();
    let rows: Vec<f64> = logits.iter().map(|r| log_sum_exp(r)).collect();
    let cols: Vec<f64> = (0..m)
        .map(|j| log_sum_exp(&logits.iter().map(|r| r[j]).collect::<Vec<_>>()))
        .collect();
    (0..n)
        .map(|i| {
            let a: Vec<f64> = (0..m)
                .map(|j| {
                    let l = logits[i][j];
                    let prod = if l == f64::NEG_INFINITY {
                        0.0
                    } else {
                        // softmax_row · softmax_col = exp(l − r) · exp(l − c)
                        (2.0 * l - rows[i] - cols[j]).exp()
                    };
                    prod.max(floor).sqrt() * weights[j]
                })
                .collect();
            let s_pos: f64 = a[..p].iter().sum();
            let s_neg: f64 = a[p..].iter().sum();
            let dim = x[i].len();
            let mut v = vec![0.0; dim];
            for j in 0..m {
                let coeff = if j < p { a[j] * s_neg } else { -a[j] * s_pos };
                for d in 0..dim {
                    v[d] += coeff * targets[j][d];
                }
            }
            let total: f64 = (0..m)
                .map(|j| if j < p { a[j] * s_neg } else { -a[j] * s_pos })
                .sum();
            for d in 0..dim {
                v[d] -= total * x[i][d];
            }
            v
        })
        .collect()
}

/// The two-axis softmax drift (Algorithm 2); `neg = None` means the negatives are the queries.
pub fn two_axis(
    x: &Points,
    pos: &Points,
    neg: Option<&Points>,
    kernel: RefKernel,
    mask: RefMask,
) -> Points {
    let mut targets = pos.clone();
    targets.extend(neg.unwrap_or(x).iter().cloned());
    let dist = |a: &[f64], b: &[f64]| squared_distance(a, b).sqrt();
    let logits = two_axis_logits(x, &targets, pos.len(), neg.is_none(), kernel, mask, &dist);
    two_axis_from_logits(
        x,
        &targets,
        pos.len(),
        &logits,
        0.0,
        &vec![1.0; targets.len()],
    )
}

pub struct MultiTemperatureRef {
    pub force: Points,
    pub scale: f64,
    pub input_scale: f64,
    pub raw_rms2: Vec<f64>,
    pub loss: f64,
}

/// The official multi-temperature `drift_loss` (docs/mathematics.md §5), targets `[x ; pos]`.
pub fn multi_temperature(
    x: &Points,
    pos: &Points,
    temperatures: &[f64],
    floor: f64,
    mask_distance: f64,
    neg_weights: &[f64],
    pos_weights: &[f64],
) -> MultiTemperatureRef {
    let n = x.len();
    let dim = x[0].len();
    // Targets ordered [pos ; x] to reuse the two-axis code; the scale is order-free.
    let mut targets = pos.clone();
    targets.extend(x.iter().cloned());
    let mut weights = pos_weights.to_vec();
    weights.extend_from_slice(neg_weights);
    let dist = |a: &[f64], b: &[f64]| squared_distance(a, b).max(1e-8).sqrt();
    let mut weighted = 0.0;
    for xi in x {
        for (y, w) in targets.iter().zip(&weights) {
            weighted += dist(xi, y) * w;
        }
    }
    let scale = weighted / (n as f64 * weights.iter().sum::<f64>());
    let input_scale = (scale / (dim as f64).sqrt()).max(1e-3);
    let clamped = scale.max(1e-3);
    let mut force = vec![vec![0.0; dim]; n];
    let mut raw = Vec::new();
    for &r in temperatures {
        let kernel = RefKernel::Laplace(r * clamped);
        let logits = two_axis_logits(
            x,
            &targets,
            pos.len(),
            true,
            kernel,
            RefMask::AddDistance(mask_distance * clamped),
            &dist,
        );
        let f_r: Points = two_axis_from_logits(x, &targets, pos.len(), &logits, floor, &weights)
            .into_iter()
            .map(|v| v.into_iter().map(|c| c / input_scale).collect())
            .collect();
        let n_r = f_r.iter().flatten().map(|v| v * v).sum::<f64>() / (n * dim) as f64;
        raw.push(n_r);
        let norm = n_r.max(1e-8).sqrt();
        for (f, g) in force.iter_mut().zip(&f_r) {
            for d in 0..dim {
                f[d] += g[d] / norm;
            }
        }
    }
    let loss = force.iter().flatten().map(|v| v * v).sum::<f64>() / (n * dim) as f64;
    MultiTemperatureRef {
        force,
        scale,
        input_scale,
        raw_rms2: raw,
        loss,
    }
}
