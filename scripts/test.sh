#!/usr/bin/env bash
# Installs what is missing, builds build/ (the CUDA code too where nvcc is) and runs every test,
# then builds build-san/ with clang, AddressSanitizer and UndefinedBehaviorSanitizer (findings are
# fatal) and the libFuzzer harnesses, and runs the unit and CLI suites again there plus each fuzz
# harness for 10 s from its seed corpus. Ends with the line "N passed, N failed" over both builds
# (tests that exit 77, e.g. GPU tests without a GPU, are counted as skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh
eplb_install_deps "${EPLB_PACKAGES[@]}" "${EPLB_SANITIZER_PACKAGES[@]}"
eplb_build build
status=0
meson test -C build --print-errorlogs --num-processes "$(nproc)" || status=$?

CC=clang CXX=clang++ eplb_build build-san -Db_sanitize=address,undefined -Db_lundef=false -Dcuda=disabled \
    -Dfuzz=true
# LeakSanitizer stops the process with ptrace, which some containers forbid: then run without it
# (ASan and UBSan still run) rather than fail every test.
probe=$(build-san/tests/fuzz/replay_config tests/fuzz/corpus/config 2>&1 >/dev/null || true)
if grep -q "LeakSanitizer has encountered a fatal error" <<<"$probe"; then
    echo "eplb: LeakSanitizer cannot run here (ptrace not permitted?): leak checks are off" >&2
    export ASAN_OPTIONS=detect_leaks=0
fi
meson test -C build-san --print-errorlogs --num-processes "$(nproc)" --suite unit --suite cli --suite fuzz ||
    status=$?
python3 scripts/count_tests.py build/meson-logs/testlog.json build-san/meson-logs/testlog.json || status=1
exit $status
