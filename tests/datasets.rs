//! The 2D datasets: support and moment checks that a wrong generator fails.
//! Monte-Carlo tolerances are 5 standard errors (of the mean: `√(Var/n)`; of a variance:
//! `√((μ₄ − σ⁴)/n)` bounded generously).

use drifting::{Dataset, Error};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

const N: usize = 200_000;

fn draw(dataset: Dataset, seed: u64, n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut out = vec![0.0_f32; 2 * n];
    dataset.sample(&mut rng, &mut out, n).unwrap();
    let xs = out[..n].iter().map(|&v| f64::from(v)).collect();
    let ys = out[n..].iter().map(|&v| f64::from(v)).collect();
    (xs, ys)
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn covariance(a: &[f64], b: &[f64]) -> f64 {
    let (ma, mb) = (mean(a), mean(b));
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - ma) * (y - mb))
        .sum::<f64>()
        / a.len() as f64
}

fn assert_close(name: &str, got: f64, want: f64, tolerance: f64) {
    assert!(
        (got - want).abs() <= tolerance,
        "{name}: {got} vs {want} (tolerance {tolerance})"
    );
}

/// Without noise every checkerboard point lies in an occupied cell (`i + j` even); with the
/// official noise the moments are `E x = 0`, `Var x_d = 1/3 + 0.05²`, `Cov = 1/16` (the shared
/// bit `b`; independent cells would give 0).
#[test]
fn checkerboard_occupies_the_even_cells() {
    let (xs, ys) = draw(Dataset::Checkerboard { noise: 0.0 }, 1, 20_000);
    let mut counts = [0usize; 16];
    for (&x, &y) in xs.iter().zip(&ys) {
        assert!((-1.0..1.0).contains(&x) && (-1.0..1.0).contains(&y));
        let i = ((x + 1.0) / 0.5).floor() as usize;
        let j = ((y + 1.0) / 0.5).floor() as usize;
        assert_eq!((i + j) % 2, 0, "point ({x}, {y}) in cell ({i}, {j})");
        counts[4 * i + j] += 1;
    }
    // Each of the 8 occupied cells holds 1/8 of the points (binomial sd ≈ 47).
    for (c, &count) in counts.iter().enumerate() {
        if (c / 4 + c % 4) % 2 == 0 {
            assert!((count as f64 - 2500.0).abs() < 250.0, "cell {c}: {count}");
        }
    }
    let (xs, ys) = draw(Dataset::checkerboard(), 2, N);
    let var = 1.0 / 3.0 + 0.05 * 0.05;
    let se = (var / N as f64).sqrt();
    assert_close("E x", mean(&xs), 0.0, 5.0 * se);
    assert_close("E y", mean(&ys), 0.0, 5.0 * se);
    assert_close(
        "Var x",
        covariance(&xs, &xs),
        var,
        5.0 * (0.1 / N as f64).sqrt(),
    );
    assert_close(
        "Var y",
        covariance(&ys, &ys),
        var,
        5.0 * (0.1 / N as f64).sqrt(),
    );
    assert_close(
        "Cov",
        covariance(&xs, &ys),
        1.0 / 16.0,
        5.0 * (0.12 / N as f64).sqrt(),
    );
}

