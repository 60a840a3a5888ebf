#!/usr/bin/env bash
# Planning speed side by side, one core each, same trace, same run: `eplb bench` (CPU) against the
# numpy port of DeepSeek's EPLB in ../shared/baselines. DeepSeek-V3 EP32: 58 x 256 -> 288 slots,
# 8 groups, 4 nodes, 32 GPUs. usage: bench/plan.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
build="${1:-build}"
shared="${EPLB_SHARED:-../shared}"
trace="$shared/traces/sglang-deepseek-v3-logical-count/prefill_in4096.json"
if [ ! -f "$trace" ]; then
    echo "bench/plan.sh: $trace is absent; using the bundled synthetic trace (no numpy baseline)" >&2
    trace=traces/deepseek-v3-seed1.json
fi
bench_machine
echo "trace: $trace"
$bench_pin "$build/eplb" bench --backend cpu --trace "$trace" --config configs/deepseek-v3-ep32.json --repeat 1000 \
    --policy deepseek | tail -4 | head -3
$bench_pin "$build/eplb" bench --backend cpu --trace "$trace" --config configs/deepseek-v3-ep32.json --repeat 300 \
    --policy balanced | tail -4 | head -3
py=/usr/bin/python3
[ -x "$py" ] || py=python3
if [ -f "$shared/baselines/eplb_numpy.py" ] && "$py" -c "import numpy" 2>/dev/null; then
    OPENBLAS_NUM_THREADS=1 $bench_pin "$py" "$shared/baselines/eplb_numpy.py" "$trace" 288 8 4 32 3 61
else
    echo "numpy baseline skipped (needs $shared/baselines and python3-numpy)"
fi
