//! The vector-Jacobian product of the two-axis softmax drift (the method's Algorithm 2,
//! docs/mathematics.md §4 and §10): the gradient the loss `mean‖V‖²` sends *through* `V` when
//! the stop-gradient is removed.
//!
//! Notation of docs/mathematics.md §4: queries `x_i`, targets `t_j` (positives, then negatives),
//! logits `l_ij`, row and column log-sum-exps `r_i`, `c_j`, affinities
//! `A_ij = w_j exp(max(l_ij − r_i/2 − c_j/2, φ))` (column weights `w_j` and the floor `φ` of the
//! official multi-temperature drift; 1 and `−∞` for Algorithm 2), `S±_i`, and
//! `V_i = Σ_j c_ij (t_j − x_i)` with `c_ij = A_ij S⁻_i` on positives and `−A_ij S⁺_i` on
//! negatives. For a cotangent `u`, reverse mode gives, with `e_ij = u_i·(t_j − x_i)`,
//! `α_i = Σ_{pos} A_ij e_ij`, `β_i = Σ_{neg} A_ij e_ij`:
//!
//! ```text
//! ā_ij = ∂⟨u, V⟩/∂A_ij = S⁻_i e_ij − β_i (positives),  −S⁺_i e_ij + α_i (negatives)
//! w_ij = ā_ij A_ij [l_ij − r_i/2 − c_j/2 > φ]            (the floor's subgradient is 0)
//! ρ_i = Σ_j w_ij,  κ_j = Σ_i w_ij                          (∂/∂r_i = −ρ_i/2, ∂/∂c_j = −κ_j/2)
//! l̄_ij = w_ij − ½ ρ_i p_ij − ½ κ_j q_ij,   p_ij = e^{l_ij − r_i},  q_ij = e^{l_ij − c_j}
//! G_i  = Σ_j l̄_ij γ_ij (t_j − x_i)                         (the query's own row)
//! G_k += Σ_i [c_ik u_i + l̄_ik γ_ik (x_i − x_k)]            (x_k as the negative of every row)
//! ```
//!
//! with `∇_x l(x, t) = γ (t − x)` (`γ = 1/(τ‖t − x‖)` Laplace, `1/σ²` Gaussian, 0 below the
//! squared-distance floor). The direct term of `x_i` in its own displacements, `−(Σ_j c_ij) u_i`,
//! vanishes because the coefficients sum to zero (`S⁻S⁺ − S⁺S⁻`); the self-pair's `c_kk u_k` in
//! the last line is its exact counterpart, so the masked pair (whose displacement is identically
//! zero) contributes nothing, as it must. `ρ_i` has a closed form from row sums:
//! `ρ_i = S⁻_i α'_i − β_i S⁺'_i − S⁺_i β'_i + α_i S⁻'_i`, the primes restricting the sums to
//! unfloored affinities (without a floor, `ρ_i = 2 u_i·V_i`).
//!
//! Passes (each a streaming sweep, `O(D)` state per block): the log-sum-exps (those of the
//! drift), one over the rows (`S±`, `α`, `β`, `ρ`), one over the columns (`κ`, and for the
//! queries as negatives the last line of `G`, with `κ_k` factored out), one over the rows (`G_i`,
//! with `ρ_i` factored out). Tests: `tests/drift_vjp.rs`, against central differences of an `f64`
//! reference.

use crate::cloud::CloudView;
use crate::drift::two_axis::TwoAxisConfig;
use crate::drift::vjp::{lanes_of, put};
use crate::drift::{Negatives, validate_clouds};
use crate::engine::affinity::TwoAxisProblem;
use crate::engine::chunks::Exec;
use crate::engine::simd::{F32s, LANES, exp, sqrt};
use crate::engine::{
    Block, LogitRule, Partners, Shape, check_kernel_range, dispatch_shape, is_laplace, sweep,
    take_scratch,
};
use crate::error::Error;

