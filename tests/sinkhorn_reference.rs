//! The `f32` log-domain Sinkhorn solver against independent `f64` references
//! (`tests/reference/sinkhorn_values.rs`, made by `tests/reference/make_sinkhorn_references.py`):
//! POT's `sinkhorn_log` polished to 1e-13 on the marginals (`OT_ε`, `S_ε`, centred potentials,
//! barycentric projections), SciPy's exact assignment (the `ε → 0` limit) and GeomLoss's
//! tensorized `SamplesLoss("sinkhorn")` and `epsilon_schedule`.
//!
//! Conventions: cost `½‖x−y‖²`, `ε = blur²`, regulariser `ε·KL(π ‖ a⊗b)`. Errors are measured
//! against the scale of the problem, `c_max = max(1, max_ij C_ij)` over the pairs of `(x, y)`,
//! `(x, x)`, `(y, y)` (every potential and value is a soft-minimum of costs, so the `f32`
//! rounding of the costs, `~6e-8·c_max`, is the floor; the 1 covers coincident clouds, whose
//! costs are all 0). Tolerances are stated on each test: 3–5× the largest error measured over
//! all cases (numbers in the doc comments).

#[path = "reference/sinkhorn_values.rs"]
mod values;

use drifting::sinkhorn::epsilon_schedule;
use drifting::{
    CloudView, SinkhornConfig, SinkhornReport, SinkhornWorkspace, UpdateRule, WeightedCloud,
    barycentric_projection, entropic_transport, sinkhorn_divergence,
};
use values::{
    ASSIGNMENT_CASES, ASSIGNMENT_EPSILONS, GEOMLOSS_CASES, N100_UNIFORM_ASSIGNMENT, OT_CASES,
    OtAtEpsilon, OtCase, SCHEDULE_CASES,
};

/// Point-major `f64` (exact `f32` values) to `f32` points.
fn points<const D: usize>(data: &[f64]) -> Vec<[f32; D]> {
    data.chunks_exact(D)
        .map(|p| std::array::from_fn(|d| p[d] as f32))
        .collect()
}

fn weights(w: &[f64]) -> Vec<f32> {
    w.iter().map(|&v| v as f32).collect()
}

fn cloud<'a, const D: usize>(p: &'a [[f32; D]], w: &'a [f32]) -> WeightedCloud<'a, D> {
    let view = CloudView::from_points(p);
    if w.is_empty() {
        WeightedCloud::uniform(view)
    } else {
        WeightedCloud::weighted(view, w)
    }
}

fn half_sq<const D: usize>(x: &[f32; D], y: &[f32; D]) -> f64 {
    0.5 * x
        .iter()
        .zip(y)
        .map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2))
        .sum::<f64>()
}

/// `max_ij ½‖x_i − y_j‖²` over the pairs of `(x, y)`, `(x, x)` and `(y, y)`.
fn cost_scale<const D: usize>(x: &[[f32; D]], y: &[[f32; D]]) -> f64 {
    let mut c = 0.0_f64;
    for p in x.iter().chain(y) {
        for q in x.iter().chain(y) {
            c = c.max(half_sq(p, q));
        }
    }
    c
}

/// The weight of point `i` as the solver sees it.
fn weight_of(w: &[f32], n: usize, i: usize) -> f64 {
    if w.is_empty() {
        1.0 / n as f64
    } else {
        f64::from(w[i])
    }
}

/// L1 marginal error of the plan `π_ij = a_i b_j exp((f_i + g_j − C_ij)/ε)` built in `f64` from
/// our `f32` potentials.
fn plan_marginal_error<const D: usize>(
    (x, wa): (&[[f32; D]], &[f32]),
    (y, wb): (&[[f32; D]], &[f32]),
    f: &[f32],
    g: &[f32],
    eps: f64,
) -> f64 {
    let (n, m) = (x.len(), y.len());
    let mut rows = vec![0.0; n];
    let mut cols = vec![0.0; m];
    for i in 0..n {
        for j in 0..m {
            let p = weight_of(wa, n, i)
                * weight_of(wb, m, j)
                * ((f64::from(f[i]) + f64::from(g[j]) - half_sq(&x[i], &y[j])) / eps).exp();
            rows[i] += p;
            cols[j] += p;
        }
    }
    let r: f64 = (0..n).map(|i| (rows[i] - weight_of(wa, n, i)).abs()).sum();
    let c: f64 = (0..m).map(|j| (cols[j] - weight_of(wb, m, j)).abs()).sum();
    r + c
}

