// libFuzzer harness: `plan` on whatever a trace reader accepts. The first 6 bytes pick the reader
// and a parallel config, the rest is the trace file. Every placement must be valid, deterministic,
// row-independent, never below the lower bound, and survive its JSON round trip.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "eplb/config.h"
#include "eplb/metrics.h"
#include "eplb/placement.h"
#include "eplb/planner.h"
#include "io/placement_io.h"
#include "io/trace_io.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace eplb;
    constexpr size_t kHeader = 6;
    if (size < kHeader) return 0;
    const std::string text(reinterpret_cast<const char*>(data) + kHeader, size - kHeader);
    LoadTrace trace;
    const bool ok = fuzz::accepts([&] {
        switch (data[0] % 3) {
            case 0:
                trace = io::parse_trace_json(text, fuzz::kSource);
                break;
            case 1:
                trace = io::parse_trace_csv(text, fuzz::kSource);
                break;
            default:
                trace = io::parse_trace_npy(text, fuzz::kSource);
        }
    });
    if (!ok || trace.num_experts > 4096) return 0;
    // Steps: all, or [first, T) from byte 5.
    const int first_step = data[5] % 2 ? (data[5] >> 1) % trace.num_steps : 0;
    LoadMatrix load;
    if (!fuzz::accepts([&] { load = trace.sum_steps(first_step, trace.num_steps); }, "layer ")) return 0;

    ParallelConfig c;
    c.num_logical_experts = trace.num_experts;
    c.num_nodes = 1 + data[1] % 4;
    c.num_gpus = c.num_nodes * (1 + data[2] % 4);
    c.num_groups = 1 + data[3] % 8;
    c.num_physical_experts =
        c.num_gpus * ((c.num_logical_experts + c.num_gpus - 1) / c.num_gpus + data[4] % 4);
    if (!fuzz::accepts([&] { c.validate(); }, "num_logical_experts")) return 0;

    auto planner = make_cpu_planner();
    const Placement p = planner->plan(load, c, Policy::kDeepseek);
    FUZZ_CHECK(fuzz::accepts([&] { validate_placement(p, c); }, ""), "the planner made an invalid placement");
    FUZZ_CHECK(planner->plan(load, c, Policy::kDeepseek).phy2log == p.phy2log,
               "planning is not deterministic");
    const LoadMatrix first_row = load.topRows(1);
    FUZZ_CHECK(planner->plan(first_row, c, Policy::kDeepseek).phy2log == p.phy2log.topRows(1),
               "a layer's placement depends on the other layers");

    const Metrics m = evaluate(p.phy2log, load, c);
    for (const LayerMetrics& lm : m.layers) {
        FUZZ_CHECK(lm.balancedness >= 0.0 && lm.balancedness <= 1.0 + 1e-12, "balancedness out of [0, 1]");
        FUZZ_CHECK(lm.max_gpu_load >= lm.lower_bound * (1 - 1e-9), "a placement beat the lower bound");
    }
    if (static_cast<double>(p.num_layers()) * p.num_experts() * p.max_replicas() > 1e6) return 0;
    io::PlacementDoc doc;
    doc.config = c;
    doc.layer_ids = trace.layer_ids;
    doc.placement = p;
    const std::string json = io::placement_to_json(doc, &m, nullptr);
    io::PlacementDoc back;
    FUZZ_CHECK(fuzz::accepts([&] { back = io::parse_placement_json(json, fuzz::kSource); }),
               "own placement refused");
    FUZZ_CHECK(back.placement.phy2log == p.phy2log && back.placement.phyrank == p.phyrank,
               "placement JSON round trip changed the maps");
    FUZZ_CHECK(back.layer_ids == trace.layer_ids, "placement JSON round trip changed the layer ids");
    return 0;
}
