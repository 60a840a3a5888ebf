// The shuffle's transfer plan: built on random placements, duplicates, no change, empty slots and
// elastic rank mappings, then ordered-checked and run on host buffers byte for byte.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <set>
#include <tuple>

#include "eplb/error.h"
#include "eplb/gen_trace.h"
#include "eplb/migration.h"
#include "eplb/transfer_exec.h"
#include "eplb/transfer_plan.h"
#include "tests/test_util.h"

using namespace eplb;
using eplb::test::random_phy2log;
using eplb::test::shuffle_config;

namespace {

struct Outcome {
    TransferPlan plan;
    int64_t wrong = 0;
};

// Builds, checks the order, runs on the host and counts wrong bytes; also checks the invariants
// every plan must keep.
Outcome plan_and_run(const IndexMatrix& old_map, const IndexMatrix& new_map, const ParallelConfig& c,
                     int64_t expert_bytes, int layers_in_flight,
                     int step_experts = TransferPlanOptions{}.step_experts) {
    Outcome out{build_transfer_plan(old_map, new_map, c,
                                    TransferPlanOptions{expert_bytes, layers_in_flight, step_experts})};
    const TransferPlan& plan = out.plan;
    check_transfer_order(plan);
    HostShuffleState state = make_host_state(plan);
    execute_on_host(plan, state);
    for (const auto& per_layer : count_wrong_bytes(plan, state)) {
        for (int64_t w : per_layer) out.wrong += w;
    }

    // Receives agree with the migration count, per GPU and by node.
    const MigrationStats mig = count_migration(old_map, new_map, c, expert_bytes);
    int64_t intra = 0;
    for (int q = 0; q < c.num_gpus; ++q) {
        CHECK(plan.stats.gpus[q].received == mig.received_per_gpu[q]);
        CHECK(plan.stats.gpus[q].direct + plan.stats.gpus[q].staged == plan.stats.gpus[q].received);
        intra += plan.stats.gpus[q].received_intra;
    }
    CHECK(plan.stats.received == mig.experts_moved);
    CHECK(intra == mig.intra_node);

    // Each (layer, receiver, expert) arrives once; steps are ring-like; senders hold the expert.
    std::set<std::tuple<int, int, int>> seen;
    const int k = plan.slots_per_gpu;
    for (const Step& step : plan.steps) {
        std::vector<int> receivers;
        for (int a = 0; a < c.num_gpus; ++a) {
            const int b = step.send_peer[a];
            if (b < 0) {
                CHECK(step.sends[a].empty());
                continue;
            }
            CHECK(b != a);
            CHECK(step.recv_peer[b] == a);
            CHECK(static_cast<int>(step.sends[a].size()) <= step.length);
            if (step_experts > 0) CHECK(static_cast<int>(step.sends[a].size()) <= step_experts);
            receivers.push_back(b);
            for (const Transfer& tr : step.sends[a]) {
                CHECK(seen.insert({tr.layer, b, tr.expert}).second);
                CHECK(old_map(tr.layer, a * k + tr.src_slot) == tr.expert);
            }
        }
        std::sort(receivers.begin(), receivers.end());
        CHECK(std::adjacent_find(receivers.begin(), receivers.end()) == receivers.end());
    }
    CHECK(static_cast<int64_t>(seen.size()) == mig.experts_moved);

    // The schedule is as long as the busiest GPU of each window.
    int64_t want = 0;
    for (int w = 0; w < plan.num_windows(); ++w) {
        std::vector<int64_t> rx(c.num_gpus, 0), tx(c.num_gpus, 0);
        for (int s = plan.window_first_step[w]; s < plan.window_first_step[w + 1]; ++s) {
            for (int a = 0; a < c.num_gpus; ++a) {
                tx[a] += static_cast<int64_t>(plan.steps[s].sends[a].size());
                if (plan.steps[s].send_peer[a] >= 0)
                    rx[plan.steps[s].send_peer[a]] += static_cast<int64_t>(plan.steps[s].sends[a].size());
            }
        }
        want += std::max(*std::max_element(rx.begin(), rx.end()), *std::max_element(tx.begin(), tx.end()));
    }
    CHECK(plan.stats.schedule_length == want);
    return out;
}

}  // namespace

