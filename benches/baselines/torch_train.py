#!/usr/bin/env python3
"""PyTorch run of the official 2D drifting demo, for two comparisons with `examples/train.rs`:

* quality: trains the identical configuration (MLP 32-256-256-256-2 with SiLU, PyTorch default
  init, Adam lr 1e-3, 2048 generated and 2048 data samples a step, the demo's two-axis Laplace
  drift at tau = 0.05 with the +1e6 self-mask, 2000 steps) and writes 5000 generated samples as
  little-endian float32, coordinate-major (x then y), so that `examples/score_samples.rs` scores
  them with the crate's metric code (the same code that scores our generator):

      python3 benches/baselines/torch_train.py --dataset checkerboard --seed 0 --out /tmp/torch_checker.f32
      cargo run --release --example score_samples -- --dataset checkerboard /tmp/torch_checker.f32

  `benches/baselines/torch_seeds.sh` runs seeds 0-2 of both datasets on both sides (README table).

* speed: `--time-steps K` times K training steps (after 3 warm-up steps) single-threaded and
  prints one JSON line {"impl": "torch", "op": "train_step", "median_s": ...}.

Datasets follow src/datasets.rs (the official Colab samplers; the swiss roll divides by the limit
9*pi/2 of the batch maximum).
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

p = argparse.ArgumentParser()
p.add_argument("--dataset", default="checkerboard")
p.add_argument("--steps", type=int, default=2000)
p.add_argument("--batch", type=int, default=2048)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--threads", type=int, default=1)
p.add_argument("--out", default=None)
p.add_argument("--time-steps", type=int, default=0)
p.add_argument("--hidden", type=int, default=256)
p.add_argument("--noise-dim", type=int, default=32)
ARGS = p.parse_args()
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)

import torch  # noqa: E402
from torch import nn  # noqa: E402

torch.set_num_threads(ARGS.threads)
torch.manual_seed(ARGS.seed)


def sample(name, n):
    if name == "checkerboard":
        b = torch.randint(0, 2, (n,)).float()
        i = 2 * torch.randint(0, 2, (n,)).float() + b
        j = 2 * torch.randint(0, 2, (n,)).float() + b
        u, v = torch.rand(n), torch.rand(n)
        x = torch.stack([(i + u - 2) / 2, (j + v - 2) / 2], 1)
        return x + 0.05 * torch.randn(n, 2)
    if name == "swiss_roll":
        t = 0.5 * math.pi + 4 * math.pi * torch.rand(n)
        x = torch.stack([t * torch.cos(t), t * torch.sin(t)], 1) / (4.5 * math.pi)
        return x + 0.03 * torch.randn(n, 2)
    raise SystemExit(f"dataset {name} not ported")


def compute_drift(gen, pos, temp=0.05):
    """The official 2D demo's drift (two-axis softmax, Algorithm 2)."""
    g = gen.shape[0]
    targets = torch.cat([gen, pos])
    dist = torch.cdist(gen, targets)
    dist[:, :g].fill_diagonal_(1e6)
    k = (-dist / temp).exp()
    normalizer = (k.sum(dim=-1, keepdim=True) * k.sum(dim=-2, keepdim=True)).clamp_min(1e-12).sqrt()
    a = k / normalizer
    pos_coeff = a[:, g:] * a[:, :g].sum(dim=-1, keepdim=True)
    neg_coeff = a[:, :g] * a[:, g:].sum(dim=-1, keepdim=True)
    return pos_coeff @ targets[g:] - neg_coeff @ targets[:g]


h = ARGS.hidden
model = nn.Sequential(nn.Linear(ARGS.noise_dim, h), nn.SiLU(), nn.Linear(h, h), nn.SiLU(),
                      nn.Linear(h, h), nn.SiLU(), nn.Linear(h, 2))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)


def step():
    z = torch.randn(ARGS.batch, ARGS.noise_dim)
    x = model(z)
    y = sample(ARGS.dataset, ARGS.batch)
    with torch.no_grad():
        v = compute_drift(x, y)
    loss = ((x - (x + v).detach()) ** 2).mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return float(loss)


if ARGS.time_steps:
    for _ in range(3):
        step()
    times = []
    for _ in range(ARGS.time_steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    print(json.dumps({"impl": "torch", "op": "train_step", "n": ARGS.batch, "d": 2, "hidden": h,
                      "threads": ARGS.threads, "median_s": statistics.median(times),
                      "repeats": len(times), "torch": torch.__version__}))
    sys.exit(0)

losses = []
start = time.perf_counter()
for s in range(ARGS.steps):
    losses.append(step())
    if s % 200 == 0:
        print(f"step {s} loss {losses[-1]:.3e}", file=sys.stderr, flush=True)
elapsed = time.perf_counter() - start
with torch.no_grad():
    gen = model(torch.randn(5000, ARGS.noise_dim))
peak = max(range(len(losses)), key=lambda k: losses[k])
print(json.dumps({"impl": "torch", "dataset": ARGS.dataset, "seed": ARGS.seed, "steps": ARGS.steps,
                  "final_loss": losses[-1], "peak_loss": losses[peak], "peak_step": peak,
                  "seconds": elapsed}))
if ARGS.out:
    gen.t().contiguous().numpy().astype("<f4").tofile(ARGS.out)
