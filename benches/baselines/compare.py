#!/usr/bin/env python3
"""Side-by-side runner: times the crate and its reference implementations in one run and prints
(or writes into README.md) a table of medians and ratios.

    python3 benches/baselines/compare.py                       # full table, x86-64-v3 build
    python3 benches/baselines/compare.py --quick               # smaller sizes, fewer repeats
    python3 benches/baselines/compare.py --update-readme       # rewrite README's table
    python3 benches/baselines/compare.py --python /tmp/venv/bin/python

Ours: `cargo bench --bench side_by_side` (built with RUSTFLAGS="-C target-cpu=x86-64-v3", and
with the default flags too when --default-flags is given). Theirs: benches/baselines/torch_drift.py
(PyTorch, dense formulation of the official demo) and benches/baselines/sinkhorn_baselines.py
(POT sinkhorn_log on NumPy float32, GeomLoss tensorized). Every comparison runs at each thread
count of --threads (default 1,2): ours single-threaded, then `--features std` (drifting::parallel,
bit-identical results) in a pool of T threads; theirs with torch.set_num_threads(T) and the
OMP/MKL/OpenBLAS variables at T. The Python must have torch, numpy, POT and geomloss installed
(keep its venv outside the repository).
"""
import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
START, END = "<!-- performance-table:start -->", "<!-- performance-table:end -->"

# (our op, their impl, their op) pairs that compute the same thing.
PAIRS = [
    ("mean_shift", "torch", "mean_shift"),
    ("two_axis", "torch", "two_axis"),
    ("multi_temperature", "torch", "multi_temperature"),
    ("sinkhorn_alternating", "pot_sinkhorn_log", "sinkhorn_100"),
    ("sinkhorn_symmetric", "geomloss_tensorized", "sinkhorn_100"),
]


def json_lines(text):
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return out


def run(cmd, env=None):
    print("$", " ".join(cmd), file=sys.stderr, flush=True)
    res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        sys.stderr.write(res.stderr[-4000:])
        raise SystemExit(f"command failed: {' '.join(cmd)}")
    return res.stdout


def ours(args, rustflags, threads):
    env = dict(os.environ)
    if rustflags:
        env["RUSTFLAGS"] = rustflags
    else:
        env.pop("RUSTFLAGS", None)
    quick = ["--quick"] if args.quick else []
    bench = ["cargo", "bench"] + (["--features", "std"] if threads > 1 else []) + [
        "--bench", "side_by_side", "--"]
    th = ["--threads", str(threads)]
    common = ["--sizes", args.sizes, "--dims", args.dims] + quick + th
    rows = json_lines(run(bench + ["--ops", "mean_shift,two_axis,multi_temperature", "--kernels",
                                   args.kernels] + common, env))
    rows += json_lines(run(bench + ["--ops", "sinkhorn_alternating,sinkhorn_symmetric", "--kernels",
                                    "laplace", "--sizes", args.sinkhorn_sizes, "--dims", "2"]
                           + quick + th, env))
    if threads == 1:
        rows += json_lines(run(bench + ["--primitives"] + quick, env))
    rows += json_lines(run(bench + ["--generator"] + quick + th, env))
    return rows


def theirs(args, threads):
    py = args.python
    quick = ["--quick"] if args.quick else []
    th = ["--threads", str(threads)]
    rows = json_lines(run([py, str(HERE / "torch_drift.py"), "--ops",
                           "mean_shift,two_axis,multi_temperature", "--kernels", args.kernels,
                           "--sizes", args.sizes, "--dims", args.dims] + quick + th))
    rows += json_lines(run([py, str(HERE / "sinkhorn_baselines.py"), "--sizes", args.sinkhorn_sizes]
                           + quick + th))
    rows += json_lines(run([py, str(HERE / "torch_mlp.py")] + quick + th))
    rows += json_lines(run([py, str(HERE / "torch_train.py"), "--time-steps",
                            "5" if args.quick else "20"] + th))
    return rows


def machine(py):
    cpu = platform.processor() or "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    torch = subprocess.run([py, "-c", "import torch, ot, geomloss; print('torch', torch.__version__, '· POT', ot.__version__, '· GeomLoss', geomloss.__version__)"],
                           capture_output=True, text=True).stdout.strip()
    return f"{cpu}, {os.cpu_count()} cores, {rustc}, {torch}"