/// Scratch floats [`two_axis_vjp`] needs for `N` queries, `P` positives and `Q` negatives
/// (`Q = N` when the negatives are the queries): `6N + 2(P + Q)` (the drift's log-sum-exps, five
/// values per row, one per column).
#[must_use]
pub const fn two_axis_vjp_scratch_len(queries: usize, positives: usize, negatives: usize) -> usize {
    queries
        .saturating_mul(6)
        .saturating_add(positives.saturating_add(negatives).saturating_mul(2))
}

/// Per-row statistics kept between the passes: five values per query, one per target column.
pub(crate) const fn vjp_statistics_len(queries: usize, targets: usize) -> usize {
    queries.saturating_mul(5).saturating_add(targets)
}

/// `G = (∂V/∂x)ᵀ u`: the vector-Jacobian product of
/// [`two_axis_softmax_drift`](crate::two_axis_softmax_drift) with respect to the queries, for
/// the cotangent `u` (`∂L/∂V`, coordinate-major `N·D`).
///
/// With [`Negatives::Queries`] the queries are differentiated in both roles (their own rows, and
/// as the negatives of every row: positions, logits and column normalisers), under either
/// [`SelfMask`](crate::SelfMask) (the masked pair's displacement is identically zero and its
/// logit does not depend on the queries, so both masks give the exact derivative of the drift
/// they define). With [`Negatives::Cloud`] the negatives, like the positives, are data: no
/// gradient flows to them. The formula and its derivation are in the module documentation and
/// docs/mathematics.md §10.
///
/// Training without the stop-gradient (Algorithm 2's loss `mean‖x − (x + V)‖² = mean‖V‖²`
/// differentiated through `V`) feeds this product at `u = 2V/(N·D)` to the generator's backward
/// pass.
///
/// Cost: the drift's three log-sum-exp passes plus three streaming passes (rows, columns, rows),
/// `O(N·(P + Q)·D)` time with four `exp` per pair in the last two; memory: `scratch` of
/// [`two_axis_vjp_scratch_len`]`(N, P, Q)` floats, no allocation. The evaluation is always
/// streaming (`config.evaluation` is not consulted); with feature `std` its passes run on the
/// current rayon pool (the same bits).
///
/// # Errors
/// As [`two_axis_softmax_drift`](crate::two_axis_softmax_drift) (empty or non-finite clouds, an
/// invalid kernel or mask, [`Error::OutOfRange`] for clouds too far apart for the temperature),
/// plus [`Error::ShapeMismatch`] for `cotangent` not `N·D` long, [`Error::NonFinite`] for a
/// non-finite cotangent, [`Error::ScratchTooSmall`], and [`Error::OutOfRange`] (`"cotangent"`)
/// if the product overflows.
///
/// # Accuracy
/// Checked against central finite differences of `Σ u·V` computed in `f64`, Laplace and Gaussian,
/// both masks and separate negatives (`tests/drift_vjp.rs`): within `1e-5` of the gradient's
/// largest entry (measured: below `1e-6`).
///
/// # Example
/// Descending along `−G` with `u = V` (the gradient of `½‖V‖²`) shrinks the drift.
/// ```
/// use drifting::{CloudView, Kernel, Negatives, TwoAxisConfig, two_axis_scratch_len};
/// use drifting::{two_axis_softmax_drift, two_axis_vjp, two_axis_vjp_scratch_len};
/// let (mut x, y) = ([0.0_f32, 0.4, 1.0, 0.1, 0.3, -0.2], [1.5_f32, 1.8, 1.2, 1.4]);
/// let config = TwoAxisConfig::new(Kernel::laplace(1.0));
/// let half_norm2 = |x: &[f32]| -> Result<(f32, [f32; 6]), drifting::Error> {
///     let (mut v, mut scratch) = ([0.0; 6], [0.0; two_axis_scratch_len(3, 2, 3)]);
///     let (q, p) = (CloudView::<2>::from_coordinate_major(x, 3)?, CloudView::<2>::from_coordinate_major(&y, 2)?);
///     two_axis_softmax_drift(&q, &p, Negatives::Queries, &config, &mut scratch, &mut v)?;
///     Ok((0.5 * v.iter().map(|a| a * a).sum::<f32>(), v))
/// };
/// let (before, v) = half_norm2(&x)?;
/// let (mut scratch, mut g) = ([0.0; two_axis_vjp_scratch_len(3, 2, 3)], [0.0; 6]);
/// let (q, p) = (CloudView::<2>::from_coordinate_major(&x, 3)?, CloudView::<2>::from_coordinate_major(&y, 2)?);
/// two_axis_vjp(&q, &p, Negatives::Queries, &config, &v, &mut scratch, &mut g)?;
/// x.iter_mut().zip(&g).for_each(|(x, g)| *x -= 0.1 * g);
/// assert!(half_norm2(&x)?.0 < before);
/// # Ok::<(), drifting::Error>(())
/// ```
pub fn two_axis_vjp<const D: usize>(
    queries: &CloudView<'_, D>,
    positives: &CloudView<'_, D>,
    negatives: Negatives<'_, D>,
    config: &TwoAxisConfig,
    cotangent: &[f32],
    scratch: &mut [f32],
    out: &mut [f32],
) -> Result<(), Error> {
    let (negatives, is_self) = validate_clouds(queries, positives, negatives, out)?;
    config.kernel.validate()?;
    config.self_mask.validate()?;
    let added = match config.self_mask {
        crate::SelfMask::AddDistance(d) if is_self => d,
        _ => 0.0,
    };
    check_kernel_range(&config.kernel, &[queries, positives, &negatives], added)?;
    validate_cotangent(cotangent, out.len())?;
    let (n, p, q) = (queries.len(), positives.len(), negatives.len());
    let scratch = take_scratch(scratch, two_axis_vjp_scratch_len(n, p, q))?;
    let (lse, statistics) = scratch.split_at_mut((n + p + q).min(scratch.len()));
    let problem = TwoAxisProblem {
        queries: *queries,
        positives: *positives,
        negatives,
        negatives_are_queries: is_self,
        positive_weights: None,
        negative_weights: None,
        affinity_floor_logit: None,
        output_scale: 1.0,
    };
    let rule = LogitRule::new(&config.kernel, config.self_mask.pair_mask());
    out.fill(0.0);
    dispatch_shape!(is_laplace(&config.kernel), S => {
        problem.log_normalisers::<S>(Exec::current(), &rule, lse);
        add_two_axis_vjp::<D, S>(&problem, &rule, lse, cotangent, statistics, out, false);
    });
    if out.iter().all(|g| g.is_finite()) {
        Ok(())
    } else {
        Err(Error::OutOfRange { input: "cotangent" })
    }
}

