// `eplb evaluate`: score an existing placement on a (possibly different) trace.
#include <algorithm>
#include <iostream>
#include <memory>
#include <optional>

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
    EnginePlacementOptions engine;
    bool json = false;
};

int run_evaluate(const EvaluateOptions& o) {
    LoadTrace trace = io::read_trace(o.trace_path);
    io::PlacementFormat format = io::PlacementFormat::kEplb;
    io::PlacementDoc doc =
        read_placement_flag(o.placement_path, "--placement", o.engine, trace.num_experts, &format);
    EPLB_CHECK(trace.num_experts == doc.config.num_logical_experts,
               o.trace_path << " has " << trace.num_experts << " experts but " << o.placement_path
                            << " places " << doc.config.num_logical_experts);
    // The layer-id rule, with the placement's layers as the deployment's MoE layers when they are
    // contiguous (a placement planned on moe_layers).
    std::optional<Range> placed;
    if (doc.layer_ids.back() - doc.layer_ids.front() + 1 == static_cast<int>(doc.layer_ids.size()))
        placed = Range{doc.layer_ids.front(), doc.layer_ids.back() + 1};
    give_layer_ids(trace, o.first_layer, placed, o.trace_path, "the placement's layers");
    // SGLang's and TensorRT-LLM's rows are model layers: row numbers would match the wrong ones.
    if (format == io::PlacementFormat::kSglang || format == io::PlacementFormat::kTrtllm) {
        require_model_layer_ids(trace, o.trace_path,
                                std::string("scoring a ") + io::placement_format_name(format) + " placement");
    }
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
    if (o.json) {
        io::write_evaluation_json(std::cout, o.placement_path, o.trace_path, m, ids, load_digest(load, ids));
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
    app->add_option("--trace", o->trace_path,
                    "Trace to score it on (a file or a TensorRT-LLM statistics directory)")
        ->required();
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
