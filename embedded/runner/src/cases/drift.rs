//! Drift operators: mean shift (Laplace and Gaussian), two-axis softmax, multi-temperature.

use drifting::{
    mean_shift_drift, multi_temperature_drift, multi_temperature_scratch_len, two_axis_scratch_len,
    two_axis_softmax_drift, CloudView, Error, Kernel, MeanShiftConfig, MultiTemperatureConfig,
    MultiTemperatureReport, Negatives, TwoAxisConfig,
};

use super::{D, N, P, Q};

/// Laplace `τ = 0.5`, negatives = the queries, self-pair excluded.
pub const MEAN_SHIFT_LAPLACE: MeanShiftConfig = MeanShiftConfig::new(Kernel::laplace(0.5));
/// Gaussian `σ = 0.4`, step 0.5, a separate negative cloud.
pub const MEAN_SHIFT_GAUSSIAN: MeanShiftConfig = MeanShiftConfig {
    kernel: Kernel::gaussian(0.4),
    step: 0.5,
    exclude_self: false,
};
/// Laplace `τ = 0.2`, self-pair excluded.
pub const TWO_AXIS: TwoAxisConfig = TwoAxisConfig::new(Kernel::laplace(0.2));
/// The official 2D demo: Laplace `τ = 0.05`, self-mask `+1e6`.
pub const TWO_AXIS_OFFICIAL: TwoAxisConfig = TwoAxisConfig::official_demo();
/// Scratch of the two-axis drift with negatives = queries.
pub const TWO_AXIS_SCRATCH: usize = two_axis_scratch_len(N, P, N);
/// Scratch of the multi-temperature drift.
pub const MULTI_TEMPERATURE_SCRATCH: usize = multi_temperature_scratch_len(N, P, D);

/// Mean shift, Laplace, negatives = queries.
pub fn mean_shift_laplace(
    queries: &CloudView<'_, D>,
    positives: &CloudView<'_, D>,
    out: &mut [f32],
) -> Result<(), Error> {
    mean_shift_drift(
        queries,
        positives,
        Negatives::Queries,
        &MEAN_SHIFT_LAPLACE,
        out,
    )
}

/// Mean shift, Gaussian, separate negatives.
pub fn mean_shift_gaussian(
    queries: &CloudView<'_, D>,
    positives: &CloudView<'_, D>,
    negatives: &CloudView<'_, D>,
    out: &mut [f32],
) -> Result<(), Error> {
    debug_assert_eq!(negatives.len(), Q);
    mean_shift_drift(
        queries,
        positives,
        Negatives::Cloud(*negatives),
        &MEAN_SHIFT_GAUSSIAN,
        out,
    )
}

/// Two-axis softmax drift with `config`, negatives = queries.
pub fn two_axis(
    queries: &CloudView<'_, D>,
    positives: &CloudView<'_, D>,
    config: &TwoAxisConfig,
    scratch: &mut [f32],
    out: &mut [f32],
) -> Result<(), Error> {
    two_axis_softmax_drift(queries, positives, Negatives::Queries, config, scratch, out)
}

/// The official multi-temperature drift (`R ∈ {0.02, 0.05, 0.2}`, floor `1e-6`, mask `+100`).
pub fn multi_temperature(
    queries: &CloudView<'_, D>,
    positives: &CloudView<'_, D>,
    scratch: &mut [f32],
    out: &mut [f32],
) -> Result<MultiTemperatureReport, Error> {
    multi_temperature_drift(
        queries,
        positives,
        &MultiTemperatureConfig::official(),
        scratch,
        out,
    )
}
