// The planner interface: one per backend (CPU reference, CUDA); src/backends/ chooses one.
#pragma once

#include <memory>

#include "eplb/config.h"
#include "eplb/metrics.h"
#include "eplb/names.h"
#include "eplb/placement.h"
#include "eplb/policy.h"
#include "eplb/types.h"

namespace eplb {

enum class Backend { kAuto, kCpu, kCuda };

inline constexpr NamedValue<Backend> kBackendNames[] = {
    {"auto", Backend::kAuto},
    {"cpu", Backend::kCpu},
    {"cuda", Backend::kCuda},
};

inline const char* backend_name(Backend backend) { return name_in<Backend>(kBackendNames, backend); }

class Planner {
  public:
    virtual ~Planner() = default;
    // "cpu" or "cuda": the backend this planner was made for.
    virtual const char* name() const = 0;
    // Where plan() of `policy` on `config` actually runs ("cpu" or "cuda"): a device backend hands
    // the policies and shapes its kernels lack to the CPU planner, and reports must say so.
    virtual const char* plan_backend(const ParallelConfig& config, Policy policy) const {
        (void)config;
        (void)policy;
        return name();
    }
    // Plans every row of load [rows][E] independently: the rows are layers, or B windows of L
    // layers stacked ([B·L][E]) to plan many windows in one call. `config` must be valid.
    virtual Placement plan(const LoadMatrix& load, const ParallelConfig& config, Policy policy) = 0;
    // plan() into `out`, reusing its matrices where the shapes already match: a caller that plans
    // repeatedly (the simulator) saves allocating and first touching the output every time.
    virtual void plan_into(const LoadMatrix& load, const ParallelConfig& config, Policy policy,
                           Placement& out) {
        out = plan(load, config, policy);
    }
    // Scores phy2log [rows][R] on load [rows][E] row by row: the per-row part of evaluate(), which
    // summarize_rows aggregates (stacked rows again score many windows in one call). The CPU
    // computes it with score_rows; every backend gives the same values within float tolerance.
    virtual RowScores score(const IndexMatrix& phy2log, const LoadMatrix& load,
                            const ParallelConfig& config) = 0;
};

// The CPU reference planner (always built).
std::unique_ptr<Planner> make_cpu_planner();

}  // namespace eplb
