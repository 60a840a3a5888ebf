// Planner timings: the wall clock of plan_into and plan for any planner, then the CUDA planner's
// own device timing where this build has it.
#include "backends/plan_timing.h"

#include <algorithm>
#include <chrono>

#include "eplb/error.h"
#include "eplb_config.h"
#if EPLB_HAVE_CUDA
#include "cuda/cuda_planner.h"
#endif

namespace eplb {

PlanTiming time_plan(Planner& planner, const LoadMatrix& load, const ParallelConfig& config, Policy policy,
                     int repeats) {
    EPLB_CHECK(repeats >= 1, "repeats (" << repeats << ") must be at least 1");
    using Clock = std::chrono::steady_clock;
    auto ms_since = [](Clock::time_point start) {
        return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    };
    PlanTiming t;
    Placement out;
    planner.plan_into(load, config, policy, out);  // warm-up: allocates and first touches `out`
    for (int i = 0; i < repeats; ++i) {
        const auto start = Clock::now();
        planner.plan_into(load, config, policy, out);
        t.call_ms.push_back(ms_since(start));
    }
    std::sort(t.call_ms.begin(), t.call_ms.end());
    const auto start = Clock::now();
    for (int i = 0; i < repeats; ++i) planner.plan(load, config, policy);
    t.new_output_ms = ms_since(start) / repeats;
#if EPLB_HAVE_CUDA
    if (const auto device = time_on_device(planner, load, config, policy, repeats)) {
        t.device_ms = device->kernel_ms;
        t.h2d_ms = device->h2d_ms;
        t.d2h_ms = device->d2h_ms;
    }
#endif
    return t;
}

}  // namespace eplb
