// Engine placement formats (see engine_export.h). The JSON is laid out by hand, one layer a line,
// so that a person can diff two exports; nlohmann/json parses them back.
#include "io/engine_export.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <map>
#include <sstream>

#include "eplb/error.h"
#include "eplb_config.h"
#include "io/file_util.h"
#include "io/json_util.h"

namespace eplb::io {

using nlohmann::json;

namespace {

void append_row(std::string& out, const int32_t* values, int n) {
    out += '[';
    for (int i = 0; i < n; ++i) {
        if (i) out += ',';
        out += std::to_string(values[i]);
    }
    out += ']';
}

// "[\n[..],\n[..]\n]" for the rows of m.
std::string matrix_lines(const IndexMatrix& m) {
    std::string out = "[\n";
    for (Eigen::Index r = 0; r < m.rows(); ++r) {
        append_row(out, m.row(r).data(), static_cast<int>(m.cols()));
        out += r + 1 < m.rows() ? ",\n" : "\n";
    }
    return out + "]";
}

// A rectangular int matrix under `key` with `cols` columns (0: any, fixed by the first row).
IndexMatrix read_rows(const json& j, const std::string& key, const std::string& source, int cols) {
    EPLB_CHECK(j.contains(key), source << ": missing key \"" << key << "\"");
    const json& rows = j[key];
    EPLB_CHECK(rows.is_array() && !rows.empty() && rows[0].is_array() && !rows[0].empty(),
               source << ": " << key << " must be a non-empty array of rows");
    if (cols == 0) cols = static_cast<int>(rows[0].size());
    IndexMatrix m(static_cast<Eigen::Index>(rows.size()), cols);
    for (size_t r = 0; r < rows.size(); ++r) {
        EPLB_CHECK(rows[r].is_array() && rows[r].size() == static_cast<size_t>(cols),
                   source << ": " << key << "[" << r << "] has "
                          << (rows[r].is_array() ? rows[r].size() : size_t{0}) << " entries, expected "
                          << cols);
        for (int c = 0; c < cols; ++c) {
            const json& v = rows[r][c];
            EPLB_CHECK(v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() < (1 << 24),
                       source << ": " << key << "[" << r << "][" << c << "] is " << describe_value(v)
                              << ", expected an expert id >= 0");
            m(static_cast<Eigen::Index>(r), c) = v.get<int32_t>();
        }
    }
    return m;
}

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

// A placement document from phy2log [L][R] alone, the config from the options (engine formats
// record neither the GPU count nor the groups).
PlacementDoc doc_from_phy2log(const IndexMatrix& phy2log, std::vector<int> layer_ids,
                              const PlacementImportOptions& o, const std::string& source,
                              const char* format) {
    PlacementDoc d;
    const int max_id = phy2log.size() ? phy2log.maxCoeff() : 0;
    ParallelConfig& c = d.config;
    c.num_logical_experts = o.num_logical_experts > 0 ? o.num_logical_experts : max_id + 1;
    EPLB_CHECK(max_id < c.num_logical_experts, source << ": names expert " << max_id
                                                      << " but num_logical_experts is "
                                                      << c.num_logical_experts);
    c.num_physical_experts = static_cast<int>(phy2log.cols());
    c.num_groups = o.num_groups > 0 ? o.num_groups : 1;
    c.num_nodes = o.num_nodes > 0 ? o.num_nodes : 1;
    c.num_gpus = o.num_gpus > 0 ? o.num_gpus : 1;
    try {
        c.validate();
        d.placement = placement_from_phy2log(phy2log, c.num_logical_experts);
        validate_placement(d.placement, c);
    } catch (const Error& e) {
        EPLB_FAIL(source << ": " << e.what());
    }
    d.layer_ids = std::move(layer_ids);
    d.policy = std::string("read from ") + format;
    return d;
}

// TensorRT-LLM YAML: the three keys its MoeLoadBalancerConfig accepts, in the block layout PyYAML
// and placement_to_trtllm_yaml write (flow lists `3: [1, 2]`, or block lists of `- 1` items).
struct YamlLine {
    int number;
    int indent;
    std::string text;  // without indentation, comment and trailing blanks
};

std::vector<YamlLine> yaml_lines(const std::string& text, const std::string& source) {
    std::vector<YamlLine> lines;
    std::istringstream in(text);
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
        ++number;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        const size_t hash = line.find('#');
        if (hash != std::string::npos &&
            (hash == 0 || std::isspace(static_cast<unsigned char>(line[hash - 1]))))
            line.erase(hash);
        while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
        if (line.empty() || line == "---" || line == "...") continue;
        const size_t indent = line.find_first_not_of(' ');
        EPLB_CHECK(line[indent] != '\t',
                   source << ": line " << number << ": tabs are not allowed for indentation in YAML");
        lines.push_back({number, static_cast<int>(indent), line.substr(indent)});
    }
    return lines;
}

int yaml_int(const std::string& text, const std::string& source, int line, const char* what, int min) {
    std::string t = text;
    while (!t.empty() && t.front() == ' ') t.erase(0, 1);
    while (!t.empty() && t.back() == ' ') t.pop_back();
    if (t.size() >= 2 && (t.front() == '\'' || t.front() == '"') && t.back() == t.front())
        t = t.substr(1, t.size() - 2);
    int v = 0;
    auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    EPLB_CHECK(!t.empty() && ec == std::errc() && ptr == t.data() + t.size() && v >= min,
               source << ": line " << line << ": " << what << " '" << t << "' is not an integer >= " << min);
    return v;
}

}  // namespace

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

