#!/usr/bin/env bash
# `eplb shuffle` under several flag sets on this machine's GPUs, beside the vLLM-style baseline in
# the same run, on the placements of scripts/make_probes.sh (deepseek from scratch). A release
# build of eplb only; logs in $OUT/logs.tgz, a table (steps, receives landed directly, time) last.
# usage: EPLB_SHARED=/path/to/shared scripts/device_shuffle_sweep.sh "FLAGS" ...
#   e.g. scripts/device_shuffle_sweep.sh "--step-experts 0" "" "NCCL_MIN_NCHANNELS=32 --transport nccl"
set -u
source "$(dirname "$0")/device_common.sh"
dest=${OUT:-$repo/device-out}
out=$(mktemp -d /tmp/device_sweep.XXXXXX)
shared=${EPLB_SHARED:-$repo/../shared}
[ $# -eq 0 ] && set -- "--step-experts 0" "" "--transport nccl --layers-in-flight 8 --step-experts 0" \
    "--transport nccl --layers-in-flight 8"
mkdir -p "$dest"
cd "$repo"
build=$repo/build-device
DEVICE_TARGETS=eplb device_build "$build" "$out" -Dnccl=enabled -Dtests=false
eplb=$build/eplb
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
ngpu=$(nvidia-smi -L | grep -c '^GPU')
layers=$(scripts/make_probes.sh "$eplb" "$shared/traces/sglang-deepseek-v3-logical-count" "$ngpu" "$out")
probe=$out/probe_deepseek.json

timeout 150 python3 "$shared/baselines/vllm_style_shuffle.py" "$probe" 44040192 >"$out/baseline.txt" 2>&1
rows=()
i=0
for flags in "$@"; do
    i=$((i + 1))
    log=$out/shuffle_$i.txt
    vars=() args=()
    for word in $flags; do  # words; NAME=value ones set the environment (NCCL_MIN_P2P_NCHANNELS=32)
        if [[ $word =~ ^[A-Z_][A-Z0-9_]*= ]]; then vars+=("$word"); else args+=("$word"); fi
    done
    env "${vars[@]}" timeout 90 "$eplb" shuffle --probe "$probe" --expert-bytes 44040192 "${args[@]}" >"$log" 2>&1
    steps=$(grep -oE '[0-9]+ steps of' "$log" | cut -d' ' -f1)
    direct=$(awk '$1 ~ /^[0-9]+$/ && NF == 12 {d += $6; r += $2} END {if (r) printf "%d/%d", d, r}' "$log")
    result=$(grep -E '^result' "$log" | sed -E 's/^result +best //; s/ \(median.*GB at/,/; s/ of the NCCL ring peak//')
    wrong=$(grep -E '^wrong' "$log" | awk '{print $2}')
    rows+=("$(printf '%-55s %5s %8s %5s  %s' "${flags:-(defaults)}" "${steps:--}" "${direct:--}" "${wrong:--}" "${result:-$(tail -1 "$log")}")")
done
tar czf "$dest/logs.tgz" -C "$out" .
{
    echo "card: $gpu x $ngpu, layers $layers, DeepSeek-V3 prefill_in1024 -> prefill_in4096 (deepseek from scratch)"
    echo "baseline: $(tail -1 "$out/baseline.txt")"
    printf '%-55s %5s %8s %5s  %s\n' "eplb shuffle flags" steps direct wrong "best ms, GB/s = of the NCCL ring peak (bound)"
    printf '%s\n' "${rows[@]}"
} | tee "$dest/summary.txt"
