// The device executor of a TransferPlan: synthetic expert weights on the GPUs, the transfers with
// copy engines (one process driving every GPU with peer access) or NCCL, local copies on a second
// stream, every byte verified, and the point-to-point ring peaks measured in the same run.
// Plain C++ header (no CUDA headers).
#pragma once

#include <string>

#include "eplb/shuffle_run.h"
#include "eplb/transfer_plan.h"

namespace eplb {

// Runs the plan `1 + repeat` times on freshly filled weights and verifies every byte after each
// pass. Throws eplb::Error of kind kDevice on CUDA/NCCL failures, too few GPUs, or too little
// memory (the message says how much was needed and what to lower).
ShuffleRunResult run_shuffle_on_devices(const TransferPlan& plan, const ShuffleRunOptions& options);

// CUDA devices this process sees; 0 with *why set when there are none or no driver.
int visible_cuda_devices(std::string* why);

}  // namespace eplb
