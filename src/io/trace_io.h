// Trace readers and writers for every format of DESIGN.md "Files": SGLang `logical_count`
// ([L][E] or [T][L][E]), vLLM `load_history`, the native `eplb.trace/v1` JSON, CSV
// `step,layer,expert,load`, and `.npy` arrays [L][E] or [T][L][E].
#pragma once

#include <ostream>
#include <string>

#include "eplb/trace.h"

namespace eplb::io {

// Reads and validates a trace; the format comes from the extension (.csv, .npy) or, for JSON, from
// its keys. Errors are invalid input naming the file and the key, row or value.
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

// Writes by the extension of `path` (json, csv, npy), atomically.
void write_trace(const LoadTrace& trace, const std::string& path);

}  // namespace eplb::io
