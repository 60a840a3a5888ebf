// The simulation loop on small hand-made series: which steps rearrange, which placement scores
// which step, moved counts, thresholds, the oracle; the fast scorer against evaluate(); results
// independent of the batching; generated and in-memory series give the same run.
#include <doctest/doctest.h>

#include <numeric>

#include "eplb/error.h"
#include "eplb/gen_trace.h"
#include "eplb/metrics.h"
#include "eplb/migration.h"
#include "eplb/policy.h"
#include "eplb/simulate.h"
#include "tests/test_util.h"

using namespace eplb;

namespace {

// 2 GPUs x 3 slots, 4 experts: small enough to reason about by hand.
const ParallelConfig kSmall{4, 6, 1, 1, 2};

// A series [T][L][E] from rows given step by step (one layer unless rows_per_step says).
LoadTrace make_series(const std::vector<std::vector<float>>& steps, int num_layers = 1) {
    LoadTrace t;
    t.num_steps = static_cast<int>(steps.size());
    t.num_layers = num_layers;
    t.num_experts = static_cast<int>(steps[0].size()) / num_layers;
    for (const auto& s : steps) t.values.insert(t.values.end(), s.begin(), s.end());
    t.layer_ids.resize(num_layers);
    std::iota(t.layer_ids.begin(), t.layer_ids.end(), 0);
    return t;
}

SimulationOptions options_for(const ParallelConfig& c, std::vector<LaneSpec> lanes) {
    SimulationOptions o;
    o.config = c;
    o.lanes = std::move(lanes);
    o.expert_bytes = 1000;
    return o;
}

LaneSpec lane(int window, int interval, double threshold = 0) {
    LaneSpec l;
    l.window_size = window;
    l.step_interval = interval;
    l.threshold = threshold;
    l.label = "test";
    return l;
}

SimulationResult run(const LoadTrace& trace, const SimulationOptions& o) {
    TraceStepSource source(trace);
    auto planner = make_cpu_planner();
    return simulate(source, o, *planner);
}

// Σ over layers of evaluate()'s max GPU load: what the scorer must give for the step.
double evaluated_max(const IndexMatrix& phy2log, const LoadMatrix& load, const ParallelConfig& c) {
    const Metrics m = evaluate(phy2log, load, c);
    double sum = 0;
    for (const LayerMetrics& lm : m.layers) sum += lm.max_gpu_load;
    return sum;
}

}  // namespace

TEST_CASE("vLLM's start placement: slot s holds expert s mod E") {
    const IndexMatrix p = start_placement(2, kSmall);
    CHECK(p.rows() == 2);
    for (int l = 0; l < 2; ++l) {
        const std::vector<int> row(p.row(l).data(), p.row(l).data() + p.cols());
        CHECK(row == std::vector<int>{0, 1, 2, 3, 0, 1});
    }
}

TEST_CASE("the step scorer equals evaluate() exactly") {
    Rng rng(11);
    for (const ParallelConfig& c : {ParallelConfig{16, 24, 4, 2, 8}, ParallelConfig{12, 16, 4, 2, 8},
                                    ParallelConfig{32, 40, 1, 1, 5}}) {
        for (int trial = 0; trial < 20; ++trial) {
            const LoadMatrix load = test::random_loads(rng, 3, c.num_logical_experts);
            const Placement planned = plan_deepseek(load, c);
            const IndexMatrix start = start_placement(3, c);
            for (const IndexMatrix& phy2log : {planned.phy2log, start}) {
                const IndexMatrix cnt = count_replicas(phy2log, c.num_logical_experts);
                const StepScorer scorer(phy2log.data(), cnt.data(), 3, c);
                const StepScore s = scorer.score(load.data());
                const Metrics m = evaluate(phy2log, load, c);
                double mean = 0, max = 0;
                for (const LayerMetrics& lm : m.layers) {
                    mean += lm.mean_gpu_load;
                    max += lm.max_gpu_load;
                }
                CHECK(s.mean_gpu_load == mean);
                CHECK(s.max_gpu_load == max);
            }
        }
    }
}

