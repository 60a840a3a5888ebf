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
    std::vector<uint32_t> keys;
    std::vector<float> pack_weight;
    std::vector<int> pack_count;
    std::vector<KeyedArgmin> packs;
};

// Rows packed in lockstep: the greedy of one row is a chain of dependent steps; interleaving
// independent rows lets the processor overlap those chains.
constexpr int kLockstepRows = 4;

// Rows up to this length are ordered by counting, longer ones by a radix sort (see order_row).
constexpr int kCountingRankItems = 128;

// order[t] = the item placed t-th: weight descending, equal weights by lower index. Both methods
// avoid the data-dependent branches that make comparison sorts of a few hundred floats slow.
void order_row(const float* weight, int n, int* order, PackScratch& s) {
    if (n <= kCountingRankItems) {
        // Each item's position is the number of items before it; for i < j, i comes first iff
        // weight[i] >= weight[j], so each pair is compared once (vectorised by the compiler).
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
        for (int i = 0; i < n; ++i) order[before[i]] = i;
        return;
    }
    // LSD radix sort of the complemented float bits, 8 bits a pass: stable, so ties keep index
    // order; a pass whose digit is the same for every key is skipped.
    s.keys.resize(2 * static_cast<size_t>(n));
    s.before.resize(2 * static_cast<size_t>(n));
    uint32_t* key = s.keys.data();
    uint32_t* key_tmp = key + n;
    int* idx = s.before.data();
    int* idx_tmp = idx + n;
    uint32_t count[4][256] = {};
    for (int i = 0; i < n; ++i) {
        key[i] = ~float_key(weight[i]);
        idx[i] = i;
        for (int d = 0; d < 4; ++d) ++count[d][(key[i] >> (8 * d)) & 0xff];
    }
    for (int d = 0; d < 4; ++d) {
        const int shift = 8 * d;
        if (count[d][(key[0] >> shift) & 0xff] == static_cast<uint32_t>(n))
            continue;  // one digit: no-op pass
        uint32_t start[256];
        uint32_t sum = 0;
        for (int b = 0; b < 256; ++b) {
            start[b] = sum;
            sum += count[d][b];
        }
        for (int i = 0; i < n; ++i) {
            const uint32_t at = start[(key[i] >> shift) & 0xff]++;
            key_tmp[at] = key[i];
            idx_tmp[at] = idx[i];
        }
        std::swap(key, key_tmp);
        std::swap(idx, idx_tmp);
    }
    std::copy(idx, idx + n, order);
}

