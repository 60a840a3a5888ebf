// Launch geometry of the one-warp-per-row kernels: warps per block within the device's shared
// memory, and the dynamic shared-memory opt-in above 48 KiB.
#pragma once

#include <cstddef>
#include <cstdint>

#include <cuda_runtime_api.h>

#include "cuda/cuda_check.h"
#include "cuda/warp.cuh"

namespace eplb::cuda {

// Most shared memory one block may use on the current device (the opt-in limit).
inline size_t max_block_smem_bytes() {
    int device = 0, bytes = 0;
    CUDA_CHECK(cudaGetDevice(&device));
    CUDA_CHECK(cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
    return static_cast<size_t>(bytes);
}

struct WarpLaunch {
    int warps_per_block = 0;
    unsigned blocks = 0;
    size_t smem_bytes = 0;
};

// One row per warp, up to kMaxWarpsPerBlock warps per block as far as shared memory allows; the
// kernels loop over rows, so a capped grid still covers every row.
inline WarpLaunch warp_launch(size_t warp_bytes, int64_t rows) {
    constexpr int kMaxWarpsPerBlock = 4;
    constexpr int64_t kMaxBlocks = int64_t{1} << 24;
    const size_t limit = max_block_smem_bytes();
    WarpLaunch g;
    g.warps_per_block = kMaxWarpsPerBlock;
    while (g.warps_per_block > 1 && g.warps_per_block * warp_bytes > limit) g.warps_per_block /= 2;
    const int64_t blocks = (rows + g.warps_per_block - 1) / g.warps_per_block;
    g.blocks = static_cast<unsigned>(blocks < kMaxBlocks ? blocks : kMaxBlocks);
    g.smem_bytes = g.warps_per_block * warp_bytes;
    return g;
}

// Lets `kernel` use `bytes` of dynamic shared memory (needed above 48 KiB).
template <class Kernel>
inline void allow_smem(Kernel kernel, size_t bytes) {
    if (bytes > 48 * 1024) {
        CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                        static_cast<int>(bytes)));
    }
}

}  // namespace eplb::cuda
