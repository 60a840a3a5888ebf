// GPU and slot relabelling against a previous placement (see relabel.h).
#include "eplb/relabel.h"

#include <algorithm>
#include <limits>

#include "eplb/error.h"

namespace eplb {

std::vector<int> max_weight_assignment(const std::vector<int64_t>& weight, int n) {
    // Shortest augmenting paths with potentials on cost = -weight (1-based rows and columns,
    // column 0 is the virtual start).
    constexpr int64_t kInf = std::numeric_limits<int64_t>::max() / 4;
    std::vector<int64_t> u(n + 1, 0), v(n + 1, 0), min_v(n + 1);
    std::vector<int> p(n + 1, 0), way(n + 1, 0);
    std::vector<char> used(n + 1);
    for (int i = 1; i <= n; ++i) {
        p[0] = i;
        int j0 = 0;
        std::fill(min_v.begin(), min_v.end(), kInf);
        std::fill(used.begin(), used.end(), 0);
        do {
            used[j0] = 1;
            const int i0 = p[j0];
            int64_t delta = kInf;
            int j1 = 0;
            for (int j = 1; j <= n; ++j) {
                if (used[j]) continue;
                const int64_t cur = -weight[static_cast<size_t>(i0 - 1) * n + (j - 1)] - u[i0] - v[j];
                if (cur < min_v[j]) {
                    min_v[j] = cur;
                    way[j] = j0;
                }
                if (min_v[j] < delta) {
                    delta = min_v[j];
                    j1 = j;
                }
            }
            for (int j = 0; j <= n; ++j) {
                if (used[j]) {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    min_v[j] -= delta;
                }
            }
            j0 = j1;
        } while (p[j0] != 0);
        do {
            const int j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
        } while (j0 != 0);
    }
    std::vector<int> column(n, -1);
    for (int j = 1; j <= n; ++j) column[p[j] - 1] = j - 1;
    return column;
}

namespace {

class Relabeller {
  public:
    explicit Relabeller(const ParallelConfig& c)
        : e_(c.num_logical_experts),
          p_(c.num_gpus),
          k_(c.slots_per_gpu()),
          n_(c.num_nodes),
          gpn_(c.gpus_per_node()),
          whole_nodes_(c.hierarchical()),
          // Experts kept dominate: one more kept expert outweighs any gain in same-node copies.
          kept_weight_(static_cast<int64_t>(c.num_physical_experts) + 1) {
        old_gpu_.resize(static_cast<size_t>(p_) * e_);
        old_node_.resize(static_cast<size_t>(n_) * e_);
        weight_.resize(static_cast<size_t>(p_) * p_);
    }

