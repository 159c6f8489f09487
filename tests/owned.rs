//! The `alloc` layer (`drifting::owned`) is the `no_std` operators with allocated buffers: the
//! same bits (point-major instead of coordinate-major), the same errors, the dense scratch where
//! `Evaluation::Auto` would take the dense path.
#![cfg(feature = "alloc")]

use drifting::sample::fill_standard_normal;
use drifting::{
    CloudView, Error, Evaluation, Kernel, MeanShiftConfig, MmdFlowConfig, MultiTemperatureConfig,
    Negatives, SinkhornConfig, SinkhornWorkspace, SlicedWassersteinDriftConfig, TwoAxisConfig,
    WeightedCloud,
    metrics::{SlicedWassersteinConfig, sliced_wasserstein_scratch_len},
    multi_temperature_scratch_len, owned, sliced_wasserstein_drift_scratch_len,
    two_axis_scratch_len,
};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

fn cloud<const D: usize>(seed: u64, n: usize, scale: f32) -> Vec<[f32; D]> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut flat = vec![0.0; n * D];
    fill_standard_normal(&mut rng, &mut flat);
    flat.chunks_exact(D)
        .map(|c| std::array::from_fn(|d| c[d] * scale))
        .collect()
}

/// The coordinate-major field as point-major bits.
fn point_bits<const D: usize>(field: &[f32], n: usize) -> Vec<u32> {
    (0..n)
        .flat_map(|i| (0..D).map(move |d| field[d * n + i].to_bits()))
        .collect()
}

fn bits<const D: usize>(points: &[[f32; D]]) -> Vec<u32> {
    points.iter().flatten().map(|v| v.to_bits()).collect()
}

#[test]
fn drifts_are_the_core_operators_bit_for_bit() {
    let (x, y) = (cloud::<2>(1, 37, 1.0), cloud::<2>(2, 29, 0.8));
    let (xv, yv) = (CloudView::from_points(&x), CloudView::from_points(&y));
    let n = x.len();
    let kernel = Kernel::laplace(0.3);

    let mut core = vec![0.0; 2 * n];
    let config = MeanShiftConfig::new(kernel);
    drifting::mean_shift_drift(&xv, &yv, Negatives::Queries, &config, &mut core).unwrap();
    let got = owned::mean_shift_drift(&x, &y, &config).unwrap();
    assert_eq!(bits(&got), point_bits::<2>(&core, n));
    assert!(got.iter().flatten().any(|v| *v != 0.0));

    let config = MmdFlowConfig::new(kernel);
    drifting::mmd_flow_drift(&xv, &yv, Negatives::Queries, &config, &mut core).unwrap();
    let got = owned::mmd_flow_drift(&x, &y, &config).unwrap();
    assert_eq!(bits(&got), point_bits::<2>(&core, n));

    let config = TwoAxisConfig::new(kernel);
    let mut scratch = vec![0.0; two_axis_scratch_len(n, y.len(), n)];
    drifting::two_axis_softmax_drift(
        &xv,
        &yv,
        Negatives::Queries,
        &config,
        &mut scratch,
        &mut core,
    )
    .unwrap();
    let got = owned::two_axis_softmax_drift(&x, &y, &config).unwrap();
    assert_eq!(bits(&got), point_bits::<2>(&core, n));

    let config = MultiTemperatureConfig::official();
    let mut scratch = vec![0.0; multi_temperature_scratch_len(n, y.len(), 2)];
    let report =
        drifting::multi_temperature_drift(&xv, &yv, &config, &mut scratch, &mut core).unwrap();
    let (got, got_report) = owned::multi_temperature_drift(&x, &y, &config).unwrap();
    assert_eq!(bits(&got), point_bits::<2>(&core, n));
    assert_eq!(got_report, report);

    let config = SlicedWassersteinDriftConfig::new();
    let mut scratch = vec![0.0; sliced_wasserstein_drift_scratch_len(n, y.len())];
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
    drifting::sliced_wasserstein_drift(&xv, &yv, &config, &mut rng, &mut scratch, &mut core)
        .unwrap();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
    let got = owned::sliced_wasserstein_drift(&x, &y, &config, &mut rng).unwrap();
    assert_eq!(bits(&got), point_bits::<2>(&core, n));
}

