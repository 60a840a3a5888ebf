// Benchmark: the CPU planner (one core) and the CUDA planner on DeepSeek-V3 EP32 plans (58 layers
// x 256 experts -> 288 slots, 8 groups, 4 nodes, 32 GPUs), one plan and a batch of 1024 windows,
// measured in the same run; also batched scoring. Prints one table; exit 77 without a GPU.
// `--profile`: only one CUDA plan, one batch plan and one batch scoring, for ncu.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "backends/plan_timing.h"
#include "cuda/cuda_planner.h"
#include "eplb/batch.h"
#include "eplb/gen_trace.h"
#include "eplb/metrics.h"
#include "eplb/planner.h"
#include "eplb/policy.h"

using namespace eplb;

namespace {

using Clock = std::chrono::steady_clock;

// Mean wall time per call of f, repeated until at least min_seconds have passed (one call at least).
template <class F>
double time_ms(F f, double min_seconds) {
    f();  // warm-up
    int calls = 0;
    const auto start = Clock::now();
    double elapsed = 0;
    do {
        f();
        ++calls;
        elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    } while (elapsed < min_seconds);
    return elapsed * 1000.0 / calls;
}

struct Row {
    std::string what, backend;
    double ms;
    int plans;
    long wrong;
};

}  // namespace

