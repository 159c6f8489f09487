//! The first paper's identity: with a Gaussian kernel the mean-shift drift is a difference of
//! smoothed scores, `V(x) = σ² (∇log p_σ(x) − ∇log q_σ(x))`, `π_σ = π * N(0, σ²I)`
//! (Tweedie; Turan & Ovsjanikov 2026, Fig. 1; docs/mathematics.md §3).

#[path = "../examples/support/score_difference.rs"]
mod example;

use example::{mean_error, queries};

/// With 50 000 samples of each mixture and σ = 0.5, at query points drawn from `p`, the mean
/// pointwise ℓ2 error is at most 4.9e-3 (the first paper's figure), and it falls as the sample
/// count grows (Monte-Carlo error `∝ 1/√n`: from 2 000 to 50 000 samples a factor √25 = 5 is
/// expected; at least 3 is asserted; each size averaged over four seeds). On the 16 × 16 grid over
/// `[−1.5, 1.5]²`, whose corners lie where the mixture has little mass, the same estimator is
/// less accurate (about 6e-3 at 50 000 samples); that figure is printed and bounded at 8e-3.
#[test]
fn gaussian_drift_equals_smoothed_score_difference() {
    let on_data = queries(true);
    let at = |n: usize| {
        (100..104)
            .map(|seed| mean_error(&on_data, n, seed))
            .sum::<f64>()
            / 4.0
    };
    let (small, medium, large) = (at(2_000), at(10_000), at(50_000));
    let grid = queries(false);
    let on_grid = (100..104)
        .map(|seed| mean_error(&grid, 50_000, seed))
        .sum::<f64>()
        / 4.0;
    println!(
        "mean pointwise error at data points: 2k {small:.3e}, 10k {medium:.3e}, 50k {large:.3e}; grid, 50k: {on_grid:.3e}"
    );
    assert!(large <= 4.9e-3, "50k samples: {large:e}");
    assert!(
        medium < small && large < medium,
        "{small:e} {medium:e} {large:e}"
    );
    assert!(small / large >= 3.0, "{small:e} → {large:e}");
    assert!(on_grid <= 8e-3, "grid: {on_grid:e}");
}
