// The CUDA kernels' row code (cuda/deepseek_row.cuh, cuda/metrics_row.cuh) run on a warp
// emulated by 32 host threads, against the CPU reference: exact maps, exact scores. Needs no GPU
// (and no nvcc), so it checks the kernels' logic on every machine, CI included.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "cuda/deepseek_row.cuh"
#include "cuda/metrics_row.cuh"
#include "eplb/metrics.h"
#include "eplb/policy.h"
#include "tests/cuda/shapes.h"
#include "tests/cuda/warp_emulator.h"
#include "tests/test_util.h"

using namespace eplb;

namespace {

Placement emulate_plan(const LoadMatrix& load, const ParallelConfig& c) {
    const bool h = c.hierarchical();
    const cuda::DeepseekRowLayout layout = cuda::make_deepseek_layout(
        c.num_logical_experts, c.num_physical_experts, h ? c.num_groups : 1, h ? c.num_nodes : 1, c.num_gpus);
    const int rows = static_cast<int>(load.rows()), e = c.num_logical_experts, r = c.num_physical_experts;
    Placement out{IndexMatrix::Constant(rows, r, -7), IndexMatrix::Constant(rows, r, -7),
                  IndexMatrix::Constant(rows, e, -7)};
    std::vector<uint32_t> scratch(layout.warp_bytes / 4 + 1);
    test::WarpEmulator emu;
    emu.run([&](test::WarpEmulator::Lane& w) {
        for (int row = 0; row < rows; ++row) {
            cuda::plan_deepseek_row(w, layout, reinterpret_cast<unsigned char*>(scratch.data()),
                                    load.row(row).data(), out.phy2log.row(row).data(),
                                    out.phyrank.row(row).data(), out.logcnt.row(row).data());
            w.sync();
        }
    });
    return out;
}

struct EmulatedScores {
    RowScores scores;
    std::vector<int32_t> bad_slot, missing;
};

EmulatedScores emulate_score(const IndexMatrix& phy2log, const LoadMatrix& load, const ParallelConfig& c) {
    const int rows = static_cast<int>(load.rows());
    const cuda::ScoreRowLayout layout =
        cuda::make_score_layout(c.num_logical_experts, c.num_physical_experts, c.num_gpus);
    EmulatedScores s{RowScores(rows, c.num_gpus), std::vector<int32_t>(rows), std::vector<int32_t>(rows)};
    const cuda::ScoreOutputs out{s.scores.gpu_loads.data(),
                                 s.scores.total_load.data(),
                                 s.scores.max_gpu_load.data(),
                                 s.scores.lower_bound.data(),
                                 s.scores.max_gpu.data(),
                                 s.scores.duplicate_gpus.data(),
                                 s.bad_slot.data(),
                                 s.missing.data()};
    std::vector<uint64_t> scratch(layout.warp_bytes / 8 + 1);
    test::WarpEmulator emu;
    emu.run([&](test::WarpEmulator::Lane& w) {
        for (int row = 0; row < rows; ++row) {
            cuda::score_row(w, layout, reinterpret_cast<unsigned char*>(scratch.data()), load.row(row).data(),
                            phy2log.row(row).data(), row, out);
            w.sync();
        }
    });
    return s;
}

void check_same_scores(const RowScores& got, const RowScores& want) {
    REQUIRE(got.num_rows() == want.num_rows());
    // The row code repeats the CPU's double operations in the CPU's order: equal, not just close.
    CHECK(got.gpu_loads == want.gpu_loads);
    CHECK(got.total_load == want.total_load);
    CHECK(got.max_gpu_load == want.max_gpu_load);
    CHECK(got.max_gpu == want.max_gpu);
    CHECK(got.lower_bound == want.lower_bound);
    CHECK(got.duplicate_gpus == want.duplicate_gpus);
}

}  // namespace

