// vLLM's EplbState tensors as JSON (see vllm_placement.h), laid out by hand one layer a line so
// that a person can diff two exports; nlohmann/json parses them back.
#include "io/vllm_placement.h"

#include <algorithm>

#include "eplb/error.h"
#include "io/json_util.h"

namespace eplb::io {

using nlohmann::json;

namespace {

// The model layer id of each row: "layers" when present (increasing ids >= 0), else 0..rows-1.
std::vector<int> read_layer_ids(const json& j, const std::string& source, int rows) {
    std::vector<int> ids;
    if (!j.contains("layers")) {
        for (int l = 0; l < rows; ++l) ids.push_back(l);
        return ids;
    }
    const json& v = j["layers"];
    EPLB_CHECK(v.is_array() && v.size() == static_cast<size_t>(rows),
               source << ": layers must list one model layer id per row (" << rows << ")");
    for (size_t l = 0; l < v.size(); ++l) {
        EPLB_CHECK(v[l].is_number_integer() && v[l].get<int64_t>() >= 0 && v[l].get<int64_t>() < (1 << 30) &&
                       (l == 0 || v[l].get<int64_t>() > ids.back()),
                   source << ": layers[" << l << "] is " << describe_value(v[l])
                          << ", expected increasing ids >= 0");
        ids.push_back(v[l].get<int>());
    }
    return ids;
}

}  // namespace

std::string placement_to_vllm_json(const PlacementDoc& d) {
    const Placement& p = d.placement;
    const int e = p.num_experts(), w = p.max_replicas();
    // vLLM documents the width as num_redundant_experts + 1: the most replicas one expert can get.
    const int width = p.num_slots() - e + 1;
    const IndexMatrix l2p = p.log2phy();
    std::string out = "{\"physical_to_logical_map\": " + matrix_lines(p.phy2log) + ",\n";
    out += "\"logical_to_physical_map\": [\n";
    std::vector<int32_t> row(static_cast<size_t>(width));
    for (int l = 0; l < p.num_layers(); ++l) {
        out += '[';
        for (int x = 0; x < e; ++x) {
            std::fill(row.begin(), row.end(), -1);
            std::copy_n(l2p.row(l).data() + static_cast<size_t>(x) * w, w, row.begin());
            if (x) out += ',';
            append_row(out, row.data(), width);
        }
        out += l + 1 < p.num_layers() ? "],\n" : "]\n";
    }
    out += "],\n\"logical_replica_count\": " + matrix_lines(p.logcnt) + ",\n";
    out += "\"layers\": ";
    std::vector<int32_t> ids(d.layer_ids.begin(), d.layer_ids.end());
    append_row(out, ids.data(), static_cast<int>(ids.size()));
    return out + "}\n";
}

PlacementDoc parse_vllm_placement(const std::string& text, const std::string& source,
                                  const PlacementImportOptions& o) {
    const json j = parse_json(text, source);
    EPLB_CHECK(j.is_object(), source << ": expected a JSON object");
    const IndexMatrix phy2log = read_rows(j, "physical_to_logical_map", source, 0);
    const int rows = static_cast<int>(phy2log.rows());
    PlacementDoc d = doc_from_phy2log(phy2log, read_layer_ids(j, source, rows), o, source, "vllm");
    const int e = d.config.num_logical_experts;
    if (j.contains("logical_replica_count")) {
        const IndexMatrix cnt = read_rows(j, "logical_replica_count", source, e);
        EPLB_CHECK(cnt.rows() == rows,
                   source << ": logical_replica_count has " << cnt.rows() << " layers, expected " << rows);
        for (int l = 0; l < rows; ++l) {
            for (int x = 0; x < e; ++x) {
                EPLB_CHECK(cnt(l, x) == d.placement.logcnt(l, x),
                           source << ": logical_replica_count[" << l << "][" << x << "] is " << cnt(l, x)
                                  << " but physical_to_logical_map holds " << d.placement.logcnt(l, x)
                                  << " replicas");
            }
        }
    }
    if (j.contains("logical_to_physical_map")) {
        // Replica ranks come from its order (rank 0 = the original copy), as in placement files.
        const json& l2p = j["logical_to_physical_map"];
        EPLB_CHECK(l2p.is_array() && l2p.size() == static_cast<size_t>(rows),
                   source << ": logical_to_physical_map must have one entry per layer (" << rows << ")");
        for (int l = 0; l < rows; ++l) {
            EPLB_CHECK(l2p[l].is_array() && l2p[l].size() == static_cast<size_t>(e),
                       source << ": logical_to_physical_map[" << l << "] must have " << e << " entries");
            for (int x = 0; x < e; ++x) {
                const json& slots = l2p[l][x];
                EPLB_CHECK(slots.is_array(),
                           source << ": logical_to_physical_map[" << l << "][" << x << "] must be an array");
                int rank = 0;
                for (const json& s : slots) {
                    EPLB_CHECK(s.is_number_integer(), source << ": logical_to_physical_map[" << l << "][" << x
                                                             << "] holds " << describe_value(s));
                    const int64_t slot = s.get<int64_t>();
                    if (slot == -1) continue;
                    EPLB_CHECK(slot >= 0 && slot < d.config.num_physical_experts && phy2log(l, slot) == x,
                               source << ": logical_to_physical_map[" << l << "][" << x << "] names slot "
                                      << slot << ", which physical_to_logical_map does not give to expert "
                                      << x);
                    d.placement.phyrank(l, static_cast<Eigen::Index>(slot)) = rank++;
                }
                EPLB_CHECK(rank == d.placement.logcnt(l, x),
                           source << ": logical_to_physical_map[" << l << "][" << x << "] lists " << rank
                                  << " slots but physical_to_logical_map has " << d.placement.logcnt(l, x));
            }
        }
        try {
            validate_placement(d.placement, d.config);
        } catch (const Error& e) {
            EPLB_FAIL(source << ": " << e.what());
        }
    }
    return d;
}

}  // namespace eplb::io
