// The CUDA implementation of the Planner interface (plain C++ header: no CUDA headers, so the
// core's factory can include it).
#pragma once

#include <memory>
#include <string>

#include "eplb/planner.h"

namespace eplb {

// True when a CUDA device can be used; otherwise *why says what is missing (no device, driver).
bool cuda_device_available(std::string* why);

std::unique_ptr<Planner> make_cuda_planner();

}  // namespace eplb
