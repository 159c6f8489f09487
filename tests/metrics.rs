//! Metrics against plain `f64` references (same directions for the sliced Wasserstein distance),
//! exact laws (identical clouds, permutations, shifts) and typed errors.

use drifting::metrics::{
    MmdConfig, SlicedWassersteinConfig, WassersteinPower, data_floor, energy_distance, mmd,
    random_direction, sliced_wasserstein, sliced_wasserstein_scratch_len,
};
use drifting::{CloudView, Dataset, Error};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

fn sample(dataset: Dataset, seed: u64, n: usize) -> Vec<f32> {
    let mut out = vec![0.0_f32; 2 * n];
    dataset
        .sample(&mut Xoshiro256PlusPlus::seed_from_u64(seed), &mut out, n)
        .unwrap();
    out
}

fn view(data: &[f32]) -> CloudView<'_, 2> {
    CloudView::from_coordinate_major(data, data.len() / 2).unwrap()
}

fn point(data: &[f32], i: usize) -> [f64; 2] {
    let n = data.len() / 2;
    [f64::from(data[i]), f64::from(data[n + i])]
}

/// Plain `f64` sliced Wasserstein with the same `f32` directions, drawn the same way.
fn reference_swd(
    x: &[f32],
    y: &[f32],
    directions: usize,
    power: WassersteinPower,
    seed: u64,
) -> f64 {
    let n = x.len() / 2;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut total = 0.0;
    for _ in 0..directions {
        let theta = random_direction::<2, _>(&mut rng).map(f64::from);
        let project = |c: &[f32]| {
            let mut p: Vec<f64> = (0..n)
                .map(|i| {
                    let q = point(c, i);
                    theta[0] * q[0] + theta[1] * q[1]
                })
                .collect();
            p.sort_by(f64::total_cmp);
            p
        };
        let (a, b) = (project(x), project(y));
        total += a
            .iter()
            .zip(&b)
            .map(|(p, q)| match power {
                WassersteinPower::One => (p - q).abs(),
                WassersteinPower::Two => (p - q).powi(2),
            })
            .sum::<f64>()
            / n as f64;
    }
    let mean = total / directions as f64;
    match power {
        WassersteinPower::One => mean,
        WassersteinPower::Two => mean.sqrt(),
    }
}

fn swd(x: &[f32], y: &[f32], directions: usize, power: WassersteinPower, seed: u64) -> f64 {
    let n = x.len() / 2;
    let mut scratch = vec![0.0_f32; sliced_wasserstein_scratch_len(n)];
    let config = SlicedWassersteinConfig { directions, power };
    sliced_wasserstein(
        &view(x),
        &view(y),
        &config,
        &mut Xoshiro256PlusPlus::seed_from_u64(seed),
        &mut scratch,
    )
    .unwrap()
}

/// Against the `f64` reference with the same directions: relative error below `1e-5` (the
/// projections are `f32` dot products, about `1e-7` relative each; measured ≈ 1e-7), for both
/// powers, on checkerboard vs swiss roll (n = 1000, L = 200).
#[test]
fn sliced_wasserstein_matches_f64_reference() {
    let x = sample(Dataset::checkerboard(), 1, 1000);
    let y = sample(Dataset::swiss_roll(), 2, 1000);
    for power in [WassersteinPower::One, WassersteinPower::Two] {
        let got = swd(&x, &y, 200, power, 7);
        let want = reference_swd(&x, &y, 200, power, 7);
        let rel = (got - want).abs() / want;
        println!("SW {power:?}: {got} vs f64 {want}, relative error {rel:.2e}");
        assert!(rel < 1e-5, "{power:?}: {got} vs {want}");
    }
}

/// Identical clouds give exactly 0; permuting either cloud (or changing its layout) changes
/// nothing, bit for bit.
#[test]
fn sliced_wasserstein_is_exact_on_identical_and_permuted_clouds() {
    let n = 777;
    let x = sample(Dataset::two_moons(), 3, n);
    let y = sample(Dataset::ring_of_gaussians(), 4, n);
    for power in [WassersteinPower::One, WassersteinPower::Two] {
        assert_eq!(swd(&x, &x, 50, power, 1), 0.0);
    }
    // Reverse the order of the points of x; view y as a slice of points.
    let mut reversed = vec![0.0_f32; 2 * n];
    for i in 0..n {
        reversed[n - 1 - i] = x[i];
        reversed[2 * n - 1 - i] = x[n + i];
    }
    let points: Vec<[f32; 2]> = (0..n).map(|i| [y[i], y[n + i]]).collect();
    let config = SlicedWassersteinConfig::default();
    let mut scratch = vec![0.0_f32; 2 * n];
    let a = sliced_wasserstein(
        &view(&x),
        &view(&y),
        &config,
        &mut Xoshiro256PlusPlus::seed_from_u64(9),
        &mut scratch,
    )
    .unwrap();
    let b = sliced_wasserstein(
        &view(&reversed),
        &CloudView::from_points(&points),
        &config,
        &mut Xoshiro256PlusPlus::seed_from_u64(9),
        &mut scratch,
    )
    .unwrap();
    assert_eq!(a.to_bits(), b.to_bits());
}

