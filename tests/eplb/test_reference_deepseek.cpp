// deepseek.cpp (radix sort, tournament trees, rows in lockstep) against the literal reference of
// eplb.py in reference_deepseek.cpp: equal maps on random inputs of every shape class.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "eplb/gen_trace.h"
#include "eplb/planner.h"
#include "eplb/policy.h"
#include "tests/cuda/sglang_traces.h"
#include "tests/eplb/reference_deepseek.h"
#include "tests/test_util.h"

using namespace eplb;

namespace {

// The load patterns that exercise the tie rules and float32 corners, by name for CAPTURE.
const char* const kModes[] = {"zeros",    "all equal", "ties 0..3",    "sparse",
                              "floats",   "heavy",     "signed zeros", "huge (sums overflow to inf)",
                              "subnormal"};
constexpr int kNumModes = 9;

LoadMatrix loads_of_mode(Rng& rng, int mode, int rows, int cols) {
    LoadMatrix w(rows, cols);
    const float equal = static_cast<float>(1 + rng.next() % 100);
    for (int r = 0; r < rows; ++r) {
        for (int c = 0; c < cols; ++c) {
            const double u = rng.uniform();
            float v = 0;
            switch (mode) {
                case 0:
                    v = 0.0f;
                    break;
                case 1:
                    v = equal;
                    break;
                case 2:
                    v = static_cast<float>(rng.next() % 4);
                    break;
                case 3:
                    v = u < 0.6 ? 0.0f : static_cast<float>(rng.next() % 1000);
                    break;
                case 4:
                    v = static_cast<float>(u * 1000.0);
                    break;
                case 5:
                    v = static_cast<float>(std::floor(std::exp(u * 14.0)));
                    break;
                case 6:  // -0 and +0 are equal weights: ties by index, whatever the sign bit
                    v = u < 0.4 ? -0.0f : u < 0.8 ? 0.0f : 1.0f;
                    break;
                case 7:
                    v = std::numeric_limits<float>::max() * static_cast<float>(0.25 + 0.75 * u);
                    break;
                default:
                    v = std::numeric_limits<float>::denorm_min() * static_cast<float>(rng.next() % 5);
                    break;
            }
            w(r, c) = v;
        }
    }
    return w;
}

struct Shape {
    int e, r, g, n, p;
    const char* what;
};

// Every path of deepseek.cpp: one item per pack (no sort), <= 16 packs (scan) and more (tournament
// tree), rows of <= 128 items (counting rank) and more (radix sort), hierarchical and global, no
// redundancy, and layer counts that do and do not fill the lockstep blocks of 4 rows.
const std::vector<Shape> kShapes = {
    {12, 16, 4, 2, 8, "DeepSeek's README shape"},
    {8, 8, 1, 1, 8, "R == E, one item per pack everywhere"},
    {20, 40, 5, 5, 40, "G == N and one slot per GPU: k == 1 in both packings"},
    {48, 48, 8, 8, 48, "R == E, k == 1"},
    {64, 64, 4, 2, 8, "R == E, hierarchical"},
    {1, 1, 1, 1, 1, "one expert"},
    {1, 4, 1, 1, 2, "one expert, four replicas"},
    {10, 30, 2, 1, 3, "hierarchical, one node"},
    {33, 40, 3, 1, 8, "hierarchical, odd group size"},
    {60, 96, 6, 3, 12, "hierarchical, 3 nodes"},
    {128, 160, 1, 2, 16, "G % N != 0: global"},
    {33, 36, 4, 3, 6, "global with E % G != 0 (groups unused)"},
    {256, 288, 8, 4, 32, "DeepSeek-V3 prefill: 72 slots per node"},
    {256, 288, 8, 9, 72, "global: 288 items (radix) onto 72 packs (tree)"},
    {256, 320, 8, 2, 64, "hierarchical: 160 slots per node (radix), 32 GPUs per node (tree)"},
    {16, 32, 1, 1, 16, "16 packs: the last scanned size"},
    {17, 34, 1, 1, 17, "17 packs: the first tree size"},
    {34, 34, 34, 17, 17, "34 groups onto 17 nodes (tree)"},
    {80, 80, 40, 20, 20, "40 groups onto 20 nodes"},
    {120, 128, 1, 1, 8, "128 items: the last counting size"},
    {129, 129, 1, 1, 3, "129 items: the first radix size, R == E"},
    {64, 1024, 1, 1, 8, "1024 slots for 64 experts"},
    {256, 256, 256, 8, 64, "group size 1, 32 groups per node"},
};

Placement reference_placement(const reference::RebalanceResult& ref) {
    return Placement{ref.phy2log, ref.phyrank, ref.logcnt};
}

}  // namespace