/// Checks a cotangent: `expected` long and finite.
pub(crate) fn validate_cotangent(cotangent: &[f32], expected: usize) -> Result<(), Error> {
    if cotangent.len() != expected {
        return Err(Error::ShapeMismatch {
            input: "cotangent",
            expected,
            found: cotangent.len(),
        });
    }
    if cotangent.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(Error::NonFinite { input: "cotangent" })
    }
}

/// One target family (the positives or the negatives) of a two-axis problem.
struct Family<'a, const D: usize> {
    cloud: CloudView<'a, D>,
    /// The family's column log-sum-exps `c_j`.
    columns: &'a [f32],
    weights: Option<&'a [f32]>,
    /// The negatives are the queries: self-pairs masked, and the queries' column role counted.
    is_self: bool,
    positive: bool,
}

/// The per-row statistics after the first row pass.
struct RowStatistics<'a> {
    /// `r_i`.
    rows: &'a [f32],
    s_pos: &'a [f32],
    s_neg: &'a [f32],
    /// `α_i = Σ_{pos} A_ij e_ij`.
    alpha: &'a [f32],
    /// `β_i = Σ_{neg} A_ij e_ij`.
    beta: &'a [f32],
    /// `ρ_i = Σ_j w_ij`.
    rho: &'a [f32],
}

