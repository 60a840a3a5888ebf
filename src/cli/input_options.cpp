// Resolution of the shared input flags (see input_options.h).
#include "cli/input_options.h"

#include <algorithm>
#include <functional>
#include <iostream>

#include "backends/backends.h"
#include "cli/option_types.h"
#include "eplb/error.h"
#include "eplb/gen_trace.h"
#include "io/config_io.h"
#include "io/engine_export.h"
#include "io/trace_io.h"

namespace eplb::cli {

void add_input_options(CLI::App& app, InputOptions& o, bool with_policy, bool multi_trace) {
    const std::string trace_help =
        "Expert-load trace: JSON (SGLang logical_count, eplb load-history, eplb.trace/v1), CSV, .npy, an "
        "SGLang "
        ".pt dump (a file, or a directory of per-pass rank files) or a TensorRT-LLM expert-statistics "
        "directory (default: a synthetic DeepSeek-V3 trace)";
    if (multi_trace) {
        app.add_option("--trace", o.trace_paths,
                       trace_help +
                           "; repeat for several workloads (robust plans for the worst of them, the "
                           "other policies for their sum)")
            ->allow_extra_args(false);
        app.add_option("--workloads-from-steps", o.workloads_from_steps,
                       "Cut the (one) trace's selected steps into K consecutive chunks, one workload each")
            ->check(in_range(1, kMaxConfigCount));
    } else {
        app.add_option("--trace", o.trace_path, trace_help);
    }
    app.add_option("--config", o.config_path,
                   "Parallel config JSON (keys named like the flags; flags override it)");
    const double max_count = kMaxConfigCount;
    o.num_groups_opt =
        app.add_option("--num-groups", o.num_groups, "Expert groups G (DeepSeek-V3: 8) [default: 1]")
            ->check(in_range(1, max_count));
    o.num_nodes_opt =
        app.add_option("--num-nodes", o.num_nodes, "Nodes N [default: 1]")->check(in_range(1, max_count));
    o.num_gpus_opt =
        app.add_option("--num-gpus", o.num_gpus, "GPUs (EP ranks) P")->check(in_range(1, max_count));
    o.num_redundant_opt = app.add_option("--num-redundant-experts", o.num_redundant_experts,
                                         "Redundant slots: R = E + this [default: 0]")
                              ->check(in_range(0, max_count));
    o.num_physical_opt = app.add_option("--num-physical-experts", o.num_physical_experts, "Slots R in all")
                             ->check(in_range(1, max_count))
                             ->excludes(o.num_redundant_opt);
    app.add_option("--layers", o.layers,
                   "Model layers A:B to use, [A, B) (default: the config's moe_layers, else all)")
        ->check(range_syntax());
    add_first_layer_option(app, o.first_layer);
    app.add_option("--physical-map", o.physical_map,
                   "The trace's columns are physical slots ([T][L][R], e.g. vLLM's expert_load_window): fold "
                   "each slot's load into the expert this placement (any format of --previous) puts there");
    app.add_option("--steps", o.steps, "Steps A:B of a time series to sum, [A, B) (default: all)")
        ->check(range_syntax());
    if (with_policy) {
        o.policy_opt = add_enum_option<Policy>(app, "--policy", o.policy, kPolicyNames, "Placement policy")
                           ->default_str(policy_name(Policy::kDeepseek));
        add_backend_option(app, o);
    }
}

CLI::Option* add_first_layer_option(CLI::App& app, int& first_layer) {
    return app
        .add_option("--first-layer", first_layer,
                    "Model layer id of the first row of a trace without layer ids (.npy, load-history "
                    "JSON); default: the config's moe_layers when the row count matches, else none")
        ->check(in_range(0, 1 << 30));
}

void give_layer_ids(LoadTrace& trace, int first_layer, const std::optional<Range>& moe_layers,
                    const std::string& source, const std::string& moe_what) {
    const std::optional<int> first = first_layer >= 0 ? std::optional<int>(first_layer) : std::nullopt;
    const std::string note = resolve_layer_ids(trace, first, moe_layers, source, moe_what);
    if (!note.empty()) std::cerr << note << "\n";
}

LoadTrace fold_by_placement(const LoadTrace& trace, const std::string& map_path, const io::ConfigFile& file) {
    io::PlacementImportOptions import;
    if (file.num_logical_experts) import.num_logical_experts = *file.num_logical_experts;
    const io::PlacementDoc map = io::read_any_placement(map_path, import);
    return fold_physical_slots(trace, map.placement.phy2log, map.layer_ids, map.config.num_logical_experts,
                               map_path);
}

void add_backend_option(CLI::App& app, InputOptions& o) {
    o.backend_opt = add_enum_option<Backend>(app, "--backend", o.backend, kBackendNames,
                                             "Planner backend: auto = CUDA when a GPU is present, else CPU")
                        ->default_str(backend_name(Backend::kAuto));
}

std::unique_ptr<Planner> make_cli_planner(const InputOptions& o) {
    std::string notice;
    auto planner = make_planner(o.backend, &notice);
    if (!notice.empty() && o.backend_opt && o.backend_opt->count()) std::cerr << notice << "\n";
    return planner;
}

void add_engine_placement_options(CLI::App& app, EnginePlacementOptions& o) {
    const double max_count = kMaxConfigCount;
    const std::string group = "Placements in engine formats (they record no config)";
    app.add_option("--num-gpus", o.num_gpus, "GPUs P of an SGLang, TensorRT-LLM or vLLM placement")
        ->check(in_range(1, max_count))
        ->group(group);
    app.add_option("--num-nodes", o.num_nodes, "Nodes N of such a placement [default: 1]")
        ->check(in_range(1, max_count))
        ->group(group);
    app.add_option("--num-groups", o.num_groups, "Expert groups G of such a placement [default: 1]")
        ->check(in_range(1, max_count))
        ->group(group);
}

io::PlacementDoc read_placement_flag(const std::string& path, const char* flag,
                                     const EnginePlacementOptions& o, int num_logical_experts,
                                     io::PlacementFormat* format_out) {
    io::PlacementImportOptions import;
    import.num_logical_experts = num_logical_experts;
    import.num_groups = o.num_groups;
    import.num_nodes = o.num_nodes;
    import.num_gpus = o.num_gpus;
    io::PlacementFormat format = io::PlacementFormat::kEplb;
    io::PlacementDoc doc = io::read_any_placement(path, import, &format);
    EPLB_CHECK(format == io::PlacementFormat::kEplb || o.num_gpus > 0,
               flag << " " << path << " is a " << io::placement_format_name(format)
                    << " placement, which does not record the GPU count: pass --num-gpus (and --num-nodes, "
                       "--num-groups)");
    if (format_out) *format_out = format;
    return doc;
}

void check_config_experts(const std::string& config_path, const io::ConfigFile& file,
                          const std::string& trace_source, int num_experts) {
    if (!file.num_logical_experts) return;
    EPLB_CHECK(*file.num_logical_experts == num_experts,
               "the trace " << trace_source << " has " << num_experts << " experts but "
                            << (config_path.empty() ? "the case" : "the config " + config_path) << " says "
                            << *file.num_logical_experts
                            << " (num_logical_experts): is the trace of another model?");
}

namespace {

// The embedded default: DeepSeek-V3 shapes on 4 nodes x 8 GPUs with 32 redundant experts
// (configs/deepseek-v3-ep32.json), on `eplb gen-trace --first-layer 3 --seed 1`.
constexpr int kDefaultGroups = 8, kDefaultNodes = 4, kDefaultGpus = 32, kDefaultRedundant = 32;

}  // namespace

GenTraceOptions embedded_trace_options() {
    GenTraceOptions g;
    g.num_layers = 58;
    g.first_layer_id = 3;
    g.num_experts = 256;
    g.seed = 1;
    return g;
}

namespace {

// Runs f; an invalid-input error it throws comes back with `prefix` in front of its message.
void prefix_errors(const std::string& prefix, const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        if (e.kind() != ErrorKind::kInvalidInput) throw;
        EPLB_FAIL(prefix << e.what());
    }
}

}  // namespace

