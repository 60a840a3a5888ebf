// libFuzzer harness: the placement reader on arbitrary bytes. An accepted placement must be valid
// for its config, score, and survive writing and reading back byte for byte.
#include <cstddef>
#include <cstdint>
#include <string>

#include "eplb/metrics.h"
#include "eplb/migration.h"
#include "eplb/placement.h"
#include "io/placement_io.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace eplb;
    const std::string text(reinterpret_cast<const char*>(data), size);
    io::PlacementDoc d;
    if (!fuzz::accepts([&] { d = io::parse_placement_json(text, fuzz::kSource); })) return 0;
    const Placement& p = d.placement;
    FUZZ_CHECK(fuzz::accepts([&] { validate_placement(p, d.config); }, ""), "accepted an invalid placement");
    FUZZ_CHECK(d.layer_ids.size() == static_cast<size_t>(p.num_layers()), "layer ids do not match the rows");
    // log2phy is padded to the largest replica count: L x E x W entries, which a small file with
    // one expert replicated thousands of times can make huge. Bound the work per input.
    if (static_cast<double>(p.num_layers()) * p.num_experts() * p.max_replicas() > 1e6) return 0;
    const std::string json = io::placement_to_json(d, nullptr, nullptr);
    io::PlacementDoc r;
    FUZZ_CHECK(fuzz::accepts([&] { r = io::parse_placement_json(json, fuzz::kSource); }),
               "own output refused");
    FUZZ_CHECK(r.placement.phy2log == p.phy2log && r.placement.phyrank == p.phyrank &&
                   r.placement.logcnt == p.logcnt,
               "round trip changed the maps");
    FUZZ_CHECK(r.layer_ids == d.layer_ids, "round trip changed the layer ids");
    FUZZ_CHECK(io::placement_to_json(r, nullptr, nullptr) == json, "writing is not deterministic");
    // Scoring on uniform load: every expert has a replica, so this must not throw.
    const LoadMatrix ones = LoadMatrix::Ones(p.num_layers(), p.num_experts());
    const Metrics m = evaluate(p.phy2log, ones, d.config);
    FUZZ_CHECK(m.balancedness > 0.0 && m.balancedness <= 1.0 + 1e-12, "balancedness out of (0, 1]");
    const MigrationStats none = count_migration(p.phy2log, p.phy2log, d.config, d.expert_bytes);
    FUZZ_CHECK(none.experts_moved == 0 && none.bytes_moved == 0,
               "moving to the same placement moves experts");
    return 0;
}
