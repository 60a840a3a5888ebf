// Trace readers and writers for every format of DESIGN.md "Files": SGLang `logical_count`
// ([L][E] or [T][L][E]), the eplb load-history JSON (`load_history`: vLLM writes no load file, this
// is the shape of what one collects from its EplbState), the native `eplb.trace/v1` JSON, CSV
// `step,layer,expert,load`, `.npy` arrays [L][E] or [T][L][E], TensorRT-LLM expert-statistics
// directories (trtllm_stats.h) and SGLang's .pt dumps (sglang_pt.h).
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "eplb/step_source.h"
#include "eplb/trace.h"

namespace eplb::io {

// Reads and validates a trace; a directory is read as SGLang per-pass .pt dumps (sglang_pt.h) or
// TensorRT-LLM statistics, a torch.save file (.pt, .pth or a zip header) as an SGLang dump, else the
// format comes from the extension (.csv, .npy) or, for JSON, from its keys. Errors are invalid input naming
// the file and the key, row or value.
LoadTrace read_trace(const std::string& path);

// Parses JSON text of any JSON trace format; `source` names it in messages.
LoadTrace parse_trace_json(const std::string& text, const std::string& source);
LoadTrace parse_trace_csv(const std::string& text, const std::string& source);
LoadTrace parse_trace_npy(const std::string& bytes, const std::string& source);

// The trace formats of files (TensorRT-LLM statistics directories: trtllm_stats.h).
enum class TraceFormat { kEplb, kSglang, kVllm, kCsv, kNpy };
const char* trace_format_name(TraceFormat format);  // "eplb", "sglang", "vllm", "csv", "npy"

// The format a path's extension names: .csv, .npy, .json or "-" (eplb JSON); invalid input otherwise.
TraceFormat trace_format_of(const std::string& path);

// What a trace written step by step holds besides its loads.
struct TraceInfo {
    std::vector<int> layer_ids;  // model layer id of each row of a step, increasing
    std::string model;           // recorded by eplb JSON only
    int num_model_layers = 0;    // SGLang only: see trace_to_sglang_json
    bool has_layer_ids = true;   // false: layer_ids are row numbers (eplb JSON then writes no "layers")
};

// Called as steps are written: (steps done, steps in all).
using StepProgress = std::function<void(int, int)>;

// Writes the steps of `source` in `format`, a chunk of steps (a few MB) at a time and in increasing
// order (a generator may be the source), so that no document of the whole trace is ever built.
// The bytes equal those of the trace_to_* function of the same format.
void write_trace_steps(std::ostream& out, TraceFormat format, StepSource& source, const TraceInfo& info,
                       const StepProgress& progress = nullptr);

// The same into `path` through write_file_atomic ("-": stdout).
void write_trace(StepSource& source, const TraceInfo& info, const std::string& path, TraceFormat format,
                 const StepProgress& progress = nullptr);

// Whole-trace serialisations (write_trace_steps of the trace): native JSON (schema eplb.trace/v1),
// CSV `step,layer,expert,load`, and .npy (float32 [T][L][E]).
void write_trace_json(std::ostream& out, const LoadTrace& trace);
std::string trace_to_json(const LoadTrace& trace);
std::string trace_to_csv(const LoadTrace& trace);
std::string trace_to_npy(const LoadTrace& trace);

// SGLang's {"logical_count": [T][L][E]}: one row per model layer 0..max(layer id) (or
// num_model_layers when larger), rows of layers the trace lacks (dense layers) are zeros, as
// SGLang's expert-distribution recorder writes them.
std::string trace_to_sglang_json(const LoadTrace& trace, int num_model_layers = 0);

// The eplb load-history JSON {"load_history": [{"logical_expert_load": [L][E]}, ...]}, one entry per step
// (rows are the trace's layers in order; vLLM indexes MoE layers, not model layers).
std::string trace_to_vllm_json(const LoadTrace& trace);

// Writes by the extension of `path` (json, csv, npy), atomically.
void write_trace(const LoadTrace& trace, const std::string& path);

}  // namespace eplb::io
