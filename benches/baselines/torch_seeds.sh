#!/usr/bin/env bash
# The README's demo table, both sides: 3 seeds per dataset of the official 2D demo run by
# `examples/train.rs` (default build, one thread) and by `benches/baselines/torch_train.py`
# (the identical configuration, one thread), the PyTorch samples scored by
# `examples/score_samples.rs` (the same metric code and data sample as ours). Runs one at a time
# and prints a markdown table (per-seed values, median, min-max, wall time per run). Not part of
# CI; needs a Python with torch.
#
#   benches/baselines/torch_seeds.sh [PYTHON] [OUT_DIR]    # defaults: python3, /tmp/torch_seeds
set -euo pipefail
cd "$(dirname "$0")/../.."
py="${1:-python3}"
out="${2:-/tmp/torch_seeds}"
mkdir -p "$out"
cargo build --release --example train --example score_samples
bin="${CARGO_TARGET_DIR:-target}/release/examples"
echo "build: RUSTFLAGS=${RUSTFLAGS:-} ($(rustc --version)), torch $("$py" -c 'import torch; print(torch.__version__)')" >&2

# run NAME COMMAND...: the command's output in $out/NAME.log, its wall time (s) on stdout.
run() {
    local name="$1" t0
    shift
    t0=$EPOCHREALTIME
    "$@" >"$out/$name.log" 2>&1
    awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }'
}

# median V0 V1 V2
median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }

# stats V0 V1 V2: "V0 / V1 / V2 (median M, MIN-MAX)" in %.2e.
stats() {
    printf '%s\n' "$@" | sort -g | awk -v a="$1" -v b="$2" -v c="$3" '
        { v[NR] = $1 }
        END { printf "%.2e / %.2e / %.2e (%.2e, %.2e–%.2e)", a, b, c, v[2], v[1], v[3] }' |
        sed 's/e\([-+]\)0/e\1/g; s/e+/e/g'
}

rows=()
for dataset in checkerboard swiss_roll; do
    ours_loss=() ours_swd=() ours_wall=() torch_loss=() torch_swd=() torch_wall=() floor=
    for seed in 0 1 2; do
        wall=$(run "ours_${dataset}_$seed" "$bin/train" --dataset "$dataset" --seed "$seed" \
            --out "$out/ours_${dataset}_$seed.png")
        log="$out/ours_${dataset}_$seed.log"
        ours_loss+=("$(awk '/^final loss/ { print $3 }' "$log")")
        ours_swd+=("$(awk '/^SWD/ { print $7 }' "$log")")
        floor="$(awk '/^SWD/ { print $8 }' "$log")" # the same data samples for every run
        ours_wall+=("$wall")
        echo "ours  $dataset seed $seed: loss ${ours_loss[-1]} SWD ${ours_swd[-1]} wall $wall s" >&2

        samples="$out/torch_${dataset}_$seed.f32"
        wall=$(run "torch_${dataset}_$seed" "$py" benches/baselines/torch_train.py \
            --dataset "$dataset" --seed "$seed" --out "$samples")
        log="$out/torch_${dataset}_$seed.log"
        torch_loss+=("$("$py" -c 'import json, sys
print(json.loads([l for l in open(sys.argv[1]) if l.startswith("{")][-1])["final_loss"])' "$log")")
        "$bin/score_samples" --dataset "$dataset" "$samples" >"$out/score_${dataset}_$seed.log"
        torch_swd+=("$(sed -n 's/.*SWD \([^,]*\),.*/\1/p' "$out/score_${dataset}_$seed.log")")
        torch_wall+=("$wall")
        echo "torch $dataset seed $seed: loss ${torch_loss[-1]} SWD ${torch_swd[-1]} wall $wall s" >&2
    done
    for side in ours torch; do
        declare -n loss="${side}_loss" swd="${side}_swd" wall="${side}_wall"
        label=drifting
        [[ $side == torch ]] && label=PyTorch
        ratio=$(awk -v m="$(median "${swd[@]}")" -v f="$floor" 'BEGIN { printf "%.2f", m / f }')
        rows+=("| ${dataset/_/ } | $label | $(stats "${loss[@]}") | $(stats "${swd[@]}") | $(stats "$floor" "$floor" "$floor" | cut -d' ' -f1) | $ratio | ${wall[*]} |")
        unset -n loss swd wall
    done
done

echo "| dataset | | final loss, seeds 0 / 1 / 2 (median, min–max) | SWD, seeds 0 / 1 / 2 (median, min–max) | SWD floor | median / floor | wall s, seeds 0 1 2 |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
printf '%s\n' "${rows[@]}"
