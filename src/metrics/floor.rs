//! The floor of a metric: its value between two independent samples of the data.

use rand_core::Rng;

use crate::cloud::CloudView;
use crate::datasets::Dataset;
use crate::error::Error;

/// The value of `metric` between two independent samples of `n` points of `dataset`, drawn from
/// `rng` into `first` and `second` (each `2n` floats, coordinate-major; overwritten).
///
/// A finite-sample metric is not 0 between two samples of one distribution (sorting noise for
/// the sliced Wasserstein distance, `O(1/√n)`; Monte-Carlo noise around 0 for the unbiased
/// MMD² and energy distance), so a generator's value means something only next to this floor at
/// the same `n` (docs/mathematics.md §11). The recipe, which this function runs once:
///
/// 1. draw `X` and `X'` independently from the data distribution, as many points as the
///    generated sample (the papers: 5 000);
/// 2. compute the metric between `X` and `X'` with the same parameters (directions,
///    bandwidths) as for the generator;
/// 3. report both numbers (repeat with several seeds for a spread).
///
/// ```
/// use drifting::Dataset;
/// use drifting::metrics::{SlicedWassersteinConfig, data_floor, sliced_wasserstein};
/// use drifting::metrics::sliced_wasserstein_scratch_len;
/// use rand_core::SeedableRng;
/// use rand_xoshiro::Xoshiro256PlusPlus;
/// const N: usize = 256; // as many as the generated sample (the papers: 5 000)
/// let (mut first, mut second) = ([0.0_f32; 2 * N], [0.0_f32; 2 * N]);
/// let mut scratch = [0.0_f32; sliced_wasserstein_scratch_len(N)];
/// let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
/// let mut directions = Xoshiro256PlusPlus::seed_from_u64(1);
/// let config = SlicedWassersteinConfig { directions: 50, ..SlicedWassersteinConfig::new() };
/// let floor = data_floor(&Dataset::checkerboard(), &mut rng, N, &mut first, &mut second, |x, y| {
///     sliced_wasserstein(&x, &y, &config, &mut directions, &mut scratch)
/// })?;
/// // Two samples of one distribution are not at distance 0: read a generator's SWD against this.
/// assert!(floor > 0.0 && floor < 0.2);
/// # Ok::<(), drifting::Error>(())
/// ```
///
/// Cost: sampling `2n` points plus one evaluation of `metric`.
///
/// # Errors
/// Those of [`Dataset::sample`] (a buffer that is not `2n` long, a bad dataset parameter), then
/// whatever `metric` returns.
pub fn data_floor<R, T, F>(
    dataset: &Dataset,
    rng: &mut R,
    n: usize,
    first: &mut [f32],
    second: &mut [f32],
    metric: F,
) -> Result<T, Error>
where
    R: Rng + ?Sized,
    F: FnOnce(CloudView<'_, 2>, CloudView<'_, 2>) -> Result<T, Error>,
{
    dataset.sample(rng, first, n)?;
    dataset.sample(rng, second, n)?;
    let x = CloudView::<2>::from_coordinate_major(first, n)?;
    let y = CloudView::<2>::from_coordinate_major(second, n)?;
    metric(x, y)
}
