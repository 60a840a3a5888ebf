// The `balanced` policy (see balanced.h): groups to nodes, then ReplicaPacker per flat instance.
#include "eplb/balanced.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <numeric>
#include <utility>
#include <vector>

#include "eplb/error.h"
#include "eplb/replica_packing.h"

namespace eplb {

namespace {

class BalancedPlanner {
  public:
    explicit BalancedPlanner(const ParallelConfig& c)
        : e_(c.num_logical_experts),
          r_(c.num_physical_experts),
          p_(c.num_gpus),
          g_(c.hierarchical() ? c.num_groups : 1),
          n_(c.hierarchical() ? c.num_nodes : 1) {
        node_groups_.resize(g_);
        group_load_.resize(g_);
    }

    void plan_row(const float* load, int* phy2log, int* phyrank, int* logcnt) {
        assign_groups(load);
        const int groups_per_node = g_ / n_, group_size = e_ / g_;
        const int gpus_per_node = p_ / n_, slots_per_node = r_ / n_, slots_per_gpu = r_ / p_;
        for (int node = 0; node < n_; ++node) {
            node_experts(node_groups_.data() + node * groups_per_node, groups_per_node, group_size, experts_);
            weight_.resize(experts_.size());
            for (size_t i = 0; i < experts_.size(); ++i) weight_[i] = load[experts_[i]];
            packer_.reset(weight_.data(), static_cast<int>(experts_.size()), gpus_per_node, slots_per_gpu);
            packer_.solve();
            for (int s = 0; s < slots_per_node; ++s)
                phy2log[node * slots_per_node + s] = experts_[packer_.expert_at(s)];
        }
        number_replicas(phy2log, r_, e_, phyrank, logcnt);
    }

  private:
    // max(node load / (P/N), node T*) for the groups [groups, groups + G/N): no placement that
    // keeps these groups on one node can do better on it.
    double node_bound(const int* groups) {
        const int groups_per_node = g_ / n_, group_size = e_ / g_;
        const int slots_per_node = r_ / n_, gpus_per_node = p_ / n_;
        double total = 0, top1 = 0, top2 = 0;
        for (int i = 0; i < groups_per_node; ++i) {
            const int g = groups[i];
            total += group_load_[g];
            top2 = std::max(top2, std::min(top1, group_top_[2 * g]));
            top2 = std::max(top2, group_top_[2 * g + 1]);
            top1 = std::max(top1, group_top_[2 * g]);
        }
        const int n = groups_per_node * group_size, extra = slots_per_node - n;
        const int cap = n >= slots_per_node / gpus_per_node ? gpus_per_node : 0;
        // T* <= the max replica load of any count vector: one replica each (top1), or the one extra
        // on the heaviest (max(top1 / 2, top2)). When that is under the node's mean GPU load, the
        // mean is the bound and T* need not be computed.
        const double t_upper = extra >= 1 && cap != 1 ? std::max(top1 / 2, top2) : top1;
        double t = t_upper;
        if (t_upper > total / gpus_per_node) {
            bound_weight_.clear();
            for (int i = 0; i < groups_per_node; ++i) {
                const float* w = row_ + groups[i] * group_size;
                bound_weight_.insert(bound_weight_.end(), w, w + group_size);
            }
            if (extra + 1 < n) {
                // Only the extra + 1 heaviest experts can take extra replicas in an optimum (an extra
                // on a lighter one moves to a heavier one without one): solve those, the rest keep one.
                auto top_end = bound_weight_.begin() + extra + 1;
                std::nth_element(bound_weight_.begin(), top_end - 1, bound_weight_.end(),
                                 std::greater<double>());
                const double rest = *std::max_element(top_end, bound_weight_.end());
                t = std::max(
                    rest, min_max_replica_load_capped(bound_weight_.data(), extra + 1, 2 * extra + 1, cap));
            } else {
                t = min_max_replica_load_capped(bound_weight_.data(), n, slots_per_node, cap);
            }
        }
        return std::max(total / gpus_per_node, t);
    }

