//! Barycentric projections, the Sinkhorn drift `T_ab − T_aa`, and the one-shot Sinkhorn proxy.

use super::softmin::{Side, cost_rule};
use super::solver::{solve_pair, solve_self};
use super::{SinkhornConfig, SinkhornReport, SinkhornWorkspace, Solves, WeightedCloud, prepare};
use crate::cloud::CloudView;
use crate::drift::Negatives;
use crate::drift::operator::{DriftOperator, DriftOutcome, DriftShape, queries_as_negatives};
use crate::engine::chunks::{Exec, for_each_chunk};
use crate::engine::mean_displacement;
use crate::engine::take_scratch;
use crate::engine::{Block, GaussianShape, LogitRule, Partners, log_sum_exp};
use crate::error::Error;
use rand_core::Rng;

/// Writes `scale · (T(x_i) − x_i)` (or `+=` when `accumulate`) for the plan whose row `i` is the
/// softmax over `j` of `bias_j − C_ij/ε`: a weighted mean of displacements, the mean-shift loop
/// of the drift module with Sinkhorn's biases, its row chunks run by `exec`.
fn displacement<const D: usize>(
    exec: Exec,
    x: &CloudView<'_, D>,
    targets: Partners<'_, D>,
    rule: &LogitRule,
    scale: f32,
    accumulate: bool,
    out: &mut [f32],
) {
    for_each_chunk::<D>(exec, x.len(), out, |rows| {
        for start in rows.block_starts() {
            let block = Block::gather(x, start);
            let mean = mean_displacement::<D, GaussianShape>(&block, &targets, rule);
            for (d, v) in mean.iter().enumerate() {
                let mut v = *v * crate::engine::simd::F32s::splat(scale);
                if accumulate {
                    v += rows.read(d, start);
                }
                rows.write(d, start, block.valid, v);
            }
        }
    });
}

/// `bias_j = log w_j + potential_j / ε`.
/// `out (+)= scale · (T(x_i) − x_i)`, with `T` the barycentric projection of `x` onto `targets`
/// under the plan whose potential on `targets` is `potential` (log-weights `log_w`): the row
/// softmax of `log_w_j + potential_j/ε − C_ij/ε`. `bias` is scratch of at least `M` values.
#[allow(clippy::too_many_arguments)]
fn displacement_to<const D: usize>(
    exec: Exec,
    x: &CloudView<'_, D>,
    targets: &CloudView<'_, D>,
    log_w: &[f32],
    potential: &[f32],
    epsilon: f32,
    bias: &mut [f32],
    rule: &LogitRule,
    scale: f32,
    accumulate: bool,
    out: &mut [f32],
) {
    for ((b, &lw), &p) in bias.iter_mut().zip(log_w).zip(potential) {
        *b = lw + p / epsilon;
    }
    let bias = bias.get(..targets.len()).unwrap_or(&[]);
    let partners = Partners::new(*targets, false).with_bias(bias, 1.0);
    displacement(exec, x, partners, rule, scale, accumulate, out);
}

fn check_out(out: &[f32], expected: usize) -> Result<(), Error> {
    if out.len() == expected {
        Ok(())
    } else {
        Err(Error::ShapeMismatch {
            input: "out",
            expected,
            found: out.len(),
        })
    }
}

