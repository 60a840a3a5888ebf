// `eplb convert`: rewrite a trace or a placement in another format. Traces: eplb JSON, SGLang
// logical_count, the eplb load-history JSON, CSV, .npy, TensorRT-LLM statistics directories. Placements:
// eplb JSON and the engine formats of engine_export.h.
#include <algorithm>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/input_options.h"
#include "cli/option_types.h"
#include "eplb/error.h"
#include "io/engine_export.h"
#include "io/file_util.h"
#include "io/trace_io.h"
#include "io/trtllm_stats.h"

namespace eplb::cli {

struct ConvertOptions {
    std::string from, to, format, layers;
    int top_k = 0, num_model_layers = 0;
    int first_layer = -1;  // --first-layer: ids of a trace without them
    int num_logical_experts = 0, num_groups = 0, num_nodes = 0, num_gpus = 0;
    CLI::Option *top_k_opt = nullptr, *num_gpus_opt = nullptr, *num_nodes_opt = nullptr,
                *num_groups_opt = nullptr, *num_logical_opt = nullptr;
};

namespace {

const char* const kTraceFormats = "eplb, sglang, vllm, csv, npy, trtllm";
// --format names a trace format or a placement format (io::kPlacementFormatNames), by the input.
const std::vector<std::string> kTraceFormatNames = {"eplb", "sglang", "vllm", "csv", "npy", "trtllm"};

// The trace format named by --format, else the one the output path implies.
std::string trace_format(const ConvertOptions& o) {
    if (!o.format.empty()) {
        EPLB_CHECK(std::find(kTraceFormatNames.begin(), kTraceFormatNames.end(), o.format) !=
                       kTraceFormatNames.end(),
                   "--format: " << unknown_name_message(o.format, kTraceFormatNames) << " (" << o.from
                                << " is a trace)");
        return o.format;
    }
    const std::string ext = io::extension_of(o.to);
    if (ext == "csv" || ext == "npy") return ext;
    if (ext == "json" || o.to == "-") return "eplb";
    EPLB_CHECK(ext.empty(), o.to << ": cannot tell the trace format from '." << ext << "'; pass --format ("
                                 << kTraceFormats << ")");
    return "trtllm";  // a directory
}

io::PlacementFormat placement_format(const ConvertOptions& o) {
    if (!o.format.empty()) {
        return io::parse_placement_format(o.format, "--format (" + o.from + " is a placement)");
    }
    const std::string ext = io::extension_of(o.to);
    if (ext == "yaml" || ext == "yml") return io::PlacementFormat::kTrtllm;
    EPLB_CHECK(ext == "json" || o.to == "-", o.to << ": cannot tell the placement format from the name; pass "
                                                     "--format (eplb, sglang, trtllm, vllm)");
    return io::PlacementFormat::kEplb;
}

int convert_placement(const ConvertOptions& o) {
    io::PlacementImportOptions import;
    import.num_logical_experts = o.num_logical_experts;
    import.num_groups = o.num_groups;
    import.num_nodes = o.num_nodes;
    import.num_gpus = o.num_gpus;
    io::PlacementFormat source_format = io::PlacementFormat::kEplb;
    io::PlacementDoc doc = io::read_any_placement(o.from, import, &source_format);
    const bool config_flags = o.num_gpus_opt->count() || o.num_nodes_opt->count() ||
                              o.num_groups_opt->count() || o.num_logical_opt->count();
    EPLB_CHECK(
        source_format != io::PlacementFormat::kEplb || !config_flags,
        o.from << " is an eplb placement and records its config; --num-gpus, --num-nodes, --num-groups and "
                  "--num-logical-experts are for engine formats, which do not");
    if (!o.layers.empty()) doc = io::select_placement_layers(doc, parse_range(o.layers, "--layers"));
    const io::PlacementFormat target = placement_format(o);
    EPLB_CHECK(
        target != io::PlacementFormat::kEplb || source_format == io::PlacementFormat::kEplb ||
            o.num_gpus_opt->count(),
        o.from << " (" << io::placement_format_name(source_format)
               << ") does not record the GPU count: pass --num-gpus (and --num-nodes, --num-groups) to write "
                  "an eplb placement");
    io::write_file_atomic(o.to, io::export_placement(doc, target, o.num_model_layers));
    if (o.to != "-") {
        std::cerr << "wrote " << o.to << ": " << io::placement_format_name(target) << " placement of "
                  << doc.placement.num_layers() << " layers x " << doc.placement.num_slots()
                  << " slots (from " << io::placement_format_name(source_format) << ")\n";
    }
    return 0;
}

int convert_trace(const ConvertOptions& o) {
    EPLB_CHECK(
        !o.num_gpus_opt->count() && !o.num_nodes_opt->count() && !o.num_groups_opt->count() &&
            !o.num_logical_opt->count(),
        o.from << " is a trace: --num-gpus, --num-nodes, --num-groups and --num-logical-experts apply to "
                  "placements");
    LoadTrace trace = io::read_trace(o.from);
    give_layer_ids(trace, o.first_layer, std::nullopt, o.from);
    if (!o.layers.empty()) trace = select_layers(trace, parse_range(o.layers, "--layers"));
    const std::string f = trace_format(o);
    // SGLang's rows and TensorRT-LLM's keys are model layers.
    if (f == "sglang" || f == "trtllm") require_model_layer_ids(trace, o.from, "a " + f + " trace");
    EPLB_CHECK(f == "trtllm" || !o.top_k_opt->count(),
               "--top-k is recorded only in TensorRT-LLM statistics (num_experts_per_token)");
    if (f == "trtllm") {
        EPLB_CHECK(o.top_k_opt->count(),
                   "TensorRT-LLM statistics record num_experts_per_token: pass --top-k K "
                   "(experts per token, 8 for DeepSeek-V3)");
        io::write_trtllm_stats(trace, o.to, o.top_k);
    } else if (f == "sglang") {
        io::write_file_atomic(o.to, io::trace_to_sglang_json(trace, o.num_model_layers));
    } else if (f == "vllm") {
        io::write_file_atomic(o.to, io::trace_to_vllm_json(trace));
    } else if (f == "csv") {
        io::write_file_atomic(o.to, io::trace_to_csv(trace));
    } else if (f == "npy") {
        io::write_file_atomic(o.to, io::trace_to_npy(trace));
    } else {
        io::write_file_atomic(o.to, io::trace_to_json(trace));
    }
    if (o.to != "-") {
        std::cerr << "wrote " << o.to << ": " << f << " trace of " << trace.num_steps << " steps x "
                  << trace.num_layers << " layers x " << trace.num_experts << " experts\n";
    }
    return 0;
}

}  // namespace

int run_convert(const ConvertOptions& o) {
    return io::is_placement_file(o.from) ? convert_placement(o) : convert_trace(o);
}

Command setup_convert(CLI::App& parent) {
    auto o = std::make_shared<ConvertOptions>();
    CLI::App* app = parent.add_subcommand(
        "convert", "Rewrite a trace or a placement in another format (engines' formats included)");
    app->add_option(
           "--from", o->from,
           "Input: a trace (JSON, CSV, .npy, TensorRT-LLM statistics directory) or a placement (eplb "
           "JSON, SGLang or vLLM JSON, TensorRT-LLM .yaml)")
        ->required();
    app->add_option("--to", o->to, "Output file (a directory for TensorRT-LLM statistics); - for stdout")
        ->required();
    app->add_option(
           "--format", o->format,
           "Output format. Traces: eplb (JSON), sglang, vllm, csv, npy, trtllm (statistics directory); "
           "placements: eplb, sglang, trtllm (YAML), vllm. Default: from the --to name (.json: eplb, "
           ".csv, .npy, .yaml: trtllm, no extension: trtllm statistics)")
        ->check(one_of(kTraceFormatNames));
    app->add_option("--layers", o->layers,
                    "Keep model layers A:B, [A, B) (e.g. drop SGLang's dense rows: 3:61)");
    add_first_layer_option(*app, o->first_layer);
    o->top_k_opt = app->add_option(
        "--top-k", o->top_k, "Experts per token, recorded in TensorRT-LLM statistics (required for them)");
    app->add_option("--num-model-layers", o->num_model_layers,
                    "SGLang outputs: rows for this many model layers (default: last layer id + 1)");
    o->num_logical_opt = app->add_option("--num-logical-experts", o->num_logical_experts,
                                         "Engine placements: experts E (default: the largest id + 1)");
    o->num_groups_opt = app->add_option("--num-groups", o->num_groups, "Engine placements: expert groups G");
    o->num_nodes_opt = app->add_option("--num-nodes", o->num_nodes, "Engine placements: nodes N");
    o->num_gpus_opt =
        app->add_option("--num-gpus", o->num_gpus,
                        "Engine placements: GPUs P (they do not record it; needed for eplb output)");
    return {app, [o] { return run_convert(*o); }};
}

}  // namespace eplb::cli
