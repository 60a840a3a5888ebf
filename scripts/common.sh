# Shared by quickstart.sh and test.sh: install the Debian packages that are missing, then configure
# and build build/ (with the CUDA backend wherever nvcc is found). Source it; do not run it.

EPLB_PACKAGES=(g++ pkg-config python3 meson ninja-build libcli11-dev nlohmann-json3-dev libeigen3-dev doctest-dev libzip-dev libyaml-cpp-dev)
# test.sh's second build: clang with the AddressSanitizer, UBSan and libFuzzer runtimes
# (libclang-rt-dev: the compiler-rt of Debian's default clang).
EPLB_SANITIZER_PACKAGES=(clang libclang-rt-dev)

# eplb_install_deps [package...]: installs those of the packages (default: EPLB_PACKAGES) missing.
eplb_install_deps() {
    local wanted=("$@")
    [ ${#wanted[@]} -gt 0 ] || wanted=("${EPLB_PACKAGES[@]}")
    local missing=()
    for p in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "eplb: installing ${missing[*]}" >&2
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

# nvcc lives under /usr/local/cuda on the machines we know; meson looks for it on the PATH.
eplb_cuda_path() {
    if [ -x /usr/local/cuda/bin/nvcc ] && ! command -v nvcc >/dev/null; then
        export PATH="/usr/local/cuda/bin:$PATH"
    fi
}

# eplb_configure DIR [meson options...]: configure DIR once (reconfigure when it exists).
eplb_configure() {
    local dir="$1"
    shift
    eplb_cuda_path
    local setup=(meson setup "$dir" "$@") out
    [ ! -f "$dir/build.ninja" ] || setup+=(--reconfigure)
    # meson prints its summary and its errors on stdout: keep the summary quiet, show an error.
    if ! out=$("${setup[@]}" 2>&1); then
        printf '%s\n' "$out" >&2
        echo "eplb: '${setup[*]}' failed (log: $dir/meson-logs/meson-log.txt)" >&2
        return 1
    fi
}

# eplb_build DIR [meson options...]: configure DIR, then build everything in it.
eplb_build() {
    eplb_configure "$@"
    ninja -C "$1"
}