TEST_CASE("interval 4, window 2: rearrangements after steps 0, 4, 8; each plan scores the steps after it") {
    // I = 4: the counter starts at 4 - 1 = 3, so the first check ends step 0, then every 4 steps.
    const LoadTrace trace = make_series({{9, 1, 1, 1},
                                         {8, 2, 1, 1},
                                         {1, 9, 1, 1},
                                         {1, 1, 9, 1},
                                         {1, 1, 1, 9},
                                         {5, 5, 1, 1},
                                         {1, 5, 5, 1},
                                         {1, 1, 5, 5},
                                         {7, 1, 1, 3},
                                         {2, 2, 2, 2}});
    const SimulationResult r = run(trace, options_for(kSmall, {lane(2, 4)}));
    REQUIRE(r.lanes.size() == 1);
    const LaneResult& res = r.lanes[0];
    CHECK(res.rearranged_at == std::vector<int>{0, 4, 8});
    CHECK(res.rearrangements == 3);
    CHECK(res.checks == 3);
    CHECK(res.plans == 3);
    // The placements in force: the start one for step 0, then plans on the window sums (steps not
    // yet recorded count as zero).
    const IndexMatrix start = start_placement(1, kSmall);
    const Placement p0 = plan_deepseek(trace.sum_steps(0, 1), kSmall);
    const Placement p4 = plan_deepseek(trace.sum_steps(3, 5), kSmall);
    const Placement p8 = plan_deepseek(trace.sum_steps(7, 9), kSmall);
    const IndexMatrix* in_force[10] = {&start,      &p0.phy2log, &p0.phy2log, &p0.phy2log, &p0.phy2log,
                                       &p4.phy2log, &p4.phy2log, &p4.phy2log, &p4.phy2log, &p8.phy2log};
    double sum_mean = 0, sum_max = 0;
    for (int t = 0; t < 10; ++t) {
        CAPTURE(t);
        CHECK(res.max_gpu_load[t] == evaluated_max(*in_force[t], trace.step(t), kSmall));
        CHECK(r.mean_gpu_load[t] == trace.step(t).cast<double>().sum() / 2);
        sum_mean += r.mean_gpu_load[t];
        sum_max += res.max_gpu_load[t];
    }
    CHECK(res.balancedness == doctest::Approx(sum_mean / sum_max).epsilon(1e-15));
    // Moved experts: what each GPU must receive from one placement to the next.
    const int64_t m0 = count_migration(start, p0.phy2log, kSmall, 1000).experts_moved;
    const int64_t m4 = count_migration(p0.phy2log, p4.phy2log, kSmall, 1000).experts_moved;
    const int64_t m8 = count_migration(p4.phy2log, p8.phy2log, kSmall, 1000).experts_moved;
    CHECK(res.moved_at == std::vector<int64_t>{m0, m4, m8});
    CHECK(res.experts_moved == m0 + m4 + m8);
    CHECK(res.bytes_moved == (m0 + m4 + m8) * 1000);
    CHECK(m0 > 0);
    CHECK(res.final_phy2log == p8.phy2log);
}

TEST_CASE("interval 8, window 3: the first rearrangement after floor(8/4) = 2 steps, then every 8") {
    Rng rng(5);
    const int steps = 20;
    LoadTrace trace;
    trace.num_steps = steps;
    trace.num_layers = 2;
    trace.num_experts = 4;
    trace.layer_ids = {0, 1};
    for (int i = 0; i < steps * 2 * 4; ++i) trace.values.push_back(static_cast<float>(rng.next() % 50));
    const SimulationResult r = run(trace, options_for(kSmall, {lane(3, 8)}));
    const LaneResult& res = r.lanes[0];
    CHECK(res.rearranged_at == std::vector<int>{1, 9, 17});
    const Placement p1 = plan_deepseek(trace.sum_steps(0, 2), kSmall);
    const Placement p9 = plan_deepseek(trace.sum_steps(7, 10), kSmall);
    const Placement p17 = plan_deepseek(trace.sum_steps(15, 18), kSmall);
    const IndexMatrix start = start_placement(2, kSmall);
    for (int t = 0; t < steps; ++t) {
        CAPTURE(t);
        const IndexMatrix& p = t <= 1 ? start : t <= 9 ? p1.phy2log : t <= 17 ? p9.phy2log : p17.phy2log;
        CHECK(res.max_gpu_load[t] == evaluated_max(p, trace.step(t), kSmall));
    }
    // I = 1 (and I < 4): floor(I/4) = 0, so the counter starts at I and the first check ends step 0.
    const SimulationResult every = run(trace, options_for(kSmall, {lane(1, 1)}));
    CHECK(every.lanes[0].rearrangements == steps);
    CHECK(every.lanes[0].rearranged_at.front() == 0);
}

