// The `deepseek` policy: DeepSeek's README example exactly, the building blocks' tie rules, and
// invariants on many random inputs.
#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

#include "eplb/error.h"
#include "eplb/metrics.h"
#include "eplb/policy.h"
#include "tests/test_util.h"

using namespace eplb;

namespace {
IndexMatrix to_matrix(const std::vector<std::vector<int>>& rows) {
    IndexMatrix m(rows.size(), rows[0].size());
    for (size_t r = 0; r < rows.size(); ++r)
        for (size_t c = 0; c < rows[r].size(); ++c) m(r, c) = rows[r][c];
    return m;
}
LoadMatrix to_loads(const std::vector<std::vector<float>>& rows) {
    LoadMatrix m(rows.size(), rows[0].size());
    for (size_t r = 0; r < rows.size(); ++r)
        for (size_t c = 0; c < rows[r].size(); ++c) m(r, c) = rows[r][c];
    return m;
}
}  // namespace

TEST_CASE("DeepSeek README example: 2 layers x 12 experts, R=16, G=4, N=2, P=8") {
    const LoadMatrix load = to_loads({{90, 132, 40, 61, 104, 165, 39, 4, 73, 56, 183, 86},
                                      {20, 107, 104, 64, 19, 197, 187, 157, 172, 86, 16, 27}});
    ParallelConfig c{12, 16, 4, 2, 8};
    c.validate();
    CHECK(c.hierarchical());
    const Placement p = plan_deepseek(load, c);
    CHECK(p.phy2log == to_matrix({{5, 6, 5, 7, 8, 4, 3, 4, 10, 9, 10, 2, 0, 1, 11, 1},
                                  {7, 10, 6, 8, 6, 11, 8, 9, 2, 4, 5, 1, 5, 0, 3, 1}}));
    CHECK(p.logcnt ==
          to_matrix({{1, 2, 1, 1, 2, 2, 1, 1, 1, 1, 2, 1}, {1, 2, 1, 1, 1, 2, 2, 1, 2, 1, 1, 1}}));
    // log2phy: replica rank 0 is the original copy (the node-local slot < E/N before packing), e.g.
    // layer 0's expert 1 keeps its original at slot 15 and its extra replica at slot 13.
    CHECK(p.max_replicas() == 2);
    CHECK(
        p.log2phy() ==
        to_matrix({{12, -1, 15, 13, 11, -1, 6, -1, 7, 5, 0, 2, 1, -1, 3, -1, 4, -1, 9, -1, 8, 10, 14, -1},
                   {13, -1, 15, 11, 8, -1, 14, -1, 9, -1, 10, 12, 2, 4, 0, -1, 6, 3, 7, -1, 1, -1, 5, -1}}));
}

TEST_CASE("balanced_packing: stable order and lowest-index ties") {
    // Four equal items onto two packs: items 0,1 go to packs 0,1, then 2,3 again to 0,1.
    const Packing a = balanced_packing(to_loads({{5, 5, 5, 5}}), 2);
    CHECK(a.pack_index == to_matrix({{0, 1, 0, 1}}));
    CHECK(a.rank_in_pack == to_matrix({{0, 0, 1, 1}}));
    // One item per pack: identity, no sorting.
    const Packing b = balanced_packing(to_loads({{1, 9, 3}}), 3);
    CHECK(b.pack_index == to_matrix({{0, 1, 2}}));
    CHECK(b.rank_in_pack == to_matrix({{0, 0, 0}}));
    // A full pack is skipped even when it is the lightest.
    const Packing c = balanced_packing(to_loads({{10, 1, 1, 1}}), 2);
    CHECK(c.pack_index == to_matrix({{0, 1, 1, 0}}));
}

TEST_CASE("replicate_experts: argmax of weight/count, lowest index on ties, ranks in creation order") {
    const Replication r = replicate_experts(to_loads({{4, 4, 1}}), 6);
    // Extra slots: 0 (4 vs 4: lowest), 1 (4/1 > 2), then 0 and 1 tie at 2 -> 0.
    CHECK(r.phy2log == to_matrix({{0, 1, 2, 0, 1, 0}}));
    CHECK(r.phyrank == to_matrix({{0, 0, 0, 1, 1, 2}}));
    CHECK(r.logcnt == to_matrix({{3, 2, 1}}));
}

