//! Experiment 5 of `examples/README.md`: drifting-score alignment as the dimension grows (the
//! second paper, Figs. 3 and 7): Ring MoG and Raw MoG in `R^D` for `D = 2 … 1024`, 3000 reference
//! samples per distribution, the Laplace kernel at `τ = 0.3·mean‖x‖`.
//!
//! ```text
//! cargo run --release --example paper_alignment                  # table + paper_alignment.png
//! cargo run --release --example paper_alignment -- --queries 500 --refs 3000 --out a.png
//! ```
//!
//! Prints, per family and dimension, the relative and absolute alignment errors between the
//! mean-shift discrepancy and the least-squares-rescaled score discrepancy, the cosine, the
//! pre-conditioner ratio, the residual gap, and the predicted against the least-squares scale;
//! then the log-log slopes of the errors and of `1 − cos` against `D` (paper: about −1).

#[path = "support/alignment.rs"]
mod alignment;
#[path = "support/figure.rs"]
mod figure;

use alignment::{Family, log_log_slope, measure_dim};
use plotters::style::RGBColor;
use std::time::Instant;

/// `(family, relative error, 1 − cos)` curves against `log2 D`.
type FamilyCurves = (Family, Vec<(f32, f32)>, Vec<(f32, f32)>);

const DIMS: [usize; 10] = [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|k| args.get(k + 1))
            .cloned()
    };
    let queries: usize = value("--queries").map_or(Ok(500), |v| v.parse())?;
    let refs: usize = value("--refs").map_or(Ok(3000), |v| v.parse())?;
    let out = value("--out").unwrap_or_else(|| "paper_alignment.png".into());
    let started = Instant::now();
    let mut curves: Vec<FamilyCurves> = Vec::new();
    for family in [Family::Ring, Family::Raw] {
        println!(
            "\n{} ({queries} queries from q, {refs} reference samples each)",
            family.name()
        );
        println!(
            "| D | τ | abs. error | rel. error | cos | 1 − cos | ᾱp/ᾱq | residual gap | C* | C_theory |"
        );
        println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        let mut rows = Vec::new();
        for dim in DIMS {
            let a = measure_dim(family, dim, queries, refs, 2026).ok_or("dimension")?;
            println!(
                "| {} | {:.3} | {:.3e} | {:.3e} | {:.5} | {:.3e} | {:.4} | {:.3e} | {:.4} | {:.4} |",
                a.dim,
                a.tau,
                a.absolute_error,
                a.relative_error,
                a.cosine,
                1.0 - a.cosine,
                a.preconditioner_ratio,
                a.residual_gap,
                a.least_squares_scale,
                a.theory_scale
            );
            rows.push(a);
        }
        // Slopes over D ≥ 8 (the asymptotic regime the theory describes).
        let fit = |f: fn(&alignment::Alignment) -> f64| {
            let pts: Vec<(f64, f64)> = rows
                .iter()
                .filter(|a| a.dim >= 8)
                .map(|a| (a.dim as f64, f(a)))
                .collect();
            log_log_slope(&pts)
        };
        println!(
            "log-log slopes (D ≥ 8): absolute error {:.2}, relative error {:.2}, 1 − cos {:.2} (paper: about −1)",
            fit(|a| a.absolute_error),
            fit(|a| a.relative_error),
            fit(|a| 1.0 - a.cosine)
        );
        let log2 = |d: usize| (d as f32).log2();
        curves.push((
            family,
            rows.iter()
                .map(|a| (log2(a.dim), a.relative_error as f32))
                .collect(),
            rows.iter()
                .map(|a| (log2(a.dim), (1.0 - a.cosine) as f32))
                .collect(),
        ));
    }
    println!("\n{:.1} s", started.elapsed().as_secs_f64());
    let colors = [RGBColor(31, 119, 180), RGBColor(214, 39, 40)];
    let relative = figure::Curves {
        title: "relative error vs log2 D".into(),
        series: curves
            .iter()
            .zip(colors)
            .map(|(c, color)| (c.0.name(), &c.1[..], color))
            .collect(),
        ..figure::Curves::default()
    };
    let misalignment = figure::Curves {
        title: "1 - cos vs log2 D".into(),
        series: curves
            .iter()
            .zip(colors)
            .map(|(c, color)| (c.0.name(), &c.2[..], color))
            .collect(),
        ..figure::Curves::default()
    };
    figure::draw(
        std::path::Path::new(&out),
        1.0,
        &[],
        &[relative, misalignment],
    )?;
    println!("figure written to {out}");
    Ok(())
}
