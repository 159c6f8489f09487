//! A plain scalar `f64` reference of the official grouped drift loss (`docs/mathematics.md` §5,
//! "the group axis"): dense, direct transcription with `B` groups, unconditional negatives, column
//! weights and statistics global over the groups; softmaxes in the log domain. No tiling, no SIMD,
//! no GEMM: it shares nothing with the library's dense path.
#![allow(dead_code, clippy::needless_range_loop, clippy::too_many_arguments)]

/// The reference's result; `field` is `[B, Cg, S]` row-major.
#[derive(Clone, Debug)]
pub struct GroupedRef {
    pub field: Vec<f64>,
    pub scale: f64,
    pub input_scale: f64,
    pub raw_rms2: Vec<f64>,
    pub group_losses: Vec<f64>,
    pub loss: f64,
}

/// Inputs of one call: `[B, C, S]` row-major arrays and `[B, C]` column weights.
pub struct GroupedInputs<'a> {
    pub groups: usize,
    pub generated: usize,
    pub unconditional: usize,
    pub positives: usize,
    pub channels: usize,
    pub generated_points: &'a [f32],
    pub unc: &'a [f32],
    pub pos: &'a [f32],
    pub w_gen: &'a [f64],
    pub w_unc: &'a [f64],
    pub w_pos: &'a [f64],
}

fn log_sum_exp(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let m = values.clone().fold(f64::NEG_INFINITY, f64::max);
    m + values.map(|v| (v - m).exp()).sum::<f64>().ln()
}

pub fn grouped(
    inputs: &GroupedInputs<'_>,
    temperatures: &[f64],
    floor: f64,
    mask: f64,
) -> GroupedRef {
    let (b, cg, cu, cp, s) = (
        inputs.groups,
        inputs.generated,
        inputs.unconditional,
        inputs.positives,
        inputs.channels,
    );
    let t = cg + cu + cp;
    let point = |data: &[f32], count: usize, g: usize, i: usize| -> Vec<f64> {
        data[(g * count + i) * s..(g * count + i + 1) * s]
            .iter()
            .map(|&v| f64::from(v))
            .collect()
    };
    // Per group: targets [generated_points ; unc ; pos] and their weights.
    let mut targets = Vec::new();
    let mut weights = Vec::new();
    for g in 0..b {
        let mut tg = Vec::new();
        let mut wg = Vec::new();
        for i in 0..cg {
            tg.push(point(inputs.generated_points, cg, g, i));
            wg.push(inputs.w_gen[g * cg + i]);
        }
        for i in 0..cu {
            tg.push(point(inputs.unc, cu, g, i));
            wg.push(inputs.w_unc[g * cu + i]);
        }
        for i in 0..cp {
            tg.push(point(inputs.pos, cp, g, i));
            wg.push(inputs.w_pos[g * cp + i]);
        }
        targets.push(tg);
        weights.push(wg);
    }
    let mut dist = vec![vec![vec![0.0; t]; cg]; b];
    let mut weighted = 0.0;
    for g in 0..b {
        for i in 0..cg {
            for j in 0..t {
                let sq: f64 = targets[g][i]
                    .iter()
                    .zip(&targets[g][j])
                    .map(|(x, y)| (x - y) * (x - y))
                    .sum();
                dist[g][i][j] = sq.max(1e-8).sqrt();
                weighted += dist[g][i][j] * weights[g][j];
            }
        }
    }
    let weight_total: f64 = weights.iter().flatten().sum();
    let scale = weighted / (cg as f64 * weight_total);
    let input_scale = (scale / (s as f64).sqrt()).max(1e-3);
    let clamped = scale.max(1e-3);
    let mut field = vec![0.0; b * cg * s];
    let mut raw = Vec::new();
    for &r in temperatures {
        let mut f_r = vec![0.0; b * cg * s];
        for g in 0..b {
            let logit = |i: usize, j: usize| {
                let mut d = dist[g][i][j] / clamped;
                if i == j {
                    d += mask;
                }
                -d / r
            };
            let rows: Vec<f64> = (0..cg)
                .map(|i| log_sum_exp((0..t).map(move |j| logit(i, j))))
                .collect();
            let cols: Vec<f64> = (0..t)
                .map(|j| log_sum_exp((0..cg).map(move |i| logit(i, j))))
                .collect();
            for i in 0..cg {
                let mut a = vec![0.0; t];
                for j in 0..t {
                    let mut log_product = 2.0 * logit(i, j) - rows[i] - cols[j];
                    if floor > 0.0 {
                        log_product = log_product.max(floor.ln());
                    }
                    a[j] = (0.5 * log_product).exp() * weights[g][j];
                }
                let s_neg: f64 = a[..cg + cu].iter().sum();
                let s_pos: f64 = a[cg + cu..].iter().sum();
                let mut total = 0.0;
                for j in 0..t {
                    let c = if j < cg + cu {
                        -a[j] * s_pos
                    } else {
                        a[j] * s_neg
                    };
                    total += c;
                    for d in 0..s {
                        f_r[(g * cg + i) * s + d] += c * targets[g][j][d] / input_scale;
                    }
                }
                for d in 0..s {
                    f_r[(g * cg + i) * s + d] -= total * targets[g][i][d] / input_scale;
                }
            }
        }
        let n_r = f_r.iter().map(|v| v * v).sum::<f64>() / f_r.len() as f64;
        raw.push(n_r);
        let norm = n_r.max(1e-8).sqrt();
        for (f, v) in field.iter_mut().zip(&f_r) {
            *f += v / norm;
        }
    }
    let group_losses: Vec<f64> = field
        .chunks(cg * s)
        .map(|c| c.iter().map(|v| v * v).sum::<f64>() / (cg * s) as f64)
        .collect();
    let loss = group_losses.iter().sum::<f64>() / b as f64;
    GroupedRef {
        field,
        scale,
        input_scale,
        raw_rms2: raw,
        group_losses,
        loss,
    }
}
