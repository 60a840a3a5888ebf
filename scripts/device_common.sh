# Sourced by the scripts/device_*.sh runs on the GPU machine: the environment every run keeps, and
# the one way they build. Sets repo (this checkout).
# NVLink multicast stays off, always (it can take the host's GPUs out of service).
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export PATH="/usr/local/cuda/bin:$PATH" PYTHONUNBUFFERED=1
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# The GPU machine (Ubuntu 24.04) has no libzip (the .pt reader's) and reaches no package registry:
# a run carries Debian's libzip4 and libzip-dev in .debs/ (`mkdir .debs && cd .debs && apt-get
# download libzip4 libzip-dev`, then carry [".debs"]); they are unpacked under /tmp, never over /.
# Its image has yaml-cpp (0.8.0, the TensorRT-LLM YAML reader's); an image without it takes
# libyaml-cpp0.7 and libyaml-cpp-dev from .debs/ the same way.
# unpack_debs NAME GLOB: when pkg-config lacks NAME, unpacks .debs/GLOB into /tmp/eplb-NAME and
# points pkg-config and the loader there.
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
unpack_debs libzip 'libzip*.deb'
unpack_debs yaml-cpp 'libyaml-cpp*.deb'

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
