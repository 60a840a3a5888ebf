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

// "CUDA runtime 13.0 (built with 13.0), driver 13.0; device 0: NVIDIA H100 ..." or what is missing:
// the CUDA line of `eplb --version`.
std::string cuda_build_description();

// Plans the `deepseek` policy on the current device (bit-identical to the CPU) and scores rows
// there; other policies, and shapes beyond the kernel's limits, run on the CPU planner.
std::unique_ptr<Planner> make_cuda_planner();

}  // namespace eplb
