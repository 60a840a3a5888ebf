#!/usr/bin/env bash
# On a GPU machine: builds a fresh release build with -Dcuda=enabled, runs the unit and cuda suites
# (cuda/cuda_simulate: the simulator with the CUDA planner equals the CPU run bit for bit), then
# scripts/bench_simulate.sh with --backend cpu and cuda side by side in one run. Logs go to $OUT
# (default ./device-out); the benchmark table is printed last.
set -u
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export PATH="/usr/local/cuda/bin:$PATH"
repo=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-$repo/device-out}
mkdir -p "$out"
step() { echo "== $* ($(date +%T))"; }

step machine
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt"
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
nproc

cd "$repo"
build=$repo/build-device
rm -rf "$build"
step setup
if ! meson setup "$build" -Dcuda=enabled -Dbuildtype=release >"$out/setup.log" 2>&1; then
    tail -40 "$out/setup.log"
    exit 1
fi
step build
if ! ninja -C "$build" >"$out/build.log" 2>&1; then
    grep -E "error|FAILED" -A5 "$out/build.log" | head -60
    exit 1
fi

step tests
timeout 300 meson test -C "$build" --suite unit --suite cuda --print-errorlogs >"$out/test.log" 2>&1
test_rc=$?
tail -25 "$out/test.log"

step benchmark
EPLB_BENCH_DIR="$out/bench-data" timeout 420 scripts/bench_simulate.sh "$build" cpu cuda >"$out/bench.txt" 2>&1
bench_rc=$?
rm -rf "$out/bench-data"  # the 1.2 GB series does not need to come back

step summary
python3 - "$build/meson-logs/testlog.json" <<'PY'
import json, sys
res = {}
for line in open(sys.argv[1]):
    t = json.loads(line)
    res[t["result"]] = res.get(t["result"], 0) + 1
print(f"tests: {res.get('OK', 0)} passed, {res.get('FAIL', 0) + res.get('TIMEOUT', 0)} failed, "
      f"{res.get('SKIP', 0)} skipped")
PY
echo "gpu: $gpu; test rc=$test_rc; bench rc=$bench_rc"
cat "$out/bench.txt"
