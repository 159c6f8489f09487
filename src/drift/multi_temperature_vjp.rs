//! The vector-Jacobian product of the official multi-temperature drift
//! ([`multi_temperature_drift`](crate::multi_temperature_drift), docs/mathematics.md §5 and §10)
//! with respect to the generated samples, through every statistic that depends on them.
//!
//! What is differentiated. The official `drift_loss` computes its whole target under
//! `no_grad`/`stop_gradient` (the distance scale, `s_in`, every `F_R` and `n_R`): its gradient is
//! the stop-gradient one, `−2F/(s_in·N·D)`, and nothing of `F` is differentiated. Removing the
//! stop-gradient (the first paper's ablation) makes the loss `mean(F²)` a function of `x` through
//! all of them, and that is what this product is: the exact derivative of the map
//! `x ↦ F(x)` that [`multi_temperature_drift`](crate::multi_temperature_drift) computes, with
//!
//! 1. `dist_ij = sqrt(max(‖x_i − t_j‖², 1e-8))` (the floor's subgradient 0), targets `[x ; y⁺]`;
//! 2. `scale = Σ_ij dist_ij w_j / (N Σ_j w_j)`, `s = max(scale, 1e-3)`,
//!    `s_in = max(scale/√D, 1e-3)` (each clamp's subgradient 0 when active);
//! 3. per temperature `R`, logits `l_ij = −dist_ij/(R s)` (`−100/R` more on the self-pairs), the
//!    two-axis drift `V_R` with weights and the affinity floor, `F_R = V_R/s_in`,
//!    `n_R = mean(F_R²)`, `F = Σ_R F_R/sqrt(max(n_R, 1e-8))`.
//!
//! Reverse mode, for a cotangent `U` on `F`:
//!
//! ```text
//! Ū_R = U/ν_R − (⟨U, F_R⟩/(ν_R³ N D)) F_R          ν_R = sqrt(n_R) (if n_R > 1e-8; else Ū_R = U/ν_R)
//! G  += (∂V_R/∂x)ᵀ (Ū_R/s_in)                        at fixed s (the two-axis product)
//! s̄  += Σ_ij l̄_ij dist_ij / (R s²)                   (∂l_ij/∂s = dist_ij/(R s²))
//! s̄_in −= ⟨Ū_R, F_R⟩ / s_in                           (0 unless n_R is clamped: F_R/ν_R is
//!                                                      invariant under scaling F_R)
//! G_m += (s̄ [scale > 1e-3] + s̄_in [scale/√D > 1e-3]/√D) ∂scale/∂x_m,
//! ∂scale/∂x_m = (1/(N Σw)) [Σ_{j} w⁺_j (x_m − y_j)/dist_mj + Σ_{k≠m} (w⁻_k + w⁻_m)(x_m − x_k)/dist_mk]
//! ```
//!
//! with `l̄_ij` the logit cotangents of the two-axis product (`two_axis_vjp.rs`). Tests:
//! `tests/drift_vjp.rs`, against central differences of an `f64` reference of the official
//! formula.

use crate::cloud::CloudView;
use crate::drift::multi_temperature::{MultiTemperatureConfig, checked_scales, validate_config};
use crate::drift::two_axis_vjp::{add, add_two_axis_vjp, validate_cotangent, vjp_statistics_len};
use crate::drift::vjp::lanes_of;
use crate::drift::{Negatives, validate_clouds};
use crate::engine::affinity::TwoAxisProblem;
use crate::engine::chunks::Exec;
use crate::engine::simd::{F32s, LANES, sqrt};
use crate::engine::{
    Block, LaplaceShape, LogitRule, PairMask, Partners, mean_square, sweep, take_scratch,
};
use crate::error::Error;

/// The official squared-distance floor of `drift_loss` (`dist = sqrt(max(‖x − t‖², 1e-8))`).
const SQUARED_DISTANCE_FLOOR: f32 = 1.0e-8;

/// Scratch floats [`multi_temperature_vjp`] needs for `N` queries and `P` positives in `R^D`:
/// `8N + 2P + 2N·D` (the drift's log-sum-exps, one temperature's field and its cotangent, the
/// two-axis product's statistics).
#[must_use]
pub const fn multi_temperature_vjp_scratch_len(
    queries: usize,
    positives: usize,
    dim: usize,
) -> usize {
    queries
        .saturating_mul(8)
        .saturating_add(positives.saturating_mul(2))
        .saturating_add(queries.saturating_mul(dim).saturating_mul(2))
}

