// Placement JSON writer and reader (see placement_io.h).
#include "io/placement_io.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <optional>
#include <sstream>

#include "eplb/error.h"
#include "eplb_config.h"
#include "io/file_util.h"
#include "io/json_util.h"
#include "io/json_writer.h"

namespace eplb::io {

using nlohmann::json;

namespace {

void write_tool(JsonWriter& w) {
    w.key("tool");
    w.begin_object();
    w.key("name");
    w.value("eplb");
    w.key("version");
    w.value(EPLB_VERSION);
    w.end_object();
}

// Rows of a matrix as nested arrays.
void write_rows(JsonWriter& w, const IndexMatrix& m) {
    w.begin_array();
    for (Eigen::Index r = 0; r < m.rows(); ++r) w.array(m.row(r).data(), static_cast<size_t>(m.cols()));
    w.end_array();
}

void write_metrics(JsonWriter& w, const Metrics& m, const std::vector<int>& layer_ids) {
    w.begin_object();
    w.key("balancedness");
    w.value(m.balancedness);
    w.key("mean_layer_balancedness");
    w.value(m.mean_layer_balancedness);
    w.key("imbalance");
    w.value(m.imbalance);
    w.key("gap");
    w.value(m.gap);
    w.key("mean_gap");
    w.value(m.mean_gap);
    w.key("max_gap");
    w.value(m.max_gap);
    w.key("worst_layer");
    w.value(layer_ids.empty() ? m.worst_layer : layer_ids[m.worst_layer]);
    w.key("duplicate_pairs");
    w.value(m.duplicate_pairs);
    w.key("per_layer");
    w.begin_array();
    for (size_t l = 0; l < m.layers.size(); ++l) {
        const LayerMetrics& lm = m.layers[l];
        w.begin_object();
        w.key("layer");
        w.value(layer_ids.empty() ? static_cast<int>(l) : layer_ids[l]);
        w.key("total_load");
        w.value(lm.total_load);
        w.key("mean_gpu_load");
        w.value(lm.mean_gpu_load);
        w.key("max_gpu_load");
        w.value(lm.max_gpu_load);
        w.key("max_gpu");
        w.value(lm.max_gpu);
        w.key("balancedness");
        w.value(lm.balancedness);
        w.key("imbalance");
        w.value(lm.imbalance);
        w.key("lower_bound");
        w.value(lm.lower_bound);
        w.key("gap");
        w.value(lm.gap);
        w.key("duplicate_gpus");
        w.value(lm.duplicate_gpus);
        w.key("gpu_loads");
        w.array(m.gpu_loads.row(l).data(), static_cast<size_t>(m.gpu_loads.cols()));
        w.key("node_loads");
        w.array(m.node_loads.row(l).data(), static_cast<size_t>(m.node_loads.cols()));
        w.end_object();
    }
    w.end_array();
    w.end_object();
}

// log2phy [L][E][W] built one layer at a time (the whole padded matrix can be large: W is the
// largest replica count of any expert in any layer).
void write_log2phy(JsonWriter& w, const Placement& p) {
    const int width = p.max_replicas(), e = p.num_experts();
    std::vector<int32_t> row(static_cast<size_t>(e) * width);
    w.begin_array();
    for (int l = 0; l < p.num_layers(); ++l) {
        std::fill(row.begin(), row.end(), -1);
        for (int s = 0; s < p.num_slots(); ++s) {
            const int x = p.phy2log(l, s);
            if (x >= 0) row[static_cast<size_t>(x) * width + p.phyrank(l, s)] = s;
        }
        w.begin_array();
        for (int x = 0; x < e; ++x) w.array(row.data() + static_cast<size_t>(x) * width, width);
        w.end_array();
    }
    w.end_array();
}

}  // namespace

void write_evaluation_json(std::ostream& out, const std::string& placement_path,
                           const std::string& trace_path, const Metrics& metrics,
                           const std::vector<int>& layer_ids, const std::string& load_digest) {
    JsonWriter w(out);
    w.begin_object();
    w.key("schema");
    w.value("eplb.evaluation/v1");
    write_tool(w);
    w.key("placement");
    w.value(placement_path);
    w.key("trace");
    w.value(trace_path);
    if (!load_digest.empty()) {
        w.key("load_digest");
        w.value(load_digest);
    }
    w.key("metrics");
    write_metrics(w, metrics, layer_ids);
    w.end_object();
    w.finish();
}

std::string evaluation_to_json(const std::string& placement_path, const std::string& trace_path,
                               const Metrics& metrics, const std::vector<int>& layer_ids,
                               const std::string& load_digest) {
    std::ostringstream out;
    write_evaluation_json(out, placement_path, trace_path, metrics, layer_ids, load_digest);
    return out.str();
}

void write_placement_json(std::ostream& out, const PlacementDoc& d, const Metrics* metrics,
                          const MigrationStats* migration) {
    JsonWriter w(out);
    w.begin_object();
    w.key("schema");
    w.value("eplb.placement/v1");
    write_tool(w);
    w.key("inputs");
    w.begin_object();
    if (!d.trace_source.empty()) {
        w.key("trace");
        w.value(d.trace_source);
    }
    if (!d.config_source.empty()) {
        w.key("config");
        w.value(d.config_source);
    }
    if (!d.backend.empty()) {
        w.key("backend");
        w.value(d.backend);
    }
    if (!d.previous_source.empty()) {
        w.key("previous");
        w.value(d.previous_source);
    }
    w.end_object();
    if (!d.model.empty()) {
        w.key("model");
        w.value(d.model);
    }
    const ParallelConfig& c = d.config;
    w.key("config");
    w.begin_object();
    w.key("num_logical_experts");
    w.value(c.num_logical_experts);
    w.key("num_physical_experts");
    w.value(c.num_physical_experts);
    w.key("num_redundant_experts");
    w.value(c.num_redundant_experts());
    w.key("num_groups");
    w.value(c.num_groups);
    w.key("num_nodes");
    w.value(c.num_nodes);
    w.key("num_gpus");
    w.value(c.num_gpus);
    if (d.expert_bytes > 0) {
        w.key("expert_bytes");
        w.value(d.expert_bytes);
    }
    w.end_object();
    w.key("policy");
    w.value(d.policy);
    w.key("policy_taken");
    w.value(c.hierarchical() ? "hierarchical" : "global");
    w.key("layers");
    w.array(d.layer_ids);
    w.key("phy2log");
    write_rows(w, d.placement.phy2log);
    w.key("log2phy");
    write_log2phy(w, d.placement);
    w.key("logcnt");
    write_rows(w, d.placement.logcnt);
    if (metrics) {
        w.key("metrics");
        write_metrics(w, *metrics, d.layer_ids);
    }
    if (migration) {
        w.key("migration");
        w.begin_object();
        w.key("experts_moved");
        w.value(migration->experts_moved);
        w.key("intra_node");
        w.value(migration->intra_node);
        w.key("inter_node");
        w.value(migration->inter_node);
        w.key("bytes_moved");
        w.value(migration->bytes_moved);
        w.key("intra_node_bytes");
        w.value(migration->intra_node_bytes);
        w.key("inter_node_bytes");
        w.value(migration->inter_node_bytes);
        w.key("received_per_gpu");
        w.array(migration->received_per_gpu);
        w.key("moved_per_layer");
        w.array(migration->moved_per_layer);
        w.end_object();
    }
    if (!d.layer_sources.empty()) {
        w.key("layer_sources");
        w.begin_array();
        for (const std::string& source : d.layer_sources) w.value(source);
        w.end_array();
    }
    if (!d.node_bounds.empty()) {
        w.key("node_bounds");
        w.array(d.node_bounds);
    }
    w.end_object();
    w.finish();
}

std::string placement_to_json(const PlacementDoc& d, const Metrics* metrics,
                              const MigrationStats* migration) {
    std::ostringstream out;
    write_placement_json(out, d, metrics, migration);
    return out.str();
}

namespace {

int config_int(const json& cfg, const char* key, const std::string& source, int min) {
    EPLB_CHECK(cfg.contains(key), source << ": config has no \"" << key << "\"");
    const json& v = cfg[key];
    EPLB_CHECK(
        v.is_number_integer() && v.get<int64_t>() >= min && v.get<int64_t>() <= (1 << 24),
        source << ": config." << key << " is " << describe_value(v) << ", expected an integer >= " << min);
    return v.get<int>();
}

// The large arrays of a placement (phy2log, logcnt: [L][R] and [L][E]; log2phy: [L][E][W]) are
// packed while parsing: each well-formed row of integers becomes one binary value (int32s), each
// well-formed layer of log2phy one binary value listing its experts' slots without the -1
// padding. A DOM costs 16 bytes a number plus a vector a row: 2.8 GB for the 300 MB placement of
// 1000 layers x 4096 experts; packed, the parse holds little beyond the text. Anything else (a
// string, a nested array, a number beyond int32) stays as parsed, so the checks below name it
// exactly as they always did.

// A json array of integers that all fit int32, as int32s; nullopt otherwise.
std::optional<std::vector<int32_t>> int32_values(const json& row) {
    if (!row.is_array()) return std::nullopt;
    std::vector<int32_t> values;
    values.reserve(row.size());
    for (const json& v : row) {
        if (v.is_number_integer() && !v.is_number_unsigned()) {
            const int64_t x = v.get<int64_t>();
            if (x < INT32_MIN || x > INT32_MAX) return std::nullopt;
            values.push_back(static_cast<int32_t>(x));
        } else if (v.is_number_unsigned() && v.get<uint64_t>() <= INT32_MAX) {
            values.push_back(static_cast<int32_t>(v.get<uint64_t>()));
        } else {
            return std::nullopt;
        }
    }
    return values;
}

json packed(const std::vector<int32_t>& values) {
    std::vector<uint8_t> bytes(values.size() * sizeof(int32_t));
    if (!values.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
    return json::binary(std::move(bytes));
}

std::vector<int32_t> unpacked(const json& value) {
    const auto& bytes = value.get_binary();
    std::vector<int32_t> values(bytes.size() / sizeof(int32_t));
    if (!values.empty()) std::memcpy(values.data(), bytes.data(), values.size() * sizeof(int32_t));
    return values;
}

// A row of phy2log or logcnt, packed when it is well formed.
void pack_row(json& row) {
    if (auto values = int32_values(row)) row = packed(*values);
}

// A layer of log2phy [E][W] as {E, then per expert: n, its n slots other than -1}, when every
// expert's list is well formed.
void pack_log2phy_layer(json& layer) {
    if (!layer.is_array()) return;
    std::vector<int32_t> out{static_cast<int32_t>(layer.size())};
    for (const json& expert : layer) {
        const auto slots = int32_values(expert);
        if (!slots) return;
        const size_t count_at = out.size();
        out.push_back(0);
        for (int32_t s : *slots) {
            if (s == -1) continue;  // padding
            out.push_back(s);
            ++out[count_at];
        }
    }
    layer = packed(out);
}

// Parses a placement file with the large arrays packed and what the reader never looks at
// (metrics, migration: per-layer GPU loads) dropped as it goes.
json parse_placement_dom(const std::string& text, const std::string& source) {
    // What the value of the root's current key is (one string compare per key, not per number).
    enum class Top { kOther, kRows, kLog2phy, kDropped } top = Top::kOther;
    const json::parser_callback_t callback = [&](int depth, json::parse_event_t event, json& parsed) {
        if (depth == 1 && event == json::parse_event_t::key) {
            const std::string& key = parsed.get_ref<const std::string&>();
            top = key == "phy2log" || key == "logcnt"      ? Top::kRows
                  : key == "log2phy"                       ? Top::kLog2phy
                  : key == "metrics" || key == "migration" ? Top::kDropped
                                                           : Top::kOther;
            return true;
        }
        if (top == Top::kDropped) return depth <= 1;
        if (depth == 2 && event == json::parse_event_t::array_end) {
            if (top == Top::kRows) pack_row(parsed);
            if (top == Top::kLog2phy) pack_log2phy_layer(parsed);
        }
        return true;
    };
    return parse_json(text, source, callback);
}

IndexMatrix read_matrix(const json& j, const char* key, const std::string& source, int cols, int min_value) {
    EPLB_CHECK(j.contains(key), source << ": missing key \"" << key << "\"");
    const json& rows = j[key];
    EPLB_CHECK(rows.is_array() && !rows.empty(),
               source << ": " << key << " must be a non-empty array of rows");
    // Every row's length first: the matrix is allocated only once the file is known to hold it
    // (a two-line file must not make us allocate rows x 2^24 slots).
    for (size_t r = 0; r < rows.size(); ++r) {
        const size_t n = rows[r].is_binary()  ? rows[r].get_binary().size() / sizeof(int32_t)
                         : rows[r].is_array() ? rows[r].size()
                                              : 0;
        EPLB_CHECK((rows[r].is_binary() || rows[r].is_array()) && n == static_cast<size_t>(cols),
                   source << ": " << key << "[" << r << "] has " << n << " entries, expected " << cols);
    }
    IndexMatrix m(rows.size(), cols);
    for (size_t r = 0; r < rows.size(); ++r) {
        if (rows[r].is_binary()) {
            const std::vector<int32_t> values = unpacked(rows[r]);
            for (int c = 0; c < cols; ++c) {
                EPLB_CHECK(values[c] >= min_value && values[c] < (1 << 24),
                           source << ": " << key << "[" << r << "][" << c << "] is " << values[c]
                                  << ", expected an integer >= " << min_value);
                m(r, c) = values[c];
            }
            continue;
        }
        for (int c = 0; c < cols; ++c) {
            const json& v = rows[r][c];
            EPLB_CHECK(v.is_number_integer() && v.get<int64_t>() >= min_value && v.get<int64_t>() < (1 << 24),
                       source << ": " << key << "[" << r << "][" << c << "] is " << describe_value(v)
                              << ", expected an integer >= " << min_value);
            m(r, c) = v.get<int32_t>();
        }
    }
    return m;
}

}  // namespace

PlacementDoc parse_placement_json(const std::string& text, const std::string& source) {
    const json j = parse_placement_dom(text, source);
    EPLB_CHECK(j.is_object() && j.contains("schema") && j["schema"] == "eplb.placement/v1",
               source << ": not a placement file (expected \"schema\": \"eplb.placement/v1\"; `eplb plan -o` "
                         "writes one)");
    EPLB_CHECK(j.contains("config") && j["config"].is_object(), source << ": missing object \"config\"");
    const json& cfg = j["config"];
    PlacementDoc d;
    d.config.num_logical_experts = config_int(cfg, "num_logical_experts", source, 1);
    d.config.num_physical_experts = config_int(cfg, "num_physical_experts", source, 1);
    d.config.num_groups = config_int(cfg, "num_groups", source, 1);
    d.config.num_nodes = config_int(cfg, "num_nodes", source, 1);
    d.config.num_gpus = config_int(cfg, "num_gpus", source, 1);
    try {
        d.config.validate();
    } catch (const Error& e) {
        EPLB_FAIL(source << ": " << e.what());
    }
    if (cfg.contains("expert_bytes")) {
        const json& v = cfg["expert_bytes"];
        // The limit of config files: byte counts multiply it, so it must stay far from int64's end.
        EPLB_CHECK(
            v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() <= (int64_t{1} << 40),
            source << ": config.expert_bytes is " << describe_value(v) << ", expected an integer 0..2^40");
        d.expert_bytes = v.get<int64_t>();
    }
    if (j.contains("policy") && j["policy"].is_string()) d.policy = j["policy"].get<std::string>();
    if (j.contains("model") && j["model"].is_string()) d.model = j["model"].get<std::string>();
    const IndexMatrix phy2log = read_matrix(j, "phy2log", source, d.config.num_physical_experts, 0);
    try {
        d.placement = placement_from_phy2log(phy2log, d.config.num_logical_experts);
    } catch (const Error& e) {
        EPLB_FAIL(source << ": " << e.what());
    }
    // Replica ranks come from log2phy when present (rank 0 = the original copy); slot order else.
    if (j.contains("log2phy")) {
        const json& l2p = j["log2phy"];
        EPLB_CHECK(l2p.is_array() && l2p.size() == static_cast<size_t>(d.placement.num_layers()),
                   source << ": log2phy must have one entry per layer (" << d.placement.num_layers() << ")");
        // One expert's listed slots (-1 padding skipped) get ranks 0, 1, ... in order.
        const auto assign_ranks = [&](int l, int e, const int32_t* slots, int n) {
            int rank = 0;
            for (int i = 0; i < n; ++i) {
                const int64_t slot = slots[i];
                EPLB_CHECK(slot >= 0 && slot < d.config.num_physical_experts && phy2log(l, slot) == e,
                           source << ": log2phy[" << l << "][" << e << "] names slot " << slot
                                  << ", which phy2log does not give to expert " << e);
                d.placement.phyrank(l, slot) = rank++;
            }
            EPLB_CHECK(rank == d.placement.logcnt(l, e),
                       source << ": log2phy[" << l << "][" << e << "] lists " << rank
                              << " slots but phy2log has " << d.placement.logcnt(l, e));
        };
        for (int l = 0; l < d.placement.num_layers(); ++l) {
            if (l2p[l].is_binary()) {
                const std::vector<int32_t> packed_layer = unpacked(l2p[l]);
                EPLB_CHECK(packed_layer[0] == d.config.num_logical_experts,
                           source << ": log2phy[" << l << "] must have " << d.config.num_logical_experts
                                  << " entries");
                size_t at = 1;
                for (int e = 0; e < d.config.num_logical_experts; ++e) {
                    const int n = packed_layer[at];
                    assign_ranks(l, e, packed_layer.data() + at + 1, n);
                    at += 1 + static_cast<size_t>(n);
                }
                continue;
            }
            EPLB_CHECK(
                l2p[l].is_array() && l2p[l].size() == static_cast<size_t>(d.config.num_logical_experts),
                source << ": log2phy[" << l << "] must have " << d.config.num_logical_experts << " entries");
            for (int e = 0; e < d.config.num_logical_experts; ++e) {
                const json& slots = l2p[l][e];
                EPLB_CHECK(slots.is_array(),
                           source << ": log2phy[" << l << "][" << e << "] must be an array");
                int rank = 0;
                for (const json& s : slots) {
                    EPLB_CHECK(s.is_number_integer(),
                               source << ": log2phy[" << l << "][" << e << "] holds " << describe_value(s));
                    const int64_t slot = s.get<int64_t>();
                    if (slot == -1) continue;
                    EPLB_CHECK(slot >= 0 && slot < d.config.num_physical_experts && phy2log(l, slot) == e,
                               source << ": log2phy[" << l << "][" << e << "] names slot " << slot
                                      << ", which phy2log does not give to expert " << e);
                    d.placement.phyrank(l, slot) = rank++;
                }
                EPLB_CHECK(rank == d.placement.logcnt(l, e),
                           source << ": log2phy[" << l << "][" << e << "] lists " << rank
                                  << " slots but phy2log has " << d.placement.logcnt(l, e));
            }
        }
    }
    try {
        validate_placement(d.placement, d.config);
    } catch (const Error& e) {
        EPLB_FAIL(source << ": " << e.what());
    }
    if (j.contains("layers")) {
        const json& ids = j["layers"];
        EPLB_CHECK(ids.is_array() && ids.size() == static_cast<size_t>(d.placement.num_layers()),
                   source << ": layers must list one model layer id per row of phy2log ("
                          << d.placement.num_layers() << ")");
        for (size_t l = 0; l < ids.size(); ++l) {
            EPLB_CHECK(
                ids[l].is_number_integer() && ids[l].get<int64_t>() >= 0 && ids[l].get<int64_t>() < (1 << 30),
                source << ": layers[" << l << "] is " << describe_value(ids[l]));
            d.layer_ids.push_back(ids[l].get<int>());
        }
    } else {
        for (int l = 0; l < d.placement.num_layers(); ++l) d.layer_ids.push_back(l);
    }
    return d;
}

PlacementDoc read_placement(const std::string& path) {
    return parse_placement_json(read_text_file(path), path);
}

}  // namespace eplb::io