/// Potentials centred as the references are: the unweighted mean of `f` moved to `g`.
fn centred(f: &[f32], g: &[f32]) -> (Vec<f64>, Vec<f64>) {
    let mean = f.iter().map(|&v| f64::from(v)).sum::<f64>() / f.len() as f64;
    (
        f.iter().map(|&v| f64::from(v) - mean).collect(),
        g.iter().map(|&v| f64::from(v) + mean).collect(),
    )
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(u, v)| (u - v).abs())
        .fold(0.0, f64::max)
}

/// Largest errors of one solve against its reference, in units of `c_max`.
#[derive(Clone, Copy, Debug, Default)]
struct Errors {
    /// `|OT_ε(a,b) − ref|`, and the same for `(a,a)`, `(b,b)`.
    transport: f64,
    /// `|S_ε − ref|`.
    divergence: f64,
    /// `|OT_ε(a,b) − OT_ε(b,a)|` (ours against ours).
    symmetry: f64,
    /// Centred potentials, max over points.
    potentials: f64,
    /// Barycentric projection, max over points and coordinates (in units of the cloud span,
    /// `√(2 c_max)`).
    projection: f64,
    /// L1 marginal error of the `f64` plan built from our potentials (absolute: total mass 2).
    marginals: f64,
    /// `√(2 c_max)`, the unit of `projection`.
    span: f64,
}

impl std::fmt::Display for Errors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "OT {:.1e} S {:.1e} sym {:.1e} pot {:.1e} proj {:.1e} marg {:.1e}",
            self.transport,
            self.divergence,
            self.symmetry,
            self.potentials,
            self.projection,
            self.marginals
        )
    }
}

impl Errors {
    fn max(self, o: Self) -> Self {
        Self {
            transport: self.transport.max(o.transport),
            divergence: self.divergence.max(o.divergence),
            symmetry: self.symmetry.max(o.symmetry),
            potentials: self.potentials.max(o.potentials),
            projection: self.projection.max(o.projection),
            marginals: self.marginals.max(o.marginals),
            span: self.span.max(o.span),
        }
    }
}

/// Configuration that converges as far as `f32` allows: ε-scaling 0.9 from the diameter, then
/// up to 3000 iterations until the L1 marginal error is under 1e-6.
fn converging(update: UpdateRule, epsilon: f64) -> SinkhornConfig {
    SinkhornConfig {
        blur: epsilon.sqrt() as f32,
        update,
        scaling: Some(0.9),
        tolerance: 1e-6,
        max_iterations: 3000,
        ..SinkhornConfig::default()
    }
}

