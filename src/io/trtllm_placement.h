// TensorRT-LLM's moe_load_balancer YAML: written by plan --export and convert, read back (with
// yaml-cpp) by convert, plan --previous and check.
#pragma once

#include <string>
#include <vector>

#include "io/engine_placement.h"

namespace eplb::io {

// TensorRT-LLM's moe_load_balancer YAML: num_slots, initial_global_assignments keyed by the model
// layer index (the layer_idx TensorRT-LLM's MoE modules look up) with the R slots' experts, rank r
// owning slots [r·R/P, (r+1)·R/P), and layer_updates_per_iter 0 (a static placement).
std::string placement_to_trtllm_yaml(const PlacementDoc& doc);

// TensorRT-LLM's MTP layers: with multi-token prediction its MoE load balancer also looks up the
// MTP module's layer_idx (num_hidden_layers + k: 61 for DeepSeek-V3), so its YAML must name those
// layers. Model layers first_id..first_id+count-1 that `doc` lacks are added with the map
// TensorRT-LLM's WideEPMoE uses when it is given none (rank q's local slot k holds expert
// (q·E/P + k) mod E): no load of theirs was recorded to plan on. Layers the plan has (a trace with
// their rows) keep their plan. Returns the ids added in `added`.
PlacementDoc with_mtp_layers(const PlacementDoc& doc, int first_id, int count, std::vector<int>* added);

// Reads the YAML as TensorRT-LLM does (yaml.safe_load, then MoeLoadBalancerConfig): one document
// holding the three keys above, each once, in any YAML style (block or flow, comments, anchors and
// aliases, quoted numbers). Invalid input naming `source`, the line and the key or value otherwise;
// YAML syntax errors name the line and column. The config comes from `options`.
PlacementDoc parse_trtllm_yaml(const std::string& text, const std::string& source,
                               const PlacementImportOptions& options);

}  // namespace eplb::io