/// The barycentric projection `T_ab(x_i) = Σ_j π_ij y_j / a_i` of the entropic plan between `x`
/// and `y`, written coordinate-major (`T_d(x_i)` at `out[d·N + i]`). Rows are normalised
/// exactly (the plan of the last `f`-update), so `T_ab(x_i)` is a convex combination of the `y_j`.
///
/// Multithreaded with feature `std` (the current rayon pool; the same bits whatever the number
/// of threads).
///
/// # Errors
/// As [`entropic_transport`](super::entropic_transport), and `out.len() != N·D`.
///
/// # Example
/// ```
/// use drifting::{CloudView, SinkhornConfig, SinkhornWorkspace, WeightedCloud};
/// use drifting::barycentric_projection;
/// let a = [[0.0_f32, 0.0], [0.0, 1.0], [0.0, 2.0]];
/// let b = a.map(|[u, v]| [u + 0.5, v]); // a translated by (0.5, 0)
/// let x = WeightedCloud::uniform(CloudView::from_points(&a));
/// let y = WeightedCloud::uniform(CloudView::from_points(&b));
/// let mut buffer = [0.0_f32; SinkhornWorkspace::required_len(3, 3)];
/// let mut workspace = SinkhornWorkspace::new(&mut buffer, 3, 3)?;
/// let mut projection = [0.0_f32; 3 * 2]; // T_x of every point, then T_y
/// let config = SinkhornConfig::new();
/// let report = barycentric_projection(&x, &y, &config, &mut workspace, &mut projection)?;
/// assert!(report.converged);
/// // At blur 0.05 the plan is the translation: T(a_i) ≈ b_i.
/// for (i, [u, v]) in b.iter().enumerate() {
///     assert!((projection[i] - u).abs() < 1e-3 && (projection[3 + i] - v).abs() < 1e-3);
/// }
/// # Ok::<(), drifting::Error>(())
/// ```
pub fn barycentric_projection<const D: usize>(
    x: &WeightedCloud<'_, D>,
    y: &WeightedCloud<'_, D>,
    config: &SinkhornConfig,
    workspace: &mut SinkhornWorkspace<'_>,
    out: &mut [f32],
) -> Result<SinkhornReport, Error> {
    let exec = Exec::current();
    check_out(out, x.len().saturating_mul(D))?;
    prepare(x, y, config, workspace, Solves::Pair)?;
    let (mut state, _, _, mut softmins) = workspace.parts().into_streaming(exec, x, y, config);
    let report = solve_pair(&mut softmins, x, y, config, &mut state);
    let eps = config.epsilon();
    let rule = cost_rule(eps, config.cost);
    let (g, log_b) = (&*state.g, state.log_b);
    displacement_to(
        exec,
        &x.points,
        &y.points,
        log_b,
        g,
        eps,
        softmins.bias,
        &rule,
        1.0,
        false,
        out,
    );
    for (d, column) in out.chunks_exact_mut(x.len().max(1)).enumerate() {
        for (o, p) in column.iter_mut().zip(x.points.points()) {
            *o += p.get(d).copied().unwrap_or(0.0);
        }
    }
    Ok(report)
}

/// The Sinkhorn drift `V(x_i) = T_ab(x_i) − T_aa(x_i)` (docs/mathematics.md §6; third paper): attraction
/// to the data's barycentric projection, repulsion from the samples' own. With the default cost
/// `½‖x−y‖²` it is exactly `−∇_{x_i} S_ε(a, b) / a_i`; with `‖x−y‖²` it is half of that.
///
/// Solves `(a, b)` and `(a, a)` (the `(b, b)` term of `S_ε` does not depend on `x`), then one
/// streaming pass per projection. Output coordinate-major, `N·D` values. Returns the reports of
/// both solves.
///
/// Multithreaded with feature `std` (the current rayon pool; the same bits whatever the number
/// of threads).
///
/// # Errors
/// As [`entropic_transport`](super::entropic_transport), and `out.len() != N·D`.
///
/// # Example
/// ```
/// use drifting::{CloudView, SinkhornConfig, SinkhornWorkspace, WeightedCloud, sinkhorn_drift};
/// let data = [[0.0_f32, 0.0], [0.0, 1.0], [0.0, 2.0]];
/// let generated = data.map(|[u, v]| [u - 0.5, v]); // the data translated by (−0.5, 0)
/// let x = WeightedCloud::uniform(CloudView::from_points(&generated));
/// let y = WeightedCloud::uniform(CloudView::from_points(&data));
/// let config = SinkhornConfig::new();
/// let mut buffer = [0.0_f32; SinkhornWorkspace::required_len(3, 3)];
/// let mut workspace = SinkhornWorkspace::new(&mut buffer, 3, 3)?;
/// let mut drift = [0.0_f32; 3 * 2];
/// let [pair, own] = sinkhorn_drift(&x, &y, &config, &mut workspace, &mut drift)?;
/// assert!(pair.converged && own.converged);
/// // Each sample is sent back onto its data point: V ≈ (0.5, 0).
/// assert!(drift[..3].iter().all(|v| (v - 0.5).abs() < 1e-3));
/// assert!(drift[3..].iter().all(|v| v.abs() < 1e-3));
///
/// // Equal clouds: attraction and repulsion are the same projection, V ≈ 0.
/// sinkhorn_drift(&y, &y, &config, &mut workspace, &mut drift)?;
/// assert!(drift.iter().all(|v| v.abs() < 1e-3));
/// # Ok::<(), drifting::Error>(())
/// ```
pub fn sinkhorn_drift<const D: usize>(
    x: &WeightedCloud<'_, D>,
    y: &WeightedCloud<'_, D>,
    config: &SinkhornConfig,
    workspace: &mut SinkhornWorkspace<'_>,
    out: &mut [f32],
) -> Result<[SinkhornReport; 2], Error> {
    let exec = Exec::current();
    check_out(out, x.len().saturating_mul(D))?;
    prepare(x, y, config, workspace, Solves::PairAndFirst)?;
    let (mut state, f_aa, _, mut softmins) = workspace.parts().into_streaming(exec, x, y, config);
    let report_ab = solve_pair(&mut softmins, x, y, config, &mut state);
    let report_aa = solve_self(
        &mut softmins,
        Side::X,
        x,
        &y.points,
        config,
        f_aa,
        state.log_a,
        state.tmp_f,
    );
    let eps = config.epsilon();
    let rule = cost_rule(eps, config.cost);
    let (g, log_a, log_b, bias) = (&*state.g, state.log_a, state.log_b, softmins.bias);
    displacement_to(
        exec, &x.points, &y.points, log_b, g, eps, bias, &rule, 1.0, false, out,
    );
    displacement_to(
        exec, &x.points, &x.points, log_a, f_aa, eps, bias, &rule, -1.0, true, out,
    );
    Ok([report_ab, report_aa])
}

