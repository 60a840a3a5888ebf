// eplb's entry point: registers the subcommands, parses argv, runs the chosen one and maps errors
// to the exit codes of DESIGN.md (2 usage, 3 invalid input, 4 device/runtime).
#include <iostream>
#include <new>

#include "cli/commands.h"
#include "eplb/error.h"
#include "eplb_config.h"
#include "io/file_util.h"

int main(int argc, char** argv) {
    using namespace eplb::cli;
    CLI::App app{
        "eplb: expert-parallel load balancing for Mixture-of-Experts models.\n"
        "Plans expert placements (DeepSeek's EPLB, exactly), scores them, and more."};
    app.set_version_flag("--version", EPLB_VERSION);
    app.require_subcommand(1);
    // Usage errors on one line like every other error (CLI11's default adds a second line), naming
    // the subcommand so that its --help is one copy-paste away. Set before the subcommands copy it.
    app.failure_message([](const CLI::App* a, const CLI::Error& e) {
        std::string name = "eplb";
        for (const CLI::App* sub : a->get_subcommands()) name += " " + sub->get_name();
        return name + ": usage error: " + e.what() + " (see " + name + " --help)\n";
    });
    const Command commands[] = {setup_plan(app),     setup_evaluate(app), setup_gen_trace(app),
                                setup_bench(app),    setup_check(app),    setup_convert(app),
                                setup_simulate(app), setup_shuffle(app)};
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return code == 0 ? 0 : 2;
    }
    for (const Command& c : commands) {
        if (!c.app->parsed()) continue;
        try {
            const int code = c.run();
            // A document on stdout that could not be written (closed stdout, full disk) fails.
            eplb::io::finish_stdout();
            return code;
        } catch (const eplb::Error& e) {
            std::cerr << "eplb " << c.app->get_name() << ": error: " << e.what() << "\n";
            return e.exit_code();
        } catch (const std::bad_alloc&) {
            std::cerr << "eplb " << c.app->get_name() << ": error: out of memory\n";
            return 4;
        } catch (const std::exception& e) {
            std::cerr << "eplb " << c.app->get_name() << ": internal error: " << e.what() << "\n";
            return 4;
        }
    }
    return 2;
}
