#!/usr/bin/env python3
"""Side-by-side runner: times the crate and its reference implementations in one run and prints
(or writes into README.md) a table of medians and ratios.

    python3 benches/baselines/compare.py                       # full table, x86-64-v3 build
    python3 benches/baselines/compare.py --quick               # smaller sizes, fewer repeats
    python3 benches/baselines/compare.py --update-readme       # rewrite README's table
    python3 benches/baselines/compare.py --python /tmp/venv/bin/python
    python3 benches/baselines/compare.py --feature --flat-cases   # plus the feature-space and
                                                                  # flat high-dimensional rows
    python3 benches/baselines/compare.py --only-new --feature --flat-cases --dry-run

Ours: `cargo bench --bench side_by_side` (built with RUSTFLAGS="-C target-cpu=x86-64-v3", and
with the default flags too when --default-flags is given). Theirs: benches/baselines/torch_drift.py
(PyTorch, dense formulation of the official demo) and benches/baselines/sinkhorn_baselines.py
(POT sinkhorn_log on NumPy float32, GeomLoss tensorized). Every comparison runs at each thread
count of --threads (default 1,2): ours single-threaded, then `--features std` (the same calls,
bit-identical results) in a rayon pool of T threads; theirs with torch.set_num_threads(T) and the
OMP/MKL/OpenBLAS variables at T. The Python must have torch, numpy, POT and geomloss installed
(keep its venv outside the repository).

Optional rows (off unless asked for; without them the run is the one above):

* `--feature`: the official grouped drift loss over [B, C, S] (B = 64 groups of 64 generated,
  16 unconditional, 64 positive tokens, 3 temperatures, CFG weights) at S in `--channels`
  (default 64,256,768). Ours: `cargo bench --bench side_by_side -- --feature --channels C
  [--quick] --threads T`; theirs: benches/baselines/torch_feature.py. Rendered as a separate
  feature-space table.
* `--flat-cases [NxD,...]` (bare: 4096x2,4096x64,2048x256,1024x768): flat two-axis clouds,
  Laplace, τ = `--flat-temperature` (0.1), clouds N(0, σ²I) with σ = `--flat-cloud-std` (auto =
  1/√D). Ours: `cargo bench --bench side_by_side -- --ops two_axis --kernels laplace --sizes N
  --dims D --layout points --temperature τ --cloud-std σ [--quick] --threads T`; theirs: torch_drift.py with the
  same options. Rendered in the main table.
* `--only-new` skips the 2D drift, Sinkhorn and generator suites; `--dry-run` prints the commands
  without running them; `--our-json FILE` takes our rows from FILE (JSON lines as the bench prints
  them; flat rows carrying "suite": "flat") instead of running cargo.
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
DEFAULT_FLAT_CASES = "4096x2,4096x64,2048x256,1024x768"
DRY_RUN = False


def ratio(r):
    """A speed-up as printed: two decimals below 10× (where the targets sit: 1.17× must not read
    as 1.2×), one above."""
    return f"{r:.2f}×" if r < 10 else f"{r:.1f}×"


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
    if DRY_RUN:
        return ""
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
    rows = []
    if not args.only_new:
        rows += json_lines(run(bench + ["--ops", "mean_shift,two_axis,multi_temperature", "--kernels",
                                        args.kernels] + common, env))
        rows += json_lines(run(bench + ["--ops", "sinkhorn_alternating,sinkhorn_symmetric", "--kernels",
                                        "laplace", "--sizes", args.sinkhorn_sizes, "--dims", "2"]
                               + quick + th, env))
        if threads == 1:
            rows += json_lines(run(bench + ["--primitives"] + quick, env))
        rows += json_lines(run(bench + ["--generator"] + quick + th, env))
    if args.feature:
        rows += json_lines(run(bench + ["--feature", "--channels", args.channels] + quick + th, env))
    for n, d in flat_cases(args):
        # Point-major [N, D] clouds, as PyTorch's tensors (the crate's coordinate-major input
        # would add a transpose PyTorch does not pay: 6 % at D = 768).
        rows += flat(json_lines(run(bench + ["--ops", "two_axis", "--kernels", "laplace", "--sizes", str(n),
                                             "--dims", str(d), "--layout", "points"] + flat_options(args)
                                    + quick + th, env)))
    return rows


def flat_cases(args):
    """The (N, D) pairs of --flat-cases, or none."""
    if not args.flat_cases:
        return []
    pairs = []
    for item in args.flat_cases.split(","):
        n, d = item.lower().split("x")
        pairs.append((int(n), int(d)))
    return pairs


def flat_options(args):
    return ["--temperature", str(args.flat_temperature), "--cloud-std", args.flat_cloud_std]


def flat(rows):
    """Tag the rows of a flat high-dimensional run (they share op, kernel, N and D with the 2D rows)."""
    for r in rows:
        r["suite"] = "flat"
    return rows


def suite(r):
    return r.get("suite", "")


def theirs(args, threads):
    py = args.python
    quick = ["--quick"] if args.quick else []
    th = ["--threads", str(threads)]
    rows = []
    if not args.only_new:
        rows += json_lines(run([py, str(HERE / "torch_drift.py"), "--ops",
                                "mean_shift,two_axis,multi_temperature", "--kernels", args.kernels,
                                "--sizes", args.sizes, "--dims", args.dims] + quick + th))
        rows += json_lines(run([py, str(HERE / "sinkhorn_baselines.py"), "--sizes", args.sinkhorn_sizes]
                               + quick + th))
        rows += json_lines(run([py, str(HERE / "torch_mlp.py")] + quick + th))
        rows += json_lines(run([py, str(HERE / "torch_train.py"), "--time-steps",
                                "5" if args.quick else "20"] + th))
    if args.feature:
        rows += json_lines(run([py, str(HERE / "torch_feature.py"), "--channels", args.channels]
                               + quick + th))
    for n, d in flat_cases(args):
        rows += flat(json_lines(run([py, str(HERE / "torch_drift.py"), "--ops", "two_axis", "--kernels",
                                     "laplace", "--sizes", str(n), "--dims", str(d)]
                                    + flat_options(args) + quick + th)))
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


def flat_label(args):
    """How the flat rows are labelled in the main table (their τ and clouds)."""
    std = args.flat_cloud_std if args else "auto"
    clouds = "N(0, I/D)" if std == "auto" else f"N(0, {std}²I)"
    return f"τ = {args.flat_temperature if args else 0.1}, {clouds}"


def feature_key(r):
    return (r.get("op"), r.get("b"), r.get("cg"), r.get("cu"), r.get("cp"), r.get("s"), r.get("threads", 1))


def table(our_rows, their_rows, flags_label, args=None):
    index = {}
    for r in their_rows:
        index[(suite(r), r.get("impl"), r.get("op"), r.get("kernel", "laplace"), r.get("n"), r.get("d"),
               r.get("threads", 1))] = r
    # Without --only-new the 2D and generator tables are always printed (as before), even empty.
    keep_empty = not (args is not None and args.only_new)
    lines = ["| operation | kernel | N = P = Q | D | threads | drifting (ms) | reference | reference (ms) | speed-up |",
             "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |"]
    for r in our_rows:
        for our_op, impl, their_op in PAIRS:
            if r.get("op") != our_op:
                continue
            kernel = r.get("kernel", "laplace")
            threads = r.get("threads", 1)
            t = index.get((suite(r), impl, their_op, kernel, r["n"], r["d"], threads))
            if not t:
                continue
            ms, tms = 1e3 * r["median_s"], 1e3 * t["median_s"]
            op = f"{our_op} ({flat_label(args)})" if suite(r) == "flat" else our_op
            lines.append(f"| {op} | {kernel} | {r['n']} | {r['d']} | {threads} | {ms:.2f} | {impl} | {tms:.1f} | {ratio(tms / ms)} |")
    tables = [lines] if keep_empty or len(lines) > 2 else []
    gen = {(r["impl"], r["op"], r.get("shape"), r.get("n"), r.get("threads", 1)): r for r in their_rows
           if r.get("op") in ("mlp_fwd_bwd_adam", "train_step")}
    lines = ["| generator operation | shape | batch | threads | drifting (ms) | PyTorch (ms) | speed-up | drifting GFLOP/s |",
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
        lines.append(f"| {r['op']} | {r['shape']} | {r['n']} | {threads} | {ms:.2f} | {tms:.2f} | {ratio(tms / ms)} | {gf} |")
    if keep_empty or len(lines) > 2:
        tables.append(lines)
    # Feature space: the official grouped drift loss over [B, C, S] (printed when there are rows).
    feat = {feature_key(r): r for r in their_rows if r.get("op") == "feature_drift_loss"}
    lines = ["| operation | shape | S | threads | drifting (ms) | PyTorch (ms) | speed-up | drifting GFLOP/s |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in our_rows:
        if r.get("op") != "feature_drift_loss":
            continue
        t = feat.get(feature_key(r))
        if not t:
            continue
        ms, tms = 1e3 * r["median_s"], 1e3 * t["median_s"]
        gf = r.get("gflops")
        gf = f"{gf:.1f}" if isinstance(gf, (int, float)) else ""
        shape = f"B {r['b']} × (Cg {r['cg']} + Cu {r['cu']} + Cp {r['cp']})"
        lines.append(f"| {r['op']} (3 temperatures, CFG) | {shape} | {r['s']} | {r.get('threads', 1)} | {ms:.2f} | "
                     f"{tms:.2f} | {ratio(tms / ms)} | {gf} |")
    if len(lines) > 2:
        tables.append(lines)
    prim = {r["op"]: r for r in our_rows if r.get("op") in ("exp", "sqrt")}
    notes = [f"Build: {flags_label}."]
    if "exp" in prim:
        notes.append(f"Measured SIMD `exp` throughput: {prim['exp']['per_second'] / 1e9:.2f} G/s "
                     f"(`sqrt`: {prim['sqrt']['per_second'] / 1e9:.2f} G/s).")
        for r in our_rows:
            # Two-axis with the queries as negatives: rows, columns and affinities over the positives
            # (3 exp per pair), one shared row/column pass and the affinities over the negatives (2).
            exps = {"mean_shift": 1, "two_axis": 2.5, "sinkhorn_alternating": None}.get(r.get("op"))
            if exps and suite(r) != "flat" and r.get("n") == 4096 and r.get("d") == 2 and r.get("kernel") == "laplace" \
                    and r.get("threads", 1) == 1:
                pairs = r["n"] * 2 * r["n"]
                bound = pairs * exps / prim["exp"]["per_second"]
                notes.append(f"{r['op']} at N = 4096, D = 2: {exps} exp per pair → exp-bound {1e3 * bound:.1f} ms; "
                             f"measured {1e3 * r['median_s']:.1f} ms ({100 * bound / r['median_s']:.0f}% of the bound).")
    # Our own scaling: each row at T threads against the same row at 1 thread.
    def key(r):
        return (suite(r), r.get("op"), r.get("kernel"), r.get("shape"), r.get("n"), r.get("d"), r.get("s"))

    single = {key(r): r["median_s"] for r in our_rows if r.get("threads", 1) == 1 and "median_s" in r}
    scaling = []
    for r in our_rows:
        threads = r.get("threads", 1)
        base = single.get(key(r))
        if threads > 1 and base and r.get("op") == "feature_drift_loss":
            scaling.append(f"{r['op']} (S = {r['s']}) {base / r['median_s']:.2f}×")
        elif threads > 1 and base and (r.get("n") in (2048, 4096)):
            label = r.get("kernel") or r.get("shape")
            if suite(r) == "flat":
                label += f", D = {r['d']}, {flat_label(args)}"
            scaling.append(f"{r['op']} ({label}, N = {r['n']}) {base / r['median_s']:.2f}×")
    if scaling:
        notes.append("Our speed-up from 1 to " + str(max(r.get("threads", 1) for r in our_rows))
                     + " threads (same run): " + "; ".join(scaling) + ".")
    return "\n\n".join("\n".join(t) for t in tables), notes


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
    p.add_argument("--feature", action="store_true",
                   help="also the official grouped drift loss over [B, C, S] (feature-space table)")
    p.add_argument("--channels", default="64,256,768", help="S of the --feature rows")
    p.add_argument("--flat-cases", nargs="?", const=DEFAULT_FLAT_CASES, default=None, metavar="NxD,...",
                   help=f"also flat two-axis rows at these N x D (bare: {DEFAULT_FLAT_CASES})")
    p.add_argument("--flat-temperature", type=float, default=0.1, help="Laplace τ of the flat rows")
    p.add_argument("--flat-cloud-std", default="auto", help="std of the flat rows' clouds (auto: 1/sqrt(D))")
    p.add_argument("--only-new", action="store_true",
                   help="skip the 2D drift, Sinkhorn and generator suites (only --feature / --flat-cases)")
    p.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    p.add_argument("--our-json", metavar="FILE",
                   help="our rows from FILE (JSON lines; flat rows with \"suite\": \"flat\") instead of cargo")
    args = p.parse_args()
    global DRY_RUN
    DRY_RUN = args.dry_run

    info = "(dry run)" if args.dry_run else machine(args.python)
    thread_counts = [int(t) for t in args.threads.split(",") if t]
    their_rows = [row for t in thread_counts for row in theirs(args, t)]
    sections = []
    builds = [("RUSTFLAGS=\"-C target-cpu=x86-64-v3\"", "-C target-cpu=x86-64-v3")]
    if args.default_flags and not args.our_json:
        builds.append(("default flags (SSE2)", ""))
    for label, flags in builds:
        if args.our_json:
            our_rows = json_lines(Path(args.our_json).read_text())
            label += f" (our rows read from {args.our_json})"
        else:
            our_rows = [row for t in thread_counts for row in ours(args, flags, t)]
        tab, notes = table(our_rows, their_rows, label, args)
        sections.append(tab + "\n\n" + "\n".join(f"- {n}" for n in notes))
    shown, skip = [], False
    for a in sys.argv[1:]:  # the command as run, minus the machine-specific interpreter path
        if skip or a == "--update-readme":
            skip = False
            continue
        if a in ("--python", "--our-json"):
            skip = True
            continue
        if a.startswith("--python=") or a.startswith("--our-json="):
            continue
        shown.append(a)
    command = "python3 benches/baselines/compare.py " + " ".join(shown)
    text = (f"Machine: {info}. Median wall time; threads as stated (ours: `--features std` in a "
            f"rayon pool above one thread). Produced by `{command.strip()} --update-readme`.\n\n"
            + "\n\n".join(sections))
    print(text)
    if args.update_readme and (args.dry_run or args.our_json):
        print("not updating README.md from a dry run or from --our-json", file=sys.stderr)
    elif args.update_readme:
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
