//! The drifts' vector-Jacobian products (the gradient through `V` that the no-stop-gradient
//! ablation needs) against central finite differences of `Σ_i u_i·V_i(x)` computed in `f64`:
//! the mean-shift drift (`mean_shift_vjp`), the two-axis drift of Algorithm 2 (`two_axis_vjp`,
//! both self-masks and separate negatives) and the official multi-temperature drift
//! (`multi_temperature_vjp`, through the distance scale and the per-temperature normalisations).
//!
//! Tolerances, relative to the gradient's largest entry (`f32` SIMD products against `f64`
//! differences at `h = 1e-6`; the Laplace kernel's gradient is continuous away from coincident
//! points, which random clouds avoid, and no pair of these clouds sits on the affinity floor's
//! kink): mean shift `2e-4`, two-axis and multi-temperature `1e-5` (measured maxima on this
//! machine: 7.5e-7 and 6.6e-7; `cargo test --test suite drift_vjp -- --nocapture` prints every case).
//! Each reference drift is first checked against the crate's `f32` drift, so the differences
//! differentiate the map the crate computes.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::too_many_arguments,
    clippy::needless_range_loop
)]

use drifting::sample::fill_standard_normal;
use drifting::{
    CloudView, Error, Evaluation, Kernel, MeanShiftConfig, MultiTemperatureConfig, Negatives,
    SelfMask, TwoAxisConfig, mean_shift_drift, mean_shift_vjp, mean_shift_vjp_scratch_len,
    multi_temperature_drift, multi_temperature_scratch_len, multi_temperature_vjp,
    multi_temperature_vjp_scratch_len, two_axis_scratch_len, two_axis_softmax_drift, two_axis_vjp,
    two_axis_vjp_scratch_len,
};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

fn normals(seed: u64, count: usize, scale: f32, shift: f32) -> Vec<f32> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut v = vec![0.0; count];
    fill_standard_normal(&mut rng, &mut v);
    v.iter().map(|x| x * scale + shift).collect()
}

/// The drift with negatives = queries (self excluded), in `f64`, coordinate-major.
fn drift_f64(
    x: &[f64],
    y: &[f64],
    n: usize,
    p: usize,
    dim: usize,
    laplace: bool,
    s: f64,
) -> Vec<f64> {
    let logit = |a: &[f64], b: &[f64]| {
        let r2: f64 = a.iter().zip(b).map(|(u, v)| (u - v) * (u - v)).sum();
        if laplace {
            -r2.sqrt() / s
        } else {
            -r2 / (2.0 * s * s)
        }
    };
    let point =
        |c: &[f64], len: usize, i: usize| (0..dim).map(|d| c[d * len + i]).collect::<Vec<f64>>();
    let mut out = vec![0.0; n * dim];
    for i in 0..n {
        let xi = point(x, n, i);
        for (cloud, len, sign, skip) in [(y, p, 1.0, None), (x, n, -1.0, Some(i))] {
            let ls: Vec<f64> = (0..len)
                .map(|j| {
                    if Some(j) == skip {
                        f64::NEG_INFINITY
                    } else {
                        logit(&xi, &point(cloud, len, j))
                    }
                })
                .collect();
            let m = ls.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let total: f64 = ls.iter().map(|l| (l - m).exp()).sum();
            for j in 0..len {
                let w = (ls[j] - m).exp() / total;
                for d in 0..dim {
                    out[d * n + i] += sign * w * (cloud[d * len + j] - xi[d]);
                }
            }
        }
    }
    out
}

