#!/usr/bin/env python3
"""Sinkhorn baselines for the side-by-side runner (benches/baselines/compare.py): 100 log-domain
Sinkhorn iterations at fixed ε = 0.05 (GeomLoss convention: cost ½‖x−y‖², blur = √0.05), float32,
one thread (`--threads T`: T threads for NumPy's BLAS and torch), on two independent N(0, 0.5² I) clouds in 2D with uniform weights, as
benches/side_by_side.rs times ours (ops sinkhorn_alternating, sinkhorn_symmetric).

    /tmp/venv/bin/python benches/baselines/sinkhorn_baselines.py --sizes 1024,4096 [--quick]

* pot_sinkhorn_log: POT `ot.sinkhorn(a, b, C, reg=0.05, method="sinkhorn_log", numItermax=100,
  stopThr=0)` on NumPy float32 (alternating updates; stopThr = 0 is never reached, so all 100
  iterations run, plus POT's own marginal check every 10). The cost matrix C = ½ ot.dist(x, y)
  is computed inside the timed region, since ours computes costs on the fly.
* geomloss_tensorized: GeomLoss's `sinkhorn_loop` with `softmin_tensorized` and
  `eps_list = [0.05] * 100` (symmetric updates, then its final extrapolation), debias=False,
  on the dense float32 cost `C = ½‖x−y‖²` built as `sinkhorn_tensorized` builds it (inside the
  timed region too), and the value ⟨a, f⟩ + ⟨b, g⟩. `SamplesLoss` itself cannot run a fixed
  number of iterations at a fixed ε (its ε-scaling starts at the diameter).

One JSON line per (impl, n): {"impl", "op": "sinkhorn_100", "kernel": "laplace" (a dummy key
compare.py matches on), "n", "d", "median_s", "samples", "peak_rss_mb"}. Each (impl, n) runs in a
fresh subprocess (`--one IMPL N`), so that `peak_rss_mb` (ru_maxrss) is that run's alone; it
includes the interpreter and the imported libraries, reported as `baseline_rss_mb` (the
process's peak after the imports and the inputs, before the first solve).
"""
import argparse
import json
import os
import subprocess
import sys

# Threads: `--threads T` (default 1), read before NumPy or torch is imported.
THREADS = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 1
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = str(THREADS)

import resource  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

EPSILON = 0.05
ITERATIONS = 100
IMPLS = ("pot_sinkhorn_log", "geomloss_tensorized")


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def median_seconds(run, quick):
    """Median wall time over repeats (at least 3/5, or 0.3 s/1 s, at most 20/50), after one
    warm-up run, as benches/side_by_side.rs does."""
    run()
    budget, (lo, hi) = (0.3, (3, 20)) if quick else (1.0, (5, 50))
    times, started = [], time.perf_counter()
    while len(times) < lo or (time.perf_counter() - started < budget and len(times) < hi):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    return statistics.median(times), len(times)


def one(impl, n, quick):
    import numpy as np

    rng = np.random.default_rng(7)
    x = (0.5 * rng.standard_normal((n, 2))).astype(np.float32)
    y = (0.5 * rng.standard_normal((n, 2))).astype(np.float32)
    a = np.full(n, 1.0 / n, dtype=np.float32)
    b = np.full(n, 1.0 / n, dtype=np.float32)

    if impl == "pot_sinkhorn_log":
        import ot

        def run():
            # The cost is part of the timed work: ours computes it on the fly.
            C = 0.5 * ot.dist(x, y)
            plan, log = ot.sinkhorn(a, b, C, EPSILON, method="sinkhorn_log", numItermax=ITERATIONS,
                                    stopThr=0.0, log=True, warn=False)
            assert log["niter"] == ITERATIONS - 1 and plan.dtype == np.float32
            return plan
    elif impl == "geomloss_tensorized":
        import torch

        torch.set_num_threads(THREADS)
        from geomloss._legacy.sinkhorn_divergence import log_weights, sinkhorn_cost, sinkhorn_loop
        from geomloss._legacy.sinkhorn_samples import cost_routines, softmin_tensorized

        xt, yt = torch.from_numpy(x)[None], torch.from_numpy(y)[None]  # (1, N, 2): batch of one
        at, bt = torch.from_numpy(a)[None], torch.from_numpy(b)[None]
        eps_list = [EPSILON] * ITERATIONS

        def run():
            with torch.no_grad():
                # As sinkhorn_tensorized builds them: dense float32 ½‖x−y‖², both orientations.
                C_xy = cost_routines[2](xt, yt)
                C_yx = cost_routines[2](yt, xt)
                _, _, g_ab, f_ba = sinkhorn_loop(softmin_tensorized, log_weights(at), log_weights(bt),
                                                 None, None, C_xy, C_yx, eps_list, None, debias=False)
                value = sinkhorn_cost(EPSILON, None, at, bt, None, None, g_ab, f_ba, batch=True,
                                      debias=False)
            assert value.dtype == torch.float32 and torch.isfinite(value).all()
            return value
    else:
        raise SystemExit(f"unknown impl {impl}")

    baseline = peak_rss_mb()  # interpreter, libraries and the two clouds, before any solve
    median, samples = median_seconds(run, quick)
    return {"impl": impl, "op": "sinkhorn_100", "kernel": "laplace", "n": n, "d": 2,
            "median_s": median, "samples": samples, "peak_rss_mb": round(peak_rss_mb(), 1),
            "baseline_rss_mb": round(baseline, 1), "threads": THREADS}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="1024,4096")
    p.add_argument("--impls", default=",".join(IMPLS))
    p.add_argument("--quick", action="store_true")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--one", nargs=2, metavar=("IMPL", "N"), help="time one (impl, n) in this process")
    args = p.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], int(args.one[1]), args.quick)), flush=True)
        return
    for n in (int(s) for s in args.sizes.split(",") if s):
        for impl in args.impls.split(","):
            cmd = [sys.executable, os.path.abspath(__file__), "--one", impl, str(n)]
            cmd += ["--quick"] if args.quick else []
            cmd += ["--threads", str(args.threads)]
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode != 0:
                sys.stderr.write(res.stderr[-4000:])
                raise SystemExit(f"{impl} n={n} failed")
            line = [ln for ln in res.stdout.splitlines() if ln.startswith("{")][-1]
            print(line, flush=True)


if __name__ == "__main__":
    main()
