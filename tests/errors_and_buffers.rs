//! The contract at the edges: every entry point reports bad input as a typed [`Error`] (never a
//! panic, never a silent NaN), fixed-capacity buffers refuse overflow and can live in a `static`,
//! heap clouds of 65 536 points run through the same code on a small stack, and the stop-gradient
//! loss's gradient equals finite differences.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use drifting::{
    CloudView, Error, Kernel, MeanShiftConfig, MultiTemperatureConfig, Negatives, ParticleBuffer,
    SelfMask, TwoAxisConfig, mean_shift_drift, multi_temperature_drift,
    multi_temperature_scratch_len, stop_gradient_loss, two_axis_scratch_len,
    two_axis_softmax_drift,
};

const GOOD: [[f32; 2]; 3] = [[0.0, 0.0], [1.0, 0.5], [-0.5, 0.25]];

/// Runs the three drift operators on `(x, y)` with `kernel` and returns their results.
fn all_drifts(
    x: &CloudView<'_, 2>,
    y: &CloudView<'_, 2>,
    kernel: Kernel,
) -> [Result<(), Error>; 3] {
    let n = x.len();
    let mut out = vec![0.0; 2 * n];
    let mut scratch = vec![
        0.0;
        two_axis_scratch_len(n, y.len(), n)
            + multi_temperature_scratch_len(n, y.len(), 2)
    ];
    let mean_shift = mean_shift_drift(
        x,
        y,
        Negatives::Queries,
        &MeanShiftConfig::new(kernel),
        &mut out,
    );
    let two_axis = two_axis_softmax_drift(
        x,
        y,
        Negatives::Queries,
        &TwoAxisConfig::new(kernel),
        &mut scratch,
        &mut out,
    );
    let temperatures = [kernel_scale(kernel)];
    let config = MultiTemperatureConfig {
        temperatures: &temperatures,
        ..MultiTemperatureConfig::official()
    };
    let multi = multi_temperature_drift(x, y, &config, &mut scratch, &mut out).map(|_| ());
    [mean_shift, two_axis, multi]
}

fn kernel_scale(kernel: Kernel) -> f32 {
    match kernel {
        Kernel::Laplace { temperature } => temperature,
        Kernel::Gaussian { bandwidth } => bandwidth,
    }
}

#[test]
fn non_finite_points_are_reported_per_argument() {
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut points = GOOD;
        points[1][1] = bad;
        let good = CloudView::from_points(&GOOD);
        let broken = CloudView::from_points(&points);
        for result in all_drifts(&broken, &good, Kernel::laplace(0.1)) {
            assert_eq!(result, Err(Error::NonFinite { input: "queries" }));
        }
        for result in all_drifts(&good, &broken, Kernel::laplace(0.1)) {
            assert_eq!(result, Err(Error::NonFinite { input: "positives" }));
        }
        let mut out = [0.0; 6];
        let result = mean_shift_drift(
            &good,
            &good,
            Negatives::Cloud(broken),
            &MeanShiftConfig::new(Kernel::gaussian(0.3)),
            &mut out,
        );
        assert_eq!(result, Err(Error::NonFinite { input: "negatives" }));
        let mut scratch = [0.0; 9];
        let result = two_axis_softmax_drift(
            &good,
            &good,
            Negatives::Cloud(broken),
            &TwoAxisConfig::new(Kernel::gaussian(0.3)),
            &mut scratch,
            &mut out,
        );
        assert_eq!(result, Err(Error::NonFinite { input: "negatives" }));
    }
}

#[test]
fn empty_clouds_are_reported() {
    let empty: [[f32; 2]; 0] = [];
    let good = CloudView::from_points(&GOOD);
    let none = CloudView::from_points(&empty);
    for result in all_drifts(&none, &good, Kernel::laplace(0.1)) {
        assert_eq!(result, Err(Error::EmptyCloud { input: "queries" }));
    }
    for result in all_drifts(&good, &none, Kernel::laplace(0.1)) {
        assert_eq!(result, Err(Error::EmptyCloud { input: "positives" }));
    }
    let mut out = [0.0; 6];
    let result = mean_shift_drift(
        &good,
        &good,
        Negatives::Cloud(none),
        &MeanShiftConfig::new(Kernel::laplace(0.1)),
        &mut out,
    );
    assert_eq!(result, Err(Error::EmptyCloud { input: "negatives" }));
}