ParallelConfig resolve_parallel_config(const InputOptions& o, const io::ConfigFile& file, int num_experts,
                                       bool embedded, const std::string& trace_source) {
    check_config_experts(o.config_path, file, trace_source, num_experts);
    // Config: flags override the file; the embedded default fills what neither gives.
    ParallelConfig c;
    c.num_logical_experts = num_experts;
    auto pick = [](const CLI::Option* flag, int flag_value, const std::optional<int>& from_file,
                   int fallback) {
        if (flag && flag->count()) return flag_value;
        return from_file ? *from_file : fallback;
    };
    c.num_groups = pick(o.num_groups_opt, o.num_groups, file.num_groups, embedded ? kDefaultGroups : 1);
    c.num_nodes = pick(o.num_nodes_opt, o.num_nodes, file.num_nodes, embedded ? kDefaultNodes : 1);
    const bool gpus_given = (o.num_gpus_opt && o.num_gpus_opt->count()) || file.num_gpus;
    EPLB_CHECK(gpus_given || embedded,
               "num_gpus is not set: pass --num-gpus P or a --config with \"num_gpus\"");
    c.num_gpus = pick(o.num_gpus_opt, o.num_gpus, file.num_gpus, kDefaultGpus);
    if (o.num_physical_opt && o.num_physical_opt->count()) {
        c.num_physical_experts = o.num_physical_experts;
    } else if (o.num_redundant_opt && o.num_redundant_opt->count()) {
        EPLB_CHECK(
            o.num_redundant_experts >= 0 && o.num_redundant_experts <= kMaxConfigCount,
            "--num-redundant-experts (" << o.num_redundant_experts << ") must be 0.." << kMaxConfigCount);
        c.num_physical_experts = c.num_logical_experts + o.num_redundant_experts;
    } else if (file.num_physical_experts) {
        c.num_physical_experts = *file.num_physical_experts;
    } else {
        c.num_physical_experts =
            c.num_logical_experts +
            (file.num_redundant_experts ? *file.num_redundant_experts : (embedded ? kDefaultRedundant : 0));
    }
    // A config error names where the values came from: the trace gives E, the file and flags the rest.
    const std::string sources = trace_source + (o.config_path.empty() ? "" : ", " + o.config_path);
    prefix_errors(sources + ": ", [&] { c.validate(); });
    return c;
}