fn check<const D: usize>(seed: u64, n: usize, p: usize, kernel: Kernel) {
    let x = normals(seed, n * D, 1.0, 0.0);
    let y = normals(seed + 1, p * D, 0.7, 0.5);
    let u = normals(seed + 2, n * D, 1.0, 0.0);
    let config = MeanShiftConfig::new(kernel);
    let (laplace, s) = match kernel {
        Kernel::Laplace { temperature } => (true, f64::from(temperature)),
        Kernel::Gaussian { bandwidth } => (false, f64::from(bandwidth)),
    };
    let queries = CloudView::<D>::from_coordinate_major(&x, n).unwrap();
    let positives = CloudView::<D>::from_coordinate_major(&y, p).unwrap();
    let mut scratch = vec![0.0; mean_shift_vjp_scratch_len(n, D)];
    let mut grad = vec![0.0; n * D];
    mean_shift_vjp(&queries, &positives, &config, &u, &mut scratch, &mut grad).unwrap();

    // The f64 drift agrees with the crate's (so the reference differentiates the right map).
    let (x64, y64, u64_): (Vec<f64>, Vec<f64>, Vec<f64>) = (
        x.iter().map(|&v| f64::from(v)).collect(),
        y.iter().map(|&v| f64::from(v)).collect(),
        u.iter().map(|&v| f64::from(v)).collect(),
    );
    let mut v32 = vec![0.0; n * D];
    mean_shift_drift(&queries, &positives, Negatives::Queries, &config, &mut v32).unwrap();
    let v64 = drift_f64(&x64, &y64, n, p, D, laplace, s);
    let vmax = v64.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    assert!(
        v32.iter()
            .zip(&v64)
            .all(|(a, b)| (f64::from(*a) - b).abs() < 1e-5 * vmax)
    );

    let objective = |x: &[f64]| -> f64 {
        drift_f64(x, &y64, n, p, D, laplace, s)
            .iter()
            .zip(&u64_)
            .map(|(v, u)| v * u)
            .sum()
    };
    let h = 1e-6;
    let mut fd = vec![0.0; n * D];
    for (k, slot) in fd.iter_mut().enumerate() {
        let (mut up, mut down) = (x64.clone(), x64.clone());
        up[k] += h;
        down[k] -= h;
        *slot = (objective(&up) - objective(&down)) / (2.0 * h);
    }
    let largest = fd.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    let err = grad
        .iter()
        .zip(&fd)
        .fold(0.0_f64, |m, (g, f)| m.max((f64::from(*g) - f).abs()))
        / largest;
    assert!(err < 2e-4, "{kernel:?}, D = {D}: relative error {err:e}");
}

#[test]
fn vjp_equals_finite_differences() {
    check::<2>(1, 13, 17, Kernel::gaussian(0.6));
    check::<2>(4, 13, 17, Kernel::laplace(0.4));
    check::<3>(7, 21, 9, Kernel::gaussian(0.9));
    check::<3>(10, 21, 9, Kernel::laplace(0.7));
    // Partial SIMD blocks on both sides, wider temperature range.
    check::<2>(13, 9, 30, Kernel::laplace(0.05));
}

