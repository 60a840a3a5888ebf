// `eplb simulate`: replay a load time series (a trace file, .npy streamed from disk, or generated
// step by step) through the rebalancing loop of DESIGN.md for several policies and loop settings
// side by side; summary table, per-step CSV, SVG plot, JSON.
#include <algorithm>
#include <cmath>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "cli/gen_options.h"
#include "cli/input_options.h"
#include "cli/option_types.h"
#include "cli/progress.h"
#include "eplb/error.h"
#include "eplb/simulate.h"
#include "io/config_io.h"
#include "io/file_util.h"
#include "io/npy.h"
#include "io/report.h"
#include "io/sglang_pt.h"
#include "io/simulation_io.h"
#include "io/trace_io.h"

namespace eplb::cli {

struct SimulateOptions {
    InputOptions input;
    GenCliOptions gen;
    std::vector<Policy> policies;
    std::vector<int> window_sizes, step_intervals;
    std::vector<std::string> thresholds, relabel;
    bool oracle = false;
    int robust_chunks = 4;
    std::string csv, svg;
    bool json = false;
    CLI::Option *window_opt = nullptr, *interval_opt = nullptr, *policy_opt = nullptr;
};

namespace {

// Steps simulated by default when the series is generated.
constexpr int kDefaultGeneratedSteps = 10000;
constexpr int64_t kDefaultExpertBytes = 44040192;  // DeepSeek-V3 FP8 expert (w13 + w2)

// Keeps the generator's rows whose layer id lies in `range` (as select_layers does for traces).
void select_generated_layers(GenTraceOptions& g, Range range) {
    std::vector<int> ids = g.layer_ids;
    if (ids.empty()) {
        for (int l = 0; l < g.num_layers; ++l) ids.push_back(g.first_layer_id + l);
    }
    std::vector<int> rows;
    for (int i = 0; i < static_cast<int>(ids.size()); ++i) {
        if (ids[i] >= range.first && (range.end == -1 || ids[i] < range.end)) rows.push_back(i);
    }
    const bool past_end = range.end != -1 && range.end > ids.back() + 1;
    EPLB_CHECK(!rows.empty() && !past_end,
               "--layers " << range.first << ":"
                           << (range.end == -1 ? std::string() : std::to_string(range.end))
                           << " is outside the generated layers " << ids.front() << ":" << ids.back() + 1);
    std::vector<int> kept;
    for (int i : rows) kept.push_back(ids[i]);
    for (LoadMatrix& w : g.workloads) {
        LoadMatrix sub(static_cast<Eigen::Index>(rows.size()), w.cols());
        for (size_t i = 0; i < rows.size(); ++i) sub.row(static_cast<Eigen::Index>(i)) = w.row(rows[i]);
        w = std::move(sub);
    }
    g.layer_ids = kept;
    g.num_layers = static_cast<int>(kept.size());
}

// The values in their first-seen order, each once ("deepseek,deepseek" is one line).
template <typename T>
std::vector<T> unique_in_order(const std::vector<T>& values) {
    std::vector<T> out;
    for (const T& v : values) {
        if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
    }
    return out;
}

// The switch names of --relabel, in the order a sweep lists them.
constexpr NamedValue<bool> kSwitchNames[] = {{"off", false}, {"on", true}};

std::vector<bool> parse_relabel(const std::vector<std::string>& texts) {
    std::vector<bool> out;
    for (const std::string& t : texts) out.push_back(parse_name<bool>(kSwitchNames, t, "--relabel"));
    return out;
}

// A threshold: "off" (or "none") = 0, else a balancedness in (0, 1]; false when `text` is neither.
bool parse_threshold(const std::string& text, double* value) {
    if (text == "off" || text == "none") {
        *value = 0.0;
        return true;
    }
    char* end = nullptr;
    *value = std::strtod(text.c_str(), &end);
    return !text.empty() && end && *end == '\0' && *value > 0.0 && *value <= 1.0;
}

std::vector<double> parse_thresholds(const std::vector<std::string>& texts) {
    std::vector<double> out;
    for (const std::string& t : texts) {
        double v = 0;
        EPLB_CHECK(parse_threshold(t, &v),
                   "--threshold '" << t << "' is neither 'off' nor a balancedness in (0, 1]");
        out.push_back(v);
    }
    return out;
}

// The layers and steps of the series a run replays.
struct SeriesSelection {
    std::optional<Range> layers;
    std::string layers_what = "--layers";  // where the layer range comes from, for messages
    Range steps;
};

// --layers, else the config's moe_layers; --steps.
SeriesSelection select_series(const InputOptions& in, const io::ConfigFile& file) {
    SeriesSelection sel;
    if (!in.layers.empty()) {
        sel.layers = parse_range(in.layers, "--layers");
    } else if (file.moe_layers) {
        sel.layers = *file.moe_layers;
        sel.layers_what = "moe_layers of " + in.config_path;
    }
    sel.steps = in.steps.empty() ? Range{} : parse_range(in.steps, "--steps");
    return sel;
}

// The series to replay: a .npy or SGLang stat .pt streamed from disk, another trace file in memory,
// or the generator (with a step range around it). Filled in place: a TraceStepSource refers to
// `trace`.
struct Series {
    LoadTrace trace;
    std::unique_ptr<StepSource> owned, ranged;
    StepSource* source = nullptr;
};

// A .npy read step by step: the expert count checked first (a trace of another model is named as
// such, not as a layer range), then the layer-id rule, which needs the header's row count.
void open_npy_series(const InputOptions& in, const io::ConfigFile& file, const SeriesSelection& sel,
                     io::SimulationDoc& doc, Series& series) {
    if (file.num_logical_experts) {
        check_config_experts(in.config_path, file, in.trace_path,
                             io::NpyStepReader(in.trace_path).num_experts());
    }
    const int rows = io::NpyStepReader(in.trace_path).file_layers();
    std::string note;
    const std::optional<int> first =
        infer_first_layer_id(rows, in.first_layer >= 0 ? std::optional<int>(in.first_layer) : std::nullopt,
                             file.moe_layers, in.trace_path, &note);
    if (!note.empty()) std::cerr << note << "\n";
    auto reader = std::make_unique<io::NpyStepReader>(in.trace_path, sel.layers.value_or(Range{}), sel.steps,
                                                      sel.layers_what, first.value_or(0));
    doc.layer_ids = reader->layer_ids();
    doc.title = "trace " + in.trace_path + " (read step by step)";
    series.owned = std::move(reader);
    series.source = series.owned.get();
}

// Any other trace file, read whole: ids, --physical-map folding and the layer selection applied.
void read_whole_series(const InputOptions& in, const io::ConfigFile& file, const SeriesSelection& sel,
                       io::SimulationDoc& doc, Series& series) {
    series.trace = io::read_trace(in.trace_path);
    LoadTrace& trace = series.trace;
    give_layer_ids(trace, in.first_layer, file.moe_layers, in.trace_path);
    if (!in.physical_map.empty()) trace = fold_by_placement(trace, in.physical_map, file);
    check_config_experts(in.config_path, file, in.trace_path, trace.num_experts);
    if (sel.layers) {
        try {
            trace = select_layers(trace, *sel.layers, sel.layers_what.c_str());
        } catch (const Error& e) {
            EPLB_FAIL(in.trace_path << ": " << e.what());
        }
    }
    if (!trace.model.empty() && doc.model.empty()) doc.model = trace.model;
    doc.layer_ids = trace.layer_ids;
    doc.title = "trace " + in.trace_path +
                (in.physical_map.empty() ? "" : " (physical slots folded by " + in.physical_map + ")");
    series.owned = std::make_unique<TraceStepSource>(trace, sel.steps.first, sel.steps.end);
    series.source = series.owned.get();
}

void open_trace_series(const InputOptions& in, const io::ConfigFile& file, const SeriesSelection& sel,
                       io::SimulationDoc& doc, Series& series) {
    doc.trace_source = in.trace_path;
    const std::string ext = io::extension_of(in.trace_path);
    // A series whose slots must be folded is read whole; so is a .pt with --first-layer (which
    // the reader refuses: SGLang's rows are model layers).
    const bool whole = !in.physical_map.empty() || in.first_layer >= 0;
    const bool is_pt = (ext == "pt" || ext == "pth") && !whole;
    if (ext == "npy" && in.physical_map.empty()) {
        open_npy_series(in, file, sel, doc, series);
    } else if (auto pt =
                   is_pt ? io::SglangStepReader::open(in.trace_path, sel.layers.value_or(Range{}), sel.steps)
                         : nullptr) {
        check_config_experts(in.config_path, file, in.trace_path, pt->num_experts());
        doc.layer_ids = pt->layer_ids();
        doc.title = "trace " + in.trace_path + " (read step by step)";
        series.owned = std::move(pt);
        series.source = series.owned.get();
    } else {
        read_whole_series(in, file, sel, doc, series);
    }
}

void open_generated_series(const SimulateOptions& o, const io::ConfigFile& file, const SeriesSelection& sel,
                           bool embedded, io::SimulationDoc& doc, Series& series) {
    if (o.input.first_layer >= 0 || !o.input.physical_map.empty()) {
        EPLB_FAIL_KIND(ErrorKind::kUsage, (o.input.first_layer >= 0 ? "--first-layer" : "--physical-map")
                                              << " applies to a --trace; a generated series has none "
                                                 "(its layers: --gen-first-layer)");
    }
    GenTraceOptions g = resolve_gen_options(o.gen);
    if (g.workloads.empty()) {
        // The config's shapes unless the generator flags say otherwise (as `plan` does).
        if (file.num_logical_experts && !o.gen.num_experts_opt->count())
            g.num_experts = *file.num_logical_experts;
        if (file.top_k && !o.gen.top_k_opt->count()) g.top_k = *file.top_k;
        if (file.moe_layers && !o.gen.num_layers_opt->count() && !o.gen.first_layer_opt->count()) {
            g.first_layer_id = file.moe_layers->first;
            g.num_layers = file.moe_layers->end - file.moe_layers->first;
        }
    }
    if (sel.layers) select_generated_layers(g, *sel.layers);
    auto generator = std::make_unique<TraceGenerator>(g);
    doc.layer_ids = generator->layer_ids();
    doc.generator = describe_gen_options(o.gen);
    doc.title = "generated series: " + doc.generator;
    if (embedded) {
        doc.title =
            "embedded default: DeepSeek-V3 shapes (58 MoE layers x 256 experts, 8 groups) on 4 nodes x 8 "
            "GPUs "
            "with 32 redundant experts, " +
            doc.title;
    }
    series.owned = std::move(generator);
    series.source = series.owned.get();
    if (sel.steps.first > 0 || sel.steps.end != -1) {
        series.ranged = std::make_unique<StepRangeSource>(*series.owned, sel.steps.first, sel.steps.end);
        series.source = series.ranged.get();
    }
}

// The lanes: the flags' grid, where --policy, --window-size and --step-interval default to the
// config file's values.
SimulationOptions simulation_options(const SimulateOptions& o, const io::ConfigFile& file,
                                     const io::SimulationDoc& doc) {
    std::vector<Policy> policies = o.policies;
    if (!o.policy_opt->count()) {
        policies = {Policy::kDeepseek};
        if (file.policy) policies = {parse_policy(*file.policy, o.input.config_path + ": policy")};
    }
    const std::vector<int> windows =
        o.window_opt->count() ? o.window_sizes : std::vector<int>{file.window_size.value_or(1000)};
    const std::vector<int> intervals =
        o.interval_opt->count() ? o.step_intervals : std::vector<int>{file.step_interval.value_or(3000)};
    SimulationOptions sim;
    sim.config = doc.config;
    sim.expert_bytes = doc.expert_bytes;
    sim.lanes = make_lanes(unique_in_order(policies), unique_in_order(windows), unique_in_order(intervals),
                           unique_in_order(parse_thresholds(o.thresholds)), o.oracle,
                           unique_in_order(parse_relabel(o.relabel)));
    for (LaneSpec& lane : sim.lanes) lane.robust_chunks = o.robust_chunks;
    return sim;
}

void write_simulation(const SimulateOptions& o, const io::SimulationDoc& doc,
                      const SimulationResult& result) {
    if (!o.csv.empty()) io::write_file_atomic(o.csv, io::simulation_to_csv(doc, result));
    if (!o.svg.empty()) io::write_file_atomic(o.svg, io::simulation_to_svg(doc, result));
    if (o.json) {
        std::cout << io::simulation_to_json(doc, result);
        return;
    }
    // A CSV or plot on stdout (--csv -) sends the report to stderr.
    std::ostream& report = io::is_stdout_path(o.csv) || io::is_stdout_path(o.svg) ? std::cerr : std::cout;
    report << io::render_simulation_report(doc, result);
    if (!o.csv.empty()) report << "per-step CSV written to " << (o.csv == "-" ? "stdout" : o.csv) << "\n";
    if (!o.svg.empty()) report << "plot written to " << (o.svg == "-" ? "stdout" : o.svg) << "\n";
}

}  // namespace

int run_simulate(const SimulateOptions& o) {
    io::ConfigFile file;
    io::SimulationDoc doc;
    if (!o.input.config_path.empty()) {
        file = io::read_config(o.input.config_path);
        doc.config_source = o.input.config_path;
        doc.model = file.model;
    }
    const bool generated = o.input.trace_path.empty();
    // The embedded DeepSeek-V3 default applies when nothing gives shapes: no trace, no config, and
    // no generator flag that sets the layers or experts.
    const bool gen_shapes = o.gen.num_layers_opt->count() || o.gen.first_layer_opt->count() ||
                            o.gen.num_experts_opt->count() || o.gen.from_traces_opt->count();
    const bool embedded = generated && o.input.config_path.empty() && !gen_shapes;
    const SeriesSelection sel = select_series(o.input, file);
    doc.first_step = sel.steps.first;
    Series series;
    if (generated) {
        open_generated_series(o, file, sel, embedded, doc, series);
    } else {
        open_trace_series(o.input, file, sel, doc, series);
    }
    if (!doc.config_source.empty()) doc.title += ", config " + doc.config_source;
    doc.config = resolve_parallel_config(o.input, file, series.source->num_experts(), embedded,
                                         generated ? "generated series" : o.input.trace_path);
    doc.expert_bytes = file.expert_bytes ? *file.expert_bytes : kDefaultExpertBytes;
    const SimulationOptions sim = simulation_options(o, file, doc);

    std::vector<io::NamedOutput> outputs;
    if (!o.csv.empty()) outputs.push_back({"--csv", o.csv});
    if (!o.svg.empty()) outputs.push_back({"--svg", o.svg});
    if (o.json) outputs.push_back({"--json", "-"});
    io::check_outputs(outputs);
    const auto planner = make_cli_planner(o.input);
    ProgressBar bar;
    const SimulationResult result =
        simulate(*series.source, sim, *planner, [&bar](int done, int total) { bar.update(done, total); });
    bar.clear();
    doc.backend = result.backend;
    write_simulation(o, doc, result);
    return 0;
}

Command setup_simulate(CLI::App& parent) {
    auto o = std::make_shared<SimulateOptions>();
    CLI::App* app = parent.add_subcommand(
        "simulate",
        "Replay a load time series through the rebalancing loop (window, interval): policies side by side");
    add_input_options(*app, o->input, false);
    o->policy_opt = add_enum_option<Policy>(*app, "--policy", o->policies, kPolicyNames,
                                            "Policies to run side by side, comma-separated")
                        ->delimiter(',')
                        ->type_name("{" + name_list(names_of<Policy>(kPolicyNames), ",") + "}")
                        ->default_str(policy_name(Policy::kDeepseek));
    add_backend_option(*app, o->input);
    o->window_opt = app->add_option("--window-size", o->window_sizes,
                                    "Steps in the window a plan sees; a list runs each (a sweep)")
                        ->delimiter(',')
                        ->type_name("W[,W...]")
                        ->default_str("1000")
                        ->check(at_least(1));
    o->interval_opt = app->add_option("--step-interval", o->step_intervals,
                                      "Steps between rearrangements (the first after I/4); a list runs each")
                          ->delimiter(',')
                          ->type_name("I[,I...]")
                          ->default_str("3000")
                          ->check(at_least(1));
    app->add_option(
           "--threshold", o->thresholds,
           "Rearrange at a check only when the window's balancedness under the placement in force is "
           "below this (SGLang's utilization threshold); 'off' = always; a list runs each")
        ->delimiter(',')
        ->type_name("T[,T...]")
        ->default_str("off")
        ->check(CLI::Validator(
            [](std::string& text) {
                double v = 0;
                return parse_threshold(text, &v)
                           ? std::string()
                           : "'" + printable(text) + "' is neither 'off' nor a balancedness in (0, 1]";
            },
            ""));
    app->add_option("--relabel", o->relabel,
                    "on: renumber each new placement's GPUs and slots against the one in force (the same "
                    "balance, fewer experts moved); a list (off,on) runs both")
        ->delimiter(',')
        ->type_name("off|on[,...]")
        ->default_str("off")
        ->check(one_of(names_of<bool>(kSwitchNames)));
    app->add_option("--robust-chunks", o->robust_chunks,
                    "--policy robust: cut the window into K consecutive chunks and plan each rearrangement "
                    "for the worst of them instead of their sum (1..window size; robust runs on the CPU)")
        ->capture_default_str()
        ->check(in_range(1, kMaxConfigCount));
    app->add_flag("--oracle", o->oracle,
                  "Add the ceiling: each step scored with the placement planned on its own load");
    app->add_option("--csv", o->csv,
                    "Write step,policy,balancedness,max_gpu_load,mean_gpu_load,rearranged,experts_moved");
    app->add_option("--svg", o->svg, "Write a plot of balancedness over the steps");
    app->add_flag("--json", o->json,
                  "Print everything as JSON (schema eplb.simulation/v1) instead of the table");
    o->gen.gen = embedded_trace_options();
    o->gen.gen.num_steps = kDefaultGeneratedSteps;
    add_gen_options(*app, o->gen, "gen-", "Generated series (without --trace)");
    CLI::Option* trace_opt = app->get_option("--trace");
    trace_opt->description(
        "Load time series [T][L][E]: JSON (SGLang logical_count, eplb load-history, eplb.trace/v1), CSV, "
        ".npy (read step by step) or a TensorRT-LLM expert-statistics directory (default: generated step by "
        "step, see --gen-*)");
    app->get_option("--steps")->description("Steps A:B of the series to replay, [A, B) (default: all)");
    for (CLI::Option* g : o->gen.options) g->excludes(trace_opt);
    return {app, [o] { return run_simulate(*o); }};
}

}  // namespace eplb::cli
