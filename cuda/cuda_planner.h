// The CUDA implementation of the Planner interface (plain C++ header: no CUDA headers, so that
// src/backends/ can include it).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "eplb/config.h"
#include "eplb/planner.h"
#include "eplb/policy.h"
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

// One plan's stages on the device: the upload of the loads (CUDA events, once), the kernel alone
// with the loads and maps resident (CUDA events, mean per launch), the download of the maps into a
// fresh Placement (wall clock, once, as plan() does it).
struct DevicePlanTiming {
    double h2d_ms = 0, kernel_ms = 0, d2h_ms = 0;
};

// The stages of planning `load` with `repeats` timed launches (after a warm-up) when `planner` is
// a CUDA planner (make_cuda_planner) that runs `policy` on `config` on its device; std::nullopt
// for any other planner and for the policies and shapes it hands to the CPU planner.
std::optional<DevicePlanTiming> time_on_device(Planner& planner, const LoadMatrix& load,
                                               const ParallelConfig& config, Policy policy, int repeats);

}  // namespace eplb
