#!/usr/bin/env bash
# On a GPU machine: builds a fresh release build with -Dcuda=enabled, runs the unit and cuda
# suites, the CUDA planner benchmark, compute-sanitizer on the kernels and a short ncu profile.
# Logs go to $OUT (default ./device-out); a short summary is printed last.
# Traces: *.json in ../traces next to this checkout are put where the tests look for them
# ($EPLB_SHARED/traces/sglang-deepseek-v3-logical-count, EPLB_SHARED = ../shared).
set -u
source "$(dirname "$0")/device_common.sh"
out=${OUT:-$repo/device-out}
mkdir -p "$out"
step() { echo "== $* ($(date +%T))"; }

shared=$(cd "$repo/.." && pwd)/shared
if ls "$repo"/../traces/*.json >/dev/null 2>&1; then
    mkdir -p "$shared/traces/sglang-deepseek-v3-logical-count"
    cp "$repo"/../traces/*.json "$shared/traces/sglang-deepseek-v3-logical-count/"
fi
export EPLB_SHARED=$shared

step machine
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv | tee "$out/gpu.txt"
echo "transparent hugepages: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)"
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
nvcc --version | tail -1; meson --version; nproc

cd "$repo"
build=$repo/build-device
step build
device_build "$build" "$out"

step tests
timeout 240 meson test -C "$build" --suite unit --suite cuda --print-errorlogs >"$out/test.log" 2>&1
test_rc=$?
tail -25 "$out/test.log"

step benchmark
timeout 120 "$build/tests/cuda/bench_cuda_planner" >"$out/bench.txt" 2>&1
bench_rc=$?
cat "$out/bench.txt"

step compute-sanitizer
san="$out/sanitizer.txt"
: >"$san"
for tool in memcheck racecheck synccheck; do
    echo "--- $tool" >>"$san"
    timeout 120 compute-sanitizer --tool "$tool" "$build/tests/cuda/test_cuda_planner" -tc='*edge values*' >>"$san" 2>&1
    echo "rc=$?" >>"$san"
    timeout 120 compute-sanitizer --tool "$tool" "$build/tests/cuda/test_cuda_metrics" -tc='*empty slots*' >>"$san" 2>&1
    echo "rc=$?" >>"$san"
done
grep -E "^---|ERROR SUMMARY|RACECHECK SUMMARY|rc=" "$san"

step ncu
ncu_bin=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
stalls=""
for s in long_scoreboard short_scoreboard mio_throttle lg_throttle wait barrier membar math_pipe_throttle \
    not_selected selected branch_resolving dispatch_stall no_instruction; do
    stalls="$stalls,smsp__average_warps_issue_stalled_${s}_per_issue_active.ratio"
done
if [ -n "$ncu_bin" ]; then
    timeout 200 "$ncu_bin" --clock-control none --kernel-name regex:'plan_deepseek|score_rows' --launch-count 3 \
        --section SpeedOfLight --section LaunchStats --section Occupancy --section SchedulerStats \
        --section WarpStateStats --section ComputeWorkloadAnalysis \
        --metrics "l1tex__data_bank_conflicts_pipe_lsu_mem_shared.sum,smsp__inst_executed.sum${stalls}" \
        "$build/tests/cuda/bench_cuda_planner" --profile >"$out/ncu.txt" 2>&1
    echo "ncu rc=$?"
else
    echo "ncu not found" | tee "$out/ncu.txt"
fi

step summary
echo "tests: $(python3 scripts/count_tests.py "$build/meson-logs/testlog.json")"
echo "gpu: $gpu; test rc=$test_rc; bench rc=$bench_rc"
grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$san" | sort | uniq -c
grep -E "^  [a-z_]*plan_deepseek|^  [a-z_]*score_rows|plan_deepseek_kernel|score_rows_kernel|Duration|Compute \(SM\) Throughput|Achieved Occupancy|Theoretical Occupancy|Issue Slots Busy|Registers Per Thread|Block Limit|Warp Cycles Per Issued|bank_conflicts|stalled_(long_scoreboard|short_scoreboard|mio_throttle|wait|not_selected|math_pipe|branch|barrier|no_instr)|inst_executed.sum" "$out/ncu.txt" | sed 's/  */ /g' | head -90
sed -n '/^case/,$p' "$out/bench.txt"
