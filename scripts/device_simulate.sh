#!/usr/bin/env bash
# On a GPU machine: builds a fresh release build with -Dcuda=enabled, runs the unit and cuda suites
# (cuda/cuda_simulate: the simulator with the CUDA planner equals the CPU run bit for bit), then
# scripts/bench_simulate.sh with --backend cpu and cuda side by side in one run. Logs go to $OUT
# (default ./device-out); the benchmark table is printed last.
set -u
source "$(dirname "$0")/device_common.sh"
out=${OUT:-$repo/device-out}
mkdir -p "$out"
step() { echo "== $* ($(date +%T))"; }

step machine
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt"
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
nproc

cd "$repo"
build=$repo/build-device
step build
device_build "$build" "$out"

step tests
timeout 300 meson test -C "$build" --suite unit --suite cuda --print-errorlogs >"$out/test.log" 2>&1
test_rc=$?
tail -25 "$out/test.log"

step benchmark
EPLB_BENCH_DIR="$out/bench-data" timeout 420 scripts/bench_simulate.sh "$build" cpu cuda >"$out/bench.txt" 2>&1
bench_rc=$?
rm -rf "$out/bench-data"  # the 1.2 GB series does not need to come back

step summary
echo "tests: $(python3 scripts/count_tests.py "$build/meson-logs/testlog.json")"
echo "gpu: $gpu; test rc=$test_rc; bench rc=$bench_rc"
cat "$out/bench.txt"
