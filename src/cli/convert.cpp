// `eplb convert`: rewrite a trace or a placement in another format. Traces: eplb JSON, SGLang
// logical_count, the eplb load-history JSON, CSV, .npy, TensorRT-LLM statistics directories. Placements:
// eplb JSON and the engine formats of engine_export.h.
#include <algorithm>
#include <iostream>
#include <memory>

#include <sys/stat.h>

#include "cli/commands.h"
#include "cli/input_options.h"
#include "cli/option_types.h"
#include "cli/progress.h"
#include "eplb/error.h"
#include "io/engine_export.h"
#include "io/file_util.h"
#include "io/npy.h"
#include "io/sglang_pt.h"
#include "io/trace_io.h"
#include "io/trtllm_stats.h"
#include "io/written_file.h"

namespace eplb::cli {

struct ConvertOptions {
    std::string from, to, format, layers, steps;
    bool json = false;
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
    if (ext == "json" || io::is_stdout_path(o.to)) return "eplb";
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
    EPLB_CHECK(ext == "json" || io::is_stdout_path(o.to),
               o.to << ": cannot tell the placement format from the name; pass "
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
    EPLB_CHECK(o.steps.empty(), o.from << " is a placement: --steps applies to traces");
    if (!o.layers.empty()) doc = io::select_placement_layers(doc, parse_range(o.layers, "--layers"));
    const io::PlacementFormat target = placement_format(o);
    EPLB_CHECK(
        target != io::PlacementFormat::kEplb || source_format == io::PlacementFormat::kEplb ||
            o.num_gpus_opt->count(),
        o.from << " (" << io::placement_format_name(source_format)
               << ") does not record the GPU count: pass --num-gpus (and --num-nodes, --num-groups) to write "
                  "an eplb placement");
    io::write_file_atomic(o.to, io::export_placement(doc, target, o.num_model_layers));
    if (o.json) {
        io::WrittenFile w;
        w.schema = "eplb.convert_result/v1";
        w.path = o.to;
        w.kind = "placement";
        w.format = io::placement_format_name(target);
        w.from = o.from;
        w.from_format = io::placement_format_name(source_format);
        w.shape = {doc.placement.num_layers(), doc.placement.num_slots()};
        w.layer_ids = doc.layer_ids;
        w.bytes = io::bytes_on_disk(o.to);
        io::write_file_atomic("-", io::written_file_json(w));
    }
    if (!io::is_stdout_path(o.to)) {
        std::cerr << "wrote " << o.to << ": " << io::placement_format_name(target) << " placement of "
                  << doc.placement.num_layers() << " layers x " << doc.placement.num_slots()
                  << " slots (from " << io::placement_format_name(source_format) << ")\n";
    }
    return 0;
}

io::TraceFormat file_trace_format(const std::string& name) {
    for (io::TraceFormat f : {io::TraceFormat::kEplb, io::TraceFormat::kSglang, io::TraceFormat::kVllm,
                              io::TraceFormat::kCsv, io::TraceFormat::kNpy}) {
        if (name == io::trace_format_name(f)) return f;
    }
    EPLB_FAIL("no trace file format " << name);
}

bool is_regular_file(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Prefixes errors with `source` (what they are about), keeping their kind.
template <typename F>
auto about(const std::string& source, F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const Error& e) {
        throw Error(e.kind(), source + ": " + e.what());
    }
}

int convert_trace(const ConvertOptions& o) {
    EPLB_CHECK(
        !o.num_gpus_opt->count() && !o.num_nodes_opt->count() && !o.num_groups_opt->count() &&
            !o.num_logical_opt->count(),
        o.from << " is a trace: --num-gpus, --num-nodes, --num-groups and --num-logical-experts apply to "
                  "placements");
    const std::string f = trace_format(o);
    EPLB_CHECK(f == "trtllm" || !o.top_k_opt->count(),
               "--top-k is recorded only in TensorRT-LLM statistics (num_experts_per_token)");
    EPLB_CHECK(f != "trtllm" || o.top_k_opt->count(),
               "TensorRT-LLM statistics record num_experts_per_token: pass --top-k K "
               "(experts per token, 8 for DeepSeek-V3)");
    const std::optional<Range> layers =
        o.layers.empty() ? std::nullopt : std::optional<Range>(parse_range(o.layers, "--layers"));
    const Range steps = o.steps.empty() ? Range{} : parse_range(o.steps, "--steps");

    // The steps: a .npy file or an SGLang stat-mode .pt dump read step by step from disk (the
    // output is written as they come, so that memory stays at a few steps), any other trace read
    // whole.
    LoadTrace trace;
    std::unique_ptr<StepSource> source;
    io::TraceInfo info;
    info.num_model_layers = o.num_model_layers;
    int first_step = steps.first;
    const std::string ext = io::extension_of(o.from);
    // A .pt names its layers: with --first-layer it is read whole, for the layer-id rule to refuse.
    std::unique_ptr<io::SglangStepReader> pt =
        (ext == "pt" || ext == "pth") && o.first_layer < 0
            ? io::SglangStepReader::open(o.from, layers.value_or(Range{}), steps)
            : nullptr;
    if (ext == "npy" && is_regular_file(o.from)) {
        // No layer ids in a .npy: --first-layer gives them (the header first, for the row count).
        const int rows = io::NpyStepReader(o.from).file_layers();
        const std::optional<int> first =
            infer_first_layer_id(rows, o.first_layer >= 0 ? std::optional<int>(o.first_layer) : std::nullopt,
                                 std::nullopt, o.from, nullptr);
        auto reader = std::make_unique<io::NpyStepReader>(o.from, layers.value_or(Range{}), steps, "--layers",
                                                          first.value_or(0));
        info.layer_ids = reader->layer_ids();
        info.has_layer_ids = first.has_value();
        source = std::move(reader);
    } else if (pt) {
        info.layer_ids = pt->layer_ids();
        source = std::move(pt);
    } else {
        trace = io::read_trace(o.from);
        give_layer_ids(trace, o.first_layer, std::nullopt, o.from);
        if (layers) trace = select_layers(trace, *layers);
        info.layer_ids = trace.layer_ids;
        info.has_layer_ids = trace.has_layer_ids;
        info.model = trace.model;
        source =
            about(o.from, [&] { return std::make_unique<TraceStepSource>(trace, steps.first, steps.end); });
    }
    // SGLang's rows and TensorRT-LLM's keys are model layers.
    if (f == "sglang" || f == "trtllm") {
        require_model_layer_ids(info.has_layer_ids, static_cast<int>(info.layer_ids.size()), o.from,
                                "a " + f + " trace");
    }
    {
        ProgressBar bar;
        const auto progress = [&bar](int done, int total) { bar.update(done, total); };
        if (f == "trtllm") {
            io::write_trtllm_stats(*source, info.layer_ids, o.to, o.top_k, progress);
        } else {
            io::write_trace(*source, info, o.to, file_trace_format(f), progress);
        }
    }
    const int num_steps = source->num_steps();
    if (o.json) {
        io::WrittenFile w;
        w.schema = "eplb.convert_result/v1";
        w.path = o.to;
        w.kind = "trace";
        w.format = f;
        w.from = o.from;
        w.shape = {num_steps, source->num_layers(), source->num_experts()};
        w.layer_ids = info.layer_ids;
        w.first_step = first_step;
        w.end_step = first_step + num_steps;
        w.bytes = io::bytes_on_disk(o.to);
        io::write_file_atomic("-", io::written_file_json(w));
    }
    if (!io::is_stdout_path(o.to)) {
        std::cerr << "wrote " << o.to << ": " << f << " trace of " << num_steps << " steps x "
                  << source->num_layers() << " layers x " << source->num_experts() << " experts\n";
    }
    return 0;
}

}  // namespace

int run_convert(const ConvertOptions& o) {
    if (o.json && io::is_stdout_path(o.to)) {
        EPLB_FAIL_KIND(ErrorKind::kUsage,
                       "--json prints a description on stdout, where --to - writes the output (see "
                       "eplb convert --help)");
    }
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
    app->add_option("--steps", o->steps, "Traces: keep steps A:B, [A, B) (default: all)");
    app->add_flag("--json", o->json,
                  "Print what was written as JSON (schema eplb.convert_result/v1: path, format, shape, "
                  "layers, steps, bytes)");
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
