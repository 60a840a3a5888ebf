// DeepSeek's EPLB rebalance with the canonical, deterministic semantics of DESIGN.md. Row-wise
// kernels on raw pointers with reused scratch so that a 58-layer plan does not allocate per row.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "eplb/error.h"
#include "eplb/policy.h"

namespace eplb {

const char* policy_name(Policy policy) {
    switch (policy) {
        case Policy::kDeepseek:
            return "deepseek";
    }
    return "?";
}

void validate_loads(const LoadMatrix& load, const char* what) {
    for (Eigen::Index r = 0; r < load.rows(); ++r) {
        for (Eigen::Index e = 0; e < load.cols(); ++e) {
            const float v = load(r, e);
            EPLB_CHECK(std::isfinite(v) && v >= 0.0f, what << " of row " << r << ", expert " << e << " is "
                                                           << v << ": loads must be finite and >= 0");
        }
    }
}

namespace {

// Order-preserving 32-bit image of a float >= 0 (-0 maps like +0): larger float, larger bits.
uint32_t float_key(float x) {
    uint32_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    return bits == 0x80000000u ? 0u : bits;
}

// "Which entry has the smallest key, ties to the lowest index", for the two greedy choices of
// the policy: the lightest pack with room, and the expert with the largest load per replica.
// Keys are stored as key << 24 | index, so every stored value is unique and the answer is a plain
// minimum. Up to kLinearEntries entries a scan (a short reduction the compiler unrolls) is fastest;
// above it a tournament tree of minima replays one path of log2(n) steps per change.
class KeyedArgmin {
  public:
    static constexpr int kIndexBits = 24;  // indices < 2^24 (configs cap counts there)
    static constexpr int kLinearEntries = 16;

    // n entries with keys key_of(i) (each < 2^40).
    template <typename KeyOf>
    void reset(int n, KeyOf key_of) {
        n_ = n;
        size_ = 1;
        while (size_ < n) size_ *= 2;
        node_.assign(2 * static_cast<size_t>(size_),
                     std::numeric_limits<uint64_t>::max());  // padding never wins
        for (int i = 0; i < n; ++i) node_[size_ + i] = key_of(i) << kIndexBits | static_cast<uint64_t>(i);
        if (n > kLinearEntries) {
            for (int v = size_ - 1; v >= 1; --v) node_[v] = std::min(node_[2 * v], node_[2 * v + 1]);
        }
    }
    // key < 2^40.
    void set(int i, uint64_t key) {
        const uint64_t value = key << kIndexBits | static_cast<uint64_t>(i);
        node_[size_ + i] = value;
        if (n_ <= kLinearEntries) return;
        for (int v = (size_ + i) >> 1; v >= 1; v >>= 1) node_[v] = std::min(node_[2 * v], node_[2 * v + 1]);
    }
    int argmin() const {
        uint64_t best = node_[1];
        if (n_ <= kLinearEntries) {
            best = node_[size_];
            for (int i = 1; i < n_; ++i) best = std::min(best, node_[size_ + i]);
        }
        return static_cast<int>(best & ((uint64_t{1} << kIndexBits) - 1));
    }