#[test]
fn vjp_rejects_bad_input() {
    let x = normals(20, 10, 1.0, 0.0);
    let q = CloudView::<2>::from_coordinate_major(&x, 5).unwrap();
    let u = vec![0.0; 10];
    let mut scratch = vec![0.0; mean_shift_vjp_scratch_len(5, 2)];
    let mut out = vec![0.0; 10];
    let config = MeanShiftConfig::new(Kernel::laplace(0.2));
    let keep_self = MeanShiftConfig {
        exclude_self: false,
        ..config
    };
    assert_eq!(
        mean_shift_vjp(&q, &q, &keep_self, &u, &mut scratch, &mut out),
        Err(Error::InvalidParameter {
            input: "exclude_self"
        })
    );
    assert!(matches!(
        mean_shift_vjp(&q, &q, &config, &u[..9], &mut scratch, &mut out),
        Err(Error::ShapeMismatch {
            input: "cotangent",
            ..
        })
    ));
    assert!(matches!(
        mean_shift_vjp(&q, &q, &config, &u, &mut scratch[..30], &mut out),
        Err(Error::ScratchTooSmall { .. })
    ));
    let mut nan = u.clone();
    nan[3] = f32::NAN;
    assert_eq!(
        mean_shift_vjp(&q, &q, &config, &nan, &mut scratch, &mut out),
        Err(Error::NonFinite { input: "cotangent" })
    );
    let one = CloudView::<2>::from_coordinate_major(&x[..2], 1).unwrap();
    assert!(matches!(
        mean_shift_vjp(&one, &q, &config, &u[..2], &mut scratch, &mut out[..2]),
        Err(Error::TooFewPoints { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Shared f64 machinery.

fn to_f64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

fn point(c: &[f64], len: usize, dim: usize, i: usize) -> Vec<f64> {
    (0..dim).map(|d| c[d * len + i]).collect()
}

fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(u, v)| (u - v) * (u - v)).sum()
}

fn log_sum_exp(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let m = values.clone().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + values.map(|l| (l - m).exp()).sum::<f64>().ln()
}

/// `∇ Σ u·V` by central differences of `objective` at `x` (`h = 1e-6`).
fn central_differences(x: &[f64], objective: impl Fn(&[f64]) -> f64) -> Vec<f64> {
    let h = 1e-6;
    (0..x.len())
        .map(|k| {
            let (mut up, mut down) = (x.to_vec(), x.to_vec());
            up[k] += h;
            down[k] -= h;
            (objective(&up) - objective(&down)) / (2.0 * h)
        })
        .collect()
}

/// Largest entry-wise difference relative to the reference's largest entry.
fn relative_error(got: &[f32], reference: &[f64]) -> f64 {
    let largest = reference.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    assert!(largest > 0.0);
    got.iter()
        .zip(reference)
        .fold(0.0_f64, |m, (g, f)| m.max((f64::from(*g) - f).abs()))
        / largest
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

// ---------------------------------------------------------------------------------------------
// The two-axis drift (docs/mathematics.md §4) in f64.

#[derive(Clone, Copy)]
struct TwoAxisShape {
    n: usize,
    p: usize,
    q: usize,
    dim: usize,
    laplace: bool,
    scale: f64,
    /// `None`: exclude the self-pair; `Some(d)`: add `d` to its distance.
    added: Option<f64>,
}

/// `V` of Algorithm 2, coordinate-major; `negatives` is `None` for the queries themselves.
fn two_axis_f64(x: &[f64], y: &[f64], negatives: Option<&[f64]>, s: TwoAxisShape) -> Vec<f64> {
    let TwoAxisShape { n, p, q, dim, .. } = s;
    let neg = negatives.unwrap_or(x);
    let target = |j: usize| {
        if j < p {
            point(y, p, dim, j)
        } else {
            point(neg, q, dim, j - p)
        }
    };
    let logit = |i: usize, j: usize| {
        let xi = point(x, n, dim, i);
        let mut r = squared_distance(&xi, &target(j)).sqrt();
        if negatives.is_none() && j >= p && j - p == i {
            match s.added {
                None => return f64::NEG_INFINITY,
                Some(d) => r += d,
            }
        }
        if s.laplace {
            -r / s.scale
        } else {
            -r * r / (2.0 * s.scale * s.scale)
        }
    };
    let m = p + q;
    let l: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..m).map(|j| logit(i, j)).collect())
        .collect();
    let rows: Vec<f64> = l
        .iter()
        .map(|row| log_sum_exp(row.iter().copied()))
        .collect();
    let columns: Vec<f64> = (0..m)
        .map(|j| log_sum_exp(l.iter().map(|row| row[j])))
        .collect();
    let mut out = vec![0.0; n * dim];
    for i in 0..n {
        let a: Vec<f64> = (0..m)
            .map(|j| (l[i][j] - rows[i] / 2.0 - columns[j] / 2.0).exp())
            .collect();
        let s_pos: f64 = a[..p].iter().sum();
        let s_neg: f64 = a[p..].iter().sum();
        let xi = point(x, n, dim, i);
        for j in 0..m {
            let c = if j < p { a[j] * s_neg } else { -a[j] * s_pos };
            let t = target(j);
            for d in 0..dim {
                out[d * n + i] += c * (t[d] - xi[d]);
            }
        }
    }
    out
}

fn two_axis_case<const D: usize>(
    seed: u64,
    n: usize,
    p: usize,
    q: Option<usize>,
    kernel: Kernel,
    self_mask: SelfMask,
) -> f64 {
    let x = normals(seed, n * D, 1.0, 0.0);
    let y = normals(seed + 1, p * D, 0.7, 0.5);
    let z = q.map(|q| normals(seed + 3, q * D, 0.8, -0.3));
    let u = normals(seed + 2, n * D, 1.0, 0.0);
    let (laplace, scale) = match kernel {
        Kernel::Laplace { temperature } => (true, f64::from(temperature)),
        Kernel::Gaussian { bandwidth } => (false, f64::from(bandwidth)),
    };
    let shape = TwoAxisShape {
        n,
        p,
        q: q.unwrap_or(n),
        dim: D,
        laplace,
        scale,
        added: match self_mask {
            SelfMask::Exclude => None,
            SelfMask::AddDistance(d) => Some(f64::from(d)),
        },
    };
    let config = TwoAxisConfig {
        self_mask,
        evaluation: Evaluation::Streaming,
        ..TwoAxisConfig::new(kernel)
    };
    let queries = CloudView::<D>::from_coordinate_major(&x, n).unwrap();
    let positives = CloudView::<D>::from_coordinate_major(&y, p).unwrap();
    let negative_cloud = z
        .as_ref()
        .map(|z| CloudView::<D>::from_coordinate_major(z, shape.q).unwrap());
    let negatives = negative_cloud.map_or(Negatives::Queries, Negatives::Cloud);
    let mut scratch = vec![0.0; two_axis_vjp_scratch_len(n, p, shape.q)];
    let mut grad = vec![0.0; n * D];
    two_axis_vjp(
        &queries,
        &positives,
        negatives,
        &config,
        &u,
        &mut scratch,
        &mut grad,
    )
    .unwrap();

    let (x64, y64, u64_) = (to_f64(&x), to_f64(&y), to_f64(&u));
    let z64 = z.as_ref().map(|z| to_f64(z));
    let mut v32 = vec![0.0; n * D];
    let mut drift_scratch = vec![0.0; two_axis_scratch_len(n, p, shape.q)];
    two_axis_softmax_drift(
        &queries,
        &positives,
        negatives,
        &config,
        &mut drift_scratch,
        &mut v32,
    )
    .unwrap();
    let v64 = two_axis_f64(&x64, &y64, z64.as_deref(), shape);
    let drift_error = relative_error(&v32, &v64);
    assert!(drift_error < 1e-5, "reference drift off by {drift_error:e}");

    let fd = central_differences(&x64, |x| {
        dot(&two_axis_f64(x, &y64, z64.as_deref(), shape), &u64_)
    });
    let err = relative_error(&grad, &fd);
    println!(
        "two-axis {kernel:?} {self_mask:?} negatives {}: D = {D}, N = {n}: relative error {err:.2e}",
        if q.is_some() { "cloud" } else { "queries" }
    );
    err
}

#[test]
fn two_axis_vjp_equals_finite_differences() {
    let exclude = SelfMask::Exclude;
    let demo = SelfMask::OFFICIAL_DEMO;
    let errors = [
        // The queries as negatives, both masks, both kernels, partial SIMD blocks.
        two_axis_case::<2>(1, 13, 17, None, Kernel::laplace(0.4), exclude),
        two_axis_case::<2>(4, 13, 17, None, Kernel::gaussian(0.6), demo),
        two_axis_case::<3>(7, 21, 9, None, Kernel::gaussian(0.9), exclude),
        two_axis_case::<3>(10, 21, 9, None, Kernel::laplace(0.7), demo),
        // A mask distance small enough that the self-pair keeps a real affinity.
        two_axis_case::<2>(
            13,
            11,
            12,
            None,
            Kernel::laplace(0.5),
            SelfMask::AddDistance(0.3),
        ),
        two_axis_case::<3>(
            16,
            10,
            8,
            None,
            Kernel::gaussian(0.7),
            SelfMask::AddDistance(0.2),
        ),
        // The official demo's temperature.
        two_axis_case::<2>(19, 9, 30, None, Kernel::laplace(0.05), demo),
        // Separate negatives (data: no gradient flows to them).
        two_axis_case::<2>(22, 13, 10, Some(11), Kernel::laplace(0.3), exclude),
        two_axis_case::<3>(25, 17, 9, Some(19), Kernel::gaussian(0.8), exclude),
    ];
    for err in errors {
        assert!(err < 1e-5, "relative error {err:e}");
    }
}

// ---------------------------------------------------------------------------------------------
// The official multi-temperature drift (docs/mathematics.md §5) in f64.

struct Official<'a> {
    n: usize,
    p: usize,
    dim: usize,
    temperatures: &'a [f64],
    floor: f64,
    mask: f64,
    /// Weights of `[generated ; positives]`.
    weights: Vec<f64>,
}

/// `F` of the official `drift_loss`, coordinate-major, every step in `f64`.
fn official_f64(x: &[f64], y: &[f64], o: &Official<'_>) -> Vec<f64> {
    let (n, p, dim) = (o.n, o.p, o.dim);
    let m = n + p;
    let target = |j: usize| {
        if j < n {
            point(x, n, dim, j)
        } else {
            point(y, p, dim, j - n)
        }
    };
    let dist: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            let xi = point(x, n, dim, i);
            (0..m)
                .map(|j| squared_distance(&xi, &target(j)).max(1e-8).sqrt())
                .collect()
        })
        .collect();
    let weight_total: f64 = o.weights.iter().sum();
    let scale = (0..n)
        .map(|i| (0..m).map(|j| dist[i][j] * o.weights[j]).sum::<f64>())
        .sum::<f64>()
        / (n as f64 * weight_total);
    let input_scale = (scale / (dim as f64).sqrt()).max(1e-3);
    let clamped = scale.max(1e-3);
    let mut total = vec![0.0; n * dim];
    for &r in o.temperatures {
        let l: Vec<Vec<f64>> = (0..n)
            .map(|i| {
                (0..m)
                    .map(|j| {
                        let self_pair = if j == i { o.mask } else { 0.0 };
                        -(dist[i][j] / clamped + self_pair) / r
                    })
                    .collect()
            })
            .collect();
        let rows: Vec<f64> = l
            .iter()
            .map(|row| log_sum_exp(row.iter().copied()))
            .collect();
        let columns: Vec<f64> = (0..m)
            .map(|j| log_sum_exp(l.iter().map(|row| row[j])))
            .collect();
        let floor_logit = if o.floor > 0.0 {
            0.5 * o.floor.ln()
        } else {
            f64::NEG_INFINITY
        };
        let mut force = vec![0.0; n * dim];
        for i in 0..n {
            let a: Vec<f64> = (0..m)
                .map(|j| {
                    (l[i][j] - rows[i] / 2.0 - columns[j] / 2.0)
                        .max(floor_logit)
                        .exp()
                        * o.weights[j]
                })
                .collect();
            let s_neg: f64 = a[..n].iter().sum();
            let s_pos: f64 = a[n..].iter().sum();
            let xi = point(x, n, dim, i);
            for j in 0..m {
                let c = if j < n { -a[j] * s_pos } else { a[j] * s_neg };
                let t = target(j);
                for d in 0..dim {
                    force[d * n + i] += c * (t[d] - xi[d]) / input_scale;
                }
            }
        }
        let n_r = force.iter().map(|f| f * f).sum::<f64>() / (n * dim) as f64;
        let norm = n_r.max(1e-8).sqrt();
        for (t, f) in total.iter_mut().zip(&force) {
            *t += f / norm;
        }
    }
    total
}

