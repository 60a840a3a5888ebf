// An expert-load trace in memory: [T][L][E] float32 loads with the model layer id of each row.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "eplb/types.h"

namespace eplb {

// The largest load of one expert, and of one layer's total: float32's range, which traces store
// and the planners accumulate in.
constexpr double kMaxLoad = std::numeric_limits<float>::max();

// Whether a load read as a double is stored as a finite float32 load: >= 0 and below kMaxLoad plus
// half its last place (2^103), beyond which rounding gives infinity. Nine printed digits of
// kMaxLoad itself (3.40282347e+38) read back a little above it. Every reader checks with this.
inline bool is_float32_load(double v) { return v >= 0.0 && v < kMaxLoad + 0x1p103; }

struct LoadTrace {
    int num_steps = 0;
    int num_layers = 0;
    int num_experts = 0;
    std::vector<float> values;   // [T][L][E], row-major
    std::vector<int> layer_ids;  // model layer id of each of the L rows (0..L-1 unless a file says)
    // Whether layer_ids came from the file (or a rule of resolve_layer_ids). False for formats that
    // carry none (.npy, the load-history JSON, eplb.trace/v1 without "layers"): their rows are
    // numbered 0..L-1, which are not model layers, so nothing keyed by model layer may be written.
    bool has_layer_ids = true;
    std::string model;  // free text, may be empty

    const float* step_data(int t) const {
        return values.data() + static_cast<size_t>(t) * num_layers * num_experts;
    }
    // Load of step t as [L][E].
    LoadMatrix step(int t) const;
    // Sum over steps [first, end) as [L][E], accumulated in double and rounded once to float32.
    // Invalid input when the range is outside the trace or a layer's total exceeds kMaxLoad.
    LoadMatrix sum_steps(int first, int end) const;
};

// A half-open range [first, end) as given by `--layers A:B` or `--steps A:B`; end = -1 means "to
// the end".
struct Range {
    int first = 0;
    int end = -1;
};

// Parses "A:B", "A:" or ":B" (A, B >= 0); throws invalid input naming `what` and the text.
Range parse_range(const std::string& text, const char* what);

// Keeps the rows whose model layer id lies in `layers`; throws if the range selects nothing or
// reaches past the trace (naming the ids the trace has, and the range as `what`: the flag or key).
LoadTrace select_layers(const LoadTrace& trace, Range layers, const char* what = "--layers");

// The one rule that gives model layer ids to the rows of a trace without them (has_layer_ids
// false), for every subcommand:
//   1. first_layer (--first-layer N): ids N..N+L-1 (refused for a trace that has ids);
//   2. else, with the deployment's MoE layers [first, end) (a config's moe_layers): L == end - first
//      rows take ids first..end-1; L == end rows (a row per model layer, dense ones included, as
//      SGLang writes them) take ids 0..end-1;
//   3. else the rows stay numbered 0..L-1 and has_layer_ids stays false.
// Returns a one-line note saying which ids rule 2 gave (empty otherwise); `source` names the trace,
// `moe_what` where the MoE layers came from.
std::string resolve_layer_ids(LoadTrace& trace, const std::optional<int>& first_layer,
                              const std::optional<Range>& moe_layers, const std::string& source,
                              const std::string& moe_what = "moe_layers");

// The first model layer id rule 1 or 2 gives L id-less rows (nullopt: none applies); `note` as above.
std::optional<int> infer_first_layer_id(int num_rows, const std::optional<int>& first_layer,
                                        const std::optional<Range>& moe_layers, const std::string& source,
                                        std::string* note, const std::string& moe_what = "moe_layers");

// Usage error (exit 2) when the trace has no model layer ids: `what` needs them ("--export sglang").
void require_model_layer_ids(const LoadTrace& trace, const std::string& source, const std::string& what);
// The same for a trace of num_rows rows streamed step by step (its has_layer_ids given).
void require_model_layer_ids(bool has_layer_ids, int num_rows, const std::string& source,
                             const std::string& what);

// Folds a trace whose columns are physical slots ([T][L][R], as vLLM's EplbState.expert_load_window)
// into logical loads [T][L][E]: each slot's load is added to the expert phy2log says it holds (as
// vLLM's rearrange() does with scatter_add_). Rows are matched by position when the map has as many
// rows as the trace (vLLM's map counts MoE layers from 0), else by model layer id (map_layer_ids).
// Invalid input naming `map_source` when the shapes do not fit.
LoadTrace fold_physical_slots(const LoadTrace& trace, const IndexMatrix& phy2log,
                              const std::vector<int>& map_layer_ids, int num_experts,
                              const std::string& map_source);

// Checks shape and values (finite, >= 0); `source` names the file in messages.
void validate_trace(const LoadTrace& trace, const std::string& source);

// What a score was computed on: "fnv1a64:" and 16 hex digits of FNV-1a over the shape and, row by
// row in increasing layer id, the layer id and the float32 bits of its summed load (the step
// range is in the sums). The same trace, layers and steps give the same digest on every machine;
// `check` compares it with the one a baseline recorded.
std::string load_digest(const LoadMatrix& load, const std::vector<int>& layer_ids);

}  // namespace eplb
