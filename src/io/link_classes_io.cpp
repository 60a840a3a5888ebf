// Renderings of the link-class split and bound (see link_classes_io.h).
#include "io/link_classes_io.h"

#include "io/report.h"

namespace eplb::io {

namespace {

const char* link_name(bool inter) { return inter ? "inter-node" : "intra-node"; }
const char* direction_name(bool send) { return send ? "sends" : "receives"; }

}  // namespace

std::string render_link_split(const LinkBound& links, int64_t expert_bytes) {
    const double eb = static_cast<double>(expert_bytes);
    std::string out = format("per pass %.2f GB intra-node, %.2f GB inter-node; ",
                             static_cast<double>(links.experts_intra) * eb / 1e9,
                             static_cast<double>(links.experts_inter) * eb / 1e9);
    const LinkLoad& b = links.busiest;
    if (b.gpu < 0) return out + "nothing moves";
    return out + format("the bound: GPU %d's %s %s, %lld expert%s = %.2f GB", b.gpu, link_name(b.inter),
                        direction_name(b.send), static_cast<long long>(b.experts), b.experts == 1 ? "" : "s",
                        static_cast<double>(b.experts) * eb / 1e9);
}

nlohmann::ordered_json link_bound_json(const LinkBound& links, const LinkSpeeds& speeds,
                                       int64_t expert_bytes) {
    using ojson = nlohmann::ordered_json;
    const LinkLoad& b = links.busiest;
    ojson by = nullptr;
    if (b.gpu >= 0) {
        by = {{"gpu", b.gpu},
              {"direction", b.send ? "send" : "receive"},
              {"link", link_name(b.inter)},
              {"experts", b.experts},
              {"bytes", b.experts * expert_bytes}};
    }
    return {{"intra_node_gbps", speeds.intra_gbps},
            {"inter_node_gbps", speeds.inter_gbps},
            {"experts_intra", links.experts_intra},
            {"experts_inter", links.experts_inter},
            {"bytes_intra", links.experts_intra * expert_bytes},
            {"bytes_inter", links.experts_inter * expert_bytes},
            {"bound_ms", 1e3 * b.seconds},
            {"bound_by", std::move(by)},
            {"schedule_ms", 1e3 * links.schedule_seconds},
            {"steps_inter_node_bound", links.steps_inter_bound}};
}

}  // namespace eplb::io
