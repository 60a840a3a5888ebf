#!/usr/bin/env bash
# Reading a long SGLang dump: the same int32 counts [20,000 steps][61 layers][256 experts] (DeepSeek-V3,
# 1.25 GB) as a torch.save .pt (stat mode, written by /usr/bin/python3 with Debian's python3-torch)
# and as a .npy, read by `eplb plan` and `eplb evaluate` (all 61 rows: no layer selection, which
# would copy the trace) and streamed by `eplb simulate`. Prints one line per case: wall seconds, CPU seconds and peak RSS
# (/usr/bin/time), and the RSS as a multiple of the tensor's bytes.
# usage: bench/pt.sh [BUILD_DIR]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
build="${1:-build}"
tmp="${EPLB_BENCH_DIR:-${TMPDIR:-/tmp}/eplb_bench_pt}"
mkdir -p "$tmp"
pt="$tmp/deepseek-v3-20000.pt"
npy="$tmp/deepseek-v3-20000.npy"
steps=20000 layers=61 experts=256
tensor_bytes=$((steps * layers * experts * 4))

echo "$(bench_machine)," \
    "$(free -g | awk '/Mem:/ {print $2}') GB RAM"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ ! -f "$pt" ] || [ ! -f "$npy" ]; then
    /usr/bin/python3 - "$pt" "$npy" "$steps" "$layers" "$experts" <<'EOF'
import sys
import numpy as np
import torch
pt, npy, steps, layers, experts = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
g = torch.Generator().manual_seed(1)
counts = torch.randint(0, 4096, (steps, layers, experts), dtype=torch.int32, generator=g)
counts[:, :3] = 0  # DeepSeek-V3's dense layers 0..2, as SGLang's recorder writes them
torch.save({"rank": 0, "logical_count": counts, "average_utilization_rate_over_window": None}, pt)
np.save(npy, counts.numpy())
EOF
fi
cat "$pt" "$npy" >/dev/null  # into the page cache: time the reader, not the disk
flags="--backend cpu --num-groups 8 --num-nodes 4 --num-gpus 32 --num-redundant-experts 32"

# case LABEL COMMAND...: wall, CPU (user + sys), peak RSS of the command.
case_line() {
    local label="$1"
    shift
    /usr/bin/time -f '%e %U %S %M' -o "$tmp/time.txt" "$build/eplb" "$@" >"$tmp/out.txt" 2>"$tmp/err.txt" ||
        { cat "$tmp/err.txt"; return 1; }
    read -r wall user sys rss_kb <"$tmp/time.txt"
    printf "%-34s %7.2f s %7.2f s %7.0f MiB %6.2fx\n" "$label" "$wall" "$(echo "$user + $sys" | bc)" \
        "$(echo "$rss_kb / 1024" | bc -l)" "$(echo "$rss_kb * 1024 / $tensor_bytes" | bc -l)"
}

printf "%-34s %9s %9s %11s %7s\n" "case (tensor $((tensor_bytes / 1048576)) MiB)" "wall" "cpu" "peak RSS" "/tensor"
case_line "plan --trace .npy" plan $flags --trace "$npy" -o "$tmp/plan_npy.json"
case_line "plan --trace .pt" plan $flags --trace "$pt" -o "$tmp/plan_pt.json"
case_line "evaluate --trace .npy" evaluate --placement "$tmp/plan_npy.json" --trace "$npy"
case_line "evaluate --trace .pt" evaluate --placement "$tmp/plan_pt.json" --trace "$pt"
case_line "simulate --trace .npy (streamed)" simulate $flags --trace "$npy" --csv "$tmp/sim_npy.csv"
case_line "simulate --trace .pt (streamed)" simulate $flags --trace "$pt" --csv "$tmp/sim_pt.csv"
cmp -s "$tmp/sim_npy.csv" "$tmp/sim_pt.csv" && echo "simulations identical: True" || echo "simulations identical: False"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
# Same counts, same plan (all but the input's name).
python3 - "$tmp/plan_npy.json" "$tmp/plan_pt.json" <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
a.pop("inputs"); b.pop("inputs")
print("placements identical:", a == b)
EOF
