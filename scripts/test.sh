#!/usr/bin/env bash
# Installs what is missing, builds build/ (the CUDA code too where nvcc is), runs every test and
# ends with the line "N passed, N failed" (tests that exit 77, e.g. GPU tests without a GPU, are
# counted as skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh
eplb_install_deps
eplb_build build
status=0
meson test -C build --print-errorlogs --num-processes "$(nproc)" || status=$?
python3 scripts/count_tests.py build/meson-logs/testlog.json
exit $status