/// Solves `case` at `reference.epsilon` with `update` and measures the errors.
fn check_case<const D: usize>(
    case: &OtCase,
    reference: &OtAtEpsilon,
    update: UpdateRule,
) -> (Errors, [SinkhornReport; 3]) {
    let x = points::<D>(case.x);
    let y = points::<D>(case.y);
    let (wa, wb) = (weights(case.a), weights(case.b));
    let (n, m) = (x.len(), y.len());
    let (a, b) = (cloud(&x, &wa), cloud(&y, &wb));
    let config = converging(update, reference.epsilon);
    let eps = f64::from(config.epsilon());
    let scale = cost_scale(&x, &y).max(1.0);

    let mut buf = vec![0.0; SinkhornWorkspace::required_len(n, m)];
    let mut ws = SinkhornWorkspace::new(&mut buf, n, m).unwrap();
    let s = sinkhorn_divergence(&a, &b, &config, &mut ws).unwrap();
    let (f, g) = centred(ws.f(), ws.g());
    let marginals = plan_marginal_error((&x, &wa), (&y, &wb), ws.f(), ws.g(), eps);

    let mut proj = vec![0.0; n * D];
    barycentric_projection(&a, &b, &config, &mut ws, &mut proj).unwrap();
    let mut projection = 0.0_f64;
    for i in 0..n {
        for d in 0..D {
            let want = reference.projection[i * D + d];
            projection = projection.max((f64::from(proj[d * n + i]) - want).abs());
        }
    }

    let mut buf = vec![0.0; SinkhornWorkspace::required_len(m, n)];
    let mut ws = SinkhornWorkspace::new(&mut buf, m, n).unwrap();
    let (ba, _) = entropic_transport(&b, &a, &config, &mut ws).unwrap();

    let err = |ours: f32, want: f64| (f64::from(ours) - want).abs() / scale;
    let errors = Errors {
        transport: err(s.transport_ab, reference.ot_ab)
            .max(err(s.transport_aa, reference.ot_aa))
            .max(err(s.transport_bb, reference.ot_bb)),
        divergence: err(s.value, reference.divergence),
        potentials: max_abs_diff(&f, reference.f).max(max_abs_diff(&g, reference.g)) / scale,
        projection: projection / (2.0 * scale).sqrt(),
        span: (2.0 * scale).sqrt(),
        symmetry: (f64::from(s.transport_ab) - f64::from(ba)).abs() / scale,
        marginals,
    };
    for v in [s.value, s.transport_ab, s.transport_aa, s.transport_bb, ba] {
        assert!(v.is_finite(), "{}: {s:?}", case.name);
    }
    (errors, s.reports)
}

fn check(case: &OtCase, reference: &OtAtEpsilon, update: UpdateRule) -> Errors {
    let (errors, reports) = match case.dim {
        2 => check_case::<2>(case, reference, update),
        3 => check_case::<3>(case, reference, update),
        d => panic!("dimension {d}"),
    };
    eprintln!(
        "{:28} ε={:<5} {update:?}: {errors} iterations {:?} marginal errors {:?}",
        case.name,
        reference.epsilon,
        reports.map(|r| r.iterations),
        reports.map(|r| r.marginal_error),
    );
    errors
}

/// Tolerances, in units of `c_max` (see [`Errors`]), for one ε.
struct Tolerance {
    transport: f64,
    divergence: f64,
    potentials: f64,
    projection: f64,
    marginals: f64,
}

/// Measured maxima over the seven cases (five random, single points, coincident), both update
/// rules, relative to `c_max` (marginals absolute):
///
/// | ε    | OT_ε (3 problems) | S_ε    | OT(a,b)−OT(b,a) | potentials | projection | marginals (L1) |
/// | ---- | ----------------- | ------ | --------------- | ---------- | ---------- | -------------- |
/// | 1    | 1.8e-7            | 1.3e-7 | 6.0e-8          | 2.2e-7     | 1.3e-7     | 3.7e-7         |
/// | 0.1  | 2.9e-8            | 1.5e-8 | 3.0e-8          | 3.9e-7     | 2.5e-7     | 9.8e-7         |
/// | 0.01 | 2.9e-8            | 4.7e-8 | 1.6e-8          | 1.5e-6     | 5.9e-6     | 6.5e-6         |
///
/// Tolerances are these times 3.5–4.5 (the symmetry check shares the `OT_ε` tolerance).
/// The `f32` floor: costs and potentials carry `~1e-7·c_max` rounding, so an exponent
/// `(f + g − C)/ε` carries `~1e-7·c_max/ε`; the marginals, the projections and (through the
/// averaged updates, which stall at an L1 marginal error of 2–6e-6 at ε = 0.01 where the
/// alternating ones reach 1e-6) the potentials grow like `1/ε`, while `OT_ε` and `S_ε`,
/// stationary in the potentials, stay at the cost rounding.
fn tolerance(epsilon: f64) -> Tolerance {
    if epsilon >= 1.0 {
        Tolerance {
            transport: 7e-7,
            divergence: 5e-7,
            potentials: 1e-6,
            projection: 5e-7,
            marginals: 1.5e-6,
        }
    } else if epsilon >= 0.1 {
        Tolerance {
            transport: 1.2e-7,
            divergence: 6e-8,
            potentials: 1.6e-6,
            projection: 1e-6,
            marginals: 4e-6,
        }
    } else {
        Tolerance {
            transport: 1.2e-7,
            divergence: 2e-7,
            potentials: 6e-6,
            projection: 2.5e-5,
            marginals: 2.5e-5,
        }
    }
}