/// `Y = X + t`: each direction's sorted projections differ by `θ·t`, so with the same directions
/// `SW₁ = mean |θ·t|`, `SW₂² = mean (θ·t)²` (relative error below 1e-4: the shifted
/// projections are rounded in `f32`); over random directions these average to `‖t‖·2/π` and
/// `‖t‖²/2` in 2D (tolerance 5 standard errors of the L = 2000-direction mean).
#[test]
fn sliced_wasserstein_of_a_shift_has_the_closed_form() {
    let n = 500;
    let t = [0.3_f32, -0.4];
    let x = sample(Dataset::checkerboard(), 5, n);
    let mut y = x.clone();
    for i in 0..n {
        y[i] += t[0];
        y[n + i] += t[1];
    }
    let directions = 2000;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
    let shifts: Vec<f64> = (0..directions)
        .map(|_| {
            let th = random_direction::<2, _>(&mut rng);
            f64::from(th[0]) * f64::from(t[0]) + f64::from(th[1]) * f64::from(t[1])
        })
        .collect();
    let sw1_same = shifts.iter().map(|s| s.abs()).sum::<f64>() / directions as f64;
    let sw2_same = (shifts.iter().map(|s| s * s).sum::<f64>() / directions as f64).sqrt();
    let sw1 = swd(&x, &y, directions, WassersteinPower::One, 11);
    let sw2 = swd(&x, &y, directions, WassersteinPower::Two, 11);
    assert!((sw1 / sw1_same - 1.0).abs() < 1e-4, "{sw1} vs {sw1_same}");
    assert!((sw2 / sw2_same - 1.0).abs() < 1e-4, "{sw2} vs {sw2_same}");
    // Expectations over θ uniform on the circle, ‖t‖ = 0.5: E|θ·t| = 0.5·2/π, E(θ·t)² = 0.25/2;
    // per-direction sds: √(0.125 − (1/π)²) ≈ 0.155 and √(3/8·0.0625 − 0.125²) ≈ 0.088.
    let se = (directions as f64).sqrt();
    assert!(
        (sw1 - 1.0 / std::f64::consts::PI).abs() < 5.0 * 0.155 / se,
        "{sw1}"
    );
    assert!((sw2 * sw2 - 0.125).abs() < 5.0 * 0.088 / se, "{sw2}");
}

/// Plain `f64` unbiased MMD² with a sum of Gaussian kernels.
fn reference_mmd(x: &[f32], y: &[f32], bandwidths: &[f32]) -> [f64; 4] {
    let k = |a: [f64; 2], b: [f64; 2]| {
        let sq = (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2);
        bandwidths
            .iter()
            .map(|&s| (-sq / (2.0 * f64::from(s) * f64::from(s))).exp())
            .sum::<f64>()
    };
    pair_means(x, y, k)
}

/// (value, within_x, within_y, cross) with within means over i ≠ j; value = wx + wy − 2c.
fn pair_means(x: &[f32], y: &[f32], h: impl Fn([f64; 2], [f64; 2]) -> f64) -> [f64; 4] {
    let (n, m) = (x.len() / 2, y.len() / 2);
    let within = |c: &[f32], len: usize| {
        let mut s = 0.0;
        for i in 0..len {
            for j in 0..len {
                if i != j {
                    s += h(point(c, i), point(c, j));
                }
            }
        }
        s / (len * (len - 1)) as f64
    };
    let (wx, wy) = (within(x, n), within(y, m));
    let mut c = 0.0;
    for i in 0..n {
        for j in 0..m {
            c += h(point(x, i), point(y, j));
        }
    }
    let c = c / (n * m) as f64;
    [wx + wy - 2.0 * c, wx, wy, c]
}

