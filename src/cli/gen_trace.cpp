// `eplb gen-trace`: write a deterministic synthetic trace (JSON, CSV or .npy by extension), generated
// and written a chunk of steps at a time (20,000 steps of DeepSeek-V3 never sit in memory).
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/gen_options.h"
#include "cli/progress.h"
#include "eplb/error.h"
#include "io/file_util.h"
#include "io/trace_io.h"
#include "io/written_file.h"

namespace eplb::cli {

struct GenTraceCliOptions {
    GenCliOptions gen;
    std::string output;
    std::string model;
    bool json = false;
};

int run_gen_trace(const GenTraceCliOptions& o) {
    if (o.json && io::is_stdout_path(o.output)) {
        EPLB_FAIL_KIND(ErrorKind::kUsage,
                       "--json prints a description on stdout, where -o - writes the trace (see "
                       "eplb gen-trace --help)");
    }
    const io::TraceFormat format = io::trace_format_of(o.output);
    TraceGenerator generator(resolve_gen_options(o.gen));
    check_generated_size(generator);
    const int steps = generator.num_steps(), layers = generator.num_layers(),
              experts = generator.num_experts();
    const std::vector<int> layer_ids = generator.layer_ids();
    {
        ProgressBar bar;
        io::write_trace(generator, io::TraceInfo{layer_ids, o.model, 0}, o.output, format,
                        [&bar](int done, int total) { bar.update(done, total); });
    }
    if (o.json) {
        io::WrittenFile w;
        w.schema = "eplb.gen_trace_result/v1";
        w.path = o.output;
        w.kind = "trace";
        w.format = io::trace_format_name(format);
        w.shape = {steps, layers, experts};
        w.layer_ids = layer_ids;
        w.first_step = 0;
        w.end_step = steps;
        w.bytes = io::bytes_on_disk(o.output);
        io::write_file_atomic("-", io::written_file_json(w));
    }
    if (!io::is_stdout_path(o.output)) {
        std::cerr << "wrote " << o.output << ": " << steps << " steps x " << layers << " layers x " << experts
                  << " experts\n";
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
    app->add_flag("--json", o->json,
                  "Print what was written as JSON (schema eplb.gen_trace_result/v1: path, format, shape, "
                  "layers, steps, bytes)");
    return {app, [o] { return run_gen_trace(*o); }};
}

}  // namespace eplb::cli
