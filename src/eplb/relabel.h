// Relabelling a new placement against the previous one: GPUs (and slots within them) renumbered so
// that as many experts as possible stay where they are, with no change to any GPU's replicas.
#pragma once

#include <cstdint>
#include <vector>

#include "eplb/config.h"
#include "eplb/placement.h"
#include "eplb/types.h"

namespace eplb {

// Max-weight perfect matching of an n×n matrix (weight(i, j) = value of putting row i on column j),
// by the Hungarian algorithm in O(n^3). Returns the column of each row. Deterministic.
std::vector<int> max_weight_assignment(const std::vector<int64_t>& weight, int n);

// Renumbers the GPUs of `plan` layer by layer, then its slots within each GPU, to keep experts
// where `previous` [L][R] holds them (-1 slots hold nothing):
//  - GPU order: a matching maximising the experts that stay on their GPU, then those whose old
//    copy is on the GPU's node (fewer inter-node transfers). A global plan (config not
//    hierarchical) may put any GPU anywhere; a hierarchical one moves whole nodes (groups stay
//    together) and GPUs within a node.
//  - Slots: an expert that stays on a GPU takes the slot it had there; the others fill the
//    remaining slots in their order in `plan`.
// Replica ranks travel with their slots. Every GPU keeps its multiset of replicas, so every GPU
// load and metric except slot positions is unchanged; the experts moved never increase.
Placement relabel_to_previous(const Placement& plan, const IndexMatrix& previous,
                              const ParallelConfig& config);

}  // namespace eplb
