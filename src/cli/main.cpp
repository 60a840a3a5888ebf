// eplb's entry point: registers the subcommands, parses argv, runs the chosen one and maps errors
// to the exit codes of DESIGN.md (2 usage, 3 invalid input, 4 device/runtime).
#include <iostream>
#include <new>
#include <string>
#include <vector>

#include "backends/backends.h"
#include "cli/commands.h"
#include "eplb/error.h"
#include "eplb/names.h"
#include "io/file_util.h"

int main(int argc, char** argv) {
    using namespace eplb::cli;
    CLI::App app{
        "eplb: expert-parallel load balancing for Mixture-of-Experts models.\n"
        "Plans expert placements (DeepSeek's EPLB, exactly), scores them, and more.\n"
        "`eplb help SUBCOMMAND` (or `eplb SUBCOMMAND --help`) shows a subcommand's options."};
    app.set_version_flag(
        "-V,--version", [] { return eplb::build_description(); },
        "Print the version, the CUDA and NCCL versions of this build and whether a GPU is usable");
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
    std::vector<std::string> names;
    for (const Command& c : commands) names.push_back(c.app->get_name());

    // `eplb help [SUBCOMMAND]` is `eplb [SUBCOMMAND] --help`; a first word that is no subcommand is
    // refused with the closest name (CLI11 would only say that a subcommand is required).
    std::vector<std::string> args(argv + 1, argv + argc);
    if (!args.empty() && args[0] == "help") {
        if (args.size() > 2) {
            std::cerr << "eplb: usage error: `eplb help` takes one subcommand at most (see eplb --help)\n";
            return 2;
        }
        args.erase(args.begin());
        args.push_back("--help");
    }
    if (!args.empty() && !args[0].empty() && args[0][0] != '-') {
        bool known = false;
        for (const std::string& n : names) known = known || n == args[0];
        if (!known) {
            const std::string suggestion = eplb::closest_name(args[0], names);
            std::cerr << "eplb: usage error: unknown subcommand '" << eplb::printable(args[0]) << "'"
                      << (suggestion.empty() ? "" : "; did you mean '" + suggestion + "'?")
                      << " (subcommands: " <<
                [&] {
                    std::string list;
                    for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
                    return list;
                }() << ")\n";
            return 2;
        }
    }
    std::vector<char*> new_argv{argv[0]};
    for (std::string& a : args) new_argv.push_back(a.data());
    try {
        app.parse(static_cast<int>(new_argv.size()), new_argv.data());
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
            std::cerr << "eplb " << c.app->get_name() << ": "
                      << (e.kind() == eplb::ErrorKind::kUsage ? "usage error: " : "error: ") << e.what()
                      << "\n";
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