  private:
    int n_ = 0, size_ = 1;
    std::vector<uint64_t> node_;  // [1, size_) tree of minima, [size_, 2 size_) the entries
};

struct PackScratch {
    std::vector<int> order, before;
    std::vector<uint64_t> keys;
    std::vector<float> pack_weight;
    std::vector<int> pack_count;
    KeyedArgmin packs;
};

// Rows up to this length are ordered by counting (see pack_row), longer ones by sorting.
constexpr int kCountingRankItems = 128;

// balanced_packing of one row: n items onto m packs.
void pack_row(const float* weight, int n, int m, int* pack, int* rank, PackScratch& s) {
    const int per_pack = n / m;
    if (per_pack == 1) {
        for (int i = 0; i < n; ++i) {
            pack[i] = i;
            rank[i] = 0;
        }
        return;
    }
    // Order by weight descending, equal weights by lower index. Short rows: each item's position
    // is the number of items before it, counted without branches (a comparison sort of 72
    // replicas costs more in mispredicted branches than this O(n^2) count). Long rows: a sort of
    // unique 64-bit keys (descending weight, then index).
    s.order.resize(n);
    if (n <= kCountingRankItems) {
        // For i < j, i comes first iff weight[i] >= weight[j]; each pair is compared once.
        s.before.assign(n, 0);
        int* before = s.before.data();
        for (int i = 0; i < n; ++i) {
            const float wi = weight[i];
            int after_i = 0;
            for (int j = i + 1; j < n; ++j) {
                const int i_first = wi >= weight[j];
                before[j] += i_first;
                after_i += 1 - i_first;
            }
            before[i] += after_i;
        }
        for (int i = 0; i < n; ++i) s.order[before[i]] = i;
    } else {
        s.keys.resize(n);
        for (int i = 0; i < n; ++i) {
            s.keys[i] = (static_cast<uint64_t>(~float_key(weight[i])) << 32) | static_cast<uint32_t>(i);
        }
        std::sort(s.keys.begin(), s.keys.end());
        for (int i = 0; i < n; ++i) s.order[i] = static_cast<int>(s.keys[i] & 0xffffffffu);
    }
    // Pack key = (full, accumulated float32 weight): the root is the lightest pack with room.
    constexpr uint64_t kFull = uint64_t{1} << 32;
    s.pack_weight.assign(m, 0.0f);
    s.pack_count.assign(m, 0);
    s.packs.reset(m, [](int) { return uint64_t{0}; });
    for (const int item : s.order) {
        const int p = s.packs.argmin();
        pack[item] = p;
        rank[item] = s.pack_count[p];
        s.pack_weight[p] += weight[item];
        const bool full = ++s.pack_count[p] == per_pack;
        s.packs.set(p, (full ? kFull : 0) | float_key(s.pack_weight[p]));
    }
}

struct ReplicateScratch {
    KeyedArgmin experts;
};

// replicate_experts of one row: n experts onto r slots.
void replicate_row(const float* weight, int n, int r, int* phy2log, int* phyrank, int* logcnt,
                   ReplicateScratch& s) {
    for (int i = 0; i < n; ++i) {
        phy2log[i] = i;
        phyrank[i] = 0;
        logcnt[i] = 1;
    }
    if (r == n) return;
    // Key = complement of weight/logcnt (float32 division): the root is the largest load per
    // replica, ties to the lowest index.
    s.experts.reset(n, [&](int i) { return uint64_t{0xffffffffu - float_key(weight[i])}; });
    for (int i = n; i < r; ++i) {
        const int e = s.experts.argmin();
        phy2log[i] = e;
        phyrank[i] = logcnt[e];
        ++logcnt[e];
        s.experts.set(e, 0xffffffffu - float_key(weight[e] / static_cast<float>(logcnt[e])));
    }
}

}  // namespace

Packing balanced_packing(const LoadMatrix& weight, int num_packs) {
    const int rows = static_cast<int>(weight.rows()), n = static_cast<int>(weight.cols());
    EPLB_CHECK(num_packs >= 1 && n % num_packs == 0,
               "balanced_packing: " << n << " items do not divide into " << num_packs << " packs");
    Packing out{IndexMatrix(rows, n), IndexMatrix(rows, n)};
    PackScratch scratch;
    for (int r = 0; r < rows; ++r) {
        pack_row(weight.row(r).data(), n, num_packs, out.pack_index.row(r).data(),
                 out.rank_in_pack.row(r).data(), scratch);
    }
    return out;
}

Replication replicate_experts(const LoadMatrix& weight, int num_physical) {
    const int rows = static_cast<int>(weight.rows()), n = static_cast<int>(weight.cols());
    EPLB_CHECK(num_physical >= n, "replicate_experts: " << num_physical << " slots for " << n << " experts");
    Replication out{IndexMatrix(rows, num_physical), IndexMatrix(rows, num_physical), IndexMatrix(rows, n)};
    ReplicateScratch scratch;
    for (int r = 0; r < rows; ++r) {
        replicate_row(weight.row(r).data(), n, num_physical, out.phy2log.row(r).data(),
                      out.phyrank.row(r).data(), out.logcnt.row(r).data(), scratch);
    }
    return out;
}

namespace {

// The hierarchical procedure for one row; the global policy calls it with one group and one node.
class HierarchicalPlanner {
  public:
    HierarchicalPlanner(int num_experts, int num_slots, int num_groups, int num_nodes, int num_gpus)
        : e_(num_experts), r_(num_slots), g_(num_groups), n_(num_nodes), p_(num_gpus) {
        group_weight_.resize(g_);
        group_pack_.resize(g_);
        group_rank_.resize(g_);
        mlog2log_.resize(e_);
        node_weight_.resize(e_ / n_);
        node_phy2mlog_.resize(r_ / n_);
        node_phyrank_.resize(r_ / n_);
        node_logcnt_.resize(e_ / n_);
        replica_weight_.resize(r_ / n_);
        gpu_index_.resize(r_ / n_);
        rank_in_gpu_.resize(r_ / n_);
    }

