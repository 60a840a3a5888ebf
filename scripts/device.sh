#!/usr/bin/env bash
# The runs on the GPU machine, one sub-command each (`scripts/device.sh help` lists them), and the
# shuffle placements they share; every run builds the same way and keeps NVLink multicast off.
# usage: EPLB_SHARED=/path/to/shared scripts/device.sh all|shuffle|sweep|simulate|cuda-planner ...
set -u
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$repo/build-device  # every GPU run's fresh release build

usage() {
    cat <<'EOF'
usage: scripts/device.sh COMMAND [ARGS...]   (EPLB_SHARED: the shared folder, default ../shared;
       logs and summaries go to $OUT, default ./device-out)

GPU runs (each a fresh release build with CUDA in build-device/):
  all             the whole GPU check on any GPU count: unit, cli, cuda and nccl suites; the CUDA
                  planner benchmark and `eplb bench --backend cuda`; `eplb shuffle` beside the
                  vLLM-style baseline on placements for this machine's GPU count (probes); `eplb
                  simulate` on CPU and CUDA. Logs in $OUT/logs.tgz, the table in $OUT/summary.txt.
  shuffle         (4 GPUs) the nccl suite and `eplb shuffle` on shared/baselines/probe_placements.json
                  (NCCL and copy engines, one process and one process per GPU) beside the vLLM-style
                  baseline and the NCCL and copy-engine peaks; a comparison table last.
  sweep ["FLAGS"...]
                  `eplb shuffle` under each flag set (NAME=value words set the environment) beside
                  the baseline, on the probes' deepseek placements; a table last. Default flag sets:
                  "--step-experts 0" "" "--transport nccl --layers-in-flight 8 --step-experts 0"
                  "--transport nccl --layers-in-flight 8"
  simulate        unit and cuda suites, then bench/simulate.sh with --backend cpu and cuda.
  cuda-planner    unit and cuda suites, the CUDA planner benchmark, compute-sanitizer on the kernels
                  and a short ncu profile. *.json in ../traces are copied where the tests look.

Placements (run anywhere):
  probes EPLB TRACES_DIR NGPU DIR
                  shuffle placements for NGPU GPUs (DeepSeek-V3: 256 experts in 8 groups, 288 slots,
                  one node) planned by EPLB from prefill_in1024 -> prefill_in4096, as
                  shared/baselines/probe_placements.json was made (at 4 GPUs `deepseek` reproduces
                  it): DIR/probe_deepseek.json (deepseek from scratch) and DIR/probe_migration.json
                  (the new placement migration-aware: balanced, --previous, a price per move).
                  8 layers, 4 below 4 GPUs (a layer is 6.3 GB per GPU on 2). Prints the layer range.
  probe OLD.json NEW.json OUT.json
                  two eplb placements (eplb.placement/v1, same config and layers) as one probe file,
                  the format vllm_style_shuffle.py and `eplb shuffle --probe` take.

The GPU machine (Ubuntu 24.04) has no libzip (the .pt reader's) and reaches no package registry: a
run carries Debian's libzip4 and libzip-dev in .debs/ (`mkdir .debs && cd .debs && apt-get download
libzip4 libzip-dev`, then carry [".debs"]); they are unpacked under /tmp, never over /. Its image has
yaml-cpp (0.8.0, the TensorRT-LLM YAML reader's); one without it takes libyaml-cpp0.7 and
libyaml-cpp-dev from .debs/ the same way.
EOF
}

# unpack_debs NAME GLOB: when pkg-config lacks NAME, unpacks .debs/GLOB into /tmp/eplb-NAME and
# points pkg-config and the loader there (see usage).
unpack_debs() {
    local name=$1 glob=$2 root=/tmp/eplb-$1
    pkg-config --exists "$name" 2>/dev/null && return 0
    # shellcheck disable=SC2086  # GLOB is a pattern
    ls "$repo"/.debs/$glob >/dev/null 2>&1 || return 0
    for deb in "$repo"/.debs/$glob; do dpkg -x "$deb" "$root"; done
    local lib_dir=$root/usr/lib/x86_64-linux-gnu
    sed -i "s|^prefix=.*|prefix=$root/usr|" "$lib_dir/pkgconfig/$name.pc"
    export PKG_CONFIG_PATH="$lib_dir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
    export LD_LIBRARY_PATH="$lib_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
}

# The environment every GPU run keeps. NVLink multicast stays off, always (it can take the host's
# GPUs out of service); libzip and yaml-cpp from .debs/ where the machine has none (see usage).
device_env() {
    export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
    export PATH="/usr/local/cuda/bin:$PATH" PYTHONUNBUFFERED=1
    unpack_debs libzip 'libzip*.deb'
    unpack_debs yaml-cpp 'libyaml-cpp*.deb'
}

# device_build BUILD LOGDIR [MESON_OPTION ...]: a fresh release build with CUDA in BUILD (logs
# LOGDIR/setup.log and build.log); ninja builds $DEVICE_TARGETS (default: everything). Exits 1
# with the log's errors when a step fails.
device_build() {
    local build=$1 logs=$2
    shift 2
    rm -rf "$build"
    if ! meson setup "$build" -Dcuda=enabled -Dbuildtype=release "$@" >"$logs/setup.log" 2>&1; then
        tail -40 "$logs/setup.log"
        exit 1
    fi
    # shellcheck disable=SC2086  # DEVICE_TARGETS is a list of words
    if ! ninja -C "$build" ${DEVICE_TARGETS:-} >"$logs/build.log" 2>&1; then
        grep -E "error|FAILED" -A5 "$logs/build.log" | head -60
        exit 1
    fi
}

# step NAME...: a progress line; with pack_each_step=1 the logs in $out are packed into
# $dest/logs.tgz first, so that what ran so far comes back even if a later step hangs.
pack_each_step=0
pack() { tar czf "$dest/logs.tgz" -C "$out" . 2>/dev/null; }
step() {
    [ "$pack_each_step" = 1 ] && pack
    echo "== $* ($(date +%T), ${SECONDS}s)"
}

gpu_name() { nvidia-smi --query-gpu=name --format=csv,noheader | head -1; }
gpu_count() { nvidia-smi -L | grep -c '^GPU'; }

# probe OLD NEW OUT: see usage.
cmd_probe() {
    [ $# -eq 3 ] || { usage >&2; exit 2; }
    python3 - "$@" <<'EOF'
import json, os, sys

def load(path):
    try:
        with open(path) as f:
            p = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"{path}: {e}")
    if p.get("schema") != "eplb.placement/v1":
        sys.exit(f"{path}: schema is {p.get('schema')!r}, expected 'eplb.placement/v1'")
    return p

old_path, new_path, out_path = sys.argv[1:]
old, new = load(old_path), load(new_path)
for k in ("num_physical_experts", "num_groups", "num_nodes", "num_gpus"):
    if old["config"][k] != new["config"][k]:
        sys.exit(f"{new_path}: {k} is {new['config'][k]}, {old_path} has {old['config'][k]}")
if old["layers"] != new["layers"]:
    sys.exit(f"{new_path}: layers {new['layers']} differ from {old_path}'s {old['layers']}")
c = old["config"]
probe = {
    "layers": old["layers"],
    "num_replicas": c["num_physical_experts"],
    "num_groups": c["num_groups"],
    "num_nodes": c["num_nodes"],
    "num_gpus": c["num_gpus"],
    "old_trace": os.path.basename(old["inputs"]["trace"]),
    "new_trace": os.path.basename(new["inputs"]["trace"]),
    "old": old["phy2log"],
    "new": new["phy2log"],
}
tmp = out_path + ".tmp"
with open(tmp, "w") as f:
    json.dump(probe, f)
os.replace(tmp, out_path)
EOF
}

# probes EPLB TRACES_DIR NGPU DIR: see usage. A subshell: the first failure ends it.
cmd_probes() (
    set -eu
    [ $# -eq 4 ] || { usage >&2; exit 2; }
    local eplb=$1 traces=$2 ngpu=$3 dir=$4 layers=3:11
    [ "$ngpu" -lt 4 ] && layers=3:7
    local shape=(--num-groups 8 --num-nodes 1 --num-gpus "$ngpu" --num-physical-experts 288 --layers "$layers"
        --backend cpu)
    mkdir -p "$dir"
    "$eplb" plan --trace "$traces/prefill_in1024.json" "${shape[@]}" -o "$dir/old.json" >/dev/null
    "$eplb" plan --trace "$traces/prefill_in4096.json" "${shape[@]}" -o "$dir/new_deepseek.json" >/dev/null
    "$eplb" plan --trace "$traces/prefill_in4096.json" "${shape[@]}" --policy balanced --previous "$dir/old.json" \
        --move-cost 0.0001 -o "$dir/new_migration.json" >"$dir/plan_migration.txt"
    for p in deepseek migration; do
        cmd_probe "$dir/old.json" "$dir/new_$p.json" "$dir/probe_$p.json"
    done
    echo "$layers"
)

cmd_all() {
    dest=${OUT:-$repo/device-out}
    out=$(mktemp -d /tmp/device_all.XXXXXX)  # logs; packed into $dest/logs.tgz at the end (few files come back)
    export EPLB_SHARED=${EPLB_SHARED:-$repo/../shared}
    local traces=$EPLB_SHARED/traces/sglang-deepseek-v3-logical-count
    local trace=$traces/prefill_in4096.json
    mkdir -p "$dest"

    step machine
    nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv | tee "$out/machine.txt"
    local gpu ngpu layers
    gpu=$(gpu_name)
    cd "$repo"
    step build
    device_build "$build" "$out" -Dnccl=enabled
    local eplb=$build/eplb

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
    # migration-aware (probes), each shuffled beside the baseline.
    ngpu=$(gpu_count)
    layers=$(cmd_probes "$eplb" "$traces" "$ngpu" "$out")
    local probes=(deepseek migration) p b
    for p in "${probes[@]}"; do
        timeout 150 python3 "$EPLB_SHARED/baselines/vllm_style_shuffle.py" "$out/probe_$p.json" 44040192 \
            >"$out/baseline_$p.txt" 2>&1
        timeout 90 "$eplb" shuffle --probe "$out/probe_$p.json" --expert-bytes 44040192 >"$out/shuffle_auto_$p.txt" 2>&1
        timeout 90 "$eplb" shuffle --probe "$out/probe_$p.json" --expert-bytes 44040192 --transport nccl \
            --layers-in-flight 8 >"$out/shuffle_nccl_$p.txt" 2>&1
    done

    step lone rank
    # Any GPU count: rank 0 of a 2-rank world alone (rank 1 never starts). NCCL's init waits for
    # rank 1 until --timeout; the survivor must exit 4 and name rank 1 as never joined.
    local lone=/tmp/device_lone
    rm -rf "$lone" && mkdir -p "$lone"
    cmd_probes "$eplb" "$traces" 2 "$lone" >/dev/null
    local t0=$SECONDS
    RANK=0 WORLD_SIZE=2 LOCAL_RANK=0 timeout 120 "$eplb" shuffle --probe "$lone/probe_deepseek.json" \
        --id-file "$lone/id" --timeout 5 --repeat 1 --peak-bytes 0 >"$out/lone_rank.txt" 2>&1
    local code=$?
    if [ "$code" -eq 4 ] && grep -q "rank 1 never joined" "$out/lone_rank.txt"; then
        echo "ok: exit 4 after $((SECONDS - t0)) s, rank 1 named as never joined" >>"$out/lone_rank.txt"
    else
        echo "FAIL: exit $code after $((SECONDS - t0)) s (expected 4 naming rank 1)" >>"$out/lone_rank.txt"
    fi

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
        echo "--- a lone rank of 2 (rank 1 never starts): exit 4 naming rank 1"; cat "$out/lone_rank.txt"
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
}

# shuffle_eplb NAME FLAGS...: `eplb shuffle` on $probe as JSON to $out/NAME.json ($EXTRA_ENV: NAME=value
# words before it).
shuffle_eplb() {
    local name=$1
    shift
    step "eplb shuffle $name: $*"
    # shellcheck disable=SC2086  # EXTRA_ENV is a list of words
    env $EXTRA_ENV timeout 120 "$eplb" shuffle --probe "$probe" --expert-bytes $bytes --json "$@" \
        >"$out/$name.json" 2>"$out/$name.err"
    echo "exit $?"
    tail -3 "$out/$name.err"
}

# shuffle_summary OUT GPU TEST_RC: the comparison table of cmd_shuffle from its logs.
shuffle_summary() {
    python3 - "$@" <<'EOF'
import json, os, re, sys
out, gpu, test_rc = sys.argv[1], sys.argv[2], sys.argv[3]
rows = []
def text(name):
    p = os.path.join(out, name)
    return open(p).read() if os.path.exists(p) else ""
b = text("baseline.txt")
m = re.search(r"vllm-style shuffle: (\d+) layers.*?, ([\d.]+) ms; max experts received by one GPU (\d+) = ([\d.]+) GB -> ([\d.]+) GB/s.*?wrong bytes (\d+)", b)
ring_torch = re.search(r"p2p ring 1GiB each way per GPU: [\d.]+ ms -> ([\d.]+) GB/s", b)
p2p = text("p2p_peak.txt")
ring = re.search(r"ring: [\d.]+ ms .*?-> ([\d.]+) GB/s", p2p)
allp = re.search(r"all-pairs: [\d.]+ ms .*?-> ([\d.]+) GB/s", p2p)
ce = re.search(r"copy-engine ring: [\d.]+ ms .*?-> ([\d.]+) GB/s", text("ce_peak.txt"))
print(f"card: {gpu}; torch NCCL ring (p2p_peak.py) {ring.group(1) if ring else '?'} GB/s, all-pairs "
      f"{allp.group(1) if allp else '?'} GB/s; torch copy-engine ring {ce.group(1) if ce else '?'} GB/s")
if m:
    t, gbs = float(m.group(2)), float(m.group(5))
    peak = float(ring_torch.group(1)) if ring_torch else 0
    rows.append(("vllm_style_shuffle.py", "torch nccl", "-", f"{t:.1f}", "-", f"{gbs:.1f}",
                 f"{peak:.1f}", f"{100*gbs/peak:.1f}%" if peak else "-", "-", m.group(6)))
default_peak = None
for name in ["auto_k4", "nccl_k4", "mp_k4", "nccl_k8", "nccl_k4_c0", "ce_k8"]:
    p = os.path.join(out, name + ".json")
    try:
        j = json.load(open(p))
        r = j["run"]
    except Exception:
        err = text(name + ".err").strip().splitlines() or ["no output"]
        rows.append((f"eplb {name}", "failed: " + err[-1][:70], "", "", "", "", "", "", "", ""))
        continue
    c = j["config"]
    transport = r.get("transport", c["transport"])
    tr = transport + ("/proc" if name.startswith("mp") else "")
    if transport == "nccl":
        tr += " chunk " + r.get("nccl_p2p_chunk", "?")
    if default_peak is None and transport == "ce":
        default_peak = r["ring_peak_gbps"]  # NCCL's own settings: the ce transport changes none
    rows.append((f"eplb {name}", tr, f"{c['layers_in_flight']}/{c['group_size']}", f"{r['min_ms']:.1f}",
                 f"{r['median_ms']:.1f}", f"{r['busiest_gbps']:.1f}", f"{r['ring_peak_gbps']:.1f}",
                 f"{100*r['fraction_of_ring_peak']:.1f}%",
                 f"{100*r['busiest_gbps']/default_peak:.1f}%" if default_peak else "-", str(r["wrong_bytes"])))
    if name in ("auto_k4", "nccl_k4"):
        print(f"eplb NCCL {r['nccl_version']}: ring peak {r['ring_peak_gbps']:.1f} GB/s, in {c['expert_bytes']}-byte "
              f"ops {r['ring_chunked_gbps']:.1f} GB/s, copy-engine ring {r['ce_peak_gbps']:.1f} GB/s; bound at the "
              f"ring peak {r['bound_ms_at_ring_peak']:.1f} ms; busiest GPU {j['plan']['max_received']} experts; "
              f"staging {j['plan']['max_staging_bytes']/1e9:.2f} GB per GPU")
head = ("run", "transport", "K/group", "best ms", "median ms", "GB/s busiest", "ring peak GB/s", "of peak",
        "of default peak", "wrong")
w = [max(len(str(x[i])) for x in rows + [head]) for i in range(len(head))]
for x in [head] + rows:
    print("  ".join(str(v).ljust(w[i]) if i == 0 else str(v).rjust(w[i]) for i, v in enumerate(x)))
print("GB/s busiest = bytes received by the busiest GPU / best pass; ring peak = this run's NCCL ring (1 GiB each way,\n"
      "same NCCL settings); default peak = the ring with NCCL's own settings, measured by the ce run")
print(f"tests (nccl, unit, cli suites): exit {test_rc}")
EOF
}

cmd_shuffle() {
    dest=${OUT:-$repo/device-out}
    out=$(mktemp -d /tmp/device_shuffle.XXXXXX)  # logs; packed into $dest/logs.tgz after each step
    pack_each_step=1
    local shared=${EPLB_SHARED:-$repo/../shared}
    probe=$shared/baselines/probe_placements.json
    bytes=44040192
    mkdir -p "$dest"

    step machine
    {
        nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv
        nvidia-smi topo -m
        nvcc --version | tail -1
        echo "meson $(meson --version), pkg-config $(pkg-config --version 2>&1), $(nproc) cores"
        python3 -c 'import torch; print("torch", torch.__version__, "nccl", torch.cuda.nccl.version())'
        ls /usr/lib/x86_64-linux-gnu/libnccl* /usr/local/cuda/lib64/libnccl* 2>/dev/null
    } 2>&1 | tee "$out/machine.txt"
    local gpu ngpu r test_rc
    gpu=$(gpu_name)
    ngpu=$(gpu_count)

    cd "$repo"
    step build
    device_build "$build" "$out" -Dnccl=enabled
    eplb=$build/eplb

    EXTRA_ENV=
    shuffle_eplb auto_k4 --layers-in-flight 4
    shuffle_eplb nccl_k4 --transport nccl --layers-in-flight 4
    timeout 120 "$eplb" shuffle --probe "$probe" --expert-bytes $bytes --layers-in-flight 4 --repeat 2 \
        >"$out/auto_k4.txt" 2>&1
    timeout 120 "$eplb" shuffle --probe "$probe" --expert-bytes $bytes --transport nccl --layers-in-flight 4 \
        --repeat 2 >"$out/nccl_k4.txt" 2>&1

    step baseline vllm_style_shuffle.py
    timeout 150 python3 "$shared/baselines/vllm_style_shuffle.py" "$probe" $bytes >"$out/baseline.txt" 2>&1
    echo "exit $?"
    tail -3 "$out/baseline.txt"
    step baseline p2p_peak.py and ce_peak.py
    timeout 90 python3 "$shared/baselines/p2p_peak.py" >"$out/p2p_peak.txt" 2>&1
    timeout 60 python3 "$shared/baselines/ce_peak.py" >"$out/ce_peak.txt" 2>&1
    cat "$out/p2p_peak.txt" "$out/ce_peak.txt" | grep -v Warning | tail -4

    step "eplb shuffle, one process per GPU (nccl, 4 layers in flight)"
    rm -f /tmp/eplb_shuffle_id
    for r in $(seq 0 $((ngpu - 1))); do
        RANK=$r WORLD_SIZE=$ngpu LOCAL_RANK=$r timeout 120 "$eplb" shuffle --probe "$probe" --expert-bytes $bytes \
            --json --layers-in-flight 4 --id-file /tmp/eplb_shuffle_id >"$out/mp_k4.rank$r.json" 2>"$out/mp_k4.rank$r.err" &
    done
    wait
    cp "$out/mp_k4.rank0.json" "$out/mp_k4.json"
    cat "$out"/mp_k4.rank*.err | tail -5

    shuffle_eplb nccl_k8 --transport nccl --layers-in-flight 8
    shuffle_eplb nccl_k4_c0 --transport nccl --layers-in-flight 4 --nccl-p2p-chunk 0
    shuffle_eplb ce_k8 --transport ce --layers-in-flight 8

    step tests: suites nccl, unit, cli
    timeout 200 meson test -C "$build" --suite nccl --suite unit --suite cli --print-errorlogs >"$out/test.log" 2>&1
    test_rc=$?
    grep -E "^ *[0-9]+/[0-9]+ |^Ok:|^Fail:|^Skipped:" "$out/test.log" | tail -20

    step summary
    shuffle_summary "$out" "$gpu" "$test_rc" | tee "$dest/summary.txt"
    pack
}

cmd_sweep() {
    dest=${OUT:-$repo/device-out}
    out=$(mktemp -d /tmp/device_sweep.XXXXXX)
    local shared=${EPLB_SHARED:-$repo/../shared}
    [ $# -eq 0 ] && set -- "--step-experts 0" "" "--transport nccl --layers-in-flight 8 --step-experts 0" \
        "--transport nccl --layers-in-flight 8"
    mkdir -p "$dest"
    cd "$repo"
    DEVICE_TARGETS=eplb device_build "$build" "$out" -Dnccl=enabled -Dtests=false
    local eplb=$build/eplb gpu ngpu layers
    gpu=$(gpu_name)
    ngpu=$(gpu_count)
    layers=$(cmd_probes "$eplb" "$shared/traces/sglang-deepseek-v3-logical-count" "$ngpu" "$out")
    local probe=$out/probe_deepseek.json

    timeout 150 python3 "$shared/baselines/vllm_style_shuffle.py" "$probe" 44040192 >"$out/baseline.txt" 2>&1
    local rows=() i=0 flags log vars args word steps direct result wrong
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
}

# build_and_test_cuda SECONDS: a fresh build in $build, then the unit and cuda suites within SECONDS
# (test_rc: their exit status; the log's tail printed).
build_and_test_cuda() {
    cd "$repo"
    step build
    device_build "$build" "$out"

    step tests
    timeout "$1" meson test -C "$build" --suite unit --suite cuda --print-errorlogs >"$out/test.log" 2>&1
    test_rc=$?
    tail -25 "$out/test.log"
}

cmd_simulate() {
    out=${OUT:-$repo/device-out}
    mkdir -p "$out"

    step machine
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt"
    local gpu bench_rc
    gpu=$(gpu_name)
    nproc

    build_and_test_cuda 300

    step benchmark
    EPLB_BENCH_DIR="$out/bench-data" timeout 420 bench/simulate.sh "$build" cpu cuda >"$out/bench.txt" 2>&1
    bench_rc=$?
    rm -rf "$out/bench-data"  # the 1.2 GB series does not need to come back

    step summary
    echo "tests: $(python3 scripts/count_tests.py "$build/meson-logs/testlog.json")"
    echo "gpu: $gpu; test rc=$test_rc; bench rc=$bench_rc"
    cat "$out/bench.txt"
}

cmd_cuda_planner() {
    out=${OUT:-$repo/device-out}
    mkdir -p "$out"
    local shared
    shared=$(cd "$repo/.." && pwd)/shared
    if ls "$repo"/../traces/*.json >/dev/null 2>&1; then
        mkdir -p "$shared/traces/sglang-deepseek-v3-logical-count"
        cp "$repo"/../traces/*.json "$shared/traces/sglang-deepseek-v3-logical-count/"
    fi
    export EPLB_SHARED=$shared

    step machine
    nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv | tee "$out/gpu.txt"
    echo "transparent hugepages: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)"
    local gpu bench_rc tool
    gpu=$(gpu_name)
    nvcc --version | tail -1; meson --version; nproc

    build_and_test_cuda 240

    step benchmark
    timeout 120 "$build/tests/cuda/bench_cuda_planner" >"$out/bench.txt" 2>&1
    bench_rc=$?
    cat "$out/bench.txt"

    step compute-sanitizer
    local san="$out/sanitizer.txt"
    : >"$san"
    for tool in memcheck racecheck synccheck; do
        echo "--- $tool" >>"$san"
        timeout 120 compute-sanitizer --tool "$tool" "$build/tests/cuda/test_cuda" -tc='*edge values*' >>"$san" 2>&1
        echo "rc=$?" >>"$san"
        timeout 120 compute-sanitizer --tool "$tool" "$build/tests/cuda/test_cuda" -tc='*empty slots*' >>"$san" 2>&1
        echo "rc=$?" >>"$san"
    done
    grep -E "^---|ERROR SUMMARY|RACECHECK SUMMARY|rc=" "$san"

    step ncu
    ncu_profile "$build" "$out/ncu.txt"

    step summary
    echo "tests: $(python3 scripts/count_tests.py "$build/meson-logs/testlog.json")"
    echo "gpu: $gpu; test rc=$test_rc; bench rc=$bench_rc"
    grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$san" | sort | uniq -c
    grep -E "^  [a-z_]*plan_deepseek|^  [a-z_]*score_rows|plan_deepseek_kernel|score_rows_kernel|Duration|Compute \(SM\) Throughput|Achieved Occupancy|Theoretical Occupancy|Issue Slots Busy|Registers Per Thread|Block Limit|Warp Cycles Per Issued|bank_conflicts|stalled_(long_scoreboard|short_scoreboard|mio_throttle|wait|not_selected|math_pipe|branch|barrier|no_instr)|inst_executed.sum" "$out/ncu.txt" | sed 's/  */ /g' | head -90
    sed -n '/^case/,$p' "$out/bench.txt"
}

# ncu_profile BUILD LOG: a short Nsight Compute profile of the planner kernels (sections and the
# warp stall reasons) into LOG.
ncu_profile() {
    local build=$1 log=$2 ncu_bin stalls="" s
    ncu_bin=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
    for s in long_scoreboard short_scoreboard mio_throttle lg_throttle wait barrier membar math_pipe_throttle \
        not_selected selected branch_resolving dispatch_stall no_instruction; do
        stalls="$stalls,smsp__average_warps_issue_stalled_${s}_per_issue_active.ratio"
    done
    if [ -n "$ncu_bin" ]; then
        timeout 200 "$ncu_bin" --clock-control none --kernel-name regex:'plan_deepseek|score_rows' --launch-count 3 \
            --section SpeedOfLight --section LaunchStats --section Occupancy --section SchedulerStats \
            --section WarpStateStats --section ComputeWorkloadAnalysis \
            --metrics "l1tex__data_bank_conflicts_pipe_lsu_mem_shared.sum,smsp__inst_executed.sum${stalls}" \
            "$build/tests/cuda/bench_cuda_planner" --profile >"$log" 2>&1
        echo "ncu rc=$?"
    else
        echo "ncu not found" | tee "$log"
    fi
}

command=${1:-help}
[ $# -gt 0 ] && shift
case "$command" in
    all) device_env; cmd_all "$@" ;;
    shuffle) device_env; cmd_shuffle "$@" ;;
    sweep) device_env; cmd_sweep "$@" ;;
    simulate) device_env; cmd_simulate "$@" ;;
    cuda-planner) device_env; cmd_cuda_planner "$@" ;;
    probes) cmd_probes "$@" ;;
    probe) cmd_probe "$@" ;;
    help | -h | --help) usage ;;
    *)
        echo "scripts/device.sh: unknown command '$command'" >&2
        usage >&2
        exit 2
        ;;
esac
