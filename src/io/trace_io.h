// Trace readers and writers for every format of DESIGN.md "Files": SGLang `logical_count`
// ([L][E] or [T][L][E]), the eplb load-history JSON (`load_history`: vLLM writes no load file, this
// is the shape of what one collects from its EplbState), the native `eplb.trace/v1` JSON, CSV
// `step,layer,expert,load`, `.npy` arrays [L][E] or [T][L][E], TensorRT-LLM expert-statistics
// directories (trtllm_stats.h) and SGLang's .pt dumps (sglang_pt.h).
#pragma once

#include <ostream>
#include <string>

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

// Serialisations: native JSON (schema eplb.trace/v1), CSV, and .npy (float32 [T][L][E]).
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