fn assert_within(name: &str, eps: f64, e: Errors, t: &Tolerance) {
    assert!(e.transport <= t.transport, "{name} ε={eps}: OT {e}");
    assert!(e.divergence <= t.divergence, "{name} ε={eps}: S {e}");
    assert!(
        e.symmetry <= t.transport,
        "{name} ε={eps}: OT(a,b) vs OT(b,a) {e}"
    );
    assert!(
        e.potentials <= t.potentials,
        "{name} ε={eps}: potentials {e}"
    );
    assert!(
        e.projection <= t.projection,
        "{name} ε={eps}: projection {e}"
    );
    assert!(e.marginals <= t.marginals, "{name} ε={eps}: marginals {e}");
}

/// `OT_ε(a,b)`, `OT_ε(a,a)`, `OT_ε(b,b)`, `S_ε`, `OT_ε(b,a)`, centred potentials, barycentric
/// projections and plan marginals against POT, at ε = 1, 0.1, 0.01, for both update rules, on
/// clouds of 1 to 100 points in 2D and 3D, uniform and weighted, and on single points and
/// coincident clouds (diameter 0), whose exact answers (`OT = S = ½‖x−y‖²`, `OT = 0`) are in the
/// references too. Tolerances: [`tolerance`].
#[test]
fn transport_divergence_and_potentials_match_pot() {
    let mut worst = [Errors::default(); 3];
    for case in OT_CASES.iter().filter(|c| !c.name.contains("translated")) {
        for (k, reference) in case.solutions.iter().enumerate() {
            for update in [UpdateRule::Symmetric, UpdateRule::Alternating] {
                let e = check(case, reference, update);
                assert_within(
                    case.name,
                    reference.epsilon,
                    e,
                    &tolerance(reference.epsilon),
                );
                worst[k] = worst[k].max(e);
            }
        }
    }
    for (k, e) in worst.iter().enumerate() {
        eprintln!("worst at ε = {}: {e}", OT_CASES[0].solutions[k].epsilon);
    }
}

/// Both clouds translated by 1e4 and rounded to `f32` (spacing `2⁻¹⁰ ≈ 9.8e-4`), against the
/// reference computed on the rounded points: measured OT 7.0e-9, S 4.7e-9, potentials 8.2e-7,
/// marginals 4.7e-6 (ε = 0.01), the errors of the untranslated clouds, since differences of `f32`
/// values within a factor 2 of each other are exact and the solver never forms `‖x‖²`. Same
/// tolerances as [`transport_divergence_and_potentials_match_pot`], except the projection, which
/// adds back a coordinate of 1e4 and so is rounded to `2⁻¹¹ ≈ 4.9e-4` (measured 4.8e-4): its
/// tolerance gains `2⁻¹¹` absolute. The rounding of the points itself moves `OT_ε` by `2.7e-5`
/// (the references of the translated and untranslated clouds differ by that much): that is what
/// comparing with the untranslated reference would wrongly attribute to the solver.
#[test]
fn translated_clouds_match_the_reference_of_their_rounded_points() {
    let case = OT_CASES
        .iter()
        .find(|c| c.name.contains("translated"))
        .unwrap();
    let untranslated = OT_CASES
        .iter()
        .find(|c| c.name == case.name.trim_end_matches("_translated_1e4"))
        .unwrap();
    for reference in case.solutions {
        let e = check(case, reference, UpdateRule::Symmetric);
        let mut t = tolerance(reference.epsilon);
        t.projection += 2f64.powi(-11) / e.span;
        assert_within(case.name, reference.epsilon, e, &t);
        // The f32 rounding of the translated points is visible in the references themselves.
        let same_eps = untranslated
            .solutions
            .iter()
            .find(|r| r.epsilon == reference.epsilon)
            .unwrap();
        let moved = (same_eps.ot_ab - reference.ot_ab).abs();
        assert!(moved > 1e-6 && moved < 1e-4, "{moved}");
    }
}

