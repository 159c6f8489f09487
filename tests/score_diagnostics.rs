//! Score diagnostics (docs/mathematics.md §8) against a scalar `f64` transcription of the formulas,
//! and their exact properties: the Gaussian residual vanishes (Tweedie), the Laplace residual
//! vanishes when every partner is at the same distance, and the alignment measures.
//!
//! Tolerance: `2e-5` relative to each field's largest entry (one `exp` per pair in `f32`,
//! `f32` accumulation over ≤ 300 partners).

use drifting::sample::fill_standard_normal;
use drifting::score::{
    ScoreFields, cosine_alignment, least_squares_scale, relative_error, score_diagnostics,
};
use drifting::{CloudView, Error, Kernel};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

fn cloud<const D: usize>(seed: u64, n: usize, scale: f32, shift: f32) -> Vec<[f32; D]> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut flat = vec![0.0; n * D];
    fill_standard_normal(&mut rng, &mut flat);
    flat.chunks_exact(D)
        .map(|c| std::array::from_fn(|d| c[d] * scale + shift))
        .collect()
}

struct Fields {
    score: Vec<f32>,
    mean_shift: Vec<f32>,
    preconditioner: Vec<f32>,
    residual: Vec<f32>,
}

fn run<const D: usize>(queries: &[[f32; D]], data: &[[f32; D]], kernel: Kernel) -> Fields {
    let n = queries.len();
    let mut f = Fields {
        score: vec![0.0; n * D],
        mean_shift: vec![0.0; n * D],
        preconditioner: vec![0.0; n],
        residual: vec![0.0; n * D],
    };
    score_diagnostics(
        &CloudView::from_points(queries),
        &CloudView::from_points(data),
        &kernel,
        &mut ScoreFields {
            score: &mut f.score,
            mean_shift: &mut f.mean_shift,
            preconditioner: &mut f.preconditioner,
            residual: &mut f.residual,
        },
    )
    .unwrap();
    f
}

/// `f64` reference: (score, mean shift, pre-conditioner) per query.
fn reference<const D: usize>(
    queries: &[[f32; D]],
    data: &[[f32; D]],
    laplace: bool,
    scale: f64,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let n = queries.len();
    let (mut score, mut shift, mut pre) = (vec![0.0; n * D], vec![0.0; n * D], vec![0.0; n]);
    for (i, q) in queries.iter().enumerate() {
        let x: Vec<f64> = q.iter().map(|&v| f64::from(v)).collect();
        let dists: Vec<f64> = data
            .iter()
            .map(|y| {
                y.iter()
                    .zip(&x)
                    .map(|(a, b)| (f64::from(*a) - b).powi(2))
                    .sum::<f64>()
                    .sqrt()
            })
            .collect();
        let logits: Vec<f64> = dists
            .iter()
            .map(|r| {
                if laplace {
                    -r / scale
                } else {
                    -r * r / (2.0 * scale * scale)
                }
            })
            .collect();
        let m = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let total: f64 = logits.iter().map(|l| (l - m).exp()).sum();
        let mut rho = 0.0;
        for ((y, l), r) in data.iter().zip(&logits).zip(&dists) {
            let w = (l - m).exp() / total;
            rho += w * r;
            for d in 0..D {
                let disp = f64::from(y[d]) - x[d];
                shift[d * n + i] += w * disp;
                score[d * n + i] += if laplace {
                    if *r > 0.0 {
                        w * disp / (scale * r)
                    } else {
                        0.0
                    }
                } else {
                    w * disp / (scale * scale)
                };
            }
        }
        pre[i] = if laplace { scale * rho } else { scale * scale };
    }
    (score, shift, pre)
}

fn rel(got: &[f32], want: &[f64]) -> f64 {
    let scale = want.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    got.iter()
        .zip(want)
        .fold(0.0_f64, |m, (g, w)| m.max((f64::from(*g) - w).abs()))
        / scale
}