fn multi_temperature_case<const D: usize>(
    seed: u64,
    n: usize,
    p: usize,
    temperatures: &[f32],
    floor: f32,
    weighted: bool,
) -> f64 {
    let x = normals(seed, n * D, 1.0, 0.0);
    let y = normals(seed + 1, p * D, 0.7, 0.5);
    let u = normals(seed + 2, n * D, 1.0, 0.0);
    let weights: Vec<f32> = if weighted {
        normals(seed + 3, n + p, 0.3, 1.0)
            .iter()
            .map(|w| w.abs() + 0.1)
            .collect()
    } else {
        vec![1.0; n + p]
    };
    let config = MultiTemperatureConfig {
        temperatures,
        affinity_floor: floor,
        negative_weights: weighted.then_some(&weights[..n]),
        positive_weights: weighted.then_some(&weights[n..]),
        evaluation: Evaluation::Streaming,
        ..MultiTemperatureConfig::official()
    };
    let queries = CloudView::<D>::from_coordinate_major(&x, n).unwrap();
    let positives = CloudView::<D>::from_coordinate_major(&y, p).unwrap();
    let mut scratch = vec![0.0; multi_temperature_vjp_scratch_len(n, p, D)];
    let mut grad = vec![0.0; n * D];
    multi_temperature_vjp(&queries, &positives, &config, &u, &mut scratch, &mut grad).unwrap();

    let (x64, y64, u64_) = (to_f64(&x), to_f64(&y), to_f64(&u));
    let temperatures64: Vec<f64> = temperatures.iter().map(|&r| f64::from(r)).collect();
    let official = Official {
        n,
        p,
        dim: D,
        temperatures: &temperatures64,
        floor: f64::from(floor),
        mask: f64::from(config.self_mask_distance),
        weights: to_f64(&weights),
    };
    let mut f32_field = vec![0.0; n * D];
    let mut drift_scratch = vec![0.0; multi_temperature_scratch_len(n, p, D)];
    multi_temperature_drift(
        &queries,
        &positives,
        &config,
        &mut drift_scratch,
        &mut f32_field,
    )
    .unwrap();
    let drift_error = relative_error(&f32_field, &official_f64(&x64, &y64, &official));
    assert!(drift_error < 1e-5, "reference drift off by {drift_error:e}");

    let fd = central_differences(&x64, |x| dot(&official_f64(x, &y64, &official), &u64_));
    let err = relative_error(&grad, &fd);
    println!(
        "multi-temperature R = {temperatures:?}, floor {floor}, weighted {weighted}: D = {D}, N = {n}: relative error {err:.2e}"
    );
    err
}