TEST_CASE("reference: DeepSeek's README example exactly") {
    LoadMatrix load(2, 12);
    load << 90, 132, 40, 61, 104, 165, 39, 4, 73, 56, 183, 86, 20, 107, 104, 64, 19, 197, 187, 157, 172, 86,
        16, 27;
    const reference::RebalanceResult ref = reference::rebalance_experts(load, 16, 4, 2, 8);
    IndexMatrix phy2log(2, 16), logcnt(2, 12);
    phy2log << 5, 6, 5, 7, 8, 4, 3, 4, 10, 9, 10, 2, 0, 1, 11, 1, 7, 10, 6, 8, 6, 11, 8, 9, 2, 4, 5, 1, 5, 0,
        3, 1;
    logcnt << 1, 2, 1, 1, 2, 2, 1, 1, 1, 1, 2, 1, 1, 2, 1, 1, 1, 2, 2, 1, 2, 1, 1, 1;
    CHECK(ref.phy2log == phy2log);
    CHECK(ref.logcnt == logcnt);
    // log2phy [L][E·2]: the slots of each expert's replicas, rank 0 first.
    CHECK(ref.log2phy.cols() == 24);
    CHECK(ref.log2phy(0, 1 * 2 + 0) == 15);
    CHECK(ref.log2phy(0, 1 * 2 + 1) == 13);
    CHECK(ref.log2phy(0, 0 * 2 + 1) == -1);
}

TEST_CASE("balanced_packing == reference on random rows of every size class") {
    Rng rng(41);
    // (items, packs): k == 1, scan and tree pack counts, counting and radix row lengths.
    const std::vector<std::pair<int, int>> sizes = {
        {1, 1},   {5, 5},    {4, 2},    {12, 3},  {32, 16}, {34, 17},   {64, 32}, {128, 4}, {128, 64},
        {129, 3}, {130, 65}, {288, 72}, {300, 1}, {512, 8}, {1000, 40}, {96, 96}, {2, 1},   {256, 128}};
    for (const auto& size : sizes) {
        const int n = size.first, m = size.second;
        for (int mode = 0; mode < kNumModes; ++mode) {
            for (const int rows : {1, 3, 4, 9}) {
                CAPTURE(n);
                CAPTURE(m);
                CAPTURE(rows);
                CAPTURE(kModes[mode]);
                const LoadMatrix w = loads_of_mode(rng, mode, rows, n);
                const Packing fast = balanced_packing(w, m);
                const reference::PackResult ref = reference::balanced_packing(w, m);
                CHECK(fast.pack_index == ref.pack_index);
                CHECK(fast.rank_in_pack == ref.rank_in_pack);
            }
        }
    }
}

TEST_CASE("replicate_experts == reference: scan and tree sizes, no and much redundancy") {
    Rng rng(42);
    const std::vector<std::pair<int, int>> sizes = {{1, 1},   {1, 7},   {4, 4},      {16, 40},   {17, 40},
                                                    {64, 64}, {64, 96}, {128, 1024}, {256, 288}, {300, 301}};
    for (const auto& size : sizes) {
        const int n = size.first, r = size.second;
        for (int mode = 0; mode < kNumModes; ++mode) {
            CAPTURE(n);
            CAPTURE(r);
            CAPTURE(kModes[mode]);
            const LoadMatrix w = loads_of_mode(rng, mode, 5, n);
            const Replication fast = replicate_experts(w, r);
            const reference::ReplicateResult ref = reference::replicate_experts(w, r);
            CHECK(fast.phy2log == ref.phy2log);
            CHECK(fast.phyrank == ref.rank);
            CHECK(fast.logcnt == ref.logcnt);
        }
    }
}