std::string placement_to_trtllm_yaml(const PlacementDoc& d) {
    const ParallelConfig& c = d.config;
    std::string out = "# TensorRT-LLM MoE load balancer config (moe_config.load_balancer), written by eplb " +
                      std::string(EPLB_VERSION) + ":\n# a static placement (" + d.policy + " policy) of " +
                      std::to_string(c.num_logical_experts) + " experts on " +
                      std::to_string(c.num_physical_experts) + " slots, " + std::to_string(c.num_gpus) +
                      " EP ranks x " + std::to_string(c.slots_per_gpu()) +
                      " slots; keys are model layer indices.\n";
    out += "num_slots: " + std::to_string(c.num_physical_experts) + "\n";
    out += "initial_global_assignments:\n";
    for (int l = 0; l < d.placement.num_layers(); ++l) {
        out += "  " + std::to_string(d.layer_ids[l]) + ": ";
        append_row(out, d.placement.phy2log.row(l).data(), d.placement.num_slots());
        out += "\n";
    }
    out += "layer_updates_per_iter: 0\n";
    return out;
}

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

PlacementDoc with_mtp_layers(const PlacementDoc& doc, int first_id, int count, std::vector<int>* added) {
    std::vector<int> missing;
    for (int id = first_id; id < first_id + count; ++id) {
        if (std::find(doc.layer_ids.begin(), doc.layer_ids.end(), id) == doc.layer_ids.end())
            missing.push_back(id);
    }
    if (added) *added = missing;
    if (missing.empty()) return doc;
    const Placement& p = doc.placement;
    const int r = p.num_slots(), e = p.num_experts();
    // Rows in increasing layer id: the MTP ids follow the MoE layers.
    std::vector<std::pair<int, int>> order;  // (layer id, row in doc or -1 for a default row)
    for (int l = 0; l < p.num_layers(); ++l) order.emplace_back(doc.layer_ids[l], l);
    for (int id : missing) order.emplace_back(id, -1);
    std::sort(order.begin(), order.end());
    const auto n = static_cast<Eigen::Index>(order.size());
    PlacementDoc out = doc;
    out.placement = Placement{IndexMatrix(n, r), IndexMatrix(n, r), IndexMatrix::Zero(n, e)};
    out.layer_ids.clear();
    for (Eigen::Index i = 0; i < n; ++i) {
        const auto [id, row] = order[static_cast<size_t>(i)];
        out.layer_ids.push_back(id);
        if (row >= 0) {
            out.placement.phy2log.row(i) = p.phy2log.row(row);
            out.placement.phyrank.row(i) = p.phyrank.row(row);
            out.placement.logcnt.row(i) = p.logcnt.row(row);
            continue;
        }
        // WideEPMoE's own default: rank q's local slot k holds expert (q·E/P + k) mod E.
        const int p_gpus = doc.config.num_gpus, per_gpu = r / p_gpus;
        IndexMatrix row_map(1, r);
        for (int s = 0; s < r; ++s) {
            const int64_t q = s / per_gpu, k = s % per_gpu;
            row_map(0, s) = static_cast<int32_t>((q * e / p_gpus + k) % e);
        }
        const Placement d = placement_from_phy2log(row_map, e);
        out.placement.phy2log.row(i) = d.phy2log.row(0);
        out.placement.phyrank.row(i) = d.phyrank.row(0);
        out.placement.logcnt.row(i) = d.logcnt.row(0);
    }
    out.layer_sources.clear();  // per-row provenance of --previous does not cover the added rows
    out.node_bounds.clear();
    return out;
}

bool sglang_reads_as_json_file(const std::string& path) {
    const std::string suffix = ".json";
    return path.size() >= suffix.size() &&
           path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
}

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