/// `G = (∂F/∂x)ᵀ U`: the vector-Jacobian product of the official multi-temperature drift
/// [`multi_temperature_drift`](crate::multi_temperature_drift) (output in coordinates divided by
/// `s_in`) with respect to the generated samples `x`, for the cotangent `U` (`∂L/∂F`,
/// coordinate-major `N·D`), through the distances, the global distance scale (and so `s_in` and
/// the normalised distances), each temperature's row and column normalisers, affinities and
/// RMS normalisation `n_R`. The positives and the column weights are data.
///
/// The official code differentiates none of this (its target is computed under
/// `stop_gradient`); this is the derivative the no-stop-gradient ablation needs: the loss
/// `mean(F²)` differentiated through `F`, i.e. this product at `U = 2F/(N·D)`. Formula and
/// derivation in the module documentation and docs/mathematics.md §10.
///
/// Cost: one distance pass, per temperature the drift's four streaming passes and the two-axis
/// product's three, then one distance pass: `O(T·N·(N + P)·D)` for `T` temperatures; memory:
/// `scratch` of [`multi_temperature_vjp_scratch_len`]`(N, P, D)` floats, no allocation. Always
/// streaming (`config.evaluation` is not consulted); with feature `std` its passes run on the
/// current rayon pool (the same bits).
///
/// # Errors
/// As [`multi_temperature_drift`](crate::multi_temperature_drift) (empty or non-finite clouds,
/// invalid temperatures, floor, mask distance or weights, clouds out of range), plus
/// [`Error::ShapeMismatch`] for `cotangent` not `N·D` long, [`Error::NonFinite`] for a non-finite
/// cotangent, [`Error::ScratchTooSmall`], and [`Error::OutOfRange`] (`"cotangent"`) if the
/// product overflows.
///
/// # Accuracy
/// Checked against central finite differences of `Σ U·F` computed in `f64` from the official
/// formula, with and without the affinity floor, with column weights, in 2 and 3 dimensions
/// (`tests/drift_vjp.rs`): within `1e-5` of the gradient's largest entry (measured: below `1e-6`).
///
/// # Example
/// The product is linear in the cotangent, and a zero cotangent gives a zero gradient.
/// ```
/// use drifting::{CloudView, MultiTemperatureConfig, multi_temperature_vjp};
/// use drifting::multi_temperature_vjp_scratch_len;
/// let (x, y) = ([0.0_f32, 0.4, 1.0, 0.1, 0.3, -0.2], [1.5_f32, 1.8, 1.2, 1.4]);
/// let (q, p) = (CloudView::<2>::from_coordinate_major(&x, 3)?, CloudView::<2>::from_coordinate_major(&y, 2)?);
/// let config = MultiTemperatureConfig::official();
/// let mut scratch = [0.0; multi_temperature_vjp_scratch_len(3, 2, 2)];
/// let (u, mut g, mut g2, mut g0) = ([0.3_f32, -0.1, 0.2, 0.5, 0.0, -0.4], [0.0; 6], [0.0; 6], [1.0; 6]);
/// multi_temperature_vjp(&q, &p, &config, &u, &mut scratch, &mut g)?;
/// multi_temperature_vjp(&q, &p, &config, &u.map(|a| 2.0 * a), &mut scratch, &mut g2)?;
/// multi_temperature_vjp(&q, &p, &config, &[0.0; 6], &mut scratch, &mut g0)?;
/// assert!(g.iter().zip(&g2).all(|(a, b)| (2.0 * a - b).abs() <= 1e-5 * (1.0 + b.abs())));
/// assert!(g0.iter().all(|&a| a == 0.0));
/// # Ok::<(), drifting::Error>(())
/// ```
pub fn multi_temperature_vjp<const D: usize>(
    queries: &CloudView<'_, D>,
    positives: &CloudView<'_, D>,
    config: &MultiTemperatureConfig<'_>,
    cotangent: &[f32],
    scratch: &mut [f32],
    out: &mut [f32],
) -> Result<(), Error> {
    validate_clouds(queries, positives, Negatives::Queries, out)?;
    let (n, p) = (queries.len(), positives.len());
    validate_config(config, n, p)?;
    validate_cotangent(cotangent, out.len())?;
    let scratch = take_scratch(scratch, multi_temperature_vjp_scratch_len(n, p, D))?;
    let (scale, input_scale) = checked_scales(Exec::current(), queries, positives, config)?;
    let clamped_scale = scale.max(1.0e-3);
    #[allow(clippy::cast_precision_loss)]
    let sqrt_dim = libm::sqrtf(D as f32);

    let (lse, rest) = scratch.split_at_mut((2 * n + p).min(scratch.len()));
    let (force, rest) = rest.split_at_mut((n * D).min(rest.len()));
    let (field_cotangent, statistics) = rest.split_at_mut((n * D).min(rest.len()));
    let statistics = statistics
        .get_mut(..vjp_statistics_len(n, n + p))
        .unwrap_or(&mut []);
    let problem = TwoAxisProblem {
        queries: *queries,
        positives: *positives,
        negatives: *queries,
        negatives_are_queries: true,
        positive_weights: config.positive_weights,
        negative_weights: config.negative_weights,
        affinity_floor_logit: (config.affinity_floor > 0.0)
            .then(|| 0.5 * libm::logf(config.affinity_floor)),
        output_scale: 1.0 / input_scale,
    };
    #[allow(clippy::cast_precision_loss)]
    let count = (n * D) as f64;
    out.fill(0.0);
    // Sensitivities of ⟨U, F⟩ to the clamped scale `s` and to `s_in`.
    let (mut scale_bar, mut input_scale_bar) = (0.0_f64, 0.0_f64);
    for &r in config.temperatures {
        let inverse_scale = 1.0 / (r * clamped_scale);
        let rule = LogitRule {
            inverse_scale,
            squared_distance_floor: SQUARED_DISTANCE_FLOOR,
            mask: PairMask::AddDistance(config.self_mask_distance * clamped_scale),
        };
        problem.drift::<LaplaceShape>(Exec::current(), &rule, lse, force);
        let n_r = f64::from(mean_square(force));
        let along: f64 = cotangent
            .iter()
            .zip(force.iter())
            .map(|(u, f)| f64::from(*u) * f64::from(*f))
            .sum();
        let clamped = n_r <= 1.0e-8;
        let nu = libm::sqrt(n_r.max(1.0e-8));
        // Ū_R/s_in, the cotangent of the raw two-axis drift V_R = s_in F_R.
        let (a, b) = if clamped {
            input_scale_bar -= along / (nu * f64::from(input_scale));
            (1.0 / nu, 0.0)
        } else {
            (1.0 / nu, -along / (nu * nu * nu * count))
        };
        #[allow(clippy::cast_possible_truncation)]
        let (a, b) = (
            (a / f64::from(input_scale)) as f32,
            (b / f64::from(input_scale)) as f32,
        );
        for (c, (u, f)) in field_cotangent
            .iter_mut()
            .zip(cotangent.iter().zip(force.iter()))
        {
            *c = a * u + b * f;
        }
        let distances = add_two_axis_vjp::<D, LaplaceShape>(
            &problem,
            &rule,
            lse,
            field_cotangent,
            statistics,
            out,
            true,
        );
        scale_bar += distances * f64::from(inverse_scale) / f64::from(clamped_scale);
    }
    let total_bar = if scale > 1.0e-3 { scale_bar } else { 0.0 }
        + if scale / sqrt_dim > 1.0e-3 {
            input_scale_bar / f64::from(sqrt_dim)
        } else {
            0.0
        };
    if total_bar != 0.0 {
        #[allow(clippy::cast_precision_loss)]
        let weight_total = config
            .positive_weights
            .map_or(p as f64, |w| w.iter().map(|&v| f64::from(v)).sum())
            + config
                .negative_weights
                .map_or(n as f64, |w| w.iter().map(|&v| f64::from(v)).sum());
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
        let factor = (total_bar / (n as f64 * weight_total)) as f32;
        add_distance_scale_gradient(queries, positives, config, factor, out);
    }
    if out.iter().all(|g| g.is_finite()) {
        Ok(())
    } else {
        Err(Error::OutOfRange { input: "cotangent" })
    }
}