impl RowStatistics<'_> {
    /// `(k_e, k_0)` with `ā_ij = k_e e_ij + k_0` for row `i` and the family.
    #[inline(always)]
    fn cotangent_coefficients(&self, i: usize, positive: bool) -> (f32, f32) {
        let v = |s: &[f32]| s.get(i).copied().unwrap_or(0.0);
        if positive {
            (v(self.s_neg), -v(self.beta))
        } else {
            (-v(self.s_pos), v(self.alpha))
        }
    }
}

/// Adds `(∂V/∂x)ᵀ u` to `out` for the drift `V` of `problem` (its `output_scale` ignored), the
/// log-sum-exps `lse` (`N + P + Q`, from [`TwoAxisProblem::log_normalisers`] or left by
/// [`TwoAxisProblem::drift`]) and `statistics` of [`vjp_statistics_len`]`(N, P + Q)` floats.
///
/// Returns `Σ_ij l̄_ij dist_ij` (`dist = sqrt(max(‖x_i − t_j‖², floor))`) when `distance_sum` is
/// set, else 0: the sensitivity of `⟨u, V⟩` to a common factor of the Laplace logits (the official
/// drift's distance scale).
pub(crate) fn add_two_axis_vjp<const D: usize, S: Shape>(
    problem: &TwoAxisProblem<'_, D>,
    rule: &LogitRule,
    lse: &[f32],
    u: &[f32],
    statistics: &mut [f32],
    out: &mut [f32],
    distance_sum: bool,
) -> f64 {
    let (n, p) = (problem.queries.len(), problem.positives.len());
    let (rows, columns) = lse.split_at(n.min(lse.len()));
    let (pos_columns, neg_columns) = columns.split_at(p.min(columns.len()));
    let (per_row, kappa) = statistics.split_at_mut((5 * n).min(statistics.len()));
    let (kappa_pos, kappa_neg) = kappa.split_at_mut(p.min(kappa.len()));
    let (s_pos, rest) = per_row.split_at_mut(n.min(per_row.len()));
    let (s_neg, rest) = rest.split_at_mut(n.min(rest.len()));
    let (alpha, rest) = rest.split_at_mut(n.min(rest.len()));
    let (beta, rho) = rest.split_at_mut(n.min(rest.len()));
    let floor = problem.affinity_floor_logit.map(F32s::splat);
    let families = [
        Family {
            cloud: problem.positives,
            columns: pos_columns,
            weights: problem.positive_weights,
            is_self: false,
            positive: true,
        },
        Family {
            cloud: problem.negatives,
            columns: neg_columns,
            weights: problem.negative_weights,
            is_self: problem.negatives_are_queries,
            positive: false,
        },
    ];
    let context = Context {
        rule,
        inv: F32s::splat(rule.inverse_scale),
        floor,
        squared_distance_floor: rule.squared_distance_floor,
    };

    // Pass 1 (rows): S±, α, β and ρ.
    for start in (0..n).step_by(LANES) {
        let block = Block::gather(&problem.queries, start);
        let half_row = lanes_of::<1>(rows, n, start)[0] * F32s::splat(-0.5);
        let uk = lanes_of::<D>(u, n, start);
        let [pos, neg] = families
            .each_ref()
            .map(|family| row_sums::<D, S>(&block, family, half_row, &uk, &context));
        let rho_lanes = neg.total * pos.e_active - neg.e * pos.active
            + (pos.e * neg.active - pos.total * neg.e_active);
        for (dst, v) in [
            (&mut *s_pos, pos.total),
            (&mut *s_neg, neg.total),
            (&mut *alpha, pos.e),
            (&mut *beta, neg.e),
            (&mut *rho, rho_lanes),
        ] {
            put(dst, start, block.valid, Some(v));
        }
    }
    let statistics = RowStatistics {
        rows,
        s_pos,
        s_neg,
        alpha,
        beta,
        rho,
    };

    // Pass 2 (columns): κ_j, and the queries' role as negatives.
    for (family, kappa) in families.iter().zip([&mut *kappa_pos, &mut *kappa_neg]) {
        column_pass::<D, S>(problem, family, &statistics, u, &context, kappa, out);
    }
    let kappas = [&*kappa_pos, &*kappa_neg];

    // Pass 3 (rows): each query's own row.
    let mut total = 0.0_f64;
    for start in (0..n).step_by(LANES) {
        let block = Block::gather(&problem.queries, start);
        let lane = |values: &[f32]| lanes_of::<1>(values, n, start)[0];
        let row = RowLanes {
            r: lane(statistics.rows),
            rho: lane(statistics.rho),
            u: lanes_of::<D>(u, n, start),
        };
        let mut own = [F32s::splat(0.0); D];
        let mut normaliser = [F32s::splat(0.0); D];
        let mut distances = F32s::splat(0.0);
        for (family, kappa) in families.iter().zip(kappas) {
            let (ke, k0) = if family.positive {
                (lane(statistics.s_neg), -lane(statistics.beta))
            } else {
                (-lane(statistics.s_pos), lane(statistics.alpha))
            };
            own_row::<D, S>(
                &block,
                family,
                kappa,
                &row,
                (ke, k0),
                &context,
                distance_sum,
                (&mut own, &mut normaliser, &mut distances),
            );
        }
        let half_rho = row.rho * F32s::splat(0.5);
        for (d, (o, y)) in own.iter().zip(&normaliser).enumerate() {
            add(
                out,
                d * n + start,
                block.valid,
                half_rho.mul_neg_add(*y, *o),
            );
        }
        total += distances
            .to_array()
            .iter()
            .take(block.valid)
            .map(|&v| f64::from(v))
            .sum::<f64>();
    }
    total
}

