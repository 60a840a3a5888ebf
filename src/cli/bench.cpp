// `eplb bench`: time planning alone (no I/O) on the input of `plan`; min/median per plan and plans
// per second. `--batch B` plans B copies of the layers in one call, as the simulator does.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/input_options.h"
#include "eplb/error.h"
#include "io/report.h"

namespace eplb::cli {

struct BenchOptions {
    InputOptions input;
    int repeat = 200;
    int batch = 1;
    bool json = false;
};

int run_bench(const BenchOptions& o) {
    EPLB_CHECK(o.repeat >= 1, "--repeat (" << o.repeat << ") must be at least 1");
    EPLB_CHECK(o.batch >= 1, "--batch (" << o.batch << ") must be at least 1");
    const ResolvedInput in = resolve_input(o.input);
    std::string notice;
    const auto planner = make_planner(o.input.backend, &notice);
    if (!notice.empty()) std::cerr << notice << "\n";
    const Eigen::Index rows = in.load.rows();
    LoadMatrix load(rows * o.batch, in.load.cols());
    for (int b = 0; b < o.batch; ++b) load.middleRows(b * rows, rows) = in.load;
    using clock = std::chrono::steady_clock;
    std::vector<double> seconds;
    const int warmup = std::max(1, o.repeat / 10);
    int64_t checksum = 0;  // keeps the work observable
    for (int i = 0; i < warmup + o.repeat; ++i) {
        const auto t0 = clock::now();
        const Placement p = planner->plan(load, in.config, in.policy);
        const auto t1 = clock::now();
        checksum += p.phy2log(0, 0);
        if (i >= warmup) seconds.push_back(std::chrono::duration<double>(t1 - t0).count());
    }
    std::sort(seconds.begin(), seconds.end());
    const double min = seconds.front(), median = seconds[seconds.size() / 2];
    const double plans_per_s = o.batch / median;
    if (o.json) {
        nlohmann::ordered_json j;
        j["schema"] = "eplb.bench/v1";
        j["backend"] = planner->name();
        j["policy"] = policy_name(in.policy);
        j["layers"] = rows;
        j["num_logical_experts"] = in.config.num_logical_experts;
        j["num_physical_experts"] = in.config.num_physical_experts;
        j["batch"] = o.batch;
        j["repeat"] = o.repeat;
        j["min_ms_per_call"] = min * 1e3;
        j["median_ms_per_call"] = median * 1e3;
        j["median_ms_per_plan"] = median * 1e3 / o.batch;
        j["plans_per_second"] = plans_per_s;
        std::cout << j.dump() << "\n";
    } else {
        std::cout << "eplb bench: " << in.title << "\n";
        std::cout << io::format(
            "%s policy, %s backend: %lld layers x %d experts -> %d slots, batch %d, %d runs\n",
            policy_name(in.policy), planner->name(), static_cast<long long>(rows),
            in.config.num_logical_experts, in.config.num_physical_experts, o.batch, o.repeat);
        io::TextTable t({"", "ms per call", "ms per plan"});
        t.add_row({"min", io::format("%.4f", min * 1e3), io::format("%.4f", min * 1e3 / o.batch)});
        t.add_row({"median", io::format("%.4f", median * 1e3), io::format("%.4f", median * 1e3 / o.batch)});
        std::cout << t.render();
        std::cout << io::format("plans per second: %.1f (median; a plan = all %lld layers)\n", plans_per_s,
                                static_cast<long long>(rows));
    }
    return checksum < 0 ? 4 : 0;
}

Command setup_bench(CLI::App& parent) {
    auto o = std::make_shared<BenchOptions>();
    CLI::App* app = parent.add_subcommand("bench", "Time planning alone on the input of `plan`");
    add_input_options(*app, o->input, true);
    app->add_option("--repeat", o->repeat, "Timed runs (after a warm-up of repeat/10)")
        ->capture_default_str();
    app->add_option("--batch", o->batch, "Plan this many copies of the layers in one call")
        ->capture_default_str();
    app->add_flag("--json", o->json, "Print the timings as JSON");
    return {app, [o] { return run_bench(*o); }};
}

}  // namespace eplb::cli
