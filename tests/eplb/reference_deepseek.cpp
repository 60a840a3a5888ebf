// DeepSeek's eplb.py line by line in plain loops: std::stable_sort, linear scans, float32 as
// DESIGN.md "The deepseek policy" says. Slow on purpose; nothing here is shared with deepseek.cpp.
#include "tests/eplb/reference_deepseek.h"

#include <algorithm>
#include <numeric>
#include <vector>

#include "eplb/error.h"

namespace eplb::reference {

PackResult balanced_packing(const LoadMatrix& weight, int num_packs) {
    const int num_layers = static_cast<int>(weight.rows());
    const int num_groups = static_cast<int>(weight.cols());
    EPLB_CHECK(num_packs >= 1 && num_groups % num_packs == 0, "reference balanced_packing: bad num_packs");
    const int groups_per_pack = num_groups / num_packs;
    PackResult out{IndexMatrix(num_layers, num_groups), IndexMatrix(num_layers, num_groups)};

    if (groups_per_pack == 1) {
        // pack_index = arange(num_groups), rank_in_pack = 0: no sorting.
        for (int i = 0; i < num_layers; ++i) {
            for (int group = 0; group < num_groups; ++group) {
                out.pack_index(i, group) = group;
                out.rank_in_pack(i, group) = 0;
            }
        }
        return out;
    }

    for (int i = 0; i < num_layers; ++i) {
        // indices = weight.sort(-1, descending=True).indices, equal weights by lower index.
        std::vector<int> indices(num_groups);
        std::iota(indices.begin(), indices.end(), 0);
        std::stable_sort(indices.begin(), indices.end(),
                         [&](int a, int b) { return weight(i, a) > weight(i, b); });
        std::vector<float> pack_weights(num_packs, 0.0f);
        std::vector<int> pack_items(num_packs, 0);
        for (int group : indices) {
            // min(packs with room, key=pack_weights): the first of the lightest.
            int pack = -1;
            for (int p = 0; p < num_packs; ++p) {
                if (pack_items[p] < groups_per_pack && (pack == -1 || pack_weights[p] < pack_weights[pack])) {
                    pack = p;
                }
            }
            EPLB_CHECK(pack >= 0 && pack_items[pack] < groups_per_pack,
                       "reference balanced_packing: no room");
            out.pack_index(i, group) = pack;
            out.rank_in_pack(i, group) = pack_items[pack];
            pack_weights[pack] += weight(i, group);
            pack_items[pack] += 1;
        }
    }
    return out;
}

ReplicateResult replicate_experts(const LoadMatrix& weight, int num_phy) {
    const int n = static_cast<int>(weight.rows());
    const int num_log = static_cast<int>(weight.cols());
    EPLB_CHECK(num_phy >= num_log, "reference replicate_experts: fewer slots than experts");
    ReplicateResult out{IndexMatrix(n, num_phy), IndexMatrix::Zero(n, num_phy),
                        IndexMatrix::Ones(n, num_log)};
    for (int row = 0; row < n; ++row) {
        for (int i = 0; i < num_phy; ++i) out.phy2log(row, i) = i;  // arange(num_phy)
    }
    for (int i = num_log; i < num_phy; ++i) {
        for (int row = 0; row < n; ++row) {
            // redundant_indices = (weight / logcnt).max(dim=-1).indices, ties to the lowest index.
            int best = 0;
            float best_value = weight(row, 0) / static_cast<float>(out.logcnt(row, 0));
            for (int e = 1; e < num_log; ++e) {
                const float value = weight(row, e) / static_cast<float>(out.logcnt(row, e));
                if (value > best_value) {
                    best = e;
                    best_value = value;
                }
            }
            out.phy2log(row, i) = best;
            out.rank(row, i) = out.logcnt(row, best);
            out.logcnt(row, best) += 1;
        }
    }
    return out;
}

namespace {

// inverse(perm): inv[row][perm[row][i]] = i.
IndexMatrix inverse(const IndexMatrix& perm) {
    IndexMatrix inv(perm.rows(), perm.cols());
    for (Eigen::Index row = 0; row < perm.rows(); ++row) {
        for (Eigen::Index i = 0; i < perm.cols(); ++i) inv(row, perm(row, i)) = static_cast<int>(i);
    }
    return inv;
}

}  // namespace

HierarchicalResult rebalance_experts_hierarchical(const LoadMatrix& weight, int num_physical_experts,
                                                  int num_groups, int num_nodes, int num_gpus) {
    const int num_layers = static_cast<int>(weight.rows());
    const int num_logical_experts = static_cast<int>(weight.cols());
    EPLB_CHECK(num_logical_experts % num_groups == 0, "reference: E % G != 0");
    const int group_size = num_logical_experts / num_groups;
    EPLB_CHECK(num_groups % num_nodes == 0, "reference: G % N != 0");
    const int groups_per_node = num_groups / num_nodes;
    EPLB_CHECK(num_gpus % num_nodes == 0, "reference: P % N != 0");
    EPLB_CHECK(num_physical_experts % num_gpus == 0, "reference: R % P != 0");
    const int phy_experts_per_gpu = num_physical_experts / num_gpus;
    const int log_per_node = num_logical_experts / num_nodes;
    const int phy_per_node = num_physical_experts / num_nodes;

    // Step 1: pack groups to nodes.
    // tokens_per_group = weight.unflatten(-1, (num_groups, group_size)).sum(-1), in index order.
    LoadMatrix tokens_per_group(num_layers, num_groups);
    for (int l = 0; l < num_layers; ++l) {
        for (int g = 0; g < num_groups; ++g) {
            float sum = 0.0f;
            for (int j = 0; j < group_size; ++j) sum += weight(l, g * group_size + j);
            tokens_per_group(l, g) = sum;
        }
    }
    const PackResult group_packing = balanced_packing(tokens_per_group, num_nodes);
    // log2mlog = ((group_pack_index * groups_per_node + group_rank_in_pack) * group_size)
    //            .unsqueeze(-1) + arange(group_size)).flatten(-2)
    IndexMatrix log2mlog(num_layers, num_logical_experts);
    for (int l = 0; l < num_layers; ++l) {
        for (int g = 0; g < num_groups; ++g) {
            const int base =
                (group_packing.pack_index(l, g) * groups_per_node + group_packing.rank_in_pack(l, g)) *
                group_size;
            for (int j = 0; j < group_size; ++j) log2mlog(l, g * group_size + j) = base + j;
        }
    }
    const IndexMatrix mlog2log = inverse(log2mlog);

    // Step 2: construct redundant experts within nodes.
    // tokens_per_mlog = weight.gather(-1, mlog2log).view(-1, num_logical_experts // num_nodes)
    LoadMatrix tokens_per_mlog(num_layers * num_nodes, log_per_node);
    for (int l = 0; l < num_layers; ++l) {
        for (int m = 0; m < num_logical_experts; ++m) {
            tokens_per_mlog(l * num_nodes + m / log_per_node, m % log_per_node) = weight(l, mlog2log(l, m));
        }
    }
    const ReplicateResult replicas = replicate_experts(tokens_per_mlog, phy_per_node);
    const IndexMatrix& phy2mlog = replicas.phy2log;
    const IndexMatrix& phyrank = replicas.rank;
    const IndexMatrix& mlogcnt = replicas.logcnt;

    // Step 3: pack physical experts to GPUs.
    // tokens_per_phy = (tokens_per_mlog / mlogcnt).gather(-1, phy2mlog)
    LoadMatrix tokens_per_phy(num_layers * num_nodes, phy_per_node);
    for (int row = 0; row < num_layers * num_nodes; ++row) {
        for (int i = 0; i < phy_per_node; ++i) {
            const int m = phy2mlog(row, i);
            tokens_per_phy(row, i) = tokens_per_mlog(row, m) / static_cast<float>(mlogcnt(row, m));
        }
    }
    const PackResult gpu_packing = balanced_packing(tokens_per_phy, num_gpus / num_nodes);
    // phy2pphy = pack_index * phy_experts_per_gpu + rank_in_pack; pphy2phy = inverse(phy2pphy)
    IndexMatrix phy2pphy(num_layers * num_nodes, phy_per_node);
    for (int row = 0; row < num_layers * num_nodes; ++row) {
        for (int i = 0; i < phy_per_node; ++i) {
            phy2pphy(row, i) =
                gpu_packing.pack_index(row, i) * phy_experts_per_gpu + gpu_packing.rank_in_pack(row, i);
        }
    }
    const IndexMatrix pphy2phy = inverse(phy2pphy);

    HierarchicalResult out{IndexMatrix(num_layers, num_physical_experts),
                           IndexMatrix(num_layers, num_physical_experts),
                           IndexMatrix(num_layers, num_logical_experts)};
    for (int l = 0; l < num_layers; ++l) {
        for (int node = 0; node < num_nodes; ++node) {
            const int row = l * num_nodes + node;
            for (int k = 0; k < phy_per_node; ++k) {
                // pphy2mlog = phy2mlog.gather(-1, pphy2phy) + node offset; pphy2log =
                // mlog2log.gather(-1, pphy2mlog); pphyrank = phyrank.gather(-1, pphy2phy).
                const int pphy2mlog = phy2mlog(row, pphy2phy(row, k)) + node * log_per_node;
                out.phy2log(l, node * phy_per_node + k) = mlog2log(l, pphy2mlog);
                out.phyrank(l, node * phy_per_node + k) = phyrank(row, pphy2phy(row, k));
            }
        }
        // logcnt = mlogcnt.view(num_layers, -1).gather(-1, log2mlog)
        for (int x = 0; x < num_logical_experts; ++x) {
            const int m = log2mlog(l, x);
            out.logcnt(l, x) = mlogcnt(l * num_nodes + m / log_per_node, m % log_per_node);
        }
    }
    return out;
}

RebalanceResult rebalance_experts(const LoadMatrix& weight, int num_replicas, int num_groups, int num_nodes,
                                  int num_gpus) {
    const int num_layers = static_cast<int>(weight.rows());
    const int num_logical_experts = static_cast<int>(weight.cols());
    const HierarchicalResult h =
        num_groups % num_nodes == 0
            ? rebalance_experts_hierarchical(weight, num_replicas, num_groups, num_nodes, num_gpus)
            : rebalance_experts_hierarchical(weight, num_replicas, 1, 1, num_gpus);
    // maxlogcnt = logcnt.max(); log2phy.view(L, -1).scatter_(-1, phy2log * maxlogcnt + phyrank,
    // arange(num_replicas))
    const int maxlogcnt = h.logcnt.size() == 0 ? 0 : h.logcnt.maxCoeff();
    IndexMatrix log2phy =
        IndexMatrix::Constant(num_layers, static_cast<Eigen::Index>(num_logical_experts) * maxlogcnt, -1);
    for (int l = 0; l < num_layers; ++l) {
        for (int s = 0; s < num_replicas; ++s) log2phy(l, h.phy2log(l, s) * maxlogcnt + h.phyrank(l, s)) = s;
    }
    return {h.phy2log, log2phy, h.logcnt, h.phyrank};
}

}  // namespace eplb::reference
