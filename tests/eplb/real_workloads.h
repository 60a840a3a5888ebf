// The 12 real DeepSeek-V3 workloads of ../shared read through src/io, for the policy benchmarks.
#pragma once

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "eplb/trace.h"
#include "eplb/types.h"
#include "io/trace_io.h"
#include "tests/shared_traces.h"

namespace eplb::test {

struct Workload {
    std::string name;  // the file's stem
    LoadMatrix load;   // [58][256]: model layers 3..60 summed over the steps
};

// Every trace of `dir` (shared_traces_dir()), sorted by name, as its MoE layers 3..60.
inline std::vector<Workload> read_real_workloads(const std::string& dir) {
    std::vector<std::string> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().extension() == ".json") files.push_back(entry.path().string());
    }
    std::sort(files.begin(), files.end());
    std::vector<Workload> workloads;
    for (const std::string& f : files) {
        const LoadTrace t = select_layers(io::read_trace(f), Range{3, 61});
        workloads.push_back({std::filesystem::path(f).stem().string(), t.sum_steps(0, t.num_steps)});
    }
    return workloads;
}

}  // namespace eplb::test
