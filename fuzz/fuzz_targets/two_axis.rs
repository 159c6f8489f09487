//! The two-axis softmax drift (Algorithm 2): typed errors for invalid input (including short
//! scratch and mismatched output), finite output otherwise.
#![no_main]

use arbitrary::Unstructured;
use drifting::{
    CloudView, Error, Kernel, Negatives, SelfMask, TwoAxisConfig, two_axis_scratch_len,
    two_axis_softmax_drift,
};
use drifting_fuzz::{
    Expect, check_contract, cloud, finite, largest_logit, scale, squared_diameter, valid_scale,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let (Ok(x), Ok(y), Ok(t), Ok(gaussian), Ok(separate), Ok(mask), Ok(short), Ok(out_delta)) = (
        cloud::<2>(&mut u, 40),
        cloud::<2>(&mut u, 40),
        scale(&mut u),
        u.arbitrary::<bool>(),
        u.arbitrary::<bool>(),
        u.int_in_range(0u8..=3),
        u.ratio(1u8, 10u8),
        u.int_in_range(0u8..=12),
    ) else {
        return;
    };
    let kernel = if gaussian {
        Kernel::gaussian(t)
    } else {
        Kernel::laplace(t)
    };
    let self_mask = [
        SelfMask::Exclude,
        SelfMask::OFFICIAL_DEMO,
        SelfMask::AddDistance(-1.0),
        SelfMask::AddDistance(f32::NAN),
    ][usize::from(mask)];
    let config = TwoAxisConfig {
        kernel,
        self_mask,
        evaluation: drifting::Evaluation::Auto,
    };
    let q = if separate { y.len() } else { x.len() };
    let required = two_axis_scratch_len(x.len(), y.len(), q);
    let mut scratch = vec![
        0.0;
        if short {
            required.saturating_sub(1)
        } else {
            required
        }
    ];
    // Mostly the right output length; sometimes off by one.
    let out_len = match out_delta {
        0 => (2 * x.len()).saturating_sub(1),
        1 => 2 * x.len() + 1,
        _ => 2 * x.len(),
    };
    let mut out = vec![0.0; out_len];
    let problem = x.is_empty()
        || y.is_empty()
        || !finite(&x)
        || !finite(&y)
        || !valid_scale(t, gaussian)
        || mask >= 2
        || out_len != 2 * x.len()
        || scratch.len() < required;
    let diameter2 = squared_diameter(&[&x, &y]);
    let added = if !separate && mask == 1 { 1e6 } else { 0.0 };
    let expect = Expect::new(
        problem,
        diameter2,
        largest_logit(diameter2, added, t, gaussian),
    );
    let (qv, pv) = (CloudView::from_points(&x), CloudView::from_points(&y));
    let negatives = if separate {
        Negatives::Cloud(pv)
    } else {
        Negatives::Queries
    };
    let result = two_axis_softmax_drift(&qv, &pv, negatives, &config, &mut scratch, &mut out);
    if let Err(Error::ScratchTooSmall { required: r, .. }) = result {
        assert_eq!(r, required);
    }
    check_contract(expect, result, &out, "two_axis_softmax_drift");
});