ResolvedInput resolve_input(const InputOptions& o) { return resolve_input(o, io::ConfigFile{}); }

std::string trace_shape(const LoadTrace& t) {
    std::string ids;
    for (size_t i = 0; i < t.layer_ids.size(); ++i) {
        if (i > 0 && t.layer_ids[i] == t.layer_ids[i - 1] + 1 &&
            (i + 1 == t.layer_ids.size() || t.layer_ids[i + 1] != t.layer_ids[i] + 1)) {
            ids += ".." + std::to_string(t.layer_ids[i]);
        } else if (i == 0 || t.layer_ids[i] != t.layer_ids[i - 1] + 1) {
            ids += (ids.empty() ? "" : ",") + std::to_string(t.layer_ids[i]);
        }
    }
    return std::to_string(t.num_layers) + " layers x " + std::to_string(t.num_experts) +
           " experts (model layers " + ids + ")";
}

namespace {

// The first --trace with its layer ids (its physical slots folded by --physical-map), or without
// one the embedded default's generated trace (the config's shapes where it gives them).
LoadTrace read_first_trace(const InputOptions& o, const io::ConfigFile& file, ResolvedInput& in) {
    if (o.trace_path.empty()) {
        if (o.first_layer >= 0 || !o.physical_map.empty()) {
            EPLB_FAIL_KIND(ErrorKind::kUsage, (o.first_layer >= 0 ? "--first-layer" : "--physical-map")
                                                  << " applies to a --trace; there is none");
        }
        GenTraceOptions g = embedded_trace_options();
        if (file.num_logical_experts) g.num_experts = *file.num_logical_experts;
        if (file.top_k) g.top_k = *file.top_k;
        if (file.moe_layers) {
            g.first_layer_id = file.moe_layers->first;
            g.num_layers = file.moe_layers->end - file.moe_layers->first;
        }
        in.trace_source = "synthetic (gen-trace seed 1)";
        return generate_trace(g);
    }
    LoadTrace trace = io::read_trace(o.trace_path);
    in.trace_source = o.trace_path;
    if (!trace.model.empty() && in.model.empty()) in.model = trace.model;
    give_layer_ids(trace, o.first_layer, file.moe_layers, o.trace_path);
    if (!o.physical_map.empty()) {  // after the ids: a map of model layers is matched by them
        trace = fold_by_placement(trace, o.physical_map, file);
        in.trace_source += " (physical slots folded by " + o.physical_map + ")";
    }
    return trace;
}

// --layers, else the config's moe_layers, else all. The MTP layers that follow the MoE layers (model
// layers end, end+1, ...) join when the trace has them (a TensorRT-LLM statistics directory of a run
// with MTP). Errors name the trace.
void select_input_layers(const InputOptions& o, const io::ConfigFile& file, const std::string& trace_source,
                         LoadTrace& trace) {
    if (!o.layers.empty()) {
        const Range r = parse_range(o.layers, "--layers");
        prefix_errors(trace_source + ": ", [&] { trace = select_layers(trace, r); });
    } else if (file.moe_layers) {
        Range moe = *file.moe_layers;
        for (int k = 0; k < file.num_nextn_predict_layers.value_or(0); ++k) {
            if (std::find(trace.layer_ids.begin(), trace.layer_ids.end(), moe.end) == trace.layer_ids.end())
                break;
            ++moe.end;
        }
        const std::string what = "moe_layers of " + o.config_path;
        prefix_errors(trace_source + ": ", [&] { trace = select_layers(trace, moe, what.c_str()); });
    }
}

// in.load: the sum of the --steps selection; --workloads-from-steps K also cuts it into K
// consecutive workloads.
void sum_input_steps(const InputOptions& o, const LoadTrace& trace, ResolvedInput& in) {
    const auto about_trace = [&](const std::function<void()>& f) {
        prefix_errors(in.trace_source + ": ", f);
    };
    Range steps{0, trace.num_steps};
    if (!o.steps.empty()) {
        steps = parse_range(o.steps, "--steps");
        if (steps.end == -1) steps.end = trace.num_steps;
    }
    about_trace([&] { in.load = trace.sum_steps(steps.first, steps.end); });
    if (o.workloads_from_steps <= 0) return;
    const int k = o.workloads_from_steps, n = steps.end - steps.first;
    EPLB_CHECK(k <= n, in.trace_source << ": --workloads-from-steps " << k << " needs at least " << k
                                       << " steps but the selection has " << n);
    for (int i = 0; i < k; ++i) {
        const int first = steps.first + static_cast<int>(static_cast<int64_t>(n) * i / k);
        const int end = steps.first + static_cast<int>(static_cast<int64_t>(n) * (i + 1) / k);
        about_trace([&] { in.workloads.push_back(trace.sum_steps(first, end)); });
        in.workload_names.push_back(in.trace_source + " steps " + std::to_string(first) + ":" +
                                    std::to_string(end));
    }
}

// A further --trace: same shape and layer ids as the first (`first_ids` as read, described by
// `first_shape`), the same layer and step selection; one more workload, and the load the
// sum-planning policies see is the sum of all.
void add_trace_workload(const InputOptions& o, const io::ConfigFile& file, const std::string& path,
                        int num_experts, const std::vector<int>& first_ids, const std::string& first_shape,
                        ResolvedInput& in) {
    LoadTrace other = io::read_trace(path);
    give_layer_ids(other, o.first_layer, file.moe_layers, path);  // the same rule as the first
    if (!o.physical_map.empty()) other = fold_by_placement(other, o.physical_map, file);
    EPLB_CHECK(other.num_experts == num_experts && other.layer_ids == first_ids,
               path << " has " << trace_shape(other) << " but " << o.trace_paths[0] << " has " << first_shape
                    << ": every --trace must have the same layers and experts");
    if (in.workloads.empty()) {
        in.workloads.push_back(in.load);
        in.workload_names.push_back(in.trace_source);
    }
    prefix_errors(path + ": ", [&] {
        if (!o.layers.empty()) {
            other = select_layers(other, parse_range(o.layers, "--layers"));
        } else if (file.moe_layers) {
            const std::string what = "moe_layers of " + o.config_path;
            other = select_layers(other, *file.moe_layers, what.c_str());
        }
        Range s{0, other.num_steps};
        if (!o.steps.empty()) {
            s = parse_range(o.steps, "--steps");
            if (s.end == -1) s.end = other.num_steps;
        }
        in.workloads.push_back(other.sum_steps(s.first, s.end));
    });
    in.workload_names.push_back(path);
    double worst = 0;
    for (Eigen::Index l = 0; l < in.load.rows(); ++l) {
        double total = 0;
        for (Eigen::Index x = 0; x < in.load.cols(); ++x) {
            in.load(l, x) += in.workloads.back()(l, x);
            total += in.load(l, x);
        }
        worst = std::max(worst, total);
    }
    EPLB_CHECK(worst <= kMaxLoad, path << ": the sum of the --trace loads exceeds float32 range");
}

// The first line of a report: what was read or generated.
std::string input_title(const InputOptions& o, const ResolvedInput& in, bool embedded) {
    if (embedded) {
        return "embedded default: DeepSeek-V3 shapes (58 MoE layers x 256 experts, 8 groups) on 4 nodes x 8 "
               "GPUs "
               "with 32 redundant experts, synthetic trace (gen-trace seed 1)";
    }
    std::string traces = in.trace_source;
    for (size_t i = 1; i < o.trace_paths.size(); ++i) traces += ", " + o.trace_paths[i];
    return (o.trace_paths.size() > 1 ? "traces " : "trace ") + traces +
           (in.config_source.empty() ? "" : ", config " + in.config_source);
}

}  // namespace

