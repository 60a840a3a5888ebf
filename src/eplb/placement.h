// A placement: which logical expert each physical slot holds, per layer, with its derived maps.
#pragma once

#include "eplb/config.h"
#include "eplb/types.h"

namespace eplb {

struct Placement {
    IndexMatrix phy2log;  // [L][R] logical expert held by each slot (-1: empty slot, shuffle only)
    IndexMatrix phyrank;  // [L][R] replica rank of each slot (0 = the original copy)
    IndexMatrix logcnt;   // [L][E] replicas of each logical expert

    int num_layers() const { return static_cast<int>(phy2log.rows()); }
    int num_slots() const { return static_cast<int>(phy2log.cols()); }
    int num_experts() const { return static_cast<int>(logcnt.cols()); }
    // W = max logcnt over all layers (the padded width of log2phy).
    int max_replicas() const;
    // log2phy [L][E·W]: element (l, e·W + k) is the slot of replica k of expert e, -1 padded.
    IndexMatrix log2phy() const;
};

// Builds logcnt and phyrank from phy2log alone, numbering replicas in slot order. Checks that every
// entry is in [0, num_experts) (or -1 where allow_empty) and names the first bad (layer, slot).
Placement placement_from_phy2log(const IndexMatrix& phy2log, int num_experts, bool allow_empty = false);

// One layer of a plan whose every slot holds an expert: phyrank [R] (each slot's replica index
// among its expert's, in slot order) and logcnt [E] from phy2log [R]. No checks: planners' rows.
void number_replicas(const int32_t* phy2log, int num_slots, int num_experts, int32_t* phyrank,
                     int32_t* logcnt);

// Checks that a placement fits a config (shapes, every expert held, ranks consistent); throws
// invalid input naming the first offending layer, slot or expert.
void validate_placement(const Placement& placement, const ParallelConfig& config);

// Row-slice [first, end) of every matrix.
Placement slice_layers(const Placement& placement, int first, int end);

}  // namespace eplb
