#!/usr/bin/env python3
"""Reference values of the grouped feature-space drift loss (the official `drift_loss` over
`gen [B, Cg, S]`, unconditional negatives `[B, Cu, S]`, positives `[B, Cp, S]`), computed by
PyTorch in float64 with direct difference-form distances `((x − y)²).sum(−1)`: a dense port of the
formulation, sharing nothing with the crate's f32 code.

    /tmp/venv/bin/python tests/reference/make_feature_references.py   # needs numpy and torch
                                                                     # rewrites feature_values.rs

The formulation (per group b: targets [gen ; uncond ; pos], T = Cg + Cu + Cp columns, column
weights w = [w_gen ; w_uncond ; w_pos]):

* dist = sqrt(max(sqdist, 1e-8)) [B, Cg, T];
* scale = mean(dist · w[:, None, :]) / mean(w): ONE scalar, the means over all B, Cg, T and B, T;
* s_in = max(scale / sqrt(S), 1e-3); d̃ = dist / max(scale, 1e-3), plus the self-mask distance
  (official 100) on the generated–generated diagonal (i == j < Cg);
* per temperature R: l = −d̃/R; A = sqrt(max(softmax_over_targets(l) · softmax_over_gen_rows(l),
  floor)) · w (official floor 1e-6, 0 allowed); negatives are the first Cg + Cu columns, positives
  the last Cp; coefficients [−A_neg · ΣA_pos ; A_pos · ΣA_neg]; F_R = coeff @ (targets/s_in) −
  rowsum(coeff) · gen/s_in; n_R = mean(F_R²) over every group, row and channel (global);
  F += F_R / sqrt(max(n_R, 1e-8));
* loss_b = mean over (Cg, S) of F²; loss = mean_b loss_b; d loss / d gen = −2F/(s_in·B·Cg·S).
* Classifier-free guidance: per-group α_b ≥ 1 gives the unconditional columns the weight
  (α_b − 1)(Cg − 1)/Cu (computed here in float64); no α: weight 1.

Inputs are not stored: tests/reference/feature_inputs.rs regenerates them bit for bit with the
generator below (splitmix64 → uniform (z >> 11)·2⁻⁵³ → Irwin–Hall normal (u1+u2+u3+u4 − 2)·√3 →
centre + spread·normal in f64, rounded to f32, minus the case's `translate` in f32), which uses
only exactly rounded IEEE operations, so Python and Rust produce the same bits. Each case stores
the first and last three values of each tensor to prove it. The explicit per-token weights of
the one case that has them (uniform in [0.25, 2) from the same generator, rounded to f32) are
stored as values.

The script also measures the official float32 formulation (expanded distances
‖x‖² + ‖y‖² − 2⟨x, y⟩, as the official cdist) on features shifted by 1e3 against float64, and
stores the measured relative error of the field.
"""
import subprocess
from pathlib import Path

import numpy as np
import torch

OUT = Path(__file__).with_name("feature_values.rs")
OFFICIAL_R = (0.02, 0.05, 0.2)
MASK64 = (1 << 64) - 1
SQRT_3 = 1.7320508075688772  # the literal Rust uses too


# ---------------------------------------------------------------- the generator (Rust twin: feature_inputs.rs)
class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK64

    def next_u64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def uniform(self):
        return float(self.next_u64() >> 11) * 2.0**-53  # exact: < 2^53 times a power of two

    def normal(self):
        u1, u2, u3, u4 = self.uniform(), self.uniform(), self.uniform(), self.uniform()
        return (((u1 + u2) + u3) + u4 - 2.0) * SQRT_3


def cloud(params, count, channels, translate):
    """Tokens [count, channels] of one group and one family: channel centres first (centre +
    channel_spread·normal, one per channel), then token-major values centre_s + spread·normal,
    each rounded to f32, then minus `translate` in f32."""
    seed, centre, channel_spread, spread = params
    rng = SplitMix64(seed)
    centres = [centre + channel_spread * rng.normal() for _ in range(channels)]
    out = np.empty((count, channels), dtype=np.float32)
    for t in range(count):
        for s in range(channels):
            out[t, s] = np.float32(centres[s] + spread * rng.normal())
    return out - np.float32(translate)


