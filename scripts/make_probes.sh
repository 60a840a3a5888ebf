#!/usr/bin/env bash
# Shuffle placements for NGPU GPUs (DeepSeek-V3: 256 experts in 8 groups, 288 slots, one node),
# planned by eplb from two real workloads the way shared/baselines/probe_placements.json was made
# (at 4 GPUs `deepseek` reproduces it exactly): DIR/probe_deepseek.json (`deepseek` from scratch,
# prefill_in1024 -> prefill_in4096) and DIR/probe_migration.json (the new placement migration-aware:
# balanced, --previous, a price per move). 8 layers, 4 below 4 GPUs (a layer is 6.3 GB per GPU on 2).
# usage: scripts/make_probes.sh EPLB TRACES_DIR NGPU DIR   (prints the layer range)
set -eu
eplb=$1 traces=$2 ngpu=$3 dir=$4
layers=3:11
[ "$ngpu" -lt 4 ] && layers=3:7
shape=(--num-groups 8 --num-nodes 1 --num-gpus "$ngpu" --num-physical-experts 288 --layers "$layers" --backend cpu)
mkdir -p "$dir"
"$eplb" plan --trace "$traces/prefill_in1024.json" "${shape[@]}" -o "$dir/old.json" >/dev/null
"$eplb" plan --trace "$traces/prefill_in4096.json" "${shape[@]}" -o "$dir/new_deepseek.json" >/dev/null
"$eplb" plan --trace "$traces/prefill_in4096.json" "${shape[@]}" --policy balanced --previous "$dir/old.json" \
    --move-cost 0.0001 -o "$dir/new_migration.json" >"$dir/plan_migration.txt"
for p in deepseek migration; do
    python3 "$(dirname "$0")/make_probe.py" "$dir/old.json" "$dir/new_$p.json" "$dir/probe_$p.json"
done
echo "$layers"
