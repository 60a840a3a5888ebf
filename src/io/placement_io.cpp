// Placement JSON writer and reader (see placement_io.h).
#include "io/placement_io.h"

#include "eplb/error.h"
#include "eplb_config.h"
#include "io/file_util.h"
#include "io/json_util.h"

namespace eplb::io {

using ojson = nlohmann::ordered_json;
using nlohmann::json;

namespace {

ojson matrix_rows(const IndexMatrix& m) {
    ojson rows = ojson::array();
    for (Eigen::Index r = 0; r < m.rows(); ++r) {
        rows.push_back(std::vector<int32_t>(m.row(r).data(), m.row(r).data() + m.cols()));
    }
    return rows;
}

ojson metrics_object(const Metrics& m, const std::vector<int>& layer_ids) {
    ojson j;
    j["balancedness"] = m.balancedness;
    j["mean_layer_balancedness"] = m.mean_layer_balancedness;
    j["imbalance"] = m.imbalance;
    j["gap"] = m.gap;
    j["mean_gap"] = m.mean_gap;
    j["max_gap"] = m.max_gap;
    j["worst_layer"] = layer_ids.empty() ? m.worst_layer : layer_ids[m.worst_layer];
    j["duplicate_pairs"] = m.duplicate_pairs;
    ojson layers = ojson::array();
    for (size_t l = 0; l < m.layers.size(); ++l) {
        const LayerMetrics& lm = m.layers[l];
        ojson o;
        o["layer"] = layer_ids.empty() ? static_cast<int>(l) : layer_ids[l];
        o["total_load"] = lm.total_load;
        o["mean_gpu_load"] = lm.mean_gpu_load;
        o["max_gpu_load"] = lm.max_gpu_load;
        o["max_gpu"] = lm.max_gpu;
        o["balancedness"] = lm.balancedness;
        o["imbalance"] = lm.imbalance;
        o["lower_bound"] = lm.lower_bound;
        o["gap"] = lm.gap;
        o["duplicate_gpus"] = lm.duplicate_gpus;
        o["gpu_loads"] =
            std::vector<double>(m.gpu_loads.row(l).data(), m.gpu_loads.row(l).data() + m.gpu_loads.cols());
        o["node_loads"] =
            std::vector<double>(m.node_loads.row(l).data(), m.node_loads.row(l).data() + m.node_loads.cols());
        layers.push_back(std::move(o));
    }
    j["per_layer"] = std::move(layers);
    return j;
}

}  // namespace

std::string evaluation_to_json(const std::string& placement_path, const std::string& trace_path,
                               const Metrics& metrics, const std::vector<int>& layer_ids) {
    ojson j;
    j["schema"] = "eplb.evaluation/v1";
    j["tool"] = {{"name", "eplb"}, {"version", EPLB_VERSION}};
    j["placement"] = placement_path;
    j["trace"] = trace_path;
    j["metrics"] = metrics_object(metrics, layer_ids);
    return j.dump() + "\n";
}

std::string placement_to_json(const PlacementDoc& d, const Metrics* metrics,
                              const MigrationStats* migration) {
    ojson j;
    j["schema"] = "eplb.placement/v1";
    j["tool"] = {{"name", "eplb"}, {"version", EPLB_VERSION}};
    ojson inputs = ojson::object();
    if (!d.trace_source.empty()) inputs["trace"] = d.trace_source;
    if (!d.config_source.empty()) inputs["config"] = d.config_source;
    if (!d.backend.empty()) inputs["backend"] = d.backend;
    if (!d.previous_source.empty()) inputs["previous"] = d.previous_source;
    j["inputs"] = inputs;
    if (!d.model.empty()) j["model"] = d.model;
    const ParallelConfig& c = d.config;
    j["config"] = {{"num_logical_experts", c.num_logical_experts},
                   {"num_physical_experts", c.num_physical_experts},
                   {"num_redundant_experts", c.num_redundant_experts()},
                   {"num_groups", c.num_groups},
                   {"num_nodes", c.num_nodes},
                   {"num_gpus", c.num_gpus}};
    if (d.expert_bytes > 0) j["config"]["expert_bytes"] = d.expert_bytes;
    j["policy"] = d.policy;
    j["policy_taken"] = c.hierarchical() ? "hierarchical" : "global";
    j["layers"] = d.layer_ids;
    j["phy2log"] = matrix_rows(d.placement.phy2log);
    const int w = d.placement.max_replicas();
    const IndexMatrix l2p = d.placement.log2phy();
    ojson log2phy = ojson::array();
    for (int l = 0; l < d.placement.num_layers(); ++l) {
        ojson layer = ojson::array();
        for (int e = 0; e < d.placement.num_experts(); ++e) {
            const int32_t* p = l2p.row(l).data() + static_cast<size_t>(e) * w;
            layer.push_back(std::vector<int32_t>(p, p + w));
        }
        log2phy.push_back(std::move(layer));
    }
    j["log2phy"] = std::move(log2phy);
    j["logcnt"] = matrix_rows(d.placement.logcnt);
    if (metrics) j["metrics"] = metrics_object(*metrics, d.layer_ids);
    if (migration) {
        j["migration"] = {{"experts_moved", migration->experts_moved},
                          {"intra_node", migration->intra_node},
                          {"inter_node", migration->inter_node},
                          {"bytes_moved", migration->bytes_moved},
                          {"intra_node_bytes", migration->intra_node_bytes},
                          {"inter_node_bytes", migration->inter_node_bytes},
                          {"received_per_gpu", migration->received_per_gpu},
                          {"moved_per_layer", migration->moved_per_layer}};
    }
    if (!d.layer_sources.empty()) j["layer_sources"] = d.layer_sources;
    if (!d.node_bounds.empty()) j["node_bounds"] = d.node_bounds;
    return j.dump() + "\n";
}

namespace {

int config_int(const json& cfg, const char* key, const std::string& source, int min) {
    EPLB_CHECK(cfg.contains(key), source << ": config has no \"" << key << "\"");
    const json& v = cfg[key];
    EPLB_CHECK(v.is_number_integer() && v.get<int64_t>() >= min && v.get<int64_t>() <= (1 << 24),
               source << ": config." << key << " is " << v.dump() << ", expected an integer >= " << min);
    return v.get<int>();
}

IndexMatrix read_matrix(const json& j, const char* key, const std::string& source, int cols, int min_value) {
    EPLB_CHECK(j.contains(key), source << ": missing key \"" << key << "\"");
    const json& rows = j[key];
    EPLB_CHECK(rows.is_array() && !rows.empty(),
               source << ": " << key << " must be a non-empty array of rows");
    IndexMatrix m(rows.size(), cols);
    for (size_t r = 0; r < rows.size(); ++r) {
        EPLB_CHECK(rows[r].is_array() && static_cast<int>(rows[r].size()) == cols,
                   source << ": " << key << "[" << r << "] has " << (rows[r].is_array() ? rows[r].size() : 0)
                          << " entries, expected " << cols);
        for (int c = 0; c < cols; ++c) {
            const json& v = rows[r][c];
            EPLB_CHECK(v.is_number_integer() && v.get<int64_t>() >= min_value && v.get<int64_t>() < (1 << 24),
                       source << ": " << key << "[" << r << "][" << c << "] is " << v.dump()
                              << ", expected an integer >= " << min_value);
            m(r, c) = v.get<int32_t>();
        }
    }
    return m;
}

}  // namespace

PlacementDoc parse_placement_json(const std::string& text, const std::string& source) {
    const json j = parse_json(text, source);
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
    if (cfg.contains("expert_bytes") && cfg["expert_bytes"].is_number_integer()) {
        d.expert_bytes = cfg["expert_bytes"].get<int64_t>();
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
        for (int l = 0; l < d.placement.num_layers(); ++l) {
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
                               source << ": log2phy[" << l << "][" << e << "] holds " << s.dump());
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
                source << ": layers[" << l << "] is " << ids[l].dump());
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