#[test]
fn multi_temperature_vjp_equals_finite_differences() {
    let errors = [
        multi_temperature_case::<2>(31, 13, 17, &[0.02, 0.05, 0.2], 1e-6, false),
        multi_temperature_case::<2>(34, 13, 17, &[0.05, 0.2], 0.0, false),
        multi_temperature_case::<3>(37, 21, 9, &[0.02, 0.05, 0.2], 1e-6, true),
        multi_temperature_case::<3>(40, 10, 12, &[0.1], 0.0, true),
        multi_temperature_case::<2>(43, 9, 30, &[0.03, 0.3], 1e-4, false),
    ];
    for err in errors {
        assert!(err < 1e-5, "relative error {err:e}");
    }
}

// ---------------------------------------------------------------------------------------------
// Properties.

/// The two products of the clouds of `seed` for the cotangent `u`.
fn both_products(seed: u64, u: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let (n, p) = (13, 17);
    let x = normals(seed, n * 2, 1.0, 0.0);
    let y = normals(seed + 1, p * 2, 0.7, 0.5);
    let queries = CloudView::<2>::from_coordinate_major(&x, n).unwrap();
    let positives = CloudView::<2>::from_coordinate_major(&y, p).unwrap();
    let mut two_axis = vec![0.0; n * 2];
    let mut scratch = vec![0.0; two_axis_vjp_scratch_len(n, p, n)];
    two_axis_vjp(
        &queries,
        &positives,
        Negatives::Queries,
        &TwoAxisConfig::official_demo(),
        u,
        &mut scratch,
        &mut two_axis,
    )
    .unwrap();
    let mut official = vec![0.0; n * 2];
    let mut scratch = vec![0.0; multi_temperature_vjp_scratch_len(n, p, 2)];
    multi_temperature_vjp(
        &queries,
        &positives,
        &MultiTemperatureConfig::official(),
        u,
        &mut scratch,
        &mut official,
    )
    .unwrap();
    (two_axis, official)
}

