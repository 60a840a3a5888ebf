# Sourced by the scripts/device_*.sh runs on the GPU machine: the environment every run keeps, and
# the one way they build. Sets repo (this checkout).
# NVLink multicast stays off, always (it can take the host's GPUs out of service).
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export PATH="/usr/local/cuda/bin:$PATH" PYTHONUNBUFFERED=1
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# The GPU machine has no libzip (the .pt reader's) and reaches no package registry: a run carries
# Debian's libzip4 and libzip-dev in .debs/ (`mkdir .debs && cd .debs && apt-get download libzip4
# libzip-dev`, then carry [".debs"]); they are unpacked under /tmp, never over /.
if ! pkg-config --exists libzip 2>/dev/null && ls "$repo"/.debs/libzip*.deb >/dev/null 2>&1; then
    for deb in "$repo"/.debs/libzip*.deb; do dpkg -x "$deb" /tmp/eplb-libzip; done
    pc_dir=/tmp/eplb-libzip/usr/lib/x86_64-linux-gnu/pkgconfig
    sed -i 's|^prefix=.*|prefix=/tmp/eplb-libzip/usr|' "$pc_dir"/libzip.pc
    export PKG_CONFIG_PATH="$pc_dir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
    export LD_LIBRARY_PATH="/tmp/eplb-libzip/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

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