/// `out_m += factor · [Σ_j w⁺_j (x_m − y_j)/dist_mj + Σ_k (w⁻_k + w⁻_m)(x_m − x_k)/dist_mk]`, pairs
/// at or below the squared-distance floor (the self-pairs among them) contributing 0: `factor`
/// times `N Σw ∂scale/∂x_m`.
fn add_distance_scale_gradient<const D: usize>(
    queries: &CloudView<'_, D>,
    positives: &CloudView<'_, D>,
    config: &MultiTemperatureConfig<'_>,
    factor: f32,
    out: &mut [f32],
) {
    let n = queries.len();
    // The logits are not used: every consumer recomputes the pair's squared distance.
    let rule = LogitRule {
        inverse_scale: -1.0,
        squared_distance_floor: SQUARED_DISTANCE_FLOOR,
        mask: PairMask::Exclude,
    };
    let zero = F32s::splat(0.0);
    let floor = F32s::splat(SQUARED_DISTANCE_FLOOR);
    for start in (0..n).step_by(LANES) {
        let block = Block::gather(queries, start);
        let own_weight = config
            .negative_weights
            .map_or(F32s::splat(1.0), |w| lanes_of::<1>(w, n, start)[0]);
        let mut acc = [zero; D];
        for (cloud, weights, lane_weight) in [
            (*positives, config.positive_weights, zero),
            (*queries, config.negative_weights, own_weight),
        ] {
            sweep::<D, LaplaceShape>(&block, &Partners::new(cloud, false), &rule, |tile| {
                for t in 0..tile.count {
                    let j = tile.start + t;
                    let w = weights.map_or(1.0, |w| w.get(j).copied().unwrap_or(0.0));
                    let mut delta = [zero; D];
                    let mut sq = zero;
                    for (dl, (x, column)) in
                        delta.iter_mut().zip(block.coords.iter().zip(&tile.coords))
                    {
                        *dl = *x - F32s::splat(column.get(t).copied().unwrap_or(0.0));
                        sq = dl.mul_add(*dl, sq);
                    }
                    let weight = F32s::splat(w) + lane_weight;
                    let coefficient = sq
                        .simd_gt(floor)
                        .select(weight / sqrt(sq.fast_max(floor)), zero);
                    for (a, dl) in acc.iter_mut().zip(&delta) {
                        *a = coefficient.mul_add(*dl, *a);
                    }
                }
            });
        }
        for (d, a) in acc.iter().enumerate() {
            add(out, d * n + start, block.valid, *a * F32s::splat(factor));
        }
    }
}
