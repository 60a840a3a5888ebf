// The transfer model (dry run's predicted time) on plans small enough to work out by hand: one
// pair's groups, a swap whose landing copies come after the network, copies of one window slowing
// the next window's transfer, the copy-engine barrier, and the sweep's grid and order.
#include <doctest/doctest.h>

#include <algorithm>

#include "eplb/error.h"
#include "eplb/transfer_model.h"
#include "eplb/transfer_plan.h"
#include "tests/test_util.h"

using namespace eplb;
using eplb::test::shuffle_config;

namespace {

IndexMatrix rows(std::initializer_list<std::initializer_list<int>> r) {
    IndexMatrix m(static_cast<Eigen::Index>(r.size()), static_cast<Eigen::Index>(r.begin()->size()));
    int i = 0;
    for (const auto& row : r) {
        int j = 0;
        for (int v : row) m(i, j++) = v;
        ++i;
    }
    return m;
}

// 1 ms per expert on the wire and per local copy; no latency, no interference.
TransferModelParams unit_params(bool copy_engines) {
    TransferModelParams m;
    m.copy_engines = copy_engines;
    m.group_size = 8;
    m.ring_gbps = 1;  // expert_bytes 1e6 -> 1 ms
    m.copy_gbps = 1;
    return m;
}

constexpr int64_t kExpertBytes = 1000000;

// Layer 0: GPUs 0 and 1 swap the experts of their slot 0 (both land in staging: the slot's old
// content leaves in the same step), then copy them into place. Layer 1: GPU 1 receives expert 4
// into slot 0, whose old content nobody needs (lands directly, no copy).
TransferPlan swap_then_direct(int layers_in_flight) {
    const IndexMatrix old_map = rows({{0, 1, 2, 3}, {4, 5, 6, 7}});
    const IndexMatrix new_map = rows({{2, 1, 0, 3}, {4, 5, 4, 7}});
    return build_transfer_plan(old_map, new_map, shuffle_config(8, 4, 1, 2),
                               TransferPlanOptions{kExpertBytes, layers_in_flight, 0});
}

}  // namespace

TEST_CASE("model: one pair's NCCL groups and copy-engine pushes, worked by hand") {
    // GPU 0 sends 10 experts to GPU 1 (one per layer, each landing in its slot): one step of 10.
    IndexMatrix old_map(10, 2), new_map(10, 2);
    for (int l = 0; l < 10; ++l) {
        old_map.row(l) << 2 * l, 2 * l + 1;
        new_map.row(l) << 2 * l, 2 * l;
    }
    const TransferPlan plan = build_transfer_plan(old_map, new_map, shuffle_config(20, 2, 1, 2),
                                                  TransferPlanOptions{kExpertBytes, 10, 0});
    REQUIRE(plan.steps.size() == 1);
    REQUIRE(plan.steps[0].length == 10);
    REQUIRE(plan.local[0].empty());
    REQUIRE(plan.local[1].empty());

    TransferModelParams m = unit_params(false);
    m.group_size = 4;
    m.op_us = 100;
    m.group_us = 1000;
    const TransferModelResult nccl = model_transfer_plan(plan, m);
    // 3 groups (4 + 4 + 2): 3 · 1 ms + 10 · (0.1 + 1) ms.
    CHECK(nccl.groups == 3);
    CHECK(nccl.max_ops_per_group == 8);
    REQUIRE(nccl.steps.size() == 1);
    CHECK(nccl.steps[0].pairs == 1);
    CHECK(nccl.steps[0].groups == 3);
    CHECK(nccl.steps[0].ops_per_group == 8);
    CHECK(nccl.seconds == doctest::Approx(0.014));
    CHECK(nccl.network_seconds == doctest::Approx(0.014));
    CHECK(nccl.local_tail_seconds == doctest::Approx(0.0));
    CHECK(nccl.ring_seconds == doctest::Approx(0.010));  // 10 experts at 1 GB/s
    CHECK(nccl.of_ring() == doctest::Approx(10.0 / 14.0));

    // Copy engines: one barrier (1 ms), then 10 pushes at twice the ring: 1 + 10 · (0.1 + 0.5) ms.
    m.copy_engines = true;
    m.link_factor = 2;
    const TransferModelResult ce = model_transfer_plan(plan, m);
    CHECK(ce.groups == 0);
    CHECK(ce.steps[0].groups == 1);
    CHECK(ce.steps[0].ops_per_group == 10);
    CHECK(ce.seconds == doctest::Approx(0.007));
}

