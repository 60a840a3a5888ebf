// `eplb plan`: compute a placement for a trace and a config, report its balance, write its JSON.
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/input_options.h"
#include "eplb/metrics.h"
#include "io/file_util.h"
#include "io/placement_io.h"
#include "io/report.h"

namespace eplb::cli {

struct PlanOptions {
    InputOptions input;
    std::string output;
    bool json = false;
};

int run_plan(const PlanOptions& o) {
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
    // Streamed: the JSON of a large model (1000 layers x 4096 experts is ~300 MB) never exists as
    // one string or DOM.
    if (!o.output.empty()) {
        io::write_file_atomic(
            o.output, [&](std::ostream& out) { io::write_placement_json(out, doc, &metrics, nullptr); });
    }
    if (o.json) {
        io::write_file_atomic(
            "-", [&](std::ostream& out) { io::write_placement_json(out, doc, &metrics, nullptr); });
    } else {
        std::cout << io::render_placement_report("eplb plan: " + in.title, doc, metrics, nullptr);
        if (!o.output.empty()) std::cout << "\nplacement written to " << o.output << "\n";
    }
    return 0;
}

Command setup_plan(CLI::App& parent) {
    auto o = std::make_shared<PlanOptions>();
    CLI::App* app = parent.add_subcommand("plan", "Compute a placement for a trace and report its balance");
    add_input_options(*app, o->input, true);
    app->add_option("-o,--output", o->output, "Write the placement JSON (eplb.placement/v1) to this file");
    app->add_flag("--json", o->json, "Print the placement JSON on stdout instead of the report");
    return {app, [o] { return run_plan(*o); }};
}

}  // namespace eplb::cli
