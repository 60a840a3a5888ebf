// Launcher of the batched scoring kernel: per-row GPU loads, busiest GPU, total load, lower bound
// and duplicate GPUs of (phy2log, load) rows, all on the device, one warp per row.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <cuda_runtime_api.h>

namespace eplb::cuda {

// Device outputs, one element per row (gpu_loads: [rows][num_gpus]).
struct ScoreBuffers {
    double* gpu_loads = nullptr;
    double* total_load = nullptr;
    double* max_gpu_load = nullptr;
    double* lower_bound = nullptr;
    int32_t* max_gpu = nullptr;
    int32_t* duplicate_gpus = nullptr;
    int32_t* bad_slot = nullptr;        // first slot whose entry is outside [-1, E), or -1
    int32_t* missing_expert = nullptr;  // first expert with load > 0 and no replica, or -1
};

// Whether one warp's scratch for this shape fits a block's shared memory; otherwise *why.
bool score_shape_supported(int num_experts, int num_slots, int num_gpus, std::string* why);

// Scores rows of phy2log [rows][R] (entries -1 = empty slot) on load [rows][E] on `stream`.
void launch_score_rows(const int32_t* phy2log, const float* load, int64_t rows, int num_experts,
                       int num_slots, int num_gpus, const ScoreBuffers& out, cudaStream_t stream);

}  // namespace eplb::cuda
