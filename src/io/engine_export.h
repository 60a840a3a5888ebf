// Placements in any format, by name: eplb's own, SGLang's --init-expert-location JSON,
// TensorRT-LLM's moe_load_balancer YAML and vLLM's EplbState tensors as JSON (one file each:
// sglang_placement.h, trtllm_placement.h, vllm_placement.h). Detects a file's format and dispatches.
#pragma once

#include <string>

#include "eplb/names.h"
#include "eplb/trace.h"
#include "io/engine_placement.h"
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

// The placement in `format` (kEplb: placement_to_json without metrics; kSglang: num_model_layers
// rows, see placement_to_sglang).
std::string export_placement(const PlacementDoc& doc, PlacementFormat format, int num_model_layers = 0);

// Which format a placement file is in (YAML by extension, JSON by its keys); invalid input when it
// holds no placement.
PlacementFormat detect_placement_format(const std::string& path, const std::string& content);

// Whether a file holds a placement (any format above) rather than a trace.
bool is_placement_file(const std::string& path);

// Reads a placement in any format; engine formats take the config from `options`.
PlacementDoc read_any_placement(const std::string& path, const PlacementImportOptions& options,
                                PlacementFormat* format = nullptr);

// Keeps the rows whose layer id lies in `layers` (as --layers A:B); invalid input when none does.
PlacementDoc select_placement_layers(const PlacementDoc& doc, Range layers);

}  // namespace eplb::io
