// The placement the engine-format tests export and read back: DeepSeek's README example.
#pragma once

#include <vector>

#include "eplb/policy.h"
#include "io/placement_io.h"

namespace eplb::test {

// DeepSeek's README example (DESIGN.md): 2 layers x 12 experts, 16 slots, 4 groups, 2 nodes, 8 GPUs,
// placed as model layers 3 and 4.
inline io::PlacementDoc readme_doc() {
    LoadMatrix load(2, 12);
    load << 90, 132, 40, 61, 104, 165, 39, 4, 73, 56, 183, 86, 20, 107, 104, 64, 19, 197, 187, 157, 172, 86,
        16, 27;
    io::PlacementDoc d;
    d.config = ParallelConfig{12, 16, 4, 2, 8};
    d.placement = plan_deepseek(load, d.config);
    d.layer_ids = {3, 4};
    return d;
}

inline std::vector<int> row_of(const IndexMatrix& m, int r) {
    return {m.row(r).data(), m.row(r).data() + m.cols()};
}

}  // namespace eplb::test
