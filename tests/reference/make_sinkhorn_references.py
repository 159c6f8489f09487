#!/usr/bin/env python3
"""Golden values of the entropic transport cost, the Sinkhorn divergence and the ε schedule,
computed in float64 by libraries that share nothing with the crate's streaming f32 solver:

* POT (`ot.sinkhorn(..., method="sinkhorn_log")`, cross-checked with `ot.solve(reg_type="KL")`):
  OT_ε(a, b), OT_ε(a, a), OT_ε(b, b), S_ε, the centred potentials and the barycentric projection
  of the converged plan;
* SciPy (`linear_sum_assignment`): the exact (ε = 0) assignment cost of small uniform clouds;
* GeomLoss (`SamplesLoss("sinkhorn", p=2, backend="tensorized")` in float64): the value of its
  fixed ε-scaling loop, and its `epsilon_schedule`.

    /tmp/venv/bin/python tests/reference/make_sinkhorn_references.py   # rewrites sinkhorn_values.rs

Conventions (the crate's, GeomLoss's): cost C_ij = ½‖x_i − y_j‖², ε = blur², regulariser
ε·KL(π ‖ a⊗b), plan π_ij = a_i b_j exp((f_i + g_j − C_ij)/ε). POT's log-domain scalings are
π = diag(e^u) K diag(e^v) with K = exp(−C/ε), so f = ε(u − log a), g = ε(v − log b). The value
with the KL regulariser is the dual ⟨a, f⟩ + ⟨b, g⟩ (= POT's `ot.solve(..., reg_type="KL").value`,
not `value_linear` = ⟨π, C⟩, and not the `reg_type="entropy"` value, which differs by
ε(H(a) + H(b))). Potentials are centred: the unweighted mean of f is moved from f to g.

Inputs are drawn with a fixed seed and rounded to float32 first (weights too, then renormalised
in float64), so that the f32 Rust code sees exactly the points the reference used.
"""
import subprocess
from pathlib import Path

import numpy as np
import ot
import torch
from scipy.optimize import linear_sum_assignment

from geomloss import SamplesLoss
from geomloss._legacy.sinkhorn_divergence import epsilon_schedule, max_diameter

torch.set_default_dtype(torch.float64)
OUT = Path(__file__).with_name("sinkhorn_values.rs")
rng = np.random.default_rng(20260303)
EPSILONS = (1.0, 0.1, 0.01)
SHIFT = 1.0e4


def f32(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def f32_weights(n):
    w = f32(rng.uniform(0.2, 1.0, n))
    w = f32(w / w.sum())
    return w


def normalised(w, n):
    """The float64 weights the reference uses: the f32 weights renormalised, or uniform."""
    return np.full(n, 1.0 / n) if w is None else w / w.sum()


def half_sq(x, y):
    return 0.5 * ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)


def dual_newton(C, a, b, eps, f, g, steps=100):
    """Newton's method on the concave dual D(f, g) = ⟨a,f⟩ + ⟨b,g⟩ − ε⟨a⊗b, e^{(f⊕g−C)/ε} − 1⟩
    (gradient: the marginal errors; Hessian −[[diag π1, π], [πᵀ, diag πᵀ1]]/ε, singular along
    (1, −1): least squares), with backtracking. Polishes a warm start to float64 precision where
    alternating Sinkhorn needs 10⁵ iterations (self-transport at ε = 0.01)."""
    n, m = len(a), len(b)
    la, lb = np.log(a), np.log(b)

    def plan(f, g):
        return np.exp(la[:, None] + lb[None, :] + (f[:, None] + g[None, :] - C) / eps)

    def value(f, g):
        return a @ f + b @ g - eps * (plan(f, g).sum() - 1.0)

    for _ in range(steps):
        p = plan(f, g)
        grad = np.concatenate([a - p.sum(1), b - p.sum(0)])
        if np.abs(grad).sum() < 1e-15:
            break
        H = np.block([[np.diag(p.sum(1)), p], [p.T, np.diag(p.sum(0))]]) / eps
        step = np.linalg.lstsq(H, grad, rcond=1e-14)[0]
        t, v0 = 1.0, value(f, g)
        while t > 1e-8 and value(f + t * step[:n], g + t * step[n:]) < v0 - 1e-15 * abs(v0):
            t *= 0.5
        f, g = f + t * step[:n], g + t * step[n:]
    return f, g


