#!/usr/bin/env bash
# `eplb simulate` at DeepSeek-V3 EP32 scale (58 layers x 256 experts -> 288 slots, 8 groups,
# 4 nodes, 32 GPUs): 20,000 steps, a rearrangement every 100 steps (200 plans, window 1000), the
# deepseek policy; the series streamed from a .npy (float32, 1.2 GB, made once by gen-trace) and
# generated in-process. Prints one line per case: wall time of the whole command and of the loop.
# usage: bench/simulate.sh [BUILD_DIR] [BACKEND...]   (default: build cpu)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
build="${1:-build}"
shift || true
backends=("$@")
[ ${#backends[@]} -gt 0 ] || backends=(cpu)
tmp="${EPLB_BENCH_DIR:-${TMPDIR:-/tmp}/eplb_bench_simulate}"
mkdir -p "$tmp"
npy="$tmp/deepseek-v3-20000.npy"
cfg=configs/deepseek-v3-ep32.json

bench_machine
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ ! -f "$npy" ]; then
    "$build/eplb" gen-trace --first-layer 3 --num-steps 20000 --seed 1 --model DeepSeek-V3 -o "$npy"
fi
cat "$npy" >/dev/null  # into the page cache: time the simulator, not the disk

# case LABEL BACKEND ARGS...: wall and CPU (user + sys) seconds of the command, and the loop's own
# seconds from its report. CPU time says more than wall time when other jobs share the machine.
case_line() {
    local label="$1" backend="$2"
    shift 2
    local times loop
    TIMEFORMAT='%R %U %S'
    times=$({ time "$build/eplb" simulate --backend "$backend" --config "$cfg" --step-interval 100 "$@" \
        >"$tmp/out.txt" 2>"$tmp/err.txt"; } 2>&1) || { cat "$tmp/err.txt"; return 1; }
    loop=$(sed -n 's/^backend   [a-z]*, \([0-9.]*\) s$/\1/p' "$tmp/out.txt")
    read -r wall user sys <<<"$times"
    printf "%-62s %-5s %7.2f s %7.2f s %7s s\n" "$label" "$backend" "$wall" "$(echo "$user + $sys" | bc)" "$loop"
}

printf "%-62s %-5s %9s %9s %9s\n" "case (20,000 steps, interval 100, window 1000)" "plan" "wall" "cpu" "loop"
for b in "${backends[@]}"; do
    case_line "from .npy, streamed" "$b" --trace "$npy" --layers 0:58
    case_line "generated in-process (gen-trace defaults)" "$b" --gen-num-steps 20000
    case_line "generated in-process, --gen-drift 0.01 --gen-switch-every 5000" "$b" --gen-num-steps 20000 \
        --gen-drift 0.01 --gen-switch-every 5000
    case_line "from .npy, steps 0:2000 with --oracle (2,000 more plans)" "$b" --trace "$npy" --layers 0:58 \
        --steps 0:2000 --oracle
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
tail -n +8 "$tmp/out.txt" | head -4
