// Kernels of the shuffle's synthetic weights: fill slots with their expert's pattern
// (src/eplb/weight_pattern.h) and count the bytes that differ from it. Slot i of a GPU lives at
// base + i·stride (stride a multiple of 8); its layer is i / slots_per_layer.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

namespace eplb {

// experts [num_slots] (device memory): the expert whose pattern slot i gets; -1: filler bytes.
void launch_fill_pattern(uint8_t* base, int64_t stride, int64_t expert_bytes, const int32_t* experts,
                         int num_slots, int slots_per_layer, int first_layer, cudaStream_t stream);

// Adds the wrong bytes of each slot to wrong[layer - first_layer] (device memory, one counter per
// layer); slots whose expert is -1 are not checked.
void launch_count_wrong(const uint8_t* base, int64_t stride, int64_t expert_bytes, const int32_t* experts,
                        int num_slots, int slots_per_layer, int first_layer, unsigned long long* wrong,
                        cudaStream_t stream);

}  // namespace eplb
