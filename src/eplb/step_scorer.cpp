// The per-step scorer of the simulator (see step_scorer.h).
#include "eplb/step_scorer.h"

#include "eplb/error.h"

namespace eplb {

namespace {

// Σ_x row[x] of kGroup layers in expert order (evaluate()'s order), their chains interleaved.
template <int kGroup>
void group_totals(const float* rows, int e, double* totals) {
    double acc[kGroup] = {};
    for (int x = 0; x < e; ++x) {
        for (int j = 0; j < kGroup; ++j) acc[j] += rows[static_cast<size_t>(j) * e + x];
    }
    for (int j = 0; j < kGroup; ++j) totals[j] = acc[j];
}

}  // namespace

void layer_totals(const float* load, int num_layers, int num_experts, double* totals) {
    const int e = num_experts;
    int l = 0;
    for (; l + 8 <= num_layers; l += 8) group_totals<8>(load + static_cast<size_t>(l) * e, e, totals + l);
    for (; l < num_layers; ++l) group_totals<1>(load + static_cast<size_t>(l) * e, e, totals + l);
}

StepScorer::StepScorer(const int32_t* phy2log, const int32_t* logcnt, int num_layers, const ParallelConfig& c)
    : num_layers_(num_layers),
      num_experts_(c.num_logical_experts),
      num_slots_(c.num_physical_experts),
      num_gpus_(c.num_gpus),
      expert_(phy2log, phy2log + static_cast<size_t>(num_layers) * c.num_physical_experts) {
    shared_begin_.push_back(0);
    for (int l = 0; l < num_layers_; ++l) {
        for (int s = 0; s < num_slots_; ++s) {
            const int x = expert_[static_cast<size_t>(l) * num_slots_ + s];
            EPLB_CHECK(x >= 0 && x < num_experts_, "phy2log[" << l << "][" << s << "] is " << x
                                                              << ", outside [0, " << num_experts_ << ")");
            const int replicas = logcnt[static_cast<size_t>(l) * num_experts_ + x];
            if (replicas != 1) {
                shared_.push_back(s);
                shared_replicas_.push_back(replicas);
            }
        }
        shared_begin_.push_back(static_cast<int32_t>(shared_.size()));
    }
}

StepScorer::StepScorer(const Placement& p, const ParallelConfig& c)
    : StepScorer(p.phy2log.data(), p.logcnt.data(), p.num_layers(), c) {
    EPLB_CHECK(p.phy2log.cols() == c.num_physical_experts && p.logcnt.cols() == c.num_logical_experts,
               "placement is " << p.phy2log.cols() << " slots x " << p.logcnt.cols()
                               << " experts, config says " << c.num_physical_experts << " x "
                               << c.num_logical_experts);
}

StepScore StepScorer::score(const float* load, const double* layer_totals) const {
    const int slots_per_gpu = num_slots_ / num_gpus_;
    // Replica loads of a layer first: load / logcnt, where only experts with several replicas need
    // the division (x / 1.0 is x); then each GPU's sum in slot order, as evaluate() adds them.
    thread_local std::vector<double> replica_load;
    replica_load.resize(num_slots_);
    double* v = replica_load.data();
    StepScore out;
    for (int l = 0; l < num_layers_; ++l) {
        const float* row = load + static_cast<size_t>(l) * num_experts_;
        const int32_t* expert = expert_.data() + static_cast<size_t>(l) * num_slots_;
        for (int s = 0; s < num_slots_; ++s) v[s] = row[expert[s]];
        for (int i = shared_begin_[l]; i < shared_begin_[l + 1]; ++i) v[shared_[i]] /= shared_replicas_[i];
        double max = 0;
        for (int q = 0, s = 0; q < num_gpus_; ++q) {
            double gpu = 0;
            for (const int end = s + slots_per_gpu; s < end; ++s) gpu += v[s];
            if (gpu > max) max = gpu;
        }
        double total;
        if (layer_totals) {
            total = layer_totals[l];
        } else {
            total = 0;
            for (int x = 0; x < num_experts_; ++x) total += row[x];
        }
        out.mean_gpu_load += total / num_gpus_;
        out.max_gpu_load += max;
    }
    return out;
}

}  // namespace eplb