TEST_CASE("threshold: rearrange at a check only when the window's balancedness is below it") {
    // Under the start placement [0 1 2 | 3 0 1] the load (1,1,1,5) gives GPU loads 2 and 6
    // (balancedness 4/6); deepseek's plan gives expert 3 three replicas and GPU loads 13/3 and 11/3
    // (balancedness 12/13 = 0.923). Every check sees the same window shape.
    const LoadTrace trace = make_series(std::vector<std::vector<float>>(24, {1, 1, 1, 5}));
    const Placement plan = plan_deepseek(trace.sum_steps(0, 4), kSmall);
    const Metrics planned = evaluate(plan.phy2log, trace.step(0), kSmall);
    REQUIRE(planned.balancedness == doctest::Approx(12.0 / 13.0));
    SimulationOptions o =
        options_for(kSmall, {lane(4, 4, 0.9), lane(4, 4, 0.95), lane(4, 4, 0.5), lane(4, 4)});
    const SimulationResult r = run(trace, o);
    // Checks end steps 0, 4, 8, 12, 16, 20.
    for (const LaneResult& res : r.lanes) CHECK(res.checks == 6);
    CHECK(r.lanes[0].rearranged_at == std::vector<int>{0});  // 0.667 < 0.9, then 0.923 >= 0.9
    CHECK(r.lanes[1].rearranged_at == std::vector<int>{0, 4, 8, 12, 16, 20});  // 0.923 < 0.95 always
    CHECK(r.lanes[1].moved_at == std::vector<int64_t>{r.lanes[1].moved_at[0], 0, 0, 0, 0, 0});
    CHECK(r.lanes[2].rearrangements == 0);  // 0.667 >= 0.5: never
    CHECK(r.lanes[2].plans == 0);
    CHECK(r.lanes[3].rearrangements == 6);
    // The threshold-0.9 lane and the fixed lane hold the same placement after step 0.
    CHECK(r.lanes[0].max_gpu_load == r.lanes[3].max_gpu_load);
    CHECK(r.lanes[0].balancedness > r.lanes[2].balancedness);
}

TEST_CASE("the oracle scores each step with the plan of its own load") {
    Rng rng(9);
    const ParallelConfig c{16, 24, 4, 2, 8};
    LoadTrace trace;
    trace.num_steps = 12;
    trace.num_layers = 3;
    trace.num_experts = 16;
    trace.layer_ids = {0, 1, 2};
    for (int t = 0; t < 12; ++t) {
        const LoadMatrix m = test::random_loads(rng, 3, 16);
        trace.values.insert(trace.values.end(), m.data(), m.data() + m.size());
    }
    LaneSpec oracle;
    oracle.oracle = true;
    oracle.label = "oracle";
    SimulationOptions o = options_for(c, {oracle, lane(5, 4)});
    o.chunk_steps = 5;
    const SimulationResult r = run(trace, o);
    const LaneResult& res = r.lanes[0];
    CHECK(res.rearrangements == 12);
    CHECK(res.plans == 12);
    IndexMatrix previous = start_placement(3, c);
    for (int t = 0; t < 12; ++t) {
        const Placement p = plan_deepseek(trace.step(t), c);
        CHECK(res.max_gpu_load[t] == evaluated_max(p.phy2log, trace.step(t), c));
        CHECK(res.rearranged_at[t] == t);
        CHECK(res.moved_at[t] == count_migration(previous, p.phy2log, c, 0).experts_moved);
        previous = p.phy2log;
    }
    // Nothing beats planning on the step itself with this policy.
    CHECK(res.balancedness >= r.lanes[1].balancedness);
}