def weights_of(seed, count, lo=0.25, hi=2.0):
    rng = SplitMix64(seed)
    return np.array([np.float32(lo + (hi - lo) * rng.uniform()) for _ in range(count)], dtype=np.float32)


# ---------------------------------------------------------------- the formulation
def official_f64(gen, neg, pos, w_gen, w_neg, w_pos, temps, floor, mask):
    """The grouped drift loss in float64 with direct distances. Arrays [B, C, S], weights [B, C]."""
    gen, neg, pos = (torch.tensor(a, dtype=torch.float64) for a in (gen, neg, pos))
    w = torch.cat([torch.tensor(a, dtype=torch.float64) for a in (w_gen, w_neg, w_pos)], 1)
    b, cg, s = gen.shape
    targets = torch.cat([gen, neg, pos], 1)
    sq = ((gen[:, :, None, :] - targets[:, None, :, :]) ** 2).sum(-1)
    dist = torch.sqrt(torch.clamp(sq, min=1e-8))
    scale = (dist * w[:, None, :]).mean() / w.mean()
    s_in = torch.clamp(scale / s**0.5, min=1e-3)
    dn = dist / torch.clamp(scale, min=1e-3)
    dn[:, :, :cg] += torch.eye(cg, dtype=torch.float64) * mask
    gen_s, targets_s = gen / s_in, targets / s_in
    split = targets.shape[1] - pos.shape[1]
    force, raw = torch.zeros_like(gen_s), []
    for r in temps:
        logits = -dn / r
        prod = torch.softmax(logits, 2) * torch.softmax(logits, 1)
        aff = torch.sqrt(torch.clamp(prod, min=floor)) * w[:, None, :]
        a_neg, a_pos = aff[:, :, :split], aff[:, :, split:]
        coeff = torch.cat([-a_neg * a_pos.sum(2, keepdim=True), a_pos * a_neg.sum(2, keepdim=True)], 2)
        f_r = torch.einsum("bit,bts->bis", coeff, targets_s) - coeff.sum(2, keepdim=True) * gen_s
        n_r = (f_r**2).mean()
        raw.append(float(n_r))
        force = force + f_r / torch.sqrt(torch.clamp(n_r, min=1e-8))
    group_losses = (force**2).mean(dim=(1, 2))
    return dict(field=force.numpy(), scale=float(scale), s_in=float(s_in), raw=raw,
                group_losses=group_losses.numpy(), loss=float(group_losses.mean()))


def official_f32(gen, neg, pos, w_gen, w_neg, w_pos, temps=OFFICIAL_R, floor=1e-6, mask=100.0):
    """The official formulation as it runs in float32: expanded distances ‖x‖² + ‖y‖² − 2⟨x, y⟩
    (einsum), clamp at 1e-8, softmaxes, einsum for the sums."""
    gen, neg, pos = (torch.tensor(a, dtype=torch.float32) for a in (gen, neg, pos))
    w = torch.cat([torch.tensor(a, dtype=torch.float32) for a in (w_gen, w_neg, w_pos)], 1)
    b, cg, s = gen.shape
    targets = torch.cat([gen, neg, pos], 1)
    xy = torch.einsum("bnd,bmd->bnm", gen, targets)
    xx = torch.einsum("bnd,bnd->bn", gen, gen)
    yy = torch.einsum("bmd,bmd->bm", targets, targets)
    dist = torch.sqrt((xx[:, :, None] + yy[:, None, :] - 2 * xy).clamp(min=1e-8))
    scale = (dist * w[:, None, :]).mean() / w.mean()
    s_in = (scale / s**0.5).clamp(min=1e-3)
    dn = dist / scale.clamp(min=1e-3)
    dn = dn + torch.nn.functional.pad(torch.eye(cg), (0, targets.shape[1] - cg))[None] * mask
    gen_s, targets_s = gen / s_in, targets / s_in
    split = targets.shape[1] - pos.shape[1]
    force = torch.zeros_like(gen_s)
    for r in temps:
        logits = -dn / r
        aff = torch.sqrt((torch.softmax(logits, -1) * torch.softmax(logits, -2)).clamp(min=floor))
        aff = aff * w[:, None, :]
        a_neg, a_pos = aff[:, :, :split], aff[:, :, split:]
        coeff = torch.cat([-a_neg * a_pos.sum(-1, keepdim=True), a_pos * a_neg.sum(-1, keepdim=True)], 2)
        f_r = torch.einsum("bit,bts->bis", coeff, targets_s) - coeff.sum(-1).unsqueeze(-1) * gen_s
        force = force + f_r / (f_r**2).mean().clamp(min=1e-8).sqrt()
    return force.double().numpy()


