// simulate() (chunks, running window sums, the fast scorer, batched plans) against the plain loop
// of reference_simulate.cpp, lane by lane, per-step scores bit for bit.
#include <doctest/doctest.h>

#include <numeric>
#include <string>
#include <vector>

#include "eplb/gen_trace.h"
#include "eplb/planner.h"
#include "eplb/policy.h"
#include "eplb/simulate.h"
#include "eplb/step_source.h"
#include "tests/eplb/reference_deepseek.h"
#include "tests/eplb/reference_simulate.h"
#include "tests/test_util.h"

using namespace eplb;

namespace {

// Integer loads (token counts: the window sums are exact in double), with zeros and ties.
LoadTrace random_series(Rng& rng, int steps, int layers, int experts) {
    LoadTrace t;
    t.num_steps = steps;
    t.num_layers = layers;
    t.num_experts = experts;
    t.layer_ids.resize(layers);
    std::iota(t.layer_ids.begin(), t.layer_ids.end(), 0);
    for (int s = 0; s < steps; ++s) {
        const int kind = static_cast<int>(rng.next() % 4);  // a step of zeros now and then
        for (int i = 0; i < layers * experts; ++i) {
            const float v = kind == 0   ? 0.0f
                            : kind == 1 ? static_cast<float>(rng.next() % 3)
                                        : static_cast<float>(rng.next() % 200);
            t.values.push_back(v);
        }
    }
    return t;
}

LoadTrace generated_series(int steps, int layers, int experts) {
    GenTraceOptions g;
    g.num_layers = layers;
    g.num_experts = experts;
    g.num_steps = steps;
    g.tokens_per_step = 256;
    g.drift = 0.1;
    g.switch_every = 30;
    return generate_trace(g);
}

// The reference planner of each policy: DeepSeek's eplb.py transcribed for `deepseek`, the core's
// CPU planner for `balanced` (which has no other version).
reference::PlanFunction plan_function(Policy policy, const ParallelConfig& c, Planner& planner) {
    if (policy == Policy::kDeepseek) {
        return [c](const LoadMatrix& load) {
            const reference::RebalanceResult r = reference::rebalance_experts(
                load, c.num_physical_experts, c.num_groups, c.num_nodes, c.num_gpus);
            return Placement{r.phy2log, r.phyrank, r.logcnt};
        };
    }
    return [c, policy, &planner](const LoadMatrix& load) { return planner.plan(load, c, policy); };
}

void check_against_reference(const LoadTrace& series, const ParallelConfig& c,
                             const std::vector<LaneSpec>& lanes, const std::vector<int>& chunks) {
    constexpr int64_t kExpertBytes = 1000;
    auto planner = make_cpu_planner();
    std::vector<reference::LaneRun> expected;
    for (const LaneSpec& lane : lanes) {
        expected.push_back(
            reference::simulate_lane(series, c, lane, kExpertBytes, plan_function(lane.policy, c, *planner)));
    }
    for (const int chunk : chunks) {
        SimulationOptions o;
        o.config = c;
        o.lanes = lanes;
        o.expert_bytes = kExpertBytes;
        o.chunk_steps = chunk;
        TraceStepSource source(series);
        const SimulationResult got = simulate(source, o, *planner);
        REQUIRE(got.lanes.size() == lanes.size());
        for (size_t k = 0; k < lanes.size(); ++k) {
            const LaneResult& lane = got.lanes[k];
            const reference::LaneRun& ref = expected[k];
            CAPTURE(chunk);
            CAPTURE(lane.spec.label);
            CAPTURE(lane.spec.window_size);
            CAPTURE(lane.spec.step_interval);
            CHECK(got.mean_gpu_load == ref.mean_gpu_load);
            CHECK(lane.max_gpu_load == ref.max_gpu_load);  // bit for bit
            CHECK(lane.rearranged_at == ref.rearranged_at);
            CHECK(lane.moved_at == ref.moved_at);
            CHECK(lane.rearrangements == static_cast<int>(ref.rearranged_at.size()));
            CHECK(lane.checks == ref.checks);
            CHECK(lane.experts_moved == ref.experts_moved);
            CHECK(lane.intra_node == ref.intra_node);
            CHECK(lane.inter_node == ref.inter_node);
            CHECK(lane.bytes_moved == ref.bytes_moved);
            CHECK(lane.balancedness == ref.balancedness);
            CHECK(lane.final_phy2log == ref.final_phy2log);
        }
    }
}

}  // namespace

TEST_CASE("reference count_moved: distinct experts a GPU lacks, intra-node when its node has one") {
    // 2 nodes x 1 GPU x 2 slots, 3 experts. GPU 1 gains expert 0 (held by node 0 only): inter-node;
    // GPU 0 gains expert 2 twice in its new slots: counted once.
    const ParallelConfig c{3, 4, 1, 2, 2};
    IndexMatrix before(1, 4), after(1, 4);
    before << 0, 1, 2, 1;
    after << 2, 2, 0, 1;
    const reference::Moved m = reference::count_moved(before, after, c);
    CHECK(m.experts == 2);
    CHECK(m.intra_node == 0);
    CHECK(m.inter_node == 2);
}

TEST_CASE(
    "simulate == reference: windows, intervals, thresholds, oracle, relabel, both policies, any batching") {
    Rng rng(77);
    // Hierarchical with 2 nodes, and global (3 groups on 2 nodes) with 3 GPUs per node.
    const std::vector<ParallelConfig> configs = {{16, 20, 4, 2, 4}, {12, 18, 3, 2, 6}};
    // Windows of 1 step, a few, and longer than the series; intervals of 1 (a check every step),
    // 3 (the counter starts at I), 8, 50, and 1000 (first check after 250 steps: never here).
    const std::vector<LaneSpec> lanes = make_lanes({Policy::kDeepseek, Policy::kBalanced}, {1, 7, 40, 500},
                                                   {1, 3, 8, 50, 1000}, {0.0, 0.9, 1.0}, true, {false, true});
    for (const ParallelConfig& c : configs) {
        CAPTURE(describe(c));
        const int e = c.num_logical_experts;
        check_against_reference(generated_series(120, 3, e), c, lanes, {0, 1, 7});
        check_against_reference(random_series(rng, 61, 5, e), c, lanes, {0, 16});
    }
}

TEST_CASE("simulate == reference: series shorter than the first check, one step, many layers") {
    Rng rng(78);
    const ParallelConfig c{16, 24, 4, 2, 8};
    const std::vector<LaneSpec> lanes =
        make_lanes({Policy::kDeepseek}, {1, 4, 100}, {4, 40, 3000}, {0.0, 0.95}, true);
    // 5 steps: only interval 4 reaches a check (after floor(4/4) = 1 step) and I = 40's first check
    // (after 10 steps) never comes.
    check_against_reference(random_series(rng, 5, 2, 16), c, lanes, {0, 2});
    check_against_reference(random_series(rng, 1, 3, 16), c, lanes, {0});
    // 13 layers: batched plans of many rows (lockstep blocks of 4 and a remainder).
    check_against_reference(generated_series(30, 13, 16), c, lanes, {0, 4});
}