TEST_CASE("results do not depend on the batching, nor on the other lanes of the run") {
    GenTraceOptions g;
    g.num_layers = 4;
    g.num_experts = 32;
    g.num_steps = 150;
    g.tokens_per_step = 512;
    g.drift = 0.05;
    g.switch_every = 40;
    const LoadTrace trace = generate_trace(g);
    const ParallelConfig c{32, 40, 4, 2, 8};
    const std::vector<LaneSpec> lanes = make_lanes({Policy::kDeepseek}, {10, 25}, {7, 30}, {0.0, 0.97}, true);
    REQUIRE(lanes.size() == 9);
    SimulationOptions o = options_for(c, lanes);
    const SimulationResult reference = run(trace, o);
    for (int chunk : {1, 3, 64, 1000}) {
        CAPTURE(chunk);
        o.chunk_steps = chunk;
        const SimulationResult r = run(trace, o);
        for (size_t k = 0; k < lanes.size(); ++k) {
            CHECK(r.lanes[k].max_gpu_load == reference.lanes[k].max_gpu_load);
            CHECK(r.lanes[k].rearranged_at == reference.lanes[k].rearranged_at);
            CHECK(r.lanes[k].moved_at == reference.lanes[k].moved_at);
            CHECK(r.lanes[k].checks == reference.lanes[k].checks);
        }
    }
    for (size_t k = 0; k < lanes.size(); ++k) {
        const SimulationResult alone = run(trace, options_for(c, {lanes[k]}));
        CHECK(alone.lanes[0].max_gpu_load == reference.lanes[k].max_gpu_load);
        CHECK(alone.lanes[0].moved_at == reference.lanes[k].moved_at);
    }
}

TEST_CASE("a generated series streamed step by step gives the run of the materialised trace") {
    GenTraceOptions g;
    g.num_layers = 3;
    g.num_experts = 16;
    g.num_steps = 80;
    g.drift = 0.02;
    const SimulationOptions o = options_for(ParallelConfig{16, 20, 1, 1, 4}, {lane(10, 12)});
    TraceGenerator generator(g);
    auto planner = make_cpu_planner();
    const SimulationResult streamed = simulate(generator, o, *planner);
    const SimulationResult materialised = run(generate_trace(g), o);
    CHECK(streamed.lanes[0].max_gpu_load == materialised.lanes[0].max_gpu_load);
    CHECK(streamed.mean_gpu_load == materialised.mean_gpu_load);
    // And a sub-range of steps is the same as the trace cut to it.
    TraceGenerator again(g);
    StepRangeSource tail(again, 30);
    const SimulationResult cut = simulate(tail, o, *planner);
    const LoadTrace full = generate_trace(g);
    TraceStepSource full_tail(full, 30);
    const SimulationResult expected = simulate(full_tail, o, *planner);
    CHECK(cut.num_steps == 50);
    CHECK(cut.lanes[0].max_gpu_load == expected.lanes[0].max_gpu_load);
}

TEST_CASE("lane labels name what differs in the grid") {
    const auto one = make_lanes({Policy::kDeepseek}, {1000}, {3000}, {}, false);
    REQUIRE(one.size() == 1);
    CHECK(one[0].label == "deepseek");
    CHECK(one[0].window_size == 1000);
    CHECK(one[0].step_interval == 3000);
    const auto grid = make_lanes({Policy::kDeepseek}, {100, 1000}, {300, 3000}, {0.0, 0.9}, true);
    REQUIRE(grid.size() == 9);
    CHECK(grid[0].label == "deepseek w=100 i=300 t=off");
    CHECK(grid[3].label == "deepseek w=100 i=3000 t=0.9");
    CHECK(grid[7].label == "deepseek w=1000 i=3000 t=0.9");
    CHECK(grid[8].label == "deepseek oracle");
    CHECK(grid[8].oracle);
    CHECK(make_lanes({Policy::kDeepseek}, {}, {}, {0.95}, false)[0].label == "deepseek t=0.95");
}

TEST_CASE("invalid input is an error naming the value") {
    const LoadTrace trace = make_series({{1, 2, 3, 4}, {4, 3, 2, 1}});
    CHECK_THROWS_WITH_AS(run(trace, options_for(kSmall, {lane(0, 4)})), "window_size (0) must be at least 1",
                         Error);
    CHECK_THROWS_WITH_AS(run(trace, options_for(kSmall, {lane(2, 0)})),
                         "step_interval (0) must be at least 1", Error);
    CHECK_THROWS_WITH_AS(run(trace, options_for(kSmall, {lane(2, 2, 1.5)})),
                         "threshold (1.5) must be in (0, 1], or 0 for none", Error);
    CHECK_THROWS_WITH_AS(run(trace, options_for(ParallelConfig{8, 8, 1, 1, 2}, {lane(2, 2)})),
                         "the load series has 4 experts, the config 8", Error);
    const LoadTrace bad = make_series({{1, 2, 3, 4}, {1, 2, 3, 4}, {4, -1, 2, 1}});
    CHECK_THROWS_WITH_AS(run(bad, options_for(kSmall, {lane(2, 2)})),
                         "step 2, layer row 0, expert 1: load -1 must be finite and >= 0", Error);
}
