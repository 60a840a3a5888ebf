// The `balanced` policy: invariants on random inputs, optimality where local search guarantees it,
// determinism, and a clear win over `deepseek` on DeepSeek-V3-shaped synthetic loads.
#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "eplb/balanced.h"
#include "eplb/gen_trace.h"
#include "eplb/metrics.h"
#include "eplb/planner.h"
#include "eplb/policy.h"
#include "eplb/replica_packing.h"
#include "tests/test_util.h"

using namespace eplb;

namespace {

// Whether no GPU needs two replicas of one expert: every flat instance (a node when hierarchical)
// has at least as many experts as slots per GPU.
bool duplicates_avoidable(const ParallelConfig& c) {
    const int experts_per_instance =
        c.hierarchical() ? c.num_logical_experts / c.num_nodes : c.num_logical_experts;
    return experts_per_instance >= c.slots_per_gpu();
}

}  // namespace

TEST_CASE("invariants on random inputs") {
    Rng rng(99);
    const std::vector<test::Shape> shapes = {{12, 16, 4, 2, 8},  {256, 288, 8, 4, 32}, {256, 288, 8, 9, 72},
                                             {64, 64, 4, 2, 8},  {128, 160, 1, 2, 16}, {33, 40, 3, 1, 8},
                                             {20, 40, 5, 5, 40}, {8, 8, 1, 1, 8},      {60, 96, 6, 3, 12},
                                             {48, 48, 8, 8, 48}, {10, 30, 2, 1, 3},    {4, 24, 1, 1, 2},
                                             {6, 12, 2, 2, 2},   {256, 320, 8, 8, 64}, {16, 64, 1, 1, 4}};
    for (const test::Shape& s : shapes) {
        ParallelConfig c{s.e, s.r, s.g, s.n, s.p};
        c.validate();
        for (int trial = 0; trial < 6; ++trial) {
            const LoadMatrix load = test::random_loads(rng, 3, s.e);
            const Placement p = plan_balanced(load, c);
            CAPTURE(s.e);
            CAPTURE(s.r);
            CAPTURE(s.g);
            CAPTURE(s.n);
            CAPTURE(s.p);
            CAPTURE(trial);
            validate_placement(p, c);  // counts >= 1, ranks consistent, every expert held
            CHECK(p.logcnt.minCoeff() >= 1);
            for (int l = 0; l < p.num_layers(); ++l) {
                CHECK(p.logcnt.row(l).sum() == s.r);
                // logcnt is what phy2log holds.
                CHECK(count_replicas(p.phy2log.middleRows(l, 1), s.e) == p.logcnt.middleRows(l, 1));
                if (c.hierarchical()) {
                    std::vector<int> node_of_group(s.g, -1);
                    const int slots_per_node = s.r / s.n, group_size = s.e / s.g;
                    for (int slot = 0; slot < s.r; ++slot) {
                        const int g = p.phy2log(l, slot) / group_size, node = slot / slots_per_node;
                        if (node_of_group[g] == -1) node_of_group[g] = node;
                        CHECK(node_of_group[g] == node);
                    }
                }
            }
            const Metrics m = evaluate(p.phy2log, load, c);
            for (const LayerMetrics& lm : m.layers) CHECK(lm.gap >= -1e-12);
            if (duplicates_avoidable(c)) CHECK(m.duplicate_pairs == 0);
        }
    }
}

TEST_CASE("deterministic, and the CPU planner dispatches the policy") {
    Rng rng(5);
    const LoadMatrix load = test::random_loads(rng, 20, 256);
    const ParallelConfig c{256, 288, 8, 4, 32};
    const Placement a = plan_balanced(load, c), b = plan_balanced(load, c);
    CHECK(a.phy2log == b.phy2log);
    CHECK(a.phyrank == b.phyrank);
    CHECK(make_cpu_planner()->plan(load, c, Policy::kBalanced).phy2log == a.phy2log);
    CHECK(std::string(policy_name(Policy::kBalanced)) == "balanced");
}

