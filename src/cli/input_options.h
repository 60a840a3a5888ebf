// The input and config flags shared by plan, bench (and later simulate, check), and their
// resolution into a validated trace, load matrix and ParallelConfig (flags override the file).
#pragma once

#include <cstdint>
#include <memory>
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
struct PlacementDoc;
enum class PlacementFormat;
}  // namespace eplb::io

namespace eplb::cli {

struct InputOptions {
    std::string trace_path, config_path;
    // Subcommands that take several workloads (plan): every --trace, and --workloads-from-steps K
    // (0: off). One --trace behaves exactly as trace_path.
    std::vector<std::string> trace_paths;
    int workloads_from_steps = 0;
    int num_groups = 0, num_nodes = 0, num_gpus = 0, num_redundant_experts = 0, num_physical_experts = 0;
    std::string layers, steps;
    int first_layer = -1;      // --first-layer N (-1: not given)
    std::string physical_map;  // --physical-map PLACEMENT: the trace's columns are its slots
    Policy policy = Policy::kDeepseek;
    Backend backend = Backend::kAuto;
    // Which of the numeric flags were given (CLI11 2.1 has no std::optional options).
    CLI::Option *num_groups_opt = nullptr, *num_nodes_opt = nullptr, *num_gpus_opt = nullptr,
                *num_redundant_opt = nullptr, *num_physical_opt = nullptr, *policy_opt = nullptr,
                *backend_opt = nullptr;
};

// --trace, --config, --num-groups, --num-nodes, --num-gpus, --num-redundant-experts |
// --num-physical-experts, --layers, --first-layer, --physical-map, --steps; with_policy adds --policy
// and --backend. multi_trace makes --trace repeatable (each one workload) and adds
// --workloads-from-steps.
void add_input_options(CLI::App& app, InputOptions& options, bool with_policy, bool multi_trace = false);

// --first-layer N: the model layer id of the first row of a trace without layer ids.
CLI::Option* add_first_layer_option(CLI::App& app, int& first_layer);

// The layer-id rule of every subcommand (resolve_layer_ids in eplb/trace.h): --first-layer
// (first_layer >= 0), else the deployment's MoE layers; its note goes to stderr.
void give_layer_ids(LoadTrace& trace, int first_layer, const std::optional<Range>& moe_layers,
                    const std::string& source, const std::string& moe_what = "moe_layers");

// --backend auto|cpu|cuda alone (for subcommands with their own --policy); sets options.backend_opt.
void add_backend_option(CLI::App& app, InputOptions& options);

// The planner --backend asks for. The notice of `auto` falling back to the CPU is printed (once, on
// stderr) only when --backend was given: a machine without a GPU would print it on every command.
std::unique_ptr<Planner> make_cli_planner(const InputOptions& options);

// --physical-map: the trace's physical-slot columns folded into the logical experts the placement at
// `map_path` (any format) puts in them; the config file gives E when it says.
LoadTrace fold_by_placement(const LoadTrace& trace, const std::string& map_path, const io::ConfigFile& file);

struct ResolvedInput {
    LoadTrace trace;  // the selected layers, all steps
    LoadMatrix load;  // [L][E] summed over the selected steps (several workloads: over all of them)
    // Several workloads (--trace repeated, or --workloads-from-steps): each [L][E] and its name;
    // one workload: empty.
    std::vector<LoadMatrix> workloads;
    std::vector<std::string> workload_names;
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

// "58 layers x 256 experts (model layers 3..60)": how messages about mismatched --trace workloads
// describe each.
std::string trace_shape(const LoadTrace& trace);

// The config of placement files in the engines' formats (SGLang, TensorRT-LLM, vLLM), which record
// only each slot's expert: --num-gpus, --num-nodes, --num-groups.
struct EnginePlacementOptions {
    int num_gpus = 0, num_nodes = 0, num_groups = 0;
};
void add_engine_placement_options(CLI::App& app, EnginePlacementOptions& options);

// The placement file named by `flag`, in any format `plan --previous` reads (eplb, SGLang JSON,
// TensorRT-LLM YAML, vLLM JSON): the one reader of every flag that names a placement. An engine
// format needs --num-gpus (its per-GPU loads would be wrong otherwise); num_logical_experts 0: the
// largest expert id + 1.
io::PlacementDoc read_placement_flag(const std::string& path, const char* flag,
                                     const EnginePlacementOptions& options, int num_logical_experts,
                                     io::PlacementFormat* format = nullptr);

// Invalid input unless the config file's num_logical_experts (if any) is the trace's expert count:
// checked first, so that a trace of another model is named as such rather than as a layer range.
void check_config_experts(const std::string& config_path, const io::ConfigFile& file,
                          const std::string& trace_source, int num_experts);

}  // namespace eplb::cli
