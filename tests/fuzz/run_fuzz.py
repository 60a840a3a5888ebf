#!/usr/bin/env python3
"""Runs a libFuzzer harness for a bounded time, starting from its checked-in seed corpus.

usage: run_fuzz.py HARNESS SEED_CORPUS_DIR ARTIFACT_DIR [libFuzzer flags...]

New inputs go to a temporary directory (listed first, so libFuzzer writes there: the checked-in
corpus is never modified); a crashing input is saved as ARTIFACT_DIR/<harness>-crash-<sha1>, to be
added to the seed corpus with a regression test once fixed (README.md, "Fuzzing").
"""
import os
import subprocess
import sys
import tempfile


def main():
    harness, corpus, artifacts = sys.argv[1:4]
    flags = sys.argv[4:]
    os.makedirs(artifacts, exist_ok=True)
    name = os.path.basename(harness)
    with tempfile.TemporaryDirectory(prefix=name + "-") as work:
        # libFuzzer exits 77 on a crash by default, which meson counts as a skip.
        cmd = [harness, "-error_exitcode=1", "-timeout_exitcode=1", *flags,
               f"-artifact_prefix={os.path.join(artifacts, name)}-", work, corpus]
        print(" ".join(cmd), flush=True)
        rc = subprocess.call(cmd)
        return 1 if rc == 77 else rc


if __name__ == "__main__":
    sys.exit(main())
