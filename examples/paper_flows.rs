//! Experiment 7 of `examples/README.md` (the third paper, "On the Wasserstein gradient flow
//! interpretation of drifting models"): the flows compared.
//!
//! ```text
//! cargo run --release --features std --example paper_flows              # both parts
//! cargo run --release --features std --example paper_flows -- modes     # particle flows only
//! cargo run --release --features std --example paper_flows -- train     # generator training only
//! # options: --steps N --batch N --flow-steps N --out FILE.png
//! ```
//!
//! * `modes`: 50 steps of the particle flow `x ← x + η V(x)` from 512 particles, 80 % on the left
//!   of two modes 3 apart (std 0.1), towards 512 data points split 50/50, for every flow and every
//!   value of its hyper-parameter grid. Reports the mass on the right mode after the flow (data: 0.50,
//!   start: 0.20), the SWD to the data and the last drift RMS; checks the proxy's consistency
//!   (its drift is exactly 0 when the particles are the data).
//! * `train`: the official 2D demo generator trained with each flow over its grid (Adam 1e-3,
//!   1000 steps, 512 generated and 512 data samples per step) on the checkerboard and the ring of
//!   8 Gaussians, over a grid of each kernel scale or blur (0.05, 0.1, 0.2 on the checkerboard,
//!   and 0.3 too on the ring; 16, 64, 256 directions for the sliced flow); SWD (`p = 2`, 200 directions) and MMD² on 5000 samples.
//!   Reports the best value of each flow's grid, and on the checkerboard the SWD against the
//!   regularisation down to 0.005 for the proxy and Algorithm 2.

#[path = "support/figure.rs"]
mod figure;
#[path = "support/flows.rs"]
mod flows;
#[path = "support/training.rs"]
mod training;

use drifting::sinkhorn::sinkhorn_proxy_scratch_len;
use drifting::{CloudView, Dataset, SinkhornConfig, WeightedCloud};
use flows::{Flow, particle_flow, right_fraction, two_modes};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use std::time::Instant;
use training::{Budget, floor, scores, train};

type Failure = Box<dyn std::error::Error>;
/// A labelled `(x, y)` curve.
type Named = (String, Vec<(f32, f32)>);

/// Particle flows between two distant modes with the wrong masses; returns the data and, per
/// flow, the particles after the flow at the grid's middle value.
fn modes(flow_steps: usize) -> Result<Vec<(String, Vec<f32>)>, Failure> {
    let (n, p) = (512, 512);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
    let (start, data) = two_modes(n, p, 4 * n / 5, 1.5, &mut rng);

    // Consistency: at p = q the proxy drift is exactly zero.
    let cloud = CloudView::<2>::from_coordinate_major(&data, p)?;
    let mut scratch = vec![0.0; sinkhorn_proxy_scratch_len(p, p)];
    let mut out = vec![0.0; 2 * p];
    drifting::sinkhorn_proxy_drift(
        &WeightedCloud::uniform(cloud),
        &WeightedCloud::uniform(cloud),
        &SinkhornConfig {
            blur: 0.1,
            ..SinkhornConfig::default()
        },
        &mut scratch,
        &mut out,
    )?;
    let at_equal = out.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    println!("Sinkhorn proxy (blur 0.1) at p = q (particles = data): max |V| = {at_equal:e}");

    println!(
        "\nParticle flows, {flow_steps} steps of x ← x + η V(x); right-mode mass: start {:.2}, data 0.50",
        right_fraction(&start, n)
    );
    println!("| flow | parameter | right-mode mass | SWD to data | last drift RMS |");
    println!("|---|---|---:|---:|---:|");
    let mut clouds = vec![("data (right-mode mass 0.50)".to_string(), data.clone())];
    for flow in Flow::ALL {
        let middle = flow.modes_grid().get(1).copied();
        for &h in flow.modes_grid() {
            let mut particles = start.clone();
            let mut flow_rng = Xoshiro256PlusPlus::seed_from_u64(11);
            let rms = particle_flow(flow, h, &mut particles, &data, flow_steps, &mut flow_rng)?;
            let (swd, _) = scores(&particles, &data, n, &mut flow_rng)?;
            let mass = right_fraction(&particles, n);
            println!(
                "| {} | {} = {h} | {mass:.3} | {swd:.3e} | {rms:.2e} |",
                flow.label(),
                flow.parameter()
            );
            if Some(h) == middle {
                clouds.push((
                    format!("{}, {} = {h}: {mass:.2}", flow.label(), flow.parameter()),
                    particles,
                ));
            }
        }
    }
    Ok(clouds)
}

