#!/usr/bin/env python3
"""PyTorch baseline of the feature-space drift loss for the side-by-side runner
(benches/baselines/compare.py): the official grouped `drift_loss` formulation (lambertae/drifting,
`torch/drift_loss.py`) as the official code computes it, float32, on the CPU, under
`torch.no_grad()`.

    python3 benches/baselines/torch_feature.py --threads 1 --channels 64,256,768 [--quick]

Shape: B = 64 groups × (Cg = 64 generated, Cu = 16 unconditional negatives, Cp = 64 positives),
S channels, R = (0.02, 0.05, 0.2). Features N(0, 1/S) (fixed seed). Classifier-free guidance: a
per-group α drawn uniformly in [1.5, 4] gives the unconditional columns the weight
(α − 1)(Cg − 1)/Cu; generated and positive weights 1. One call computes, as the official code:
distances ‖x‖² + ‖y‖² − 2⟨x, y⟩ (einsum) clamped at 1e-8 and square-rooted, the global weighted
mean distance `scale`, `s_in = max(scale/√S, 1e-3)`, the self-mask +100, per temperature both
softmaxes, `sqrt(max(product, 1e-6))` times the column weights, the coefficient block, the force
(einsum with the targets) and its global RMS normalisation; then the goal and the per-group loss.

One JSON line per S: {"impl": "torch", "op": "feature_drift_loss", "b": 64, "cg": 64, "cu": 16,
"cp": 64, "s": S, "threads": T, "median_s": ..., "repeats": ..., "torch": version}.
"""
import argparse
import json
import os
import statistics
import time


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--channels", default="64,256,768")
    p.add_argument("--groups", type=int, default=64)
    p.add_argument("--gen", type=int, default=64)
    p.add_argument("--uncond", type=int, default=16)
    p.add_argument("--pos", type=int, default=64)
    p.add_argument("--quick", action="store_true")
    return p.parse_args()


ARGS = parse()
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)

import torch  # noqa: E402  (after the thread variables)
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(ARGS.threads)
R_LIST = (0.02, 0.05, 0.2)


def cdist(x, y, eps=1e-8):
    """The official batched distance: expanded form through einsum, clamped, square root."""
    xy = torch.einsum("bnd,bmd->bnm", x, y)
    xx = torch.einsum("bnd,bnd->bn", x, x)
    yy = torch.einsum("bmd,bmd->bm", y, y)
    return torch.sqrt((xx[:, :, None] + yy[:, None, :] - 2 * xy).clamp(min=eps))


def drift_loss(gen, pos, neg, w_gen, w_pos, w_neg, r_list=R_LIST):
    """The official formulation: per-group loss [B] (the goal is computed without gradient)."""
    b, cg, s = gen.shape
    cn = neg.shape[1]
    targets = torch.cat([gen, neg, pos], dim=1)
    w = torch.cat([w_gen, w_neg, w_pos], dim=1)
    dist = cdist(gen, targets)
    scale = (dist * w[:, None, :]).mean() / w.mean()
    s_in = (scale / s**0.5).clamp(min=1e-3)
    gen_s, targets_s = gen / s_in, targets / s_in
    dist_normed = dist / scale.clamp(min=1e-3)
    mask = F.pad(torch.eye(cg, dtype=gen.dtype), (0, targets.shape[1] - cg, 0, 0)).unsqueeze(0)
    dist_normed = dist_normed + mask * 100.0
    force = torch.zeros_like(gen_s)
    split = cg + cn
    for r in r_list:
        logits = -dist_normed / r
        aff = torch.sqrt((F.softmax(logits, dim=-1) * F.softmax(logits, dim=-2)).clamp(min=1e-6))
        aff = aff * w[:, None, :]
        a_neg, a_pos = aff[:, :, :split], aff[:, :, split:]
        coeff = torch.cat([-a_neg * a_pos.sum(dim=-1, keepdim=True),
                           a_pos * a_neg.sum(dim=-1, keepdim=True)], dim=2)
        f_r = torch.einsum("bit,bts->bis", coeff, targets_s) - coeff.sum(dim=-1).unsqueeze(-1) * gen_s
        force = force + f_r / (f_r**2).mean().clamp(min=1e-8).sqrt()
    goal = gen_s + force
    return ((gen / s_in - goal) ** 2).mean(dim=(-1, -2))


def median_seconds(fn, quick):
    fn()  # warm-up
    times, budget, start = [], (1.0 if quick else 4.0), time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < budget and len(times) < 50):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), len(times)


def main():
    g = torch.Generator().manual_seed(7)
    b, cg, cu, cp = ARGS.groups, ARGS.gen, ARGS.uncond, ARGS.pos
    for s in map(int, ARGS.channels.split(",")):
        std = s**-0.5
        gen = torch.randn(b, cg, s, generator=g) * std
        pos = torch.randn(b, cp, s, generator=g) * std
        neg = torch.randn(b, cu, s, generator=g) * std
        alpha = 1.5 + 2.5 * torch.rand(b, generator=g)
        w_neg = ((alpha - 1) * (cg - 1) / cu)[:, None].expand(b, cu).contiguous()
        w_gen, w_pos = torch.ones(b, cg), torch.ones(b, cp)
        with torch.no_grad():
            loss = drift_loss(gen, pos, neg, w_gen, w_pos, w_neg)
            assert torch.isfinite(loss).all()
            median, reps = median_seconds(lambda: drift_loss(gen, pos, neg, w_gen, w_pos, w_neg), ARGS.quick)
        print(json.dumps({"impl": "torch", "op": "feature_drift_loss", "b": b, "cg": cg, "cu": cu, "cp": cp,
                          "s": s, "threads": ARGS.threads, "median_s": median, "repeats": reps,
                          "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