PlacementDoc parse_sglang_placement(const std::string& text, const std::string& source,
                                    const PlacementImportOptions& o) {
    const json j = parse_json(text, source);
    EPLB_CHECK(j.is_object(), source << ": expected a JSON object");
    const IndexMatrix phy2log = read_rows(j, "physical_to_logical_map", source, 0);
    std::vector<int> ids;
    for (int l = 0; l < phy2log.rows(); ++l) ids.push_back(l);  // SGLang rows are model layers
    return doc_from_phy2log(phy2log, ids, o, source, "sglang");
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

PlacementDoc parse_trtllm_yaml(const std::string& text, const std::string& source,
                               const PlacementImportOptions& o) {
    const std::vector<YamlLine> lines = yaml_lines(text, source);
    int num_slots = -1;
    bool in_assignments = false;
    std::map<int, std::vector<int>> layers;
    int current = -1;  // layer whose block list is being read
    size_t i = 0;
    auto parse_flow_list = [&](std::string list, int line, std::vector<int>& out) {
        // `[a, b, c]`, possibly continued over the following (more indented) lines.
        while (list.find(']') == std::string::npos) {
            EPLB_CHECK(i + 1 < lines.size() && lines[i + 1].indent > 0,
                       source << ": line " << line << ": the list '[' is not closed");
            list += ' ' + lines[++i].text;
        }
        const size_t close = list.find(']');
        EPLB_CHECK(list.find_first_not_of(' ', close + 1) == std::string::npos,
                   source << ": line " << line << ": text after the list's ']'");
        std::string body = list.substr(1, close - 1);
        std::istringstream items(body);
        std::string item;
        while (std::getline(items, item, ',')) out.push_back(yaml_int(item, source, line, "expert", 0));
    };
    for (; i < lines.size(); ++i) {
        const YamlLine& ln = lines[i];
        if (ln.indent == 0) {
            in_assignments = false;
            current = -1;
            const size_t colon = ln.text.find(':');
            EPLB_CHECK(colon != std::string::npos,
                       source << ": line " << ln.number << ": expected 'key: value'");
            const std::string key = ln.text.substr(0, colon);
            std::string value = ln.text.substr(colon + 1);
            value.erase(0, std::min(value.find_first_not_of(' '), value.size()));
            if (key == "num_slots") {
                num_slots = yaml_int(value, source, ln.number, "num_slots", 1);
            } else if (key == "layer_updates_per_iter") {
                yaml_int(value, source, ln.number, "layer_updates_per_iter", 0);
            } else if (key == "initial_global_assignments") {
                EPLB_CHECK(value.empty(), source
                                              << ": line " << ln.number
                                              << ": write initial_global_assignments as an indented block of "
                                                 "'layer: [experts]' lines");
                in_assignments = true;
            } else {
                EPLB_FAIL(source << ": line " << ln.number << ": unknown key '" << key
                                 << "' (TensorRT-LLM's MoeLoadBalancerConfig takes num_slots, "
                                    "initial_global_assignments, layer_updates_per_iter)");
            }
            continue;
        }
        EPLB_CHECK(in_assignments, source << ": line " << ln.number << ": unexpected indented line");
        if (ln.text.rfind("- ", 0) == 0 || ln.text == "-") {
            EPLB_CHECK(current >= 0, source << ": line " << ln.number << ": list item outside a layer");
            layers[current].push_back(yaml_int(ln.text.substr(1), source, ln.number, "expert", 0));
            continue;
        }
        const size_t colon = ln.text.find(':');
        EPLB_CHECK(colon != std::string::npos,
                   source << ": line " << ln.number << ": expected 'layer: [experts]'");
        const int layer = yaml_int(ln.text.substr(0, colon), source, ln.number, "layer index", 0);
        EPLB_CHECK(!layers.count(layer),
                   source << ": line " << ln.number << ": layer " << layer << " appears twice");
        std::string value = ln.text.substr(colon + 1);
        value.erase(0, std::min(value.find_first_not_of(' '), value.size()));
        std::vector<int>& list = layers[layer];
        current = -1;
        if (value.empty()) {
            current = layer;  // a block list follows
        } else {
            EPLB_CHECK(value[0] == '[', source << ": line " << ln.number << ": layer " << layer
                                               << " must map to a list of experts");
            parse_flow_list(value, ln.number, list);
        }
    }
    EPLB_CHECK(num_slots > 0, source << ": num_slots is missing");
    EPLB_CHECK(!layers.empty(), source << ": initial_global_assignments is missing or empty");
    IndexMatrix phy2log(static_cast<Eigen::Index>(layers.size()), num_slots);
    std::vector<int> ids;
    for (const auto& [layer, list] : layers) {
        EPLB_CHECK(static_cast<int>(list.size()) == num_slots,
                   source << ": layer " << layer << " lists " << list.size() << " experts but num_slots is "
                          << num_slots);
        const Eigen::Index row = static_cast<Eigen::Index>(ids.size());
        for (int s = 0; s < num_slots; ++s) phy2log(row, s) = list[s];
        ids.push_back(layer);
    }
    return doc_from_phy2log(phy2log, ids, o, source, "trtllm");
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
