// Timing a planner from outside the Planner interface, for `eplb bench` and the CUDA planner's
// benchmark: wall clock of every backend, plus the device-side breakdown of the CUDA planner.
#pragma once

#include <vector>

#include "eplb/config.h"
#include "eplb/planner.h"
#include "eplb/policy.h"
#include "eplb/types.h"

namespace eplb {

// Timings of planning one load matrix (wall clock unless said otherwise).
struct PlanTiming {
    std::vector<double> call_ms;  // plan_into with its output reused, one entry per timed call, sorted
    double new_output_ms = 0;     // plan() with a fresh output every call: mean per call
    // Backends with a device: the kernel alone with the loads and maps resident on the device (per
    // call, CUDA events), the upload of the loads and the download of the maps into a fresh
    // Placement (once each). Negative where the backend has no device or did not use it.
    double device_ms = -1, h2d_ms = -1, d2h_ms = -1;
};

// Times `repeats` calls (after a warm-up) each of planner.plan_into and planner.plan on `load`; a
// CUDA planner that runs `policy` on `config` on its device adds its device-side breakdown.
PlanTiming time_plan(Planner& planner, const LoadMatrix& load, const ParallelConfig& config, Policy policy,
                     int repeats);

}  // namespace eplb