int main(int argc, char** argv) {
    const bool profile = argc > 1 && std::string(argv[1]) == "--profile";
    std::string why;
    if (!cuda_device_available(&why)) {
        std::printf("skipped: %s\n", why.c_str());
        return 77;
    }
    const ParallelConfig config{256, 288, 8, 4, 32};
    constexpr int kWindows = 1024, kLayers = 58;
    GenTraceOptions o;
    o.num_layers = kLayers;
    o.num_steps = kWindows;
    o.tokens_per_step = 16384;
    o.drift = 0.05;
    o.seed = 2025;
    const LoadTrace trace = generate_trace(o);
    std::vector<LoadMatrix> windows;
    for (int t = 0; t < kWindows; ++t) windows.push_back(trace.step(t));
    const LoadMatrix batch = stack_rows(windows);
    const LoadMatrix& one = windows[0];

    auto cpu = make_cpu_planner();
    auto cuda = make_cuda_planner();
    if (profile) {
        const Placement plan = cuda->plan(one, config, Policy::kDeepseek);
        const Placement all = cuda->plan(batch, config, Policy::kDeepseek);
        const RowScores scores = cuda->score(all.phy2log, batch, config);
        std::printf("profiled: 1 plan (%d rows), 1 batch plan and 1 batch scoring (%d rows)\n", kLayers,
                    scores.num_rows());
        return plan.num_layers() == kLayers ? 0 : 1;
    }
    std::vector<Row> rows;

    // One plan (58 layers).
    const Placement want_one = cpu->plan(one, config, Policy::kDeepseek);
    const double cpu_one = time_ms([&] { cpu->plan(one, config, Policy::kDeepseek); }, 1.0);
    const PlanTiming cuda_one = time_plan(*cuda, one, config, Policy::kDeepseek, 200);
    const long wrong_one =
        (cuda->plan(one, config, Policy::kDeepseek).phy2log.array() != want_one.phy2log.array()).count();
    rows.push_back({"1 plan (58 layers)", "cpu, 1 core", cpu_one, 1, 0});
    rows.push_back({"1 plan (58 layers)", "cuda, device", cuda_one.device_ms, 1, wrong_one});
    rows.push_back({"1 plan (58 layers)", "cuda, end-to-end", cuda_one.new_output_ms, 1, wrong_one});
    rows.push_back({"1 plan (58 layers)", "cuda, e2e reused", cuda_one.call_ms[cuda_one.call_ms.size() / 2],
                    1, wrong_one});

    // A batch of 1024 windows x 58 layers in one call.
    const auto cpu_start = Clock::now();
    const Placement want_batch = cpu->plan(batch, config, Policy::kDeepseek);
    const double cpu_batch = std::chrono::duration<double, std::milli>(Clock::now() - cpu_start).count();
    const PlanTiming cuda_batch = time_plan(*cuda, batch, config, Policy::kDeepseek, 10);
    const Placement got_batch = cuda->plan(batch, config, Policy::kDeepseek);
    const long wrong_batch = (got_batch.phy2log.array() != want_batch.phy2log.array()).count() +
                             (got_batch.phyrank.array() != want_batch.phyrank.array()).count() +
                             (got_batch.logcnt.array() != want_batch.logcnt.array()).count();
    rows.push_back({"1024 x 58 batch", "cpu, 1 core", cpu_batch, kWindows, 0});
    rows.push_back({"1024 x 58 batch", "cuda, device", cuda_batch.device_ms, kWindows, wrong_batch});
    rows.push_back({"1024 x 58 batch", "cuda, end-to-end", cuda_batch.new_output_ms, kWindows, wrong_batch});
    rows.push_back({"1024 x 58 batch", "cuda, e2e reused", cuda_batch.call_ms[cuda_batch.call_ms.size() / 2],
                    kWindows, wrong_batch});

    // The host's floor for any backend: allocating and first writing the batch's output maps.
    const double fresh_write_ms = time_ms(
        [&] {
            IndexMatrix maps(batch.rows(), 2 * config.num_physical_experts + config.num_logical_experts);
            maps.setConstant(1);
            if (maps(0, 0) != 1) std::abort();
        },
        0.5);

    // Scoring the batch (placement of each window on the next window's loads).
    const IndexMatrix& plans = want_batch.phy2log;
    LoadMatrix next = batch;
    next.topRows(batch.rows() - kLayers) = batch.bottomRows(batch.rows() - kLayers);
    const double cpu_score = time_ms([&] { cpu->score(plans, next, config); }, 0.5);
    const double cuda_score = time_ms([&] { cuda->score(plans, next, config); }, 0.5);
    const RowScores cs = cpu->score(plans, next, config), gs = cuda->score(plans, next, config);
    long score_wrong = 0;
    for (int r = 0; r < cs.num_rows(); ++r) {
        score_wrong += cs.max_gpu_load[r] != gs.max_gpu_load[r] || cs.lower_bound[r] != gs.lower_bound[r] ||
                       cs.max_gpu[r] != gs.max_gpu[r];
    }
    rows.push_back({"score 1024 x 58", "cpu, 1 core", cpu_score, kWindows, 0});
    rows.push_back({"score 1024 x 58", "cuda, end-to-end", cuda_score, kWindows, score_wrong});

    std::printf("eplb CUDA planner benchmark: DeepSeek-V3 EP32 (%s), synthetic loads (gen-trace seed 2025)\n",
                describe(config).c_str());
    std::printf("%-20s %-18s %12s %14s %12s %8s\n", "case", "backend", "ms/call", "plans/s", "vs cpu",
                "#wrong");
    double cpu_rate = 0;
    for (const Row& r : rows) {
        const double rate = r.plans / (r.ms / 1000.0);
        if (r.backend.rfind("cpu", 0) == 0) cpu_rate = rate;
        std::printf("%-20s %-18s %12.4f %14.1f %11.1fx %8ld\n", r.what.c_str(), r.backend.c_str(), r.ms, rate,
                    rate / cpu_rate, r.wrong);
    }
    const double out_mb =
        (2.0 * config.num_physical_experts + config.num_logical_experts) * batch.rows() * 4.0 / 1e6;
    std::printf("copies, one plan:    H2D %.4f ms, D2H into a new Placement %.4f ms\n", cuda_one.h2d_ms,
                cuda_one.d2h_ms);
    std::printf("copies, 1024 x 58:   H2D %.3f ms (%.1f MB), D2H into a new Placement %.3f ms (%.1f MB)\n",
                cuda_batch.h2d_ms, batch.size() * 4.0 / 1e6, cuda_batch.d2h_ms, out_mb);
    std::printf("host floor:          allocating + first writing %.1f MB of maps takes %.3f ms here\n",
                out_mb, fresh_write_ms);
    long wrong = 0;
    for (const Row& r : rows) wrong += r.wrong;
    return wrong == 0 ? 0 : 1;
}
