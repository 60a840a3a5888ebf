// Derived maps of a placement and its consistency checks.
#include "eplb/placement.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "eplb/error.h"

namespace eplb {

int Placement::max_replicas() const { return logcnt.size() == 0 ? 0 : std::max(1, logcnt.maxCoeff()); }

IndexMatrix Placement::log2phy() const {
    const int w = max_replicas(), e = num_experts();
    IndexMatrix out = IndexMatrix::Constant(num_layers(), static_cast<Eigen::Index>(e) * w, -1);
    for (int l = 0; l < num_layers(); ++l) {
        for (int s = 0; s < num_slots(); ++s) {
            const int x = phy2log(l, s);
            if (x >= 0) out(l, static_cast<Eigen::Index>(x) * w + phyrank(l, s)) = s;
        }
    }
    return out;
}

void number_replicas(const int32_t* phy2log, int num_slots, int num_experts, int32_t* phyrank,
                     int32_t* logcnt) {
    std::fill(logcnt, logcnt + num_experts, 0);
    for (int s = 0; s < num_slots; ++s) phyrank[s] = logcnt[phy2log[s]]++;
}

Placement placement_from_phy2log(const IndexMatrix& phy2log, int num_experts, bool allow_empty) {
    Placement p{phy2log, IndexMatrix(phy2log.rows(), phy2log.cols()),
                IndexMatrix::Zero(phy2log.rows(), num_experts)};
    for (Eigen::Index l = 0; l < phy2log.rows(); ++l) {
        for (Eigen::Index s = 0; s < phy2log.cols(); ++s) {
            const int x = phy2log(l, s);
            if (x == -1 && allow_empty) {
                p.phyrank(l, s) = -1;
                continue;
            }
            EPLB_CHECK(x >= 0 && x < num_experts, "phy2log[" << l << "][" << s << "] is " << x
                                                             << ", outside [0, " << num_experts << ")");
            p.phyrank(l, s) = p.logcnt(l, x)++;
        }
    }
    return p;
}

void validate_placement(const Placement& p, const ParallelConfig& c) {
    EPLB_CHECK(p.phy2log.cols() == c.num_physical_experts,
               "placement has " << p.phy2log.cols()
                                << " slots per layer but the config says num_physical_experts = "
                                << c.num_physical_experts);
    EPLB_CHECK(p.logcnt.cols() == c.num_logical_experts,
               "placement has " << p.logcnt.cols() << " logical experts but the config says "
                                << c.num_logical_experts);
    EPLB_CHECK(p.phyrank.rows() == p.phy2log.rows() && p.phyrank.cols() == p.phy2log.cols() &&
                   p.logcnt.rows() == p.phy2log.rows(),
               "placement maps have inconsistent shapes");
    // Per layer, one flag per (expert, replica rank): expert e's ranks start at offset[e]. O(R) a
    // layer, whatever the largest replica count (a 1000-layer placement is checked in milliseconds).
    std::vector<int64_t> offset(static_cast<size_t>(c.num_logical_experts) + 1);
    std::vector<uint8_t> seen;
    for (int l = 0; l < p.num_layers(); ++l) {
        for (int e = 0; e < c.num_logical_experts; ++e) {
            EPLB_CHECK(p.logcnt(l, e) >= 1, "layer " << l << ": expert " << e << " has no replica");
            offset[e + 1] = offset[e] + p.logcnt(l, e);
        }
        EPLB_CHECK(offset.back() == p.num_slots(), "layer " << l << ": logcnt sums to " << offset.back()
                                                            << ", expected num_physical_experts ("
                                                            << p.num_slots() << ")");
        seen.assign(static_cast<size_t>(offset.back()), 0);
        for (int s = 0; s < p.num_slots(); ++s) {
            const int x = p.phy2log(l, s), k = p.phyrank(l, s);
            EPLB_CHECK(x >= 0 && x < c.num_logical_experts, "phy2log[" << l << "][" << s << "] is " << x
                                                                       << ", outside [0, "
                                                                       << c.num_logical_experts << ")");
            EPLB_CHECK(k >= 0 && k < p.logcnt(l, x),
                       "replica rank of layer " << l << ", slot " << s << " is " << k << " but expert " << x
                                                << " has " << p.logcnt(l, x) << " replicas");
            EPLB_CHECK(!seen[offset[x] + k]++,
                       "layer " << l << ": expert " << x << " has two replicas of rank " << k);
        }
    }
}

Placement slice_layers(const Placement& p, int first, int end) {
    const int n = end - first;
    return Placement{p.phy2log.middleRows(first, n), p.phyrank.middleRows(first, n),
                     p.logcnt.middleRows(first, n)};
}

}  // namespace eplb
