// Metrics of DESIGN.md against hand computations and a direct recomputation.
#include <doctest/doctest.h>

#include "eplb/metrics.h"
#include "eplb/policy.h"
#include "tests/test_util.h"

using namespace eplb;

TEST_CASE("hand-computed layer: 4 experts, 6 slots, 3 GPUs") {
    // Slots: GPU0 = {0, 1}, GPU1 = {0, 2}, GPU2 = {3, 0}; expert 0 has 3 replicas.
    IndexMatrix phy2log(1, 6);
    phy2log << 0, 1, 0, 2, 3, 0;
    LoadMatrix load(1, 4);
    load << 30, 10, 5, 20;
    ParallelConfig c{4, 6, 1, 1, 3};
    const Metrics m = evaluate(phy2log, load, c);
    CHECK(m.gpu_loads(0, 0) == doctest::Approx(20));
    CHECK(m.gpu_loads(0, 1) == doctest::Approx(15));
    CHECK(m.gpu_loads(0, 2) == doctest::Approx(30));
    const LayerMetrics& l = m.layers[0];
    CHECK(l.total_load == doctest::Approx(65));
    CHECK(l.mean_gpu_load == doctest::Approx(65.0 / 3));
    CHECK(l.max_gpu_load == doctest::Approx(30));
    CHECK(l.max_gpu == 2);
    CHECK(l.balancedness == doctest::Approx(65.0 / 3 / 30));
    CHECK(l.imbalance == doctest::Approx(30 / (65.0 / 3) - 1));
    // T*: 6 slots over loads {30,10,5,20}: counts {3,1,1,1} -> max(10,10,5,20) = 20; or {2,1,1,2}
    // -> max(15,10,5,10) = 15: greedy gives 15. W/P = 21.67 -> LB = 21.67.
    CHECK(min_max_replica_load(load.data(), 4, 6) == doctest::Approx(15));
    CHECK(l.lower_bound == doctest::Approx(65.0 / 3));
    CHECK(l.gap == doctest::Approx(30 / (65.0 / 3) - 1));
    CHECK(l.duplicate_gpus == 0);
    CHECK(m.balancedness == doctest::Approx(l.balancedness));
}

TEST_CASE("duplicates, empty layers and the overall aggregations") {
    IndexMatrix phy2log(2, 4);
    phy2log << 0, 0, 1, 2,  // GPU0 holds expert 0 twice
        0, 1, 2, 0;
    LoadMatrix load(2, 3);
    load << 8, 4, 4, 0, 0, 0;
    ParallelConfig c{3, 4, 1, 1, 2};
    const Metrics m = evaluate(phy2log, load, c);
    CHECK(m.layers[0].duplicate_gpus == 1);
    CHECK(m.duplicate_pairs == 1);
    CHECK(m.layers[1].balancedness == 1.0);  // no load
    CHECK(m.layers[1].gap == 0.0);
    // Σ mean / Σ max = (8 + 0) / (8 + 0) with GPU loads {8, 8}.
    CHECK(m.balancedness == doctest::Approx(1.0));
    CHECK(m.mean_layer_balancedness == doctest::Approx(1.0));
}

TEST_CASE("metrics equal a direct recomputation on random plans, node loads sum the GPUs") {
    Rng rng(11);
    ParallelConfig c{64, 96, 8, 4, 16};
    for (int trial = 0; trial < 20; ++trial) {
        const LoadMatrix load = test::random_loads(rng, 4, 64);
        const Placement p = plan_deepseek(load, c);
        const Metrics m = evaluate(p.phy2log, load, c);
        for (int l = 0; l < 4; ++l) {
            std::vector<double> gpu(16, 0.0);
            for (int s = 0; s < 96; ++s)
                gpu[s / 6] += double(load(l, p.phy2log(l, s))) / p.logcnt(l, p.phy2log(l, s));
            double mx = 0, total = 0;
            for (int q = 0; q < 16; ++q) {
                CHECK(m.gpu_loads(l, q) == doctest::Approx(gpu[q]));
                mx = std::max(mx, gpu[q]);
                total += gpu[q];
            }
            CHECK(m.layers[l].max_gpu_load == doctest::Approx(mx));
            for (int n = 0; n < 4; ++n) {
                CHECK(m.node_loads(l, n) ==
                      doctest::Approx(gpu[4 * n] + gpu[4 * n + 1] + gpu[4 * n + 2] + gpu[4 * n + 3]));
            }
            CHECK(m.layers[l].lower_bound <= mx + 1e-6);
            CHECK(m.layers[l].lower_bound >= total / 16 - 1e-6);
        }
    }
}