#[test]
fn invalid_temperatures_and_bandwidths_are_reported() {
    let good = CloudView::from_points(&GOOD);
    for bad in [0.0, -0.05, f32::NAN, f32::INFINITY, -f32::INFINITY] {
        for kernel in [Kernel::laplace(bad), Kernel::gaussian(bad)] {
            for result in all_drifts(&good, &good, kernel) {
                assert!(
                    matches!(result, Err(Error::InvalidParameter { .. })),
                    "{kernel:?}: {result:?}"
                );
            }
        }
    }
    let mut out = [0.0; 6];
    let mut scratch = [0.0; 9];
    let config = MeanShiftConfig {
        step: f32::NAN,
        ..MeanShiftConfig::new(Kernel::laplace(0.1))
    };
    assert!(matches!(
        mean_shift_drift(&good, &good, Negatives::Queries, &config, &mut out),
        Err(Error::InvalidParameter { .. })
    ));
    let config = TwoAxisConfig {
        self_mask: SelfMask::AddDistance(-1.0),
        ..TwoAxisConfig::new(Kernel::laplace(0.1))
    };
    assert!(matches!(
        two_axis_softmax_drift(
            &good,
            &good,
            Negatives::Queries,
            &config,
            &mut scratch,
            &mut out
        ),
        Err(Error::InvalidParameter { .. })
    ));
}

#[test]
fn multi_temperature_configuration_is_validated() {
    let good = CloudView::from_points(&GOOD);
    let mut out = [0.0; 6];
    let mut scratch = vec![0.0; multi_temperature_scratch_len(3, 3, 2)];
    let official = MultiTemperatureConfig::official();
    let nine = [0.1; 9];
    let weights_short = [1.0; 2];
    let weights_negative = [1.0, -1.0, 1.0];
    let weights_zero = [0.0; 3];
    let weights_nan = [1.0, f32::NAN, 1.0];
    let cases = [
        MultiTemperatureConfig {
            temperatures: &[],
            ..official
        },
        MultiTemperatureConfig {
            temperatures: &nine,
            ..official
        },
        MultiTemperatureConfig {
            temperatures: &[0.05, 0.0],
            ..official
        },
        MultiTemperatureConfig {
            affinity_floor: -1e-6,
            ..official
        },
        MultiTemperatureConfig {
            affinity_floor: f32::NAN,
            ..official
        },
        MultiTemperatureConfig {
            self_mask_distance: -1.0,
            ..official
        },
        MultiTemperatureConfig {
            positive_weights: Some(&weights_negative),
            ..official
        },
        MultiTemperatureConfig {
            positive_weights: Some(&weights_zero),
            negative_weights: Some(&weights_zero),
            ..official
        },
    ];
    for config in cases {
        let result = multi_temperature_drift(&good, &good, &config, &mut scratch, &mut out);
        assert!(
            matches!(result, Err(Error::InvalidParameter { .. })),
            "{config:?}: {result:?}"
        );
    }
    let config = MultiTemperatureConfig {
        negative_weights: Some(&weights_nan),
        ..official
    };
    let result = multi_temperature_drift(&good, &good, &config, &mut scratch, &mut out);
    assert_eq!(
        result.map(|_| ()),
        Err(Error::NonFinite {
            input: "negative_weights"
        })
    );
    let config = MultiTemperatureConfig {
        positive_weights: Some(&weights_short),
        ..official
    };
    let result = multi_temperature_drift(&good, &good, &config, &mut scratch, &mut out);
    assert!(
        matches!(result, Err(Error::ShapeMismatch { .. })),
        "{result:?}"
    );
    // The official floor and 0 are both accepted.
    for floor in [1e-6, 0.0] {
        let config = MultiTemperatureConfig {
            affinity_floor: floor,
            ..official
        };
        let report =
            multi_temperature_drift(&good, &good, &config, &mut scratch, &mut out).unwrap();
        assert!(report.loss.is_finite() && out.iter().all(|v| v.is_finite()));
    }
}

