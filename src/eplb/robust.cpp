// The `robust` policy (see robust.h): groups to nodes for the worst workload, then a packer whose
// GPU loads are vectors over the workloads and whose objective is their largest entry.
#include "eplb/robust.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <utility>
#include <vector>

#include "eplb/balanced.h"
#include "eplb/error.h"
#include "eplb/replica_packing.h"
#include "eplb/robust_packer.h"

namespace eplb {

namespace {

class RobustPlanner {
  public:
    RobustPlanner(const ParallelConfig& c, int num_workloads, const RobustOptions& options)
        : e_(c.num_logical_experts),
          r_(c.num_physical_experts),
          p_(c.num_gpus),
          g_(c.hierarchical() ? c.num_groups : 1),
          n_(c.hierarchical() ? c.num_nodes : 1),
          nw_(num_workloads),
          options_(options) {}

    // w: [E][W] this layer's loads, each workload scaled to total 1 (or all zero).
    void plan_row(const std::vector<double>& w, int* phy2log, int* phyrank, int* logcnt) {
        w_ = &w;
        const int groups_per_node = g_ / n_, group_size = e_ / g_;
        const int gpus_per_node = p_ / n_, slots_per_node = r_ / n_, slots_per_gpu = r_ / p_;
        if (n_ == 1) {
            node_groups_.assign(g_, 0);
            std::iota(node_groups_.begin(), node_groups_.end(), 0);
        } else {
            group_load_.assign(static_cast<size_t>(g_) * nw_, 0.0);
            for (int x = 0; x < e_; ++x) {
                for (int v = 0; v < nw_; ++v)
                    group_load_[static_cast<size_t>(x / group_size) * nw_ + v] += w[x * nw_ + v];
            }
            assign_groups_to_nodes(
                group_load_, nw_, n_, [this](const int* groups) { return node_bound(groups); }, node_groups_);
        }
        for (int node = 0; node < n_; ++node) {
            node_experts(node_groups_.data() + node * groups_per_node, groups_per_node, group_size, experts_);
            weight_.clear();
            for (int x : experts_) weight_.insert(weight_.end(), &w[x * nw_], &w[x * nw_] + nw_);
            packer_.reset(weight_.data(), static_cast<int>(experts_.size()), nw_, gpus_per_node,
                          slots_per_gpu);
            packer_.solve(options_);
            for (int s = 0; s < slots_per_node; ++s)
                phy2log[node * slots_per_node + s] = experts_[packer_.expert_at(s)];
        }
        number_replicas(phy2log, r_, e_, phyrank, logcnt);
    }

  private:
    // max(max over workloads of node load / (P/N), node T* on each expert's largest load): no
    // placement keeping these groups on one node has a lower worst workload there.
    double node_bound(const int* groups) {
        const int groups_per_node = g_ / n_, group_size = e_ / g_;
        const int slots_per_node = r_ / n_, gpus_per_node = p_ / n_;
        double mean = 0;
        for (int v = 0; v < nw_; ++v) {
            double total = 0;
            for (int i = 0; i < groups_per_node; ++i)
                total += group_load_[static_cast<size_t>(groups[i]) * nw_ + v];
            mean = std::max(mean, total / gpus_per_node);
        }
        bound_weight_.clear();
        for (int i = 0; i < groups_per_node; ++i) {
            for (int j = 0; j < group_size; ++j) {
                const double* row = &(*w_)[static_cast<size_t>(groups[i] * group_size + j) * nw_];
                bound_weight_.push_back(*std::max_element(row, row + nw_));
            }
        }
        const int n = static_cast<int>(bound_weight_.size());
        const int cap = n >= slots_per_node / gpus_per_node ? gpus_per_node : 0;
        return std::max(mean, min_max_replica_load_capped(bound_weight_.data(), n, slots_per_node, cap));
    }

