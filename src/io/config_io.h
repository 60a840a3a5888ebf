// Parallel-config files (JSON with keys named like the flags; DESIGN.md "Files").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "eplb/trace.h"

namespace eplb::io {

// Every key a config file may set; unset keys stay empty so that flags and defaults can fill them.
struct ConfigFile {
    std::optional<int> num_groups, num_nodes, num_gpus;
    std::optional<int> num_redundant_experts, num_physical_experts;
    std::optional<int> num_logical_experts;  // checked against the trace when given
    std::optional<Range> moe_layers;         // [first, end)
    std::optional<int64_t> expert_bytes;
    std::optional<int> window_size, step_interval;
    std::optional<int> top_k;  // experts per token, for synthetic traces
    // MTP (multi-token prediction) layers after the MoE layers: model layers moe_layers.end, ...
    // (DeepSeek-V3: 1, layer 61), which TensorRT-LLM's load balancer looks up too.
    std::optional<int> num_nextn_predict_layers;
    std::optional<std::string> policy;
    std::string model, description;
};

// Reads and checks a config file: unknown keys, wrong types and out-of-range values are invalid
// input naming the file and the key.
ConfigFile read_config(const std::string& path);
ConfigFile parse_config_json(const std::string& text, const std::string& source);

// The keys a config file may hold, in documentation order (check files accept them per case).
const std::vector<std::string>& config_keys();

// Sets every key that `overrides` sets, keeping the rest of `base` (a check case's own keys over its
// config file).
void apply_config_overrides(ConfigFile& base, const ConfigFile& overrides);

}  // namespace eplb::io
