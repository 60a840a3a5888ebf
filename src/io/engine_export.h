// Placements in the engines' own formats, written and read back: SGLang's --init-expert-location
// JSON, TensorRT-LLM's moe_load_balancer YAML, and vLLM's EplbState tensors as JSON.
#pragma once

#include <string>

#include "eplb/names.h"
#include "eplb/trace.h"
#include "io/placement_io.h"

namespace eplb::io {

enum class PlacementFormat {
    kEplb,    // eplb.placement/v1 (placement_io.h)
    kSglang,  // {"physical_to_logical_map": [num_model_layers][R]}
    kTrtllm,  // num_slots, initial_global_assignments {layer id: [R]}, layer_updates_per_iter: 0
    kVllm,    // physical_to_logical_map [L][R], logical_to_physical_map [L][E][R-E+1], logical_replica_count
};

inline constexpr NamedValue<PlacementFormat> kPlacementFormatNames[] = {
    {"eplb", PlacementFormat::kEplb},
    {"sglang", PlacementFormat::kSglang},
    {"trtllm", PlacementFormat::kTrtllm},
    {"vllm", PlacementFormat::kVllm},
};

inline const char* placement_format_name(PlacementFormat format) {
    return name_in<PlacementFormat>(kPlacementFormatNames, format);
}

// "eplb", "sglang", "trtllm", "vllm" (any case); invalid input naming `what` and listing the names
// otherwise.
inline PlacementFormat parse_placement_format(const std::string& name,
                                              std::string_view what = "placement format") {
    return parse_name<PlacementFormat>(kPlacementFormatNames, name, what);
}

// SGLang's --init-expert-location file. SGLang passes the file's keys as keyword arguments to
// ExpertLocationMetadata.init_by_mapping, so physical_to_logical_map is the only key. Its rows are
// all model layers 0..num_model_layers-1 (SGLang's num_layers is the model's num_hidden_layers,
// dense layers included); rows the placement does not cover get SGLang's trivial map, slot s ->
// expert s mod E. num_model_layers 0 means last layer id + 1.
std::string placement_to_sglang(const PlacementDoc& doc, int num_model_layers = 0);

// TensorRT-LLM's moe_load_balancer YAML: num_slots, initial_global_assignments keyed by the model
// layer index (the layer_idx TensorRT-LLM's MoE modules look up) with the R slots' experts, rank r
// owning slots [r·R/P, (r+1)·R/P), and layer_updates_per_iter 0 (a static placement).
std::string placement_to_trtllm_yaml(const PlacementDoc& doc);

// vLLM's EplbState tensors: physical_to_logical_map [L][R], logical_to_physical_map [L][E][R-E+1]
// (replica-rank order, -1 padded; vLLM's own buffer is wider, pad it further when loading),
// logical_replica_count [L][E], plus "layers" (the model layer id of each row, for the reader).
std::string placement_to_vllm_json(const PlacementDoc& doc);

// TensorRT-LLM's MTP layers: with multi-token prediction its MoE load balancer also looks up the
// MTP module's layer_idx (num_hidden_layers + k: 61 for DeepSeek-V3), so its YAML must name those
// layers. Model layers first_id..first_id+count-1 that `doc` lacks are added with the map
// TensorRT-LLM's WideEPMoE uses when it is given none (rank q's local slot k holds expert
// (q·E/P + k) mod E): no load of theirs was recorded to plan on. Layers the plan has (a trace with
// their rows) keep their plan. Returns the ids added in `added`.
PlacementDoc with_mtp_layers(const PlacementDoc& doc, int first_id, int count, std::vector<int>* added);

// Whether SGLang reads `path` as a file: it parses --init-expert-location by the name's ending
// (".json": a JSON file, ".pt": torch.load, anything else: the text itself as inline JSON).
bool sglang_reads_as_json_file(const std::string& path);

// One of the above (kEplb: placement_to_json without metrics).
std::string export_placement(const PlacementDoc& doc, PlacementFormat format, int num_model_layers = 0);

// What the engine formats do not record; 0 = unknown. Without num_gpus the placement gets one GPU.
struct PlacementImportOptions {
    int num_logical_experts = 0;  // 0: the largest expert id + 1
    int num_groups = 0, num_nodes = 0, num_gpus = 0;
};

// Which format a placement file is in (YAML by extension, JSON by its keys); invalid input when it
// holds no placement.
PlacementFormat detect_placement_format(const std::string& path, const std::string& content);

// Whether a file holds a placement (any format above) rather than a trace.
bool is_placement_file(const std::string& path);

// Reads a placement in any format; engine formats take the config from `options`.
PlacementDoc read_any_placement(const std::string& path, const PlacementImportOptions& options,
                                PlacementFormat* format = nullptr);
PlacementDoc parse_sglang_placement(const std::string& text, const std::string& source,
                                    const PlacementImportOptions& options);
PlacementDoc parse_trtllm_yaml(const std::string& text, const std::string& source,
                               const PlacementImportOptions& options);
PlacementDoc parse_vllm_placement(const std::string& text, const std::string& source,
                                  const PlacementImportOptions& options);

// Keeps the rows whose layer id lies in `layers` (as --layers A:B); invalid input when none does.
PlacementDoc select_placement_layers(const PlacementDoc& doc, Range layers);

}  // namespace eplb::io
