// The simulator with the CUDA planner against the CPU planner: the same rearrangements, moved
// counts and per-step scores, bit for bit (plans are bit-identical, scoring runs on the host).
// Skipped (exit 77) without a GPU.
#include <doctest/doctest.h>

#include "cuda/cuda_planner.h"
#include "eplb/gen_trace.h"
#include "eplb/planner.h"
#include "eplb/simulate.h"

using namespace eplb;

TEST_CASE(
    "simulate: CUDA and CPU planners give identical runs (DeepSeek-V3 EP32 and EP72, drift, switches)") {
    GenTraceOptions g;
    g.first_layer_id = 3;
    g.num_steps = 400;
    g.drift = 0.02;
    g.switch_every = 150;
    const LoadTrace trace = generate_trace(g);
    for (const ParallelConfig& c : {ParallelConfig{256, 288, 8, 4, 32}, ParallelConfig{256, 288, 8, 9, 72}}) {
        CAPTURE(c.num_gpus);
        SimulationOptions o;
        o.config = c;
        o.expert_bytes = 44040192;
        o.lanes = make_lanes({Policy::kDeepseek}, {50, 200}, {20, 100}, {0.0, 0.97}, true);
        auto cpu = make_cpu_planner();
        auto cuda = make_cuda_planner();
        TraceStepSource a(trace), b(trace);
        const SimulationResult want = simulate(a, o, *cpu);
        const SimulationResult got = simulate(b, o, *cuda);
        CHECK(got.backend == "cuda");
        REQUIRE(got.lanes.size() == want.lanes.size());
        for (size_t k = 0; k < want.lanes.size(); ++k) {
            CAPTURE(want.lanes[k].spec.label);
            CHECK(got.lanes[k].rearranged_at == want.lanes[k].rearranged_at);
            CHECK(got.lanes[k].moved_at == want.lanes[k].moved_at);
            CHECK(got.lanes[k].max_gpu_load == want.lanes[k].max_gpu_load);
            CHECK(got.lanes[k].final_phy2log == want.lanes[k].final_phy2log);
        }
    }
}