/// Against the `f64` reference (N = 600, M = 450, default bandwidths and a single wide one):
/// each pair mean within `1e-6` relative, and the statistic within `1e-6` of the size of its
/// terms (`f32` kernels from the crate's 2-ulp `exp`, `f64` sums; measured ≈ 1e-8).
#[test]
fn mmd_matches_f64_reference() {
    let x = sample(Dataset::checkerboard(), 21, 600);
    let y = sample(Dataset::swiss_roll(), 22, 450);
    for bandwidths in [&[0.01_f32, 0.05, 0.1, 0.5, 1.0][..], &[0.7][..]] {
        let got = mmd(&view(&x), &view(&y), &MmdConfig { bandwidths }).unwrap();
        let want = reference_mmd(&x, &y, bandwidths);
        let terms = [got.within_first, got.within_second, got.cross];
        for (g, w) in terms.iter().zip(&want[1..]) {
            assert!((g - w).abs() <= 1e-6 * w.abs(), "{g} vs {w}");
        }
        let scale = want[1] + want[2] + 2.0 * want[3];
        let err = (got.value - want[0]).abs() / scale;
        println!(
            "MMD² {bandwidths:?}: {} vs f64 {}, error/scale {err:.2e}",
            got.value, want[0]
        );
        assert!(err < 1e-6);
    }
}

/// MMD(X, X): the cross mean includes the diagonal (`B` per point), so the unbiased statistic
/// is `2·w·(1 − (N−1)/N) − 2B/N` exactly in terms of the within mean `w`; and for independent
/// samples of one distribution the unbiased estimator is centred on 0: the mean over 20 pairs
/// of samples lies within 4 standard errors of 0, while a shift by 0.25 (half a cell) is more
/// than 10 standard deviations above it.
#[test]
fn mmd_is_unbiased_and_detects_a_shift() {
    let config = MmdConfig::default();
    let b = config.bandwidths.len() as f64;
    let x = sample(Dataset::four_mode_mixture(), 30, 300);
    let same = mmd(&view(&x), &view(&x), &config).unwrap();
    let n = 300.0;
    let w = same.within_first;
    let want = 2.0 * w - 2.0 * ((n - 1.0) * w + b) / n;
    assert!((same.value - want).abs() < 1e-6, "{} vs {want}", same.value);

    let runs = 20;
    let values: Vec<f64> = (0..runs)
        .map(|r| {
            let x = sample(Dataset::checkerboard(), 100 + r, 400);
            let y = sample(Dataset::checkerboard(), 200 + r, 400);
            mmd(&view(&x), &view(&y), &config).unwrap().value
        })
        .collect();
    let mean = values.iter().sum::<f64>() / runs as f64;
    let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (runs - 1) as f64).sqrt();
    let se = sd / (runs as f64).sqrt();
    println!("unbiased MMD² over {runs} pairs: mean {mean:.3e}, se {se:.3e}");
    assert!(mean.abs() < 4.0 * se, "mean {mean}, se {se}");
    let x = sample(Dataset::checkerboard(), 300, 400);
    let mut y = sample(Dataset::checkerboard(), 301, 400);
    y[..400].iter_mut().for_each(|v| *v += 0.25);
    let shifted = mmd(&view(&x), &view(&y), &config).unwrap().value;
    assert!(
        shifted > mean + 10.0 * sd,
        "shift: {shifted} vs noise {mean} ± {sd}"
    );
}

/// Energy distance against the `f64` reference (1e-6 relative per mean), exactly the closed
/// form on identical clouds (`2S/N² − 2S/(N(N−1))` with `S = Σ_{i≠j} d`), and permutation
/// invariant.
#[test]
fn energy_distance_matches_f64_reference() {
    let x = sample(Dataset::eight_gaussians(), 40, 500);
    let y = sample(Dataset::ring_of_gaussians(), 41, 350);
    let got = energy_distance(&view(&x), &view(&y)).unwrap();
    let want = pair_means(&x, &y, |a, b| (a[0] - b[0]).hypot(a[1] - b[1]));
    for (g, w) in [got.within_first, got.within_second, got.cross]
        .iter()
        .zip(&want[1..])
    {
        assert!((g - w).abs() <= 1e-6 * w, "{g} vs {w}");
    }
    let value = 2.0 * want[3] - want[1] - want[2];
    assert!((got.value - value).abs() <= 1e-6 * (want[1] + want[2] + 2.0 * want[3]));

    let same = energy_distance(&view(&x), &view(&x)).unwrap();
    let n = 500.0;
    let s = same.within_first * n * (n - 1.0);
    let closed = 2.0 * s / (n * n) - 2.0 * s / (n * (n - 1.0));
    assert!(
        (same.value - closed).abs() < 1e-9 * s / n,
        "{} vs {closed}",
        same.value
    );

    let mut reversed = x.clone();
    reversed[..500].reverse();
    reversed[500..].reverse();
    let permuted = energy_distance(&view(&reversed), &view(&y)).unwrap();
    assert!((permuted.value - got.value).abs() < 1e-9 * got.cross);
}