/// What every consumer needs besides the pair.
struct Context<'a> {
    rule: &'a LogitRule,
    inv: F32s,
    floor: Option<F32s>,
    squared_distance_floor: f32,
}

impl Context<'_> {
    /// `(A, A·[z > φ])` for the argument `z = l − r/2 − c/2` and the column weight `w`.
    #[inline(always)]
    fn affinity(&self, z: F32s, w: F32s) -> (F32s, F32s) {
        match self.floor {
            Some(floor) => {
                let a = exp(z.fast_max(floor)) * w;
                (a, z.simd_gt(floor).select(a, F32s::splat(0.0)))
            }
            None => {
                let a = exp(z) * w;
                (a, a)
            }
        }
    }

    /// `γ` with `∇_x l(x, t) = γ (t − x)` for the pair's raw squared distance `sq`; 0 at or below
    /// the squared-distance floor (where the distance is the constant `sqrt(floor)`).
    #[inline(always)]
    fn gradient_factor<S: Shape>(&self, sq: F32s) -> F32s {
        let g = S::gradient_factor_sq(sq, self.inv);
        if self.squared_distance_floor > 0.0 {
            sq.simd_gt(F32s::splat(self.squared_distance_floor))
                .select(g, F32s::splat(0.0))
        } else {
            g
        }
    }
}

/// The lanes' own row values in pass 3.
struct RowLanes<const D: usize> {
    r: F32s,
    rho: F32s,
    u: [F32s; D],
}

/// Sums of pass 1 over one family: `Σ A`, `Σ A [z > φ]`, `Σ A e`, `Σ A e [z > φ]`.
struct FamilySums {
    total: F32s,
    active: F32s,
    e: F32s,
    e_active: F32s,
}

/// `w_j` of column `j` (1 without weights).
#[inline(always)]
fn weight(weights: Option<&[f32]>, j: usize) -> f32 {
    weights.map_or(1.0, |w| w.get(j).copied().unwrap_or(0.0))
}

