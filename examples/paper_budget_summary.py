#!/usr/bin/env python3
"""Summarises the paper-budget runs (examples/paper_budget.sh) as the markdown rows of
examples/README.md: per run directory RUNS_DIR/FIELD-DATASET-SEED, the steps done, the final SWD
and MMD², the median and range of the last ten SWD evaluations (the evaluation scatters by up to
2x between evaluations at this level), and the training wall time; then, per field and dataset,
the median over the finished seeds of those medians (finished: 50 000 steps, the Sinkhorn drift
SINKHORN_STEPS, default 10 000, as in paper_budget.sh).

    python3 examples/paper_budget_summary.py /work/runs

Standard library only; reads log.csv (step,swd,mmd2,seconds) and nothing else.
"""
import csv
import os
import statistics
import sys
from collections import defaultdict

STEPS = 50_000
# The Sinkhorn drift's target (examples/paper_budget.sh: SINKHORN_STEPS, default 10 000).
SINKHORN_STEPS = int(os.environ.get("SINKHORN_STEPS", "10000"))


def main(runs):
    rows, groups = [], defaultdict(list)
    for name in sorted(os.listdir(runs)):
        log = os.path.join(runs, name, "log.csv")
        if not os.path.isfile(log):
            continue
        with open(log, newline="") as f:
            evals = [(int(r["step"]), float(r["swd"]), float(r["mmd2"]), float(r["seconds"]))
                     for r in csv.DictReader(f)]
        if not evals:
            continue
        field, dataset, seed = name.split("-")[0], "-".join(name.split("-")[1:-1]), name.split("-")[-1]
        step, swd, mmd2, seconds = evals[-1]
        last = [e[1] for e in evals[-10:]]
        median = statistics.median(last)
        done = step >= (SINKHORN_STEPS if field == "sinkhorn" else STEPS)
        rows.append(f"| {field} | {dataset} | {seed} | {step} | {swd:.3g} | {mmd2:.2g} | "
                    f"{median:.3g} ({min(last):.3g}–{max(last):.3g}) | {seconds / 60:.0f} min |")
        if done:
            groups[(field, dataset)].append(median)
    print("| field | dataset | seed | steps | final SWD | final MMD² | median of last 10 SWD (range) | wall time |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    print("\n".join(rows))
    print()
    print("| field | dataset | finished seeds | median over seeds of the median SWD |")
    print("| --- | --- | ---: | ---: |")
    for (field, dataset), medians in sorted(groups.items()):
        print(f"| {field} | {dataset} | {len(medians)} | {statistics.median(medians):.3g} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs")