const ASSIGNMENT_TOLERANCE: f64 = 4e-7;

/// The ε → 0 limit: for uniform clouds of equal size `N` the optimal plan is a permutation `σ`,
/// and `W ≤ OT_ε ≤ ⟨π_σ, C⟩ + ε KL(π_σ ‖ a⊗b) = W + ε ln N` (SciPy's exact `W`). POT's references
/// show the gap `OT_ε − W` reaching `ε ln N` (N = 5: 1.6085e-3 vs 1.6094e-3 at ε = 1e-3; N = 20:
/// 2.964e-3 vs 2.996e-3), and ours (alternating, ε-scaling 0.9) matches POT at every ε down to
/// 1e-3: measured `|ours − POT| ≤ 9.4e-8·c_max` (N = 8, ε = 0.01, where 3000 iterations end
/// at an L1 marginal error of ~1e-5), tolerance `4e-7·c_max`. The bound is checked with the same
/// slack.
#[test]
fn transport_tends_to_the_assignment_cost() {
    let mut worst = 0.0_f64;
    for case in ASSIGNMENT_CASES {
        let x = points::<2>(case.x);
        let y = points::<2>(case.y);
        let scale = cost_scale(&x, &y).max(1.0);
        let (a, b) = (cloud(&x, &[]), cloud(&y, &[]));
        let mut buf = vec![0.0; SinkhornWorkspace::required_len(case.n, case.n)];
        for (&eps, &want) in ASSIGNMENT_EPSILONS.iter().zip(case.ot) {
            let mut ws = SinkhornWorkspace::new(&mut buf, case.n, case.n).unwrap();
            let config = converging(UpdateRule::Alternating, eps);
            let (ours, report) = entropic_transport(&a, &b, &config, &mut ws).unwrap();
            let ours = f64::from(ours);
            let err = (ours - want).abs() / scale;
            eprintln!(
                "assignment N={} ε={eps}: W {:.6} OT {ours:.6} POT {want:.6} err {err:.1e} iterations {}",
                case.n, case.exact, report.iterations
            );
            worst = worst.max(err);
            assert!(
                err <= ASSIGNMENT_TOLERANCE,
                "N={} ε={eps}: {ours} vs {want}",
                case.n
            );
            let upper = case.exact + eps * (case.n as f64).ln();
            let slack = ASSIGNMENT_TOLERANCE * scale;
            assert!(
                ours >= case.exact - slack && ours <= upper + slack,
                "N={} ε={eps}: {ours} ∉ [{}, {upper}]",
                case.n,
                case.exact
            );
        }
    }
    eprintln!("worst assignment error {worst:.1e}");
}

/// GeomLoss's `max_diameter`: the diagonal of the bounding box of both clouds.
fn bounding_box_diagonal<const D: usize>(x: &[[f32; D]], y: &[[f32; D]]) -> f64 {
    (0..D)
        .map(|d| {
            let values = x.iter().chain(y).map(|p| f64::from(p[d]));
            let lo = values.clone().fold(f64::INFINITY, f64::min);
            let hi = values.fold(f64::NEG_INFINITY, f64::max);
            (hi - lo).powi(2)
        })
        .sum::<f64>()
        .sqrt()
}

