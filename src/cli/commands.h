// The subcommands: each file src/cli/<name>.cpp registers its options on the parent app and
// returns the function that runs it once parsed.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace eplb::cli {

struct Command {
    CLI::App* app;             // the subcommand, to ask whether it was chosen
    std::function<int()> run;  // runs it; returns the exit code, may throw eplb::Error
};

Command setup_plan(CLI::App& parent);
Command setup_evaluate(CLI::App& parent);
Command setup_gen_trace(CLI::App& parent);
Command setup_bench(CLI::App& parent);
Command setup_check(CLI::App& parent);
Command setup_convert(CLI::App& parent);
Command setup_simulate(CLI::App& parent);
Command setup_shuffle(CLI::App& parent);

}  // namespace eplb::cli
