// Migration-aware planning (`eplb plan --previous`): a fresh plan relabelled against the placement
// in force, and optionally, decided per layer, a bounded loss of balance for fewer experts moved.
#pragma once

#include <cstdint>
#include <vector>

#include "eplb/config.h"
#include "eplb/placement.h"
#include "eplb/types.h"

namespace eplb {

struct MigrationOptions {
    // Bound on the experts moved (count_migration's experts_moved, summed over layers); -1: none.
    int64_t max_moves = -1;
    // Price of one moved expert in units of the layer's gap (max GPU load / LB - 1); 0: none.
    double move_cost = 0;
    // Whether any trade of balance for moves was asked for (else: relabelling only).
    bool trade() const { return max_moves >= 0 || move_cost > 0; }
};

// Where a layer of the result comes from.
enum class LayerSource {
    kPlan,      // the fresh plan, relabelled: its balance exactly
    kPrevious,  // the previous placement unchanged: no move
    kRepaired,  // the previous placement after some balancing steps (a few moves)
};

const char* layer_source_name(LayerSource source);

struct MigrationAwarePlan {
    Placement placement;
    std::vector<LayerSource> source;  // [L]
    bool budget_met = true;           // false when even the cheapest choice of every layer exceeds max_moves
};

// `plan` is a fresh placement of `load` [L][E] under `config` (any policy); `previous` [L][R] is the
// placement in force. Without a trade, the result is relabel_to_previous(plan): same balance,
// fewer moves. With one, each layer picks among the relabelled plan, the previous placement, and
// the states of a descent from the previous placement toward balance (ReplicaPacker::
// descend_step: each step lowers the most loaded GPU, cheapest in moves first); the choice
// minimises Σ_layers (gap + move_cost · moves) subject to Σ moves <= max_moves (per-layer convex
// hulls, steepest descent first). A layer of `previous` can be kept or repaired only when it holds
// every expert (and, for a hierarchical config, keeps each group on one node).
MigrationAwarePlan plan_migration_aware(const LoadMatrix& load, const Placement& plan,
                                        const IndexMatrix& previous, const ParallelConfig& config,
                                        const MigrationOptions& options);

}  // namespace eplb
