// The shuffle on real GPUs (suite nccl): random placements, no change, duplicates, empty slots and
// elastic rank mappings, with NCCL and copy engines, every byte verified. Exits 77 (skipped) with
// fewer than 2 GPUs.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "cuda/device_shuffle.h"
#include "eplb/error.h"
#include "eplb/gen_trace.h"
#include "eplb/transfer_plan.h"
#include "tests/test_util.h"

using namespace eplb;
using eplb::test::random_phy2log;
using eplb::test::shuffle_config;

namespace {

int g_num_gpus = 0;  // GPUs the tests use: all visible, at most 4

// Runs the plan with the given transport and returns the wrong bytes over all passes.
int64_t run(const TransferPlan& plan, ShuffleTransport transport, int group_size = 8,
            int64_t peak_bytes = 0) {
    ShuffleRunOptions opt;
    opt.transport = transport;
    opt.group_size = group_size;
    opt.repeat = 1;
    opt.timeout_s = 120;
    opt.peak_bytes = peak_bytes;
    const ShuffleRunResult res = run_shuffle_on_devices(plan, opt);
    CHECK(res.pass_seconds.size() == 1);
    if (transport != ShuffleTransport::kAuto) CHECK(res.transport == transport);
    CHECK(res.wrong.size() == static_cast<size_t>(plan.num_gpus));
    if (peak_bytes > 0) CHECK(res.ring_peak > 0);
    return res.wrong_total;
}

// Both transports on the same plan (copy engines only where every pair has peer access).
void run_both(const TransferPlan& plan, int group_size = 8) {
    CHECK(run(plan, ShuffleTransport::kNccl, group_size) == 0);
    try {
        CHECK(run(plan, ShuffleTransport::kCopyEngine) == 0);
    } catch (const Error& e) {
        const std::string what = e.what();
        if (what.find("peer access") == std::string::npos) throw;
        MESSAGE("copy engines skipped: " << what);
    }
}

}  // namespace

TEST_CASE("random placements with duplicates, odd expert sizes, every window size") {
    Rng rng(11);
    const int p = g_num_gpus, k = 5, e = 3 * p + 1;
    const ParallelConfig c = shuffle_config(e, k * p, 1, p);
    for (int trial = 0; trial < 2; ++trial) {
        const IndexMatrix old_map = random_phy2log(rng, 4, e, k * p);
        const IndexMatrix new_map = random_phy2log(rng, 4, e, k * p);
        for (int in_flight : {1, 4}) {
            const TransferPlan plan =
                build_transfer_plan(old_map, new_map, c, TransferPlanOptions{4096 + 13 + trial, in_flight});
            CAPTURE(trial);
            CAPTURE(in_flight);
            run_both(plan, trial == 0 ? 2 : 8);
        }
    }
}

TEST_CASE("no change: nothing moves and every byte stays") {
    Rng rng(12);
    const int p = g_num_gpus;
    const ParallelConfig c = shuffle_config(2 * p, 3 * p, 1, p);
    const IndexMatrix m = random_phy2log(rng, 2, 2 * p, 3 * p);
    const TransferPlan plan = build_transfer_plan(m, m, c, TransferPlanOptions{1 << 16, 2});
    CHECK(plan.steps.empty());
    CHECK(run(plan, ShuffleTransport::kNccl) == 0);
}

TEST_CASE("heavy duplication: few experts, many replicas per GPU") {
    Rng rng(13);
    const int p = g_num_gpus, k = 8, e = 3;
    const ParallelConfig c = shuffle_config(e, k * p, 1, p);
    const IndexMatrix old_map = random_phy2log(rng, 3, e, k * p);
    const IndexMatrix new_map = random_phy2log(rng, 3, e, k * p);
    run_both(build_transfer_plan(old_map, new_map, c, TransferPlanOptions{8192, 2}));
}

TEST_CASE("empty slots neither send nor receive") {
    Rng rng(14);
    const int p = g_num_gpus, k = 6, e = 2 * p + 2;
    const ParallelConfig c = shuffle_config(e, k * p, 1, p);
    const IndexMatrix old_map = random_phy2log(rng, 3, e, k * p, 0.3);
    const IndexMatrix new_map = random_phy2log(rng, 3, e, k * p, 0.3);
    run_both(build_transfer_plan(old_map, new_map, c, TransferPlanOptions{12288 + 5, 3}));
}

TEST_CASE("elastic scale-down and scale-up through rank mappings") {
    Rng rng(15);
    const int p = g_num_gpus, k = 4, e = 2 * p;
    // Down: p old ranks, p - 1 new ranks; old rank 0 leaves, the others shift down.
    std::vector<int> down(p);
    for (int q = 0; q < p; ++q) down[q] = q - 1;
    const IndexMatrix old_map = random_phy2log(rng, 2, e, k * p);
    const IndexMatrix smaller = random_phy2log(rng, 2, e, k * (p - 1));
    const AlignedPlacements a = align_placements(old_map, p, smaller, p - 1, down);
    CHECK(run(build_transfer_plan(a.old_phy2log, a.new_phy2log, shuffle_config(e, k * p, 1, p), {4096, 2}),
              ShuffleTransport::kNccl) == 0);
    // Up: p - 1 old ranks become ranks 1..p-1; rank 0 joins empty.
    std::vector<int> up(p - 1);
    for (int q = 0; q < p - 1; ++q) up[q] = q + 1;
    const AlignedPlacements b = align_placements(smaller, p - 1, old_map, p, up);
    const TransferPlan plan =
        build_transfer_plan(b.old_phy2log, b.new_phy2log, shuffle_config(e, k * p, 1, p), {4096, 2});
    CHECK(plan.stats.gpus[0].sent == 0);
    CHECK(plan.stats.gpus[0].received > 0);
    CHECK(run(plan, ShuffleTransport::kNccl, 8, int64_t{1} << 20) == 0);
}

TEST_CASE("too few GPUs for the placement is a device error, not a hang") {
    Rng rng(16);
    const int p = g_num_gpus + 1, k = 2, e = p;
    const IndexMatrix m0 = random_phy2log(rng, 1, e, k * p), m1 = random_phy2log(rng, 1, e, k * p);
    const TransferPlan plan = build_transfer_plan(m0, m1, shuffle_config(e, k * p, 1, p), {4096, 1});
    ShuffleRunOptions opt;
    opt.devices.clear();
    std::string visible;
    const int n = visible_cuda_devices(&visible);
    if (n >= p) return;  // this machine has more GPUs than the tests use
    try {
        run_shuffle_on_devices(plan, opt);
        FAIL("expected an error");
    } catch (const Error& err) {
        CHECK(err.kind() == ErrorKind::kDevice);
        CHECK(std::string(err.what()).find("needs " + std::to_string(p) + " GPUs") != std::string::npos);
    }
}

int main(int argc, char** argv) {
    std::string why;
    const int n = visible_cuda_devices(&why);
    if (n < 2) {
        std::printf("skipped: the nccl suite needs 2 GPUs, %d visible%s%s\n", n, why.empty() ? "" : ": ",
                    why.c_str());
        return 77;
    }
    g_num_gpus = std::min(n, 4);
    doctest::Context context(argc, argv);
    return context.run();
}
