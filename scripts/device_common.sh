# Sourced by the scripts/device_*.sh runs on the GPU machine: the environment every run keeps, and
# the one way they build. Sets repo (this checkout).
# NVLink multicast stays off, always (it can take the host's GPUs out of service).
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export PATH="/usr/local/cuda/bin:$PATH" PYTHONUNBUFFERED=1
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

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
