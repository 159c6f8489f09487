#!/usr/bin/env python3
"""PyTorch baseline for benches/mlp.rs: the drifting generator
Linear(I,H)-SiLU-Linear(H,H)-SiLU-Linear(H,H)-SiLU-Linear(H,O), float32, on the CPU.

    python3 benches/baselines/torch_mlp.py [--threads 1] [--quick]

One JSON line per (op, shape, batch):
{"impl": "torch", "op": "mlp_fwd" | "mlp_fwd_bwd" | "mlp_fwd_bwd_adam", "shape": "I-H-O", "n": batch,
 "median_s": ..., "gflops": ...}

Flop counts as in benches/mlp.rs: 2*in*out per sample per product; forward 1 product per layer,
backward 2 (minus the input gradient of the first layer, which PyTorch skips too because the
noise does not require a gradient). The Adam variant adds torch.optim.Adam(lr=1e-3).step() and
zero_grad(set_to_none=True), with the same flop count (Adam's O(parameters) is not counted).
The input is feature-major in our crate; here it is PyTorch's natural (batch, I) layout.
"""
import argparse
import json
import os
import statistics
import time

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=1)
p.add_argument("--quick", action="store_true")
ARGS = p.parse_args()
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)

import torch  # noqa: E402

torch.set_num_threads(ARGS.threads)
torch.manual_seed(0)

SHAPES = [((32, 256, 2), 2048), ((2, 32, 2), 256)]


def generator(i, h, o):
    return torch.nn.Sequential(
        torch.nn.Linear(i, h), torch.nn.SiLU(),
        torch.nn.Linear(h, h), torch.nn.SiLU(),
        torch.nn.Linear(h, h), torch.nn.SiLU(),
        torch.nn.Linear(h, o),
    )


def median_time(f, repeats, warmup):
    for _ in range(warmup):
        f()
    samples = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


for (i, h, o), n in SHAPES:
    net = generator(i, h, o)
    z = torch.randn(n, i)
    g = torch.randn(n, o)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    mac = i * h + 2 * h * h + h * o
    fwd_flops = 2 * mac * n
    bwd_flops = (4 * mac - 2 * i * h) * n

    def fwd():
        with torch.no_grad():
            net(z)

    def fwd_bwd():
        net.zero_grad(set_to_none=True)
        x = net(z)
        x.backward(g)

    def fwd_bwd_adam():
        opt.zero_grad(set_to_none=True)
        x = net(z)
        x.backward(g)
        opt.step()

    repeats = 20 if ARGS.quick else 100
    for op, f, flops in [
        ("mlp_fwd", fwd, fwd_flops),
        ("mlp_fwd_bwd", fwd_bwd, fwd_flops + bwd_flops),
        ("mlp_fwd_bwd_adam", fwd_bwd_adam, fwd_flops + bwd_flops),
    ]:
        s = median_time(f, repeats, 10)
        print(json.dumps({
            "impl": "torch", "op": op, "shape": f"{i}-{h}-{o}", "n": n,
            "threads": ARGS.threads, "median_s": s, "gflops": round(flops / s / 1e9, 1),
        }), flush=True)
