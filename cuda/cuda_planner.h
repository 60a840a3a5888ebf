// The CUDA implementation of the Planner interface (plain C++ header: no CUDA headers, so the
// core's factory can include it).
#pragma once

#include <memory>
#include <string>

#include "eplb/config.h"
#include "eplb/planner.h"
#include "eplb/types.h"

namespace eplb {

// True when a CUDA device can be used; otherwise *why says what is missing (no device, driver,
// a GPU older than the sm_90 code this build carries).
bool cuda_device_available(std::string* why);

// Plans the `deepseek` policy on the current device (bit-identical to the CPU) and scores rows
// there; other policies, and shapes beyond the kernel's limits, run on the CPU planner.
std::unique_ptr<Planner> make_cuda_planner();

}  // namespace eplb
