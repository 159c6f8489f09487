//! Projections of clouds onto directions: the shared step of the sliced-Wasserstein distance
//! (`metrics`) and the sliced-Wasserstein flow (`drift`) (docs/mathematics.md §7, §11).

use rand_core::Rng;

use crate::cloud::{CloudView, Coordinates, Layout};
use crate::sample::fill_standard_normal;

/// The largest direction count [`sliced_wasserstein`](crate::metrics::sliced_wasserstein) and
/// [`sliced_wasserstein_drift`](crate::sliced_wasserstein_drift) accept: `2^20`, five thousand
/// times the papers' 200. Each direction costs a projection and two sorts, so the count bounds
/// the run time; larger counts are refused with
/// [`Error::InvalidParameter`](crate::Error::InvalidParameter) (`"directions"`) instead of
/// looping for hours or, on a thread pool, allocating a direction list that does not fit in
/// memory.
pub const MAX_DIRECTIONS: usize = 1 << 20;

/// A direction drawn uniformly on the unit sphere `S^{D−1}`: a standard normal vector
/// ([`fill_standard_normal`](crate::sample::fill_standard_normal)) divided by its `f32` norm,
/// redrawn in the (probability ≈ 0) case of a norm below `1e-6`. Draws `D` normals (rounded up
/// to even) per attempt.
///
/// [`sliced_wasserstein`](crate::metrics::sliced_wasserstein) draws its `L` directions with this
/// function, one after the other, and consumes nothing else from the generator, so a caller can
/// reproduce them.
pub fn random_direction<const D: usize, R: Rng + ?Sized>(rng: &mut R) -> [f32; D] {
    let mut theta = [0.0_f32; D];
    if D == 0 {
        return theta;
    }
    loop {
        fill_standard_normal(rng, &mut theta);
        let norm = libm::sqrtf(theta.iter().map(|v| v * v).sum());
        if norm > 1e-6 {
            for v in &mut theta {
                *v /= norm;
            }
            return theta;
        }
    }
}

/// `out[i] = Σ_d θ_d (x_{i,d} − c_d)` (`f32`, `d` in order; both layouts give identical values).
pub(crate) fn project<const D: usize>(
    cloud: &CloudView<'_, D>,
    theta: &[f32; D],
    centre: &[f32; D],
    out: &mut [f32],
) {
    match cloud.layout() {
        Layout::Coordinates(Coordinates(columns)) => {
            out.fill(0.0);
            for ((column, &t), &c0) in columns.iter().zip(theta).zip(centre) {
                for (o, &c) in out.iter_mut().zip(*column) {
                    *o += t * (c - c0);
                }
            }
        }
        Layout::Points(points) => {
            for (o, point) in out.iter_mut().zip(points) {
                let mut s = 0.0_f32;
                for ((&t, &c), &c0) in theta.iter().zip(point).zip(centre) {
                    s += t * (c - c0);
                }
                *o = s;
            }
        }
    }
}
