// The planner interface: one per backend (CPU reference, CUDA), chosen in one factory.
#pragma once

#include <memory>
#include <string>
#include <vector>

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

// Timings of planning one load matrix, for `eplb bench` (wall clock unless said otherwise).
struct PlanTiming {
    std::vector<double> call_ms;  // plan_into with its output reused, one entry per timed call, sorted
    double new_output_ms = 0;     // plan() with a fresh output every call: mean per call
    // Backends with a device: the kernel alone with the loads and maps resident on the device (per
    // call, CUDA events), the upload of the loads and the download of the maps into a fresh
    // Placement (once each). Negative where the backend has no device or did not use it.
    double device_ms = -1, h2d_ms = -1, d2h_ms = -1;
};

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
    // Times `repeats` calls (after a warm-up) each of plan_into and plan; device backends add their
    // device-side breakdown.
    virtual PlanTiming time_plan(const LoadMatrix& load, const ParallelConfig& config, Policy policy,
                                 int repeats);
};

// The CPU reference planner (always built).
std::unique_ptr<Planner> make_cpu_planner();

// kAuto: CUDA when built with it and a device is present, else CPU with a one-line notice
// written to *notice. kCuda without CUDA (build or device): eplb::Error of kind kDevice saying what
// is missing and how to rebuild.
std::unique_ptr<Planner> make_planner(Backend backend, std::string* notice);

// Whether this binary was built with the CUDA backend.
bool built_with_cuda();

// `eplb --version`: the version, then the CUDA runtime and driver this build uses (or that it has
// none) and whether a device is usable, and the NCCL version it was built with.
std::string build_description();

}  // namespace eplb
