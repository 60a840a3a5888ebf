// The planner interface: one per backend (CPU reference, CUDA), chosen in one factory.
#pragma once

#include <memory>
#include <string>

#include "eplb/config.h"
#include "eplb/placement.h"
#include "eplb/policy.h"
#include "eplb/types.h"

namespace eplb {

enum class Backend { kAuto, kCpu, kCuda };

const char* backend_name(Backend backend);

class Planner {
  public:
    virtual ~Planner() = default;
    // "cpu" or "cuda": what actually runs.
    virtual const char* name() const = 0;
    // Plans every row of load [rows][E] independently: the rows are layers, or B windows of L
    // layers stacked ([B·L][E]) to plan many windows in one call. `config` must be valid.
    virtual Placement plan(const LoadMatrix& load, const ParallelConfig& config, Policy policy) = 0;
};

// The CPU reference planner (always built).
std::unique_ptr<Planner> make_cpu_planner();

// kAuto: CUDA when built with it and a device is present, else CPU with a one-line notice
// written to *notice. kCuda without CUDA (build or device): eplb::Error of kind kDevice saying what
// is missing and how to rebuild.
std::unique_ptr<Planner> make_planner(Backend backend, std::string* notice);

// Whether this binary was built with the CUDA backend.
bool built_with_cuda();

}  // namespace eplb