/// A very small ε = 1e-4·d² (blur = d/100, d the bounding-box diagonal, here ε = 7.3e-4, with
/// `c_max/ε ≈ 3400`) on the 100-point clouds: every output finite, and, for both update rules,
/// `W ≤ OT_ε ≤ W + ε ln N` (SciPy's exact assignment `W`, uniform weights) up to the tolerance of
/// [`transport_tends_to_the_assignment_cost`], `S_ε ≥ −tol`. Measured: `W = 0.120871`,
/// `W + ε ln N = 0.124386`, `OT_ε = 0.124094` (alternating; symmetric 0.124092, although its
/// 3000 averaged iterations stop at an L1 marginal error of 2.7e-3, the alternating ones at
/// 1.5e-5), `S_ε = 0.1207`.
#[test]
fn very_small_epsilon_stays_finite_and_bounded() {
    let case = OT_CASES.iter().find(|c| c.name == "n100_m100_d2").unwrap();
    let x = points::<2>(case.x);
    let y = points::<2>(case.y);
    let n = x.len();
    let scale = cost_scale(&x, &y).max(1.0);
    let d = bounding_box_diagonal(&x, &y);
    let (a, b) = (cloud(&x, &[]), cloud(&y, &[]));
    for update in [UpdateRule::Alternating, UpdateRule::Symmetric] {
        let config = SinkhornConfig {
            blur: (d / 100.0) as f32,
            ..converging(update, 1.0)
        };
        let eps = f64::from(config.epsilon());
        let mut buf = vec![0.0; SinkhornWorkspace::required_len(n, n)];
        let mut ws = SinkhornWorkspace::new(&mut buf, n, n).unwrap();
        let s = sinkhorn_divergence(&a, &b, &config, &mut ws).unwrap();
        assert!(
            ws.f()
                .iter()
                .chain(ws.g())
                .chain(ws.f_aa())
                .chain(ws.g_bb())
                .all(|v| v.is_finite()),
            "{update:?}: non-finite potentials"
        );
        let ot = f64::from(s.transport_ab);
        let (lo, hi) = (
            N100_UNIFORM_ASSIGNMENT,
            N100_UNIFORM_ASSIGNMENT + eps * (n as f64).ln(),
        );
        eprintln!(
            "ε = {eps:.3e} {update:?}: W {lo:.6} OT {ot:.6} W+ε ln N {hi:.6} S {:.6} reports {:?}",
            s.value,
            s.reports.map(|r| (r.iterations, r.marginal_error))
        );
        let slack = ASSIGNMENT_TOLERANCE * scale;
        assert!(
            ot >= lo - slack && ot <= hi + slack,
            "{update:?}: {ot} ∉ [{lo}, {hi}]"
        );
        assert!(s.value.is_finite() && f64::from(s.value) >= -slack, "{s:?}");
    }
}

/// GeomLoss parity: `sinkhorn_divergence` with `update: Symmetric, scaling: Some(s),
/// max_iterations: 0` is GeomLoss's tensorized `SamplesLoss("sinkhorn", p=2, blur, scaling)`
/// loop (same schedule from the same bounding-box diameter, same averaged updates, same final
/// extrapolation), not a converged solve: blur 0.05 and 0.5, scaling 0.5 and 0.9, on the
/// weighted 2D, uniform 2D and weighted 3D clouds. The schedule lengths are equal (our reports'
/// `scaling_steps` for all three problems), and `S_ε` (debias=True) and `OT_ε` (debias=False)
/// agree to `tol·c_max`: measured 1.7e-8 at worst, tolerance 7e-8. (Before the fix in
/// `solve_self`, which took the `(a, a)` and `(b, b)` schedules from each cloud's own diameter
/// instead of the joint one, the counts differed, 37 and 38 against 40, and the error reached
/// 2.5e-6.)
#[test]
fn divergence_matches_geomloss_fixed_loop() {
    let mut worst = 0.0_f64;
    for g in GEOMLOSS_CASES {
        let case = OT_CASES.iter().find(|c| c.name == g.case).unwrap();
        let (err, steps) = match case.dim {
            2 => geomloss_case::<2>(case, g),
            3 => geomloss_case::<3>(case, g),
            d => panic!("dimension {d}"),
        };
        eprintln!(
            "GeomLoss {} blur {} scaling {}: error {err:.1e}, steps {steps:?} (GeomLoss {})",
            g.case, g.blur, g.scaling, g.schedule_len
        );
        assert!(steps.iter().all(|&s| s == g.schedule_len), "{steps:?}");
        assert!(
            err <= 7e-8,
            "{} blur {} scaling {}: {err:e}",
            g.case,
            g.blur,
            g.scaling
        );
        worst = worst.max(err);
    }
    eprintln!("worst GeomLoss error {worst:.1e}");
}