/// Scratch length [`sinkhorn_proxy_drift`] needs: `2N + M + 2·max(N, M)`, saturating at
/// `usize::MAX` (`const`, for buffers in a `static`; no buffer is that long, so a saturated
/// length never passes the drift's check, which uses
/// [`checked_sinkhorn_proxy_scratch_len`]).
#[must_use]
pub const fn sinkhorn_proxy_scratch_len(n: usize, m: usize) -> usize {
    match checked_sinkhorn_proxy_scratch_len(n, m) {
        Some(len) => len,
        None => usize::MAX,
    }
}

/// `2N + M + 2·max(N, M)`, or `None` if it overflows `usize`.
#[must_use]
pub const fn checked_sinkhorn_proxy_scratch_len(n: usize, m: usize) -> Option<usize> {
    let largest = if n > m { n } else { m };
    match (n.checked_mul(2), largest.checked_mul(2)) {
        (Some(two_n), Some(two_largest)) => match two_n.checked_add(m) {
            Some(partial) => partial.checked_add(two_largest),
            None => None,
        },
        _ => None,
    }
}

/// The one-shot *Sinkhorn proxy* drift of the third paper (docs/mathematics.md §6).
///
/// With `K_ij = exp(−C_ij/ε)`: `P1_ij = a_i K_ij / Σ_k K_ik` (rows), then
/// `P2_ij = P1_ij b_j / Σ_k P1_kj` (columns), i.e. one Sinkhorn sweep from zero potentials, rows
/// first. The proxy projection is `T̃_ab(x_i) = Σ_j P2_ij y_j / Σ_j P2_ij`, and the drift is
/// `T̃_ab(x_i) − T̃_aa(x_i)`: the same attraction-minus-repulsion structure as
/// [`sinkhorn_drift`], which makes it vanish when `a = b` (the paper's consistency result). Its
/// columns are exact, its rows are not; it cannot move mass between well-separated modes.
///
/// Everything in the log domain: `r_i = LSE_j(−C_ij/ε)`, `c_j = LSE_i(log a_i − r_i − C_ij/ε)`,
/// and row `i` of `P2` is the softmax over `j` of `log b_j − c_j − C_ij/ε`. Four streaming passes
/// per projection; `scratch` of [`sinkhorn_proxy_scratch_len`] values. Only the regularisation
/// (`blur` or `epsilon`) and `cost` of `config` are used (and validated).
///
/// Multithreaded with feature `std` (the current rayon pool; the same bits whatever the number
/// of threads).
///
/// # Errors
/// Empty or non-finite clouds, bad weights or blur, `out.len() != N·D`, scratch too small;
/// [`Error::OutOfRange`] as [`sinkhorn_drift`]: points more than `1e18` apart (`"points"`), or a
/// blur so small for their extent that `C/ε` would exceed `1e28` (`"blur"`, or `"epsilon"`).
///
/// # Example
/// ```
/// use drifting::{CloudView, SinkhornConfig, WeightedCloud};
/// use drifting::sinkhorn::{sinkhorn_proxy_drift, sinkhorn_proxy_scratch_len};
/// let data = [[0.0_f32, 0.0], [0.0, 1.0], [1.0, 0.5]];
/// let generated = data.map(|[u, v]| [u - 0.2, v]);
/// let x = WeightedCloud::uniform(CloudView::from_points(&generated));
/// let y = WeightedCloud::uniform(CloudView::from_points(&data));
/// let config = SinkhornConfig::new(); // only the blur (0.05) and the cost are used
/// let mut scratch = [0.0_f32; sinkhorn_proxy_scratch_len(3, 3)]; // no solve, no workspace
/// let mut drift = [0.0_f32; 3 * 2];
/// sinkhorn_proxy_drift(&x, &y, &config, &mut scratch, &mut drift)?;
/// assert!(drift[..3].iter().all(|&v| v > 0.0)); // pulled right, toward the data
///
/// // The paper's consistency result: the proxy drift vanishes when a = b.
/// sinkhorn_proxy_drift(&y, &y, &config, &mut scratch, &mut drift)?;
/// assert!(drift.iter().all(|v| v.abs() < 1e-6));
/// # Ok::<(), drifting::Error>(())
/// ```
pub fn sinkhorn_proxy_drift<const D: usize>(
    x: &WeightedCloud<'_, D>,
    y: &WeightedCloud<'_, D>,
    config: &SinkhornConfig,
    scratch: &mut [f32],
    out: &mut [f32],
) -> Result<(), Error> {
    let exec = Exec::current();
    x.validate("x")?;
    y.validate("y")?;
    config.validate()?;
    check_out(out, x.len().saturating_mul(D))?;
    let diameter2 = crate::engine::squared_diameter(&[&x.points, &y.points]);
    crate::engine::check_range(
        diameter2,
        f64::from(config.cost.factor()) * diameter2 / f64::from(config.epsilon()),
        config.epsilon_name(),
    )?;
    let (n, m) = (x.len(), y.len());
    let Some(required) = checked_sinkhorn_proxy_scratch_len(n, m) else {
        return Err(Error::InvalidParameter {
            input: "x, y sizes",
        });
    };
    let scratch = take_scratch(scratch, required)?;
    // Lengths checked by `take_scratch`; `min` keeps the splits panic-free regardless.
    let (log_a, rest) = scratch.split_at_mut(n.min(scratch.len()));
    let (log_b, rest) = rest.split_at_mut(m.min(rest.len()));
    let (rows, rest) = rest.split_at_mut(n.min(rest.len()));
    let (columns, bias) = rest.split_at_mut(n.max(m).min(rest.len()));
    x.write_log_weights(log_a);
    y.write_log_weights(log_b);
    let rule = cost_rule(config.epsilon(), config.cost);
    proxy_projection(
        exec, &x.points, log_a, &y.points, log_b, &rule, rows, columns, bias, 1.0, false, out,
    );
    proxy_projection(
        exec, &x.points, log_a, &x.points, log_a, &rule, rows, columns, bias, -1.0, true, out,
    );
    // A safety net after the range check: report, never return, a non-finite field.
    if !out.iter().all(|v| v.is_finite()) {
        return Err(Error::OutOfRange {
            input: config.epsilon_name(),
        });
    }
    Ok(())
}

