#!/usr/bin/env bash
# The whole GPU check in one device call, on any GPU count: a fresh release build with CUDA and
# NCCL; the unit, cli, cuda and nccl suites; the CUDA planner benchmark and `eplb bench --backend
# cuda` (CPU timed in the same run); `eplb shuffle` beside the vLLM-style baseline and the NCCL ring
# peak, on placements for this machine's GPU count planned from two real workloads; `eplb simulate`
# on CPU and CUDA. Logs in $OUT/logs.tgz, the table in $OUT/summary.txt and last on stdout.
# usage: EPLB_SHARED=/path/to/shared scripts/device_all.sh
set -u
source "$(dirname "$0")/device_common.sh"
dest=${OUT:-$repo/device-out}
out=$(mktemp -d /tmp/device_all.XXXXXX)  # logs; packed into $dest/logs.tgz at the end (few files come back)
export EPLB_SHARED=${EPLB_SHARED:-$repo/../shared}
traces=$EPLB_SHARED/traces/sglang-deepseek-v3-logical-count
trace=$traces/prefill_in4096.json
mkdir -p "$dest"
step() { echo "== $* ($(date +%T), ${SECONDS}s)"; }

step machine
nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv | tee "$out/machine.txt"
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
cd "$repo"
build=$repo/build-device
step build
device_build "$build" "$out" -Dnccl=enabled
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
# Placements for this machine's GPU count from two real workloads: deepseek from scratch and
# migration-aware (scripts/make_probes.sh), each shuffled beside the baseline.
ngpu=$(nvidia-smi -L | grep -c '^GPU')
layers=$(scripts/make_probes.sh "$eplb" "$traces" "$ngpu" "$out")
probes=(deepseek migration)
for p in "${probes[@]}"; do
    python3 scripts/make_probe.py "$out/old.json" "$out/new_$p.json" "$out/probe_$p.json"
    timeout 150 python3 "$EPLB_SHARED/baselines/vllm_style_shuffle.py" "$out/probe_$p.json" 44040192 \
        >"$out/baseline_$p.txt" 2>&1
    timeout 90 "$eplb" shuffle --probe "$out/probe_$p.json" --expert-bytes 44040192 >"$out/shuffle_auto_$p.txt" 2>&1
    timeout 90 "$eplb" shuffle --probe "$out/probe_$p.json" --expert-bytes 44040192 --transport nccl \
        --layers-in-flight 8 >"$out/shuffle_nccl_$p.txt" 2>&1
done

step simulate
timeout 120 "$eplb" gen-trace --first-layer 3 --num-steps 20000 --seed 1 -o /tmp/sim20000.npy >/dev/null 2>&1
for b in cpu cuda; do
    # A .npy carries no layer ids (rows are 0..57), so the shapes come as flags, not the config's
    # moe_layers.
    /usr/bin/time -f "%e s wall" timeout 60 "$eplb" simulate --backend "$b" --trace /tmp/sim20000.npy \
        --num-groups 8 --num-nodes 4 --num-gpus 32 --num-redundant-experts 32 --step-interval 100 \
        >"$out/simulate_$b.txt" 2>&1
done

step summary
{
    echo "card: $gpu"
    cat "$out/tests.txt"
    echo "--- NCCL faults (cuda/shuffle_faults)"; grep -hE "^(ok|FAIL) \(" "$build/meson-logs/testlog.txt"
    echo "--- CUDA planner benchmark"; tail -14 "$out/bench_planner.txt"
    echo "--- eplb bench --backend cuda, batch 1024"; tail -8 "$out/bench_batch.txt"
    echo "--- eplb bench --backend cuda, one plan"; tail -8 "$out/bench_one.txt"
    for p in "${probes[@]}"; do
        echo "=== shuffle on $ngpu GPUs, layers $layers, prefill_in1024 -> prefill_in4096, new placement: $p"
        echo "--- vllm-style baseline"; tail -3 "$out/baseline_$p.txt"
        echo "--- eplb shuffle (auto)"; tail -14 "$out/shuffle_auto_$p.txt"
        echo "--- eplb shuffle (nccl, 8 layers in flight)"; tail -14 "$out/shuffle_nccl_$p.txt"
    done
    for b in cpu cuda; do echo "--- simulate $b"; head -12 "$out/simulate_$b.txt"; tail -1 "$out/simulate_$b.txt"; done
} | tee "$dest/summary.txt"
tar czf "$dest/logs.tgz" -C "$out" .
