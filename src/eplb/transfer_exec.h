// The reference executor of a TransferPlan on host byte buffers, and the check that the plan's
// order is safe under the device executor's rules (the CI test of the shuffle without GPUs).
#pragma once

#include <cstdint>
#include <vector>

#include "eplb/transfer_plan.h"

namespace eplb {

// Every GPU's slots [L][k][expert_bytes] and staging buffers [n][expert_bytes], on the host.
struct HostShuffleState {
    std::vector<std::vector<uint8_t>> slots;    // [P]
    std::vector<std::vector<uint8_t>> staging;  // [P]
};

// Slots filled with the weight pattern of their old expert (weight_pattern.h); empty slots and
// staging with filler bytes that match no pattern by design.
HostShuffleState make_host_state(const TransferPlan& plan);

// The ordering rules of the device executor: on each GPU the steps run one after the other on a
// network stream (a step's transfers run concurrently with each other), the local copies run in
// order on a local stream; a copy with after_step = s starts after step s is done on its GPU; a step
// with wait_local = n starts after the GPU's first n local copies. Throws an Error naming the first
// two accesses to one buffer, at least one a write, that these rules leave unordered.
void check_transfer_order(const TransferPlan& plan);

// Applies the plan in one order the rules allow (any other gives the same bytes once
// check_transfer_order passed).
void execute_on_host(const TransferPlan& plan, HostShuffleState& state);

// Wrong bytes per GPU and layer [P][L]: slots whose new expert is not -1 compared with its pattern.
std::vector<std::vector<int64_t>> count_wrong_bytes(const TransferPlan& plan, const HostShuffleState& state);

}  // namespace eplb
