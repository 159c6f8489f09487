//! Reduced experiment 7 (the third paper's flows compared; `examples/paper_flows.rs`): the
//! qualitative results at a size CI runs in seconds.
//!
//! * The Sinkhorn proxy is consistent (exactly zero drift when the particles are the data) but
//!   cannot move mass between distant modes: from an 80/20 split of two modes 3 apart, the proxy
//!   flow leaves the split where it is, while the sliced-Wasserstein flow and the converged
//!   Sinkhorn-divergence flow rebalance it to the data's 50/50.
//! * Every flow the trainer offers trains the official generator: SWD falls well below its
//!   value at initialisation (at least halved in 150 steps of batch 128).
#![cfg(feature = "flow-fields")]

#[path = "../examples/support/flows.rs"]
mod flows;
use crate::example_training as training;

use drifting::sinkhorn::sinkhorn_proxy_scratch_len;
use drifting::{CloudView, Dataset, SinkhornConfig, WeightedCloud, sinkhorn_proxy_drift};
use flows::{Flow, particle_flow, right_fraction, two_modes};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use training::{Budget, evaluate, train};

#[test]
fn proxy_is_consistent_but_cannot_move_mass_between_distant_modes() {
    let (n, p) = (160, 160);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
    let (start, data) = two_modes(n, p, 4 * n / 5, 1.5, &mut rng);
    assert!((right_fraction(&start, n) - 0.2).abs() < 1e-9);
    assert!((right_fraction(&data, p) - 0.5).abs() < 1e-9);

    // Consistency: zero drift at p = q, a non-zero one at the wrong masses.
    let config = SinkhornConfig {
        blur: 0.1,
        ..SinkhornConfig::default()
    };
    let mut scratch = vec![0.0; sinkhorn_proxy_scratch_len(n, p)];
    let mut out = vec![0.0; 2 * n];
    let data_cloud =
        WeightedCloud::uniform(CloudView::<2>::from_coordinate_major(&data, p).unwrap());
    sinkhorn_proxy_drift(&data_cloud, &data_cloud, &config, &mut scratch, &mut out).unwrap();
    assert!(out.iter().all(|v| *v == 0.0), "proxy drift at p = q");
    let start_cloud =
        WeightedCloud::uniform(CloudView::<2>::from_coordinate_major(&start, n).unwrap());
    sinkhorn_proxy_drift(&start_cloud, &data_cloud, &config, &mut scratch, &mut out).unwrap();
    assert!(out.iter().any(|v| v.abs() > 1e-3), "proxy drift at p ≠ q");

    let flow = |f: Flow, h: f32| {
        let mut particles = start.clone();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
        particle_flow(f, h, &mut particles, &data, 40, &mut rng).unwrap();
        assert!(particles.iter().all(|x| x.is_finite()));
        right_fraction(&particles, n)
    };
    for blur in [0.1, 0.2] {
        let proxy = flow(Flow::SinkhornProxy, blur);
        assert!((proxy - 0.2).abs() < 0.02, "proxy at blur {blur}: {proxy}");
    }
    let sliced = flow(Flow::Sliced, 64.0);
    assert!((sliced - 0.5).abs() < 0.03, "sliced: {sliced}");
    let sinkhorn = flow(Flow::SinkhornConverged, 0.1);
    assert!(
        (sinkhorn - 0.5).abs() < 0.05,
        "converged Sinkhorn: {sinkhorn}"
    );
}

#[test]
fn every_trainer_flow_trains_the_checkerboard() {
    let budget = Budget {
        steps: 150,
        batch: 128,
        every: 150,
        eval: 1000,
    };
    let dataset = Dataset::checkerboard();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
    let mut params = vec![0.0; training::Generator::PARAMETERS];
    training::Generator::init_pytorch(&mut params, &mut rng).unwrap();
    let (initial, _) = evaluate(&params, &dataset, 0, budget.eval).unwrap();
    for flow in Flow::TRAINED {
        let h = match flow {
            Flow::Sliced => 64.0,
            Flow::Mmd => 0.1,
            _ => 0.05,
        };
        let (field, temperature) = flow.field(h);
        let run = train(field, &[temperature], 1e-3, &dataset, 0, &budget, None).unwrap();
        println!("{}: SWD {initial:.3e} → {:.3e}", flow.label(), run.swd);
        assert!(run.finite());
        assert!(
            run.swd < initial / 2.0,
            "{}: {initial} → {}",
            flow.label(),
            run.swd
        );
    }
}
