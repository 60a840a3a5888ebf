// libFuzzer harness: the config reader, and the layer-range parser its `moe_layers` feeds, on
// arbitrary bytes. Accepted configs must hold values in the documented ranges.
#include <cstddef>
#include <cstdint>
#include <string>

#include "eplb/config.h"
#include "eplb/trace.h"
#include "io/config_io.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace eplb;
    const std::string text(reinterpret_cast<const char*>(data), size);
    io::ConfigFile c;
    if (fuzz::accepts([&] { c = io::parse_config_json(text, fuzz::kSource); })) {
        for (const auto* v : {&c.num_groups, &c.num_nodes, &c.num_gpus, &c.num_physical_experts,
                              &c.num_logical_experts, &c.window_size, &c.step_interval, &c.top_k}) {
            if (*v)
                FUZZ_CHECK(**v >= 1 && **v <= kMaxConfigCount, "count out of range: " + std::to_string(**v));
        }
        if (c.num_redundant_experts) FUZZ_CHECK(*c.num_redundant_experts >= 0, "negative redundant experts");
        FUZZ_CHECK(!(c.num_redundant_experts && c.num_physical_experts),
                   "both redundant and physical accepted");
        if (c.moe_layers)
            FUZZ_CHECK(c.moe_layers->first >= 0 && c.moe_layers->end > c.moe_layers->first, "bad moe_layers");
        if (c.expert_bytes) FUZZ_CHECK(*c.expert_bytes >= 1, "expert_bytes < 1");
    }
    // The same bytes as a --layers / --steps argument (the message names the flag, not a file).
    Range r;
    if (fuzz::accepts([&] { r = parse_range(text, "--layers"); }, "--layers '")) {
        FUZZ_CHECK(r.first >= 0 && (r.end == -1 || r.end > r.first), "bad range accepted: " + text);
    }
    return 0;
}