@np.errstate(over="ignore")  # POT also returns exp(log_u), which may overflow at small ε; unused
def pot_solve(x, y, a, b, eps):
    """POT's log-domain Sinkhorn, polished by Newton, then re-run by POT from the polished
    scalings: POT's own stopping test (L2 column-marginal error < 1e-13) must pass at once."""
    C = half_sq(x, y)
    _, log = ot.sinkhorn(a, b, C, eps, method="sinkhorn_log", stopThr=1e-13,
                         numItermax=3000, log=True, warn=False)
    f = eps * (log["log_u"] - np.log(a))
    g = eps * (log["log_v"] - np.log(b))
    if log["niter"] >= 2990:
        f, g = dual_newton(C, a, b, eps, f, g)
    warm = (f / eps + np.log(a), g / eps + np.log(b))
    plan, log = ot.sinkhorn(a, b, C, eps, method="sinkhorn_log", stopThr=1e-13, numItermax=100,
                            log=True, warn=False, warmstart=warm)
    assert log["niter"] < 90, ("POT did not converge", x.shape, y.shape, eps)
    f = eps * (log["log_u"] - np.log(a))
    g = eps * (log["log_v"] - np.log(b))
    dual = a @ f + b @ g
    # Primal value with the KL regulariser, from the plan (0 log 0 = 0).
    mask = plan > 0
    kl = np.sum(plan[mask] * np.log(plan[mask] / np.outer(a, b)[mask]))
    primal = np.sum(plan * C) + eps * kl
    assert abs(primal - dual) <= 1e-10 * max(1.0, abs(dual)), (primal, dual)
    assert np.abs(plan.sum(1) - a).sum() + np.abs(plan.sum(0) - b).sum() < 1e-11
    shift = f.mean()
    projection = (plan @ y) / a[:, None]
    return dual, f - shift, g + shift, projection, int(log["niter"])


def lit(v):
    v = float(v)
    assert np.isfinite(v)
    s = repr(v)
    return s if ("." in s or "e" in s) else s + ".0"


def arr(a):
    return "&[" + ", ".join(lit(v) for v in np.asarray(a).ravel()) + "]"


def uniform_cloud(n, d, lo, hi):
    return f32(rng.uniform(lo, hi, (n, d)))


# ---------------------------------------------------------------------------------------------
# OT_ε, S_ε, potentials, projections (POT)
# ---------------------------------------------------------------------------------------------
def ot_case(name, x, y, wa, wb, epsilons=EPSILONS, offset=0.0):
    """`x`, `y` are what the Rust code sees; the reference runs on `x − offset`, `y − offset`
    (exact in float64 for the f32-rounded translated points)."""
    n, m = len(x), len(y)
    a, b = normalised(wa, n), normalised(wb, m)
    xr, yr = x - offset, y - offset
    rows = []
    for eps in epsilons:
        ab, f, g, proj, it = pot_solve(xr, yr, a, b, eps)
        ba = pot_solve(yr, xr, b, a, eps)[0]
        assert abs(ab - ba) <= 1e-10 * max(1.0, abs(ab))
        aa = pot_solve(xr, xr, a, a, eps)[0]
        bb = pot_solve(yr, yr, b, b, eps)[0]
        rows.append(dict(eps=eps, ab=ab, aa=aa, bb=bb, s=ab - 0.5 * aa - 0.5 * bb, f=f, g=g,
                         proj=proj + offset, iters=it))
    return dict(name=name, dim=x.shape[1], x=x, y=y, wa=wa, wb=wb, rows=rows)