TEST_CASE("two GPUs trade experts: one transfer each way, straight into the slots") {
    // GPU0 {0,1} -> {0,2}; GPU1 {2,3} -> {1,3}: GPU0 needs 2 from GPU1 and GPU1 needs 1 from GPU0.
    const ParallelConfig c = shuffle_config(4, 4, 1, 2);
    IndexMatrix old_map(1, 4), new_map(1, 4);
    old_map << 0, 1, 2, 3;
    new_map << 0, 2, 1, 3;
    const Outcome out = plan_and_run(old_map, new_map, c, 64, 4);
    CHECK(out.wrong == 0);
    const TransferPlan& plan = out.plan;
    REQUIRE(plan.steps.size() == 1);
    const Step& step = plan.steps[0];
    CHECK(step.send_peer == std::vector<int>{1, 0});
    REQUIRE(step.sends[0].size() == 1);
    CHECK(step.sends[0][0].expert == 1);
    CHECK(step.sends[0][0].src_slot == 1);
    // Slot 0 of GPU1 (old 2) is sent in the same step: the receive must be staged.
    CHECK(step.sends[0][0].dst.staging());
    CHECK(plan.stats.gpus[1].staged == 1);
    CHECK(plan.stats.gpus[0].staged == 1);
    CHECK(plan.stats.max_staging_buffers == 1);
    CHECK(plan.stats.schedule_length == 1);
    CHECK(plan.stats.bound_seconds(64.0) == doctest::Approx(1.0));
}

TEST_CASE("no change moves nothing and copies nothing") {
    Rng rng(7);
    const ParallelConfig c = shuffle_config(12, 16, 2, 4);
    const IndexMatrix m = random_phy2log(rng, 3, 12, 16);
    const Outcome out = plan_and_run(m, m, c, 40, 2);
    CHECK(out.wrong == 0);
    CHECK(out.plan.steps.empty());
    for (const auto& ops : out.plan.local) CHECK(ops.empty());
    CHECK(out.plan.stats.received == 0);
    CHECK(out.plan.stats.max_staging_buffers == 0);
}

TEST_CASE("a swap inside one GPU is a cycle of local copies broken by one save") {
    const ParallelConfig c = shuffle_config(3, 3, 1, 1);
    IndexMatrix old_map(1, 3), new_map(1, 3);
    old_map << 0, 1, 2;
    new_map << 1, 0, 2;
    const Outcome out = plan_and_run(old_map, new_map, c, 24, 1);
    CHECK(out.wrong == 0);
    const GpuTransferStats& g = out.plan.stats.gpus[0];
    CHECK(g.received == 0);
    CHECK(g.local_copies == 2);
    CHECK(g.saves == 1);
    CHECK(g.staging_buffers == 1);
    REQUIRE(out.plan.local[0].size() == 3);
    CHECK(out.plan.local[0][0].kind == CopyKind::kSave);
}

TEST_CASE("a received expert lands once and is copied to the GPU's other slots that need it") {
    // GPU1 needs expert 0 in both its slots; GPU0 keeps it.
    const ParallelConfig c = shuffle_config(3, 4, 1, 2);
    IndexMatrix old_map(1, 4), new_map(1, 4);
    old_map << 0, 1, 2, 1;
    new_map << 0, 1, 0, 0;
    const Outcome out = plan_and_run(old_map, new_map, c, 33, 1);
    CHECK(out.wrong == 0);
    CHECK(out.plan.stats.gpus[1].received == 1);
    CHECK(out.plan.stats.gpus[1].landing_copies + out.plan.stats.gpus[1].direct == 2);
    CHECK(out.plan.stats.gpus[0].sent == 1);
}

TEST_CASE("senders: same node first, then spread over the holders") {
    // 2 nodes x 2 GPUs, 1 slot each... expert 0 is held by GPU0 (node 0) and GPU2 (node 1).
    const ParallelConfig c = shuffle_config(2, 8, 2, 4);
    IndexMatrix old_map(1, 8), new_map(1, 8);
    old_map << 0, 0, 1, 1, 0, 0, 1, 1;
    new_map << 0, 0, 0, 1, 0, 0, 0, 1;
    // GPU1 and GPU3 each need expert 0: from their own node (GPU0, GPU2).
    Outcome out = plan_and_run(old_map, new_map, c, 16, 1);
    CHECK(out.wrong == 0);
    CHECK(out.plan.stats.link_experts(0, 1) == 1);
    CHECK(out.plan.stats.link_experts(2, 3) == 1);
    CHECK(out.plan.stats.received_intra == 2);

    // One node, four GPUs: two holders of expert 0, four receivers: two each.
    const ParallelConfig one = shuffle_config(5, 8, 1, 4);
    IndexMatrix o2(1, 8), n2(1, 8);
    o2 << 0, 1, 0, 2, 3, 4, 3, 4;
    n2 << 0, 1, 0, 2, 0, 4, 0, 1;
    out = plan_and_run(o2, n2, one, 16, 1);
    CHECK(out.wrong == 0);
    CHECK(out.plan.stats.gpus[0].sent + out.plan.stats.gpus[1].sent == 3);  // expert 0 twice, expert 1 once
    CHECK(std::abs(out.plan.stats.gpus[0].sent - out.plan.stats.gpus[1].sent) <= 1);
}

