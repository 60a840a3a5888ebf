// vLLM's EplbState tensors as JSON: written by plan --export and convert, read back by convert,
// plan --previous and check.
#pragma once

#include <string>

#include "io/engine_placement.h"

namespace eplb::io {

// vLLM's EplbState tensors: physical_to_logical_map [L][R], logical_to_physical_map [L][E][R-E+1]
// (replica-rank order, -1 padded; vLLM's own buffer is wider, pad it further when loading),
// logical_replica_count [L][E], plus "layers" (the model layer id of each row, for the reader).
std::string placement_to_vllm_json(const PlacementDoc& doc);

// Reads the file back: physical_to_logical_map is required; logical_replica_count and
// logical_to_physical_map, when present, must agree with it (the latter gives the replica ranks);
// "layers" names the rows' model layers (default 0..L-1). The config comes from `options`.
PlacementDoc parse_vllm_placement(const std::string& text, const std::string& source,
                                  const PlacementImportOptions& options);

}  // namespace eplb::io
