// The backend factory: the only place that knows whether CUDA was built. It sits in its own
// library, linked before the CUDA backend, which in turn is linked before the core it uses.
#include "eplb/error.h"
#include "eplb/planner.h"
#include "eplb_config.h"
#if EPLB_HAVE_CUDA
#include "cuda/cuda_planner.h"
#endif

namespace eplb {

bool built_with_cuda() { return EPLB_HAVE_CUDA; }

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
