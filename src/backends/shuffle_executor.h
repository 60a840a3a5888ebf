// The shuffle's device executor as the CLI sees it: one factory, the only place that knows whether
// NCCL was built (the planner factory's twin).
#pragma once

#include <functional>

#include "eplb/shuffle_run.h"
#include "eplb/transfer_plan.h"

namespace eplb {

// Runs a transfer plan on the local GPUs (see cuda/device_shuffle.h).
using ShuffleExecutor = std::function<ShuffleRunResult(const TransferPlan&, const ShuffleRunOptions&)>;

// The device executor; throws eplb::Error of kind kDevice, saying how to rebuild, where this eplb
// was built without CUDA and NCCL.
ShuffleExecutor make_shuffle_executor();

}  // namespace eplb
