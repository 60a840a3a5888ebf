#!/usr/bin/env bash
# Installs what is missing, builds build/ (the CUDA code too where nvcc is) and runs every test,
# then builds build-san/ with clang, AddressSanitizer and UndefinedBehaviorSanitizer (findings are
# fatal) and the libFuzzer harnesses, and runs the unit and CLI suites again there plus each fuzz
# harness for 10 s from its seed corpus. Ends with the line "N passed, N failed" over both builds
# (tests that exit 77, e.g. GPU tests without a GPU, are counted as skipped), after the time of
# each phase.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh
phase_names=()
phase_seconds=()
phase_start=$(date +%s)
script_start=$phase_start
# end_phase NAME: records the seconds since the previous phase ended.
end_phase() {
    local now
    now=$(date +%s)
    phase_names+=("$1")
    phase_seconds+=($((now - phase_start)))
    phase_start=$now
}

eplb_install_deps "${EPLB_PACKAGES[@]}" "${EPLB_SANITIZER_PACKAGES[@]}"
end_phase "install"
eplb_build build
end_phase "configure+build release"
status=0
meson test -C build --print-errorlogs --num-processes "$(nproc)" || status=$?
end_phase "tests release"

CC=clang CXX=clang++ eplb_configure build-san -Db_sanitize=address,undefined -Db_lundef=false -Dcuda=disabled \
    -Dfuzz=true
# What the suites run (meson's meson-test-prereq), not the benchmarks, which only the release build runs.
ninja -C build-san meson-test-prereq
end_phase "configure+build sanitizer"
# LeakSanitizer stops the process with ptrace, which some containers forbid: then run without it
# (ASan and UBSan still run) rather than fail every test.
probe=$(build-san/tests/fuzz/replay_config tests/fuzz/corpus/config 2>&1 >/dev/null || true)
if grep -q "LeakSanitizer has encountered a fatal error" <<<"$probe"; then
    echo "eplb: LeakSanitizer cannot run here (ptrace not permitted?): leak checks are off" >&2
    export ASAN_OPTIONS=detect_leaks=0
fi
meson test -C build-san --print-errorlogs --num-processes "$(nproc)" --suite unit --suite cli --suite fuzz ||
    status=$?
end_phase "tests sanitizer"
for i in "${!phase_names[@]}"; do
    printf '%-28s %4d s\n' "${phase_names[$i]}" "${phase_seconds[$i]}"
done
printf '%-28s %4d s\n' "total" $(($(date +%s) - script_start))
python3 scripts/count_tests.py build/meson-logs/testlog.json build-san/meson-logs/testlog.json || status=1
exit $status
