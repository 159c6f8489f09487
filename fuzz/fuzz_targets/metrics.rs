//! Metrics (SWD, unbiased MMD², energy distance): typed errors for empty, non-finite, mismatched
//! or too-small clouds; finite values otherwise; SWD of a cloud with itself is exactly 0.
#![no_main]

use arbitrary::Unstructured;
use drifting::CloudView;
use drifting::metrics::{
    MmdConfig, SlicedWassersteinConfig, WassersteinPower, energy_distance, mmd, sliced_wasserstein,
    sliced_wasserstein_scratch_len,
};
use drifting_fuzz::{cloud, finite, scale, squared_diameter};
use libfuzzer_sys::fuzz_target;
use rand_core::SeedableRng;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let (Ok(x), Ok(y), Ok(bw), Ok(directions), Ok(p1)) = (
        cloud::<2>(&mut u, 30),
        cloud::<2>(&mut u, 30),
        scale(&mut u),
        u.int_in_range(0usize..=20),
        u.arbitrary::<bool>(),
    ) else {
        return;
    };
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
            !(clean && x.len() == y.len() && !x.is_empty() && directions > 0),
            "valid SWD refused"
        ),
    }
    if !x.is_empty() && finite(&x) && in_range && directions > 0 {
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
