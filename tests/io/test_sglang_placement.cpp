// SGLang's --init-expert-location export against what init_by_mapping expects, and reading it back.
#include <doctest/doctest.h>

#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "eplb/error.h"
#include "io/sglang_placement.h"
#include "tests/io/readme_placement.h"
#include "tests/test_util.h"

using namespace eplb;
using namespace eplb::io;
using eplb::test::error_of;
using eplb::test::readme_doc;
using nlohmann::json;

TEST_CASE("SGLang: physical_to_logical_map only, one row per model layer, dense rows trivial") {
    const PlacementDoc d = readme_doc();
    const json j = json::parse(placement_to_sglang(d));
    // init_by_mapping(server_args, model_config, **data_dict): any other key would be an error there.
    CHECK(j.size() == 1);
    const json& m = j["physical_to_logical_map"];
    REQUIRE(m.size() == 5);  // model layers 0..4: num_hidden_layers rows, dense layers 0..2 included
    for (int id = 0; id < 3; ++id) {
        for (int s = 0; s < 16; ++s) CHECK(m[id][s] == s % 12);  // SGLang's init_trivial
    }
    CHECK(m[3] == json::parse("[5,6,5,7,8,4,3,4,10,9,10,2,0,1,11,1]"));
    CHECK(m[4] == json::parse("[7,10,6,8,6,11,8,9,2,4,5,1,5,0,3,1]"));
    // Every row names every expert (SGLang builds logical_to_all_physical_map from it).
    for (const json& row : m) {
        std::set<int> experts(row.begin(), row.end());
        CHECK(experts.size() == 12);
    }
    const json padded = json::parse(placement_to_sglang(d, 7));
    CHECK(padded["physical_to_logical_map"].size() == 7);
    CHECK(padded["physical_to_logical_map"][6][13] == 1);
    CHECK(error_of([&] { placement_to_sglang(d, 4); }).find("--num-model-layers (4) must exceed") == 0);
}

TEST_CASE("SGLang reads --init-expert-location as a file only by a .json name") {
    CHECK(sglang_reads_as_json_file("/tmp/plan.json"));
    CHECK_FALSE(sglang_reads_as_json_file("/tmp/plan.JSON"));  // Python's endswith is case-sensitive
    CHECK_FALSE(sglang_reads_as_json_file("/tmp/plan.txt"));
    CHECK_FALSE(sglang_reads_as_json_file("/tmp/plan"));
    CHECK(sglang_reads_as_json_file("dir/.json"));  // endswith, nothing more
}

TEST_CASE("SGLang: ragged rows or a slot count the GPUs do not divide are invalid input") {
    CHECK(error_of([] {
              parse_sglang_placement(R"({"physical_to_logical_map": [[0, 1], [0]]})", "s.json", {});
          }) == "s.json: physical_to_logical_map[1] has 1 entries, expected 2");
    PlacementImportOptions gpus;
    gpus.num_gpus = 3;
    CHECK(error_of([&] {
              parse_sglang_placement(R"({"physical_to_logical_map": [[0, 1]]})", "s.json", gpus);
          }).find("s.json: num_physical_experts (2) must be a multiple of num_gpus (3)") == 0);
}