TEST_CASE("emulated kernel row = CPU plan_deepseek on random loads, every kernel shape") {
    Rng rng(99);
    for (const ParallelConfig& c : test::kernel_test_configs()) {
        c.validate();
        CAPTURE(describe(c));
        for (int trial = 0; trial < 4; ++trial) {
            const LoadMatrix load = test::random_loads(rng, 2, c.num_logical_experts);
            const Placement want = plan_deepseek(load, c);
            const Placement got = emulate_plan(load, c);
            CHECK(got.phy2log == want.phy2log);
            CHECK(got.phyrank == want.phyrank);
            CHECK(got.logcnt == want.logcnt);
            CHECK(got.log2phy() == want.log2phy());
        }
    }
}

TEST_CASE("emulated kernel row on edge values: zeros, one value, -0, denormals, overflow to inf") {
    const ParallelConfig c{256, 288, 8, 4, 32};
    const float big = std::numeric_limits<float>::max();
    const float tiny = std::numeric_limits<float>::denorm_min();
    LoadMatrix load(6, 256);
    for (int e = 0; e < 256; ++e) {
        load(0, e) = 0.0f;                                            // all zero: ties everywhere
        load(1, e) = 5.0f;                                            // all equal
        load(2, e) = e % 3 == 0 ? -0.0f : static_cast<float>(e % 5);  // -0 equals +0
        load(3, e) = tiny * static_cast<float>(e % 7);                // denormals (no flush to zero)
        load(4, e) = e % 2 == 0 ? big : big / 3;                      // group sums overflow to +inf
        load(5, e) = e < 8 ? big : 1.0f;                              // inf in one group only
    }
    const Placement want = plan_deepseek(load, c);
    const Placement got = emulate_plan(load, c);
    CHECK(got.phy2log == want.phy2log);
    CHECK(got.phyrank == want.phyrank);
    CHECK(got.logcnt == want.logcnt);
}

TEST_CASE("emulated scoring row = CPU score_rows (values identical)") {
    Rng rng(5);
    for (const ParallelConfig& c : test::kernel_test_configs()) {
        CAPTURE(describe(c));
        const LoadMatrix load = test::random_loads(rng, 3, c.num_logical_experts);
        const Placement p = plan_deepseek(load, c);
        const EmulatedScores s = emulate_score(p.phy2log, load, c);
        check_same_scores(s.scores, score_rows(p.phy2log, load, c));
        CHECK(s.bad_slot == std::vector<int32_t>(3, -1));
        CHECK(s.missing == std::vector<int32_t>(3, -1));
    }
}

TEST_CASE("emulated scoring row: empty slots, duplicates, bad entries and missing experts are reported") {
    // 3 GPUs x 2 slots, 4 experts. Row 0: GPU0 holds expert 0 twice, slot 5 empty.
    // Row 1: slot 2 holds 9 (outside [-1, 4)). Row 2: expert 3 has load but no replica.
    const ParallelConfig c{4, 6, 1, 1, 3};
    IndexMatrix phy2log(3, 6);
    phy2log << 0, 0, 1, 2, 3, -1,  //
        0, 1, 9, 2, 3, 0,          //
        0, 1, 2, 0, 1, 2;
    LoadMatrix load(3, 4);
    load << 8, 4, 4, 2,  //
        1, 1, 1, 1,      //
        3, 3, 3, 6;
    const EmulatedScores s = emulate_score(phy2log, load, c);
    CHECK(s.bad_slot == std::vector<int32_t>{-1, 2, -1});
    CHECK(s.missing == std::vector<int32_t>{-1, -1, 3});
    const RowScores want = score_rows(phy2log.topRows(1), load.topRows(1), c);
    CHECK(s.scores.gpu_loads.row(0) == want.gpu_loads.row(0));
    CHECK(s.scores.duplicate_gpus[0] == 1);
    CHECK(s.scores.max_gpu[0] == 0);  // {4+4, 4+2, 2}: GPU 0 carries 8
    CHECK(s.scores.max_gpu_load[0] == 8.0);
}
