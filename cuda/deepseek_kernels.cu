// The `deepseek` planner kernel: one warp per (window, layer) row, the row algorithm of
// deepseek_row.cuh on shared-memory scratch.
#include "cuda/deepseek_kernels.h"

#include <sstream>

#include "cuda/cuda_check.h"
#include "cuda/deepseek_row.cuh"
#include "cuda/launch.cuh"

namespace eplb::cuda {

namespace {

DeepseekRowLayout layout_of(const DeepseekShape& s) {
    return make_deepseek_layout(s.num_experts, s.num_slots, s.num_groups, s.num_nodes, s.num_gpus);
}

__global__ void plan_deepseek_kernel(const float* __restrict__ load, int64_t rows, DeepseekRowLayout layout,
                                     int32_t* __restrict__ phy2log, int32_t* __restrict__ phyrank,
                                     int32_t* __restrict__ logcnt) {
    extern __shared__ __align__(16) unsigned char smem[];
    DeviceWarp w;
    const int warps_per_block = static_cast<int>(blockDim.x) / kWarpSize;
    const int warp = static_cast<int>(threadIdx.x) / kWarpSize;
    unsigned char* scratch = smem + static_cast<size_t>(warp) * layout.warp_bytes;
    const int64_t e = layout.num_experts, r = layout.num_slots;
    for (int64_t row = static_cast<int64_t>(blockIdx.x) * warps_per_block + warp; row < rows;
         row += static_cast<int64_t>(gridDim.x) * warps_per_block) {
        plan_deepseek_row(w, layout, scratch, load + row * e, phy2log + row * r, phyrank + row * r,
                          logcnt + row * e);
    }
}

}  // namespace

size_t deepseek_warp_smem_bytes(const DeepseekShape& shape) { return layout_of(shape).warp_bytes; }

bool deepseek_shape_supported(const DeepseekShape& shape, std::string* why) {
    std::ostringstream msg;
    if (shape.num_experts > 65535 || shape.num_slots > 65535) {
        msg << "the CUDA planner stores expert and slot indices in 16 bits: num_logical_experts ("
            << shape.num_experts << ") and num_physical_experts (" << shape.num_slots
            << ") must be at most 65535";
    } else if (deepseek_warp_smem_bytes(shape) > max_block_smem_bytes()) {
        msg << "one row needs " << deepseek_warp_smem_bytes(shape)
            << " bytes of shared memory, the device has " << max_block_smem_bytes() << " per block";
    } else {
        return true;
    }
    if (why) *why = msg.str();
    return false;
}

void launch_plan_deepseek(const float* load, int64_t rows, const DeepseekShape& shape, int32_t* phy2log,
                          int32_t* phyrank, int32_t* logcnt, cudaStream_t stream) {
    if (rows <= 0) return;
    const DeepseekRowLayout layout = layout_of(shape);
    const WarpLaunch g = warp_launch(layout.warp_bytes, rows);
    allow_smem(plan_deepseek_kernel, g.smem_bytes);
    plan_deepseek_kernel<<<g.blocks, g.warps_per_block * kWarpSize, g.smem_bytes, stream>>>(
        load, rows, layout, phy2log, phyrank, logcnt);
    CUDA_CHECK(cudaGetLastError());
}

}  // namespace eplb::cuda
