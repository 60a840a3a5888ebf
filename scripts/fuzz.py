#!/usr/bin/env python3
"""Long fuzzing runs: every libFuzzer harness of a -Dfuzz=true build for SECONDS each, JOBS at a
time, with the flags the `fuzz` test suite gives it (read from `meson introspect`, so this list
never drifts from tests/fuzz/meson.build). Prints a table of executions, executions per second,
coverage, corpus growth and crashes; logs go to BUILD/meson-logs/fuzz-<harness>.log and crashing
inputs to BUILD/tests/fuzz/artifacts/.

usage: scripts/fuzz.py [--build build-san] [--seconds 600] [--jobs 2] [harness ...]
"""
import argparse
import concurrent.futures
import json
import os
import re
import subprocess
import sys


def fuzz_tests(build):
    out = subprocess.run(["meson", "introspect", "--tests", build], check=True, capture_output=True, text=True)
    tests = [t for t in json.loads(out.stdout) if "fuzz" in t["suite"] or "eplb:fuzz" in t["suite"]]
    return {t["name"].split("/", 1)[1]: t["cmd"] for t in tests}


def run(name, cmd, seconds, build, log_dir):
    cmd = [re.sub(r"^-max_total_time=\d+$", f"-max_total_time={seconds}", a) for a in cmd]
    log = os.path.join(log_dir, f"fuzz-{name}.log")
    with open(log, "w") as f:
        # meson runs tests in the build directory: the harness path is relative to it.
        rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=build)
    text = open(log, errors="replace").read()
    stat = dict(re.findall(r"stat::(\w+):\s+(\d+)", text))
    done = re.findall(r"#(\d+)\s+(?:DONE|pulse|NEW|REDUCE|INITED)\s+cov: (\d+) ft: (\d+) corp: (\d+)", text)
    inited = re.search(r"INITED cov: (\d+) ft: (\d+) corp: (\d+)", text)
    crashes = re.findall(r"Test unit written to (\S+)", text)
    return {
        "name": name,
        "rc": rc,
        "execs": int(stat.get("number_of_executed_units", 0)),
        "per_s": int(stat.get("average_exec_per_sec", 0)),
        "cov0": int(inited.group(1)) if inited else 0,
        "cov": int(done[-1][1]) if done else 0,
        "corp": int(done[-1][3]) if done else 0,
        "rss": int(stat.get("peak_rss_mb", 0)),
        "crashes": crashes,
        "log": log,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build-san")
    ap.add_argument("--seconds", type=int, default=600)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("harness", nargs="*")
    args = ap.parse_args()
    tests = fuzz_tests(args.build)
    if not tests:
        sys.exit(f"no fuzz tests in {args.build}: configure it with CXX=clang++ ... -Dfuzz=true")
    names = args.harness or sorted(tests)
    log_dir = os.path.abspath(os.path.join(args.build, "meson-logs"))
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda n: run(n, tests[n], args.seconds, args.build, log_dir), names))
    print(f"{'harness':18} {'seconds':>7} {'execs':>10} {'execs/s':>8} {'cov start':>9} {'cov end':>8} "
          f"{'corpus':>7} {'rss MB':>7}  result")
    for r in results:
        result = "ok" if r["rc"] == 0 and not r["crashes"] else f"FAILED (rc {r['rc']}) " + " ".join(r["crashes"])
        print(f"{r['name']:18} {args.seconds:>7} {r['execs']:>10} {r['per_s']:>8} {r['cov0']:>9} {r['cov']:>8} "
              f"{r['corp']:>7} {r['rss']:>7}  {result}")
    sys.exit(0 if all(r["rc"] == 0 and not r["crashes"] for r in results) else 1)


if __name__ == "__main__":
    main()