/// `scale · (T̃(x_i) − x_i)` of the one-shot plan from `x` (log-weights `log_a`) to `y`.
#[allow(clippy::too_many_arguments)]
fn proxy_projection<const D: usize>(
    exec: Exec,
    x: &CloudView<'_, D>,
    log_a: &[f32],
    y: &CloudView<'_, D>,
    log_b: &[f32],
    rule: &LogitRule,
    rows: &mut [f32],
    columns: &mut [f32],
    bias: &mut [f32],
    scale: f32,
    accumulate: bool,
    out: &mut [f32],
) {
    log_sum_exp::<D, GaussianShape>(exec, x, &[Partners::new(*y, false)], rule, rows);
    for ((b, &la), &r) in bias.iter_mut().zip(log_a).zip(rows.iter()) {
        *b = la - r;
    }
    let row_bias = bias.get(..x.len()).unwrap_or(&[]);
    let columns = columns.get_mut(..y.len()).unwrap_or(&mut []);
    log_sum_exp::<D, GaussianShape>(
        exec,
        y,
        &[Partners::new(*x, false).with_bias(row_bias, 1.0)],
        rule,
        columns,
    );
    for ((b, &lb), &c) in bias.iter_mut().zip(log_b).zip(columns.iter()) {
        *b = lb - c;
    }
    let column_bias = bias.get(..y.len()).unwrap_or(&[]);
    displacement(
        exec,
        x,
        Partners::new(*y, false).with_bias(column_bias, 1.0),
        rule,
        scale,
        accumulate,
        out,
    );
}

