//! Metrics (SWD, unbiased MMD², energy distance): typed errors for empty, non-finite, mismatched
//! or too-small clouds; finite values otherwise; SWD of a cloud with itself is exactly 0. Direction
//! counts up to `usize::MAX` (issue 15: the serial SWD looped for ever, the parallel one aborted on
//! its allocation) are refused above `MAX_DIRECTIONS` at once. The 2D datasets the metrics are
//! read against: typed errors for bad parameters, finite points otherwise (issue 15: huge noise
//! or radius gave infinite points as `Ok`).
#![no_main]

use arbitrary::Unstructured;
use drifting::metrics::{
    MAX_DIRECTIONS, MmdConfig, SlicedWassersteinConfig, WassersteinPower, energy_distance, mmd,
    sliced_wasserstein, sliced_wasserstein_scratch_len,
};
use drifting::{CloudView, Dataset};
use drifting_fuzz::{cloud, coordinate, finite, scale, squared_diameter};
use libfuzzer_sys::fuzz_target;
use rand_core::SeedableRng;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let (Ok(x), Ok(y), Ok(bw), Ok(directions), Ok(p1), Ok(huge), Ok(dataset_pick), Ok(length)) = (
        cloud::<2>(&mut u, 30),
        cloud::<2>(&mut u, 30),
        scale(&mut u),
        u.int_in_range(0usize..=20),
        u.arbitrary::<bool>(),
        u.int_in_range(0u8..=15),
        u.int_in_range(0u8..=5),
        coordinate(&mut u),
    ) else {
        return;
    };
    // Now and then a direction count that must be refused at once.
    let directions = match huge {
        0 => MAX_DIRECTIONS + 1,
        1 => usize::MAX,
        _ => directions,
    };
    let dataset = match dataset_pick {
        0 => Dataset::Checkerboard { noise: length },
        1 => Dataset::SwissRoll { noise: length },
        2 => Dataset::TwoMoons { noise: length },
        3 => Dataset::RingOfGaussians {
            modes: 8,
            radius: length,
            std: bw,
        },
        4 => Dataset::EightGaussians {
            scale: length,
            std: bw,
        },
        _ => Dataset::FourModeMixture { std: length },
    };
    let mut points = vec![0.0_f32; 64];
    let mut dataset_rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(9);
    if dataset.sample(&mut dataset_rng, &mut points, 32).is_ok() {
        assert!(
            points.iter().all(|v| v.is_finite()),
            "{dataset:?}: {points:?}"
        );
    }
    let (xv, yv) = (CloudView::from_points(&x), CloudView::from_points(&y));
    let in_range = squared_diameter(&[&x, &y]) < 1e35;
    let clean = finite(&x) && finite(&y) && in_range;
    let config = SlicedWassersteinConfig {
        directions,
        power: if p1 {
            WassersteinPower::One
        } else {
            WassersteinPower::Two
        },
    };
    let mut scratch = vec![0.0; sliced_wasserstein_scratch_len(x.len().max(y.len()))];
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1);
    match sliced_wasserstein(&xv, &yv, &config, &mut rng, &mut scratch) {
        Ok(v) => assert!(v.is_finite() && v >= 0.0, "SWD {v}"),
        Err(_) => assert!(
            !(clean
                && x.len() == y.len()
                && !x.is_empty()
                && directions > 0
                && directions <= MAX_DIRECTIONS),
            "valid SWD refused"
        ),
    }
    if !x.is_empty() && finite(&x) && in_range && directions > 0 && directions <= MAX_DIRECTIONS {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(2);
        let mut scratch = vec![0.0; sliced_wasserstein_scratch_len(x.len())];
        assert_eq!(
            sliced_wasserstein(&xv, &xv, &config, &mut rng, &mut scratch),
            Ok(0.0),
            "{x:?}"
        );
    }
    let bandwidths = [bw, 0.5];
    match mmd(
        &xv,
        &yv,
        &MmdConfig {
            bandwidths: &bandwidths,
        },
    ) {
        Ok(s) => assert!(s.value.is_finite(), "{s:?}"),
        Err(_) => {
            let inverse = 1.0 / (2.0 * bw * bw);
            let valid_bw = bw.is_finite() && bw > 0.0 && inverse.is_finite() && inverse >= 1e-20;
            let range = squared_diameter(&[&x, &y]) * f64::from(inverse.max(2.0));
            assert!(
                !(clean && x.len() >= 2 && y.len() >= 2 && valid_bw && range < 1e27),
                "valid MMD refused: {x:?} {y:?} bw {bw}"
            );
        }
    }
    match energy_distance(&xv, &yv) {
        Ok(s) => assert!(s.value.is_finite(), "{s:?}"),
        Err(_) => assert!(
            !(clean && x.len() >= 2 && y.len() >= 2),
            "valid energy distance refused"
        ),
    }
});