#[test]
fn vjps_are_linear_in_the_cotangent_and_vanish_at_zero() {
    let len = 13 * 2;
    let (u1, u2) = (normals(50, len, 1.0, 0.0), normals(51, len, 1.0, 0.0));
    let combined: Vec<f32> = u1.iter().zip(&u2).map(|(a, b)| 2.0 * a - 0.5 * b).collect();
    let (g1, h1) = both_products(52, &u1);
    let (g2, h2) = both_products(52, &u2);
    let (g, h) = both_products(52, &combined);
    for (got, first, second) in [(&g, &g1, &g2), (&h, &h1, &h2)] {
        let expected: Vec<f64> = first
            .iter()
            .zip(second.iter())
            .map(|(a, b)| 2.0 * f64::from(*a) - 0.5 * f64::from(*b))
            .collect();
        let err = relative_error(got, &expected);
        assert!(err < 1e-5, "linearity off by {err:e}");
    }
    let (g0, h0) = both_products(52, &vec![0.0; len]);
    assert!(g0.iter().chain(&h0).all(|&v| v == 0.0));
}

#[test]
fn two_axis_vjp_is_translation_invariant() {
    // Translating every cloud leaves V, hence its Jacobian, unchanged (displacement form).
    let (n, p) = (13, 17);
    let u = normals(60, n * 2, 1.0, 0.0);
    let mut grads = Vec::new();
    for shift in [0.0_f32, 3.0] {
        let x = normals(61, n * 2, 1.0, shift);
        let y = normals(62, p * 2, 0.7, 0.5 + shift);
        let queries = CloudView::<2>::from_coordinate_major(&x, n).unwrap();
        let positives = CloudView::<2>::from_coordinate_major(&y, p).unwrap();
        let mut grad = vec![0.0; n * 2];
        let mut scratch = vec![0.0; two_axis_vjp_scratch_len(n, p, n)];
        two_axis_vjp(
            &queries,
            &positives,
            Negatives::Queries,
            &TwoAxisConfig::new(Kernel::laplace(0.3)),
            &u,
            &mut scratch,
            &mut grad,
        )
        .unwrap();
        grads.push(grad);
    }
    let err = relative_error(&grads[1], &to_f64(&grads[0]));
    assert!(err < 1e-4, "translation changed the product by {err:e}");
}

