#!/usr/bin/env bash
# Step length of the shuffle schedule (--step-experts) on this machine's GPUs, for both transports,
# beside the vLLM-style baseline in the same run, on the placements of scripts/make_probes.sh
# (deepseek from scratch). A release build of eplb only; logs in $OUT/logs.tgz, a table last.
# usage: EPLB_SHARED=/path/to/shared scripts/device_shuffle_steps.sh [STEP_EXPERTS ...]
set -u
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export PATH="/usr/local/cuda/bin:$PATH" PYTHONUNBUFFERED=1
repo=$(cd "$(dirname "$0")/.." && pwd)
dest=${OUT:-$repo/device-out}
out=$(mktemp -d /tmp/device_steps.XXXXXX)
shared=${EPLB_SHARED:-$repo/../shared}
sweep=("$@")
[ ${#sweep[@]} -eq 0 ] && sweep=(0 8 16 32 64)
mkdir -p "$dest"
cd "$repo"
build=$repo/build-device
rm -rf "$build"
meson setup "$build" -Dcuda=enabled -Dnccl=enabled -Dtests=false >"$out/setup.log" 2>&1 || { tail -30 "$out/setup.log"; exit 1; }
ninja -C "$build" eplb >"$out/build.log" 2>&1 || { grep -E "error|FAILED" -A5 "$out/build.log" | head -40; exit 1; }
eplb=$build/eplb
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
ngpu=$(nvidia-smi -L | grep -c '^GPU')
layers=$(scripts/make_probes.sh "$eplb" "$shared/traces/sglang-deepseek-v3-logical-count" "$ngpu" "$out")
probe=$out/probe_deepseek.json

timeout 150 python3 "$shared/baselines/vllm_style_shuffle.py" "$probe" 44040192 >"$out/baseline.txt" 2>&1
rows=()
for transport in ce nccl; do
    in_flight=4
    [ "$transport" = nccl ] && in_flight=8
    for se in "${sweep[@]}"; do
        log=$out/shuffle_${transport}_$se.txt
        timeout 90 "$eplb" shuffle --probe "$probe" --expert-bytes 44040192 --transport "$transport" \
            --layers-in-flight "$in_flight" --step-experts "$se" >"$log" 2>&1
        steps=$(grep -oE '[0-9]+ steps of' "$log" | cut -d' ' -f1)
        direct=$(awk '$1 ~ /^[0-9]+$/ && NF == 12 {d += $6; r += $2} END {if (r) printf "%d/%d", d, r}' "$log")
        result=$(grep -E '^result' "$log" | sed -E 's/^result +//')
        wrong=$(grep -E '^wrong' "$log" | awk '{print $2}')
        rows+=("$(printf '%-5s %-9s %-6s %-10s wrong %-3s %s' "$transport" "$se" "${steps:--}" "${direct:--}" "${wrong:--}" "${result:-$(tail -1 "$log")}")")
    done
done
tar czf "$dest/logs.tgz" -C "$out" .
{
    echo "card: $gpu x $ngpu, layers $layers, DeepSeek-V3 prefill_in1024 -> prefill_in4096 (deepseek from scratch)"
    echo "baseline: $(tail -1 "$out/baseline.txt")"
    echo "transport step-exp steps  direct     result"
    printf '%s\n' "${rows[@]}"
} | tee "$dest/summary.txt"
