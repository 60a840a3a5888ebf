// `eplb gen-trace`: write a deterministic synthetic trace (JSON, CSV or .npy by extension).
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/gen_options.h"
#include "io/trace_io.h"

namespace eplb::cli {

struct GenTraceCliOptions {
    GenCliOptions gen;
    std::string output;
    std::string model;
};

int run_gen_trace(const GenTraceCliOptions& o) {
    LoadTrace trace = generate_trace(resolve_gen_options(o.gen));
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
    CLI::App* app = parent.add_subcommand("gen-trace",
                                          "Generate a synthetic expert-load trace (Zipf-like skew or a "
                                          "mixture of measured workloads; drift and "
                                          "regime switches over steps)");
    app->add_option("-o,--output", o->output,
                    "Output file: .json (eplb.trace/v1), .csv or .npy; - for JSON on stdout")
        ->required();
    add_gen_options(*app, o->gen, "", "Options");
    app->add_option("--model", o->model, "Model name recorded in the trace");
    return {app, [o] { return run_gen_trace(*o); }};
}

}  // namespace eplb::cli
