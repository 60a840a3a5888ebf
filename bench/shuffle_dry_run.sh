#!/usr/bin/env bash
# The shuffle dry run's host check (order check + run on host buffers) at DeepSeek-V3 EP32 scale:
# two 58-layer placements planned from two real traces (288 slots on 32 GPUs, 4 nodes), then
# `eplb shuffle --dry-run` timed 5 times, side by side with BASELINE_BIN (another eplb, e.g. one
# that skipped the check past 40,000 operations) in the same run when given.
# usage: bench/shuffle_dry_run.sh [BUILD_DIR] [BASELINE_BIN]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
build="${1:-build}"
baseline="${2:-}"
shared="${EPLB_SHARED:-../shared}"
traces="$shared/traces/sglang-deepseek-v3-logical-count"
if [ ! -f "$traces/decode_in1000out1000.json" ]; then
    echo "bench/shuffle_dry_run.sh: $traces is absent; nothing to measure" >&2
    exit 0
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for name in decode_in1000out1000 prefill_in1000out1000; do
    "$build/eplb" plan --backend cpu --trace "$traces/$name.json" --config configs/deepseek-v3-ep32.json \
        -o "$dir/$name.json" >/dev/null
done
bench_machine
"$build/eplb" shuffle --dry-run --old "$dir/decode_in1000out1000.json" --new "$dir/prefill_in1000out1000.json" |
    grep '^host'
for bin in "$build/eplb" ${baseline:+"$baseline"}; do
    for _ in 1 2 3 4 5; do
        /usr/bin/time -f "$bin: %e s wall, %U s user, %M KB" "$bin" shuffle --dry-run \
            --old "$dir/decode_in1000out1000.json" --new "$dir/prefill_in1000out1000.json" >/dev/null
    done
done