/// Without noise a swiss-roll point at parameter `t` has radius `t/(9π/2)` and angle `t`
/// (mod 2π); `t = π/2 + 4πu` is uniform, so the mean radius is `(5π/2)/(9π/2) = 5/9` and the
/// radius variance `(4π)²/12/(9π/2)²`.
#[test]
fn swiss_roll_radius_follows_the_angle() {
    let scale = 4.5 * std::f64::consts::PI;
    let (xs, ys) = draw(Dataset::SwissRoll { noise: 0.0 }, 3, N);
    let mut radii = Vec::with_capacity(N);
    for (&x, &y) in xs.iter().zip(&ys) {
        assert!(x.abs() <= 1.0 + 1e-6 && y.abs() <= 1.0 + 1e-6);
        let r = x.hypot(y);
        let t = r * scale;
        assert!((0.5 * std::f64::consts::PI - 1e-4..=scale + 1e-4).contains(&t));
        let angle = y.atan2(x);
        let turn = (t - angle) / std::f64::consts::TAU;
        assert!(
            (turn - turn.round()).abs() < 1e-5,
            "r = {r}, angle {angle}: t − angle = {turn} turns"
        );
        radii.push(r);
    }
    let var = (4.0 * std::f64::consts::PI).powi(2) / 12.0 / scale.powi(2);
    assert_close(
        "E r",
        mean(&radii),
        5.0 / 9.0,
        5.0 * (var / N as f64).sqrt(),
    );
    assert_close(
        "Var r",
        covariance(&radii, &radii),
        var,
        5.0 * (0.01 / N as f64).sqrt(),
    );
    // With the official noise the mean radius is unchanged to first order, points leave [−1, 1]
    // only by the noise.
    let (xs, ys) = draw(Dataset::swiss_roll(), 4, N);
    assert!(xs.iter().chain(&ys).all(|v| v.abs() < 1.0 + 6.0 * 0.03));
}

/// Without noise each moon point lies on its circle (radius 2/3 after scaling): the upper moon
/// centred at `(−1/3, −1/6)` above its centre, the lower one at `(1/3, 1/6)` below it; the set is
/// centred (`E = 0`) and half the points are on each moon.
#[test]
fn two_moons_lie_on_their_half_circles() {
    let (xs, ys) = draw(Dataset::TwoMoons { noise: 0.0 }, 5, N);
    let mut upper = 0usize;
    for (&x, &y) in xs.iter().zip(&ys) {
        let on_upper = ((x + 1.0 / 3.0).hypot(y + 1.0 / 6.0) - 2.0 / 3.0).abs() < 1e-5
            && y >= -1.0 / 6.0 - 1e-6;
        let on_lower = ((x - 1.0 / 3.0).hypot(y - 1.0 / 6.0) - 2.0 / 3.0).abs() < 1e-5
            && y <= 1.0 / 6.0 + 1e-6;
        assert!(on_upper || on_lower, "({x}, {y}) on neither moon");
        upper += usize::from(on_upper);
    }
    let half = N as f64 / 2.0;
    assert!((upper as f64 - half).abs() < 5.0 * half.sqrt() / 1.0);
    // Var x ≤ 4/9·(1/2) + (1/3)² bounds the standard error loosely by √(0.5/N).
    let se = (0.5 / N as f64).sqrt();
    assert_close("E x", mean(&xs), 0.0, 5.0 * se);
    assert_close("E y", mean(&ys), 0.0, 5.0 * se);
}

/// Mode counts, per-mode means and variances of the Gaussian mixtures: each point is assigned to
/// the nearest mean (modes far apart relative to their std), every mode gets `1/K` of the points,
/// its sample mean is the mode's mean and its per-coordinate variance `std²`.
fn check_mixture(dataset: Dataset, means: &[[f64; 2]], std: f64, seed: u64) {
    let (xs, ys) = draw(dataset, seed, N);
    let k = means.len();
    let mut sums = vec![[0.0_f64; 4]; k];
    let mut counts = vec![0usize; k];
    for (&x, &y) in xs.iter().zip(&ys) {
        let (best, _) = means
            .iter()
            .enumerate()
            .map(|(i, m)| (i, (x - m[0]).hypot(y - m[1])))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        counts[best] += 1;
        let d = [x - means[best][0], y - means[best][1]];
        sums[best][0] += d[0];
        sums[best][1] += d[1];
        sums[best][2] += d[0] * d[0];
        sums[best][3] += d[1] * d[1];
    }
    let expected = N as f64 / k as f64;
    for (c, (&count, s)) in counts.iter().zip(&sums).enumerate() {
        assert!(
            (count as f64 - expected).abs() < 5.0 * expected.sqrt(),
            "{}: mode {c} has {count} points, expected {expected}",
            dataset.name()
        );
        let n = count as f64;
        for d in 0..2 {
            assert_close("mode mean", s[d] / n, 0.0, 5.0 * std / n.sqrt() + 1e-12);
            let var = s[2 + d] / n;
            assert_close(
                "mode variance",
                var,
                std * std,
                5.0 * std * std * (2.0 / n).sqrt() + 1e-12,
            );
        }
    }
}