def direct_f32(gen, neg, pos, w_gen, w_neg, w_pos, temps, floor, mask):
    """The same formulation in float32 with direct distances on per-group-centred inputs (f32
    centring by the targets' mean): a guide to what a careful f32 implementation reaches."""
    gen, neg, pos = (torch.tensor(a, dtype=torch.float32) for a in (gen, neg, pos))
    centre = torch.cat([gen, neg, pos], 1).mean(1, keepdim=True)
    gen, neg, pos = gen - centre, neg - centre, pos - centre
    w = torch.cat([torch.tensor(a, dtype=torch.float32) for a in (w_gen, w_neg, w_pos)], 1)
    b, cg, s = gen.shape
    targets = torch.cat([gen, neg, pos], 1)
    dist = torch.sqrt(torch.clamp(((gen[:, :, None, :] - targets[:, None, :, :]) ** 2).sum(-1), min=1e-8))
    scale = (dist * w[:, None, :]).mean() / w.mean()
    s_in = torch.clamp(scale / s**0.5, min=1e-3)
    dn = dist / torch.clamp(scale, min=1e-3)
    dn[:, :, :cg] += torch.eye(cg) * mask
    gen_s, targets_s = gen / s_in, targets / s_in
    split = targets.shape[1] - pos.shape[1]
    force = torch.zeros_like(gen_s)
    for r in temps:
        logits = -dn / r
        aff = torch.sqrt(torch.clamp(torch.softmax(logits, 2) * torch.softmax(logits, 1), min=floor)) * w[:, None, :]
        a_neg, a_pos = aff[:, :, :split], aff[:, :, split:]
        coeff = torch.cat([-a_neg * a_pos.sum(2, keepdim=True), a_pos * a_neg.sum(2, keepdim=True)], 2)
        f_r = torch.einsum("bit,bts->bis", coeff, targets_s) - coeff.sum(2, keepdim=True) * gen_s
        force = force + f_r / torch.sqrt(torch.clamp((f_r**2).mean(), min=1e-8))
    return force.double().numpy()


def rel(a, b):
    return float(np.linalg.norm((a - b).ravel()) / np.linalg.norm(b.ravel()))


# ---------------------------------------------------------------- the cases
# Group profiles (centre, channel_spread, spread) for gen, uncond, pos: groups of unequal content.
PROFILES = {
    "tight": ((0.0, 0.05, 0.05), (-0.02, 0.05, 0.06), (0.02, 0.05, 0.05)),
    "wide": ((0.5, 0.3, 1.5), (0.0, 0.3, 1.8), (0.8, 0.3, 2.0)),
    "far": ((-1.0, 0.1, 0.3), (0.5, 0.1, 0.4), (2.0, 0.1, 0.25)),  # gen far from its positives
    "mid": ((0.1, 0.2, 0.5), (0.0, 0.2, 0.6), (0.3, 0.2, 0.4)),
    "offset": ((5.0, 0.5, 0.8), (4.8, 0.5, 1.0), (5.2, 0.5, 0.7)),
}


def case(name, s, profiles, cg, cu, cp, alpha=None, weights=False, floor=1e-6, mask=100.0,
         temps=OFFICIAL_R, translate=0.0, seeds_of=None):
    return dict(name=name, s=s, profiles=[PROFILES[p] if isinstance(p, str) else p for p in profiles],
                profile_names=[p if isinstance(p, str) else "custom" for p in profiles],
                cg=cg, cu=cu, cp=cp, alpha=alpha, weights=weights, floor=floor, mask=mask, temps=temps,
                translate=translate, seeds_of=seeds_of)