// balanced_packing of `rows` independent rows (row-major [rows][n]): n items onto m packs each.
void pack_rows(const float* weight, int rows, int n, int m, int* pack, int* rank, PackScratch& s) {
    const int per_pack = n / m;
    if (per_pack == 1) {
        for (size_t i = 0; i < static_cast<size_t>(rows) * n; ++i) {
            pack[i] = static_cast<int>(i % n);
            rank[i] = 0;
        }
        return;
    }
    // Pack key = (full, accumulated float32 weight): the argmin is the lightest pack with room.
    constexpr uint64_t kFull = uint64_t{1} << 32;
    s.order.resize(static_cast<size_t>(kLockstepRows) * n);
    s.pack_weight.resize(static_cast<size_t>(kLockstepRows) * m);
    s.pack_count.resize(static_cast<size_t>(kLockstepRows) * m);
    s.packs.resize(kLockstepRows);
    for (int first = 0; first < rows; first += kLockstepRows) {
        const int block = std::min(kLockstepRows, rows - first);
        for (int b = 0; b < block; ++b) {
            order_row(weight + static_cast<size_t>(first + b) * n, n,
                      s.order.data() + static_cast<size_t>(b) * n, s);
            std::fill_n(s.pack_weight.data() + static_cast<size_t>(b) * m, m, 0.0f);
            std::fill_n(s.pack_count.data() + static_cast<size_t>(b) * m, m, 0);
            s.packs[b].reset(m, [](int) { return uint64_t{0}; });
        }
        for (int t = 0; t < n; ++t) {
            for (int b = 0; b < block; ++b) {
                const size_t row = static_cast<size_t>(first + b) * n;
                float* pack_weight = s.pack_weight.data() + static_cast<size_t>(b) * m;
                int* pack_count = s.pack_count.data() + static_cast<size_t>(b) * m;
                const int item = s.order[static_cast<size_t>(b) * n + t];
                const int p = s.packs[b].argmin();
                pack[row + item] = p;
                rank[row + item] = pack_count[p];
                pack_weight[p] += weight[row + item];
                const bool full = ++pack_count[p] == per_pack;
                s.packs[b].set(p, (full ? kFull : 0) | float_key(pack_weight[p]));
            }
        }
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
    pack_rows(weight.data(), rows, n, num_packs, out.pack_index.data(), out.rank_in_pack.data(), scratch);
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

// Buffers of plan_hierarchical, kept per thread between calls: planning is called in loops (bench,
// simulation) and fresh buffers every call cost page faults.
struct HierarchicalScratch {
    PackScratch pack;
    ReplicateScratch replicate;
    std::vector<float> group_weight, node_weight, replica_weight;
    std::vector<int> group_pack, group_rank, mlog2log, phy2mlog, node_phyrank, mlogcnt, gpu_index,
        rank_in_gpu;
};

// The hierarchical procedure over all rows, stage by stage (each stage is row-independent, so
// packings of many rows run in lockstep); the global policy calls it with one group and one node.
void plan_hierarchical(const float* load, int rows, int e, int r, int g, int n, int p, int* phy2log,
                       int* phyrank, int* logcnt) {
    thread_local HierarchicalScratch scratch;
    const int group_size = e / g, groups_per_node = g / n;
    const int experts_per_node = e / n, slots_per_node = r / n, gpus_per_node = p / n, slots_per_gpu = r / p;
    const size_t node_rows = static_cast<size_t>(rows) * n;
    PackScratch& pack_scratch = scratch.pack;
    // 1. Groups to nodes by their float32 sums (in index order).
    std::vector<float>& group_weight = scratch.group_weight;
    group_weight.resize(static_cast<size_t>(rows) * g);
    for (int row = 0; row < rows; ++row) {
        const float* w = load + static_cast<size_t>(row) * e;
        for (int k = 0; k < g; ++k) {
            float sum = 0.0f;
            for (int i = 0; i < group_size; ++i) sum += w[k * group_size + i];
            group_weight[static_cast<size_t>(row) * g + k] = sum;
        }
    }
    std::vector<int>& group_pack = scratch.group_pack;
    std::vector<int>& group_rank = scratch.group_rank;
    group_pack.resize(group_weight.size());
    group_rank.resize(group_weight.size());
    pack_rows(group_weight.data(), rows, g, n, group_pack.data(), group_rank.data(), pack_scratch);
    // 2. Node-local ("middle") expert order: whole groups in the order they were packed; then
    // 3. replicate within each node.
    std::vector<int>& mlog2log = scratch.mlog2log;
    std::vector<float>& node_weight = scratch.node_weight;
    std::vector<int>& phy2mlog = scratch.phy2mlog;
    std::vector<int>& node_phyrank = scratch.node_phyrank;
    std::vector<int>& mlogcnt = scratch.mlogcnt;
    std::vector<float>& replica_weight = scratch.replica_weight;
    mlog2log.resize(static_cast<size_t>(rows) * e);
    node_weight.resize(experts_per_node);
    phy2mlog.resize(node_rows * slots_per_node);
    node_phyrank.resize(node_rows * slots_per_node);
    mlogcnt.resize(experts_per_node);
    replica_weight.resize(node_rows * slots_per_node);
    ReplicateScratch& replicate_scratch = scratch.replicate;
    for (int row = 0; row < rows; ++row) {
        const float* w = load + static_cast<size_t>(row) * e;
        int* row_mlog2log = mlog2log.data() + static_cast<size_t>(row) * e;
        for (int k = 0; k < g; ++k) {
            const size_t at = static_cast<size_t>(row) * g + k;
            const int first = (group_pack[at] * groups_per_node + group_rank[at]) * group_size;
            for (int i = 0; i < group_size; ++i) row_mlog2log[first + i] = k * group_size + i;
        }
        for (int node = 0; node < n; ++node) {
            const size_t nr = static_cast<size_t>(row) * n + node;
            const int* node_mlog2log = row_mlog2log + node * experts_per_node;
            for (int j = 0; j < experts_per_node; ++j) node_weight[j] = w[node_mlog2log[j]];
            int* node_phy2mlog = phy2mlog.data() + nr * slots_per_node;
            replicate_row(node_weight.data(), experts_per_node, slots_per_node, node_phy2mlog,
                          node_phyrank.data() + nr * slots_per_node, mlogcnt.data(), replicate_scratch);
            // Replica weight = expert load / its count (float32), the input of step 4.
            float* rw = replica_weight.data() + nr * slots_per_node;
            for (int i = 0; i < slots_per_node; ++i) {
                const int m = node_phy2mlog[i];
                rw[i] = node_weight[m] / static_cast<float>(mlogcnt[m]);
            }
            int* row_logcnt = logcnt + static_cast<size_t>(row) * e;
            for (int j = 0; j < experts_per_node; ++j) row_logcnt[node_mlog2log[j]] = mlogcnt[j];
        }
    }
    // 4. Pack each node's replicas onto its GPUs.
    std::vector<int>& gpu_index = scratch.gpu_index;
    std::vector<int>& rank_in_gpu = scratch.rank_in_gpu;
    gpu_index.resize(replica_weight.size());
    rank_in_gpu.resize(replica_weight.size());
    pack_rows(replica_weight.data(), static_cast<int>(node_rows), slots_per_node, gpus_per_node,
              gpu_index.data(), rank_in_gpu.data(), pack_scratch);
    for (size_t nr = 0; nr < node_rows; ++nr) {
        const size_t row = nr / n;
        const int node = static_cast<int>(nr % n);
        const int* node_mlog2log = mlog2log.data() + row * e + node * experts_per_node;
        for (int i = 0; i < slots_per_node; ++i) {
            const size_t at = nr * slots_per_node + i;
            const size_t slot =
                row * r + node * slots_per_node + gpu_index[at] * slots_per_gpu + rank_in_gpu[at];
            phy2log[slot] = node_mlog2log[phy2mlog[at]];
            phyrank[slot] = node_phyrank[at];
        }
    }
}

}  // namespace

void plan_deepseek_into(const LoadMatrix& load, const ParallelConfig& config, Placement& out) {
    EPLB_CHECK(
        load.cols() == config.num_logical_experts,
        "load has " << load.cols() << " experts but num_logical_experts is " << config.num_logical_experts);
    const bool hierarchical = config.hierarchical();
    const auto rows = load.rows();
    // resize() keeps the storage when the shape is unchanged: repeated plans write in place.
    out.phy2log.resize(rows, config.num_physical_experts);
    out.phyrank.resize(rows, config.num_physical_experts);
    out.logcnt.resize(rows, config.num_logical_experts);
    plan_hierarchical(load.data(), static_cast<int>(rows), config.num_logical_experts,
                      config.num_physical_experts, hierarchical ? config.num_groups : 1,
                      hierarchical ? config.num_nodes : 1, config.num_gpus, out.phy2log.data(),
                      out.phyrank.data(), out.logcnt.data());
}

Placement plan_deepseek(const LoadMatrix& load, const ParallelConfig& config) {
    Placement out;
    plan_deepseek_into(load, config, out);
    return out;
}

}  // namespace eplb
