// What the engine placement formats (sglang_placement, trtllm_placement, vllm_placement) share:
// the config they do not record, their slot -> expert rows, and the placement built from those rows.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "io/placement_io.h"

namespace eplb::io {

// What the engine formats do not record; 0 = unknown. Without num_gpus the placement gets one GPU.
struct PlacementImportOptions {
    int num_logical_experts = 0;  // 0: the largest expert id + 1
    int num_groups = 0, num_nodes = 0, num_gpus = 0;
};

// Appends "[v0,v1,...]" (no spaces: one layer a line stays short enough to diff).
void append_row(std::string& out, const int32_t* values, int n);

// "[\n[..],\n[..]\n]" for the rows of m.
std::string matrix_lines(const IndexMatrix& m);

// A rectangular matrix of expert ids under `key` of JSON object `j`, with `cols` columns (0: any,
// fixed by the first row); invalid input naming `source`, the key and the entry otherwise.
IndexMatrix read_rows(const nlohmann::json& j, const std::string& key, const std::string& source, int cols);

// A placement document from phy2log [L][R] alone, the config from the options (engine formats
// record neither the GPU count nor the groups); `format` names the reader in the document's policy.
PlacementDoc doc_from_phy2log(const IndexMatrix& phy2log, std::vector<int> layer_ids,
                              const PlacementImportOptions& options, const std::string& source,
                              const char* format);

}  // namespace eplb::io
