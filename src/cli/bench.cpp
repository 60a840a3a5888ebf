// `eplb bench`: time planning alone (no I/O) on the input of `plan`. `--batch B` plans B copies
// of the layers in one call, as the simulator does. A device backend is timed next to the CPU
// planner in the same run, with its device-side breakdown.
#include <algorithm>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "backends/plan_timing.h"
#include "cli/commands.h"
#include "cli/input_options.h"
#include "cli/option_types.h"
#include "eplb/error.h"
#include "io/report.h"

namespace eplb::cli {

struct BenchOptions {
    InputOptions input;
    int repeat = 200;
    int batch = 1;
    bool json = false;
};

namespace {

struct BenchRow {
    std::string backend;
    PlanTiming timing;
    double median_ms() const { return timing.call_ms[timing.call_ms.size() / 2]; }
};

}  // namespace

int run_bench(const BenchOptions& o) {
    EPLB_CHECK(o.repeat >= 1, "--repeat (" << o.repeat << ") must be at least 1");
    EPLB_CHECK(o.batch >= 1, "--batch (" << o.batch << ") must be at least 1");
    const ResolvedInput in = resolve_input(o.input);
    const auto planner = make_cli_planner(o.input);
    const Eigen::Index rows = in.load.rows();
    LoadMatrix load(rows * o.batch, in.load.cols());
    for (int b = 0; b < o.batch; ++b) load.middleRows(b * rows, rows) = in.load;
    std::vector<BenchRow> results;
    // A device backend that hands this policy or shape to the CPU planner is timed as what it is.
    const std::string ran_on = planner->plan_backend(in.config, in.policy);
    if (ran_on != "cpu") {
        results.push_back({"cpu", time_plan(*make_cpu_planner(), load, in.config, in.policy, o.repeat)});
    }
    results.push_back({ran_on == planner->name() ? ran_on : ran_on + " (via " + planner->name() + ")",
                       time_plan(*planner, load, in.config, in.policy, o.repeat)});
    const double cpu_median = results.front().median_ms();
    if (o.json) {
        nlohmann::ordered_json j;
        j["schema"] = "eplb.bench/v1";
        j["policy"] = policy_name(in.policy);
        j["layers"] = rows;
        j["config"] = describe(in.config);
        j["batch"] = o.batch;
        j["repeat"] = o.repeat;
        for (const BenchRow& r : results) {
            nlohmann::ordered_json b;
            b["min_ms_per_call"] = r.timing.call_ms.front();
            b["median_ms_per_call"] = r.median_ms();
            b["median_ms_per_plan"] = r.median_ms() / o.batch;
            b["plans_per_second"] = o.batch / (r.median_ms() / 1e3);
            b["new_output_ms_per_call"] = r.timing.new_output_ms;
            if (r.timing.device_ms >= 0) {
                b["device_ms_per_call"] = r.timing.device_ms;
                b["device_plans_per_second"] = o.batch / (r.timing.device_ms / 1e3);
                b["h2d_ms"] = r.timing.h2d_ms;
                b["d2h_ms"] = r.timing.d2h_ms;
            }
            j["backends"][r.backend] = b;
        }
        std::cout << j.dump() << "\n";
        return 0;
    }
    std::cout << "eplb bench: " << in.title << "\n";
    std::cout << io::format("%s policy: %lld layers x %d experts -> %d slots (%s), batch %d, %d timed runs\n",
                            policy_name(in.policy), static_cast<long long>(rows),
                            in.config.num_logical_experts, in.config.num_physical_experts,
                            describe(in.config).c_str(), o.batch, o.repeat);
    io::TextTable t({"backend", "min ms/call", "median ms/call", "ms/plan", "plans/s", "vs cpu"});
    auto add = [&](const std::string& name, double min_ms, double median_ms) {
        t.add_row({name, io::format("%.4f", min_ms), io::format("%.4f", median_ms),
                   io::format("%.4f", median_ms / o.batch), io::format("%.1f", o.batch / (median_ms / 1e3)),
                   io::format("%.1fx", cpu_median / median_ms)});
    };
    for (const BenchRow& r : results) {
        add(r.backend + " (reused output)", r.timing.call_ms.front(), r.median_ms());
        add(r.backend + " (new output)", r.timing.new_output_ms, r.timing.new_output_ms);
        if (r.timing.device_ms >= 0)
            add(r.backend + " (device only)", r.timing.device_ms, r.timing.device_ms);
    }
    std::cout << t.render();
    for (const BenchRow& r : results) {
        if (r.timing.device_ms >= 0) {
            std::cout << io::format(
                "%s: upload of the loads %.3f ms, download of the maps %.3f ms (once each)\n",
                r.backend.c_str(), r.timing.h2d_ms, r.timing.d2h_ms);
        }
    }
    std::cout << "a plan = all " << rows << " layers; \"device only\" = loads and maps resident on the GPU\n";
    return 0;
}

Command setup_bench(CLI::App& parent) {
    auto o = std::make_shared<BenchOptions>();
    CLI::App* app = parent.add_subcommand("bench", "Time planning alone on the input of `plan`");
    add_input_options(*app, o->input, true);
    app->add_option("--repeat", o->repeat, "Timed runs (after one warm-up)")
        ->capture_default_str()
        ->check(at_least(1));
    app->add_option("--batch", o->batch, "Plan this many copies of the layers in one call")
        ->capture_default_str()
        ->check(at_least(1));
    app->add_flag("--json", o->json, "Print the timings as JSON");
    return {app, [o] { return run_bench(*o); }};
}

}  // namespace eplb::cli
