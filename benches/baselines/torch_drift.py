#!/usr/bin/env python3
"""PyTorch baselines for the side-by-side runner (benches/baselines/compare.py): the drifts as
people write them in PyTorch today, dense, float32, on the CPU.

    python3 benches/baselines/torch_drift.py --threads 1 --ops mean_shift,two_axis,multi_temperature \
        --kernels laplace,gaussian --sizes 4096 --dims 2 [--temperature 0.05] [--cloud-std 0.5|auto] [--quick]

One JSON line per (op, kernel, n, d): {"impl": "torch", "op": ..., "median_s": ...}. The inputs
are the same distributions as benches/side_by_side.rs (two independent N(0, 0.5^2 I) clouds); the kernels are Laplace tau = 0.05 and Gaussian sigma = 0.05 (as ours).
`--temperature T` changes tau (and sigma), `--cloud-std X` the clouds' standard deviation (`auto`:
1/sqrt(D), i.e. N(0, I/D) clouds, as the flat high-dimensional rows of compare.py use); both
options, when given, are echoed in the JSON as "temperature" and "cloud_std":

* mean_shift: softmax-normalised kernel means of positives and negatives (= queries, self-pair
  excluded with -inf), V = mu_p - mu_q: two cdist, two softmax, two matmuls;
* two_axis: the official 2D demo's compute_drift (targets [gen ; pos], distance +1e6 on the
  self-pairs, K / sqrt(rowsum * colsum), coefficient matmuls);
* multi_temperature: a port of the official JAX drift_loss (R = 0.02, 0.05, 0.2, floor 1e-6,
  self-mask +100, per-temperature RMS normalisation), as in tests/reference/make_torch_references.py.
"""
import argparse
import json
import os
import statistics
import time


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--ops", default="mean_shift,two_axis,multi_temperature")
    p.add_argument("--kernels", default="laplace,gaussian")
    p.add_argument("--sizes", default="4096")
    p.add_argument("--dims", default="2")
    p.add_argument("--temperature", type=float, default=None, help="tau (sigma); default 0.05")
    p.add_argument("--cloud-std", default=None, help="clouds' std: a number, or auto = 1/sqrt(D); default 0.5")
    p.add_argument("--quick", action="store_true")
    return p.parse_args()


ARGS = parse()
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)

import torch  # noqa: E402  (after the thread variables)

torch.set_num_threads(ARGS.threads)
TEMPERATURE = 0.05 if ARGS.temperature is None else ARGS.temperature


def cloud_std(d):
    if ARGS.cloud_std is None:
        return 0.5
    return d**-0.5 if ARGS.cloud_std == "auto" else float(ARGS.cloud_std)


def logits(dist, kernel):
    if kernel == "laplace":
        return -dist / TEMPERATURE
    return -(dist * dist) / (2 * TEMPERATURE * TEMPERATURE)


def mean_shift(x, pos, kernel):
    n = x.shape[0]
    lp = logits(torch.cdist(x, pos), kernel)
    lq = logits(torch.cdist(x, x), kernel)
    lq.fill_diagonal_(float("-inf"))
    return torch.softmax(lp, 1) @ pos - torch.softmax(lq, 1) @ x if n else None


def two_axis(gen, pos, kernel):
    g = gen.shape[0]
    targets = torch.cat([gen, pos])
    dist = torch.cdist(gen, targets)
    dist[:, :g].fill_diagonal_(1e6)
    k = torch.exp(logits(dist, kernel))
    normalizer = (k.sum(dim=-1, keepdim=True) * k.sum(dim=-2, keepdim=True)).clamp_min(1e-12).sqrt()
    a = k / normalizer
    pos_coeff = a[:, g:] * a[:, :g].sum(dim=-1, keepdim=True)
    neg_coeff = a[:, :g] * a[:, g:].sum(dim=-1, keepdim=True)
    return pos_coeff @ targets[g:] - neg_coeff @ targets[:g]


def multi_temperature(gen, pos, kernel, temps=(0.02, 0.05, 0.2), floor=1e-6):
    n, d = gen.shape
    targets = torch.cat([gen, pos])
    dist = torch.cdist(gen, targets).clamp_min(1e-4)
    scale = dist.mean()
    s_in = torch.clamp(scale / d**0.5, min=1e-3)
    dn = dist / torch.clamp(scale, min=1e-3)
    dn[:, :n] += torch.eye(n) * 100.0
    gen_s, targets_s = gen / s_in, targets / s_in
    force = torch.zeros_like(gen_s)
    for r in temps:
        lg = -dn / r
        aff = torch.sqrt(torch.clamp(torch.softmax(lg, 1) * torch.softmax(lg, 0), min=floor))
        a_neg, a_pos = aff[:, :n], aff[:, n:]
        coeff = torch.cat([-a_neg * a_pos.sum(1, keepdim=True), a_pos * a_neg.sum(1, keepdim=True)], 1)
        f_r = coeff @ targets_s - coeff.sum(1, keepdim=True) * gen_s
        force = force + f_r / torch.sqrt(torch.clamp((f_r**2).mean(), min=1e-8))
    return force


OPS = {"mean_shift": mean_shift, "two_axis": two_axis, "multi_temperature": multi_temperature}


def median_seconds(fn, quick):
    fn()  # warm-up
    times, budget, start = [], (1.0 if quick else 4.0), time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < budget and len(times) < 50):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), len(times)


def main():
    gen_ = torch.Generator().manual_seed(7)
    for op in ARGS.ops.split(","):
        for kernel in ARGS.kernels.split(","):
            if op == "multi_temperature" and kernel != "laplace":
                continue  # the official drift_loss is Laplace-only
            for n in map(int, ARGS.sizes.split(",")):
                for d in map(int, ARGS.dims.split(",")):
                    x = torch.randn(n, d, generator=gen_) * cloud_std(d)
                    pos = torch.randn(n, d, generator=gen_) * cloud_std(d)
                    with torch.no_grad():
                        median, reps = median_seconds(lambda: OPS[op](x, pos, kernel), ARGS.quick)
                    row = {"impl": "torch", "op": op, "kernel": kernel, "n": n, "d": d,
                           "threads": ARGS.threads, "median_s": median, "repeats": reps,
                           "torch": torch.__version__}
                    if ARGS.temperature is not None:
                        row["temperature"] = ARGS.temperature
                    if ARGS.cloud_std is not None:
                        row["cloud_std"] = ARGS.cloud_std
                    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
