// Validation of ParallelConfig: every rule of DESIGN.md "Preconditions" in one place.
#include "eplb/config.h"

#include <sstream>
#include <utility>

#include "eplb/error.h"

namespace eplb {

void ParallelConfig::validate() const {
    const int e = num_logical_experts, r = num_physical_experts, g = num_groups, n = num_nodes, p = num_gpus;
    EPLB_CHECK(e >= 1, "num_logical_experts (" << e << ") must be at least 1");
    EPLB_CHECK(g >= 1, "num_groups (" << g << ") must be at least 1");
    EPLB_CHECK(n >= 1, "num_nodes (" << n << ") must be at least 1");
    EPLB_CHECK(p >= 1, "num_gpus (" << p << ") must be at least 1");
    // The limit of config files; it keeps every product of counts the planners form in range.
    for (const auto& [name, value] :
         {std::pair{"num_logical_experts", e}, std::pair{"num_physical_experts", r},
          std::pair{"num_groups", g}, std::pair{"num_nodes", n}, std::pair{"num_gpus", p}}) {
        EPLB_CHECK(value <= kMaxConfigCount,
                   name << " (" << value << ") must be at most " << kMaxConfigCount);
    }
    EPLB_CHECK(r >= e, "num_physical_experts (" << r << ") must be at least num_logical_experts (" << e
                                                << "): num_redundant_experts would be " << r - e);
    EPLB_CHECK(p % n == 0, "num_gpus (" << p << ") must be a multiple of num_nodes (" << n << ")");
    EPLB_CHECK(r % p == 0, "num_physical_experts (" << r << ") must be a multiple of num_gpus (" << p << ")");
    if (hierarchical()) {
        EPLB_CHECK(e % g == 0, "num_logical_experts (" << e << ") must be a multiple of num_groups (" << g
                                                       << ") for hierarchical balancing");
    }
}

std::string describe(const ParallelConfig& c) {
    std::ostringstream out;
    out << "E=" << c.num_logical_experts << " R=" << c.num_physical_experts << " G=" << c.num_groups
        << " N=" << c.num_nodes << " P=" << c.num_gpus;
    return out.str();
}

}  // namespace eplb