    void plan_row(const float* weight, int* phy2log, int* phyrank, int* logcnt) {
        const int group_size = e_ / g_, groups_per_node = g_ / n_;
        const int experts_per_node = e_ / n_, slots_per_node = r_ / n_, gpus_per_node = p_ / n_;
        const int slots_per_gpu = r_ / p_;
        // 1. Groups to nodes by their float32 sums (in index order).
        for (int g = 0; g < g_; ++g) {
            float sum = 0.0f;
            for (int i = 0; i < group_size; ++i) sum += weight[g * group_size + i];
            group_weight_[g] = sum;
        }
        pack_row(group_weight_.data(), g_, n_, group_pack_.data(), group_rank_.data(), pack_scratch_);
        // 2. Node-local ("middle") expert order: whole groups, in the order they were packed.
        for (int g = 0; g < g_; ++g) {
            const int first = (group_pack_[g] * groups_per_node + group_rank_[g]) * group_size;
            for (int i = 0; i < group_size; ++i) mlog2log_[first + i] = g * group_size + i;
        }
        for (int node = 0; node < n_; ++node) {
            const int* node_mlog2log = mlog2log_.data() + node * experts_per_node;
            for (int j = 0; j < experts_per_node; ++j) node_weight_[j] = weight[node_mlog2log[j]];
            // 3. Replicate within the node.
            replicate_row(node_weight_.data(), experts_per_node, slots_per_node, node_phy2mlog_.data(),
                          node_phyrank_.data(), node_logcnt_.data(), replicate_scratch_);
            // 4. Pack the node's replicas (load split evenly over replicas) onto its GPUs.
            for (int i = 0; i < slots_per_node; ++i) {
                const int m = node_phy2mlog_[i];
                replica_weight_[i] = node_weight_[m] / static_cast<float>(node_logcnt_[m]);
            }
            pack_row(replica_weight_.data(), slots_per_node, gpus_per_node, gpu_index_.data(),
                     rank_in_gpu_.data(), pack_scratch_);
            for (int i = 0; i < slots_per_node; ++i) {
                const int slot = node * slots_per_node + gpu_index_[i] * slots_per_gpu + rank_in_gpu_[i];
                phy2log[slot] = node_mlog2log[node_phy2mlog_[i]];
                phyrank[slot] = node_phyrank_[i];
            }
            for (int j = 0; j < experts_per_node; ++j) logcnt[node_mlog2log[j]] = node_logcnt_[j];
        }
    }

  private:
    int e_, r_, g_, n_, p_;
    std::vector<float> group_weight_, node_weight_, replica_weight_;
    std::vector<int> group_pack_, group_rank_, mlog2log_;
    std::vector<int> node_phy2mlog_, node_phyrank_, node_logcnt_, gpu_index_, rank_in_gpu_;
    PackScratch pack_scratch_;
    ReplicateScratch replicate_scratch_;
};

}  // namespace

Placement plan_deepseek(const LoadMatrix& load, const ParallelConfig& config) {
    EPLB_CHECK(
        load.cols() == config.num_logical_experts,
        "load has " << load.cols() << " experts but num_logical_experts is " << config.num_logical_experts);
    const bool hierarchical = config.hierarchical();
    HierarchicalPlanner planner(config.num_logical_experts, config.num_physical_experts,
                                hierarchical ? config.num_groups : 1, hierarchical ? config.num_nodes : 1,
                                config.num_gpus);
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
