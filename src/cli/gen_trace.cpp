// `eplb gen-trace`: write a deterministic synthetic trace (JSON, CSV or .npy by extension).
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "eplb/gen_trace.h"
#include "io/trace_io.h"

namespace eplb::cli {

struct GenTraceCliOptions {
    GenTraceOptions gen;
    std::string output;
    std::string model;
};

int run_gen_trace(const GenTraceCliOptions& o) {
    LoadTrace trace = generate_trace(o.gen);
    trace.model = o.model;
    io::write_trace(trace, o.output);
    if (o.output != "-") {
        std::cerr << "wrote " << o.output << ": " << trace.num_steps << " steps x " << trace.num_layers
                  << " layers x " << trace.num_experts << " experts\n";
    }
    return 0;
}

Command setup_gen_trace(CLI::App& parent) {
    auto o = std::make_shared<GenTraceCliOptions>();
    CLI::App* app = parent.add_subcommand(
        "gen-trace", "Generate a synthetic expert-load trace (Zipf-like skew, per-layer hot experts, drift)");
    GenTraceOptions& g = o->gen;
    app->add_option("-o,--output", o->output,
                    "Output file: .json (eplb.trace/v1), .csv or .npy; - for JSON on stdout")
        ->required();
    app->add_option("--num-layers", g.num_layers, "MoE layers")->capture_default_str();
    app->add_option("--first-layer", g.first_layer_id, "Model layer id of the first MoE layer")
        ->capture_default_str();
    app->add_option("--num-experts", g.num_experts, "Logical experts per layer")->capture_default_str();
    app->add_option("--num-steps", g.num_steps, "Steps (rows of the time series)")->capture_default_str();
    app->add_option("--tokens", g.tokens_per_step, "Tokens per step and layer")->capture_default_str();
    app->add_option("--top-k", g.top_k, "Experts per token")->capture_default_str();
    app->add_option("--skew", g.skew,
                    "Zipf exponent: the expert of popularity rank i gets weight (i+1)^-skew")
        ->capture_default_str();
    app->add_option("--drift", g.drift, "Per-step std of each expert's log-popularity (mean-reverting walk)")
        ->capture_default_str();
    app->add_option("--seed", g.seed, "Random seed")->capture_default_str();
    app->add_option("--model", o->model, "Model name recorded in the trace");
    return {app, [o] { return run_gen_trace(*o); }};
}

}  // namespace eplb::cli
