//! The debiased Sinkhorn divergence and the Sinkhorn drift between two 2D clouds.
//!
//! ```sh
//! cargo run --release --example sinkhorn
//! ```
//!
//! `x`: 300 samples of a standard normal blob scaled by 0.4 (a "generator" at initialisation).
//! `y`: 500 samples of two Gaussians at (±1, 0) (the "data"). For a few blur values it prints
//! `OT_ε(a,b)`, `OT_ε(a,a)`, `OT_ε(b,b)`, `S_ε`, the solver's convergence, and the Sinkhorn drift
//! `T_ab − T_aa` at a few samples next to the one-shot proxy drift.

use drifting::sample::{fill_standard_normal, uniform};
use drifting::sinkhorn::sinkhorn_proxy_scratch_len;
use drifting::{
    CloudView, SinkhornConfig, SinkhornWorkspace, UpdateRule, WeightedCloud, sinkhorn_divergence,
    sinkhorn_drift, sinkhorn_proxy_drift,
};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

const N: usize = 300;
const M: usize = 500;

fn main() -> Result<(), drifting::Error> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
    let mut x = vec![0.0_f32; 2 * N];
    fill_standard_normal(&mut rng, &mut x);
    x.iter_mut().for_each(|v| *v *= 0.4);
    let mut noise = vec![0.0_f32; 2 * M];
    fill_standard_normal(&mut rng, &mut noise);
    let y: Vec<[f32; 2]> = noise
        .chunks_exact(2)
        .map(|z| {
            let side = if uniform(&mut rng) < 0.5 { -1.0 } else { 1.0 };
            [side + 0.15 * z[0], 0.15 * z[1]]
        })
        .collect();
    let a = WeightedCloud::uniform(CloudView::<2>::from_coordinate_major(&x, N)?);
    let b = WeightedCloud::uniform(CloudView::from_points(&y));

    let mut buffer = vec![0.0_f32; SinkhornWorkspace::required_len(N, M)];
    let mut workspace = SinkhornWorkspace::new(&mut buffer, N, M)?;
    println!(
        "x: {N} points of N(0, 0.4²I); y: {M} points of ½N((−1,0), 0.15²I) + ½N((1,0), 0.15²I)"
    );
    println!(
        "{:>6} {:>10} {:>10} {:>10} {:>10} {:>7} {:>11} {:>9}",
        "blur", "OT(a,b)", "OT(a,a)", "OT(b,b)", "S_eps", "iters", "marg. err", "converged"
    );
    for blur in [1.0_f32, 0.3, 0.1, 0.03] {
        let config = SinkhornConfig {
            blur,
            update: UpdateRule::Alternating,
            scaling: Some(0.9),
            tolerance: 1e-3,
            max_iterations: 2000,
            ..SinkhornConfig::default()
        };
        let s = sinkhorn_divergence(&a, &b, &config, &mut workspace)?;
        let r = s.reports[0];
        println!(
            "{blur:>6} {:>10.5} {:>10.5} {:>10.5} {:>10.6} {:>7} {:>11.2e} {:>9}",
            s.transport_ab,
            s.transport_aa,
            s.transport_bb,
            s.value,
            r.scaling_steps + r.iterations,
            r.marginal_error,
            r.converged
        );
    }

    let config = SinkhornConfig {
        blur: 0.1,
        scaling: Some(0.8),
        tolerance: 1e-4,
        max_iterations: 1000,
        ..SinkhornConfig::default()
    };
    let mut drift = vec![0.0_f32; 2 * N];
    sinkhorn_drift(&a, &b, &config, &mut workspace, &mut drift)?;
    let mut proxy = vec![0.0_f32; 2 * N];
    let mut scratch = vec![0.0_f32; sinkhorn_proxy_scratch_len(N, M)];
    sinkhorn_proxy_drift(&a, &b, &config, &mut scratch, &mut proxy)?;
    println!("\nSinkhorn drift T_ab − T_aa (= −∇S_ε/a_i) and one-shot proxy drift at blur 0.1:");
    println!(
        "{:>18}  {:>22}  {:>22}",
        "sample", "Sinkhorn drift", "proxy drift"
    );
    for i in (0..N).step_by(N / 10) {
        println!(
            "({:>7.3}, {:>7.3})  ({:>9.4}, {:>9.4})  ({:>9.4}, {:>9.4})",
            x[i],
            x[N + i],
            drift[i],
            drift[N + i],
            proxy[i],
            proxy[N + i]
        );
    }
    Ok(())
}
