// The parallel configuration of an expert-parallel deployment and its one validation place.
#pragma once

#include <string>

namespace eplb {

// The largest value of any count in a config (2^24, as config files allow).
constexpr int kMaxConfigCount = 1 << 24;

// Shapes of DESIGN.md's vocabulary. GPU q owns slots [q·R/P, (q+1)·R/P); node n owns GPUs
// [n·P/N, (n+1)·P/N); group g holds experts [g·E/G, (g+1)·E/G).
struct ParallelConfig {
    int num_logical_experts = 0;   // E (taken from the trace)
    int num_physical_experts = 0;  // R = E + num_redundant_experts
    int num_groups = 1;            // G
    int num_nodes = 1;             // N
    int num_gpus = 1;              // P

    // Throws eplb::Error (invalid input) quoting the offending values.
    void validate() const;

    // DeepSEEK's rule: hierarchical packing iff the groups divide evenly over the nodes.
    bool hierarchical() const { return num_groups % num_nodes == 0; }
    int num_redundant_experts() const { return num_physical_experts - num_logical_experts; }
    int slots_per_gpu() const { return num_physical_experts / num_gpus; }
    int gpus_per_node() const { return num_gpus / num_nodes; }
    int gpu_of_slot(int slot) const { return slot / slots_per_gpu(); }
    int node_of_gpu(int gpu) const { return gpu / gpus_per_node(); }
};

// "num_groups=8 num_nodes=4 num_gpus=32 num_physical_experts=288 (E=256)" for reports and errors.
std::string describe(const ParallelConfig& config);

}  // namespace eplb