    void assign_groups(const float* load) {
        const int group_size = e_ / g_;
        if (n_ == 1) {
            std::iota(node_groups_.begin(), node_groups_.end(), 0);
            return;
        }
        row_ = load;
        group_top_.assign(2 * g_, 0.0);
        for (int g = 0; g < g_; ++g) {
            double sum = 0, top1 = 0, top2 = 0;
            for (int j = 0; j < group_size; ++j) {
                const double w = load[g * group_size + j];
                sum += w;
                top2 = std::max(top2, std::min(top1, w));
                top1 = std::max(top1, w);
            }
            group_load_[g] = sum;
            group_top_[2 * g] = top1;
            group_top_[2 * g + 1] = top2;
        }
        assign_groups_to_nodes(
            group_load_, 1, n_, [this](const int* groups) { return node_bound(groups); }, node_groups_);
    }

    int e_, r_, p_, g_, n_;
    std::vector<int> node_groups_;  // [N][G/N] groups of each node
    const float* row_ = nullptr;    // the row being planned
    std::vector<double> group_load_, bound_weight_, weight_;
    std::vector<double> group_top_;  // [G][2] the two heaviest experts of each group
    std::vector<int> experts_;
    ReplicaPacker packer_;
};

}  // namespace

void node_experts(int* groups, int groups_per_node, int group_size, std::vector<int>& experts) {
    std::sort(groups, groups + groups_per_node);
    experts.clear();
    for (int i = 0; i < groups_per_node; ++i) {
        for (int j = 0; j < group_size; ++j) experts.push_back(groups[i] * group_size + j);
    }
}

void assign_groups_to_nodes(const std::vector<double>& group_load, int num_workloads, int num_nodes,
                            const std::function<double(const int*)>& uncached_node_bound,
                            std::vector<int>& node_groups) {
    const int g_count = static_cast<int>(group_load.size()) / num_workloads, w_count = num_workloads;
    const int groups_per_node = g_count / num_nodes;
    // The swap search asks for the same group sets again and again (28 pairs for 8 groups on
    // 4 nodes): each set's bound is computed once, keyed by its bitmask.
    std::vector<std::pair<uint64_t, double>> known;
    auto node_bound = [&](const int* groups) {
        if (g_count > 64) return uncached_node_bound(groups);
        uint64_t key = 0;
        for (int i = 0; i < groups_per_node; ++i) key |= uint64_t{1} << groups[i];
        for (const auto& [k, v] : known) {
            if (k == key) return v;
        }
        const double bound = uncached_node_bound(groups);
        known.emplace_back(key, bound);
        return bound;
    };
    node_groups.assign(g_count, 0);
    auto worst = [&](const double* v) { return *std::max_element(v, v + w_count); };
    // Greedy: heaviest group (its worst workload) first to the node with room whose worst workload
    // is lightest (ties: lowest index). One workload: heaviest group first to the lightest node.
    std::vector<int> order(g_count), fill(num_nodes, 0);
    std::vector<double> group_worst(g_count), node_load(static_cast<size_t>(num_nodes) * w_count, 0.0);
    for (int g = 0; g < g_count; ++g) group_worst[g] = worst(&group_load[static_cast<size_t>(g) * w_count]);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return group_worst[a] > group_worst[b]; });
    for (int g : order) {
        int best = -1;
        for (int node = 0; node < num_nodes; ++node) {
            if (fill[node] < groups_per_node &&
                (best < 0 || worst(&node_load[static_cast<size_t>(node) * w_count]) <
                                 worst(&node_load[static_cast<size_t>(best) * w_count])))
                best = node;
        }
        node_groups[best * groups_per_node + fill[best]++] = g;
        for (int w = 0; w < w_count; ++w)
            node_load[static_cast<size_t>(best) * w_count + w] +=
                group_load[static_cast<size_t>(g) * w_count + w];
    }
    std::vector<double> bound(num_nodes);
    for (int node = 0; node < num_nodes; ++node)
        bound[node] = node_bound(&node_groups[node * groups_per_node]);
    // Swap groups between the node of highest bound and another while that lowers the pair's max.
    const double tol = 1e-12 * std::accumulate(group_load.begin(), group_load.end(), 0.0) / w_count;
    for (int step = 0; step < 16 * g_count; ++step) {
        const int a = static_cast<int>(std::max_element(bound.begin(), bound.end()) - bound.begin());
        double best = bound[a] - tol, best_a = 0, best_b = 0;
        int best_i = -1, best_j = -1;
        for (int b = 0; b < num_nodes; ++b) {
            if (b == a) continue;
            for (int i = a * groups_per_node; i < (a + 1) * groups_per_node; ++i) {
                for (int j = b * groups_per_node; j < (b + 1) * groups_per_node; ++j) {
                    std::swap(node_groups[i], node_groups[j]);
                    const double ba = node_bound(&node_groups[a * groups_per_node]);
                    const double bb = ba < best ? node_bound(&node_groups[b * groups_per_node]) : ba;
                    std::swap(node_groups[i], node_groups[j]);
                    if (std::max(ba, bb) < best) {
                        best = std::max(ba, bb);
                        best_a = ba;
                        best_b = bb;
                        best_i = i;
                        best_j = j;
                    }
                }
            }
        }
        if (best_i < 0) break;
        std::swap(node_groups[best_i], node_groups[best_j]);
        bound[a] = best_a;
        bound[best_j / groups_per_node] = best_b;
    }
}

