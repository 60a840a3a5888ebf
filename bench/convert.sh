#!/usr/bin/env bash
# `eplb convert` of a 20,000-step DeepSeek-V3-shaped trace (58 MoE layers x 256 experts, float32
# .npy, 1.2 GB, made once by gen-trace) to every trace format, side by side with a baseline build
# (default: the `main` branch, built here from `git archive` with ccache). Prints per format the wall
# time and peak RSS (/usr/bin/time -v) of each build and the peak RSS over the input's size.
# usage: bench/convert.sh [BUILD_DIR] [BASELINE_REF]   (default: build main)
#   EPLB_BASELINE_BIN=path skips building the baseline; EPLB_BENCH_FORMATS="vllm npy" picks formats;
#   EPLB_BENCH_LIMIT=600 stops a run after that many seconds (shown as "> 600 s").
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
build="${1:-build}"
ref="${2:-main}"
tmp="${EPLB_BENCH_DIR:-${TMPDIR:-/tmp}/eplb_bench_convert}"
mkdir -p "$tmp"
npy="$tmp/deepseek-v3-20000.npy"
formats=(${EPLB_BENCH_FORMATS:-eplb sglang vllm csv npy trtllm})
limit="${EPLB_BENCH_LIMIT:-600}"

baseline="${EPLB_BASELINE_BIN:-}"
if [ -z "$baseline" ]; then
    src="$tmp/baseline-src"
    rm -rf "$src"
    mkdir -p "$src"
    git archive "$ref" | tar -x -C "$src"
    (cd "$src" && meson setup build -Dcuda=disabled >/dev/null && ninja -C build eplb >/dev/null)
    baseline="$src/build/eplb"
fi

echo "$(bench_machine), $(free -g | awk '/Mem:/ {print $2}') GB"
echo "baseline: $ref ($(git rev-parse --short "$ref")), new: $build/eplb ($(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo ', uncommitted changes'))"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ ! -f "$npy" ]; then
    "$build/eplb" gen-trace --first-layer 3 --num-steps 20000 --seed 1 --model DeepSeek-V3 -o "$npy" 2>/dev/null
fi
input_mb=$(($(stat -c %s "$npy") / 1000000))
cat "$npy" >/dev/null  # into the page cache: time the conversion, not the disk

# run BIN FORMAT: "wall_s peak_rss_mb output_mb" of one conversion (the output removed after);
# "> LIMIT ..." when it ran past the limit.
run() {
    local bin="$1" format="$2" out="$tmp/out" extra=()
    rm -rf "$out" "$out".*
    # The .npy has no layer ids: the formats that name model layers are told its first (gen-trace's).
    case "$format" in
        trtllm) out="$tmp/out"; extra=(--top-k 8 --first-layer 3) ;;
        sglang) out="$tmp/out.json"; extra=(--first-layer 3) ;;
        npy) out="$tmp/out.npy" ;;
        csv) out="$tmp/out.csv" ;;
        *) out="$tmp/out.json" ;;
    esac
    local status=0 wall rss size
    /usr/bin/time -v timeout "$limit" "$bin" convert --from "$npy" --to "$out" --format "$format" \
        "${extra[@]}" >/dev/null 2>"$tmp/time.txt" || status=$?
    if [ "$status" = 124 ]; then
        rm -rf "$out" "$tmp"/.out*
        echo "-1 -1 -1"
        return 0
    fi
    [ "$status" = 0 ] || { cat "$tmp/time.txt" >&2; return 1; }
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$tmp/time.txt" |
        awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$tmp/time.txt")
    size=$(du -sb "$out" | cut -f1)
    rm -rf "$out"
    echo "$wall $((rss / 1000)) $((size / 1000000))"
}

printf "%-7s %9s | %9s %11s | %9s %11s %9s\n" "format" "output" "$ref wall" "$ref RSS" "new wall" "new RSS" "RSS/input"
for f in "${formats[@]}"; do
    read -r bw brss _ <<<"$(run "$baseline" "$f")"
    read -r nw nrss nsize <<<"$(run "$build/eplb" "$f")"
    cell() { [ "$1" = -1 ] && printf "%9s %11s" "> $limit s" "-" || printf "%7.1f s %8d MB" "$1" "$2"; }
    printf "%-7s %6d MB | %s | %s %9.2f\n" "$f" "$nsize" "$(cell "$bw" "$brss")" "$(cell "$nw" "$nrss")" \
        "$(echo "scale=2; $nrss / $input_mb" | bc)"
done
echo "input: $npy, $input_mb MB (20,000 steps x 58 layers x 256 experts, float32)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
