// The CPU reference planner (the backend factory is in src/backends/).
#include "eplb/planner.h"

#include "eplb/balanced.h"
#include "eplb/error.h"
#include "eplb/robust.h"

namespace eplb {

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
