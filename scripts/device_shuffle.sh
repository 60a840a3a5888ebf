#!/usr/bin/env bash
# On a GPU machine (4 x H100): fresh release build with -Dcuda=enabled, the nccl suite, then the
# shuffle side by side in one run: the vLLM-style baseline and the NCCL peaks of shared/baselines,
# and `eplb shuffle` on the same placements (NCCL and copy engines, one process and one process per
# GPU). Logs go to $OUT/logs.tgz (refreshed after every step; $OUT default ./device-out), the
# comparison table to $OUT/summary.txt and, last, to stdout.
# usage: EPLB_SHARED=/path/to/shared scripts/device_shuffle.sh
set -u
source "$(dirname "$0")/device_common.sh"
dest=${OUT:-$repo/device-out}
out=$(mktemp -d /tmp/device_shuffle.XXXXXX)  # logs; packed into $dest/logs.tgz after each step
shared=${EPLB_SHARED:-$repo/../shared}
probe=$shared/baselines/probe_placements.json
bytes=44040192
mkdir -p "$dest"
pack() { tar czf "$dest/logs.tgz" -C "$out" . 2>/dev/null; }
step() {
    pack
    echo "== $* ($(date +%T), ${SECONDS}s)"
}

step machine
{
    nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv
    nvidia-smi topo -m
    nvcc --version | tail -1
    echo "meson $(meson --version), pkg-config $(pkg-config --version 2>&1), $(nproc) cores"
    python3 -c 'import torch; print("torch", torch.__version__, "nccl", torch.cuda.nccl.version())'
    ls /usr/lib/x86_64-linux-gnu/libnccl* /usr/local/cuda/lib64/libnccl* 2>/dev/null
} 2>&1 | tee "$out/machine.txt"
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
ngpu=$(nvidia-smi -L | grep -c '^GPU')

cd "$repo"
build=$repo/build-device
step build
device_build "$build" "$out" -Dnccl=enabled
eplb=$build/eplb

# Our shuffle: JSON per configuration (name, then flags; ENV=... before the name sets variables).
run_eplb() {
    local name=$1
    shift
    step "eplb shuffle $name: $*"
    env $EXTRA_ENV timeout 120 "$eplb" shuffle --probe "$probe" --expert-bytes $bytes --json "$@" \
        >"$out/$name.json" 2>"$out/$name.err"
    echo "exit $?"
    tail -3 "$out/$name.err"
}
EXTRA_ENV=
run_eplb auto_k4 --layers-in-flight 4
run_eplb nccl_k4 --transport nccl --layers-in-flight 4
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

run_eplb nccl_k8 --transport nccl --layers-in-flight 8
run_eplb nccl_k4_c0 --transport nccl --layers-in-flight 4 --nccl-p2p-chunk 0
run_eplb ce_k8 --transport ce --layers-in-flight 8

step tests: suites nccl, unit, cli
timeout 200 meson test -C "$build" --suite nccl --suite unit --suite cli --print-errorlogs >"$out/test.log" 2>&1
test_rc=$?
grep -E "^ *[0-9]+/[0-9]+ |^Ok:|^Fail:|^Skipped:" "$out/test.log" | tail -20

step summary
python3 - "$out" "$gpu" "$test_rc" <<'EOF' | tee "$dest/summary.txt"
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
pack