TEST_CASE("model: landing copies after the network, and copies slowing the next window") {
    // One window: step 0 moves the swap and layer 1's expert (1 ms), then each GPU copies its
    // landed expert into place (1 ms): 2 ms, 1 ms of it after the network.
    const TransferPlan one = swap_then_direct(2);
    REQUIRE(one.steps.size() == 1);
    CHECK(one.stats.gpus[0].staged == 1);
    CHECK(one.stats.gpus[1].staged == 1);
    CHECK(one.stats.gpus[1].direct == 1);
    CHECK(one.local[0].size() == 1);
    CHECK(one.local[1].size() == 1);
    const TransferModelResult r1 = model_transfer_plan(one, unit_params(false));
    CHECK(r1.steps[0].pairs == 2);
    CHECK(r1.steps[0].length == 2);
    CHECK(r1.network_seconds == doctest::Approx(0.002));  // GPU 0 sends 2 experts to GPU 1
    CHECK(r1.seconds == doctest::Approx(0.003));
    CHECK(r1.local_tail_seconds == doctest::Approx(0.001));

    // A window per layer: the swap (step 0, [0, 1) ms), the landing copies [1, 2) ms on both GPUs,
    // and window 1's transfer (step 1) from 1 ms, beside them.
    const TransferPlan two = swap_then_direct(1);
    REQUIRE(two.steps.size() == 2);
    TransferModelParams m = unit_params(false);
    TransferModelResult r = model_transfer_plan(two, m);
    CHECK(r.steps[1].start_ms == doctest::Approx(1.0));
    CHECK(r.steps[1].end_ms == doctest::Approx(2.0));
    CHECK(r.seconds == doctest::Approx(0.002));
    // Interference 0.5: the transfer overlaps 1 ms of copies, so it ends 0.5 ms later.
    m.interference = 0.5;
    r = model_transfer_plan(two, m);
    CHECK(r.steps[0].delay_ms == doctest::Approx(0.0));
    CHECK(r.steps[1].delay_ms == doctest::Approx(0.5));
    CHECK(r.steps[1].end_ms == doctest::Approx(2.5));
    CHECK(r.seconds == doctest::Approx(0.0025));
    // Copy engines: step 1 waits for a barrier (0.2 ms) after every GPU's step 0.
    m = unit_params(true);
    m.group_us = 200;
    r = model_transfer_plan(two, m);
    CHECK(r.steps[0].start_ms == doctest::Approx(0.2));
    CHECK(r.steps[1].start_ms == doctest::Approx(1.4));
    CHECK(r.seconds == doctest::Approx(0.0024));
}

TEST_CASE("model: bad parameters are refused") {
    const TransferPlan plan = swap_then_direct(1);
    TransferModelParams m = unit_params(false);
    m.copy_gbps = 0;
    CHECK_THROWS_AS(model_transfer_plan(plan, m), Error);
    m = unit_params(false);
    m.interference = -1;
    CHECK_THROWS_AS(model_transfer_plan(plan, m), Error);
}

TEST_CASE("sweep: the grid, layers in flight past the layer count dropped, fastest first") {
    const IndexMatrix old_map = rows({{0, 1, 2, 3}, {4, 5, 6, 7}});
    const IndexMatrix new_map = rows({{2, 1, 0, 3}, {4, 5, 4, 7}});
    ScheduleGrid grid;
    grid.transports = {fitted_model_params(false), fitted_model_params(true)};
    grid.group_sizes = {4, 8};
    grid.step_experts = {0, 1};
    grid.layers_in_flight = {8, 1, 2, 4};  // 2 layers: 1 and 2 stay
    const std::vector<SweepRow> rows_out =
        sweep_schedules(old_map, new_map, shuffle_config(8, 4, 1, 2), kExpertBytes, grid);
    CHECK(rows_out.size() == 2 * 2 * (2 + 1));
    for (size_t i = 1; i < rows_out.size(); ++i) CHECK(rows_out[i - 1].seconds <= rows_out[i].seconds);
    for (const SweepRow& r : rows_out) {
        CHECK((r.candidate.layers_in_flight == 1 || r.candidate.layers_in_flight == 2));
        if (r.candidate.copy_engines) {
            CHECK(r.candidate.group_size == 0);
        } else {
            CHECK((r.candidate.group_size == 4 || r.candidate.group_size == 8));
        }
        // Each row is the model of the plan it names.
        const TransferPlan plan = build_transfer_plan(
            old_map, new_map, shuffle_config(8, 4, 1, 2),
            TransferPlanOptions{kExpertBytes, r.candidate.layers_in_flight, r.candidate.step_experts});
        TransferModelParams m = fitted_model_params(r.candidate.copy_engines);
        if (!r.candidate.copy_engines) m.group_size = r.candidate.group_size;
        CHECK(r.seconds == doctest::Approx(model_transfer_plan(plan, m).seconds));
        CHECK(r.steps == static_cast<int64_t>(plan.steps.size()));
    }
}
