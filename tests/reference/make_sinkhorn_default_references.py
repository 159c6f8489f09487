#!/usr/bin/env python3
"""The bar for `SinkhornConfig::default()`: GeomLoss's default behaviour on a set of ordinary
clouds, and the converged answer it is measured against.

For each cloud pair (unit-scale 2D and 3D data like the papers' toy sets, 13 to 300 points,
uniform and weighted), at GeomLoss's default blur 0.05 (ε = 0.0025, cost ½‖x−y‖²):

* the converged `OT_ε(a, b)` in float64: log-domain Sinkhorn with ε-scaling (factor 0.9 on the
  blur) then alternating updates until the L1 marginal error is below 1e-12 (Newton-polished on
  the dual when that takes too long);
* GeomLoss's default `SamplesLoss("sinkhorn", p=2, blur=0.05, scaling=0.5, debias=False,
  backend="tensorized", potentials=True)` on float32 tensors (its default dtype for float32
  data): its value `⟨a, F⟩ + ⟨b, G⟩` and the L1 marginal error of the plan
  `π_ij = a_i b_j exp((F_i + G_j − C_ij)/ε)` its potentials define (computed in float64);
* the number of softmin passes it spends (two per entry of its ε schedule, plus the final
  extrapolation).

    /tmp/venv/bin/python tests/reference/make_sinkhorn_default_references.py
    # rewrites tests/reference/sinkhorn_default_values.rs

`tests/sinkhorn_defaults.rs` solves the same clouds with the crate's defaults and checks they
converge and are at least as accurate as GeomLoss's default (the table it prints with
`-- --nocapture` is the one in the README).
"""
import subprocess
from pathlib import Path

import numpy as np
import torch
from scipy.special import logsumexp

from geomloss import SamplesLoss
from geomloss._legacy.sinkhorn_divergence import epsilon_schedule, max_diameter

OUT = Path(__file__).with_name("sinkhorn_default_values.rs")
rng = np.random.default_rng(20260415)
BLUR = 0.05
EPS = BLUR * BLUR


def f32(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def half_sq(x, y):
    return 0.5 * ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)


def marginal_error(C, a, b, f, g, eps):
    logp = np.log(a)[:, None] + np.log(b)[None, :] + (f[:, None] + g[None, :] - C) / eps
    p = np.exp(logp)
    return np.abs(p.sum(1) - a).sum() + np.abs(p.sum(0) - b).sum()


def dual_newton(C, a, b, eps, f, g, steps=60):
    """Newton on the concave dual (see make_sinkhorn_references.py), with backtracking."""
    n = len(a)
    la, lb = np.log(a), np.log(b)

    def plan(f, g):
        return np.exp(la[:, None] + lb[None, :] + (f[:, None] + g[None, :] - C) / eps)

    def value(f, g):
        return a @ f + b @ g - eps * (plan(f, g).sum() - 1.0)

    for _ in range(steps):
        p = plan(f, g)
        grad = np.concatenate([a - p.sum(1), b - p.sum(0)])
        if np.abs(grad).sum() < 1e-14:
            break
        H = np.block([[np.diag(p.sum(1)), p], [p.T, np.diag(p.sum(0))]]) / eps
        step = np.linalg.lstsq(H, grad, rcond=1e-14)[0]
        t, v0 = 1.0, value(f, g)
        while t > 1e-8 and value(f + t * step[:n], g + t * step[n:]) < v0 - 1e-15 * abs(v0):
            t *= 0.5
        f, g = f + t * step[:n], g + t * step[n:]
    return f, g


def converged(x, y, a, b, eps):
    """OT_ε(a, b) in float64, to an L1 marginal error below 1e-11."""
    C = half_sq(x, y)
    la, lb = np.log(a), np.log(b)
    f, g = np.zeros(len(a)), np.zeros(len(b))
    d = np.sqrt(((np.maximum(x.max(0), y.max(0)) - np.minimum(x.min(0), y.min(0))) ** 2).sum())
    blurs = []
    blur = d
    while blur > np.sqrt(eps):
        blurs.append(blur)
        blur *= 0.9
    for e in [bl * bl for bl in blurs] + [eps] * 200000:
        f = -e * logsumexp(lb[None, :] + (g[None, :] - C) / e, axis=1)
        g = -e * logsumexp(la[:, None] + (f[:, None] - C) / e, axis=0)
        if e == eps and marginal_error(C, a, b, f, g, eps) < 1e-12:
            break
    if marginal_error(C, a, b, f, g, eps) > 1e-11:
        f, g = dual_newton(C, a, b, eps, f, g)
    err = marginal_error(C, a, b, f, g, eps)
    assert err < 1e-11, err
    return a @ f + b @ g


def geomloss_default(x, y, a, b):
    xt, yt = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
    at, bt = torch.tensor(a, dtype=torch.float32), torch.tensor(b, dtype=torch.float32)
    loss = SamplesLoss("sinkhorn", p=2, blur=BLUR, scaling=0.5, debias=False,
                       backend="tensorized", potentials=True)
    F, G = loss(at, xt, bt, yt)
    F, G = F.double().numpy().ravel(), G.double().numpy().ravel()
    value = float(SamplesLoss("sinkhorn", p=2, blur=BLUR, scaling=0.5, debias=False,
                              backend="tensorized")(at, xt, bt, yt).item())
    assert abs(value - (a @ F + b @ G)) <= 1e-5 * max(1.0, abs(value)), (value, a @ F + b @ G)
    steps = len(epsilon_schedule(2, max_diameter(xt, yt), BLUR, 0.5))
    err = marginal_error(half_sq(x, y), a, b, F, G, EPS)
    return value, err, 2 * steps + 2


def gaussian(n, d, mean, std):
    return f32(rng.normal(mean, std, (n, d)))