#[test]
fn wrong_output_and_scratch_lengths_are_reported() {
    let good = CloudView::from_points(&GOOD);
    let kernel = Kernel::laplace(0.1);
    for len in [0, 5, 7] {
        let mut out = vec![0.0; len];
        let mut scratch = [0.0; 64];
        let expected = Err(Error::ShapeMismatch {
            input: "out",
            expected: 6,
            found: len,
        });
        assert_eq!(
            mean_shift_drift(
                &good,
                &good,
                Negatives::Queries,
                &MeanShiftConfig::new(kernel),
                &mut out
            ),
            expected
        );
        assert_eq!(
            two_axis_softmax_drift(
                &good,
                &good,
                Negatives::Queries,
                &TwoAxisConfig::new(kernel),
                &mut scratch,
                &mut out
            ),
            expected
        );
        let result = multi_temperature_drift(
            &good,
            &good,
            &MultiTemperatureConfig::official(),
            &mut scratch,
            &mut out,
        );
        assert_eq!(result.map(|_| ()), expected);
    }
    let mut out = [0.0; 6];
    let required = two_axis_scratch_len(3, 3, 3);
    let mut short = vec![0.0; required - 1];
    assert_eq!(
        two_axis_softmax_drift(
            &good,
            &good,
            Negatives::Queries,
            &TwoAxisConfig::new(kernel),
            &mut short,
            &mut out
        ),
        Err(Error::ScratchTooSmall {
            input: "scratch",
            required,
            provided: required - 1
        })
    );
    let required = multi_temperature_scratch_len(3, 3, 2);
    let mut short = vec![0.0; required - 1];
    let result = multi_temperature_drift(
        &good,
        &good,
        &MultiTemperatureConfig::official(),
        &mut short,
        &mut out,
    );
    assert_eq!(
        result.map(|_| ()),
        Err(Error::ScratchTooSmall {
            input: "scratch",
            required,
            provided: required - 1
        })
    );
}

