#!/usr/bin/env bash
# Every paper-budget run of experiments 4 and 6 (examples/README.md), resumable: each run
# continues from its checkpoint, finished runs only print their last line. Stops cleanly after
# MINUTES of wall time in all (default: no limit), so it can be spread over several sittings.
# The log.csv of every finished run is copied to examples/paper_budget_runs/RUN/ (to commit).
# To park an unfinished run across a machine reset, copy its checkpoint.bin and log.csv there too
# and commit them: the next sitting continues from them (and drops the checkpoint once finished).
#
#   examples/paper_budget.sh [RUNS_DIR] [MINUTES]       # RUNS_DIR default: runs
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-runs}"
minutes="${2:-}"
# x86-64 hosts: the AVX2 build (about 2x the default build's speed; a run must be continued by
# the same build to stay bit-identical to an uninterrupted one, hence its own target dir).
if [[ "$(uname -m)" == x86_64 && -z "${RUSTFLAGS:-}" ]]; then
    export RUSTFLAGS="-C target-cpu=x86-64-v3"
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/paper-budget}"
cargo build --release --features std --example paper_budget
echo "build: RUSTFLAGS=${RUSTFLAGS:-} ($(rustc --version))"
start=$SECONDS
# Whether the log LOG ends at step STEPS (the run is finished).
finished() {
    tail -n 1 "$1" 2>/dev/null | grep -q "^$2,"
}
# One run: FIELD:DATASET SEED STEPS.
run() {
    local field="${1%%:*}" dataset="${1##*:}" seed="$2" steps="$3"
    local limit=()
    if [[ -n "$minutes" ]]; then
        local left=$(( minutes - (SECONDS - start) / 60 ))
        (( left > 0 )) || { echo "time budget spent"; exit 0; }
        limit=(--minutes "$left")
    fi
    local name="$field-$dataset-$seed"
    local parked="examples/paper_budget_runs/$name"
    # A run finished in an earlier sitting (its log in the repository) is not run again.
    if finished "$parked/log.csv" "$steps"; then
        echo "$name: finished ($parked/log.csv)"
        return
    fi
    # A run parked in the repository (an unfinished run's checkpoint and log, committed so that a
    # machine reset does not lose it) continues from there when RUNS_DIR has no state of it.
    if [[ ! -e "$runs/$name/checkpoint.bin" && -e "$parked/checkpoint.bin" ]]; then
        mkdir -p "$runs/$name"
        cp "$parked/checkpoint.bin" "$parked/log.csv" "$runs/$name/"
    fi
    "$CARGO_TARGET_DIR/release/examples/paper_budget" --field "$field" --dataset "$dataset" --seed "$seed" \
        --steps "$steps" --dir "$runs/$name" "${limit[@]}"
    # A finished run's log goes into the repository (its checkpoint stays in RUNS_DIR).
    if finished "$runs/$name/log.csv" "$steps"; then
        mkdir -p "$parked"
        cp "$runs/$name/log.csv" "$parked/log.csv"
        rm -f "$parked/checkpoint.bin"
    fi
}
# The two-axis runs first, every seed; then the Sinkhorn drift, whose step costs about 40 two-axis
# steps (0.9 s at batch 2048, 2 threads, measured): SINKHORN_STEPS (default 10 000, 2.5 hours) of
# the paper's 50 000.
for seed in 0 1 2; do
    for spec in laplace:checkerboard gaussian:checkerboard laplace:swiss_roll gaussian:swiss_roll \
                laplace:two_moons gaussian:two_moons laplace:ring_of_gaussians \
                gaussian:ring_of_gaussians; do
        run "$spec" "$seed" 50000
    done
done
for seed in 0 1 2; do
    run sinkhorn:checkerboard "$seed" "${SINKHORN_STEPS:-10000}"
done
