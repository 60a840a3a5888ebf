// The CPU reference planner (the backend factory is in planner_factory.cpp).
#include "eplb/planner.h"

#include "eplb/balanced.h"
#include "eplb/error.h"

namespace eplb {

const char* backend_name(Backend backend) {
    switch (backend) {
        case Backend::kAuto:
            return "auto";
        case Backend::kCpu:
            return "cpu";
        case Backend::kCuda:
            return "cuda";
    }
    return "?";
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
        }
        EPLB_FAIL("unknown policy");
    }
    RowScores score(const IndexMatrix& phy2log, const LoadMatrix& load,
                    const ParallelConfig& config) override {
        return score_rows(phy2log, load, config);
    }
};

}  // namespace

std::unique_ptr<Planner> make_cpu_planner() { return std::make_unique<CpuPlanner>(); }

}  // namespace eplb