#[test]
fn cloud_views_check_their_shapes() {
    let x = [0.0_f32; 5];
    let y = [0.0_f32; 4];
    assert!(matches!(
        CloudView::<2>::from_coordinates([&x, &y]),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(CloudView::<2>::from_coordinates([&x, &x]).is_ok());
    let flat = [0.0_f32; 9];
    assert!(matches!(
        CloudView::<2>::from_coordinate_major(&flat, 5),
        Err(Error::ShapeMismatch { .. })
    ));
    assert_eq!(
        CloudView::<3>::from_coordinate_major(&flat, 3)
            .unwrap()
            .len(),
        3
    );
}

/// A buffer in a `static` (as in a microcontroller's `.bss`): `const fn new` is enough.
static STATIC_CLOUD: ParticleBuffer<2, 16> = ParticleBuffer::new();

#[test]
fn particle_buffers_refuse_overflow_and_keep_their_contents() {
    assert!(STATIC_CLOUD.is_empty() && STATIC_CLOUD.capacity() == 16);
    let mut cloud = STATIC_CLOUD.clone();
    for k in 0..16 {
        cloud.push([k as f32, -(k as f32)]).unwrap();
    }
    // Exactly full: one more point, or any batch, is refused and nothing changes.
    assert_eq!(
        cloud.push([0.0, 0.0]),
        Err(Error::CapacityExceeded {
            capacity: 16,
            required: 17
        })
    );
    assert_eq!(
        cloud.extend_from_points(&[[9.0, 9.0]; 3]),
        Err(Error::CapacityExceeded {
            capacity: 16,
            required: 19
        })
    );
    assert_eq!(cloud.len(), 16);
    assert_eq!(cloud.view().point(15), Some([15.0, -15.0]));
    assert_eq!(cloud.coordinate(1).unwrap()[3], -3.0);
    assert_eq!(cloud.coordinate(2), None);
    // A batch that fits exactly is accepted whole; one that does not is refused whole.
    cloud.clear();
    cloud.extend_from_points(&[[1.0, 2.0]; 10]).unwrap();
    assert!(cloud.extend_from_points(&[[3.0, 4.0]; 7]).is_err());
    assert_eq!(cloud.len(), 10);
    cloud.extend_from_points(&[[3.0, 4.0]; 6]).unwrap();
    assert_eq!(cloud.len(), 16);
    assert_eq!(cloud.view().point(10), Some([3.0, 4.0]));
    // A zero-capacity buffer takes nothing, and an empty batch always fits.
    let mut none = ParticleBuffer::<3, 0>::new();
    assert!(none.extend_from_points(&[]).is_ok());
    assert_eq!(
        none.push([0.0; 3]),
        Err(Error::CapacityExceeded {
            capacity: 0,
            required: 1
        })
    );
    // The buffer's view feeds the drift like any other cloud, and an empty one is an error.
    let mut out = [0.0; 32];
    let data = CloudView::from_points(&GOOD);
    mean_shift_drift(
        &cloud.view(),
        &data,
        Negatives::Queries,
        &MeanShiftConfig::new(Kernel::laplace(0.5)),
        &mut out,
    )
    .unwrap();
    assert!(out.iter().all(|v| v.is_finite()));
    cloud.clear();
    assert_eq!(
        mean_shift_drift(
            &cloud.view(),
            &data,
            Negatives::Queries,
            &MeanShiftConfig::new(Kernel::laplace(0.5)),
            &mut []
        ),
        Err(Error::EmptyCloud { input: "queries" })
    );
}

/// 65 536 queries and 65 536 positives from `Vec`s, on a thread with a 64 KiB stack: the views
/// borrow the heap data and the operators keep `O(1)` stack. To keep the test short, only 64
/// queries are evaluated against the 65 536-point positive and negative clouds, and the same
/// 65 536-point cloud is then evaluated as queries against 64 positives.
#[test]
fn heap_clouds_of_65536_points_run_on_a_small_stack() {
    std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(|| {
            const N: usize = 65_536;
            let big: Vec<f32> = (0..2 * N)
                .map(|k| ((k * 7919) % 10_007) as f32 / 10_007.0)
                .collect();
            let small: Vec<f32> = (0..128).map(|k| (k as f32 / 128.0) - 0.5).collect();
            let big = CloudView::<2>::from_coordinate_major(&big, N).unwrap();
            let small = CloudView::<2>::from_coordinate_major(&small, 64).unwrap();
            let kernel = Kernel::laplace(0.05);
            let mut out = vec![0.0; 2 * 64];
            let mut scratch = vec![0.0; two_axis_scratch_len(64, N, N)];
            two_axis_softmax_drift(
                &small,
                &big,
                Negatives::Cloud(big),
                &TwoAxisConfig::new(kernel),
                &mut scratch,
                &mut out,
            )
            .unwrap();
            // Positives equal negatives: zero drift.
            assert!(out.iter().all(|v| v.abs() < 1e-5), "{:?}", &out[..4]);
            let mut out = vec![0.0; 2 * N];
            mean_shift_drift(
                &big,
                &small,
                Negatives::Cloud(small),
                &MeanShiftConfig::new(kernel),
                &mut out,
            )
            .unwrap();
            assert!(out.iter().all(|v| v.abs() < 1e-5));
        })
        .unwrap()
        .join()
        .unwrap();
}

/// `L = mean(V²)` is the value of `mean ‖x − sg(x + V)‖²`; its gradient is `−2V/(s·N·D)`. Check
/// the gradient by central differences of `L(x) = mean((x/s − t)²)` with the target `t = x₀/s + V`
/// frozen, in `f64`, where the analytic gradient is exact.
#[test]
fn stop_gradient_loss_gradient_equals_finite_differences() {
    let drift: Vec<f32> = (0..24)
        .map(|k| ((k * 37) % 11) as f32 / 11.0 - 0.4)
        .collect();
    let x0: Vec<f64> = (0..24).map(|k| f64::from(k as u8) * 0.1 - 1.0).collect();
    for scale in [1.0_f32, 0.37] {
        let mut gradient = vec![0.0; drift.len()];
        let loss = stop_gradient_loss(&drift, scale, &mut gradient).unwrap();
        let s = f64::from(scale);
        let target: Vec<f64> = x0
            .iter()
            .zip(&drift)
            .map(|(x, v)| x / s + f64::from(*v))
            .collect();
        let objective = |x: &[f64]| {
            x.iter()
                .zip(&target)
                .map(|(x, t)| (x / s - t).powi(2))
                .sum::<f64>()
                / x.len() as f64
        };
        let mean_square = drift.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / 24.0;
        assert!(
            (f64::from(loss) - mean_square).abs() < 1e-7
                && (objective(&x0) - mean_square).abs() < 1e-12
        );
        let h = 1e-6;
        for k in 0..x0.len() {
            let mut plus = x0.clone();
            let mut minus = x0.clone();
            plus[k] += h;
            minus[k] -= h;
            let numeric = (objective(&plus) - objective(&minus)) / (2.0 * h);
            assert!(
                (numeric - f64::from(gradient[k])).abs() < 1e-6,
                "k={k}: {numeric} vs {}",
                gradient[k]
            );
        }
    }
    let mut gradient = [0.0; 2];
    assert_eq!(
        stop_gradient_loss(&[1.0, f32::NAN], 1.0, &mut gradient),
        Err(Error::NonFinite { input: "drift" })
    );
    assert_eq!(
        stop_gradient_loss(&[], 1.0, &mut []),
        Err(Error::EmptyCloud { input: "drift" })
    );
    assert!(matches!(
        stop_gradient_loss(&[1.0], 1.0, &mut gradient),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        stop_gradient_loss(&[1.0, 2.0], 0.0, &mut gradient),
        Err(Error::InvalidParameter { .. })
    ));
}