/// Generator training over each flow's grid.
fn train_all(budget: &Budget) -> Result<Vec<Named>, Failure> {
    let datasets = [Dataset::checkerboard(), Dataset::ring_of_gaussians()];
    let mut best = Vec::new();
    let mut regularisation = Vec::new();
    println!(
        "\nTraining: {} steps, batch {}, Adam 1e-3, SWD/MMD² on {} samples",
        budget.steps, budget.batch, budget.eval
    );
    println!("| dataset | flow | parameter | final SWD | final MMD² | time (s) |");
    println!("|---|---|---|---:|---:|---:|");
    for dataset in &datasets {
        let (swd, mmd2) = floor(dataset, 0, budget.eval)?;
        println!(
            "| {} | data vs data (floor, mean of 5) | | {swd:.3e} | {mmd2:.3e} | |",
            dataset.name()
        );
        for flow in Flow::TRAINED {
            let mut runs = Vec::new();
            let extra = if dataset.name() == "checkerboard" {
                flow.small_regularisations()
            } else {
                &[]
            };
            let grid = flow.grid(matches!(dataset, Dataset::RingOfGaussians { .. }));
            for &h in extra.iter().chain(grid) {
                let started = Instant::now();
                let (field, temperature) = flow.field(h);
                let run = train(field, &[temperature], 1e-3, dataset, 0, budget, None)?;
                println!(
                    "| {} | {} | {} = {h} | {:.3e} | {:.3e} | {:.1} |",
                    dataset.name(),
                    flow.label(),
                    flow.parameter(),
                    run.swd,
                    run.mmd2,
                    started.elapsed().as_secs_f64()
                );
                runs.push((h, run.swd, run.mmd2));
            }
            let finite = runs
                .iter()
                .filter(|r| r.1.is_finite() && grid.contains(&r.0));
            if let Some(b) = finite.clone().min_by(|a, b| a.1.total_cmp(&b.1)) {
                let worst = finite.map(|r| r.1).fold(0.0, f64::max);
                best.push((dataset.name(), flow, *b, worst));
            }
            if !extra.is_empty() {
                regularisation.push((
                    flow.label().to_string(),
                    runs.iter()
                        .map(|r| (1.0 / r.0, r.1 as f32))
                        .collect::<Vec<_>>(),
                ));
            }
        }
    }
    println!("\nCheckerboard: final SWD against the regularisation (τ, σ or blur)");
    println!("| flow | 0.005 | 0.01 | 0.02 | 0.05 | 0.1 | 0.2 |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (label, curve) in &regularisation {
        let cells: Vec<String> = curve.iter().map(|(_, swd)| format!("{swd:.3e}")).collect();
        println!("| {label} | {} |", cells.join(" | "));
    }
    println!("\nBest of each grid");
    println!("| dataset | flow | best parameter | SWD | MMD² | worst SWD of the grid |");
    println!("|---|---|---|---:|---:|---:|");
    for (name, flow, (h, swd, mmd2), worst) in &best {
        println!(
            "| {name} | {} | {} = {h} | {swd:.3e} | {mmd2:.3e} | {worst:.3e} |",
            flow.label(),
            flow.parameter()
        );
    }
    Ok(regularisation)
}

fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|k| args.get(k + 1))
            .cloned()
    };
    let part = args
        .get(1)
        .filter(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_else(|| "all".into());
    let budget = Budget {
        steps: value("--steps").map_or(Ok(1000), |v| v.parse())?,
        batch: value("--batch").map_or(Ok(512), |v| v.parse())?,
        every: 500,
        eval: 5000,
    };
    let flow_steps = value("--flow-steps").map_or(Ok(50), |v| v.parse())?;
    let started = Instant::now();
    println!(
        "paper_flows {part}: {} threads",
        rayon::current_num_threads()
    );
    if !matches!(part.as_str(), "all" | "modes" | "train") {
        eprintln!("unknown part {part:?}: modes | train | all");
        std::process::exit(2);
    }
    let clouds = if part == "train" {
        Vec::new()
    } else {
        modes(flow_steps)?
    };
    let curves = if part == "modes" {
        Vec::new()
    } else {
        train_all(&budget)?
    };
    println!("{:.1} s", started.elapsed().as_secs_f64());
    let out = value("--out").unwrap_or_else(|| format!("paper_flows_{part}.png"));
    let scatters: Vec<figure::Scatter<'_>> = clouds
        .iter()
        .zip(figure::PALETTE.iter().cycle())
        .map(|((title, points), color)| figure::Scatter {
            title: title.clone(),
            points,
            color: *color,
        })
        .collect();
    let panels: Vec<figure::Curves<'_>> = if curves.is_empty() {
        Vec::new()
    } else {
        vec![figure::Curves::labelled(
            "checkerboard: SWD vs 1 / regularisation",
            &curves,
        )]
    };
    figure::draw(std::path::Path::new(&out), 2.0, &scatters, &panels)?;
    println!("figure written to {out}");
    Ok(())
}