TEST_CASE("optimal on two GPUs of three slots without redundancy (every exchange is a 1- or 2-swap)") {
    // With R = E the counts are fixed, and two bins of three differ from any other split by a swap
    // of one or two replicas: local search that tries both must end at the optimum.
    Rng rng(11);
    ParallelConfig c{6, 6, 1, 1, 2};
    for (int trial = 0; trial < 200; ++trial) {
        LoadMatrix load(1, 6);
        for (int e = 0; e < 6; ++e) load(0, e) = static_cast<float>(1 + rng.next() % 50);
        double best = 1e30;
        const double total = load.sum();
        for (int mask = 0; mask < 64; ++mask) {
            if (__builtin_popcount(mask) != 3) continue;
            double a = 0;
            for (int e = 0; e < 6; ++e)
                if (mask >> e & 1) a += load(0, e);
            best = std::min(best, std::max(a, total - a));
        }
        const Metrics m = evaluate(plan_balanced(load, c).phy2log, load, c);
        CAPTURE(trial);
        CHECK(m.layers[0].max_gpu_load == doctest::Approx(best));
    }
}

TEST_CASE("a hand instance where deepseek's greedy is off and balanced reaches the bound") {
    // 6 experts on 2 GPUs of 3 slots: the greedy puts 8 with 5 and 4 (17) against 7, 6, 2 (15);
    // a swap of 5 and 6 reaches 16 = W/P.
    LoadMatrix load(1, 6);
    load << 8, 7, 6, 5, 4, 2;
    ParallelConfig c{6, 6, 1, 1, 2};
    const Metrics ds = evaluate(plan_deepseek(load, c).phy2log, load, c);
    const Metrics bal = evaluate(plan_balanced(load, c).phy2log, load, c);
    CHECK(ds.layers[0].max_gpu_load == doctest::Approx(17));
    CHECK(bal.layers[0].max_gpu_load == doctest::Approx(16));
    CHECK(bal.layers[0].gap == doctest::Approx(0));
}

TEST_CASE("replica counts: the capped greedy attains T* and keeps counts within the cap") {
    const double w[4] = {100, 10, 10, 10};
    int cnt[4];
    // 8 slots: uncapped, expert 0 would take 5 replicas (20 each); capped at 3 GPUs it takes 3.
    CHECK(min_max_replica_load_capped(w, 4, 8, 0, cnt) == doctest::Approx(20));
    CHECK(cnt[0] == 5);
    CHECK(min_max_replica_load_capped(w, 4, 8, 3, cnt) == doctest::Approx(100.0 / 3));
    CHECK(cnt[0] == 3);
    CHECK(cnt[0] + cnt[1] + cnt[2] + cnt[3] == 8);
    // Uncapped, it is the bound of metrics.h.
    const float wf[4] = {100, 10, 10, 10};
    CHECK(min_max_replica_load_capped(w, 4, 8, 0) == doctest::Approx(min_max_replica_load(wf, 4, 8)));
}

TEST_CASE("replica counts: the same as the plain greedy, ties included, for any number of extra slots") {
    Rng rng(71);
    for (int trial = 0; trial < 300; ++trial) {
        const int n = 1 + static_cast<int>(rng.next() % 40), extra = static_cast<int>(rng.next() % 50);
        const int cap = rng.next() % 3 == 0 ? 0 : 2 + static_cast<int>(rng.next() % 6);
        if (cap > 0 && n * cap < n + extra) continue;
        std::vector<double> w(n);
        for (auto& x : w) x = static_cast<double>(rng.next() % 6);  // many ties
        std::vector<int> got(n), want(n, 1);
        const double t = min_max_replica_load_capped(w.data(), n, n + extra, cap, got.data());
        for (int i = 0; i < extra; ++i) {
            int best = -1;
            for (int e = 0; e < n; ++e) {
                if (cap > 0 && want[e] >= cap) continue;
                if (best < 0 || w[e] / want[e] > w[best] / want[best]) best = e;
            }
            ++want[best];
        }
        double max_ratio = 0;
        for (int e = 0; e < n; ++e) max_ratio = std::max(max_ratio, w[e] / want[e]);
        CAPTURE(trial);
        CHECK(got == want);
        CHECK(t == doctest::Approx(max_ratio));
    }
}

TEST_CASE("forced duplicates: fewer experts than slots per GPU") {
    // 2 experts on 1 GPU of 6 slots: every slot holds one of them, duplicates cannot be avoided.
    LoadMatrix load(1, 2);
    load << 30, 10;
    ParallelConfig c{2, 6, 1, 1, 1};
    const Placement p = plan_balanced(load, c);
    validate_placement(p, c);
    CHECK(p.logcnt.sum() == 6);
}

