// Balance metrics of DESIGN.md: GPU and node loads, balancedness (vLLM's and SGLang's
// aggregation), imbalance (TensorRT-LLM's), the provable lower bound and the gap to it.
#pragma once

#include <vector>

#include "eplb/config.h"
#include "eplb/error.h"
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
// = summarize_rows(score_rows(...)): the CPU path of Planner::score plus the aggregation.
Metrics evaluate(const IndexMatrix& phy2log, const LoadMatrix& load, const ParallelConfig& config);

// The per-row part of evaluate(), what a backend (Planner::score) computes; rows are independent,
// so B windows of L layers can be scored as [B·L] stacked rows.
struct RowScores {
    DoubleMatrix gpu_loads;            // [rows][P]
    std::vector<double> total_load;    // [rows] W
    std::vector<double> max_gpu_load;  // [rows]
    std::vector<int> max_gpu;          // [rows] lowest GPU index among the busiest
    std::vector<double> lower_bound;   // [rows] LB = max(W/P, T*)
    std::vector<int> duplicate_gpus;   // [rows]

    explicit RowScores(int rows = 0, int num_gpus = 0);
    int num_rows() const { return static_cast<int>(total_load.size()); }
};

// Checks that phy2log [rows][R] and load [rows][E] have the shapes of the config and each other.
void check_score_inputs(const IndexMatrix& phy2log, const LoadMatrix& load, const ParallelConfig& config);

// The error of a row whose expert has load but no replica (the same message on every backend).
Error missing_replica_error(int row, int expert, float load);

// The CPU computation of RowScores, in double; throws missing_replica_error for the first row
// with an expert that has load and no replica.
RowScores score_rows(const IndexMatrix& phy2log, const LoadMatrix& load, const ParallelConfig& config);

// Metrics of rows [first, first + count) of `scores` (layer i of the result is row first + i).
Metrics summarize_rows(const RowScores& scores, const ParallelConfig& config, int first, int count);

// Replica counts of phy2log [L][R] ([L][E], -1 slots ignored).
IndexMatrix count_replicas(const IndexMatrix& phy2log, int num_experts);

}  // namespace eplb