std::vector<double> node_lower_bounds(const IndexMatrix& phy2log, const LoadMatrix& load,
                                      const ParallelConfig& config) {
    EPLB_CHECK(phy2log.rows() == load.rows() && phy2log.cols() == config.num_physical_experts &&
                   load.cols() == config.num_logical_experts,
               "placement " << phy2log.rows() << "x" << phy2log.cols() << " and load " << load.rows() << "x"
                            << load.cols() << " do not fit " << describe(config));
    const int slots_per_node = config.num_physical_experts / config.num_nodes, gpn = config.gpus_per_node();
    std::vector<double> out(phy2log.rows(), 0.0), w;
    std::vector<int> seen(config.num_logical_experts, -1);
    for (Eigen::Index l = 0; l < phy2log.rows(); ++l) {
        for (int node = 0; node < config.num_nodes; ++node) {
            w.clear();
            const int stamp = static_cast<int>(l) * config.num_nodes + node;
            for (int s = node * slots_per_node; s < (node + 1) * slots_per_node; ++s) {
                const int x = phy2log(l, s);
                if (x < 0 || seen[x] == stamp) continue;
                seen[x] = stamp;
                w.push_back(load(l, x));
            }
            const double total = std::accumulate(w.begin(), w.end(), 0.0);
            const double t =
                min_max_replica_load_capped(w.data(), static_cast<int>(w.size()), slots_per_node, 0);
            out[l] = std::max({out[l], total / gpn, t});
        }
    }
    return out;
}

Placement plan_balanced(const LoadMatrix& load, const ParallelConfig& config) {
    EPLB_CHECK(
        load.cols() == config.num_logical_experts,
        "load has " << load.cols() << " experts but num_logical_experts is " << config.num_logical_experts);
    BalancedPlanner planner(config);
    const auto rows = load.rows();
    Placement out{IndexMatrix(rows, config.num_physical_experts),
                  IndexMatrix(rows, config.num_physical_experts),
                  IndexMatrix(rows, config.num_logical_experts)};
    for (Eigen::Index r = 0; r < rows; ++r) {
        planner.plan_row(load.row(r).data(), out.phy2log.row(r).data(), out.phyrank.row(r).data(),
                         out.logcnt.row(r).data());
    }
    return out;
}

}  // namespace eplb
