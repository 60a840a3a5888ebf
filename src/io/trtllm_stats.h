// TensorRT-LLM expert statistics (the EXPERT_STATISTIC_PATH dump): a directory holding meta_info.json
// and rank{r}.safetensors, whose keys "{iter}_{layer}" hold int64 [E] token counts; and the small
// safetensors container they use (8-byte little-endian header length, JSON header, raw data).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "eplb/step_source.h"
#include "eplb/trace.h"

namespace eplb::io {

// One tensor of a safetensors file: its dtype name ("I64", "F32", ...), shape and raw
// little-endian bytes.
struct SafeTensor {
    std::string dtype;
    std::vector<int64_t> shape;
    std::string data;
};
using SafeTensors = std::map<std::string, SafeTensor>;

// Parses a safetensors file (the "__metadata__" entry is skipped); invalid input naming `source`
// and the key on a bad header, dtype, shape or data range.
SafeTensors parse_safetensors(const std::string& bytes, const std::string& source);

// Serialises tensors (keys in sorted order, data in key order, header padded to 8 bytes).
std::string to_safetensors(const SafeTensors& tensors);

// A 1-D int64 tensor, the form TensorRT-LLM's counts take.
SafeTensor int64_tensor(const std::vector<int64_t>& values);

// The values of a tensor of an integer or float dtype (I8..I64, U8..U64, F32, F64) as doubles.
std::vector<double> tensor_values(const SafeTensor& tensor, const std::string& source,
                                  const std::string& key);

// Reads a statistics directory into a trace [T][L][E]: the counts of all rank*.safetensors files
// summed per key (every rank counts the tokens it routed, as TensorRT-LLM's own
// examples/ep_load_balancer/utils.py sums them), steps = the recorded iterations in increasing
// order, layer ids = the recorded layer indices. Every (iteration, layer) pair must be present.
LoadTrace read_trtllm_stats(const std::string& dir);

// Writes `trace` as a statistics directory (meta_info.json with num_experts and
// num_experts_per_token = top_k, and rank0.safetensors holding all counts, iterations 0..T-1).
// Loads must be integers. The directory is created (and removed again when writing fails); an
// existing one may only hold the files written here (stale rank files would be summed in by any
// reader). Each file is written atomically.
void write_trtllm_stats(const LoadTrace& trace, const std::string& dir, int top_k);

// The same from a step source, one step in memory at a time: the file holds the steps in the order
// of their keys ("10_3" before "2_3"), so the source must serve steps in any order (files and
// in-memory traces do, a generator does not). `progress` gets (steps done, steps in all).
void write_trtllm_stats(StepSource& source, const std::vector<int>& layer_ids, const std::string& dir,
                        int top_k, const std::function<void(int, int)>& progress = nullptr);

}  // namespace eplb::io
