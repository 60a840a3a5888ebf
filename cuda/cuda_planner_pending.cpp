// Temporary until branch cuda-planner is merged: the device probe the planner factory uses, and a
// make_cuda_planner() that says the CUDA planner is not part of this build.
#include "cuda/cuda_planner.h"

#include <cuda_runtime.h>

#include "eplb/error.h"

namespace eplb {

bool cuda_device_available(std::string* why) {
    int n = 0;
    const cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess || n == 0) {
        (void)cudaGetLastError();
        if (why) *why = err != cudaSuccess ? cudaGetErrorString(err) : "no CUDA device";
        return false;
    }
    // No planner kernels in this build: report the backend as unavailable so `auto` uses the CPU.
    if (why) *why = "the CUDA planner is not in this build (branch cuda-planner not merged)";
    return false;
}

std::unique_ptr<Planner> make_cuda_planner() {
    EPLB_FAIL_KIND(ErrorKind::kDevice,
                   "the CUDA planner is not in this build (branch cuda-planner not merged)");
}

}  // namespace eplb
