// The simulator's per-step scorer: a step's summed mean and max GPU load under one placement, with
// evaluate()'s arithmetic but without its lower bound and per-layer details.
#pragma once

#include <cstdint>
#include <vector>

#include "eplb/config.h"
#include "eplb/placement.h"

namespace eplb {

// Σ over layers of the mean and of the max GPU load of one step under one placement: the step's
// balancedness is mean / max (1 without load), as evaluate() computes it.
struct StepScore {
    double mean_gpu_load = 0;
    double max_gpu_load = 0;
    double balancedness() const { return max_gpu_load > 0 ? mean_gpu_load / max_gpu_load : 1.0; }
};

// Scores loads under one placement, without the lower bound and per-layer details of evaluate():
// the same arithmetic (double, slot order, layer order), so the sums equal evaluate()'s exactly.
class StepScorer {
  public:
    StepScorer() = default;
    // phy2log and logcnt [L][R] / [L][E] row-major (every slot holds an expert, -1 not allowed).
    StepScorer(const int32_t* phy2log, const int32_t* logcnt, int num_layers, const ParallelConfig& config);
    StepScorer(const Placement& placement, const ParallelConfig& config);
    // load [L][E]; layer_totals [L] = Σ_e load in expert order (in double), or null to compute them.
    StepScore score(const float* load, const double* layer_totals = nullptr) const;

  private:
    int num_layers_ = 0, num_experts_ = 0, num_slots_ = 0, num_gpus_ = 0;
    std::vector<int32_t> expert_;  // [L][R]
    // Slots whose expert has several replicas (the only ones that need a division), per layer:
    // shared_[shared_begin_[l] .. shared_begin_[l + 1]) with their replica counts.
    std::vector<int32_t> shared_, shared_begin_;
    std::vector<double> shared_replicas_;
};

// totals[l] = Σ_e load[l][e] for num_layers rows of [L][E] loads, summed in double in expert order:
// the layer_totals that StepScorer::score takes (several layers at once, the same sums).
void layer_totals(const float* load, int num_layers, int num_experts, double* totals);

}  // namespace eplb