/// In 64 dimensions `Evaluation::Auto` takes the dense path when the scratch holds it: the
/// owned call allocates that scratch, so it equals the forced dense evaluation, not the
/// streaming one.
#[cfg(feature = "dense")]
#[test]
fn high_dimensional_drifts_get_the_dense_scratch() {
    const D: usize = 64;
    let (x, y) = (cloud::<D>(3, 150, 0.125), cloud::<D>(4, 130, 0.125));
    let (xv, yv) = (CloudView::from_points(&x), CloudView::from_points(&y));
    let n = x.len();
    let dense = TwoAxisConfig {
        evaluation: Evaluation::Dense(drifting::DistanceMethod::Auto),
        ..TwoAxisConfig::new(Kernel::laplace(0.5))
    };
    let mut scratch = vec![0.0; drifting::two_axis_dense_scratch_len(n, y.len(), n, D).unwrap()];
    let mut core = vec![0.0; D * n];
    drifting::two_axis_softmax_drift(
        &xv,
        &yv,
        Negatives::Queries,
        &dense,
        &mut scratch,
        &mut core,
    )
    .unwrap();
    let got =
        owned::two_axis_softmax_drift(&x, &y, &TwoAxisConfig::new(Kernel::laplace(0.5))).unwrap();
    assert_eq!(bits(&got), point_bits::<D>(&core, n));

    let config = MultiTemperatureConfig {
        evaluation: Evaluation::Dense(drifting::DistanceMethod::Auto),
        ..MultiTemperatureConfig::official()
    };
    let mut scratch =
        vec![0.0; drifting::multi_temperature_dense_scratch_len(n, y.len(), D, 3).unwrap()];
    drifting::multi_temperature_drift(&xv, &yv, &config, &mut scratch, &mut core).unwrap();
    let (got, _) =
        owned::multi_temperature_drift(&x, &y, &MultiTemperatureConfig::official()).unwrap();
    assert_eq!(bits(&got), point_bits::<D>(&core, n));
}

#[test]
fn sinkhorn_and_metrics_are_the_core_routines() {
    let (x, y) = (cloud::<3>(6, 23, 1.0), cloud::<3>(7, 31, 1.0));
    let (a, b) = (
        WeightedCloud::uniform(CloudView::from_points(&x)),
        WeightedCloud::uniform(CloudView::from_points(&y)),
    );
    let (n, m) = (x.len(), y.len());
    let mut buffer = vec![0.0; SinkhornWorkspace::required_len(n, m)];
    let mut ws = SinkhornWorkspace::new(&mut buffer, n, m).unwrap();

    // ε given directly is that ε, not the square of its f32 square root.
    let epsilon = 0.01_f32;
    let config = SinkhornConfig::new().with_epsilon(epsilon);
    assert_eq!(owned::sinkhorn_config(epsilon).epsilon(), epsilon);
    let core = drifting::sinkhorn_divergence(&a, &b, &config, &mut ws).unwrap();
    let got = owned::sinkhorn_divergence(&x, &y, epsilon).unwrap();
    assert_eq!(got.value.to_bits(), core.value.to_bits());
    assert!(got.reports.iter().all(|r| r.converged));
    // S_ε(x, x) = 0.
    assert!(
        owned::sinkhorn_divergence(&x, &x, epsilon)
            .unwrap()
            .value
            .abs()
            < 1e-5
    );

    let (t, report) = drifting::entropic_transport(&a, &b, &config, &mut ws).unwrap();
    let (got, got_report) = owned::entropic_transport(&x, &y, &config).unwrap();
    assert_eq!((got.to_bits(), got_report), (t.to_bits(), report));

    let mut core = vec![0.0; 3 * n];
    let reports = drifting::sinkhorn_drift(&a, &b, &config, &mut ws, &mut core).unwrap();
    let (got, got_reports) = owned::sinkhorn_drift(&x, &y, &config).unwrap();
    assert_eq!(bits(&got), point_bits::<3>(&core, n));
    assert_eq!(got_reports, reports);

    let mut scratch = vec![0.0; drifting::sinkhorn::sinkhorn_proxy_scratch_len(n, m)];
    drifting::sinkhorn_proxy_drift(&a, &b, &config, &mut scratch, &mut core).unwrap();
    let got = owned::sinkhorn_proxy_drift(&x, &y, &config).unwrap();
    assert_eq!(bits(&got), point_bits::<3>(&core, n));

    let sw = SlicedWassersteinConfig::new();
    let mut scratch = vec![0.0; sliced_wasserstein_scratch_len(n.max(m))];
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(8);
    let core = drifting::metrics::sliced_wasserstein(
        &CloudView::from_points(&x),
        &CloudView::from_points(&y),
        &sw,
        &mut rng,
        &mut scratch,
    );
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(8);
    let got = owned::sliced_wasserstein(&x, &y, &sw, &mut rng);
    assert_eq!(got.map(f64::to_bits), core.map(f64::to_bits));
}

#[test]
fn errors_are_the_core_errors() {
    let x = [[0.0_f32, 0.0], [1.0, 0.5]];
    let empty: [[f32; 2]; 0] = [];
    let nan = [[f32::NAN, 0.0], [1.0, 0.5]];
    let config = TwoAxisConfig::new(Kernel::laplace(0.5));
    assert!(matches!(
        owned::two_axis_softmax_drift(&empty, &x, &config),
        Err(Error::EmptyCloud { .. })
    ));
    assert!(matches!(
        owned::two_axis_softmax_drift(&nan, &x, &config),
        Err(Error::NonFinite { .. })
    ));
    assert!(matches!(
        owned::two_axis_softmax_drift(&x, &x, &TwoAxisConfig::new(Kernel::laplace(-1.0))),
        Err(Error::InvalidParameter { .. })
    ));
    for epsilon in [0.0, -1.0, f32::NAN, f32::INFINITY] {
        assert_eq!(
            owned::sinkhorn_divergence(&x, &x, epsilon).map(|d| d.value),
            Err(Error::InvalidParameter { input: "epsilon" }),
            "ε = {epsilon}"
        );
    }
    assert!(owned::sinkhorn_divergence(&empty, &x, 0.1).is_err());
}
