#!/usr/bin/env python3
"""Reference values of the two-axis and multi-temperature drifts, computed by PyTorch in float64
with the dense formulation of the official code (cdist, masks, softmax, matmul): an
implementation that shares nothing with the crate's streaming one.

    python3 tests/reference/make_torch_references.py   # needs numpy and torch; rewrites torch_values.rs

Inputs are drawn with a fixed seed and rounded to float32 first, so the f32 Rust code sees
exactly the inputs the reference used.
"""
from pathlib import Path

import numpy as np
import torch

torch.set_default_dtype(torch.float64)
OUT = Path(__file__).with_name("torch_values.rs")
rng = np.random.default_rng(20260214)


def f32(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def logits_of(dist, kernel, t):
    return -dist / t if kernel == "laplace" else -dist**2 / (2 * t * t)


def two_axis_log_domain(x, pos, neg, kernel, t):
    """Algorithm 2 with the self-pair excluded (logit −∞) when `neg is None`."""
    x, pos = torch.tensor(x), torch.tensor(pos)
    negs = x if neg is None else torch.tensor(neg)
    l = logits_of(torch.cdist(x, torch.cat([pos, negs])), kernel, t)
    p = pos.shape[0]
    if neg is None:
        idx = torch.arange(x.shape[0])
        l[idx, p + idx] = float("-inf")
    a = torch.exp(l - 0.5 * torch.logsumexp(l, 1, keepdim=True) - 0.5 * torch.logsumexp(l, 0, keepdim=True))
    a_pos, a_neg = a[:, :p], a[:, p:]
    s_pos, s_neg = a_pos.sum(1, keepdim=True), a_neg.sum(1, keepdim=True)
    return (s_neg * (a_pos @ pos) - s_pos * (a_neg @ negs)).numpy()


def two_axis_demo(x, pos, kernel, t):
    """The official 2D demo's formula: distance +1e6 on the self-pairs, K / sqrt(rowsum ⊗ colsum)."""
    x, pos = torch.tensor(x), torch.tensor(pos)
    d_pos, d_neg = torch.cdist(x, pos), torch.cdist(x, x) + torch.eye(x.shape[0]) * 1e6
    k = torch.exp(logits_of(torch.cat([d_pos, d_neg], 1), kernel, t))
    a = k / torch.sqrt(torch.clamp(k.sum(1, keepdim=True) * k.sum(0, keepdim=True), min=1e-12))
    p = pos.shape[0]
    a_pos, a_neg = a[:, :p], a[:, p:]
    return (a_neg.sum(1, keepdim=True) * (a_pos @ pos) - a_pos.sum(1, keepdim=True) * (a_neg @ x)).numpy()


def multi_temperature(x, pos, floor, w_gen, w_pos, temps=(0.02, 0.05, 0.2)):
    """A port of the official JAX drift_loss (gen = queries = negatives, targets [gen ; pos])."""
    gen, pos = torch.tensor(x), torch.tensor(pos)
    n, d = gen.shape
    targets = torch.cat([gen, pos])
    w = torch.cat([torch.full((n,), w_gen), torch.full((pos.shape[0],), w_pos)])
    sq = ((gen[:, None, :] - targets[None, :, :]) ** 2).sum(-1)
    dist = torch.sqrt(torch.clamp(sq, min=1e-8))
    scale = (dist * w[None, :]).mean() / w.mean()
    s_in = torch.clamp(scale / d**0.5, min=1e-3)
    dn = dist / torch.clamp(scale, min=1e-3)
    dn[:, :n] += torch.eye(n) * 100.0
    gen_s, targets_s = gen / s_in, targets / s_in
    force, raw = torch.zeros_like(gen_s), []
    for r in temps:
        logits = -dn / r
        aff = torch.sqrt(torch.clamp(torch.softmax(logits, 1) * torch.softmax(logits, 0), min=floor)) * w[None, :]
        a_neg, a_pos = aff[:, :n], aff[:, n:]
        coeff = torch.cat([-a_neg * a_pos.sum(1, keepdim=True), a_pos * a_neg.sum(1, keepdim=True)], 1)
        f_r = coeff @ targets_s - coeff.sum(1, keepdim=True) * gen_s
        n_r = (f_r**2).mean()
        raw.append(float(n_r))
        force = force + f_r / torch.sqrt(torch.clamp(n_r, min=1e-8))
    return force.numpy(), float(scale), float(s_in), raw, float((force**2).mean())


def lit(v):
    v = float(v)
    assert np.isfinite(v)
    s = repr(v)
    return s if ("." in s or "e" in s) else s + ".0"


def arr(a):
    return "&[" + ", ".join(lit(v) for v in np.asarray(a).ravel()) + "]"


two_axis, multi = [], []
for dim, n, p, q, kernel, t, self_neg, scale in [
    (1, 5, 7, 6, "laplace", 0.05, True, 0.1),
    (1, 13, 9, 11, "gaussian", 0.2, False, 0.3),
    (2, 13, 17, 13, "laplace", 0.05, True, 0.3),
    (2, 37, 29, 31, "laplace", 0.2, False, 0.5),
    (2, 9, 16, 9, "gaussian", 0.05, True, 0.08),
    (2, 37, 41, 37, "gaussian", 1.0, True, 1.0),
    (3, 13, 8, 13, "laplace", 1.0, True, 1.0),
    (3, 21, 19, 23, "gaussian", 0.2, False, 0.3),
    (8, 13, 15, 13, "laplace", 0.2, True, 0.15),
    (8, 37, 33, 37, "gaussian", 1.0, True, 0.5),
    (8, 24, 16, 24, "laplace", 1.0, False, 0.6),
    (2, 5, 3, 5, "laplace", 0.02, True, 0.05),
]:
    x = f32(rng.standard_normal((n, dim)) * scale)
    pos = f32(rng.standard_normal((p, dim)) * scale + 0.3 * scale)
    neg = None if self_neg else f32(rng.standard_normal((q, dim)) * scale)
    v = two_axis_log_domain(x, pos, neg, kernel, t)
    if self_neg:
        demo = two_axis_demo(x, pos, kernel, t)
        assert np.allclose(demo, v, rtol=1e-10, atol=1e-12), "demo and log-domain formulas disagree"
    name = f"{kernel}_d{dim}_n{n}_p{p}_{'self' if self_neg else 'q' + str(q)}_t{t}"
    two_axis.append((name, dim, kernel, t, self_neg, x, pos, neg, v))

# Sanity: positives equal to separate negatives give zero drift.
x = f32(rng.standard_normal((9, 2)))
y = f32(rng.standard_normal((11, 2)))
assert np.abs(two_axis_log_domain(x, y, y, "laplace", 0.3)).max() < 1e-12

for dim, n, p, floor, w_gen, w_pos in [
    (2, 24, 31, 1e-6, 1.0, 1.0),
    (2, 40, 11, 0.0, 1.0, 1.0),
    (3, 9, 11, 1e-6, 1.0, 2.5),
    (3, 24, 31, 0.0, 1.0, 1.0),
    (8, 40, 31, 1e-6, 1.0, 1.0),
    (8, 9, 31, 0.0, 1.0, 2.5),
]:
    x = f32(rng.standard_normal((n, dim)) * 0.5)
    pos = f32(rng.standard_normal((p, dim)) * 0.5 + 0.2)
    force, scale, s_in, raw, loss = multi_temperature(x, pos, floor, w_gen, w_pos)
    multi.append((f"d{dim}_n{n}_p{p}_floor{floor}_w{w_pos}", dim, floor, w_gen, w_pos, x, pos, scale, s_in, raw, force, loss))

lines = ["// @generated by tests/reference/make_torch_references.py (PyTorch float64) — do not edit.",
         "#![allow(dead_code, clippy::excessive_precision, clippy::unreadable_literal)]", "",
         "/// A two-axis drift case; points point-major (`x[i*dim + d]`), drift N×D point-major.",
         "pub struct TwoAxisCase { pub name: &'static str, pub dim: usize, pub kernel: &'static str, "
         "pub temperature: f64, pub self_negatives: bool, pub queries: &'static [f64], "
         "pub positives: &'static [f64], pub negatives: &'static [f64], pub drift: &'static [f64] }",
         "", "pub const TWO_AXIS_CASES: &[TwoAxisCase] = &["]
for name, dim, kernel, t, self_neg, x, pos, neg, v in two_axis:
    lines.append(f"    TwoAxisCase {{ name: \"{name}\", dim: {dim}, kernel: \"{kernel}\", temperature: {lit(t)}, "
                 f"self_negatives: {'true' if self_neg else 'false'}, queries: {arr(x)}, positives: {arr(pos)}, "
                 f"negatives: {arr(neg if neg is not None else [])}, drift: {arr(v)} }},")
lines += ["];", "",
          "/// A multi-temperature (official drift_loss) case; force N×D point-major, raw_rms2 per R.",
          "pub struct MultiTemperatureCase { pub name: &'static str, pub dim: usize, pub floor: f64, "
          "pub gen_weight: f64, pub pos_weight: f64, pub queries: &'static [f64], pub positives: &'static [f64], "
          "pub scale: f64, pub input_scale: f64, pub raw_rms2: &'static [f64], pub force: &'static [f64], pub loss: f64 }",
          "", "pub const MULTI_TEMPERATURE_CASES: &[MultiTemperatureCase] = &["]
for name, dim, floor, wg, wp, x, pos, scale, s_in, raw, force, loss in multi:
    lines.append(f"    MultiTemperatureCase {{ name: \"{name}\", dim: {dim}, floor: {lit(floor)}, gen_weight: {lit(wg)}, "
                 f"pos_weight: {lit(wp)}, queries: {arr(x)}, positives: {arr(pos)}, scale: {lit(scale)}, "
                 f"input_scale: {lit(s_in)}, raw_rms2: {arr(raw)}, force: {arr(force)}, loss: {lit(loss)} }},")
lines.append("];")
OUT.write_text("\n".join(lines) + "\n")
print(f"wrote {OUT} ({OUT.stat().st_size} bytes): {len(two_axis)} two-axis cases, {len(multi)} multi-temperature cases")