#[test]
fn ring_of_gaussians_has_equal_modes_on_the_circle() {
    let means: Vec<[f64; 2]> = (0..8)
        .map(|k| {
            let a = std::f64::consts::TAU * k as f64 / 8.0;
            [a.cos(), a.sin()]
        })
        .collect();
    check_mixture(Dataset::ring_of_gaussians(), &means, 0.04, 6);
    let five: Vec<[f64; 2]> = (0..5)
        .map(|k| {
            let a = std::f64::consts::TAU * k as f64 / 5.0;
            [3.0 * a.cos(), 3.0 * a.sin()]
        })
        .collect();
    let ring5 = Dataset::RingOfGaussians {
        modes: 5,
        radius: 3.0,
        std: 0.2,
    };
    check_mixture(ring5, &five, 0.2, 7);
}

#[test]
fn eight_gaussians_follow_ffjord() {
    let r = 4.0 / 2.0_f64.sqrt();
    let means: Vec<[f64; 2]> = (0..8)
        .map(|k| {
            let a = std::f64::consts::TAU * k as f64 / 8.0;
            [r * a.cos(), r * a.sin()]
        })
        .collect();
    check_mixture(Dataset::eight_gaussians(), &means, 0.5 / 2.0_f64.sqrt(), 8);
}

/// The first paper's mixture: means (±1, ±1), std 0.3; overall `Var x_d = 1 + 0.09`.
#[test]
fn four_mode_mixture_matches_the_score_test() {
    let means = [[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]];
    check_mixture(Dataset::four_mode_mixture(), &means, 0.3, 9);
    let (xs, ys) = draw(Dataset::four_mode_mixture(), 10, N);
    let se = (1.09 / N as f64).sqrt();
    assert_close("E x", mean(&xs), 0.0, 5.0 * se);
    assert_close(
        "Var y",
        covariance(&ys, &ys),
        1.09,
        5.0 * (2.5 / N as f64).sqrt(),
    );
}

/// Same seed, same points; typed errors for a wrong buffer or a bad parameter.
#[test]
fn sampling_is_reproducible_and_validated() {
    assert_eq!(
        draw(Dataset::checkerboard(), 11, 100),
        draw(Dataset::checkerboard(), 11, 100)
    );
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
    let mut out = vec![0.0_f32; 9];
    assert_eq!(
        Dataset::swiss_roll().sample(&mut rng, &mut out, 5),
        Err(Error::ShapeMismatch {
            input: "out",
            expected: 10,
            found: 9
        })
    );
    let mut out = vec![0.0_f32; 10];
    for (bad, name) in [
        (Dataset::Checkerboard { noise: -0.1 }, "noise"),
        (Dataset::TwoMoons { noise: f32::NAN }, "noise"),
        (
            Dataset::RingOfGaussians {
                modes: 0,
                radius: 1.0,
                std: 0.1,
            },
            "modes",
        ),
        (
            Dataset::RingOfGaussians {
                modes: 3,
                radius: f32::INFINITY,
                std: 0.1,
            },
            "radius",
        ),
        (
            Dataset::EightGaussians {
                scale: 4.0,
                std: -1.0,
            },
            "std",
        ),
        (Dataset::FourModeMixture { std: f32::NAN }, "std"),
    ] {
        assert_eq!(
            bad.sample(&mut rng, &mut out, 5),
            Err(Error::InvalidParameter { input: name })
        );
    }
    assert!(out.iter().all(|&v| v == 0.0));
    Dataset::four_mode_mixture()
        .sample(&mut rng, &mut [], 0)
        .unwrap();
}
