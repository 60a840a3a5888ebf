#!/usr/bin/env bash
# Leave-one-out table of the `robust` policy through the CLI: each of the 12 real DeepSeek-V3
# workloads scored (eplb evaluate) under plans of the other 11 by deepseek and balanced (on their
# sum) and robust (for the worst of them), EP32 global and EP72 global, layers 3..60; then the
# CPU time of one 11-workload robust plan beside balanced on the same traces, one core.
# usage: bench/robust.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
build="${1:-build}"
shared="${EPLB_SHARED:-../shared}"
dir="$shared/traces/sglang-deepseek-v3-logical-count"
if [ ! -d "$dir" ]; then
    echo "bench/robust.sh: $dir is absent: nothing to measure" >&2
    exit 77
fi
eplb="$build/eplb"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mapfile -t traces < <(ls "$dir"/*.json | sort)
bench_machine
echo "balancedness of the left-out workload under a plan of the other $((${#traces[@]} - 1)) (layers 3..60)"

balancedness() {  # placement trace
    "$eplb" evaluate --json --placement "$1" --trace "$2" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["metrics"]["balancedness"])'
}

table() {  # name config-args...
    local name="$1"
    shift
    echo
    echo "== $name: $* =="
    printf '%-24s %9s %9s %9s\n' "left out" deepseek balanced robust
    local sums=(0 0 0) worst=(1 1 1)
    for left in "${traces[@]}"; do
        local args=()
        for t in "${traces[@]}"; do [ "$t" = "$left" ] || args+=(--trace "$t"); done
        local row=() i=0
        for policy in deepseek balanced robust; do
            "$eplb" plan --backend cpu --policy "$policy" "${args[@]}" --layers 3:61 "$@" -o "$tmp/p.json" >/dev/null
            local b
            b=$(balancedness "$tmp/p.json" "$left")
            row+=("$b")
            sums[i]=$(awk -v s="${sums[i]}" -v b="$b" 'BEGIN { printf "%.10f", s + b }')
            worst[i]=$(awk -v w="${worst[i]}" -v b="$b" 'BEGIN { printf "%.10f", (b < w ? b : w) }')
            i=$((i + 1))
        done
        printf '%-24s %9.4f %9.4f %9.4f\n' "$(basename "$left" .json)" "${row[@]}"
    done
    local n=${#traces[@]}
    printf '%-24s %9.4f %9.4f %9.4f\n' mean "$(awk -v s="${sums[0]}" -v n="$n" 'BEGIN{print s/n}')" \
        "$(awk -v s="${sums[1]}" -v n="$n" 'BEGIN{print s/n}')" "$(awk -v s="${sums[2]}" -v n="$n" 'BEGIN{print s/n}')"
    printf '%-24s %9.4f %9.4f %9.4f\n' worst "${worst[@]}"
}

table "EP32 global" --config configs/deepseek-v3-ep32.json --num-nodes 1 --num-groups 1
table "EP72 global" --config configs/deepseek-v3-ep72.json

echo
echo "== time of one plan of 11 workloads, EP32 global, one core (wall, includes reading 11 traces) =="
args=()
for t in "${traces[@]:1}"; do args+=(--trace "$t"); done
for policy in balanced robust; do
    start=$(date +%s.%N)
    $bench_pin "$eplb" plan --backend cpu --policy "$policy" "${args[@]}" --config configs/deepseek-v3-ep32.json \
        --num-nodes 1 --num-groups 1 -o "$tmp/p.json" >/dev/null
    end=$(date +%s.%N)
    printf '%-9s %.2f s\n' "$policy" "$(awk -v a="$start" -v b="$end" 'BEGIN{print b-a}')"
done