TEST_CASE("random placements with duplicates: zero wrong bytes, any window size") {
    Rng rng(2024);
    const int shapes[][4] = {
        // experts, slots per GPU, nodes, GPUs
        {8, 3, 1, 4}, {6, 4, 1, 2}, {16, 5, 2, 4}, {10, 2, 1, 8}, {24, 4, 4, 8}, {4, 6, 1, 3}, {32, 9, 2, 4},
    };
    int cases = 0;
    for (const auto& sh : shapes) {
        const int e = sh[0], k = sh[1], n = sh[2], p = sh[3];
        const int r = k * p;
        if (r < e) continue;
        for (int trial = 0; trial < 6; ++trial) {
            const int layers = 1 + static_cast<int>(rng.next() % 5);
            const ParallelConfig c = shuffle_config(e, r, n, p);
            const IndexMatrix old_map = random_phy2log(rng, layers, e, r);
            const IndexMatrix new_map = random_phy2log(rng, layers, e, r);
            const int in_flight = 1 + static_cast<int>(rng.next() % (layers + 1));
            const int64_t bytes = 8 + static_cast<int64_t>(rng.next() % 61);  // odd sizes too
            const int step_experts = std::vector<int>{0, 1, 2, 16}[trial % 4];
            CAPTURE(e);
            CAPTURE(p);
            CAPTURE(trial);
            const Outcome out = plan_and_run(old_map, new_map, c, bytes, in_flight, step_experts);
            CHECK(out.wrong == 0);
            ++cases;
        }
    }
    CHECK(cases == 42);
}

TEST_CASE("shorter steps land receives in slots whose old content an earlier step sent") {
    // Two GPUs swap all their experts, slot t of one for slot t of the other: a receive lands
    // directly only after its slot's old content left, so of each such pair one can, not both.
    // In one step none does (every receive targets a slot still being sent); in steps of one expert
    // the planner reaches the best, half of them.
    const int k = 8;
    const ParallelConfig c = shuffle_config(2 * k, 2 * k, 1, 2);
    IndexMatrix old_map(1, 2 * k), new_map(1, 2 * k);
    for (int t = 0; t < 2 * k; ++t) {
        old_map(0, t) = t;
        new_map(0, t) = (t + k) % (2 * k);
    }
    const Outcome whole = plan_and_run(old_map, new_map, c, 32, 1, 0);
    CHECK(whole.wrong == 0);
    CHECK(whole.plan.steps.size() == 1);
    CHECK(whole.plan.stats.gpus[0].direct + whole.plan.stats.gpus[1].direct == 0);
    const Outcome cut = plan_and_run(old_map, new_map, c, 32, 1, 1);
    CHECK(cut.wrong == 0);
    CHECK(cut.plan.steps.size() == k);
    CHECK(cut.plan.stats.schedule_length == k);
    CHECK(cut.plan.stats.gpus[0].direct + cut.plan.stats.gpus[1].direct == k);
    CHECK(cut.plan.stats.max_staging_buffers < whole.plan.stats.max_staging_buffers);
}

TEST_CASE("empty slots (-1) neither send nor receive") {
    Rng rng(99);
    for (int trial = 0; trial < 20; ++trial) {
        const ParallelConfig c = shuffle_config(10, 16, 2, 4);
        const IndexMatrix old_map = random_phy2log(rng, 3, 10, 16, 0.3);
        IndexMatrix new_map = random_phy2log(rng, 3, 10, 16, 0.3);
        const Outcome out = plan_and_run(old_map, new_map, c, 20, 2);
        CHECK(out.wrong == 0);
        for (const Step& step : out.plan.steps) {
            for (int a = 0; a < 4; ++a) {
                for (const Transfer& tr : step.sends[a]) {
                    CHECK(old_map(tr.layer, a * 4 + tr.src_slot) >= 0);
                    if (!tr.dst.staging())
                        CHECK(new_map(tr.layer, step.send_peer[a] * 4 + tr.dst.index) >= 0);
                }
            }
        }
        for (int q = 0; q < 4; ++q) {
            for (const LocalCopy& lc : out.plan.local[q]) {
                if (!lc.dst.staging()) CHECK(new_map(lc.dst.layer, q * 4 + lc.dst.index) >= 0);
            }
        }
    }
}