cases = []
base = {}
for name, n, m, d, weighted_a, weighted_b in [
    ("n1_m7_d2", 1, 7, 2, False, False),
    ("n7_m33_d2_weighted", 7, 33, 2, True, True),
    ("n33_m100_d2", 33, 100, 2, False, False),
    ("n100_m100_d2", 100, 100, 2, False, True),
    ("n33_m50_d3_weighted", 33, 50, 3, True, False),
]:
    x = uniform_cloud(n, d, -1.0, 0.6)
    y = uniform_cloud(m, d, -0.6, 1.0)
    wa = f32_weights(n) if weighted_a else None
    wb = f32_weights(m) if weighted_b else None
    base[name] = (x, y, wa, wb)
    cases.append(ot_case(name, x, y, wa, wb))

# The convention check: POT's own `ot.solve(reg_type="KL")` value is our OT_ε.
x, y, wa, wb = base["n7_m33_d2_weighted"]
solved = ot.solve(half_sq(x, y), normalised(wa, len(x)), normalised(wb, len(y)), reg=0.1, reg_type="KL",
                  method="sinkhorn_log", max_iter=100000, tol=1e-13)
assert abs(float(solved.value) - cases[1]["rows"][1]["ab"]) < 1e-10, (solved.value, cases[1]["rows"][1])

# Single points: OT_ε = S_ε = C for every ε (the only coupling is a⊗b).
x1, y1 = f32([[0.25, -0.5]]), f32([[-0.75, 0.125]])
cases.append(ot_case("single_points", x1, y1, None, None))
# Coincident clouds (diameter 0): C = 0, OT_ε = 0. (GeomLoss raises on them: its schedule is
# arange(2 ln 0, ...), of infinite length.)
cases.append(ot_case("coincident_n5_m3", f32(np.tile([[0.3, -0.2]], (5, 1))),
                     f32(np.tile([[0.3, -0.2]], (3, 1))), None, None))
# Both clouds translated by 1e4 and rounded to f32 (spacing 2^-10 ≈ 9.8e-4): the reference runs
# on the rounded points minus 1e4, which float64 represents exactly.
x, y, wa, wb = base["n33_m100_d2"]
translated = ot_case("n33_m100_d2_translated_1e4", f32(x + SHIFT), f32(y + SHIFT), wa, wb,
                     epsilons=(0.1, 0.01), offset=SHIFT)
cases.append(translated)

# ---------------------------------------------------------------------------------------------
# Exact assignment (ε → 0): OT_ε − W → ε·ln N (the KL of a permutation plan relative to a⊗b),
# and W ≤ OT_ε ≤ W + ε ln N at convergence.
# ---------------------------------------------------------------------------------------------
ASSIGNMENT_EPS = (0.1, 0.03, 0.01, 0.003, 0.001)
assignments = []
for n in (5, 8, 20):
    x = uniform_cloud(n, 2, -1.0, 1.0)
    y = uniform_cloud(n, 2, -1.0, 1.0)
    C = half_sq(x, y)
    r, c = linear_sum_assignment(C)
    exact = C[r, c].sum() / n
    u = np.full(n, 1.0 / n)
    values = [pot_solve(x, y, u, u, eps)[0] for eps in ASSIGNMENT_EPS]
    assignments.append(dict(n=n, x=x, y=y, exact=exact, values=values))
    gaps = ", ".join(f"ε={e:g}: gap {v - exact:.3e} (ε ln N {e * np.log(n):.3e})"
                     for e, v in zip(ASSIGNMENT_EPS, values))
    print(f"assignment N={n}: W={exact:.6f}; {gaps}")

# Very small ε = 1e-4·d² on the 100-point clouds: the exact assignment cost bounds OT_ε.
x, y, _, _ = base["n100_m100_d2"]
C = half_sq(x, y)
r, c = linear_sum_assignment(C)
small_eps_exact = C[r, c].sum() / len(x)

