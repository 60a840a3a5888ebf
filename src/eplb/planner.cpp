// The CPU reference planner (the backend factory is in planner_factory.cpp).
#include "eplb/planner.h"

#include <algorithm>
#include <chrono>

#include "eplb/balanced.h"
#include "eplb/error.h"
#include "eplb/robust.h"

namespace eplb {

PlanTiming Planner::time_plan(const LoadMatrix& load, const ParallelConfig& config, Policy policy,
                              int repeats) {
    EPLB_CHECK(repeats >= 1, "repeats (" << repeats << ") must be at least 1");
    using Clock = std::chrono::steady_clock;
    auto ms_since = [](Clock::time_point start) {
        return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    };
    PlanTiming t;
    Placement out;
    plan_into(load, config, policy, out);  // warm-up: allocates and first touches `out`
    for (int i = 0; i < repeats; ++i) {
        const auto start = Clock::now();
        plan_into(load, config, policy, out);
        t.call_ms.push_back(ms_since(start));
    }
    std::sort(t.call_ms.begin(), t.call_ms.end());
    const auto start = Clock::now();
    for (int i = 0; i < repeats; ++i) plan(load, config, policy);
    t.new_output_ms = ms_since(start) / repeats;
    return t;
}

namespace {

class CpuPlanner final : public Planner {
  public:
    const char* name() const override { return "cpu"; }
    Placement plan(const LoadMatrix& load, const ParallelConfig& config, Policy policy) override {
        switch (policy) {
            case Policy::kDeepseek:
                return plan_deepseek(load, config);
            case Policy::kBalanced:
                return plan_balanced(load, config);
            case Policy::kRobust:
                return plan_robust({load}, config);
        }
        EPLB_FAIL("unknown policy");
    }
    void plan_into(const LoadMatrix& load, const ParallelConfig& config, Policy policy,
                   Placement& out) override {
        if (policy == Policy::kDeepseek) return plan_deepseek_into(load, config, out);
        out = plan(load, config, policy);
    }
    RowScores score(const IndexMatrix& phy2log, const LoadMatrix& load,
                    const ParallelConfig& config) override {
        return score_rows(phy2log, load, config);
    }
};

}  // namespace

std::unique_ptr<Planner> make_cpu_planner() { return std::make_unique<CpuPlanner>(); }

}  // namespace eplb