    int e_, r_, p_, g_, n_, nw_;
    RobustOptions options_;
    const std::vector<double>* w_ = nullptr;
    std::vector<int> node_groups_, experts_;
    std::vector<double> group_load_, bound_weight_, weight_;
    RobustPacker packer_;
};

void check_workloads(const std::vector<LoadMatrix>& workloads, int num_experts) {
    EPLB_CHECK(!workloads.empty(), "robust planning needs at least one workload");
    for (size_t i = 0; i < workloads.size(); ++i) {
        EPLB_CHECK(workloads[i].rows() == workloads[0].rows() && workloads[i].cols() == num_experts,
                   "workload " << i << " is " << workloads[i].rows() << "x" << workloads[i].cols()
                               << " but workload 0 is " << workloads[0].rows() << "x" << workloads[0].cols()
                               << " and num_logical_experts is " << num_experts);
    }
}

// Layer l of every workload, each scaled to total 1, as [E][W].
void scaled_layer(const std::vector<LoadMatrix>& workloads, Eigen::Index l, std::vector<double>& w) {
    const int nw = static_cast<int>(workloads.size());
    const auto e = workloads[0].cols();
    w.assign(static_cast<size_t>(e) * nw, 0.0);
    for (int v = 0; v < nw; ++v) {
        const float* row = workloads[v].row(l).data();
        double total = 0;
        for (Eigen::Index x = 0; x < e; ++x) total += row[x];
        if (total <= 0) continue;
        for (Eigen::Index x = 0; x < e; ++x) w[static_cast<size_t>(x) * nw + v] = row[x] / total;
    }
}

}  // namespace

Placement plan_robust(const std::vector<LoadMatrix>& workloads, const ParallelConfig& config,
                      const RobustOptions& options) {
    check_workloads(workloads, config.num_logical_experts);
    if (workloads.size() == 1) return plan_balanced(workloads[0], config);
    const int nw = static_cast<int>(workloads.size());
    RobustPlanner planner(config, nw, options);
    const auto rows = workloads[0].rows();
    Placement out{IndexMatrix(rows, config.num_physical_experts),
                  IndexMatrix(rows, config.num_physical_experts),
                  IndexMatrix(rows, config.num_logical_experts)};
    std::vector<double> w;
    for (Eigen::Index l = 0; l < rows; ++l) {
        scaled_layer(workloads, l, w);
        planner.plan_row(w, out.phy2log.row(l).data(), out.phyrank.row(l).data(), out.logcnt.row(l).data());
    }
    return out;
}

LoadMatrix robust_blend(const std::vector<LoadMatrix>& workloads) {
    EPLB_CHECK(!workloads.empty(), "robust planning needs at least one workload");
    check_workloads(workloads, static_cast<int>(workloads[0].cols()));
    const int nw = static_cast<int>(workloads.size());
    LoadMatrix out(workloads[0].rows(), workloads[0].cols());
    std::vector<double> w;
    for (Eigen::Index l = 0; l < out.rows(); ++l) {
        scaled_layer(workloads, l, w);
        double total = 0;  // of the plain sum: the blend keeps the sum's scale
        for (int v = 0; v < nw; ++v) total += workloads[v].row(l).cast<double>().sum();
        for (Eigen::Index x = 0; x < out.cols(); ++x) {
            double sum = 0;
            for (int v = 0; v < nw; ++v) sum += w[static_cast<size_t>(x) * nw + v];
            out(l, x) = static_cast<float>(sum * total / nw);
        }
    }
    return out;
}

WorstLoads worst_workload_loads(const IndexMatrix& phy2log, const std::vector<LoadMatrix>& workloads,
                                const ParallelConfig& config) {
    check_workloads(workloads, config.num_logical_experts);
    EPLB_CHECK(phy2log.rows() == workloads[0].rows() && phy2log.cols() == config.num_physical_experts,
               "placement " << phy2log.rows() << "x" << phy2log.cols() << " does not fit "
                            << workloads[0].rows() << " layers of " << describe(config));
    const int nw = static_cast<int>(workloads.size()), e = config.num_logical_experts;
    const int k = config.slots_per_gpu();
    WorstLoads out;
    out.max_gpu_load.assign(phy2log.rows(), 0.0);
    out.lower_bound.assign(phy2log.rows(), 0.0);
    std::vector<double> w, one(e);
    std::vector<int> cnt;
    for (Eigen::Index l = 0; l < phy2log.rows(); ++l) {
        scaled_layer(workloads, l, w);
        cnt.assign(e, 0);
        for (int s = 0; s < config.num_physical_experts; ++s) ++cnt[phy2log(l, s)];
        for (int v = 0; v < nw; ++v) {
            double total = 0;
            for (int x = 0; x < e; ++x) {
                one[x] = w[static_cast<size_t>(x) * nw + v];
                total += one[x];
            }
            for (int q = 0; q < config.num_gpus; ++q) {
                double sum = 0;
                for (int s = q * k; s < (q + 1) * k; ++s) sum += one[phy2log(l, s)] / cnt[phy2log(l, s)];
                out.max_gpu_load[l] = std::max(out.max_gpu_load[l], sum);
            }
            const double t = min_max_replica_load_capped(one.data(), e, config.num_physical_experts, 0);
            out.lower_bound[l] = std::max({out.lower_bound[l], total / config.num_gpus, t});
        }
    }
    return out;
}

}  // namespace eplb