# ---------------------------------------------------------------------------------------------
# GeomLoss parity: its fixed loop (ε-scaling, symmetric updates, final extrapolation)
# ---------------------------------------------------------------------------------------------
geomloss_cases = []
for name in ("n7_m33_d2_weighted", "n33_m100_d2", "n33_m50_d3_weighted"):
    x, y, wa, wb = base[name]
    a = torch.tensor(normalised(wa, len(x)))
    b = torch.tensor(normalised(wb, len(y)))
    xt, yt = torch.tensor(x), torch.tensor(y)
    diameter = max_diameter(xt, yt)
    for blur in (0.05, 0.5):
        for scaling in (0.5, 0.9):
            blur32, scaling32 = float(np.float32(blur)), float(np.float32(scaling))
            kw = dict(p=2, blur=blur32, scaling=scaling32, backend="tensorized")
            s = SamplesLoss("sinkhorn", debias=True, **kw)(a, xt, b, yt).item()
            ot_ab = SamplesLoss("sinkhorn", debias=False, **kw)(a, xt, b, yt).item()
            steps = len(epsilon_schedule(2, diameter, blur32, scaling32))
            geomloss_cases.append(dict(case=name, blur=blur32, scaling=scaling32, diameter=diameter,
                                       steps=steps, s=s, ot=ot_ab))

schedules = []
for diameter, blur, scaling in [(4.0, 0.05, 0.5), (2.8284271247461903, 0.05, 0.9), (1.0, 0.1, 0.7),
                                (10.0, 0.01, 0.95), (3.0, 1.0, 0.5), (4.0, 1.0, 0.5),
                                (0.25, 0.5, 0.5)]:  # diameter < blur: GeomLoss gives [d², blur²]
    d32, b32, s32 = (float(np.float32(v)) for v in (diameter, blur, scaling))
    schedules.append(dict(diameter=d32, blur=b32, scaling=s32,
                          eps=[float(e) for e in epsilon_schedule(2, d32, b32, s32)]))

# ---------------------------------------------------------------------------------------------
# Rust source
# ---------------------------------------------------------------------------------------------
lines = [
    "// @generated by tests/reference/make_sinkhorn_references.py (POT, SciPy, GeomLoss; float64)"
    " — do not edit.",
    "#![allow(dead_code, clippy::excessive_precision, clippy::unreadable_literal)]",
    "",
    "/// POT's converged solution at one ε (cost ½‖x−y‖², regulariser ε·KL(π‖a⊗b)).",
    "pub struct OtAtEpsilon {",
    "    pub epsilon: f64,",
    "    /// `OT_ε(a, b) = ⟨a, f⟩ + ⟨b, g⟩`.",
    "    pub ot_ab: f64,",
    "    pub ot_aa: f64,",
    "    pub ot_bb: f64,",
    "    /// `S_ε = OT_ε(a, b) − ½OT_ε(a, a) − ½OT_ε(b, b)`.",
    "    pub divergence: f64,",
    "    /// Potentials centred: the unweighted mean of `f` moved from `f` to `g`.",
    "    pub f: &'static [f64],",
    "    pub g: &'static [f64],",
    "    /// `T_ab(x_i) = Σ_j π_ij y_j / a_i`, point-major (`N × D`), in the case's coordinates.",
    "    pub projection: &'static [f64],",
    "    /// Iterations of POT's final pass from the Newton-polished scalings (its stopping test,",
    "    /// L2 column-marginal error < 1e-13, runs at iterations 0, 10, …).",
    "    pub pot_iterations: usize,",
    "}",
    "",
    "/// Two clouds (point-major, exactly f32 values) and their references; empty weights: uniform.",
    "pub struct OtCase {",
    "    pub name: &'static str,",
    "    pub dim: usize,",
    "    pub x: &'static [f64],",
    "    pub y: &'static [f64],",
    "    pub a: &'static [f64],",
    "    pub b: &'static [f64],",
    "    pub solutions: &'static [OtAtEpsilon],",
    "}",
    "",
    "pub const OT_CASES: &[OtCase] = &[",
]
for c in cases:
    lines.append(f"    OtCase {{ name: \"{c['name']}\", dim: {c['dim']}, x: {arr(c['x'])}, y: {arr(c['y'])}, "
                 f"a: {arr(c['wa'] if c['wa'] is not None else [])}, "
                 f"b: {arr(c['wb'] if c['wb'] is not None else [])}, solutions: &[")
    for r in c["rows"]:
        lines.append(f"        OtAtEpsilon {{ epsilon: {lit(r['eps'])}, ot_ab: {lit(r['ab'])}, ot_aa: {lit(r['aa'])}, "
                     f"ot_bb: {lit(r['bb'])}, divergence: {lit(r['s'])}, f: {arr(r['f'])}, g: {arr(r['g'])}, "
                     f"projection: {arr(r['proj'])}, pot_iterations: {r['iters']} }},")
    lines.append("    ] },")
