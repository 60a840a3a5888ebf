// What a change of placement costs: the experts each GPU must receive (DESIGN.md "Migration").
#pragma once

#include <cstdint>
#include <vector>

#include "eplb/config.h"
#include "eplb/types.h"

namespace eplb {

struct MigrationStats {
    int64_t experts_moved = 0;  // Σ over (layer, GPU) of distinct experts it must receive
    int64_t intra_node = 0;     // ... of which some old holder sits on the receiver's node
    int64_t inter_node = 0;     // ... of which every old holder is on another node
    int64_t bytes_moved = 0;    // experts_moved · expert_bytes
    int64_t intra_node_bytes = 0;
    int64_t inter_node_bytes = 0;
    std::vector<int64_t> received_per_gpu;  // [P] summed over layers
    std::vector<int64_t> moved_per_layer;   // [L]
};

// old and new phy2log [L][R] of the same shape under `config`; slots of -1 hold nothing (they
// neither count as holders nor need anything). A GPU needs an expert when one of its new slots
// names it and none of its old slots held it.
MigrationStats count_migration(const IndexMatrix& old_phy2log, const IndexMatrix& new_phy2log,
                               const ParallelConfig& config, int64_t expert_bytes);

}  // namespace eplb
