// `eplb plan`: compute a placement for a trace and a config, report its balance, write its JSON;
// with --previous, relabel it against the placement in force (and optionally trade balance for
// fewer moved experts) and report the migration.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include "cli/commands.h"
#include "cli/input_options.h"
#include "cli/option_types.h"
#include "eplb/balanced.h"
#include "eplb/error.h"
#include "eplb/metrics.h"
#include "eplb/migration.h"
#include "eplb/migration_aware.h"
#include "eplb/robust.h"
#include "io/engine_export.h"
#include "io/file_util.h"
#include "io/placement_io.h"
#include "io/report.h"
#include "io/sglang_placement.h"
#include "io/trtllm_placement.h"

namespace eplb::cli {

struct PlanOptions {
    InputOptions input;
    std::string output;
    std::vector<std::pair<std::string, std::string>> exports;  // (format, file), --export repeated
    int num_model_layers = 0;
    bool json = false;
    bool synthetic = false;  // a placement may be written from the generated default trace
    std::string previous;
    int64_t max_moves = -1;
    double move_cost = 0;
};

namespace {

// The rows of the previous placement (any format: eplb, SGLang, TensorRT-LLM, vLLM) for this
// plan's model layers; it must describe the same experts, slots and GPUs.
IndexMatrix previous_rows(const std::string& path, const ResolvedInput& in) {
    const ParallelConfig& c = in.config;
    io::PlacementImportOptions import;
    import.num_logical_experts = c.num_logical_experts;
    import.num_groups = c.num_groups;
    import.num_nodes = c.num_nodes;
    import.num_gpus = c.num_gpus;
    io::PlacementFormat format = io::PlacementFormat::kEplb;
    const io::PlacementDoc prev = io::read_any_placement(path, import, &format);
    // SGLang's and TensorRT-LLM's rows are model layers: row numbers would match the wrong ones.
    if (format == io::PlacementFormat::kSglang || format == io::PlacementFormat::kTrtllm) {
        require_model_layer_ids(
            in.trace, in.trace_source,
            std::string("--previous ") + io::placement_format_name(format) + " placement");
    }
    const ParallelConfig& a = prev.config;
    EPLB_CHECK(a.num_logical_experts == c.num_logical_experts &&
                   a.num_physical_experts == c.num_physical_experts && a.num_gpus == c.num_gpus,
               path << ": the previous placement has " << a.num_logical_experts << " experts, "
                    << a.num_physical_experts << " slots on " << a.num_gpus << " GPUs but this plan has "
                    << c.num_logical_experts << " experts, " << c.num_physical_experts << " slots on "
                    << c.num_gpus << " GPUs");
    const std::vector<int>& ids = in.trace.layer_ids;
    IndexMatrix rows(static_cast<Eigen::Index>(ids.size()), c.num_physical_experts);
    for (size_t i = 0; i < ids.size(); ++i) {
        const auto it = std::find(prev.layer_ids.begin(), prev.layer_ids.end(), ids[i]);
        EPLB_CHECK(it != prev.layer_ids.end(), path << ": the previous placement has no model layer "
                                                    << ids[i]
                                                    << " (select this plan's layers with --layers)");
        rows.row(static_cast<Eigen::Index>(i)) = prev.placement.phy2log.row(it - prev.layer_ids.begin());
    }
    return rows;
}

// The placement as one engine's export gets it. TensorRT-LLM with MTP: the MTP layers that follow
// moe_layers are added (with_mtp_layers); SGLang's map has the model's layers only, without them.
io::PlacementDoc export_view(const io::PlacementDoc& doc, io::PlacementFormat format,
                             const ResolvedInput& in) {
    const int mtp = in.num_nextn_predict_layers;
    if (mtp == 0) return doc;
    const int first_mtp = in.moe_layers ? in.moe_layers->end : doc.layer_ids.back() + 1;
    if (format == io::PlacementFormat::kTrtllm) {
        std::vector<int> added;
        io::PlacementDoc out = io::with_mtp_layers(doc, first_mtp, mtp, &added);
        for (int id : added) {
            std::cerr
                << "note: trtllm export: MTP layer " << id
                << " (num_nextn_predict_layers) has no load in the trace: it gets TensorRT-LLM's default "
                   "map (rank q's slot k holds expert (q*E/P + k) mod E)\n";
        }
        return out;
    }
    if (format == io::PlacementFormat::kSglang && doc.layer_ids.back() >= first_mtp &&
        doc.layer_ids.front() < first_mtp) {
        return io::select_placement_layers(doc, Range{0, first_mtp});
    }
    return doc;
}

// The formats of --export; a file SGLang would read by name must be named .json (stdout and
// devices, /dev/stdout possibly a redirected file, are not read back by name).
std::vector<io::PlacementFormat> export_formats(const PlanOptions& o) {
    std::vector<io::PlacementFormat> formats;
    for (const auto& [format, file] : o.exports) {
        formats.push_back(io::parse_placement_format(format));
        std::error_code ec;
        const auto st = std::filesystem::status(file, ec);
        const bool special = file == "-" || file.rfind("/dev/", 0) == 0 ||
                             (std::filesystem::exists(st) && !std::filesystem::is_regular_file(st));
        if (formats.back() == io::PlacementFormat::kSglang && !special &&
            !io::sglang_reads_as_json_file(file)) {
            EPLB_FAIL_KIND(ErrorKind::kUsage,
                           "--export sglang "
                               << file
                               << ": SGLang reads --init-expert-location from a file only when "
                                  "its name ends in .json (any other name is parsed as inline "
                                  "JSON and fails): name it "
                               << file << ".json");
        }
    }
    return formats;
}

// Plans doc.placement and says where it ran; returns what the report and migration score: the sum
// the engines plan on, or for robust the blend in which every (normalised) workload weighs the same.
LoadMatrix plan_placement(const PlanOptions& o, const ResolvedInput& in, io::PlacementDoc& doc) {
    if (in.policy != Policy::kRobust) {
        const auto planner = make_cli_planner(o.input);
        doc.placement = planner->plan(in.load, in.config, in.policy);
        doc.backend = planner->plan_backend(in.config, in.policy);
        return in.load;
    }
    // Only the CPU has a robust planner: it runs there whatever --backend says.
    if (o.input.backend == Backend::kCuda)
        std::cerr << "note: the CUDA backend has no robust planner; planning on the CPU\n";
    const bool several = !in.workloads.empty();
    const std::vector<LoadMatrix> workloads = several ? in.workloads : std::vector<LoadMatrix>{in.load};
    doc.placement = plan_robust(workloads, in.config);
    doc.backend = "cpu";
    return several ? robust_blend(workloads) : in.load;
}

// --previous: the plan relabelled against the placement in force (for balanced and robust, traded
// for fewer moves as --max-moves / --move-cost say); returns the migration from it.
MigrationStats follow_previous(const PlanOptions& o, const ResolvedInput& in, const LoadMatrix& scored,
                               io::PlacementDoc& doc) {
    const IndexMatrix prev = previous_rows(o.previous, in);
    MigrationOptions mo;
    mo.max_moves = o.max_moves;
    mo.move_cost = o.move_cost;
    EPLB_CHECK(!mo.trade() || in.policy != Policy::kDeepseek,
               "--max-moves and --move-cost need --policy balanced or robust: a "
                   << policy_name(in.policy)
                   << " plan is only relabelled against "
                      "--previous, so its balance stays "
                      "identical");
    const MigrationAwarePlan mp = plan_migration_aware(scored, doc.placement, prev, in.config, mo);
    if (!mp.budget_met) {
        std::cerr << "warning: --max-moves " << o.max_moves
                  << " cannot be met: the cheapest choice of every layer is taken\n";
    }
    doc.placement = mp.placement;
    doc.previous_source = o.previous;
    for (LayerSource s : mp.source) doc.layer_sources.push_back(layer_source_name(s));
    return count_migration(prev, doc.placement.phy2log, in.config, in.expert_bytes);
}

// Each workload's own balance under the plan: the worst is what robust optimises.
void report_workloads(std::ostream& report, const ResolvedInput& in, const io::PlacementDoc& doc) {
    report << "\nper workload (balancedness):\n";
    double worst = 2;
    size_t worst_i = 0;
    for (size_t i = 0; i < in.workloads.size(); ++i) {
        const double b = evaluate(doc.placement.phy2log, in.workloads[i], in.config).balancedness;
        report << io::format("  %.4f  %s\n", b, in.workload_names[i].c_str());
        if (b < worst) {
            worst = b;
            worst_i = i;
        }
    }
    report << io::format("  %.4f  worst (%s)\n", worst, in.workload_names[worst_i].c_str());
}

// The text report, on stderr when a document goes to stdout (-o -), and where the files went.
void report_plan(const PlanOptions& o, const ResolvedInput& in, const io::PlacementDoc& doc,
                 const Metrics& metrics, const MigrationStats* moved,
                 const std::vector<io::PlacementFormat>& formats) {
    const bool several = !in.workloads.empty();
    bool document_on_stdout = io::is_stdout_path(o.output);
    for (const auto& e : o.exports) document_on_stdout = document_on_stdout || io::is_stdout_path(e.second);
    std::ostream& report = document_on_stdout ? std::cerr : std::cout;
    const auto name = [](const std::string& path) { return path == "-" ? std::string("stdout") : path; };
    std::string title = "eplb plan: " + in.title;
    if (several) {
        title += "\n" + std::to_string(in.workloads.size()) + " workloads" +
                 (in.policy == Policy::kRobust
                      ? ", each normalised to equal total per layer: robust plans for the worst of them; "
                        "the balance below is on their normalised blend"
                      : ": planned on their sum, as the engines do; the balance below is on the sum");
    }
    report << io::render_placement_report(title, doc, metrics, moved);
    if (several) report_workloads(report, in, doc);
    if (!o.output.empty()) report << "\nplacement written to " << name(o.output) << "\n";
    for (size_t i = 0; i < formats.size(); ++i) {
        report << (o.output.empty() && i == 0 ? "\n" : "") << io::placement_format_name(formats[i])
               << " export written to " << name(o.exports[i].second) << "\n";
    }
}

}  // namespace

int run_plan(const PlanOptions& o) {
    const std::vector<io::PlacementFormat> formats = export_formats(o);
    // A placement planned on the generated default trace looks deployable but balances nothing real.
    EPLB_CHECK_KIND(ErrorKind::kUsage,
                    !o.input.trace_path.empty() || !o.input.trace_paths.empty() || o.synthetic ||
                        (o.output.empty() && o.exports.empty()),
                    "no --trace: refusing to write a placement ("
                        << (o.output.empty() ? "--export" : "-o")
                        << ") planned on a synthetic trace; pass --trace FILE (the loads to balance), or "
                           "--synthetic to write it anyway");
    // Every output a file of its own, checked before anything is planned or written.
    std::vector<io::NamedOutput> outputs;
    if (!o.output.empty()) outputs.push_back({"-o", o.output});
    for (const auto& [format, file] : o.exports) outputs.push_back({"--export " + format, file});
    if (o.json) outputs.push_back({"--json", "-"});
    io::check_outputs(outputs);
    const ResolvedInput in = resolve_input(o.input);
    for (const io::PlacementFormat format : formats) {
        if (format == io::PlacementFormat::kSglang || format == io::PlacementFormat::kTrtllm) {
            require_model_layer_ids(in.trace, in.trace_source,
                                    std::string("--export ") + io::placement_format_name(format));
        }
    }
    io::PlacementDoc doc;
    doc.config = in.config;
    doc.policy = policy_name(in.policy);
    doc.layer_ids = in.trace.layer_ids;
    doc.has_layer_ids = in.trace.has_layer_ids;
    const LoadMatrix scored = plan_placement(o, in, doc);
    doc.trace_source = in.trace_source;
    for (size_t i = 1; i < in.workload_names.size() && o.input.workloads_from_steps == 0; ++i)
        doc.trace_source += ", " + in.workload_names[i];
    doc.config_source = in.config_source;
    doc.model = in.model;
    doc.expert_bytes = in.expert_bytes;
    std::optional<MigrationStats> migration;
    if (!o.previous.empty()) migration = follow_previous(o, in, scored, doc);
    if (in.config.hierarchical() && in.config.num_nodes > 1) {
        doc.node_bounds = node_lower_bounds(doc.placement.phy2log, scored, in.config);
    }
    const MigrationStats* moved = migration ? &*migration : nullptr;
    const Metrics metrics = evaluate(doc.placement.phy2log, scored, in.config);
    // Render every export before writing any file, so that a bad export option leaves no file
    // behind. The placement JSON is streamed: for a large model (1000 layers x 4096 experts is
    // ~300 MB) it never exists as one string or DOM.
    std::vector<std::string> exported;
    for (const io::PlacementFormat format : formats) {
        exported.push_back(io::export_placement(export_view(doc, format, in), format, o.num_model_layers));
    }
    const auto write_json = [&](std::ostream& out) { io::write_placement_json(out, doc, &metrics, moved); };
    if (!o.output.empty()) io::write_file_atomic(o.output, write_json);
    for (size_t i = 0; i < exported.size(); ++i) io::write_file_atomic(o.exports[i].second, exported[i]);
    if (o.json) {
        io::write_file_atomic("-", write_json);
    } else {
        report_plan(o, in, doc, metrics, moved, formats);
    }
    return 0;
}

Command setup_plan(CLI::App& parent) {
    auto o = std::make_shared<PlanOptions>();
    CLI::App* app = parent.add_subcommand("plan", "Compute a placement for a trace and report its balance");
    add_input_options(*app, o->input, true, true);
    app->add_option(
        "-o,--output", o->output,
        "Write the placement JSON (eplb.placement/v1) to this file (-: stdout, the report goes to "
        "stderr)");
    app->add_option("--export", o->exports,
                    "Also write the placement for an engine: sglang (--init-expert-location JSON, a name "
                    "ending in .json), trtllm (moe_load_balancer YAML, MTP layers added per the config's "
                    "num_nextn_predict_layers), vllm (EplbState tensors as JSON) or eplb; sglang and trtllm "
                    "need model layer ids (see --first-layer); repeatable")
        ->allow_extra_args(false)
        ->type_name("FORMAT FILE")
        ->check(one_of(names_of<io::PlacementFormat>(io::kPlacementFormatNames)).application_index(0));
    app->add_option(
        "--num-model-layers", o->num_model_layers,
        "SGLang export: rows for this many model layers, dense ones included (default: last layer id "
        "+ 1)");
    app->add_flag("--json", o->json, "Print the placement JSON on stdout instead of the report");
    app->add_flag("--synthetic", o->synthetic,
                  "Without --trace: write -o/--export anyway (planned on the generated default trace)");
    CLI::Option* previous = app->add_option("--previous", o->previous,
                                            "Placement in force (eplb, SGLang, TensorRT-LLM or vLLM file): "
                                            "relabel GPUs and slots to keep experts where they "
                                            "are, and report the experts and bytes moved");
    app->add_option("--max-moves", o->max_moves,
                    "With --previous and --policy balanced or robust: at most this many experts moved "
                    "(summed over layers), "
                    "giving up the least balance per move saved; -1: no bound")
        ->capture_default_str()
        ->check(at_least(-1))
        ->needs(previous);
    app->add_option("--move-cost", o->move_cost,
                    "With --previous and --policy balanced or robust: price of one moved expert in units of "
                    "the layer's gap "
                    "(e.g. 0.0001: a move must lower the layer's max GPU load by 0.01% of its bound)")
        ->capture_default_str()
        ->check(at_least(0))
        ->needs(previous);
    return {app, [o] { return run_plan(*o); }};
}

}  // namespace eplb::cli
