// The generator flags, defined once for `eplb gen-trace` (--num-steps, ...) and `eplb simulate`
// (the same flags with a prefix: --gen-num-steps, ...), and their resolution into GenTraceOptions
// (--from-traces files are read here, at the edge).
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "eplb/gen_trace.h"

namespace eplb::cli {

struct GenCliOptions {
    GenTraceOptions gen;  // holds the defaults shown in --help, then the parsed values
    std::vector<std::string> from_traces;
    std::string prefix;                 // "" or "gen-"
    std::vector<CLI::Option*> options;  // every generator flag, to ask which were given
    CLI::Option *num_layers_opt = nullptr, *first_layer_opt = nullptr, *num_experts_opt = nullptr,
                *top_k_opt = nullptr, *from_traces_opt = nullptr;
};

// Adds the generator flags, named --PREFIXnum-steps etc., in the help group `group`.
void add_gen_options(CLI::App& app, GenCliOptions& options, const std::string& prefix,
                     const std::string& group);

// Whether any generator flag was given.
bool any_gen_option(const GenCliOptions& options);

// The generator options: the parsed flags; with --from-traces the traces' aggregate loads (summed
// over their steps) become the workloads and their layer ids the rows. Invalid input naming the
// file when the traces disagree in shape.
GenTraceOptions resolve_gen_options(const GenCliOptions& options);

// One line saying what the generator makes, for reports ("Zipf skew 0.45, 4096 tokens x top-8 per
// step, drift 0.01, seed 1").
std::string describe_gen_options(const GenCliOptions& options);

}  // namespace eplb::cli
