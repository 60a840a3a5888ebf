// The targets of the `robust` policy on the 12 real DeepSeek-V3 traces (EPLB_SHARED, layers 3:61):
// leave-one-out balancedness (each workload's plan from the other 11) of deepseek and balanced on
// the sum against robust, CPU time of one 11-workload plan beside balanced on the summed trace, and
// how the time scales with the number of workloads (past 1,000, from a synthetic drifting series).
// Run: meson test -C build --benchmark --suite bench -v   (exit 77 when the traces are absent)
// Quick runs: EPLB_BENCH_ROBUST=ep32,ep72,hier,speed,scaling (any subset; unset: all) picks parts.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include "eplb/balanced.h"
#include "eplb/gen_trace.h"
#include "eplb/metrics.h"
#include "eplb/policy.h"
#include "eplb/robust.h"
#include "io/trace_io.h"
#include "tests/eplb/real_workloads.h"

using namespace eplb;
using test::shared_traces_dir;
using test::Workload;

namespace {

// CPU seconds of one call of f (process time: other jobs on the machine count less).
template <class F>
double cpu_seconds(F&& f) {
    const std::clock_t t0 = std::clock();
    f();
    return static_cast<double>(std::clock() - t0) / CLOCKS_PER_SEC;
}

const char* verdict(bool ok) { return ok ? "MET" : "MISSED"; }

// Whether EPLB_BENCH_ROBUST (a comma-separated list of parts) is unset or names `part`.
bool selected(const std::string& part) {
    const char* parts = std::getenv("EPLB_BENCH_ROBUST");
    if (!parts) return true;
    const std::string list(parts);
    for (size_t begin = 0; begin <= list.size();) {
        const size_t end = std::min(list.find(',', begin), list.size());
        if (list.compare(begin, end - begin, part) == 0) return true;
        begin = end + 1;
    }
    return false;
}

// Each workload scored under the plans of the other 11; returns robust's (mean, worst).
std::pair<double, double> leave_one_out(const char* name, const ParallelConfig& c,
                                        const std::vector<Workload>& workloads) {
    std::printf("\n== leave-one-out, %s: %s ==\n", name, describe(c).c_str());
    std::printf("%-24s | %9s %9s %9s | %7s\n", "left out", "deepseek", "balanced", "robust", "rob. s");
    double sum[3] = {0, 0, 0}, worst[3] = {1, 1, 1};
    for (size_t i = 0; i < workloads.size(); ++i) {
        std::vector<LoadMatrix> rest;
        LoadMatrix summed = LoadMatrix::Zero(workloads[0].load.rows(), workloads[0].load.cols());
        for (size_t j = 0; j < workloads.size(); ++j) {
            if (j == i) continue;
            rest.push_back(workloads[j].load);
            summed += workloads[j].load;
        }
        Placement rob;
        const double seconds = cpu_seconds([&] { rob = plan_robust(rest, c); });
        const Placement plans[3] = {plan_deepseek(summed, c), plan_balanced(summed, c), rob};
        std::printf("%-24s |", workloads[i].name.c_str());
        for (int p = 0; p < 3; ++p) {
            const double b = evaluate(plans[p].phy2log, workloads[i].load, c).balancedness;
            sum[p] += b;
            worst[p] = std::min(worst[p], b);
            std::printf(" %9.4f", b);
        }
        std::printf(" | %7.2f\n", seconds);
    }
    const double n = static_cast<double>(workloads.size());
    std::printf("%-24s | %9.4f %9.4f %9.4f |\n", "mean", sum[0] / n, sum[1] / n, sum[2] / n);
    std::printf("%-24s | %9.4f %9.4f %9.4f |\n", "worst", worst[0], worst[1], worst[2]);
    return {sum[2] / n, worst[2]};
}

// One 11-workload plan beside balanced on the summed trace, one thread.
void speed(const std::vector<Workload>& workloads, const ParallelConfig& c) {
    std::vector<LoadMatrix> eleven;
    LoadMatrix summed = LoadMatrix::Zero(workloads[0].load.rows(), workloads[0].load.cols());
    for (size_t j = 1; j < workloads.size(); ++j) {
        eleven.push_back(workloads[j].load);
        summed += workloads[j].load;
    }
    const double t_rob = cpu_seconds([&] { plan_robust(eleven, c); });
    const double t_bal = cpu_seconds([&] { plan_balanced(summed, c); });
    std::printf(
        "\nspeed, EP32 global, 58 layers: robust on 11 workloads %.3f s CPU, balanced on their sum %.3f s;"
        " target <= 5 s: %s\n",
        t_rob, t_bal, verdict(t_rob <= 5.0));
}

}  // namespace

int main() {
    const std::string dir = shared_traces_dir();
    if (dir.empty()) {
        std::printf("EPLB_SHARED traces not found: skipped\n");
        return 77;
    }
    const std::vector<Workload> workloads = test::read_real_workloads(dir);
    std::printf("eplb robust-policy targets on %zu real DeepSeek-V3 traces, layers 3:61 (58 MoE layers)\n",
                workloads.size());
    std::printf(
        "balancedness = mean / max GPU load of the left-out workload under a plan of the other 11;\n"
        "deepseek and balanced plan on their sum, robust on the worst of them; rob. s = CPU seconds\n");
    const ParallelConfig ep32{256, 288, 1, 1, 32}, ep72{256, 288, 8, 9, 72};
    if (selected("ep32")) {
        const auto [mean, worst] = leave_one_out("EP32 global", ep32, workloads);
        std::printf("target: EP32 mean >= 0.975: %s; EP32 worst >= 0.95: %s\n", verdict(mean >= 0.975),
                    verdict(worst >= 0.95));
    }
    if (selected("ep72")) {
        const double mean = leave_one_out("EP72 global (8 groups % 9 nodes != 0)", ep72, workloads).first;
        std::printf("target: EP72 mean >= 0.935: %s\n", verdict(mean >= 0.935));
    }
    if (selected("hier"))
        leave_one_out("EP32 hierarchical (8 groups on 4 nodes)", ParallelConfig{256, 288, 8, 4, 32},
                      workloads);
    if (selected("speed")) speed(workloads, ep32);
    if (!selected("scaling")) return 0;

    // Scaling in the number of workloads: a drifting synthetic series cut into W equal chunks.
    std::printf("\nscaling, EP32 global, 4 layers, workloads = chunks of a drifting gen-trace series:\n");
    std::printf("%9s | %9s %12s\n", "workloads", "CPU s", "s/workload");
    for (int w : {11, 110, 1100}) {
        GenTraceOptions g;
        g.num_layers = 4;
        g.num_steps = w;
        g.tokens_per_step = 4096;
        g.drift = 0.05;
        g.seed = 7;
        const LoadTrace t = generate_trace(g);
        std::vector<LoadMatrix> chunks;
        for (int s = 0; s < w; ++s) chunks.push_back(t.step(s));
        const double sec = cpu_seconds([&] { plan_robust(chunks, ep32); });
        std::printf("%9d | %9.3f %12.5f\n", w, sec, sec / w);
    }
    return 0;
}
