// The CUDA planner against the CPU reference: exact phy2log, phyrank, logcnt and log2phy on many
// random inputs (ties, zeros, floats, edge values), every kernel shape, the real traces, and
// batches of windows. Skipped (exit 77) without a GPU.
#include <doctest/doctest.h>

#include <limits>
#include <string>
#include <vector>

#include "backends/backends.h"
#include "cuda/cuda_planner.h"
#include "eplb/batch.h"
#include "eplb/error.h"
#include "eplb/gen_trace.h"
#include "eplb/planner.h"
#include "eplb/policy.h"
#include "tests/cuda/sglang_traces.h"
#include "tests/cuda/shapes.h"
#include "tests/test_util.h"

using namespace eplb;

namespace {

void check_same_placement(const Placement& got, const Placement& want) {
    REQUIRE(got.phy2log.rows() == want.phy2log.rows());
    CHECK(got.phy2log == want.phy2log);
    CHECK(got.phyrank == want.phyrank);
    CHECK(got.logcnt == want.logcnt);
    CHECK(got.log2phy() == want.log2phy());
}

}  // namespace

TEST_CASE("the factory picks the CUDA planner when a device is present") {
    std::string notice;
    CHECK(std::string(make_planner(Backend::kCuda, &notice)->name()) == "cuda");
    CHECK(std::string(make_planner(Backend::kAuto, &notice)->name()) == "cuda");
    CHECK(notice.empty());
    CHECK(std::string(make_planner(Backend::kCpu, &notice)->name()) == "cpu");
}

TEST_CASE("CUDA = CPU on random loads, every kernel shape") {
    auto cuda = make_cuda_planner();
    Rng rng(20250);
    for (const ParallelConfig& c : test::kernel_test_configs()) {
        c.validate();
        CAPTURE(describe(c));
        for (int trial = 0; trial < 12; ++trial) {
            const int rows = 1 + static_cast<int>(rng.next() % 40);
            const LoadMatrix load = test::random_loads(rng, rows, c.num_logical_experts);
            check_same_placement(cuda->plan(load, c, Policy::kDeepseek), plan_deepseek(load, c));
        }
    }
}

TEST_CASE("CUDA = CPU on 4096 DeepSeek-V3 rows in one launch") {
    auto cuda = make_cuda_planner();
    Rng rng(7);
    const ParallelConfig c{256, 288, 8, 4, 32};
    LoadMatrix load(4096, 256);
    for (int part = 0; part < 4; ++part)
        load.middleRows(part * 1024, 1024) = test::random_loads(rng, 1024, 256);
    check_same_placement(cuda->plan(load, c, Policy::kDeepseek), plan_deepseek(load, c));
}

TEST_CASE("CUDA = CPU on edge values: zeros, one value, -0, denormals, overflow to inf") {
    auto cuda = make_cuda_planner();
    const float big = std::numeric_limits<float>::max();
    const float tiny = std::numeric_limits<float>::denorm_min();
    for (const ParallelConfig& c : test::kernel_test_configs()) {
        CAPTURE(describe(c));
        const int e_n = c.num_logical_experts;
        LoadMatrix load(6, e_n);
        for (int e = 0; e < e_n; ++e) {
            load(0, e) = 0.0f;
            load(1, e) = 5.0f;
            load(2, e) = e % 3 == 0 ? -0.0f : static_cast<float>(e % 5);
            load(3, e) = tiny * static_cast<float>(e % 7);
            load(4, e) = e % 2 == 0 ? big : big / 3;
            load(5, e) = e < 8 ? big : 1.0f;
        }
        check_same_placement(cuda->plan(load, c, Policy::kDeepseek), plan_deepseek(load, c));
    }
}

