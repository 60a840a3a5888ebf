// SGLang's --init-expert-location JSON: written by plan --export and convert, read back by
// convert, plan --previous and check.
#pragma once

#include <string>

#include "io/engine_placement.h"

namespace eplb::io {

// SGLang's --init-expert-location file. SGLang passes the file's keys as keyword arguments to
// ExpertLocationMetadata.init_by_mapping, so physical_to_logical_map is the only key. Its rows are
// all model layers 0..num_model_layers-1 (SGLang's num_layers is the model's num_hidden_layers,
// dense layers included); rows the placement does not cover get SGLang's trivial map, slot s ->
// expert s mod E. num_model_layers 0 means last layer id + 1.
std::string placement_to_sglang(const PlacementDoc& doc, int num_model_layers = 0);

// Whether SGLang reads `path` as a file: it parses --init-expert-location by the name's ending
// (".json": a JSON file, ".pt": torch.load, anything else: the text itself as inline JSON).
bool sglang_reads_as_json_file(const std::string& path);

// Reads the file back: row l is model layer l; the config comes from `options`.
PlacementDoc parse_sglang_placement(const std::string& text, const std::string& source,
                                    const PlacementImportOptions& options);

}  // namespace eplb::io
