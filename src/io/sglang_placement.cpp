// SGLang's --init-expert-location JSON (see sglang_placement.h), laid out by hand one layer a line
// so that a person can diff two exports; nlohmann/json parses it back.
#include "io/sglang_placement.h"

#include <algorithm>

#include "eplb/error.h"
#include "io/json_util.h"

namespace eplb::io {

using nlohmann::json;

std::string placement_to_sglang(const PlacementDoc& d, int num_model_layers) {
    const int last = d.layer_ids.empty() ? -1 : *std::max_element(d.layer_ids.begin(), d.layer_ids.end());
    EPLB_CHECK(num_model_layers == 0 || num_model_layers > last,
               "--num-model-layers (" << num_model_layers << ") must exceed the placement's last layer id ("
                                      << last << "): SGLang's map has one row per model layer");
    const int rows = std::max(num_model_layers, last + 1);
    const int r = d.placement.num_slots(), e = d.placement.num_experts();
    IndexMatrix map(rows, r);
    for (int id = 0; id < rows; ++id) {
        for (int s = 0; s < r; ++s) map(id, s) = s % e;  // SGLang's init_trivial
    }
    for (int l = 0; l < d.placement.num_layers(); ++l) map.row(d.layer_ids[l]) = d.placement.phy2log.row(l);
    return "{\"physical_to_logical_map\": " + matrix_lines(map) + "}\n";
}

bool sglang_reads_as_json_file(const std::string& path) {
    const std::string suffix = ".json";
    return path.size() >= suffix.size() &&
           path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
}

PlacementDoc parse_sglang_placement(const std::string& text, const std::string& source,
                                    const PlacementImportOptions& o) {
    const json j = parse_json(text, source);
    EPLB_CHECK(j.is_object(), source << ": expected a JSON object");
    const IndexMatrix phy2log = read_rows(j, "physical_to_logical_map", source, 0);
    std::vector<int> ids;
    for (int l = 0; l < phy2log.rows(); ++l) ids.push_back(l);  // SGLang rows are model layers
    return doc_from_phy2log(phy2log, ids, o, source, "sglang");
}

}  // namespace eplb::io
