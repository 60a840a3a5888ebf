// What `gen-trace --json` and `convert --json` print: a description of the file they wrote (path,
// format, shape, layers, steps, bytes), schemas eplb.gen_trace_result/v1 and eplb.convert_result/v1.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace eplb::io {

struct WrittenFile {
    std::string schema;  // "eplb.gen_trace_result/v1", "eplb.convert_result/v1"
    std::string path;    // what was written (a directory for TensorRT-LLM statistics)
    std::string kind;    // "trace" or "placement"
    std::string format;  // eplb, sglang, vllm, csv, npy, trtllm
    std::string from;    // convert: the input, and its format where known
    std::string from_format;
    std::vector<int64_t> shape;          // traces [steps, layers, experts]; placements [layers, slots]
    std::vector<int> layer_ids;          // model layer id of each row
    int first_step = -1, end_step = -1;  // traces: the input's steps written, [first, end)
    std::optional<uint64_t> bytes;       // on disk; none for a FIFO or a device
};

// Size of a regular file, or of the regular files in a directory (not recursive); none otherwise.
std::optional<uint64_t> bytes_on_disk(const std::string& path);

// The JSON document (one line).
std::string written_file_json(const WrittenFile& written);

}  // namespace eplb::io
