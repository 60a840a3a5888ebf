// Placement files (schema eplb.placement/v1): the config used, the policy, the maps and metrics.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "eplb/config.h"
#include "eplb/metrics.h"
#include "eplb/migration.h"
#include "eplb/placement.h"

namespace eplb::io {

struct PlacementDoc {
    ParallelConfig config;
    std::string policy = "deepseek";
    std::vector<int> layer_ids;  // model layer id of each row
    bool has_layer_ids = true;   // false: layer_ids are the row numbers of a trace without ids
    Placement placement;
    // Provenance, written for the reader's benefit (empty: omitted).
    std::string backend, trace_source, config_source, model;
    int64_t expert_bytes = 0;
    // Migration-aware plans (`plan --previous`): the previous placement file and, per layer, where
    // the layer came from ("plan", "repaired", "previous"; see eplb/migration_aware.h).
    std::string previous_source;
    std::vector<std::string> layer_sources;
    // Hierarchical plans on several nodes: per layer, the node bound (eplb/balanced.h
    // node_lower_bounds); what keeping groups on nodes costs over the global bound. Empty: omitted.
    std::vector<double> node_bounds;
};

// The JSON document: schema, tool, inputs, config, policy, policy_taken, layers, phy2log, log2phy,
// logcnt, then metrics and migration when given. Deterministic (same input, same bytes). Streamed:
// memory beyond the placement itself is one layer of log2phy.
void write_placement_json(std::ostream& out, const PlacementDoc& doc, const Metrics* metrics,
                          const MigrationStats* migration);
std::string placement_to_json(const PlacementDoc& doc, const Metrics* metrics,
                              const MigrationStats* migration);

// Reads a placement file; checks the schema, shapes and consistency (invalid input naming the key).
PlacementDoc read_placement(const std::string& path);
PlacementDoc parse_placement_json(const std::string& text, const std::string& source);

// The `evaluate --json` document: schema eplb.evaluation/v1, the two inputs, the load_digest of
// what was scored (eplb/trace.h; omitted when empty) and the metrics.
void write_evaluation_json(std::ostream& out, const std::string& placement_path,
                           const std::string& trace_path, const Metrics& metrics,
                           const std::vector<int>& layer_ids, const std::string& load_digest = "");
std::string evaluation_to_json(const std::string& placement_path, const std::string& trace_path,
                               const Metrics& metrics, const std::vector<int>& layer_ids,
                               const std::string& load_digest = "");

}  // namespace eplb::io
