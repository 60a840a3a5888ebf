// Many windows in one backend call: B windows of [L][E] loads are stacked into [B·L][E] rows
// (rows are independent in every policy and metric), planned or scored at once, and split again.
// The simulator and `check` plan whole batches this way, so the CUDA backend sees one launch.
#pragma once

#include <vector>

#include "eplb/config.h"
#include "eplb/metrics.h"
#include "eplb/placement.h"
#include "eplb/planner.h"
#include "eplb/policy.h"
#include "eplb/types.h"

namespace eplb {

// Stacks matrices with the same number of columns row-wise (window b's rows follow window b-1's).
LoadMatrix stack_rows(const std::vector<LoadMatrix>& parts);
IndexMatrix stack_rows(const std::vector<IndexMatrix>& parts);

// Rows that live in another matrix or buffer (a window sum, a chunk of steps): stacked straight from
// where they are, without a LoadMatrix copy of each first.
using LoadRows = Eigen::Map<const LoadMatrix>;
LoadMatrix stack_rows(const std::vector<LoadRows>& parts);

// Plans every window: result b equals planner.plan(windows[b], config, policy). Windows may have
// different numbers of layers but must all have num_logical_experts columns.
std::vector<Placement> plan_windows(Planner& planner, const std::vector<LoadMatrix>& windows,
                                    const ParallelConfig& config, Policy policy);

// Scores every (phy2log[b], loads[b]) pair: result b equals evaluate(phy2log[b], loads[b], config).
std::vector<Metrics> evaluate_windows(Planner& planner, const std::vector<IndexMatrix>& phy2log,
                                      const std::vector<LoadMatrix>& loads, const ParallelConfig& config);

}  // namespace eplb
