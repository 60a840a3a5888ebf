// Check files of `eplb check` (schema eplb.check/v1): cases of trace, config, policy and balance
// thresholds, read and validated here; the CLI plans and scores them. Also the baselines a case
// compares against (a placement to re-score, or a recorded evaluation).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "io/config_io.h"
#include "io/engine_export.h"
#include "io/placement_io.h"

namespace eplb::io {

struct CheckThresholds {
    std::optional<double> min_balancedness;    // overall balancedness Σ mean / Σ max >= this
    std::optional<double> max_gap;             // overall gap Σ max / Σ LB - 1 <= this
    std::optional<double> max_layer_gap;       // the worst layer's gap <= this
    std::optional<int64_t> max_moved_experts;  // experts the GPUs receive coming from the baseline <= this
    std::optional<double> max_regression;      // baseline balancedness - balancedness <= this

    bool empty() const {
        return !min_balancedness && !max_gap && !max_layer_gap && !max_moved_experts && !max_regression;
    }
};

// Checks ranges and the baseline rules (max_moved_experts and max_regression need a baseline, a
// baseline needs one of them, at least one threshold); `where` prefixes the messages.
void validate_thresholds(const CheckThresholds& thresholds, bool has_baseline, const std::string& where);

struct CheckCase {
    std::string name;
    std::string trace;          // path; relative paths in a check file are resolved against its directory
    std::string config;         // path of a config file, "" when none
    ConfigFile overrides;       // config keys set by the case itself (or an inline "config" object)
    std::string layers, steps;  // "A:B" or ""
    int first_layer = -1;       // model layer id of the first row of a trace without ids; -1: none
    std::string baseline;       // path, "" when none
    bool allow_other_trace = false;  // a recorded baseline may come from another load (key allow_other_trace)
    CheckThresholds thresholds;
};

struct CheckFile {
    std::string name;  // "name" of the file, else its stem
    std::vector<CheckCase> cases;
};

// {"schema": "eplb.check/v1" (optional), "name": ..., "defaults": {case keys}, "cases": [{...}]}.
// Case keys: name, trace, config (path or object of config keys), layers, steps, baseline,
// allow_other_trace, min_balancedness, max_gap, max_layer_gap, max_moved_experts, max_regression, and every
// config key (policy, num_gpus, ...) overriding the config file. Each case takes the defaults' keys it does
// not set. Invalid input names the file, the case and the key.
CheckFile parse_check_file(const std::string& text, const std::string& source);
CheckFile read_check_file(const std::string& path);

// What a baseline gives: a placement (eplb.placement/v1 or an engine format; re-scored on the
// case's load, and the old placement of max_moved_experts) or a recorded overall balancedness
// (an `evaluate --json` document, eplb.evaluation/v1).
struct Baseline {
    std::optional<PlacementDoc> placement;
    PlacementFormat format = PlacementFormat::kEplb;  // of the placement
    std::optional<double> balancedness;
    std::string load_digest;  // what a recorded balancedness was scored on; "" when not recorded
};

Baseline read_baseline(const std::string& path, const PlacementImportOptions& options);

}  // namespace eplb::io
