// The planner factory and the build's description: which backends this binary carries, and the
// choice between them at run time.
#include "backends/backends.h"

#include "eplb/error.h"
#include "eplb_config.h"
#if EPLB_HAVE_CUDA
#include "cuda/cuda_planner.h"
#endif
#if EPLB_HAVE_NCCL
#include <nccl.h>
#endif

namespace eplb {

bool built_with_cuda() { return EPLB_HAVE_CUDA; }

std::string build_description() {
    std::string text = "eplb " EPLB_VERSION "\n";
#if EPLB_HAVE_CUDA
    text += cuda_build_description() + "\n";
#else
    text += "CUDA: not built (the CPU planner only; rebuild with `meson setup build -Dcuda=enabled`)\n";
#endif
#if EPLB_HAVE_NCCL
    text += "NCCL: built with " + std::to_string(NCCL_MAJOR) + "." + std::to_string(NCCL_MINOR) + "." +
            std::to_string(NCCL_PATCH);
#else
    text += "NCCL: not built (`eplb shuffle` plans with --dry-run only)";
#endif
    return text;
}

std::unique_ptr<Planner> make_planner(Backend backend, std::string* notice) {
    if (backend == Backend::kCpu) return make_cpu_planner();
#if EPLB_HAVE_CUDA
    std::string why;
    if (cuda_device_available(&why)) return make_cuda_planner();
    if (backend == Backend::kCuda) {
        EPLB_FAIL_KIND(ErrorKind::kDevice, "--backend cuda: " << why);
    }
    if (notice) *notice = "note: no CUDA device (" + why + "); planning on the CPU";
#else
    if (backend == Backend::kCuda) {
        EPLB_FAIL_KIND(ErrorKind::kDevice,
                       "--backend cuda: this eplb was built without CUDA; rebuild with `meson setup build "
                       "-Dcuda=enabled` on a machine with nvcc (CUDA 13)");
    }
    if (notice) *notice = "note: built without CUDA; planning on the CPU";
#endif
    return make_cpu_planner();
}

}  // namespace eplb
