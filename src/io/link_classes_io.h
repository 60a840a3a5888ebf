// Text and JSON of a transfer plan's link classes (NVLink within a node, the network between
// nodes), shared by the dry run's bound and the transfer model; for src/io .cpp files only.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "eplb/link_classes.h"

namespace eplb::io {

// "per pass X GB intra-node, Y GB inter-node; the bound: GPU q's inter-node receives, n experts = Z GB"
std::string render_link_split(const LinkBound& links, int64_t expert_bytes);

// The speeds, bytes per class, bound, schedule and the (GPU, direction, class) that bounds.
nlohmann::ordered_json link_bound_json(const LinkBound& links, const LinkSpeeds& speeds,
                                       int64_t expert_bytes);

}  // namespace eplb::io