/// Pass 1 for one block of queries against one family.
#[inline(always)]
fn row_sums<const D: usize, S: Shape>(
    block: &Block<D>,
    family: &Family<'_, D>,
    half_row: F32s,
    uk: &[F32s; D],
    context: &Context<'_>,
) -> FamilySums {
    let zero = F32s::splat(0.0);
    let mut sums = FamilySums {
        total: zero,
        active: zero,
        e: zero,
        e_active: zero,
    };
    let partners = Partners::new(family.cloud, family.is_self);
    sweep::<D, S>(block, &partners, context.rule, |tile| {
        for (t, l) in tile.logits().iter().enumerate() {
            let j = tile.start + t;
            let c = family.columns.get(j).copied().unwrap_or(0.0);
            let z = *l + half_row + F32s::splat(-0.5 * c);
            let (a, a_active) = context.affinity(z, F32s::splat(weight(family.weights, j)));
            let mut e = zero;
            for ((u, x), column) in uk.iter().zip(&block.coords).zip(&tile.coords) {
                let y = F32s::splat(column.get(t).copied().unwrap_or(0.0));
                e = u.mul_add(y - *x, e);
            }
            sums.total += a;
            sums.active += a_active;
            sums.e = a.mul_add(e, sums.e);
            sums.e_active = a_active.mul_add(e, sums.e_active);
        }
    });
    sums
}

/// Pass 2 for one family: lanes over its columns, partners the queries. Writes `κ_j`; when the
/// family is the queries themselves, adds their column-role gradient
/// `Σ_i [c_ik u_i + (w_ik − ½ρ_i p_ik) γ_ik (x_i − x_k)] − ½κ_k Σ_i q_ik γ_ik (x_i − x_k)` to `out`.
fn column_pass<const D: usize, S: Shape>(
    problem: &TwoAxisProblem<'_, D>,
    family: &Family<'_, D>,
    statistics: &RowStatistics<'_>,
    u: &[f32],
    context: &Context<'_>,
    kappa_out: &mut [f32],
    out: &mut [f32],
) {
    let n = problem.queries.len();
    let m = family.cloud.len();
    let role = family.is_self;
    let partners = Partners::new(problem.queries, role);
    let zero = F32s::splat(0.0);
    for start in (0..m).step_by(LANES) {
        let block = Block::gather(&family.cloud, start);
        let c_lanes = lanes_of::<1>(family.columns, m, start)[0];
        let half_column = c_lanes * F32s::splat(-0.5);
        let w_lanes = family
            .weights
            .map_or(F32s::splat(1.0), |w| lanes_of::<1>(w, m, start)[0]);
        let mut kappa = zero;
        let mut direct = [zero; D];
        let mut normaliser = [zero; D];
        sweep::<D, S>(&block, &partners, context.rule, |tile| {
            for (t, l) in tile.logits().iter().enumerate() {
                let i = tile.start + t;
                let r = statistics.rows.get(i).copied().unwrap_or(0.0);
                let z = *l + half_column + F32s::splat(-0.5 * r);
                let (a, a_active) = context.affinity(z, w_lanes);
                // δ = t_j − x_i (lane minus partner), e = u_i·δ.
                let mut delta = [zero; D];
                let mut e = zero;
                let mut sq = zero;
                for (d, (dl, (x, column))) in delta
                    .iter_mut()
                    .zip(block.coords.iter().zip(&tile.coords))
                    .enumerate()
                {
                    *dl = *x - F32s::splat(column.get(t).copied().unwrap_or(0.0));
                    let ui = u.get(d * n + i).copied().unwrap_or(0.0);
                    e = F32s::splat(ui).mul_add(*dl, e);
                    sq = dl.mul_add(*dl, sq);
                }
                let (ke, k0) = statistics.cotangent_coefficients(i, family.positive);
                let w = F32s::splat(ke).mul_add(e, F32s::splat(k0)) * a_active;
                kappa += w;
                if role {
                    let rho = statistics.rho.get(i).copied().unwrap_or(0.0);
                    let s_pos = statistics.s_pos.get(i).copied().unwrap_or(0.0);
                    let p = exp(*l - F32s::splat(r));
                    let q = exp(*l - c_lanes);
                    let g = context.gradient_factor::<S>(sq);
                    let coefficient = a * F32s::splat(-s_pos);
                    let along = F32s::splat(-0.5 * rho).mul_add(p, w) * g;
                    let across = q * g;
                    for (d, ((dc, nc), dl)) in direct
                        .iter_mut()
                        .zip(normaliser.iter_mut())
                        .zip(&delta)
                        .enumerate()
                    {
                        let ui = u.get(d * n + i).copied().unwrap_or(0.0);
                        // x_i − x_k = −δ.
                        *dc = coefficient.mul_add(F32s::splat(ui), *dc);
                        *dc = along.mul_neg_add(*dl, *dc);
                        *nc = across.mul_neg_add(*dl, *nc);
                    }
                }
            }
        });
        put(kappa_out, start, block.valid, Some(kappa));
        if role {
            let half_kappa = kappa * F32s::splat(0.5);
            for (d, (dc, nc)) in direct.iter().zip(&normaliser).enumerate() {
                add(
                    out,
                    d * n + start,
                    block.valid,
                    half_kappa.mul_neg_add(*nc, *dc),
                );
            }
        }
    }
}