impl SinkhornConfig {
    /// Workspace values the Sinkhorn drift ([`sinkhorn_drift`]) needs for `shape`: the solver's
    /// workspace for `N` queries and `P` positives ([`SinkhornWorkspace::required_len`]),
    /// saturating at `usize::MAX`. `const`, for buffers in a `static`.
    #[must_use]
    pub const fn workspace_len(&self, shape: &DriftShape) -> usize {
        SinkhornWorkspace::required_len(shape.queries, shape.positives)
    }
}

/// The Sinkhorn drift `T_ab − T_aa` as a [`DriftOperator`]: [`sinkhorn_drift`] with uniform
/// weights, the queries as `a` and the positives as `b`, its solver workspace built in the
/// caller's buffer.
impl DriftOperator for SinkhornConfig {
    const NAME: &'static str = "Sinkhorn drift";
    const SEPARATE_NEGATIVES: bool = false;

    fn workspace_len(&self, shape: &DriftShape) -> Option<usize> {
        SinkhornWorkspace::checked_required_len(shape.queries, shape.positives)
    }

    fn validate(&self) -> Result<(), Error> {
        Self::validate(self)
    }

    fn run<const D: usize, R: Rng + ?Sized>(
        &self,
        queries: &CloudView<'_, D>,
        positives: &CloudView<'_, D>,
        negatives: Negatives<'_, D>,
        _rng: &mut R,
        workspace: &mut [f32],
        out: &mut [f32],
    ) -> Result<DriftOutcome, Error> {
        queries_as_negatives(negatives)?;
        let mut workspace = SinkhornWorkspace::new(workspace, queries.len(), positives.len())?;
        let (x, y) = uniform_pair(queries, positives);
        sinkhorn_drift(&x, &y, self, &mut workspace, out)?;
        Ok(DriftOutcome::single(out))
    }
}

/// The queries and the positives with uniform weights: `a` and `b` of the Sinkhorn drifts.
fn uniform_pair<'a, const D: usize>(
    queries: &CloudView<'a, D>,
    positives: &CloudView<'a, D>,
) -> (WeightedCloud<'a, D>, WeightedCloud<'a, D>) {
    (
        WeightedCloud::uniform(*queries),
        WeightedCloud::uniform(*positives),
    )
}

/// The one-shot Sinkhorn proxy drift ([`sinkhorn_proxy_drift`], uniform weights) as a
/// [`DriftOperator`]: only the regularisation and the cost of the configuration are used.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct SinkhornProxy(pub SinkhornConfig);

impl SinkhornProxy {
    /// Workspace values for `shape`: `2N + P + 2·max(N, P)` (as
    /// [`sinkhorn_proxy_scratch_len`]), saturating at `usize::MAX`. `const`, for buffers in a
    /// `static`.
    #[must_use]
    pub const fn workspace_len(&self, shape: &DriftShape) -> usize {
        sinkhorn_proxy_scratch_len(shape.queries, shape.positives)
    }
}

impl DriftOperator for SinkhornProxy {
    const NAME: &'static str = "Sinkhorn proxy";
    const SEPARATE_NEGATIVES: bool = false;

    fn workspace_len(&self, shape: &DriftShape) -> Option<usize> {
        checked_sinkhorn_proxy_scratch_len(shape.queries, shape.positives)
    }

    fn validate(&self) -> Result<(), Error> {
        self.0.validate()
    }

    fn run<const D: usize, R: Rng + ?Sized>(
        &self,
        queries: &CloudView<'_, D>,
        positives: &CloudView<'_, D>,
        negatives: Negatives<'_, D>,
        _rng: &mut R,
        workspace: &mut [f32],
        out: &mut [f32],
    ) -> Result<DriftOutcome, Error> {
        queries_as_negatives(negatives)?;
        let (x, y) = uniform_pair(queries, positives);
        sinkhorn_proxy_drift(&x, &y, &self.0, workspace, out)?;
        Ok(DriftOutcome::single(out))
    }
}
