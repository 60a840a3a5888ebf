// Batches of windows through one Planner call (plan_windows, evaluate_windows) and the split of
// evaluate() into per-row scores and their aggregation.
#include <doctest/doctest.h>

#include <vector>

#include "eplb/batch.h"
#include "eplb/error.h"
#include "eplb/metrics.h"
#include "eplb/planner.h"
#include "eplb/policy.h"
#include "tests/test_util.h"

using namespace eplb;

TEST_CASE("stack_rows keeps the windows in order and checks the columns") {
    LoadMatrix a(2, 3), b(1, 3);
    a << 1, 2, 3, 4, 5, 6;
    b << 7, 8, 9;
    const LoadMatrix s = stack_rows(std::vector<LoadMatrix>{a, b});
    REQUIRE(s.rows() == 3);
    CHECK(s(1, 2) == 6.0f);
    CHECK(s(2, 0) == 7.0f);
    CHECK_THROWS_WITH_AS(stack_rows(std::vector<LoadMatrix>{a, LoadMatrix(1, 4)}),
                         "window 1 has 4 columns, window 0 has 3", Error);
    CHECK(stack_rows(std::vector<LoadMatrix>{}).rows() == 0);
}

TEST_CASE("stack_rows of LoadRows reads the rows where they are: a window, then rows of a buffer") {
    LoadMatrix window(1, 2);
    window << 1, 2;
    const std::vector<float> buffer = {3, 4, 5, 6, 7, 8};
    // The buffer's last two rows, as the simulator stacks a chunk's steps after the windows.
    const LoadMatrix s =
        stack_rows(std::vector<LoadRows>{LoadRows(window.data(), 1, 2), LoadRows(buffer.data() + 2, 2, 2)});
    REQUIRE(s.rows() == 3);
    REQUIRE(s.cols() == 2);
    CHECK(s(0, 1) == 2.0f);
    CHECK(s(1, 0) == 5.0f);
    CHECK(s(2, 1) == 8.0f);
    CHECK_THROWS_WITH_AS(
        stack_rows(std::vector<LoadRows>{LoadRows(window.data(), 1, 2), LoadRows(buffer.data(), 2, 3)}),
        "window 1 has 3 columns, window 0 has 2", Error);
    CHECK(stack_rows(std::vector<LoadRows>{}).rows() == 0);
}

TEST_CASE("plan_windows = plan of each window") {
    auto cpu = make_cpu_planner();
    Rng rng(17);
    const ParallelConfig c{64, 80, 8, 2, 16};
    std::vector<LoadMatrix> windows;
    for (int b = 0; b < 5; ++b) windows.push_back(test::random_loads(rng, 1 + b, 64));
    const std::vector<Placement> got = plan_windows(*cpu, windows, c, Policy::kDeepseek);
    REQUIRE(got.size() == 5);
    for (size_t b = 0; b < windows.size(); ++b) {
        const Placement want = plan_deepseek(windows[b], c);
        CHECK(got[b].phy2log == want.phy2log);
        CHECK(got[b].phyrank == want.phyrank);
        CHECK(got[b].logcnt == want.logcnt);
    }
    CHECK(plan_windows(*cpu, {}, c, Policy::kDeepseek).empty());
}

TEST_CASE("evaluate_windows = evaluate of each window; summarize_rows of a row range") {
    auto cpu = make_cpu_planner();
    Rng rng(18);
    const ParallelConfig c{64, 80, 8, 2, 16};
    std::vector<IndexMatrix> plans;
    std::vector<LoadMatrix> loads;
    for (int b = 0; b < 4; ++b) {
        plans.push_back(plan_deepseek(test::random_loads(rng, 3, 64), c).phy2log);
        loads.push_back(test::random_loads(rng, 3, 64));
    }
    const std::vector<Metrics> got = evaluate_windows(*cpu, plans, loads, c);
    REQUIRE(got.size() == 4);
    for (size_t b = 0; b < plans.size(); ++b) {
        const Metrics want = evaluate(plans[b], loads[b], c);
        CHECK(got[b].balancedness == want.balancedness);
        CHECK(got[b].mean_layer_balancedness == want.mean_layer_balancedness);
        CHECK(got[b].gap == want.gap);
        CHECK(got[b].worst_layer == want.worst_layer);
        CHECK(got[b].gpu_loads == want.gpu_loads);
        CHECK(got[b].node_loads == want.node_loads);
        for (size_t l = 0; l < want.layers.size(); ++l) {
            CHECK(got[b].layers[l].max_gpu_load == want.layers[l].max_gpu_load);
            CHECK(got[b].layers[l].lower_bound == want.layers[l].lower_bound);
        }
    }
    // Rows 3..5 of the stacked scores are window 1.
    const RowScores s = score_rows(stack_rows(plans), stack_rows(loads), c);
    CHECK(s.num_rows() == 12);
    const Metrics w1 = summarize_rows(s, c, 3, 3);
    CHECK(w1.balancedness == got[1].balancedness);
    CHECK_THROWS_AS(summarize_rows(s, c, 10, 3), Error);
    CHECK_THROWS_WITH_AS(evaluate_windows(*cpu, plans, {loads[0]}, c),
                         "4 placements but 1 load windows to score them on", Error);
}

TEST_CASE("plan_into = plan, whatever `out` held before") {
    auto cpu = make_cpu_planner();
    Rng rng(19);
    const ParallelConfig c{64, 80, 8, 2, 16};
    const LoadMatrix load = test::random_loads(rng, 4, 64);
    Placement out{IndexMatrix::Constant(2, 7, 5), IndexMatrix::Constant(2, 7, 5),
                  IndexMatrix::Constant(2, 3, 5)};
    cpu->plan_into(load, c, Policy::kDeepseek, out);
    const Placement want = plan_deepseek(load, c);
    CHECK(out.phy2log == want.phy2log);
    CHECK(out.phyrank == want.phyrank);
    CHECK(out.logcnt == want.logcnt);
}
