// Link classes (NVLink within a node, the network between nodes) on plans of 2 nodes x 2 GPUs small
// enough to check by hand: every transfer crossing, classes mixed over the pass, one node; the dry
// run's bound and the transfer model's timeline at both speeds.
#include <doctest/doctest.h>

#include "eplb/error.h"
#include "eplb/link_classes.h"
#include "eplb/transfer_model.h"
#include "eplb/transfer_plan.h"
#include "tests/test_util.h"

using namespace eplb;
using eplb::test::shuffle_config;

namespace {

constexpr int64_t kGigabyte = 1000000000;  // one expert: 5 ms at 200 GB/s, 20 ms at 50 GB/s
const LinkSpeeds kSpeeds{200, 50};

// One slot per GPU, GPUs 0 and 1 on node 0, GPUs 2 and 3 on node 1. In a "cross" layer GPU q
// receives the expert of GPU q ^ 2 (the other node), in a "swap" layer that of GPU q ^ 1 (its node).
TransferPlan two_by_two(int cross_layers, int swap_layers, int num_nodes) {
    const int layers = cross_layers + swap_layers;
    IndexMatrix old_map(layers, 4), new_map(layers, 4);
    for (int l = 0; l < layers; ++l) {
        const int flip = l < cross_layers ? 2 : 1;
        for (int q = 0; q < 4; ++q) {
            old_map(l, q) = q;
            new_map(l, q) = q ^ flip;
        }
    }
    return build_transfer_plan(old_map, new_map, shuffle_config(4, 4, num_nodes, 4),
                               TransferPlanOptions{kGigabyte, layers, 0});
}

// The model with no latency, no interference, near-free local copies: only the wires count.
TransferModelParams wire_params() {
    TransferModelParams m;
    m.ring_gbps = 200;
    m.inter_node_gbps = 50;
    m.copy_gbps = 1e9;
    return m;
}

}  // namespace

TEST_CASE("link classes: every transfer crosses nodes") {
    const TransferPlan plan = two_by_two(3, 0, 2);
    CHECK(same_node(plan, 0, 1));
    CHECK(same_node(plan, 2, 3));
    CHECK_FALSE(same_node(plan, 1, 2));
    const LinkBound b = link_bound(plan, kSpeeds);
    CHECK(b.experts_intra == 0);
    CHECK(b.experts_inter == 12);  // 4 GPUs x 3 layers
    // Each GPU sends and receives 3 experts over the network: 3 GB at 50 GB/s.
    CHECK(b.busiest.gpu == 0);
    CHECK(b.busiest.inter);
    CHECK_FALSE(b.busiest.send);  // receives come first on a tie
    CHECK(b.busiest.experts == 3);
    CHECK(b.busiest.seconds == doctest::Approx(0.060));
    REQUIRE(plan.steps.size() == 1);  // 0 <-> 2 and 1 <-> 3, 3 experts each
    CHECK(b.schedule_seconds == doctest::Approx(0.060));
    CHECK(b.steps_inter_bound == 1);
    // At one speed for every link (the bound without classes) it would take 15 ms.
    CHECK(plan.stats.bound_seconds(200e9) == doctest::Approx(0.015));

    const TransferModelResult m = model_transfer_plan(plan, wire_params());
    REQUIRE(m.steps.size() == 1);
    CHECK(m.steps[0].pairs == 4);
    CHECK(m.steps[0].inter_pairs == 4);
    CHECK(m.network_seconds == doctest::Approx(0.060));
    CHECK(m.links.busiest.seconds == doctest::Approx(0.060));
}

TEST_CASE("link classes: NVLink and the network at once over the pass, one after the other in steps") {
    // 1 crossing layer and 3 swaps within the node: per GPU 1 expert over the network (20 ms) and
    // 3 over NVLink (15 ms). Both links run at once: 20 ms bound; the schedule's two steps (the
    // swaps, 3 experts per pair; the crossing, 1) run one after the other: 15 + 20 ms.
    const TransferPlan plan = two_by_two(1, 3, 2);
    const LinkBound b = link_bound(plan, kSpeeds);
    CHECK(b.experts_intra == 12);
    CHECK(b.experts_inter == 4);
    CHECK(b.busiest.gpu == 0);
    CHECK(b.busiest.inter);
    CHECK(b.busiest.experts == 1);
    CHECK(b.busiest.seconds == doctest::Approx(0.020));
    REQUIRE(plan.steps.size() == 2);
    CHECK(b.schedule_seconds == doctest::Approx(0.035));
    CHECK(b.steps_inter_bound == 1);

    const TransferModelResult m = model_transfer_plan(plan, wire_params());
    REQUIRE(m.steps.size() == 2);
    int inter_pairs = 0;
    for (const ModelStep& s : m.steps) {
        CHECK(s.pairs == 4);
        CHECK((s.inter_pairs == 0 || s.inter_pairs == 4));
        inter_pairs += s.inter_pairs;
    }
    CHECK(inter_pairs == 4);
    CHECK(m.network_seconds == doctest::Approx(0.035).epsilon(1e-4));

    // Faster NICs: NVLink bounds (3 GB at 200 GB/s), the crossing step takes 2 ms.
    const LinkBound fast = link_bound(plan, LinkSpeeds{200, 500});
    CHECK_FALSE(fast.busiest.inter);
    CHECK(fast.busiest.seconds == doctest::Approx(0.015));
    CHECK(fast.schedule_seconds == doctest::Approx(0.017));
    CHECK(fast.steps_inter_bound == 1);  // the crossing step has no NVLink pair
}

TEST_CASE("link classes: one node is the bound at one speed") {
    const TransferPlan plan = two_by_two(1, 3, 1);
    const LinkBound b = link_bound(plan, kSpeeds);
    CHECK(b.experts_inter == 0);
    CHECK(b.experts_intra == 16);
    CHECK(b.busiest.seconds == plan.stats.bound_seconds(200e9));
    CHECK(b.schedule_seconds == doctest::Approx(plan.stats.schedule_seconds(200e9)));
    CHECK(b.steps_inter_bound == 0);
    TransferModelParams p = wire_params();
    p.inter_node_gbps = 1;  // unused on one node
    CHECK(model_transfer_plan(plan, p).network_seconds ==
          doctest::Approx(model_transfer_plan(plan, wire_params()).network_seconds));
}

TEST_CASE("link classes: bad speeds are refused") {
    const TransferPlan plan = two_by_two(1, 0, 2);
    for (double bad : {0.0, -50.0, std::nan("")}) {
        CHECK_THROWS_AS(link_bound(plan, LinkSpeeds{200, bad}), Error);
        CHECK_THROWS_AS(link_bound(plan, LinkSpeeds{bad, 50}), Error);
        TransferModelParams m = wire_params();
        m.inter_node_gbps = bad;
        CHECK_THROWS_AS(model_transfer_plan(plan, m), Error);
    }
}
