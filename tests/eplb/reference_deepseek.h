// A literal, slow transcription of DeepSeek's eplb.py (one function per Python function, the
// Python's names) with DESIGN.md's tie rules: the oracle that src/eplb/deepseek.cpp is tested against.
#pragma once

#include "eplb/types.h"

namespace eplb::reference {

// balanced_packing(weight [X][n], num_packs) -> (pack_index, rank_in_pack), each [X][n].
struct PackResult {
    IndexMatrix pack_index;
    IndexMatrix rank_in_pack;
};
PackResult balanced_packing(const LoadMatrix& weight, int num_packs);

// replicate_experts(weight [X][num_log], num_phy) -> (phy2log [X][num_phy], rank [X][num_phy],
// logcnt [X][num_log]).
struct ReplicateResult {
    IndexMatrix phy2log;
    IndexMatrix rank;
    IndexMatrix logcnt;
};
ReplicateResult replicate_experts(const LoadMatrix& weight, int num_phy);

// rebalance_experts_hierarchical(...) -> (pphy2log [L][R], pphyrank [L][R], logcnt [L][E]).
struct HierarchicalResult {
    IndexMatrix phy2log;
    IndexMatrix phyrank;
    IndexMatrix logcnt;
};
HierarchicalResult rebalance_experts_hierarchical(const LoadMatrix& weight, int num_physical_experts,
                                                  int num_groups, int num_nodes, int num_gpus);

// rebalance_experts(...) -> (phy2log [L][R], log2phy [L][E·W] (-1 padded, W = max logcnt over all
// layers), logcnt [L][E]); phyrank is kept too, for Placement.
struct RebalanceResult {
    IndexMatrix phy2log;
    IndexMatrix log2phy;
    IndexMatrix logcnt;
    IndexMatrix phyrank;
};
RebalanceResult rebalance_experts(const LoadMatrix& weight, int num_replicas, int num_groups, int num_nodes,
                                  int num_gpus);

}  // namespace eplb::reference