/// The floor between two data samples is small next to a clearly wrong model (checkerboard
/// against a swiss roll).
#[test]
fn data_floor_is_below_a_wrong_model() {
    let n = 1000;
    let (mut a, mut b) = (vec![0.0_f32; 2 * n], vec![0.0_f32; 2 * n]);
    let mut scratch = vec![0.0_f32; 2 * n];
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(50);
    let floor = data_floor(
        &Dataset::checkerboard(),
        &mut rng,
        n,
        &mut a,
        &mut b,
        |x, y| {
            sliced_wasserstein(
                &x,
                &y,
                &SlicedWassersteinConfig::default(),
                &mut Xoshiro256PlusPlus::seed_from_u64(1),
                &mut scratch,
            )
        },
    )
    .unwrap();
    let data = sample(Dataset::checkerboard(), 51, n);
    let wrong = sample(Dataset::swiss_roll(), 52, n);
    let model = swd(&data, &wrong, 200, WassersteinPower::Two, 1);
    println!("SW₂ floor {floor:.4}, swiss roll vs checkerboard {model:.4}");
    assert!(floor > 0.0 && floor < model / 4.0, "{floor} vs {model}");
}

#[test]
fn bad_input_gives_typed_errors() {
    let x = sample(Dataset::checkerboard(), 60, 10);
    let y = sample(Dataset::checkerboard(), 61, 9);
    let mut scratch = vec![0.0_f32; 20];
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
    let config = SlicedWassersteinConfig::default();
    let empty: [[f32; 2]; 0] = [];
    let empty = CloudView::from_points(&empty);
    assert_eq!(
        sliced_wasserstein(&view(&x), &view(&y), &config, &mut rng, &mut scratch),
        Err(Error::ShapeMismatch {
            input: "y",
            expected: 10,
            found: 9
        })
    );
    assert_eq!(
        sliced_wasserstein(&view(&x), &view(&x), &config, &mut rng, &mut scratch[..19]),
        Err(Error::ScratchTooSmall {
            input: "scratch",
            required: 20,
            provided: 19
        })
    );
    assert_eq!(
        sliced_wasserstein(&empty, &view(&x), &config, &mut rng, &mut scratch),
        Err(Error::EmptyCloud { input: "x" })
    );
    let zero = SlicedWassersteinConfig {
        directions: 0,
        ..config
    };
    assert_eq!(
        sliced_wasserstein(&view(&x), &view(&x), &zero, &mut rng, &mut scratch),
        Err(Error::InvalidParameter {
            input: "directions"
        })
    );
    let mut bad = x.clone();
    bad[13] = f32::NAN;
    assert_eq!(
        sliced_wasserstein(&view(&x), &view(&bad), &config, &mut rng, &mut scratch),
        Err(Error::NonFinite { input: "y" })
    );
    let mmd_config = MmdConfig::default();
    assert_eq!(
        mmd(&view(&bad), &view(&y), &mmd_config),
        Err(Error::NonFinite { input: "x" })
    );
    assert_eq!(
        mmd(&view(&x), &empty, &mmd_config),
        Err(Error::EmptyCloud { input: "y" })
    );
    let one = [[0.5_f32, 0.5]];
    assert_eq!(
        mmd(&view(&x), &CloudView::from_points(&one), &mmd_config),
        Err(Error::TooFewPoints {
            input: "y",
            required: 2,
            found: 1
        })
    );
    for bandwidths in [
        &[][..],
        &[0.1, 0.0][..],
        &[f32::NAN][..],
        &[1e-30][..],
        &[0.1; 9][..],
    ] {
        assert_eq!(
            mmd(&view(&x), &view(&y), &MmdConfig { bandwidths }),
            Err(Error::InvalidParameter {
                input: "bandwidths"
            })
        );
    }
    assert_eq!(
        energy_distance(&CloudView::from_points(&one), &view(&y)),
        Err(Error::TooFewPoints {
            input: "x",
            required: 2,
            found: 1
        })
    );
    assert_eq!(
        energy_distance(&view(&x), &view(&bad)),
        Err(Error::NonFinite { input: "y" })
    );
}
