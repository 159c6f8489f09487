//! Reduced experiment 5 (`examples/paper_alignment.rs`; second paper, Fig. 3): as the dimension
//! grows, the Laplace mean-shift discrepancy aligns with the rescaled score discrepancy, with
//! errors falling about like `1/D`, the pre-conditioners matching and the predicted scale
//! approaching the least-squares one. 200 queries, 1000 reference samples, `D = 8, 32, 128`.

#[path = "../examples/support/alignment.rs"]
mod alignment;

use alignment::{Family, log_log_slope, measure_dim};

#[test]
fn alignment_improves_like_one_over_d() {
    for family in [Family::Ring, Family::Raw] {
        let rows: Vec<_> = [8, 32, 128]
            .iter()
            .map(|&d| measure_dim(family, d, 200, 1000, 7).unwrap())
            .collect();
        let (low, high) = (rows[0], rows[2]);
        println!("{family:?}: {rows:#?}");
        assert!(high.relative_error < low.relative_error / 3.0, "{family:?}");
        assert!(high.cosine > 0.95 && high.cosine > low.cosine, "{family:?}");
        let slope = log_log_slope(
            &rows
                .iter()
                .map(|a| (a.dim as f64, 1.0 - a.cosine))
                .collect::<Vec<_>>(),
        );
        assert!((-2.0..=-0.4).contains(&slope), "{family:?}: slope {slope}");
        assert!(
            (high.preconditioner_ratio - 1.0).abs() < (low.preconditioner_ratio - 1.0).abs() + 1e-3,
            "{family:?}"
        );
        let scale_gap = (high.theory_scale / high.least_squares_scale - 1.0).abs();
        assert!(scale_gap < 0.1, "{family:?}: C_theory/C* − 1 = {scale_gap}");
    }
}