def shifted_profile(spread, offsets=(0.0, -0.01, 0.01), centre=1000.0, channel_spread=None):
    """Features around `centre`; gen / uncond / pos means differ by `offsets`·spread per channel."""
    cs = spread if channel_spread is None else channel_spread
    return tuple((centre + o * spread * 10, cs, spread) for o in offsets)


CASES = [
    case("s3_b3_alpha", 3, ["tight", "wide", "far"], 5, 2, 4, alpha=[1.0, 1.5, 4.0]),
    case("s3_b5_cu0_floor0", 3, ["mid", "far", "tight", "offset", "wide"], 7, 0, 6, floor=0.0),
    case("s64_b4_alpha", 64, ["wide", "tight", "mid", "far"], 9, 3, 11, alpha=[1.0, 1.5, 4.0, 2.5]),
    case("s64_b3_weights", 64, ["far", "mid", "offset"], 7, 2, 6, weights=True),
    case("s64_b2_single_temperature", 64, ["mid", "wide"], 12, 3, 4, temps=(0.1,)),
    case("s257_b3_mask", 257, ["offset", "far", "tight"], 7, 3, 6, alpha=[1.5, 1.0, 4.0], mask=0.5),
    case("s257_b2_floor0", 257, ["far", "wide"], 5, 2, 11, alpha=[4.0, 1.0], floor=0.0),
    case("s768_b3_alpha", 768, ["mid", "far", "tight"], 5, 2, 6, alpha=[1.0, 1.5, 4.0]),
    # Translation: the same clouds around 1e3 (spread 1e-2) and moved back by 1e3 in f32 (exact).
    case("s256_spread1e-2_shifted", 256, [shifted_profile(0.01), shifted_profile(0.01, (0.0, 0.02, -0.03))],
         5, 2, 4, alpha=[1.5, 4.0]),
    case("s256_spread1e-2_unshifted", 256, [shifted_profile(0.01), shifted_profile(0.01, (0.0, 0.02, -0.03))],
         5, 2, 4, alpha=[1.5, 4.0], translate=1000.0, seeds_of="s256_spread1e-2_shifted"),
    # The float32 check's clouds (spread 0.2 around 1e3, no channel offsets: the issue's setting),
    # moved back by 1e3: FLOAT32_CHECKS[0].
    case("s256_b4_spread0.2_unshifted", 256,
         [shifted_profile(0.2, o, channel_spread=0.0) for o in ((0.0, -0.01, 0.01), (0.0, 0.02, 0.03), (0.0, -0.03, 0.05),
                                             (0.0, 0.01, -0.02))],
         16, 4, 16, translate=1000.0),
]


def build(c, k, translate=None):
    """Inputs of case c (index k) and their parameters; translate overrides the case's."""
    tr = c["translate"] if translate is None else translate
    if c["seeds_of"] is not None:  # the same clouds as another case
        k = next(i for i, o in enumerate(CASES) if o["name"] == c["seeds_of"])
    b = len(c["profiles"])
    params = {"gen": [], "uncond": [], "pos": []}
    arrays = {"gen": [], "uncond": [], "pos": []}
    for g, prof in enumerate(c["profiles"]):
        for f, (family, count) in enumerate((("gen", c["cg"]), ("uncond", c["cu"]), ("pos", c["cp"]))):
            seed = 0x5EED_0000 + 1000 * k + 10 * g + f
            p = (seed, *prof[f])
            params[family].append(p)
            arrays[family].append(cloud(p, count, c["s"], tr))
    arrays = {f: np.stack(v) for f, v in arrays.items()}
    if c["weights"]:
        w = {f: np.stack([weights_of(0x3E16_0000 + 1000 * k + 10 * g + i, n)
                          for g in range(b)])
             for i, (f, n) in enumerate((("gen", c["cg"]), ("uncond", c["cu"]), ("pos", c["cp"])))}
    else:
        w = {"gen": np.ones((b, c["cg"])), "pos": np.ones((b, c["cp"]))}
        if c["alpha"] is None:
            w["uncond"] = np.ones((b, c["cu"]))
        else:
            w["uncond"] = np.array([[(a - 1.0) * (c["cg"] - 1) / c["cu"]] * c["cu"] for a in c["alpha"]])
    return params, arrays, w