lines += [
    "];",
    "",
    "/// Uniform clouds of equal size in 2D: exact assignment cost `W` (SciPy) and POT's `OT_ε`.",
    "pub struct AssignmentCase {",
    "    pub n: usize,",
    "    pub x: &'static [f64],",
    "    pub y: &'static [f64],",
    "    pub exact: f64,",
    "    pub ot: &'static [f64],",
    "}",
    "",
    f"pub const ASSIGNMENT_EPSILONS: &[f64] = {arr(ASSIGNMENT_EPS)};",
    "",
    "pub const ASSIGNMENT_CASES: &[AssignmentCase] = &[",
]
for c in assignments:
    lines.append(f"    AssignmentCase {{ n: {c['n']}, x: {arr(c['x'])}, y: {arr(c['y'])}, exact: {lit(c['exact'])}, "
                 f"ot: {arr(c['values'])} }},")
lines += [
    "];",
    "",
    "/// Exact assignment cost of the clouds of `n100_m100_d2` (uniform weights on both sides).",
    f"pub const N100_UNIFORM_ASSIGNMENT: f64 = {lit(small_eps_exact)};",
    "",
    "/// GeomLoss `SamplesLoss(\"sinkhorn\", p=2, blur, scaling, backend=\"tensorized\")` in float64 on",
    "/// the clouds of OT case `case`: `divergence` (debias=True), `transport` (debias=False), its",
    "/// `max_diameter` and the length of its ε list.",
    "pub struct GeomLossCase {",
    "    pub case: &'static str,",
    "    pub blur: f64,",
    "    pub scaling: f64,",
    "    pub diameter: f64,",
    "    pub schedule_len: usize,",
    "    pub divergence: f64,",
    "    pub transport: f64,",
    "}",
    "",
    "pub const GEOMLOSS_CASES: &[GeomLossCase] = &[",
]
for g in geomloss_cases:
    lines.append(f"    GeomLossCase {{ case: \"{g['case']}\", blur: {lit(g['blur'])}, scaling: {lit(g['scaling'])}, "
                 f"diameter: {lit(g['diameter'])}, schedule_len: {g['steps']}, divergence: {lit(g['s'])}, "
                 f"transport: {lit(g['ot'])} }},")
lines += [
    "];",
    "",
    "/// GeomLoss's `epsilon_schedule(2, diameter, blur, scaling)` (inputs are f32 values).",
    "pub struct ScheduleCase {",
    "    pub diameter: f64,",
    "    pub blur: f64,",
    "    pub scaling: f64,",
    "    pub epsilons: &'static [f64],",
    "}",
    "",
    "pub const SCHEDULE_CASES: &[ScheduleCase] = &[",
]
for s in schedules:
    lines.append(f"    ScheduleCase {{ diameter: {lit(s['diameter'])}, blur: {lit(s['blur'])}, "
                 f"scaling: {lit(s['scaling'])}, epsilons: {arr(s['eps'])} }},")
lines.append("];")
OUT.write_text("\n".join(lines) + "\n")
subprocess.run(["rustfmt", "--edition", "2024", str(OUT)], check=True)
print(f"wrote {OUT} ({OUT.stat().st_size} bytes): {len(cases)} OT cases, {len(assignments)} assignment "
      f"cases, {len(geomloss_cases)} GeomLoss cases, {len(schedules)} schedules")
for c in cases:
    for r in c["rows"]:
        print(f"  {c['name']:32s} ε={r['eps']:<5g} OT={r['ab']:.6f} S={r['s']:.3e} POT iters={r['iters']}")
for g in geomloss_cases:
    print(f"  geomloss {g['case']:24s} blur={g['blur']:.3g} s={g['scaling']:.3g} d={g['diameter']:.4f} "
          f"steps={g['steps']} S={g['s']:.6e} OT={g['ot']:.6f}")