#[test]
fn two_axis_and_multi_temperature_vjps_reject_bad_input() {
    let x = normals(70, 10, 1.0, 0.0);
    let q = CloudView::<2>::from_coordinate_major(&x, 5).unwrap();
    let u = vec![0.0; 10];
    let mut out = vec![0.0; 10];
    let config = TwoAxisConfig::new(Kernel::laplace(0.2));
    let mut scratch = vec![0.0; two_axis_vjp_scratch_len(5, 5, 5)];
    let call = |u: &[f32], scratch: &mut [f32], out: &mut [f32], config: &TwoAxisConfig| {
        two_axis_vjp(&q, &q, Negatives::Queries, config, u, scratch, out)
    };
    assert!(matches!(
        call(&u[..9], &mut scratch, &mut out, &config),
        Err(Error::ShapeMismatch {
            input: "cotangent",
            ..
        })
    ));
    assert!(matches!(
        call(&u, &mut scratch[..29], &mut out, &config),
        Err(Error::ScratchTooSmall { .. })
    ));
    let mut nan = u.clone();
    nan[3] = f32::NAN;
    assert_eq!(
        call(&nan, &mut scratch, &mut out, &config),
        Err(Error::NonFinite { input: "cotangent" })
    );
    let bad_mask = TwoAxisConfig {
        self_mask: SelfMask::AddDistance(-1.0),
        ..config
    };
    assert_eq!(
        call(&u, &mut scratch, &mut out, &bad_mask),
        Err(Error::InvalidParameter { input: "self_mask" })
    );
    assert!(matches!(
        call(&u, &mut scratch, &mut out[..9], &config),
        Err(Error::ShapeMismatch { input: "out", .. })
    ));

    let official = MultiTemperatureConfig::official();
    let mut scratch = vec![0.0; multi_temperature_vjp_scratch_len(5, 5, 2)];
    assert!(matches!(
        multi_temperature_vjp(&q, &q, &official, &u[..9], &mut scratch, &mut out),
        Err(Error::ShapeMismatch {
            input: "cotangent",
            ..
        })
    ));
    assert!(matches!(
        multi_temperature_vjp(&q, &q, &official, &u, &mut scratch[..10], &mut out),
        Err(Error::ScratchTooSmall { .. })
    ));
    let no_temperature = MultiTemperatureConfig {
        temperatures: &[],
        ..official
    };
    assert_eq!(
        multi_temperature_vjp(&q, &q, &no_temperature, &u, &mut scratch, &mut out),
        Err(Error::InvalidParameter {
            input: "temperatures"
        })
    );
    assert_eq!(
        multi_temperature_vjp(&q, &q, &official, &nan, &mut scratch, &mut out),
        Err(Error::NonFinite { input: "cotangent" })
    );
    assert_eq!(two_axis_vjp_scratch_len(usize::MAX, 1, 1), usize::MAX);
    assert_eq!(
        multi_temperature_vjp_scratch_len(1, 1, usize::MAX),
        usize::MAX
    );
}
