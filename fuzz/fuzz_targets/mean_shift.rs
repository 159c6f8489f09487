//! The mean-shift drift: typed errors for invalid input, finite output otherwise, and exactly zero
//! drift when the positives are the negatives.
#![no_main]

use arbitrary::Unstructured;
use drifting::{CloudView, Kernel, MeanShiftConfig, Negatives, mean_shift_drift};
use drifting_fuzz::{
    Expect, check_contract, cloud, finite, largest_logit, scale, squared_diameter, valid_scale,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let (Ok(x), Ok(y), Ok(t), Ok(gaussian), Ok(separate), Ok(step)) = (
        cloud::<2>(&mut u, 40),
        cloud::<2>(&mut u, 40),
        scale(&mut u),
        u.arbitrary::<bool>(),
        u.arbitrary::<bool>(),
        u.int_in_range(0u8..=3),
    ) else {
        return;
    };
    let kernel = if gaussian {
        Kernel::gaussian(t)
    } else {
        Kernel::laplace(t)
    };
    let step = [1.0, 0.5, f32::NAN, -2.0][usize::from(step)];
    let config = MeanShiftConfig {
        step,
        ..MeanShiftConfig::new(kernel)
    };
    let problem = x.is_empty()
        || y.is_empty()
        || !finite(&x)
        || !finite(&y)
        || !valid_scale(t, gaussian)
        || !step.is_finite();
    let diameter2 = squared_diameter(&[&x, &y]);
    let step_overflow = f64::from(step.abs()) * diameter2.sqrt() > 1e37;
    let expect = Expect::new(
        problem,
        diameter2,
        largest_logit(diameter2, 0.0, t, gaussian),
    );
    let expect = if step_overflow && expect == Expect::Valid {
        Expect::Invalid
    } else {
        expect
    };
    let mut out = vec![0.0; 2 * x.len()];
    let (qv, pv) = (CloudView::from_points(&x), CloudView::from_points(&y));
    let negatives = if separate {
        Negatives::Cloud(pv)
    } else {
        Negatives::Queries
    };
    let result = mean_shift_drift(&qv, &pv, negatives, &config, &mut out);
    check_contract(expect, result, &out, "mean_shift_drift");
    if separate && result.is_ok() {
        // Positives equal negatives: the two means are the same computation.
        assert!(out.iter().all(|v| *v == 0.0), "{out:?}");
    }
});