    // new_row, old_row: [R]; writes the relabelled slot permutation: out slot s takes new slot src[s].
    void relabel_row(const int* new_row, const int* old_row, std::vector<int>& src) {
        std::fill(old_gpu_.begin(), old_gpu_.end(), 0);
        std::fill(old_node_.begin(), old_node_.end(), 0);
        for (int s = 0; s < p_ * k_; ++s) {
            const int x = old_row[s];
            if (x < 0) continue;
            old_gpu_[static_cast<size_t>(s / k_) * e_ + x] = 1;
            old_node_[static_cast<size_t>(s / k_ / gpn_) * e_ + x] = 1;
        }
        // weight(i, j): new GPU i placed at old GPU j.
        for (int i = 0; i < p_; ++i) {
            for (int j = 0; j < p_; ++j) {
                int kept = 0, near = 0;
                for (int t = 0; t < k_; ++t) {
                    const int x = new_row[i * k_ + t];
                    if (first_in_gpu(new_row, i, t)) {
                        kept += old_gpu_[static_cast<size_t>(j) * e_ + x];
                        near += old_node_[static_cast<size_t>(j / gpn_) * e_ + x];
                    }
                }
                weight_[static_cast<size_t>(i) * p_ + j] = kept * kept_weight_ + near;
            }
        }
        std::vector<int> place(p_);  // old GPU position of each new GPU
        if (!whole_nodes_ || n_ == 1) {
            place = max_weight_assignment(weight_, p_);
        } else {
            // Nodes as blocks: node a of the plan on node b is worth the best GPU matching inside.
            std::vector<int64_t> node_weight(static_cast<size_t>(n_) * n_),
                inner(static_cast<size_t>(gpn_) * gpn_);
            std::vector<std::vector<int>> inner_match(static_cast<size_t>(n_) * n_);
            for (int a = 0; a < n_; ++a) {
                for (int b = 0; b < n_; ++b) {
                    for (int i = 0; i < gpn_; ++i)
                        for (int j = 0; j < gpn_; ++j)
                            inner[static_cast<size_t>(i) * gpn_ + j] =
                                weight_[static_cast<size_t>(a * gpn_ + i) * p_ + b * gpn_ + j];
                    auto& match = inner_match[static_cast<size_t>(a) * n_ + b];
                    match = max_weight_assignment(inner, gpn_);
                    int64_t total = 0;
                    for (int i = 0; i < gpn_; ++i) total += inner[static_cast<size_t>(i) * gpn_ + match[i]];
                    node_weight[static_cast<size_t>(a) * n_ + b] = total;
                }
            }
            const std::vector<int> node_place = max_weight_assignment(node_weight, n_);
            for (int a = 0; a < n_; ++a) {
                const auto& match = inner_match[static_cast<size_t>(a) * n_ + node_place[a]];
                for (int i = 0; i < gpn_; ++i) place[a * gpn_ + i] = node_place[a] * gpn_ + match[i];
            }
        }
        // Slots: experts that stay keep their old slot, the rest fill the free slots in order.
        src.assign(static_cast<size_t>(p_) * k_, -1);
        std::vector<char> taken(k_);
        for (int i = 0; i < p_; ++i) {
            const int j = place[i];
            std::fill(taken.begin(), taken.end(), 0);
            for (int s = 0; s < k_; ++s) {
                const int x = old_row[j * k_ + s];
                if (x < 0) continue;
                for (int t = 0; t < k_; ++t) {
                    if (!taken[t] && new_row[i * k_ + t] == x) {
                        taken[t] = 1;
                        src[j * k_ + s] = i * k_ + t;
                        break;
                    }
                }
            }
            int s = 0;
            for (int t = 0; t < k_; ++t) {
                if (taken[t]) continue;
                while (src[j * k_ + s] >= 0) ++s;
                src[j * k_ + s] = i * k_ + t;
            }
        }
    }

  private:
    // Whether slot t is the first replica of its expert on new GPU i (a GPU counts an expert once).
    bool first_in_gpu(const int* new_row, int i, int t) const {
        for (int u = 0; u < t; ++u) {
            if (new_row[i * k_ + u] == new_row[i * k_ + t]) return false;
        }
        return true;
    }

    int e_, p_, k_, n_, gpn_;
    bool whole_nodes_;
    int64_t kept_weight_;
    std::vector<uint8_t> old_gpu_, old_node_;
    std::vector<int64_t> weight_;
};

}  // namespace

Placement relabel_to_previous(const Placement& plan, const IndexMatrix& previous,
                              const ParallelConfig& config) {
    EPLB_CHECK(previous.rows() == plan.phy2log.rows() && previous.cols() == plan.phy2log.cols(),
               "previous placement is " << previous.rows() << "x" << previous.cols() << " but the plan is "
                                        << plan.phy2log.rows() << "x" << plan.phy2log.cols()
                                        << " (layers x slots)");
    EPLB_CHECK(plan.phy2log.cols() == config.num_physical_experts,
               "plan has " << plan.phy2log.cols() << " slots, config says " << config.num_physical_experts);
    for (Eigen::Index l = 0; l < previous.rows(); ++l) {
        for (Eigen::Index s = 0; s < previous.cols(); ++s) {
            const int x = previous(l, s);
            EPLB_CHECK(x >= -1 && x < config.num_logical_experts,
                       "previous phy2log[" << l << "][" << s << "] is " << x << ", outside [0, "
                                           << config.num_logical_experts << ")");
        }
    }
    Relabeller relabeller(config);
    Placement out = plan;
    std::vector<int> src;
    for (int l = 0; l < plan.num_layers(); ++l) {
        relabeller.relabel_row(plan.phy2log.row(l).data(), previous.row(l).data(), src);
        for (int s = 0; s < plan.num_slots(); ++s) {
            out.phy2log(l, s) = plan.phy2log(l, src[s]);
            out.phyrank(l, s) = plan.phyrank(l, src[s]);
        }
    }
    return out;
}

}  // namespace eplb
