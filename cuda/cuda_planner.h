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

// Timings of the CUDA planner on one [rows][E] load matrix (the deepseek policy), for benchmarks.
struct CudaPlanTiming {
    double device_ms = 0;             // the kernel alone, input already on the device (CUDA events), per plan
    double h2d_ms = 0;                // copying the loads to the device (CUDA events), once
    double d2h_ms = 0;                // bringing phy2log, phyrank, logcnt back into a fresh Placement (wall
                                      // clock: allocation, staged copies), once
    double end_to_end_ms = 0;         // Planner::plan, host matrix to a new host Placement (wall clock)
    double end_to_end_reused_ms = 0;  // Planner::plan_into an existing Placement of the right shape
    int repeats = 0;
};

// Runs the plan once to warm up, then `repeats` times each way, and returns the means.
CudaPlanTiming time_cuda_plan(const LoadMatrix& load, const ParallelConfig& config, int repeats);

}  // namespace eplb