def table(our_rows, their_rows, flags_label):
    index = {}
    for r in their_rows:
        index[(r.get("impl"), r.get("op"), r.get("kernel", "laplace"), r.get("n"), r.get("d"),
               r.get("threads", 1))] = r
    lines = ["| operation | kernel | N = P = Q | D | threads | drifting (ms) | reference | reference (ms) | speed-up |",
             "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |"]
    for r in our_rows:
        for our_op, impl, their_op in PAIRS:
            if r.get("op") != our_op:
                continue
            kernel = r.get("kernel", "laplace")
            threads = r.get("threads", 1)
            t = index.get((impl, their_op, kernel, r["n"], r["d"], threads))
            if not t:
                continue
            ms, tms = 1e3 * r["median_s"], 1e3 * t["median_s"]
            lines.append(f"| {our_op} | {kernel} | {r['n']} | {r['d']} | {threads} | {ms:.2f} | {impl} | {tms:.1f} | {tms / ms:.1f}× |")
    gen = {(r["impl"], r["op"], r.get("shape"), r["n"], r.get("threads", 1)): r for r in their_rows}
    lines += ["", "| generator operation | shape | batch | threads | drifting (ms) | PyTorch (ms) | speed-up | drifting GFLOP/s |",
              "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in our_rows:
        if r.get("op") not in ("mlp_fwd_bwd_adam", "train_step"):
            continue
        threads = r.get("threads", 1)
        t = gen.get(("torch", r["op"], r["shape"], r["n"], threads))
        if t is None and r["op"] == "train_step":
            t = next((x for x in their_rows if x.get("op") == "train_step" and x.get("n") == r["n"]
                      and x.get("threads", 1) == threads), None)
        if not t:
            continue
        ms, tms = 1e3 * r["median_s"], 1e3 * t["median_s"]
        gf = r.get("gflops", "")
        lines.append(f"| {r['op']} | {r['shape']} | {r['n']} | {threads} | {ms:.2f} | {tms:.2f} | {tms / ms:.1f}× | {gf} |")
    prim = {r["op"]: r for r in our_rows if r.get("op") in ("exp", "sqrt")}
    notes = [f"Build: {flags_label}."]
    if "exp" in prim:
        notes.append(f"Measured SIMD `exp` throughput: {prim['exp']['per_second'] / 1e9:.2f} G/s "
                     f"(`sqrt`: {prim['sqrt']['per_second'] / 1e9:.2f} G/s).")
        for r in our_rows:
            # Two-axis with the queries as negatives: rows, columns and affinities over the positives
            # (3 exp per pair), one shared row/column pass and the affinities over the negatives (2).
            exps = {"mean_shift": 1, "two_axis": 2.5, "sinkhorn_alternating": None}.get(r.get("op"))
            if exps and r.get("n") == 4096 and r.get("d") == 2 and r.get("kernel") == "laplace" \
                    and r.get("threads", 1) == 1:
                pairs = r["n"] * 2 * r["n"]
                bound = pairs * exps / prim["exp"]["per_second"]
                notes.append(f"{r['op']} at N = 4096, D = 2: {exps} exp per pair → exp-bound {1e3 * bound:.1f} ms; "
                             f"measured {1e3 * r['median_s']:.1f} ms ({100 * bound / r['median_s']:.0f}% of the bound).")
    # Our own scaling: each row at T threads against the same row at 1 thread.
    single = {(r.get("op"), r.get("kernel"), r.get("shape"), r.get("n"), r.get("d")): r["median_s"]
              for r in our_rows if r.get("threads", 1) == 1 and "median_s" in r}
    scaling = []
    for r in our_rows:
        threads = r.get("threads", 1)
        base = single.get((r.get("op"), r.get("kernel"), r.get("shape"), r.get("n"), r.get("d")))
        if threads > 1 and base and (r.get("n") in (2048, 4096)):
            label = r.get("kernel") or r.get("shape")
            scaling.append(f"{r['op']} ({label}, N = {r['n']}) {base / r['median_s']:.2f}×")
    if scaling:
        notes.append("Our speed-up from 1 to " + str(max(r.get("threads", 1) for r in our_rows))
                     + " threads (same run): " + "; ".join(scaling) + ".")
    return "\n".join(lines), notes


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--python", default=sys.executable)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--sizes", default="4096")
    p.add_argument("--dims", default="2")
    p.add_argument("--kernels", default="laplace,gaussian")
    p.add_argument("--sinkhorn-sizes", default="1024,4096")
    p.add_argument("--default-flags", action="store_true", help="also time the default (SSE2) build")
    p.add_argument("--threads", default="1,2", help="thread counts, each compared with PyTorch at the same count")
    p.add_argument("--update-readme", action="store_true")
    args = p.parse_args()

    info = machine(args.python)
    thread_counts = [int(t) for t in args.threads.split(",") if t]
    their_rows = [row for t in thread_counts for row in theirs(args, t)]
    sections = []
    builds = [("RUSTFLAGS=\"-C target-cpu=x86-64-v3\"", "-C target-cpu=x86-64-v3")]
    if args.default_flags:
        builds.append(("default flags (SSE2)", ""))
    for label, flags in builds:
        our_rows = [row for t in thread_counts for row in ours(args, flags, t)]
        tab, notes = table(our_rows, their_rows, label)
        sections.append(tab + "\n\n" + "\n".join(f"- {n}" for n in notes))
    shown, skip = [], False
    for a in sys.argv[1:]:  # the command as run, minus the machine-specific interpreter path
        if skip or a == "--update-readme":
            skip = False
            continue
        if a == "--python":
            skip = True
            continue
        shown.append(a)
    command = "python3 benches/baselines/compare.py " + " ".join(shown)
    text = (f"Machine: {info}. Median wall time; threads as stated (ours: `drifting::parallel` with "
            f"`--features std` above one thread). Produced by `{command.strip()} --update-readme`.\n\n"
            + "\n\n".join(sections))
    print(text)
    if args.update_readme:
        readme = (ROOT / "README.md").read_text()
        if START in readme and END in readme:
            head, rest = readme.split(START, 1)
            _, tail = rest.split(END, 1)
            (ROOT / "README.md").write_text(head + START + "\n" + text + "\n" + END + tail)
            print("README.md updated", file=sys.stderr)
        else:
            print("README.md has no performance-table markers", file=sys.stderr)


if __name__ == "__main__":
    main()
