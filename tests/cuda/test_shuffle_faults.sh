#!/usr/bin/env bash
# NCCL faults in the one-process-per-GPU mode of `eplb shuffle` (suite nccl), with up to 4
# processes: a rank that never arrives (the others block in NCCL's init) and a rank killed in the
# middle of the passes. Every surviving rank must exit 4 within --timeout (plus the time to abort),
# never hang, name the lost rank (from the heartbeat files beside the id file) and no survivor as
# gone, leave a final heartbeat record (timed_out, or failed when NCCL reports the dead peer
# itself), and hold no GPU memory once it has exited.
# One world cannot hold both faults: NCCL's init waits for every rank, so while one never joins no
# pass starts and none can be killed in the middle of one; the two run in separate worlds of n.
# Exits 77 (skipped) with fewer than 2 GPUs.
# usage: test_shuffle_faults.sh PATH_TO_EPLB
set -u
eplb="$1"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    rm -rf "${dir:-}"
}
trap cleanup EXIT
source "$(dirname "$0")/shuffle_ranks_setup.sh"
timeout_s=5
slack_s=60  # aborting NCCL communicators and tearing down CUDA contexts takes a few seconds
fail=0

# alive PID: the process runs (an exited child stays a zombie until waited for: kill -0 is not enough).
alive() {
    local state
    state=$(ps -o stat= -p "$1" 2>/dev/null)
    [ -n "$state" ] && [ "${state:0:1}" != "Z" ]
}

# start_rank NAME RANK ARGS...: one rank in the background, its pid appended to pids.
start_rank() {
    local name=$1 r=$2
    shift 2
    RANK=$r WORLD_SIZE=$n LOCAL_RANK=$r "$eplb" shuffle --old "$dir/p1.json" --new "$dir/p2.json" \
        --timeout "$timeout_s" --id-file "$dir/id_$name" "$@" >"$dir/out_${name}_$r" 2>"$dir/err_${name}_$r" &
    pids+=($!)
}

# holds_gpu_memory PID: nvidia-smi lists PID among the processes holding GPU memory (false when
# nvidia-smi is absent or cannot list processes).
holds_gpu_memory() {
    command -v nvidia-smi >/dev/null || return 1
    nvidia-smi --query-compute-apps=pid --format=csv,noheader 2>/dev/null | tr -d ' ' | grep -qx "$1"
}

# check_message NAME R LOST WHAT: rank R's error names rank LOST as WHAT ("never joined",
# "stopped responding") and no survivor (0..n-2) as gone ("failed" may name one that NCCL's own
# error ended).
check_message() {
    local name=$1 r=$2 lost=$3 what=$4 s ok=1
    local err="$dir/err_${name}_$r"
    grep -q "rank $lost $what" "$err" || ok=0
    for ((s = 0; s < n - 1; s++)); do
        grep -Eq "rank $s (never joined|stopped responding|exited)" "$err" && ok=0
    done
    if [ "$ok" -eq 0 ]; then
        echo "FAIL ($name): rank $r does not name rank $lost as '$what' (and only it)"
        cat "$err"
        fail=1
    fi
}

# wait_survivors NAME FIRST_PID_INDEX COUNT START LOST WHAT: each of COUNT ranks must exit 4 with
# the timeout message naming rank LOST as WHAT, within timeout + slack of START (seconds since the
# epoch), leave a final heartbeat record and hold no GPU memory afterwards.
wait_survivors() {
    local name=$1 first=$2 count=$3 start=$4 lost=$5 what=$6 i code took
    for ((i = first; i < first + count; i++)); do
        local pid=${pids[$i]} r=$((i - first))
        # Bounded wait: a hung rank is killed here and reported, instead of hanging the suite.
        while alive "$pid" && [ $(($(date +%s) - start)) -lt $((timeout_s + slack_s)) ]; do
            sleep 0.2
        done
        if alive "$pid"; then
            echo "FAIL ($name): rank $r still running $((timeout_s + slack_s)) s later: it hangs"
            kill -9 "$pid"
            wait "$pid" 2>/dev/null
            fail=1
            continue
        fi
        wait "$pid"
        code=$?
        took=$(($(date +%s) - start))
        # The watchdog's "did not finish within --timeout", or NCCL reporting the dead peer itself.
        if [ "$code" -eq 4 ] && grep -qi "error" "$dir/err_${name}_$r"; then
            echo "ok ($name): rank $r exits 4 after ${took} s: $(tail -1 "$dir/err_${name}_$r")"
            check_message "$name" "$r" "$lost" "$what"
        else
            echo "FAIL ($name): rank $r exited $code after ${took} s"
            cat "$dir/out_${name}_$r" "$dir/err_${name}_$r"
            fail=1
        fi
        if ! grep -Eq "state=(timed_out|failed)" "$dir/id_$name.rank$r"; then
            echo "FAIL ($name): rank $r's heartbeat record is not final: $(cat "$dir/id_$name.rank$r")"
            fail=1
        fi
        for _ in $(seq 1 25); do holds_gpu_memory "$pid" || break; sleep 0.2; done  # the driver's teardown
        if holds_gpu_memory "$pid"; then
            echo "FAIL ($name): rank $r (pid $pid) still holds GPU memory after it exited"
            fail=1
        fi
    done
}

# 1. A peer that never arrives: ranks 0..n-2 start, rank n-1 does not. The id file exchange
# succeeds; NCCL's init then waits for the missing rank until --timeout aborts it.
pids=()
start=$(date +%s)
for r in $(seq 0 $((n - 2))); do start_rank missing "$r" --repeat 1 --peak-bytes 0; done
wait_survivors missing 0 $((n - 1)) "$start" $((n - 1)) "never joined (no heartbeat file)"

# 2. A rank that dies: all n start a long run (many passes); once all have joined (rank 0 removes
# the id file) and the passes are under way, the last rank is killed. The others block on it in
# NCCL until the pass's --timeout aborts the communicators.
pids=()
for r in $(seq 0 $((n - 1))); do
    start_rank dies "$r" --repeat 200000 --peak-bytes 0 --expert-bytes 1048583 --layers-in-flight 2
done
joined=0
for _ in $(seq 1 300); do
    if [ -e "$dir/id_dies" ]; then joined=1; fi
    if [ "$joined" -eq 1 ] && [ ! -e "$dir/id_dies" ]; then break; fi
    sleep 0.1
done
sleep 3  # NCCL init done, passes running
victim=${pids[$((n - 1))]}
if ! alive "$victim"; then
    echo "FAIL (dies): rank $((n - 1)) ended before it could be killed (raise --repeat)"
    cat "$dir/err_dies_$((n - 1))"
    fail=1
else
    kill -9 "$victim"
    wait "$victim" 2>/dev/null
    start=$(date +%s)
    wait_survivors dies 0 $((n - 1)) "$start" $((n - 1)) \
        "stopped responding [0-9.]* s ago in shuffle pass [0-9]* (pid $victim on host [^ ]* gone)"
fi
exit $fail
