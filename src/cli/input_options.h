// The input and config flags shared by plan, bench (and later simulate, check), and their
// resolution into a validated trace, load matrix and ParallelConfig (flags override the file).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "eplb/config.h"
#include "eplb/gen_trace.h"
#include "eplb/planner.h"
#include "eplb/policy.h"
#include "eplb/trace.h"

namespace eplb::io {
struct ConfigFile;
}  // namespace eplb::io

namespace eplb::cli {

struct InputOptions {
    std::string trace_path, config_path;
    int num_groups = 0, num_nodes = 0, num_gpus = 0, num_redundant_experts = 0, num_physical_experts = 0;
    std::string layers, steps;
    int first_layer = -1;      // --first-layer N (-1: not given)
    std::string physical_map;  // --physical-map PLACEMENT: the trace's columns are its slots
    Policy policy = Policy::kDeepseek;
    Backend backend = Backend::kAuto;
    // Which of the numeric flags were given (CLI11 2.1 has no std::optional options).
    CLI::Option *num_groups_opt = nullptr, *num_nodes_opt = nullptr, *num_gpus_opt = nullptr,
                *num_redundant_opt = nullptr, *num_physical_opt = nullptr, *policy_opt = nullptr;
};

// --trace, --config, --num-groups, --num-nodes, --num-gpus, --num-redundant-experts |
// --num-physical-experts, --layers, --first-layer, --steps; with_policy adds --policy and --backend.
void add_input_options(CLI::App& app, InputOptions& options, bool with_policy);

// --first-layer N: the model layer id of the first row of a trace without layer ids.
CLI::Option* add_first_layer_option(CLI::App& app, int& first_layer);

// The layer-id rule of every subcommand (resolve_layer_ids in eplb/trace.h): --first-layer
// (first_layer >= 0), else the deployment's MoE layers; its note goes to stderr.
void give_layer_ids(LoadTrace& trace, int first_layer, const std::optional<Range>& moe_layers,
                    const std::string& source, const std::string& moe_what = "moe_layers");

// --backend auto|cpu|cuda alone (for subcommands with their own --policy).
void add_backend_option(CLI::App& app, Backend& backend);

// --physical-map: the trace's physical-slot columns folded into the logical experts the placement at
// `map_path` (any format) puts in them; the config file gives E when it says.
LoadTrace fold_by_placement(const LoadTrace& trace, const std::string& map_path, const io::ConfigFile& file);

struct ResolvedInput {
    LoadTrace trace;  // the selected layers, all steps
    LoadMatrix load;  // [L][E] summed over the selected steps
    ParallelConfig config;
    Policy policy = Policy::kDeepseek;
    std::string title;  // first line of a report: what was read or generated
    std::string trace_source, config_source, model;
    int64_t expert_bytes = 44040192;   // DeepSeek-V3 FP8 expert (w13 + w2)
    std::optional<Range> moe_layers;   // the config's
    int num_nextn_predict_layers = 0;  // the config's MTP layers (model layers moe_layers.end, ...)
};

// Reads (or, without --trace, generates) the trace, applies the config file and the flags,
// validates everything; without --trace and --config runs the embedded DeepSeek-V3 default.
ResolvedInput resolve_input(const InputOptions& options);

// The same with config keys that override the config file (a check case's own keys); flags still
// override both.
ResolvedInput resolve_input(const InputOptions& options, const io::ConfigFile& overrides);

// The config half of resolve_input: the flags over the config file over the embedded default
// (embedded: neither --trace nor --config), for a trace of num_experts experts; validated.
// trace_source names the trace in messages.
ParallelConfig resolve_parallel_config(const InputOptions& options, const io::ConfigFile& file,
                                       int num_experts, bool embedded, const std::string& trace_source);

// The generator options of the embedded default trace (DeepSeek-V3 shapes, MoE layers 3..60).
GenTraceOptions embedded_trace_options();

// Policy names for CLI::CheckedTransformer.
const std::map<std::string, Policy>& policy_names();

}  // namespace eplb::cli
