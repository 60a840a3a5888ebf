// The `balanced` policy: replica counts and a packing that get within a fraction of a percent of
// DESIGN.md's lower bound, with at most one replica of an expert per GPU wherever that is possible.
#pragma once

#include <functional>
#include <vector>

#include "eplb/config.h"
#include "eplb/placement.h"
#include "eplb/types.h"

namespace eplb {

// Plans every row of load [rows][E] (finite, >= 0) under a valid config. Per row, on each flat
// instance (the whole cluster, or one node when config.hierarchical()):
//   1. counts minimising the max replica load (greedy), at most one replica per GPU when E·P >= R
//      (per node: E/N experts, P/N GPUs, R/N slots);
//   2. largest replica first into the least-loaded GPU with room that lacks that expert;
//   3. local search on the most loaded GPU: swaps of replicas with other GPUs, and moves of one
//      slot from one expert to another, while either lowers it.
// Hierarchical (G % N == 0): whole groups go to nodes (G/N each) by a greedy on group loads, then
// swaps of groups between the node with the highest bound max(node load / (P/N), node T*) and the
// others while that bound drops; each node is then planned as above on its own GPUs.
// Deterministic; replica ranks are numbered in slot order. Layers with no load get any valid plan.
Placement plan_balanced(const LoadMatrix& load, const ParallelConfig& config);

// The hierarchical step of `balanced` and `robust`: G groups onto N nodes, G/N each, for
// group_load [G][W] (W workloads, row-major). Greedy: heaviest group (its worst workload) first to
// the node with room whose worst workload is lightest (ties: lowest index); then swaps of groups
// between the node of highest node_bound and the others while that lowers the pair's max.
// node_bound(groups) bounds the max GPU load of a node holding the G/N groups at `groups`; it is
// called once per group set (for G <= 64).
// Writes node_groups [N][G/N].
void assign_groups_to_nodes(const std::vector<double>& group_load, int num_workloads, int num_nodes,
                            const std::function<double(const int*)>& node_bound,
                            std::vector<int>& node_groups);

// One node of a hierarchical plan: sorts its G/N groups at `groups` and writes their experts, in
// index order, to `experts`.
void node_experts(int* groups, int groups_per_node, int group_size, std::vector<int>& experts);

// Per layer ([L]), for a placement that keeps each expert's replicas on one node (a hierarchical
// plan): the lowest max GPU load that any placement with the same experts on each node can reach,
// max over nodes of max(node load / (P/N), node T* over its R/N slots). Over DESIGN.md's LB it is
// what keeping groups on nodes costs; under the plan's max GPU load, what its packing leaves.
std::vector<double> node_lower_bounds(const IndexMatrix& phy2log, const LoadMatrix& load,
                                      const ParallelConfig& config);

}  // namespace eplb