TEST_CASE("elastic scale-down: a leaving rank sends its experts and needs nothing") {
    Rng rng(5);
    const int e = 12, k = 4;
    const IndexMatrix old_map = random_phy2log(rng, 4, e, 4 * k);  // 4 GPUs
    const IndexMatrix new_map = random_phy2log(rng, 4, e, 3 * k);  // 3 GPUs
    const std::vector<int> mapping = {0, -1, 1, 2};                // old rank 1 leaves
    const AlignedPlacements al = align_placements(old_map, 4, new_map, 3, mapping);
    CHECK(al.num_gpus == 4);
    CHECK(al.old_ranks);
    CHECK((al.new_phy2log.middleCols(k, k).array() == -1).all());
    CHECK(al.new_phy2log.middleCols(2 * k, k) == new_map.middleCols(k, k));
    const Outcome out = plan_and_run(al.old_phy2log, al.new_phy2log, shuffle_config(e, 4 * k, 1, 4), 24, 2);
    CHECK(out.wrong == 0);
    CHECK(out.plan.stats.gpus[1].received == 0);
    CHECK(out.plan.local[1].empty());
}

TEST_CASE("elastic scale-up: a joining rank starts empty and receives everything") {
    Rng rng(6);
    const int e = 12, k = 4;
    const IndexMatrix old_map = random_phy2log(rng, 3, e, 3 * k);  // 3 GPUs
    const IndexMatrix new_map = random_phy2log(rng, 3, e, 4 * k);  // 4 GPUs
    const std::vector<int> mapping = {0, 2, 3};                    // new rank 1 joins
    const AlignedPlacements al = align_placements(old_map, 3, new_map, 4, mapping);
    CHECK(al.num_gpus == 4);
    CHECK_FALSE(al.old_ranks);
    CHECK((al.old_phy2log.middleCols(k, k).array() == -1).all());
    CHECK(al.old_phy2log.middleCols(3 * k, k) == old_map.middleCols(2 * k, k));
    const Outcome out = plan_and_run(al.old_phy2log, al.new_phy2log, shuffle_config(e, 4 * k, 2, 4), 24, 3);
    CHECK(out.wrong == 0);
    std::set<int> distinct;
    for (int l = 0; l < 3; ++l) {
        for (int t = 0; t < k; ++t) distinct.insert(l * 1000 + static_cast<int>(new_map(l, k + t)));
    }
    CHECK(out.plan.stats.gpus[1].received == static_cast<int64_t>(distinct.size()));
    CHECK(out.plan.stats.gpus[1].sent == 0);
}

TEST_CASE("invalid inputs name the problem") {
    const ParallelConfig c = shuffle_config(4, 4, 1, 2);
    IndexMatrix old_map(1, 4), new_map(1, 4);
    old_map << 0, 1, 2, 2;
    new_map << 0, 1, 3, 2;  // expert 3 has no old holder
    CHECK_THROWS_WITH_AS(build_transfer_plan(old_map, new_map, c, {}),
                         "layer 0: GPU 1 needs expert 3 but no GPU holds it in the old placement", Error);
    new_map << 0, 1, 4, 2;
    CHECK_THROWS_WITH_AS(build_transfer_plan(old_map, new_map, c, {}),
                         "new phy2log[0][2] is 4, outside [-1, 4)", Error);
    CHECK_THROWS_AS(build_transfer_plan(old_map, old_map.leftCols(2), c, {}), Error);
    CHECK_THROWS_WITH_AS(align_placements(old_map, 2, old_map, 2, {0, 0}),
                         "rank mapping sends old ranks 0 and 1 to the same new rank 0", Error);
    CHECK_THROWS_WITH_AS(align_placements(old_map, 2, old_map.leftCols(2), 1, {-1, -1}),
                         "new rank 0 is no old rank's image in the rank mapping", Error);
    CHECK_THROWS_WITH_AS(align_placements(old_map, 2, old_map.leftCols(2), 1, {}),
                         "the world changes from 2 to 1 GPUs: a rank mapping is needed", Error);
    CHECK_THROWS_WITH_AS(build_transfer_plan(old_map, old_map, c, TransferPlanOptions{64, 1, -1}),
                         "step_experts (-1) must be at least 0", Error);
}

TEST_CASE("the order check catches a receive racing the send of the slot's old content") {
    const ParallelConfig c = shuffle_config(4, 4, 1, 2);
    IndexMatrix old_map(1, 4), new_map(1, 4);
    old_map << 0, 1, 2, 3;
    new_map << 0, 2, 1, 3;
    TransferPlan plan = build_transfer_plan(old_map, new_map, c, TransferPlanOptions{16, 1});
    check_transfer_order(plan);
    // Receive expert 1 straight into GPU1's slot 0, whose old expert 2 leaves in the same step.
    Transfer& tr = plan.steps[0].sends[0][0];
    tr.dst = BufferRef{0, 0};
    CHECK_THROWS_AS(check_transfer_order(plan), Error);
    // A local copy moved before the step it waits for is caught too.
    TransferPlan plan2 = build_transfer_plan(old_map, new_map, c, TransferPlanOptions{16, 1});
    REQUIRE(!plan2.local[1].empty());
    plan2.local[1][0].after_step = -1;
    CHECK_THROWS_AS(check_transfer_order(plan2), Error);
}
