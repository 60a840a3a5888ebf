// The batched scoring kernel: one warp per (placement, load) row, the row code of metrics_row.cuh.
#include "cuda/metrics_kernels.h"

#include <sstream>

#include "cuda/cuda_check.h"
#include "cuda/launch.cuh"
#include "cuda/metrics_row.cuh"

namespace eplb::cuda {

namespace {

__global__ void score_rows_kernel(const int32_t* __restrict__ phy2log, const float* __restrict__ load,
                                  int64_t rows, ScoreRowLayout layout, ScoreOutputs out) {
    extern __shared__ __align__(16) unsigned char smem[];
    DeviceWarp w;
    const int warps_per_block = static_cast<int>(blockDim.x) / kWarpSize;
    const int warp = static_cast<int>(threadIdx.x) / kWarpSize;
    unsigned char* scratch = smem + static_cast<size_t>(warp) * layout.warp_bytes;
    const int64_t e = layout.num_experts, r = layout.num_slots;
    for (int64_t row = static_cast<int64_t>(blockIdx.x) * warps_per_block + warp; row < rows;
         row += static_cast<int64_t>(gridDim.x) * warps_per_block) {
        score_row(w, layout, scratch, load + row * e, phy2log + row * r, row, out);
        w.sync();
    }
}

}  // namespace

bool score_shape_supported(int num_experts, int num_slots, int num_gpus, std::string* why) {
    const size_t bytes = make_score_layout(num_experts, num_slots, num_gpus).warp_bytes;
    if (bytes <= max_block_smem_bytes()) return true;
    if (why) {
        std::ostringstream msg;
        msg << "scoring one row needs " << bytes << " bytes of shared memory, the device has "
            << max_block_smem_bytes() << " per block";
        *why = msg.str();
    }
    return false;
}

void launch_score_rows(const int32_t* phy2log, const float* load, int64_t rows, int num_experts,
                       int num_slots, int num_gpus, const ScoreBuffers& b, cudaStream_t stream) {
    if (rows <= 0) return;
    const ScoreRowLayout layout = make_score_layout(num_experts, num_slots, num_gpus);
    const WarpLaunch g = warp_launch(layout.warp_bytes, rows);
    allow_smem(score_rows_kernel, g.smem_bytes);
    const ScoreOutputs out{b.gpu_loads, b.total_load,     b.max_gpu_load, b.lower_bound,
                           b.max_gpu,   b.duplicate_gpus, b.bad_slot,     b.missing_expert};
    score_rows_kernel<<<g.blocks, g.warps_per_block * kWarpSize, g.smem_bytes, stream>>>(phy2log, load, rows,
                                                                                         layout, out);
    CUDA_CHECK(cudaGetLastError());
}

}  // namespace eplb::cuda