TEST_CASE("plan_deepseek == reference rebalance_experts: phy2log, phyrank, logcnt, log2phy") {
    Rng rng(43);
    // One output and one thread for every shape: the reused scratch and output must not leak
    // between shapes.
    Placement fast;
    for (const Shape& s : kShapes) {
        ParallelConfig c{s.e, s.r, s.g, s.n, s.p};
        c.validate();
        for (int mode = 0; mode < kNumModes; ++mode) {
            for (const int layers : {1, 3, 6, 61}) {
                CAPTURE(s.what);
                CAPTURE(describe(c));
                CAPTURE(kModes[mode]);
                CAPTURE(layers);
                const LoadMatrix load = loads_of_mode(rng, mode, layers, s.e);
                plan_deepseek_into(load, c, fast);
                const reference::RebalanceResult ref = reference::rebalance_experts(load, s.r, s.g, s.n, s.p);
                CHECK(fast.phy2log == ref.phy2log);
                CHECK(fast.phyrank == ref.phyrank);
                CHECK(fast.logcnt == ref.logcnt);
                CHECK(fast.log2phy() == ref.log2phy);
            }
        }
    }
}

TEST_CASE("plan_deepseek == reference on rows of mixed kinds, and through the CPU planner") {
    Rng rng(44);
    auto planner = make_cpu_planner();
    for (const Shape& s : kShapes) {
        ParallelConfig c{s.e, s.r, s.g, s.n, s.p};
        // 58 layers (DeepSeek-V3's MoE layers), each row of a random kind: the lockstep rows differ.
        LoadMatrix load(58, s.e);
        for (int l = 0; l < 58; ++l) {
            load.row(l) = loads_of_mode(rng, static_cast<int>(rng.next() % kNumModes), 1, s.e).row(0);
        }
        const reference::RebalanceResult ref = reference::rebalance_experts(load, s.r, s.g, s.n, s.p);
        const Placement fast = planner->plan(load, c, Policy::kDeepseek);
        CAPTURE(s.what);
        CHECK(fast.phy2log == ref.phy2log);
        CHECK(fast.phyrank == ref.phyrank);
        CHECK(fast.logcnt == ref.logcnt);
        CHECK(fast.log2phy() == reference_placement(ref).log2phy());
        CHECK(fast.log2phy() == ref.log2phy);
    }
}

TEST_CASE("plan_deepseek == reference on generated traces (realistic token counts)") {
    GenTraceOptions g;
    g.num_layers = 7;
    g.num_experts = 256;
    g.num_steps = 1;
    for (const uint64_t seed : {1, 2, 3}) {
        for (const double skew : {0.0, 0.45, 1.2}) {
            g.seed = seed;
            g.skew = skew;
            g.tokens_per_step = seed == 1 ? 64 : 8192;  // few tokens: many zeros and ties
            const LoadTrace trace = generate_trace(g);
            const LoadMatrix load = trace.step(0);
            for (const ParallelConfig& c :
                 {ParallelConfig{256, 288, 8, 4, 32}, ParallelConfig{256, 320, 8, 3, 64},
                  ParallelConfig{256, 256, 8, 1, 8}}) {
                CAPTURE(describe(c));
                const Placement fast = plan_deepseek(load, c);
                const reference::RebalanceResult ref = reference::rebalance_experts(
                    load, c.num_physical_experts, c.num_groups, c.num_nodes, c.num_gpus);
                CHECK(fast.phy2log == ref.phy2log);
                CHECK(fast.logcnt == ref.logcnt);
                CHECK(fast.log2phy() == ref.log2phy);
            }
        }
    }
}

TEST_CASE("plan_deepseek == reference on the real DeepSeek-V3 traces") {
    const auto traces = test::sglang_traces();
    if (traces.empty()) {
        MESSAGE("../shared/traces absent: skipped");
        return;
    }
    CHECK(traces.size() == 12);
    // Prefill (4 nodes x 8 GPUs), decode-like (9 nodes: global, 72 GPUs), 8 nodes x 8 GPUs, R == E.
    for (const ParallelConfig& c : {ParallelConfig{256, 288, 8, 4, 32}, ParallelConfig{256, 288, 8, 9, 72},
                                    ParallelConfig{256, 320, 8, 8, 64}, ParallelConfig{256, 256, 8, 4, 32}}) {
        for (const auto& trace : traces) {
            const auto& name = trace.first;
            const auto& load = trace.second;
            CAPTURE(name);
            CAPTURE(describe(c));
            const Placement fast = plan_deepseek(load, c);
            const reference::RebalanceResult ref = reference::rebalance_experts(
                load, c.num_physical_experts, c.num_groups, c.num_nodes, c.num_gpus);
            CHECK(fast.phy2log == ref.phy2log);
            CHECK(fast.phyrank == ref.phyrank);
            CHECK(fast.logcnt == ref.logcnt);
            CHECK(fast.log2phy() == ref.log2phy);
        }
    }
}
