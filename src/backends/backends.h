// The backends library, above the core and cuda/: makes the planner a run asks for and describes
// what this build carries. With plan_timing.h and shuffle_executor.h, the only code outside cuda/
// that knows whether CUDA and NCCL were built.
#pragma once

#include <memory>
#include <string>

#include "eplb/planner.h"

namespace eplb {

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
