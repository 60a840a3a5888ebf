// vLLM's EplbState tensors as JSON: the shapes vLLM expects, -1 padding, and reading them back.
#include <doctest/doctest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "eplb/error.h"
#include "io/vllm_placement.h"
#include "tests/io/readme_placement.h"
#include "tests/test_util.h"

using namespace eplb;
using namespace eplb::io;
using eplb::test::error_of;
using eplb::test::readme_doc;
using nlohmann::json;

TEST_CASE("vLLM: EplbState shapes, -1 padding and vLLM's own documented example") {
    // The example of vllm/distributed/eplb/eplb_state.py: 2 layers, 6 physical and 4 logical
    // experts on 3 EP ranks.
    IndexMatrix p2l(2, 6);
    p2l << 0, 1, 2, 3, 0, 1, 0, 2, 0, 1, 0, 3;
    PlacementDoc d;
    d.config = ParallelConfig{4, 6, 1, 1, 3};
    d.placement = placement_from_phy2log(p2l, 4);
    d.layer_ids = {0, 1};
    const json j = json::parse(placement_to_vllm_json(d));
    CHECK(j["physical_to_logical_map"] == json::parse("[[0, 1, 2, 3, 0, 1], [0, 2, 0, 1, 0, 3]]"));
    CHECK(j["logical_to_physical_map"] == json::parse(R"([[[0, 4, -1], [1, 5, -1], [2, -1, -1], [3, -1, -1]],
                                                          [[0, 2, 4], [3, -1, -1], [1, -1, -1], [5, -1, -1]]])"));
    CHECK(j["logical_replica_count"] == json::parse("[[2, 2, 1, 1], [3, 1, 1, 1]]"));
    CHECK(j["layers"] == json::parse("[0, 1]"));

    // A planned placement: width num_redundant_experts + 1 even when no expert uses it all, replica
    // rank order (rank 0 first), counts = non -1 entries.
    const PlacementDoc r = readme_doc();
    const json v = json::parse(placement_to_vllm_json(r));
    REQUIRE(v["logical_to_physical_map"].size() == 2);
    for (int l = 0; l < 2; ++l) {
        const json& layer = v["logical_to_physical_map"][l];
        REQUIRE(layer.size() == 12);
        for (int e = 0; e < 12; ++e) {
            REQUIRE(layer[e].size() == 16 - 12 + 1);
            int valid = 0;
            for (int k = 0; k < 5; ++k) {
                const int slot = layer[e][k];
                if (slot < 0) {
                    CHECK(slot == -1);
                    continue;
                }
                ++valid;
                CHECK(r.placement.phy2log(l, slot) == e);
                CHECK(r.placement.phyrank(l, slot) == k);
            }
            CHECK(v["logical_replica_count"][l][e] == valid);
        }
    }
    CHECK(v["logical_to_physical_map"][0][1] == json::parse("[15, 13, -1, -1, -1]"));
}

TEST_CASE("vLLM: counts or slot lists that disagree with physical_to_logical_map are invalid input") {
    CHECK(error_of([] {
              parse_vllm_placement(
                  R"({"physical_to_logical_map": [[0, 1, 0]], "logical_replica_count": [[1, 1]]})", "v.json",
                  {});
          }) == "v.json: logical_replica_count[0][0] is 1 but physical_to_logical_map holds 2 replicas");
    CHECK(
        error_of([] {
            parse_vllm_placement(
                R"({"physical_to_logical_map": [[0, 1, 0]], "logical_to_physical_map": [[[0, 1], [2, -1]]]})",
                "v.json", {});
        }) ==
        "v.json: logical_to_physical_map[0][0] names slot 1, which physical_to_logical_map does not give to "
        "expert 0");
}
