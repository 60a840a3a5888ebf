// Launcher of the `deepseek` planner kernel: device pointers, sizes and a stream (no Eigen here;
// cuda_planner.cpp converts). The kernel plans every row independently, one warp per row.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <cuda_runtime_api.h>

namespace eplb::cuda {

// The shape the kernel plans with: the config's for the hierarchical policy, num_groups =
// num_nodes = 1 for the global one.
struct DeepseekShape {
    int num_experts = 0;  // E
    int num_slots = 0;    // R
    int num_groups = 1;   // G
    int num_nodes = 1;    // N
    int num_gpus = 1;     // P
};

// Shared memory one warp needs to plan one row.
size_t deepseek_warp_smem_bytes(const DeepseekShape& shape);

// Whether the kernel can plan this shape on the current device (indices fit 16 bits, one warp's
// scratch fits the shared memory of a block); otherwise *why says which limit is exceeded.
bool deepseek_shape_supported(const DeepseekShape& shape, std::string* why);

// Plans load [rows][E] into phy2log and phyrank [rows][R] and logcnt [rows][E], all on the
// device, on `stream`. Throws eplb::Error (kDevice) when the launch fails.
void launch_plan_deepseek(const float* load, int64_t rows, const DeepseekShape& shape, int32_t* phy2log,
                          int32_t* phyrank, int32_t* logcnt, cudaStream_t stream);

}  // namespace eplb::cuda
