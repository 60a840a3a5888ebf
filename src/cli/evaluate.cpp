// `eplb evaluate`: score an existing placement on a (possibly different) trace.
#include <algorithm>
#include <iostream>
#include <memory>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/input_options.h"
#include "cli/option_types.h"
#include "eplb/error.h"
#include "eplb/metrics.h"
#include "io/engine_export.h"
#include "io/placement_io.h"
#include "io/report.h"
#include "io/trace_io.h"

namespace eplb::cli {

struct EvaluateOptions {
    std::string placement_path, trace_path, layers, steps;
    int first_layer = -1;
    std::vector<std::string> trace_paths;  // --trace, repeatable: one workload each
    EnginePlacementOptions engine;
    bool json = false;
};

namespace {

// The placement's rows for the trace's layers (by model layer id, --layers narrowing both), scored.
struct Scored {
    Metrics metrics;
    std::vector<int> layer_ids;
    LoadMatrix load;  // the scored rows of the trace
};

Scored score_on_trace(const EvaluateOptions& o, const io::PlacementDoc& doc, const LoadTrace& trace) {
    EPLB_CHECK(trace.num_experts == doc.config.num_logical_experts,
               o.trace_path << " has " << trace.num_experts << " experts but " << o.placement_path
                            << " places " << doc.config.num_logical_experts);
    // Match the placement's rows to the trace's layers by model layer id; --layers narrows both.
    Range keep{0, -1};
    if (!o.layers.empty()) keep = parse_range(o.layers, "--layers");
    std::vector<int> rows;
    for (int l = 0; l < doc.placement.num_layers(); ++l) {
        const int id = doc.layer_ids[l];
        if (id >= keep.first && (keep.end == -1 || id < keep.end)) rows.push_back(l);
    }
    EPLB_CHECK(!rows.empty(), o.placement_path << ": --layers " << o.layers << " selects none of its layers ("
                                               << doc.layer_ids.front() << ".." << doc.layer_ids.back()
                                               << ")");
    LoadMatrix load(static_cast<Eigen::Index>(rows.size()), trace.num_experts);
    Range steps{0, trace.num_steps};
    if (!o.steps.empty()) {
        steps = parse_range(o.steps, "--steps");
        if (steps.end == -1) steps.end = trace.num_steps;
    }
    LoadMatrix all;
    try {
        all = trace.sum_steps(steps.first, steps.end);
    } catch (const Error& e) {
        EPLB_FAIL(o.trace_path << ": " << e.what());
    }
    IndexMatrix phy2log(static_cast<Eigen::Index>(rows.size()), doc.placement.num_slots());
    std::vector<int> ids;
    for (size_t i = 0; i < rows.size(); ++i) {
        const int id = doc.layer_ids[rows[i]];
        const auto it = std::find(trace.layer_ids.begin(), trace.layer_ids.end(), id);
        EPLB_CHECK(it != trace.layer_ids.end(),
                   o.trace_path << " has no layer " << id << " (the placement's layer "
                                << "ids run " << doc.layer_ids.front() << ".." << doc.layer_ids.back() << ")"
                                << (trace.has_layer_ids ? ""
                                                        : "; the trace has no layer ids, so "
                                                          "its rows are numbered from 0: pass "
                                                          "--first-layer N"));
        load.row(i) = all.row(it - trace.layer_ids.begin());
        phy2log.row(i) = doc.placement.phy2log.row(rows[i]);
        ids.push_back(id);
    }
    const Metrics m = evaluate(phy2log, load, doc.config);
    return {m, ids, std::move(load)};
}

// One row per workload and the worst (lowest balancedness), or their JSON.
int report_workloads(const EvaluateOptions& o, const io::PlacementDoc& doc,
                     const std::vector<LoadTrace>& traces) {
    std::vector<Scored> scored;
    for (size_t i = 0; i < traces.size(); ++i) {
        EPLB_CHECK(
            traces[i].num_experts == traces[0].num_experts && traces[i].layer_ids == traces[0].layer_ids,
            o.trace_paths[i] << " has " << trace_shape(traces[i]) << " but " << o.trace_paths[0] << " has "
                             << trace_shape(traces[0])
                             << ": every --trace must have the same layers and experts");
        EvaluateOptions one = o;
        one.trace_path = o.trace_paths[i];
        scored.push_back(score_on_trace(one, doc, traces[i]));
    }
    size_t worst = 0;
    for (size_t i = 1; i < scored.size(); ++i) {
        if (scored[i].metrics.balancedness < scored[worst].metrics.balancedness) worst = i;
    }
    auto row = [&](size_t i) {
        const Metrics& m = scored[i].metrics;
        return nlohmann::ordered_json{{"trace", o.trace_paths[i]},
                                      {"balancedness", m.balancedness},
                                      {"mean_layer_balancedness", m.mean_layer_balancedness},
                                      {"imbalance", m.imbalance},
                                      {"gap", m.gap},
                                      {"worst_layer", scored[i].layer_ids[m.worst_layer]}};
    };
    if (o.json) {
        nlohmann::ordered_json j{{"schema", "eplb.evaluation.workloads/v1"}, {"placement", o.placement_path}};
        j["workloads"] = nlohmann::ordered_json::array();
        for (size_t i = 0; i < scored.size(); ++i) j["workloads"].push_back(row(i));
        j["worst"] = row(worst);
        std::cout << j.dump(2) << "\n";
        return 0;
    }
    std::cout << "eplb evaluate: placement " << o.placement_path << " (policy " << doc.policy
              << ") scored on " << scored.size() << " workloads\n\n";
    std::cout << io::format("%-12s %-12s %-10s %-9s %-6s %s\n", "balancedness", "layer mean", "imbalance",
                            "gap", "layer", "trace (worst layer: its model layer id)");
    for (size_t i = 0; i <= scored.size(); ++i) {
        const size_t k = i < scored.size() ? i : worst;
        const Metrics& m = scored[k].metrics;
        std::cout << io::format(
            "%-12.4f %-12.4f %-10s %-9s %-6d %s\n", m.balancedness, m.mean_layer_balancedness,
            io::format("%.2f%%", 100 * m.imbalance).c_str(), io::format("%.3f%%", 100 * m.gap).c_str(),
            scored[k].layer_ids[m.worst_layer],
            (i < scored.size() ? o.trace_paths[k] : "worst: " + o.trace_paths[k]).c_str());
    }
    return 0;
}

}  // namespace

int run_evaluate(const EvaluateOptions& o_in) {
    EvaluateOptions o = o_in;
    std::vector<LoadTrace> traces;
    for (const std::string& path : o.trace_paths) traces.push_back(io::read_trace(path));
    io::PlacementFormat format = io::PlacementFormat::kEplb;
    const io::PlacementDoc doc =
        read_placement_flag(o.placement_path, "--placement", o.engine, traces.front().num_experts, &format);
    // The layer-id rule, with the placement's layers as the deployment's MoE layers when they are
    // contiguous (a placement planned on moe_layers).
    std::optional<Range> placed;
    if (doc.layer_ids.back() - doc.layer_ids.front() + 1 == static_cast<int>(doc.layer_ids.size()))
        placed = Range{doc.layer_ids.front(), doc.layer_ids.back() + 1};
    for (size_t i = 0; i < traces.size(); ++i) {
        give_layer_ids(traces[i], o.first_layer, placed, o.trace_paths[i], "the placement's layers");
        // SGLang's and TensorRT-LLM's rows are model layers: row numbers would match the wrong ones.
        if (format == io::PlacementFormat::kSglang || format == io::PlacementFormat::kTrtllm) {
            require_model_layer_ids(
                traces[i], o.trace_paths[i],
                std::string("scoring a ") + io::placement_format_name(format) + " placement");
        }
    }
    if (traces.size() > 1) return report_workloads(o, doc, traces);
    o.trace_path = o.trace_paths.front();
    const Scored s = score_on_trace(o, doc, traces.front());
    const Metrics& m = s.metrics;
    const std::vector<int>& ids = s.layer_ids;
    if (o.json) {
        io::write_evaluation_json(std::cout, o.placement_path, o.trace_path, m, ids,
                                  load_digest(s.load, ids));
        return 0;
    }
    io::PlacementDoc shown = doc;
    shown.layer_ids = ids;
    std::cout << io::render_placement_report(
        "eplb evaluate: placement " + o.placement_path + " scored on trace " + o.trace_path, shown, m,
        nullptr);
    return 0;
}

Command setup_evaluate(CLI::App& parent) {
    auto o = std::make_shared<EvaluateOptions>();
    CLI::App* app =
        parent.add_subcommand("evaluate", "Score an existing placement on a trace (out-of-sample check)");
    app->add_option("--placement", o->placement_path,
                    "Placement: eplb JSON (eplb.placement/v1), SGLang or vLLM JSON, TensorRT-LLM YAML")
        ->required();
    app->add_option("--trace", o->trace_paths,
                    "Trace to score it on (a file or a TensorRT-LLM statistics directory); repeat to score "
                    "several workloads: a row each and the worst")
        ->required()
        ->allow_extra_args(false);
    app->add_option("--layers", o->layers,
                    "Model layers A:B to score, [A, B) (default: all of the placement's)")
        ->check(range_syntax());
    add_first_layer_option(*app, o->first_layer);
    app->add_option("--steps", o->steps, "Steps A:B of a time series to sum (default: all)")
        ->check(range_syntax());
    add_engine_placement_options(*app, o->engine);
    app->add_flag("--json", o->json, "Print the metrics as JSON");
    return {app, [o] { return run_evaluate(*o); }};
}

}  // namespace eplb::cli
