// `eplb plan`: compute a placement for a trace and a config, report its balance, write its JSON.
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/input_options.h"
#include "eplb/metrics.h"
#include "io/engine_export.h"
#include "io/file_util.h"
#include "io/placement_io.h"
#include "io/report.h"

namespace eplb::cli {

struct PlanOptions {
    InputOptions input;
    std::string output;
    std::vector<std::pair<std::string, std::string>> exports;  // (format, file), --export repeated
    int num_model_layers = 0;
    bool json = false;
};

int run_plan(const PlanOptions& o) {
    std::vector<io::PlacementFormat> formats;
    for (const auto& [format, file] : o.exports) formats.push_back(io::parse_placement_format(format));
    const ResolvedInput in = resolve_input(o.input);
    std::string notice;
    const auto planner = make_planner(o.input.backend, &notice);
    if (!notice.empty()) std::cerr << notice << "\n";
    io::PlacementDoc doc;
    doc.config = in.config;
    doc.policy = policy_name(in.policy);
    doc.layer_ids = in.trace.layer_ids;
    doc.placement = planner->plan(in.load, in.config, in.policy);
    doc.backend = planner->name();
    doc.trace_source = in.trace_source;
    doc.config_source = in.config_source;
    doc.model = in.model;
    doc.expert_bytes = in.expert_bytes;
    const Metrics metrics = evaluate(doc.placement.phy2log, in.load, in.config);
    const std::string json = io::placement_to_json(doc, &metrics, nullptr);
    // Render every output before writing any, so that a bad export option leaves no file behind.
    std::vector<std::string> exported;
    for (const io::PlacementFormat format : formats) {
        exported.push_back(io::export_placement(doc, format, o.num_model_layers));
    }
    if (!o.output.empty()) io::write_file_atomic(o.output, json);
    for (size_t i = 0; i < exported.size(); ++i) io::write_file_atomic(o.exports[i].second, exported[i]);
    if (o.json) {
        std::cout << json;
    } else {
        std::cout << io::render_placement_report("eplb plan: " + in.title, doc, metrics, nullptr);
        if (!o.output.empty()) std::cout << "\nplacement written to " << o.output << "\n";
        for (size_t i = 0; i < formats.size(); ++i) {
            std::cout << (o.output.empty() && i == 0 ? "\n" : "") << io::placement_format_name(formats[i])
                      << " export written to " << o.exports[i].second << "\n";
        }
    }
    return 0;
}

Command setup_plan(CLI::App& parent) {
    auto o = std::make_shared<PlanOptions>();
    CLI::App* app = parent.add_subcommand("plan", "Compute a placement for a trace and report its balance");
    add_input_options(*app, o->input, true);
    app->add_option("-o,--output", o->output, "Write the placement JSON (eplb.placement/v1) to this file");
    app->add_option("--export", o->exports,
                    "Also write the placement for an engine: sglang (--init-expert-location JSON), trtllm "
                    "(moe_load_balancer YAML), vllm (EplbState tensors as JSON) or eplb; repeatable")
        ->allow_extra_args(false)
        ->type_name("FORMAT FILE")
        ->check(CLI::IsMember({"eplb", "sglang", "trtllm", "vllm"}, CLI::ignore_case).application_index(0));
    app->add_option(
        "--num-model-layers", o->num_model_layers,
        "SGLang export: rows for this many model layers, dense ones included (default: last layer id "
        "+ 1)");
    app->add_flag("--json", o->json, "Print the placement JSON on stdout instead of the report");
    return {app, [o] { return run_plan(*o); }};
}

}  // namespace eplb::cli