fn geomloss_case<const D: usize>(case: &OtCase, g: &values::GeomLossCase) -> (f64, [usize; 4]) {
    let x = points::<D>(case.x);
    let y = points::<D>(case.y);
    let (wa, wb) = (weights(case.a), weights(case.b));
    let (n, m) = (x.len(), y.len());
    let (a, b) = (cloud(&x, &wa), cloud(&y, &wb));
    let scale = cost_scale(&x, &y).max(1.0);
    // Our diameter is GeomLoss's (the f32 points, in f64), and so is the schedule it gives.
    let d = bounding_box_diagonal(&x, &y);
    assert!((d - g.diameter).abs() <= 1e-12 * d, "{d} vs {}", g.diameter);
    let schedule = epsilon_schedule(d as f32, g.blur as f32, g.scaling as f32).count();
    let config = SinkhornConfig {
        blur: g.blur as f32,
        update: UpdateRule::Symmetric,
        scaling: Some(g.scaling as f32),
        tolerance: 0.0,
        max_iterations: 0,
        ..SinkhornConfig::default()
    };
    let mut buf = vec![0.0; SinkhornWorkspace::required_len(n, m)];
    let mut ws = SinkhornWorkspace::new(&mut buf, n, m).unwrap();
    let s = sinkhorn_divergence(&a, &b, &config, &mut ws).unwrap();
    let (ot, _) = entropic_transport(&a, &b, &config, &mut ws).unwrap();
    let err = ((f64::from(s.value) - g.divergence).abs()).max((f64::from(ot) - g.transport).abs())
        / scale;
    let steps = [
        s.reports[0].scaling_steps,
        s.reports[1].scaling_steps,
        s.reports[2].scaling_steps,
        schedule,
    ];
    (err, steps)
}

/// `epsilon_schedule` against GeomLoss's `epsilon_schedule(2, diameter, blur, scaling)`: same
/// length, every entry within 1e-7 relative (the `f32` rounding of an `f64` value is 6e-8;
/// measured 5.5e-8), including the exact boundary `(4, 1, 0.5)` where `numpy.arange` stops just
/// before the blur. One documented deviation: when the diameter does not exceed the blur,
/// GeomLoss runs `[d², blur²]` and we run `[blur²]` (for coincident clouds, `d = 0`, GeomLoss's
/// `arange` from `ln 0` fails outright).
#[test]
fn epsilon_schedule_matches_geomloss() {
    let mut worst = 0.0_f64;
    for case in SCHEDULE_CASES {
        let ours: Vec<f32> =
            epsilon_schedule(case.diameter as f32, case.blur as f32, case.scaling as f32).collect();
        if case.diameter <= case.blur {
            assert_eq!(case.epsilons.len(), 2);
            assert_eq!(ours, [(case.blur * case.blur) as f32]);
            continue;
        }
        assert_eq!(
            ours.len(),
            case.epsilons.len(),
            "{ours:?} vs {:?}",
            case.epsilons
        );
        for (&o, &want) in ours.iter().zip(case.epsilons) {
            let err = (f64::from(o) - want).abs() / want;
            worst = worst.max(err);
            assert!(err <= 1e-7, "{ours:?} vs {:?}", case.epsilons);
        }
    }
    eprintln!("worst schedule error {worst:.1e}");
}
