// SGLang's expert-distribution dumps (ExpertDistributionRecorder, torch.save .pt files):
// `stat` / `stat_approx` mode: {"rank", "logical_count": [T][L][E], "average_utilization_rate_over_window"};
// `per_pass` / `per_token` mode: one file per rank, {"records": [{"forward_pass_id", "rank",
// "gatherer_key", "global_physical_count": [L][P]}, ...], "last_physical_to_logical_map": [L][P]}.
#pragma once

#include <string>

#include "eplb/trace.h"

namespace eplb::io {

// Whether `dir` holds SGLang dumps rather than TensorRT-LLM statistics: no meta_info.json and at
// least one file named as SGLang names them (expert_distribution_recorder_*.pt).
bool is_sglang_dump_dir(const std::string& dir);

// Reads a dump into a trace whose rows are the model layers 0..L-1 (dense layers are rows of
// zeros). A file: stat mode gives its T steps; per-pass mode its records. A directory: the
// per-pass files of all ranks (every *.pt in it), summed per forward pass. Per-pass counts are folded from
// physical slots to logical experts with each file's last_physical_to_logical_map (E = its largest
// entry + 1), and forward passes become steps in increasing id order. Invalid input naming the
// file and the key on anything else.
LoadTrace read_sglang_pt(const std::string& path);

// The same for one file held in memory (tests, fuzzing); `source` names it in messages.
LoadTrace parse_sglang_pt(std::string bytes, const std::string& source);

}  // namespace eplb::io
