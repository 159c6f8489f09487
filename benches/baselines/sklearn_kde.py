"""scikit-learn's tree kernel density (the issue-17 baseline for certified pruned kernel sums).

Times `KernelDensity(kernel="exponential", bandwidth=τ, rtol=ε, algorithm="kd_tree")`
`.score_samples` — the log of `Σ_j exp(−‖x_i − y_j‖/τ)` for every query, the Laplace normaliser of
one mean of the crate's `pruned_mean_shift_drift` (which computes two such sums per query, with
the weighted displacements) — on the same uniform 2D clouds as `examples/pruning.rs` (uniform on
[−4, 4]², sizes from the command line), single-threaded (scikit-learn's trees are).

    python3 benches/baselines/sklearn_kde.py --sizes 65536,262144 --tolerance 1e-6
"""
import argparse
import json
import time

import numpy as np
from sklearn.neighbors import KernelDensity


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", default="65536")
    p.add_argument("--temperature", type=float, default=0.05)
    p.add_argument("--tolerance", type=float, default=1e-6)
    p.add_argument("--repeats", type=int, default=1)
    a = p.parse_args()
    rng = np.random.default_rng(1)
    for n in [int(s) for s in a.sizes.split(",")]:
        queries = rng.uniform(-4, 4, size=(n, 2))
        positives = rng.uniform(-4, 4, size=(n, 2))
        times = []
        for _ in range(a.repeats):
            start = time.perf_counter()
            kde = KernelDensity(kernel="exponential", bandwidth=a.temperature, rtol=a.tolerance,
                                algorithm="kd_tree").fit(positives)
            kde.score_samples(queries)
            times.append(time.perf_counter() - start)
        print(json.dumps({"impl": "sklearn_kde", "n": n, "temperature": a.temperature,
                          "rtol": a.tolerance, "median_s": sorted(times)[len(times) // 2]}))


if __name__ == "__main__":
    main()
