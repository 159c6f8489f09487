"""The fewest pairs any certified skipping scheme must sum exactly (issue 17's speed ceiling).

A pruned operator that sums some pairs exactly and skips the rest, with the certificate
"skipped mass <= eps * (summed mass)" per lane and family (src/drift/pruning.rs), can skip at
most the *oracle* set of a lane: its smallest weights, taken from the smallest up while their sum
stays within eps times the lane's total. Every certified scheme (whatever its tiles, boxes or
bounds) evaluates at least the complement, so `pairs / oracle pairs` bounds its speed-up over
the dense drift at the dense drift's per-pair rate (bookkeeping ignored). This script computes
that oracle share for the two-axis drift (Algorithm 2, negatives = the queries, Laplace kernel,
tau = 0.05) on the clouds of examples/pruning.rs, pass by pass, exactly as
src/drift/pruned_two_axis.rs splits its budgets:

- rows: per query, the positives and the other queries, one budget each (2 N^2 pairs);
- columns: per positive, the queries (N^2; the queries' columns are their rows);
- affinities: per query, `l_ij - c_j/2` over the positives and over the other queries, one
  budget each (2 N^2).

The clouds are fresh samples of the same distributions (not the example's exact bits: the
oracle share is a property of the distribution, nearly independent of N, which `--size` lets one
check). Lanes are sampled (`--lanes`), the normalisers are exact over all points.

    python3 benches/baselines/oracle_share.py --size 32768 --cloud checkerboard

Needs numpy and torch (CPU).
"""

import argparse
import math

import numpy as np
import torch

TAU = 0.05
TOLERANCES = (1e-2, 1e-3, 1e-4, 1e-6)


def cloud(kind, n, rng):
    if kind == "uniform":
        return rng.uniform(-4.0, 4.0, size=(n, 2))
    if kind == "checkerboard":
        # The official demo's checkerboard (src/datasets.rs), scaled by 4: cells of side 2.
        b = rng.integers(0, 2, size=n)
        i = 2 * rng.integers(0, 2, size=n) + b
        j = 2 * rng.integers(0, 2, size=n) + b
        u, v = rng.uniform(size=n), rng.uniform(size=n)
        e = rng.standard_normal(size=(n, 2))
        return 4.0 * np.stack([(i + u - 2) / 2 + 0.05 * e[:, 0], (j + v - 2) / 2 + 0.05 * e[:, 1]], 1)
    if kind == "torus":
        a, b = rng.uniform(0, 2 * math.pi, size=n), rng.uniform(0, 2 * math.pi, size=n)
        ring = 3.0 + np.cos(b)
        e = 0.05 * rng.standard_normal(size=(n, 3))
        return np.stack([ring * np.cos(a), ring * np.sin(a), np.sin(b)], 1) + e
    raise SystemExit(f"unknown cloud {kind}")


def logits(x, y, self_mask):
    """Laplace logits -|x - y|/tau of a block of lanes against all targets (float64)."""
    l = -torch.cdist(x, y) / TAU
    if self_mask is not None:
        l[torch.arange(len(x)), self_mask] = -math.inf
    return l


def row_lse(x, y, bias=None, masked=False, chunk=1024):
    """ln sum_j exp(l_ij + bias_j) for every lane (exact, float64)."""
    out = torch.empty(len(x), dtype=torch.float64)
    for s in range(0, len(x), chunk):
        l = logits(x[s : s + chunk], y, torch.arange(s, min(s + chunk, len(x))) if masked else None)
        if bias is not None:
            l = l + bias
        out[s : s + chunk] = torch.logsumexp(l, 1)
    return out


def oracle_counts(l):
    """Per lane and tolerance: the fewest terms to sum so that the rest is within eps of the
    total (the smallest weights skipped first)."""
    w = torch.exp(l - l.max(1, keepdim=True).values)
    w, _ = torch.sort(w, 1)
    cs = torch.cumsum(w, 1)
    total = cs[:, -1:]
    finite = torch.isfinite(l).sum(1)
    return {eps: (finite - (cs <= eps * total).sum(1)).double() for eps in TOLERANCES}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=32768)
    parser.add_argument("--cloud", default="checkerboard")
    parser.add_argument("--lanes", type=int, default=2048)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    n = args.size
    q = torch.from_numpy(cloud(args.cloud, n, rng))
    p = torch.from_numpy(cloud(args.cloud, n, rng))
    # Column normalisers: of the positives over the queries; of the queries (negatives) over the
    # other queries (their masked rows).
    c_pos = row_lse(p, q)
    c_neg = row_lse(q, q, masked=True)
    lanes = torch.from_numpy(rng.choice(n, size=min(args.lanes, n), replace=False))
    x = q[lanes]
    # Each family's logits, built when its counts are taken (one lanes x N matrix at a time).
    passes = {
        "rows": [lambda: logits(x, p, None), lambda: logits(x, q, lanes)],
        "columns": [lambda: logits(p[lanes], q, None)],
        "affinities": [
            lambda: logits(x, p, None) - c_pos / 2,
            lambda: logits(x, q, lanes) - c_neg / 2,
        ],
    }
    print(f"{args.cloud}, N = P = {n}, Laplace tau = {TAU}, {len(lanes)} sampled lanes")
    total_pairs = 5.0 * n * n
    evaluated = {eps: 0.0 for eps in TOLERANCES}
    for name, families in passes.items():
        counts = [oracle_counts(family()) for family in families]
        shares = []
        for eps in TOLERANCES:
            summed = sum(c[eps].mean().item() for c in counts)
            pairs = n * len(families) * n
            evaluated[eps] += summed * n
            shares.append(f"{eps:g}: {100 * summed * n / pairs:.2f} %")
        print(f"  {name:<10} oracle share " + ", ".join(shares))
    print(
        "  all passes: "
        + ", ".join(
            f"{eps:g}: {100 * evaluated[eps] / total_pairs:.2f} % (speed-up ceiling "
            f"{total_pairs / evaluated[eps]:.0f}x)"
            for eps in TOLERANCES
        )
    )


if __name__ == "__main__":
    main()