#[test]
fn fields_match_the_f64_reference() {
    let queries = cloud::<2>(1, 157, 1.0, 0.0);
    let data = cloud::<2>(2, 263, 0.7, 0.4);
    for (kernel, laplace, scale) in [
        (Kernel::laplace(0.3), true, 0.3),
        (Kernel::gaussian(0.5), false, 0.5),
    ] {
        let f = run(&queries, &data, kernel);
        let (score, shift, pre) = reference(&queries, &data, laplace, scale);
        assert!(
            rel(&f.score, &score) < 2e-5,
            "score {:e}",
            rel(&f.score, &score)
        );
        assert!(rel(&f.mean_shift, &shift) < 2e-5);
        assert!(rel(&f.preconditioner, &pre) < 2e-5);
        let n = queries.len();
        let residual: Vec<f64> = (0..2 * n)
            .map(|k| shift[k] - pre[k % n] * score[k])
            .collect();
        // The residual is a difference of nearby quantities: judged against the mean shift.
        let scale = shift.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        let err = f
            .residual
            .iter()
            .zip(&residual)
            .fold(0.0_f64, |m, (g, w)| m.max((f64::from(*g) - w).abs()));
        assert!(err / scale < 2e-5, "residual {:e}", err / scale);
    }
    let (q16, d16) = (cloud::<16>(3, 40, 1.0, 0.0), cloud::<16>(4, 90, 1.0, 0.2));
    let f = run(&q16, &d16, Kernel::laplace(4.0));
    let (score, _, _) = reference(&q16, &d16, true, 4.0);
    assert!(rel(&f.score, &score) < 2e-5);
}

#[test]
fn gaussian_residual_vanishes_and_laplace_residual_vanishes_on_a_sphere() {
    let queries = cloud::<2>(5, 64, 1.0, 0.0);
    let data = cloud::<2>(6, 100, 1.0, 0.0);
    let f = run(&queries, &data, Kernel::gaussian(0.6));
    let largest = f.mean_shift.iter().fold(0.0_f32, |m, v| m.max(v.abs()));
    assert!(f.residual.iter().all(|r| r.abs() <= 1e-6 * largest));
    assert!(f.preconditioner.iter().all(|c| (c - 0.36).abs() < 1e-7));

    // Data on a circle of radius 0.5 around the query: ρ = 0.5 and m = τ ρ s exactly.
    let ring: Vec<[f32; 2]> = (0..24)
        .map(|k| {
            let a = std::f32::consts::TAU * k as f32 / 24.0 + 0.1;
            [1.0 + 0.5 * a.cos(), -2.0 + 0.5 * a.sin() * 0.999]
        })
        .collect();
    let f = run(&[[1.0_f32, -2.0]], &ring, Kernel::laplace(0.2));
    assert!((f.preconditioner[0] - 0.2 * 0.5).abs() < 1e-4);
    let m = f.mean_shift.iter().fold(0.0_f32, |a, v| a.max(v.abs()));
    assert!(f.residual.iter().all(|r| r.abs() <= 1e-3 * m.max(1e-3)));
}

#[test]
fn alignment_measures() {
    let a = [1.0_f32, -2.0, 0.5, 3.0];
    let twice: Vec<f32> = a.iter().map(|v| 2.0 * v).collect();
    assert!((cosine_alignment(&a, &twice).unwrap() - 1.0).abs() < 1e-12);
    let minus: Vec<f32> = a.iter().map(|v| -v).collect();
    assert!((cosine_alignment(&a, &minus).unwrap() + 1.0).abs() < 1e-12);
    assert!((least_squares_scale(&twice, &a).unwrap() - 2.0).abs() < 1e-12);
    assert!((relative_error(&twice, &a).unwrap() - 1.0).abs() < 1e-12);
    assert_eq!(cosine_alignment(&a, &[0.0; 4]), None);
    assert_eq!(least_squares_scale(&a, &a[..3]), None);
    let orthogonal = [2.0_f32, 1.0, 0.0, 0.0];
    assert!(cosine_alignment(&a[..2], &orthogonal[..2]).unwrap().abs() < 1e-12);
}

#[test]
fn bad_input_is_a_typed_error() {
    let q = cloud::<2>(7, 5, 1.0, 0.0);
    let (mut s, mut m, mut c, mut r) = (vec![0.0; 10], vec![0.0; 10], vec![0.0; 5], vec![0.0; 9]);
    let view = CloudView::from_points(&q);
    let mut fields = ScoreFields {
        score: &mut s,
        mean_shift: &mut m,
        preconditioner: &mut c,
        residual: &mut r,
    };
    assert!(matches!(
        score_diagnostics(&view, &view, &Kernel::laplace(0.1), &mut fields),
        Err(Error::ShapeMismatch {
            input: "residual",
            ..
        })
    ));
    let mut r = vec![0.0; 10];
    fields.residual = &mut r;
    assert_eq!(
        score_diagnostics(&view, &view, &Kernel::gaussian(-1.0), &mut fields),
        Err(Error::InvalidParameter { input: "bandwidth" })
    );
    let empty: [[f32; 2]; 0] = [];
    assert!(matches!(
        score_diagnostics(
            &view,
            &CloudView::from_points(&empty),
            &Kernel::laplace(0.1),
            &mut fields
        ),
        Err(Error::EmptyCloud { .. })
    ));
}