TEST_CASE("layers without load get a valid plan") {
    const LoadMatrix load = LoadMatrix::Zero(2, 64);
    ParallelConfig c{64, 72, 8, 4, 8};
    const Placement p = plan_balanced(load, c);
    validate_placement(p, c);
    const Metrics m = evaluate(p.phy2log, load, c);
    CHECK(m.duplicate_pairs == 0);
    CHECK(m.gap == 0);
}

TEST_CASE("DeepSeek-V3 shapes on a synthetic trace: far closer to the bound than deepseek") {
    GenTraceOptions g;
    g.num_layers = 16;
    g.tokens_per_step = 1 << 20;
    g.seed = 3;
    const LoadMatrix load = generate_trace(g).step(0);
    for (const ParallelConfig& c : {ParallelConfig{256, 288, 1, 1, 32}, ParallelConfig{256, 288, 8, 9, 72}}) {
        const Metrics ds = evaluate(plan_deepseek(load, c).phy2log, load, c);
        const Metrics bal = evaluate(plan_balanced(load, c).phy2log, load, c);
        CAPTURE(c.num_gpus);
        CHECK(bal.duplicate_pairs == 0);
        CHECK(bal.max_gap < ds.mean_gap);
        CHECK(bal.mean_gap < 0.003);
        for (size_t l = 0; l < bal.layers.size(); ++l) {
            CHECK(bal.layers[l].max_gpu_load <= ds.layers[l].max_gpu_load);
        }
    }
}

TEST_CASE("hierarchical: groups to nodes never worse than deepseek's node bound") {
    // The node bound max(node load / (P/N), node T*) of balanced's group assignment is at most the
    // one of deepseek's greedy assignment, which is also its starting point.
    Rng rng(8);
    ParallelConfig c{64, 80, 8, 4, 16};
    for (int trial = 0; trial < 20; ++trial) {
        const LoadMatrix load = test::random_loads(rng, 1, 64);
        auto node_bound = [&](const Placement& p) {
            double worst = 0;
            const int slots_per_node = c.num_physical_experts / c.num_nodes;
            for (int node = 0; node < c.num_nodes; ++node) {
                std::vector<double> w;
                std::vector<char> seen(c.num_logical_experts, 0);
                for (int s = node * slots_per_node; s < (node + 1) * slots_per_node; ++s) {
                    const int x = p.phy2log(0, s);
                    if (!seen[x]++) w.push_back(load(0, x));
                }
                const double total = std::accumulate(w.begin(), w.end(), 0.0);
                const int gpn = c.gpus_per_node();
                const int cap = static_cast<int>(w.size()) >= c.slots_per_gpu() ? gpn : 0;
                worst = std::max(
                    {worst, total / gpn,
                     min_max_replica_load_capped(w.data(), static_cast<int>(w.size()), slots_per_node, cap)});
            }
            return worst;
        };
        CAPTURE(trial);
        CHECK(node_bound(plan_balanced(load, c)) <= node_bound(plan_deepseek(load, c)) * (1 + 1e-9));
    }
}

TEST_CASE("node_lower_bounds: between the global bound and the max GPU load of hierarchical plans") {
    Rng rng(61);
    ParallelConfig c{64, 80, 8, 4, 16};
    const LoadMatrix load = test::random_loads(rng, 10, 64);
    for (const Placement& p : {plan_deepseek(load, c), plan_balanced(load, c)}) {
        const Metrics m = evaluate(p.phy2log, load, c);
        const std::vector<double> nb = node_lower_bounds(p.phy2log, load, c);
        REQUIRE(nb.size() == 10);
        for (size_t l = 0; l < nb.size(); ++l) {
            CHECK(nb[l] >= m.layers[l].lower_bound * (1 - 1e-12));
            CHECK(nb[l] <= m.layers[l].max_gpu_load * (1 + 1e-12));
        }
    }
    // Hand case: 2 nodes x 1 GPU x 2 slots, node 0 holds {0, 1} = 10 + 2, node 1 {2, 3} = 1 + 1:
    // node bound 12 (node 0 on its one GPU), global bound max(W/P = 7, T* = 10) = 10.
    IndexMatrix phy2log(1, 4);
    phy2log << 0, 1, 2, 3;
    LoadMatrix w(1, 4);
    w << 10, 2, 1, 1;
    ParallelConfig h{4, 4, 2, 2, 2};
    CHECK(node_lower_bounds(phy2log, w, h)[0] == doctest::Approx(12));
    CHECK(evaluate(phy2log, w, h).layers[0].lower_bound == doctest::Approx(10));
}
