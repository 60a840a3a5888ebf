#!/usr/bin/env python3
"""How `eplb plan` and `eplb evaluate` grow with the model: wall time and peak memory (max RSS) of
each command, the placement file's size, at DeepSeek-V3 scale and up to 1,000 layers x 4,096
experts on 1,024 GPUs. Each size runs in one process per command, so the numbers include reading
the trace and writing the output.

usage: bench/scale.py [--eplb build/eplb] [--sizes deepseek-v3,medium,large] [--keep DIR]
"""
import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

# name: (layers, experts, redundant, gpus, nodes, groups)
SIZES = {
    "deepseek-v3": (58, 256, 32, 32, 4, 8),
    "medium": (250, 1024, 256, 256, 32, 1),
    "large": (1000, 4096, 1024, 1024, 128, 1),
}


def timed(cmd):
    """Runs cmd; returns (seconds, max RSS in MB) of that child alone."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr.read().decode()}")
    return seconds, usage.ru_maxrss / 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--eplb", default="build/eplb")
    ap.add_argument("--sizes", default=",".join(SIZES))
    ap.add_argument("--keep", help="directory for the traces and placements (default: a temporary one)")
    args = ap.parse_args()
    work = args.keep or tempfile.mkdtemp(prefix="eplb_scale_")
    os.makedirs(work, exist_ok=True)
    print(f"{'size':12} {'layers':>6} {'experts':>7} {'slots':>6} {'gpus':>5}  {'plan s':>7} {'plan MB':>8} "
          f"{'file MB':>8}  {'evaluate s':>10} {'evaluate MB':>11}")
    for name in args.sizes.split(","):
        layers, experts, redundant, gpus, nodes, groups = SIZES[name]
        trace = os.path.join(work, f"{name}.npy")
        out = os.path.join(work, f"{name}_plan.json")
        if not os.path.exists(trace):
            timed([args.eplb, "gen-trace", "--num-layers", str(layers), "--num-experts", str(experts),
                   "--tokens", "65536", "-o", trace])
        plan_s, plan_mb = timed([args.eplb, "plan", "--backend", "cpu", "--trace", trace, "--num-groups",
                                 str(groups), "--num-nodes", str(nodes), "--num-gpus", str(gpus),
                                 "--num-redundant-experts", str(redundant), "-o", out])
        size_mb = os.path.getsize(out) / 1e6
        eval_s, eval_mb = timed([args.eplb, "evaluate", "--placement", out, "--trace", trace])
        print(f"{name:12} {layers:>6} {experts:>7} {experts + redundant:>6} {gpus:>5}  {plan_s:>7.2f} "
              f"{plan_mb:>8.0f} {size_mb:>8.1f}  {eval_s:>10.2f} {eval_mb:>11.0f}")
        if not args.keep:
            os.remove(out)
            os.remove(trace)
    if not args.keep:
        os.rmdir(work)


if __name__ == "__main__":
    main()