def moons(n, noise):
    t = rng.uniform(0, np.pi, n)
    upper = rng.uniform(size=n) < 0.5
    x = np.where(upper, np.cos(t), 1 - np.cos(t))
    y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    p = np.stack([(x - 0.5) / 1.5, (y - 0.25) / 1.5], 1)
    return f32(p + rng.normal(0, noise, p.shape))


def ring(n, modes, radius, std):
    k = rng.integers(0, modes, n)
    angle = 2 * np.pi * k / modes
    p = radius * np.stack([np.cos(angle), np.sin(angle)], 1)
    return f32(p + rng.normal(0, std, p.shape))


def weights(n):
    w = f32(rng.uniform(0.2, 1.0, n))
    return f32(w / w.sum())


cases = [
    ("gaussians_13_vs_13", gaussian(13, 2, 0.0, 1.0), gaussian(13, 2, [1.0, 0.0], 1.0), None, None),
    ("gaussians_100_vs_100_shifted", gaussian(100, 2, 0.0, 1.0),
     gaussian(100, 2, [2.0, 1.0], 0.5), None, None),
    ("moons_200_vs_gaussian_200", moons(200, 0.05), gaussian(200, 2, 0.0, 0.5), None, None),
    ("ring_160_vs_square_160", ring(160, 8, 1.0, 0.04),
     f32(rng.uniform(-1.0, 1.0, (160, 2))), None, None),
    ("cubes_150_vs_120_d3", f32(rng.uniform(-1.0, 0.6, (150, 3))),
     f32(rng.uniform(-0.6, 1.0, (120, 3))), None, None),
    ("clusters_64_vs_64_4_apart", gaussian(64, 2, [-2.0, 0.0], 0.3),
     gaussian(64, 2, [2.0, 0.0], 0.3), None, None),
    ("weighted_50_vs_80", gaussian(50, 2, 0.0, 0.7), moons(80, 0.1), weights(50), weights(80)),
    ("moons_200_vs_moons_200", moons(200, 0.05), moons(200, 0.05), None, None),
]

rows = []
for name, x, y, wa, wb in cases:
    n, m = len(x), len(y)
    a = np.full(n, 1.0 / n) if wa is None else wa / wa.sum()
    b = np.full(m, 1.0 / m) if wb is None else wb / wb.sum()
    reference = converged(x, y, a, b, EPS)
    value, err, passes = geomloss_default(x, y, a, b)
    rows.append(dict(name=name, x=x, y=y, wa=wa, wb=wb, reference=reference, geomloss=value,
                     geomloss_error=err, passes=passes))
    print(f"{name:32s} OT_ε {reference:.6f}  GeomLoss {value:.6f} "
          f"(rel. error {abs(value - reference) / abs(reference):.2e}, L1 marginal error {err:.2e}, "
          f"{passes} softmin passes)")


def lit(v):
    v = float(v)
    assert np.isfinite(v)
    s = repr(v)
    return s if ("." in s or "e" in s) else s + ".0"


def arr(a):
    return "&[" + ", ".join(lit(v) for v in np.asarray(a).ravel()) + "]"


def lit32(v):
    """The shortest decimal that reads back as this f32."""
    s = str(np.float32(v))
    return s if ("." in s or "e" in s) else s + ".0"


def arr32(a):
    return "&[" + ", ".join(lit32(v) for v in np.asarray(a).ravel()) + "]"


lines = [
    "// @generated by tests/reference/make_sinkhorn_default_references.py; do not edit.",
    "#![allow(clippy::excessive_precision, clippy::unreadable_literal, dead_code)]",
    "",
    "/// One cloud pair at blur 0.05: the converged `OT_ε` and GeomLoss's default result.",
    "pub struct DefaultCase {",
    "    pub name: &'static str,",
    "    pub dim: usize,",
    "    /// Points, point-major.",
    "    pub x: &'static [f32],",
    "    pub y: &'static [f32],",
    "    /// Weights (sum 1 to `f32` rounding; the references use them renormalised in float64),",
    "    /// or empty for uniform.",
    "    pub a: &'static [f32],",
    "    pub b: &'static [f32],",
    "    /// `OT_ε(a, b)` converged in float64 (L1 marginal error below 1e-11).",
    "    pub reference: f64,",
    "    /// GeomLoss's default `SamplesLoss(\"sinkhorn\", p=2, blur=0.05, scaling=0.5, debias=False)`",
    "    /// in float32.",
    "    pub geomloss: f64,",
    "    /// The L1 marginal error of GeomLoss's returned potentials (float64 plan).",
    "    pub geomloss_marginal_error: f64,",
    "    /// Softmin passes GeomLoss spent (two per ε of its schedule, two for the extrapolation).",
    "    pub geomloss_passes: usize,",
    "}",
    "",
    "pub const DEFAULT_CASES: &[DefaultCase] = &[",
]
for r in rows:
    lines += [
        "    DefaultCase {",
        f"        name: {r['name']!r},".replace("'", '"'),
        f"        dim: {r['x'].shape[1]},",
        f"        x: {arr32(r['x'])},",
        f"        y: {arr32(r['y'])},",
        f"        a: {arr32([] if r['wa'] is None else r['wa'])},",
        f"        b: {arr32([] if r['wb'] is None else r['wb'])},",
        f"        reference: {lit(r['reference'])},",
        f"        geomloss: {lit(r['geomloss'])},",
        f"        geomloss_marginal_error: {lit(r['geomloss_error'])},",
        f"        geomloss_passes: {r['passes']},",
        "    },",
    ]
lines.append("];")
OUT.write_text("\n".join(lines) + "\n")
subprocess.run(["rustfmt", "--edition", "2024", str(OUT)], check=True)
print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