def run(c, arrays, w, fn=official_f64):
    return fn(arrays["gen"], arrays["uncond"], arrays["pos"], w["gen"], w["uncond"], w["pos"],
              c["temps"], c["floor"], c["mask"])


# ---------------------------------------------------------------- rendering
def lit(v):
    v = float(v)
    assert np.isfinite(v)
    s = repr(v)
    return s if ("." in s or "e" in s or "inf" in s) else s + ".0"


def arr(a):
    return "&[" + ", ".join(lit(v) for v in np.asarray(a).ravel()) + "]"


def packed(name, values, per_line=6):
    vals = [lit(v) for v in np.asarray(values).ravel()]
    rows = ["    " + ", ".join(vals[i:i + per_line]) + "," for i in range(0, len(vals), per_line)]
    return ["#[rustfmt::skip]", f"pub const {name}: &[f64] = &["] + rows + ["];", ""]


def cloud_lit(p):
    seed, centre, cs, spread = p
    return f"Cloud {{ seed: {seed:#x}, centre: {lit(centre)}, channel_spread: {lit(cs)}, spread: {lit(spread)} }}"


def main():
    torch.manual_seed(0)
    records, fields = [], []
    # Generator sanity: the first splitmix64 outputs of seed 0 (the algorithm's published values).
    rng = SplitMix64(0)
    assert [rng.next_u64() for _ in range(2)] == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4]
    by_name = {}
    for k, c in enumerate(CASES):
        params, arrays, w = build(c, k)
        out = run(c, arrays, w)
        err32 = rel(run(c, arrays, w, direct_f32), out["field"])
        by_name[c["name"]] = (k, c, params, arrays, w, out)
        fname = "FIELD_" + c["name"].upper().replace(".", "_").replace("-", "_")
        fields += packed(fname, out["field"])
        records.append((c, params, arrays, w, out, fname, err32))
        print(f"{c['name']:32} B={len(c['profiles'])} Cg={c['cg']} Cu={c['cu']} Cp={c['cp']} S={c['s']}: "
              f"scale {out['scale']:.6g} s_in {out['s_in']:.6g} n_R {[f'{v:.4g}' for v in out['raw']]} "
              f"loss {out['loss']:.6g}; f32 direct (centred) rel. error {err32:.2e}")

    # Translation: the shifted and unshifted float64 fields agree up to rounding.
    a = by_name["s256_spread1e-2_shifted"][5]["field"]
    b = by_name["s256_spread1e-2_unshifted"][5]["field"]
    shift_diff_small = rel(a, b)
    print(f"spread 1e-2, S = 256: float64 shifted vs unshifted field: relative difference {shift_diff_small:.2e}")
    assert shift_diff_small < 1e-9

    checks = []
    for name, shifted_name in (("s256_b4_spread0.2_unshifted", None),
                               ("s256_spread1e-2_unshifted", "s256_spread1e-2_shifted")):
        k, c, params, arrays, w, out = by_name[name]
        _, shifted, _ = build(c, k, translate=0.0)
        f64_shifted = run(c, shifted, w)["field"]
        diff = rel(f64_shifted, out["field"])
        assert diff < 1e-9, diff
        f32_shifted = run(c, shifted, w, official_f32)
        f32_unshifted = run(c, arrays, w, official_f32)
        assert c["temps"] == OFFICIAL_R and c["floor"] == 1e-6 and c["mask"] == 100.0
        e_shift, e_unshift = rel(f32_shifted, out["field"]), rel(f32_unshifted, out["field"])
        e_direct = rel(run(c, shifted, w, direct_f32), out["field"])
        print(f"official float32 (expanded distances), {name} moved by +1e3: relative field error "
              f"{e_shift:.3g} ({100 * e_shift:.0f} %); unshifted {e_unshift:.2e}; float32 direct centred "
              f"on the shifted inputs {e_direct:.2e}; float64 shifted vs unshifted {diff:.2e}")
        checks.append((name, 1000.0, c["profiles"][0][0][2], e_shift, e_unshift, e_direct, diff,
                       float(np.linalg.norm(out["field"]))))

    lines = [
        "// @generated by tests/reference/make_feature_references.py (PyTorch float64) — do not edit.",
        "#![allow(dead_code, clippy::excessive_precision, clippy::unreadable_literal)]",
        "",
        "//! The grouped feature-space drift loss (the official `drift_loss` over `[B, C, S]` with",
        "//! unconditional negatives and CFG weights) in float64; the formulation is in the generating",
        "//! script's docstring. Inputs are regenerated by `feature_inputs.rs` (same generator, same bits).",
        "",
        "/// The generator's parameters for one group of one family (gen, uncond or pos): channel",
        "/// centres `centre + channel_spread·normal` (one per channel, drawn first), then token-major",
        "/// values `centre_s + spread·normal`, rounded to f32, minus the case's `translate` in f32.",
        "pub struct Cloud { pub seed: u64, pub centre: f64, pub channel_spread: f64, pub spread: f64 }",
        "",
        "/// Explicit per-token weights `[B, C]` row-major, exactly f32 values.",
        "pub struct TokenWeights { pub generated: &'static [f64], pub unconditional: &'static [f64], pub positives: &'static [f64] }",
        "",
        "/// One case. Tensors are `[B, C, S]` row-major (token-major, channels contiguous).",
        "pub struct FeatureCase {",
        "    pub name: &'static str,",
        "    /// `B`, `Cg`, `Cu`, `Cp`, `S`.",
        "    pub groups: usize,",
        "    pub generated: usize,",
        "    pub unconditional: usize,",
        "    pub positives: usize,",
        "    pub channels: usize,",
        "    /// `R` list (official `[0.02, 0.05, 0.2]`).",
        "    pub temperatures: &'static [f64],",
        "    /// Affinity floor under the square root (official 1e-6; 0 allowed).",
        "    pub floor: f64,",
        "    /// Added to the normalised distance on the gen–gen diagonal (official 100).",
        "    pub mask_distance: f64,",
        "    /// Per-group guidance `α_b`: uncond column weight `(α_b − 1)(Cg − 1)/Cu` (computed in f64);",
        "    /// `None`: uncond weight 1 (or the explicit `weights`).",
        "    pub alpha: Option<&'static [f64]>,",
        "    /// Explicit per-token weights of all three families (then `alpha` is `None`).",
        "    pub weights: Option<TokenWeights>,",
        "    /// Subtracted (in f32) from every generated value after rounding; 0 for most cases.",
        "    pub translate: f64,",
        "    /// Generator parameters, one per group.",
        "    pub gen_clouds: &'static [Cloud],",
        "    pub uncond_clouds: &'static [Cloud],",
        "    pub pos_clouds: &'static [Cloud],",
        "    /// First and last three generated values of each tensor (exactly f32 values): the Rust",
        "    /// twin must reproduce them bit for bit. Empty when the tensor is empty.",
        "    pub gen_head: &'static [f64],",
        "    pub gen_tail: &'static [f64],",
        "    pub uncond_head: &'static [f64],",
        "    pub uncond_tail: &'static [f64],",
        "    pub pos_head: &'static [f64],",
        "    pub pos_tail: &'static [f64],",
        "    /// `scale` (global weighted mean distance) and `s_in = max(scale/√S, 1e-3)`.",
        "    pub scale: f64,",
        "    pub input_scale: f64,",
        "    /// Raw `n_R = mean(F_R²)` over all groups, rows and channels, one per temperature.",
        "    pub raw_rms2: &'static [f64],",
        "    /// `loss_b = mean over (Cg, S) of F²`, `[B]`, and their mean (the training loss).",
        "    pub group_losses: &'static [f64],",
        "    pub loss: f64,",
        "    /// `F = goal − gen/s_in` (in `s_in` units), `[B, Cg, S]`; d loss/d gen = −2F/(s_in·B·Cg·S).",
        "    pub field: &'static [f64],",
        "    /// ‖F_f32 − F‖/‖F‖ of the same formulation in PyTorch float32 with direct distances on",
        "    /// per-group-centred inputs: what a careful f32 implementation reaches (a tolerance guide).",
        "    pub f32_direct_relative_error: f64,",
        "}",
        "",
        "/// The official float32 formulation (expanded distances `‖x‖² + ‖y‖² − 2⟨x,y⟩`, as the",
        "/// official cdist) on shifted features, against float64.",
        "pub struct Float32Check {",
        "    /// The `FEATURE_CASES` entry (its `translate` is `shift`); the shifted inputs are its clouds",
        "    /// generated with `translate = 0`, i.e. exactly the case's inputs plus `shift` (Sterbenz).",
        "    pub case: &'static str,",
        "    pub shift: f64,",
        "    pub spread: f64,",
        "    /// ‖F_official_f32(shifted) − F_f64‖/‖F_f64‖.",
        "    pub official_f32_shifted_relative_error: f64,",
        "    /// The same on the unshifted inputs.",
        "    pub official_f32_unshifted_relative_error: f64,",
        "    /// The same for float32 direct distances on centred inputs, from the shifted inputs.",
        "    pub direct_f32_shifted_relative_error: f64,",
        "    /// ‖F_f64(shifted) − F_f64(unshifted)‖/‖F_f64(unshifted)‖ (rounding only).",
        "    pub f64_shifted_vs_unshifted: f64,",
        "    /// ‖F_f64‖ (Frobenius).",
        "    pub field_norm: f64,",
        "}",
        "",
        "pub const FLOAT32_CHECKS: &[Float32Check] = &[",
    ]
    for name, shift, spread, e_shift, e_unshift, e_direct, diff, norm in checks:
        lines.append(f"    Float32Check {{ case: \"{name}\", shift: {lit(shift)}, spread: {lit(spread)}, "
                     f"official_f32_shifted_relative_error: {lit(e_shift)}, "
                     f"official_f32_unshifted_relative_error: {lit(e_unshift)}, "
                     f"direct_f32_shifted_relative_error: {lit(e_direct)}, "
                     f"f64_shifted_vs_unshifted: {lit(diff)}, field_norm: {lit(norm)} }},")
    lines += ["];", "", "pub const FEATURE_CASES: &[FeatureCase] = &["]
    for c, params, arrays, w, out, fname, err32 in records:
        def ht(family):
            flat = arrays[family].ravel().astype(np.float64)
            return arr(flat[:3]), arr(flat[-3:] if flat.size else [])
        alpha = "None" if c["alpha"] is None else f"Some({arr(c['alpha'])})"
        weights = "None"
        if c["weights"]:
            weights = (f"Some(TokenWeights {{ generated: {arr(w['gen'].astype(np.float64))}, "
                       f"unconditional: {arr(w['uncond'].astype(np.float64))}, "
                       f"positives: {arr(w['pos'].astype(np.float64))} }})")
        gh, gt = ht("gen")
        uh, ut = ht("uncond")
        ph, pt = ht("pos")
        clouds = {f: "&[" + ", ".join(cloud_lit(p) for p in params[f]) + "]" for f in params}
        lines.append(
            f"    FeatureCase {{ name: \"{c['name']}\", groups: {len(c['profiles'])}, generated: {c['cg']}, "
            f"unconditional: {c['cu']}, positives: {c['cp']}, channels: {c['s']}, temperatures: {arr(c['temps'])}, "
            f"floor: {lit(c['floor'])}, mask_distance: {lit(c['mask'])}, alpha: {alpha}, weights: {weights}, "
            f"translate: {lit(c['translate'])}, gen_clouds: {clouds['gen']}, uncond_clouds: {clouds['uncond']}, "
            f"pos_clouds: {clouds['pos']}, gen_head: {gh}, gen_tail: {gt}, uncond_head: {uh}, "
            f"uncond_tail: {ut}, pos_head: {ph}, pos_tail: {pt}, scale: {lit(out['scale'])}, "
            f"input_scale: {lit(out['s_in'])}, raw_rms2: {arr(out['raw'])}, "
            f"group_losses: {arr(out['group_losses'])}, loss: {lit(out['loss'])}, field: {fname}, "
            f"f32_direct_relative_error: {lit(err32)} }},")
    lines += ["];", "", "// The fields, `[B, Cg, S]` row-major, packed (rustfmt skips them to keep the file small).", ""]
    lines += fields
    OUT.write_text("\n".join(lines) + "\n")
    subprocess.run(["rustfmt", "--edition", "2024", str(OUT)], check=True)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes): {len(records)} cases, {len(checks)} float32 checks")


if __name__ == "__main__":
    main()