TEST_CASE("large shapes: more than 48 KiB of shared memory per block, and past the kernel's limits") {
    auto cuda = make_cuda_planner();
    Rng rng(3);
    const ParallelConfig big{4096, 4608, 1, 1, 64};  // about 90 KiB per row: 2 warps per block
    const LoadMatrix load = test::random_loads(rng, 5, 4096);
    check_same_placement(cuda->plan(load, big, Policy::kDeepseek), plan_deepseek(load, big));
    // R > 65535 does not fit the kernel's 16-bit indices: the CPU plans it, same answer.
    const ParallelConfig huge{70000, 70000, 1, 1, 1};
    const LoadMatrix flat = test::random_loads(rng, 1, 70000);
    check_same_placement(cuda->plan(flat, huge, Policy::kDeepseek), plan_deepseek(flat, huge));
}

TEST_CASE("CUDA = CPU on the real DeepSeek-V3 traces") {
    const auto traces = test::sglang_traces();
    if (traces.empty()) {
        MESSAGE("EPLB_SHARED traces not found: trace comparison skipped");
        return;
    }
    auto cuda = make_cuda_planner();
    const std::vector<ParallelConfig> configs = {{256, 288, 8, 4, 32},
                                                 {256, 320, 8, 8, 64},
                                                 {256, 288, 8, 9, 72},
                                                 {256, 264, 8, 3, 24},
                                                 {256, 256, 8, 1, 8}};
    for (const auto& [name, load] : traces) {
        for (const ParallelConfig& c : configs) {
            CAPTURE(name);
            CAPTURE(describe(c));
            check_same_placement(cuda->plan(load, c, Policy::kDeepseek), plan_deepseek(load, c));
        }
    }
}

TEST_CASE("plan_windows: one launch for a batch of windows, split per window") {
    auto cuda = make_cuda_planner();
    auto cpu = make_cpu_planner();
    GenTraceOptions o;
    o.num_layers = 58;
    o.num_steps = 64;
    o.drift = 0.1;
    o.seed = 42;
    const LoadTrace trace = generate_trace(o);
    std::vector<LoadMatrix> windows;
    for (int t = 0; t < trace.num_steps; ++t) windows.push_back(trace.step(t));
    windows.push_back(windows[0].topRows(3));  // windows may differ in layers
    const ParallelConfig c{256, 288, 8, 4, 32};
    const std::vector<Placement> got = plan_windows(*cuda, windows, c, Policy::kDeepseek);
    const std::vector<Placement> want = plan_windows(*cpu, windows, c, Policy::kDeepseek);
    REQUIRE(got.size() == windows.size());
    for (size_t b = 0; b < windows.size(); ++b) {
        CAPTURE(b);
        check_same_placement(got[b], want[b]);
        check_same_placement(got[b], plan_deepseek(windows[b], c));
    }
}

TEST_CASE("plan_into reuses or reshapes the output and gives the CPU's maps") {
    auto cuda = make_cuda_planner();
    Rng rng(12);
    const ParallelConfig c{256, 288, 8, 4, 32};
    Placement out{IndexMatrix::Constant(3, 5, -3), IndexMatrix::Constant(3, 5, -3),
                  IndexMatrix::Constant(3, 2, -3)};
    for (int round = 0; round < 3; ++round) {  // reshaped once, then reused
        const LoadMatrix load = test::random_loads(rng, 61, 256);
        const int32_t* before = out.phy2log.data();
        cuda->plan_into(load, c, Policy::kDeepseek, out);
        if (round == 2) CHECK(out.phy2log.data() == before);  // same shape: no new allocation
        check_same_placement(out, plan_deepseek(load, c));
    }
}

TEST_CASE("bad input fails as on the CPU") {
    auto cuda = make_cuda_planner();
    const ParallelConfig c{12, 16, 4, 2, 8};
    const LoadMatrix wrong = LoadMatrix::Ones(2, 10);
    CHECK_THROWS_WITH_AS(cuda->plan(wrong, c, Policy::kDeepseek),
                         "load has 10 experts but num_logical_experts is 12", Error);
    // No rows: an empty placement, no launch.
    const Placement empty = cuda->plan(LoadMatrix(0, 12), c, Policy::kDeepseek);
    CHECK(empty.num_layers() == 0);
    CHECK(empty.num_slots() == 16);
}
