// Configs the CUDA tests run CPU vs CUDA on: every code path of the kernel (hierarchical and
// global, one item per pack, one or several nodes per warp, several packs per lane, E not a
// multiple of 32, R = E, R = P, G = N, one GPU per node).
#pragma once

#include <vector>

#include "eplb/config.h"

namespace eplb::test {

inline std::vector<ParallelConfig> kernel_test_configs() {
    return {
        {12, 16, 4, 2, 8},     // DeepSeek's README example
        {256, 288, 8, 4, 32},  // DeepSeek-V3 EP32
        {256, 320, 8, 8, 64},  // EP64: two warp passes over 8 nodes
        {256, 288, 8, 9, 72},  // G % N != 0: global, 72 GPUs = 3 packs per lane
        {256, 264, 8, 3, 24},  // global, 24 GPUs
        {64, 64, 4, 2, 8},     // R = E: no replication
        {128, 160, 1, 2, 16},  // G = 1 < N: global
        {33, 40, 3, 1, 8},     // E not a multiple of 32, one node
        {20, 40, 5, 5, 40},    // G = N and R = P (one item per pack at both levels)
        {8, 8, 1, 1, 8},       // R = E = P
        {60, 96, 6, 3, 12},    // 3 nodes: one segment idle
        {48, 48, 8, 8, 48},    // G = N, R = E = P
        {10, 30, 2, 1, 3},     // 3 packs of 10
        {96, 200, 1, 1, 40},   // 40 GPUs on one node: two packs on some lanes
        {384, 416, 8, 4, 32},  // Kimi-K2-sized, 13 slots per GPU
        {160, 192, 8, 2, 16},  // 2 nodes of 8 GPUs
        {7, 21, 7, 7, 7},      // one GPU per node, 3 slots each
        {64, 128, 4, 4, 4},    // one GPU per node, 32 slots each
        {1, 4, 1, 1, 2},       // a single expert
    };
}

}  // namespace eplb::test