/// Pass 3 for one block of queries against one family: accumulates
/// `own += Σ_j (w_ij − ½κ_j q_ij) γ_ij (t_j − x_i)`, `normaliser += Σ_j p_ij γ_ij (t_j − x_i)`
/// and, with `distance_sum`, `distances += Σ_j l̄_ij dist_ij`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn own_row<const D: usize, S: Shape>(
    block: &Block<D>,
    family: &Family<'_, D>,
    kappa: &[f32],
    row: &RowLanes<D>,
    (ke, k0): (F32s, F32s),
    context: &Context<'_>,
    distance_sum: bool,
    (own, normaliser, distances): (&mut [F32s; D], &mut [F32s; D], &mut F32s),
) {
    let zero = F32s::splat(0.0);
    let half_row = row.r * F32s::splat(-0.5);
    let half_rho = row.rho * F32s::splat(0.5);
    let partners = Partners::new(family.cloud, family.is_self);
    sweep::<D, S>(block, &partners, context.rule, |tile| {
        for (t, l) in tile.logits().iter().enumerate() {
            let j = tile.start + t;
            let c = family.columns.get(j).copied().unwrap_or(0.0);
            let half_kappa = F32s::splat(0.5 * kappa.get(j).copied().unwrap_or(0.0));
            let z = *l + half_row + F32s::splat(-0.5 * c);
            let (_, a_active) = context.affinity(z, F32s::splat(weight(family.weights, j)));
            let mut delta = [zero; D];
            let mut e = zero;
            let mut sq = zero;
            for (dl, ((u, x), column)) in delta
                .iter_mut()
                .zip(row.u.iter().zip(&block.coords).zip(&tile.coords))
            {
                *dl = F32s::splat(column.get(t).copied().unwrap_or(0.0)) - *x;
                e = u.mul_add(*dl, e);
                sq = dl.mul_add(*dl, sq);
            }
            let w = ke.mul_add(e, k0) * a_active;
            let p = exp(*l - row.r);
            let q = exp(*l - F32s::splat(c));
            let g = context.gradient_factor::<S>(sq);
            let partial = half_kappa.mul_neg_add(q, w);
            let along = partial * g;
            let normalising = p * g;
            for ((o, y), dl) in own.iter_mut().zip(normaliser.iter_mut()).zip(&delta) {
                *o = along.mul_add(*dl, *o);
                *y = normalising.mul_add(*dl, *y);
            }
            if distance_sum {
                let dist = sqrt(sq.fast_max(F32s::splat(context.squared_distance_floor)));
                *distances = half_rho.mul_neg_add(p, partial).mul_add(dist, *distances);
            }
        }
    });
}

/// Adds the first `valid` lanes of `v` to `dst[offset..]`.
pub(crate) fn add(dst: &mut [f32], offset: usize, valid: usize, v: F32s) {
    if let Some(dst) = dst.get_mut(offset..offset + valid) {
        for (o, x) in dst.iter_mut().zip(v.to_array()) {
            *o += x;
        }
    }
}