TEST_CASE("global fallback equals the hierarchical procedure with one group and one node") {
    Rng rng(7);
    const LoadMatrix load = test::random_loads(rng, 5, 24);
    ParallelConfig global{24, 32, 3, 2, 8};  // 3 % 2 != 0 -> global
    global.validate();
    CHECK_FALSE(global.hierarchical());
    ParallelConfig one{24, 32, 1, 1, 8};
    CHECK(plan_deepseek(load, global).phy2log == plan_deepseek(load, one).phy2log);
}

TEST_CASE("invariants on random inputs") {
    Rng rng(2024);
    struct Shape {
        int e, r, g, n, p;
    };
    const std::vector<Shape> shapes = {{12, 16, 4, 2, 8},  {256, 288, 8, 4, 32}, {256, 288, 8, 9, 72},
                                       {64, 64, 4, 2, 8},  {128, 160, 1, 2, 16}, {33, 40, 3, 1, 8},
                                       {20, 40, 5, 5, 40}, {8, 8, 1, 1, 8},      {60, 96, 6, 3, 12},
                                       {48, 48, 8, 8, 48}, {10, 30, 2, 1, 3},    {256, 320, 8, 8, 64}};
    for (const Shape& s : shapes) {
        ParallelConfig c{s.e, s.r, s.g, s.n, s.p};
        c.validate();
        for (int trial = 0; trial < 8; ++trial) {
            const LoadMatrix load = test::random_loads(rng, 3, s.e);
            const Placement p = plan_deepseek(load, c);
            CAPTURE(s.e);
            CAPTURE(s.r);
            CAPTURE(s.n);
            CAPTURE(s.p);
            validate_placement(p, c);  // counts >= 1, ranks consistent, every expert held
            for (int l = 0; l < p.num_layers(); ++l) {
                CHECK(p.logcnt.row(l).sum() == s.r);
                // log2phy is the inverse of phy2log.
                const IndexMatrix l2p = p.log2phy();
                const int w = p.max_replicas();
                for (int x = 0; x < s.e; ++x) {
                    for (int k = 0; k < w; ++k) {
                        const int slot = l2p(l, x * w + k);
                        if (k < p.logcnt(l, x)) {
                            REQUIRE(slot >= 0);
                            CHECK(p.phy2log(l, slot) == x);
                            CHECK(p.phyrank(l, slot) == k);
                        } else {
                            CHECK(slot == -1);
                        }
                    }
                }
                // Hierarchical: every replica of a group's experts sits on that group's node.
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
            for (const LayerMetrics& lm : m.layers) {
                CHECK(lm.lower_bound <= lm.max_gpu_load * (1 + 1e-9) + 1e-9);
                CHECK(lm.gap >= -1e-9);
            }
        }
    }
}

TEST_CASE("deterministic: the same input gives the same placement") {
    Rng rng(3);
    const LoadMatrix load = test::random_loads(rng, 58, 256);
    ParallelConfig c{256, 288, 8, 4, 32};
    CHECK(plan_deepseek(load, c).phy2log == plan_deepseek(load, c).phy2log);
}

TEST_CASE("config validation names the values") {
    auto message = [](ParallelConfig c) {
        try {
            c.validate();
        } catch (const Error& e) {
            CHECK(e.exit_code() == 3);
            return std::string(e.what());
        }
        return std::string();
    };
    CHECK(message({256, 288, 8, 4, 6}) == "num_gpus (6) must be a multiple of num_nodes (4)");
    CHECK(message({256, 290, 8, 4, 32}) == "num_physical_experts (290) must be a multiple of num_gpus (32)");
    CHECK(message({256, 200, 8, 4, 8}).find("num_physical_experts (200) must be at least") == 0);
    CHECK(message({100, 128, 8, 4, 32}) ==
          "num_logical_experts (100) must be a multiple of num_groups (8) for hierarchical balancing");
    CHECK(message({256, 288, 8, 4, 0}) == "num_gpus (0) must be at least 1");
    CHECK(message({256, 288, 8, 4, 32}).empty());
    // Counts beyond 2^24 are refused before any product of them is formed or allocated.
    CHECK(message({256, 1 << 25, 8, 4, 32}) == "num_physical_experts (33554432) must be at most 16777216");
    CHECK(message({256, 288, 8, 4, 2147483647}) == "num_gpus (2147483647) must be at most 16777216");
}

TEST_CASE("loads must be finite and non-negative") {
    LoadMatrix w = LoadMatrix::Ones(2, 4);
    w(1, 2) = -1;
    CHECK_THROWS_WITH_AS(validate_loads(w), "load of row 1, expert 2 is -1: loads must be finite and >= 0",
                         Error);
    w(1, 2) = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_AS(validate_loads(w), Error);
}
