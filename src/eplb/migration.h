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

// One expert a GPU must receive: `expert` of layer `layer` is named by one of the GPU's new slots
// and held by none of its old slots.
struct NeededExpert {
    int layer = 0;
    int gpu = 0;
    int expert = 0;
    bool intra_node = false;  // some old holder sits on the receiver's node (false also when no GPU holds it)
};

// Every expert each GPU must receive, once per (layer, GPU), ordered by layer, GPU, then the first
// new slot that names it. The one enumeration behind count_migration and the transfer plan. old and
// new phy2log [L][R] of the same shape under `config`; slots of -1 hold nothing (they neither count
// as holders nor need anything). Throws invalid input on a shape mismatch or an entry outside
// [-1, E).
std::vector<NeededExpert> needed_experts(const IndexMatrix& old_phy2log, const IndexMatrix& new_phy2log,
                                         const ParallelConfig& config);

// Totals of needed_experts().
MigrationStats count_migration(const IndexMatrix& old_phy2log, const IndexMatrix& new_phy2log,
                               const ParallelConfig& config, int64_t expert_bytes);

}  // namespace eplb
