// Balance metrics of DESIGN.md: GPU and node loads, balancedness (vLLM's and SGLang's
// aggregation), imbalance (TensorRT-LLM's), the provable lower bound and the gap to it.
#pragma once

#include <vector>

#include "eplb/config.h"
#include "eplb/types.h"

namespace eplb {

struct LayerMetrics {
    double total_load = 0;     // W: tokens routed in the layer
    double mean_gpu_load = 0;  // W / P
    double max_gpu_load = 0;
    int max_gpu = 0;          // the GPU that carries max_gpu_load (lowest index on ties)
    double balancedness = 1;  // mean / max (1 when the layer has no load)
    double imbalance = 0;     // max / mean - 1 (0 when the layer has no load)
    double lower_bound = 0;   // LB = max(W/P, T*)
    double gap = 0;           // max / LB - 1 (0 when LB is 0)
    int duplicate_gpus = 0;   // GPUs holding two or more replicas of one expert
};

struct Metrics {
    std::vector<LayerMetrics> layers;
    DoubleMatrix gpu_loads;              // [L][P]
    DoubleMatrix node_loads;             // [L][N]
    double balancedness = 1;             // Σ mean / Σ max (vLLM)
    double mean_layer_balancedness = 1;  // mean of per-layer balancedness (SGLang)
    double imbalance = 0;                // Σ max / Σ mean - 1 (TensorRT-LLM's max/mean - 1)
    double gap = 0;                      // Σ max / Σ LB - 1
    double mean_gap = 0;                 // mean of per-layer gaps
    double max_gap = 0;                  // worst layer's gap
    int worst_layer = 0;                 // the layer with the lowest balancedness
    int duplicate_pairs = 0;             // (layer, GPU) pairs holding two replicas of one expert
};

// T* of one layer: min over replica counts r_e >= 1 with Σ r_e = R of max_e w_e / r_e, attained by
// the greedy of replicate_experts (computed in double here: it is a bound, not a placement).
double min_max_replica_load(const float* load, int num_experts, int num_slots);

// LB of one layer = max(W / P, T*).
double lower_bound(const float* load, int num_experts, int num_slots, int num_gpus);

// Scores phy2log [L][R] on load [L][E]: each expert's load is split evenly over its replicas in
// this placement. Every expert must have a replica; slots of -1 are empty.
Metrics evaluate(const IndexMatrix& phy2log, const LoadMatrix& load, const ParallelConfig& config);

// Replica counts of phy2log [L][R] ([L][E], -1 slots ignored).
IndexMatrix count_replicas(const IndexMatrix& phy2log, int num_experts);

}  // namespace eplb