ResolvedInput resolve_input(const InputOptions& o_in, const io::ConfigFile& overrides) {
    InputOptions o = o_in;
    if (o.trace_path.empty() && !o.trace_paths.empty()) o.trace_path = o.trace_paths.front();
    if (o.workloads_from_steps != 0 && o.trace_paths.size() > 1) {
        EPLB_FAIL_KIND(ErrorKind::kUsage,
                       "--workloads-from-steps cuts one trace into workloads; it cannot be "
                       "combined with "
                           << o.trace_paths.size() << " --trace files");
    }
    ResolvedInput in;
    io::ConfigFile file;
    if (!o.config_path.empty()) {
        file = io::read_config(o.config_path);
        in.config_source = o.config_path;
    }
    io::apply_config_overrides(file, overrides);
    in.model = file.model;
    const bool embedded = o.trace_path.empty() && o.config_path.empty();
    LoadTrace trace = read_first_trace(o, file, in);
    // The first --trace as read, which further ones must match.
    const std::string first_shape = o.trace_paths.size() > 1 ? trace_shape(trace) : "";
    const std::vector<int> first_ids = trace.layer_ids;
    if (!o.trace_path.empty()) check_config_experts(o.config_path, file, in.trace_source, trace.num_experts);
    select_input_layers(o, file, in.trace_source, trace);
    sum_input_steps(o, trace, in);
    for (size_t i = 1; i < o.trace_paths.size(); ++i)
        add_trace_workload(o, file, o.trace_paths[i], trace.num_experts, first_ids, first_shape, in);
    in.config = resolve_parallel_config(o, file, trace.num_experts, embedded, in.trace_source);
    in.policy = o.policy;
    if (file.policy && !(o.policy_opt && o.policy_opt->count())) {
        in.policy = parse_policy(*file.policy, o.config_path + ": policy");
    }
    if (file.expert_bytes) in.expert_bytes = *file.expert_bytes;
    in.moe_layers = file.moe_layers;
    in.num_nextn_predict_layers = file.num_nextn_predict_layers.value_or(0);
    in.trace = std::move(trace);
    in.title = input_title(o, in, embedded);
    return in;
}

}  // namespace eplb::cli
