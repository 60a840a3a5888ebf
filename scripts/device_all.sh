#!/usr/bin/env bash
# The whole GPU check in one device call (4 GPUs): a fresh release build with CUDA and NCCL; the
# unit, cuda and nccl suites; the CUDA planner benchmark and `eplb bench --backend cuda` (CPU timed
# in the same run); `eplb shuffle` on the probe placements beside the vLLM-style baseline and the
# NCCL ring peak in the same run; `eplb simulate` on CPU and CUDA. Logs under $OUT, a table last.
# usage: EPLB_SHARED=/path/to/shared scripts/device_all.sh
set -u
# NVLink multicast stays off, always.
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export PATH="/usr/local/cuda/bin:$PATH" PYTHONUNBUFFERED=1
repo=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-$repo/device-out}
export EPLB_SHARED=${EPLB_SHARED:-$repo/../shared}
probe=$EPLB_SHARED/baselines/probe_placements.json
trace=$EPLB_SHARED/traces/sglang-deepseek-v3-logical-count/prefill_in4096.json
mkdir -p "$out"
step() { echo "== $* ($(date +%T), ${SECONDS}s)"; }

step machine
nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv | tee "$out/machine.txt"
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
cd "$repo"
build=$repo/build-device
rm -rf "$build"
step build
meson setup "$build" -Dcuda=enabled -Dnccl=enabled >"$out/setup.log" 2>&1 || { tail -30 "$out/setup.log"; exit 1; }
ninja -C "$build" >"$out/build.log" 2>&1 || { grep -E "error|FAILED" -A5 "$out/build.log" | head -40; exit 1; }
eplb=$build/eplb

step tests
timeout 240 meson test -C "$build" --suite unit --suite cli --suite cuda --suite nccl --print-errorlogs \
    >"$out/test.log" 2>&1
python3 scripts/count_tests.py "$build/meson-logs/testlog.json" | tee "$out/tests.txt"
grep -E "^ *[0-9]+/[0-9]+ " "$out/test.log" | grep -v " OK " | head -20

step planner benchmark
timeout 90 "$build/tests/cuda/bench_cuda_planner" >"$out/bench_planner.txt" 2>&1
timeout 90 "$eplb" bench --backend cuda --trace "$trace" --config configs/deepseek-v3-ep32.json --batch 1024 \
    --repeat 5 >"$out/bench_batch.txt" 2>&1
timeout 60 "$eplb" bench --backend cuda --trace "$trace" --config configs/deepseek-v3-ep32.json --repeat 200 \
    >"$out/bench_one.txt" 2>&1

step shuffle
timeout 150 python3 "$EPLB_SHARED/baselines/vllm_style_shuffle.py" "$probe" 44040192 >"$out/baseline.txt" 2>&1
timeout 90 "$eplb" shuffle --probe "$probe" --expert-bytes 44040192 >"$out/shuffle_auto.txt" 2>&1
timeout 90 "$eplb" shuffle --probe "$probe" --expert-bytes 44040192 --transport nccl --layers-in-flight 8 \
    >"$out/shuffle_nccl.txt" 2>&1

step simulate
timeout 120 "$eplb" gen-trace --first-layer 3 --num-steps 20000 --seed 1 -o /tmp/sim20000.npy >/dev/null 2>&1
for b in cpu cuda; do
    /usr/bin/time -f "%e s wall" timeout 60 "$eplb" simulate --backend "$b" --trace /tmp/sim20000.npy \
        --config configs/deepseek-v3-ep32.json --step-interval 100 >"$out/simulate_$b.txt" 2>&1
done

step summary
{
    echo "card: $gpu"
    cat "$out/tests.txt"
    echo "--- CUDA planner benchmark"; tail -14 "$out/bench_planner.txt"
    echo "--- eplb bench --backend cuda, batch 1024"; tail -8 "$out/bench_batch.txt"
    echo "--- eplb bench --backend cuda, one plan"; tail -8 "$out/bench_one.txt"
    echo "--- vllm-style baseline"; tail -3 "$out/baseline.txt"
    echo "--- eplb shuffle (auto)"; tail -14 "$out/shuffle_auto.txt"
    echo "--- eplb shuffle (nccl, 8 layers in flight)"; tail -14 "$out/shuffle_nccl.txt"
    for b in cpu cuda; do echo "--- simulate $b"; head -12 "$out/simulate_$b.txt"; tail -1 "$out/simulate_$b.txt"; done
} | tee "$out/summary.txt"
