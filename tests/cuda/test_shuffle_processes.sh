#!/usr/bin/env bash
# One process per GPU through the CLI (suite nccl): ranks from RANK/WORLD_SIZE/LOCAL_RANK join
# through an id file and verify zero wrong bytes, leaving no id or heartbeat file; a rank whose
# peers never come exits 4 after --timeout instead of hanging, naming rank 0 as never joined. Exits 77 (skipped) with fewer than 2 GPUs.
# usage: test_shuffle_processes.sh PATH_TO_EPLB
set -u
eplb="$1"
trap 'rm -rf "${dir:-}"' EXIT
source "$(dirname "$0")/shuffle_ranks_setup.sh"
args=(shuffle --old "$dir/p1.json" --new "$dir/p2.json" --expert-bytes 1048583 --peak-bytes 8388608 --repeat 1
      --layers-in-flight 2)
fail=0
pids=()
for r in $(seq 0 $((n - 1))); do
    RANK=$r WORLD_SIZE=$n LOCAL_RANK=$r "$eplb" "${args[@]}" --timeout 120 --id-file "$dir/id" >"$dir/out$r" \
        2>"$dir/err$r" &
    pids+=($!)
done
for r in "${!pids[@]}"; do
    if ! wait "${pids[$r]}"; then
        echo "FAIL: rank $r exited non-zero"
        cat "$dir/err$r"
        fail=1
    fi
done
if grep -q "^wrong     0 bytes" "$dir/out0"; then
    echo "ok: $n processes, zero wrong bytes"
else
    echo "FAIL: rank 0 did not report zero wrong bytes"
    cat "$dir/out0" "$dir/err0"
    fail=1
fi
[ -e "$dir/id" ] && { echo "FAIL: the id file was not removed"; fail=1; }
# A clean run removes every rank's heartbeat file (<id-file>.rank<R>).
if ls "$dir"/id.rank* >/dev/null 2>&1; then
    echo "FAIL: heartbeat files left after a clean run: $(ls "$dir"/id.rank*)"
    fail=1
fi

# Rank 1 alone: its peers never come, the id file never appears.
start=$(date +%s)
"$eplb" "${args[@]}" --timeout 3 --id-file "$dir/id_lonely" --rank 1 --world-size "$n" >"$dir/out_t" 2>"$dir/err_t"
code=$?
took=$(($(date +%s) - start))
if [ "$code" -eq 4 ] && grep -q "did not finish within --timeout 3 s" "$dir/err_t" && [ "$took" -lt 30 ] &&
    grep -q "rank 0 never joined (no heartbeat file)" "$dir/err_t" &&
    grep -q "state=timed_out" "$dir/id_lonely.rank1"; then
    echo "ok: a lonely rank exits 4 after ${took} s"
else
    echo "FAIL: lonely rank exit $code after ${took} s"
    cat "$dir/err_t"
    fail=1
fi
exit $fail
