// Batched scoring on the GPU against the CPU's evaluate(): GPU loads, busiest GPU, total load,
// lower bound, duplicates and the aggregated metrics, on random plans, placements with empty slots
// and duplicates, and the real traces. Skipped (exit 77) without a GPU.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "cuda/cuda_planner.h"
#include "eplb/batch.h"
#include "eplb/error.h"
#include "eplb/metrics.h"
#include "eplb/placement.h"
#include "eplb/policy.h"
#include "tests/cuda/sglang_traces.h"
#include "tests/cuda/shapes.h"
#include "tests/test_util.h"

using namespace eplb;

namespace {

constexpr double kTolerance = 1e-12;  // relative; the kernel repeats the CPU's double operations

void check_close_scores(const RowScores& got, const RowScores& want) {
    REQUIRE(got.num_rows() == want.num_rows());
    REQUIRE(got.gpu_loads.cols() == want.gpu_loads.cols());
    for (int row = 0; row < got.num_rows(); ++row) {
        CAPTURE(row);
        for (Eigen::Index q = 0; q < got.gpu_loads.cols(); ++q) {
            CHECK(got.gpu_loads(row, q) == doctest::Approx(want.gpu_loads(row, q)).epsilon(kTolerance));
        }
        CHECK(got.total_load[row] == doctest::Approx(want.total_load[row]).epsilon(kTolerance));
        CHECK(got.max_gpu_load[row] == doctest::Approx(want.max_gpu_load[row]).epsilon(kTolerance));
        CHECK(got.lower_bound[row] == doctest::Approx(want.lower_bound[row]).epsilon(kTolerance));
        CHECK(got.max_gpu[row] == want.max_gpu[row]);
        CHECK(got.duplicate_gpus[row] == want.duplicate_gpus[row]);
    }
}

void check_close_metrics(const Metrics& got, const Metrics& want) {
    REQUIRE(got.layers.size() == want.layers.size());
    CHECK(got.balancedness == doctest::Approx(want.balancedness).epsilon(kTolerance));
    CHECK(got.mean_layer_balancedness == doctest::Approx(want.mean_layer_balancedness).epsilon(kTolerance));
    CHECK(got.imbalance == doctest::Approx(want.imbalance).epsilon(kTolerance));
    CHECK(got.gap == doctest::Approx(want.gap).epsilon(kTolerance));
    CHECK(got.max_gap == doctest::Approx(want.max_gap).epsilon(kTolerance));
    CHECK(got.worst_layer == want.worst_layer);
    CHECK(got.duplicate_pairs == want.duplicate_pairs);
    for (Eigen::Index i = 0; i < want.node_loads.size(); ++i) {
        CHECK(got.node_loads(i) == doctest::Approx(want.node_loads(i)).epsilon(kTolerance));
    }
}

}  // namespace

TEST_CASE("CUDA scores = CPU scores on random plans, every kernel shape") {
    auto cuda = make_cuda_planner();
    Rng rng(77);
    for (const ParallelConfig& c : test::kernel_test_configs()) {
        CAPTURE(describe(c));
        const LoadMatrix load = test::random_loads(rng, 33, c.num_logical_experts);
        const Placement p = plan_deepseek(load, c);
        check_close_scores(cuda->score(p.phy2log, load, c), score_rows(p.phy2log, load, c));
        // A plan made for other loads: unbalanced, other maxima.
        const LoadMatrix other = test::random_loads(rng, 33, c.num_logical_experts);
        check_close_scores(cuda->score(p.phy2log, other, c), score_rows(p.phy2log, other, c));
    }
}

TEST_CASE("CUDA scores with empty slots and duplicate replicas on one GPU") {
    auto cuda = make_cuda_planner();
    Rng rng(8);
    // vLLM's start placement with slots emptied: slot s holds s % E, every 5th slot empty.
    const ParallelConfig c{64, 96, 1, 2, 8};
    IndexMatrix phy2log(16, 96);
    for (int l = 0; l < 16; ++l) {
        for (int s = 0; s < 96; ++s) phy2log(l, s) = (s % 5 == 4 && s >= 64) ? -1 : (s + l) % 64;
    }
    phy2log(3, 1) = phy2log(3, 0);  // GPU 0 holds one expert twice
    const LoadMatrix load = test::random_loads(rng, 16, 64);
    const RowScores want = score_rows(phy2log, load, c);
    CHECK(want.duplicate_gpus[3] == 1);
    check_close_scores(cuda->score(phy2log, load, c), want);
}

TEST_CASE("evaluate_windows on the GPU = evaluate per window") {
    auto cuda = make_cuda_planner();
    Rng rng(21);
    const ParallelConfig c{256, 288, 8, 4, 32};
    std::vector<IndexMatrix> plans;
    std::vector<LoadMatrix> loads;
    for (int b = 0; b < 16; ++b) {
        const LoadMatrix plan_load = test::random_loads(rng, 58, 256);
        plans.push_back(plan_deepseek(plan_load, c).phy2log);
        loads.push_back(test::random_loads(rng, 58, 256));
    }
    const std::vector<Metrics> got = evaluate_windows(*cuda, plans, loads, c);
    REQUIRE(got.size() == plans.size());
    for (size_t b = 0; b < plans.size(); ++b) {
        CAPTURE(b);
        check_close_metrics(got[b], evaluate(plans[b], loads[b], c));
    }
}

TEST_CASE("CUDA scores on the real traces") {
    const auto traces = test::sglang_traces();
    if (traces.empty()) {
        MESSAGE("EPLB_SHARED traces not found: trace comparison skipped");
        return;
    }
    auto cuda = make_cuda_planner();
    const ParallelConfig c{256, 288, 8, 4, 32};
    for (const auto& [name, load] : traces) {
        CAPTURE(name);
        const Placement p = plan_deepseek(load, c);
        check_close_scores(cuda->score(p.phy2log, load, c), score_rows(p.phy2log, load, c));
        // Scored on another trace's loads (a stale placement).
        const LoadMatrix& other = traces.front().second;
        check_close_scores(cuda->score(p.phy2log, other, c), score_rows(p.phy2log, other, c));
    }
}

TEST_CASE("scoring errors name the row as on the CPU") {
    auto cuda = make_cuda_planner();
    const ParallelConfig c{4, 6, 1, 1, 3};
    IndexMatrix phy2log(2, 6);
    phy2log << 0, 1, 2, 3, 0, 1,  //
        0, 1, 2, 0, 1, 2;         // row 1: expert 3 has no replica
    LoadMatrix load(2, 4);
    load << 1, 1, 1, 1, 3, 3, 3, 6;
    std::string cpu_message;
    try {
        score_rows(phy2log, load, c);
    } catch (const Error& e) {
        cpu_message = e.what();
    }
    CHECK(cpu_message == "layer 1: expert 3 has load 6 but no replica");
    CHECK_THROWS_WITH_AS(cuda->score(phy2log, load, c), cpu_message.c_str(), Error);
    phy2log(0, 2) = 7;
    CHECK_THROWS_WITH_AS(cuda->score(phy2log, load, c), "phy2log[0][2] is 7, outside [-1, 4)", Error);
    CHECK_THROWS_AS(cuda->score(phy2log, load.leftCols(3), c), Error);
}
