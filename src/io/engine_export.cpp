// Which engine placement format a file holds, and the one call that reads or writes any of them
// (see engine_export.h); the formats themselves are in sglang_, trtllm_ and vllm_placement.cpp.
#include "io/engine_export.h"

#include <filesystem>

#include "eplb/error.h"
#include "io/file_util.h"
#include "io/json_util.h"
#include "io/sglang_placement.h"
#include "io/trtllm_placement.h"
#include "io/vllm_placement.h"

namespace eplb::io {

using nlohmann::json;

std::string export_placement(const PlacementDoc& doc, PlacementFormat format, int num_model_layers) {
    switch (format) {
        case PlacementFormat::kSglang:
            return placement_to_sglang(doc, num_model_layers);
        case PlacementFormat::kTrtllm:
            return placement_to_trtllm_yaml(doc);
        case PlacementFormat::kVllm:
            return placement_to_vllm_json(doc);
        case PlacementFormat::kEplb:
            break;
    }
    return placement_to_json(doc, nullptr, nullptr);
}

PlacementFormat detect_placement_format(const std::string& path, const std::string& content) {
    const std::string ext = extension_of(path);
    if (ext == "yaml" || ext == "yml") return PlacementFormat::kTrtllm;
    const json j = parse_json(content, path, top_level_only);
    EPLB_CHECK(j.is_object(), path << ": expected a JSON object holding a placement");
    if (j.contains("schema")) {
        EPLB_CHECK(j["schema"] == "eplb.placement/v1", path << ": schema is " << describe_value(j["schema"])
                                                            << ", not a placement (eplb.placement/v1)");
        return PlacementFormat::kEplb;
    }
    if (j.contains("physical_to_logical_map")) {
        return j.contains("logical_to_physical_map") || j.contains("logical_replica_count")
                   ? PlacementFormat::kVllm
                   : PlacementFormat::kSglang;
    }
    EPLB_FAIL(path << ": no placement found: expected \"schema\": \"eplb.placement/v1\", SGLang's or vLLM's "
                      "\"physical_to_logical_map\", or a TensorRT-LLM .yaml");
}

bool is_placement_file(const std::string& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) return false;
    const std::string ext = extension_of(path);
    if (ext == "yaml" || ext == "yml") return true;
    if (ext == "csv" || ext == "npy") return false;
    const std::string text = read_text_file(path);
    const json j = json::parse(text, top_level_only, false);
    if (j.is_discarded() || !j.is_object()) return false;
    return (j.contains("schema") && j["schema"] == "eplb.placement/v1") ||
           j.contains("physical_to_logical_map");
}

PlacementDoc read_any_placement(const std::string& path, const PlacementImportOptions& o,
                                PlacementFormat* format) {
    const std::string text = read_text_file(path);
    EPLB_CHECK(!text.empty(), path << ": empty file");
    const PlacementFormat f = detect_placement_format(path, text);
    if (format) *format = f;
    switch (f) {
        case PlacementFormat::kSglang:
            return parse_sglang_placement(text, path, o);
        case PlacementFormat::kTrtllm:
            return parse_trtllm_yaml(text, path, o);
        case PlacementFormat::kVllm:
            return parse_vllm_placement(text, path, o);
        case PlacementFormat::kEplb:
            break;
    }
    return parse_placement_json(text, path);
}

PlacementDoc select_placement_layers(const PlacementDoc& doc, Range layers) {
    std::vector<int> rows;
    for (int l = 0; l < doc.placement.num_layers(); ++l) {
        const int id = doc.layer_ids[l];
        if (id >= layers.first && (layers.end == -1 || id < layers.end)) rows.push_back(l);
    }
    EPLB_CHECK(!rows.empty(), "--layers " << layers.first << ":"
                                          << (layers.end == -1 ? std::string() : std::to_string(layers.end))
                                          << " selects none of the placement's layers "
                                          << doc.layer_ids.front() << ".." << doc.layer_ids.back());
    PlacementDoc out = doc;
    const Placement& p = doc.placement;
    const auto n = static_cast<Eigen::Index>(rows.size());
    out.placement = Placement{IndexMatrix(n, p.num_slots()), IndexMatrix(n, p.num_slots()),
                              IndexMatrix(n, p.num_experts())};
    out.layer_ids.clear();
    for (Eigen::Index i = 0; i < n; ++i) {
        out.placement.phy2log.row(i) = p.phy2log.row(rows[i]);
        out.placement.phyrank.row(i) = p.phyrank.row(rows[i]);
        out.placement.logcnt.row(i) = p.logcnt.row(rows[i]);
        out.layer_ids.push_back(doc.layer_ids[rows[i]]);
    }
    return out;
}

}  // namespace eplb::io
