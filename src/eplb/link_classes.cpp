// The link-class split and time bound of a transfer plan (see link_classes.h).
#include "eplb/link_classes.h"

#include <cmath>

#include "eplb/error.h"

namespace eplb {

bool same_node(const TransferPlan& plan, int a, int b) {
    const int gpus_per_node = plan.num_gpus / plan.num_nodes;
    return a / gpus_per_node == b / gpus_per_node;
}

LinkBound link_bound(const TransferPlan& plan, const LinkSpeeds& speeds) {
    for (double v : {speeds.intra_gbps, speeds.inter_gbps}) {
        EPLB_CHECK(std::isfinite(v) && v > 0, "link speeds must be positive and finite (intra-node "
                                                  << speeds.intra_gbps << " GB/s, inter-node "
                                                  << speeds.inter_gbps << " GB/s)");
    }
    const double eb = static_cast<double>(plan.expert_bytes);
    auto seconds = [&](int64_t experts, bool inter) {
        return static_cast<double>(experts) * eb / ((inter ? speeds.inter_gbps : speeds.intra_gbps) * 1e9);
    };
    LinkBound r;
    auto consider = [&](LinkLoad& best, int gpu, bool send, bool inter, int64_t experts) {
        const double s = seconds(experts, inter);
        if (experts > 0 && s > best.seconds) best = LinkLoad{gpu, send, inter, experts, s};
    };
    const std::vector<GpuTransferStats>& gpus = plan.stats.gpus;
    for (int q = 0; q < static_cast<int>(gpus.size()); ++q) {
        const GpuTransferStats& g = gpus[q];
        r.experts_intra += g.received_intra;
        r.experts_inter += g.received - g.received_intra;
        consider(r.busiest, q, false, false, g.received_intra);
        consider(r.busiest, q, false, true, g.received - g.received_intra);
        consider(r.busiest, q, true, false, g.sent_intra);
        consider(r.busiest, q, true, true, g.sent - g.sent_intra);
    }
    // In a step each GPU sends to one peer and receives from one: its slowest (GPU, direction,
    // class) is its slowest pair, seen from the sender.
    for (const Step& st : plan.steps) {
        LinkLoad slowest;
        for (int a = 0; a < plan.num_gpus; ++a) {
            const int b = st.send_peer[a];
            if (b >= 0)
                consider(slowest, a, true, !same_node(plan, a, b), static_cast<int64_t>(st.sends[a].size()));
        }
        r.schedule_seconds += slowest.seconds;
        r.steps_inter_bound += slowest.inter ? 1 : 0;
    }
    return r;
}

}  // namespace eplb
