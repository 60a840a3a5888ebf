// Migration cost between two placements.
#include "eplb/migration.h"

#include <algorithm>

#include "eplb/error.h"

namespace eplb {

std::vector<NeededExpert> needed_experts(const IndexMatrix& old_phy2log, const IndexMatrix& new_phy2log,
                                         const ParallelConfig& c) {
    EPLB_CHECK(old_phy2log.rows() == new_phy2log.rows() && old_phy2log.cols() == new_phy2log.cols(),
               "old placement is " << old_phy2log.rows() << "x" << old_phy2log.cols()
                                   << " but new placement is " << new_phy2log.rows() << "x"
                                   << new_phy2log.cols() << " (layers x slots)");
    EPLB_CHECK(new_phy2log.cols() == c.num_physical_experts,
               "placements have " << new_phy2log.cols() << " slots, config says " << c.num_physical_experts);
    const int e = c.num_logical_experts, k = c.slots_per_gpu(), p = c.num_gpus, n = c.num_nodes;
    std::vector<NeededExpert> out;
    // Per layer: which GPUs and nodes hold each expert in the old map.
    std::vector<uint8_t> on_node(static_cast<size_t>(e) * n), on_gpu(static_cast<size_t>(e) * p);
    std::vector<int64_t> needed_mark(e, -1);  // (layer, GPU) stamp of the last count
    for (Eigen::Index l = 0; l < old_phy2log.rows(); ++l) {
        std::fill(on_node.begin(), on_node.end(), 0);
        std::fill(on_gpu.begin(), on_gpu.end(), 0);
        for (int s = 0; s < c.num_physical_experts; ++s) {
            const int x = old_phy2log(l, s);
            if (x < 0) continue;
            EPLB_CHECK(x < e,
                       "old phy2log[" << l << "][" << s << "] is " << x << ", outside [0, " << e << ")");
            const int q = s / k;
            on_gpu[static_cast<size_t>(x) * p + q] = 1;
            on_node[static_cast<size_t>(x) * n + c.node_of_gpu(q)] = 1;
        }
        for (int q = 0; q < p; ++q) {
            const int node = c.node_of_gpu(q);
            for (int s = q * k; s < (q + 1) * k; ++s) {
                const int x = new_phy2log(l, s);
                if (x < 0) continue;
                EPLB_CHECK(x < e,
                           "new phy2log[" << l << "][" << s << "] is " << x << ", outside [0, " << e << ")");
                if (on_gpu[static_cast<size_t>(x) * p + q]) continue;
                const int64_t stamp = static_cast<int64_t>(l) * p + q;
                if (needed_mark[x] == stamp) continue;  // already counted for this GPU
                needed_mark[x] = stamp;
                out.push_back({static_cast<int>(l), q, x, on_node[static_cast<size_t>(x) * n + node] != 0});
            }
        }
    }
    return out;
}

MigrationStats count_migration(const IndexMatrix& old_phy2log, const IndexMatrix& new_phy2log,
                               const ParallelConfig& c, int64_t expert_bytes) {
    MigrationStats st;
    st.received_per_gpu.assign(c.num_gpus, 0);
    st.moved_per_layer.assign(old_phy2log.rows(), 0);
    for (const NeededExpert& need : needed_experts(old_phy2log, new_phy2log, c)) {
        ++st.experts_moved;
        ++st.received_per_gpu[need.gpu];
        ++st.moved_per_layer[need.layer];
        if (need.intra_node) {
            ++st.intra_node;
        } else {
            ++st.inter_node;
        }
    }
    st.bytes_moved = st.experts_moved * expert_bytes;
    st.intra_node_bytes = st.intra_node * expert_bytes;
    st.inter_node_bytes = st.inter_node * expert_bytes;
    return st;
}

}  // namespace eplb
