// Engine exports against the schemas their loaders expect (SGLang's init_by_mapping, TensorRT-LLM's
// MoeLoadBalancerConfig and MoE-module asserts, vLLM's EplbState shapes), and reading them back.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "eplb/error.h"
#include "eplb/policy.h"
#include "io/engine_export.h"
#include "io/file_util.h"
#include "tests/test_util.h"

using namespace eplb;
using namespace eplb::io;
using eplb::test::error_of;
using nlohmann::json;

namespace {

// DeepSeek's README example (DESIGN.md): 2 layers x 12 experts, 16 slots, 4 groups, 2 nodes, 8 GPUs,
// placed as model layers 3 and 4.
PlacementDoc readme_doc() {
    LoadMatrix load(2, 12);
    load << 90, 132, 40, 61, 104, 165, 39, 4, 73, 56, 183, 86, 20, 107, 104, 64, 19, 197, 187, 157, 172, 86,
        16, 27;
    PlacementDoc d;
    d.config = ParallelConfig{12, 16, 4, 2, 8};
    d.placement = plan_deepseek(load, d.config);
    d.layer_ids = {3, 4};
    return d;
}

std::vector<int> row_of(const IndexMatrix& m, int r) { return {m.row(r).data(), m.row(r).data() + m.cols()}; }

}  // namespace

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

TEST_CASE("TensorRT-LLM: the moe_load_balancer YAML keys, layer indices and slot lists") {
    const PlacementDoc d = readme_doc();
    const std::string yaml = placement_to_trtllm_yaml(d);
    std::vector<std::string> lines;
    std::istringstream in(yaml);
    for (std::string l; std::getline(in, l);) {
        if (l[0] != '#') lines.push_back(l);
    }
    CHECK(lines ==
          std::vector<std::string>{"num_slots: 16",
                                   "initial_global_assignments:", "  3: [5,6,5,7,8,4,3,4,10,9,10,2,0,1,11,1]",
                                   "  4: [7,10,6,8,6,11,8,9,2,4,5,1,5,0,3,1]", "layer_updates_per_iter: 0"});
    // What TensorRT-LLM's MoE modules assert on each layer's list: len == num_slots and
    // set(list) == set(range(num_experts)); rank r owns slots [r * 16/8, (r+1) * 16/8).
    const PlacementDoc back = parse_trtllm_yaml(yaml, "t.yaml", {});
    CHECK(back.layer_ids == std::vector<int>{3, 4});
    CHECK(back.placement.phy2log == d.placement.phy2log);
    CHECK(back.config.num_logical_experts == 12);
    CHECK(back.config.num_physical_experts == 16);
}

TEST_CASE("TensorRT-LLM MTP layers: added with WideEPMoE's default map unless the plan has them") {
    const PlacementDoc d = readme_doc();  // layers 3, 4 on 8 GPUs x 2 slots, 12 experts
    std::vector<int> added;
    const PlacementDoc m = with_mtp_layers(d, 5, 1, &added);
    CHECK(added == std::vector<int>{5});
    REQUIRE(m.layer_ids == std::vector<int>{3, 4, 5});
    CHECK(m.placement.phy2log.row(0) == d.placement.phy2log.row(0));
    // Rank q's local slot k holds expert (q * 12 / 8 + k) mod 12: ranks start at 0, 1, 3, 4, 6, 7, 9, 10.
    CHECK(row_of(m.placement.phy2log, 2) ==
          std::vector<int>{0, 1, 1, 2, 3, 4, 4, 5, 6, 7, 7, 8, 9, 10, 10, 11});
    ParallelConfig c = d.config;
    CHECK_NOTHROW(validate_placement(m.placement, c));  // every expert held, counts and ranks consistent
    CHECK(placement_to_trtllm_yaml(m).find("\n  5: [0,1,1,2,3,4,4,5,6,7,7,8,9,10,10,11]\n") !=
          std::string::npos);
    // A layer the plan has keeps its plan.
    const PlacementDoc same = with_mtp_layers(d, 4, 1, &added);
    CHECK(added.empty());
    CHECK(same.layer_ids == d.layer_ids);
    CHECK(same.placement.phy2log == d.placement.phy2log);
}

TEST_CASE("SGLang reads --init-expert-location as a file only by a .json name") {
    CHECK(sglang_reads_as_json_file("/tmp/plan.json"));
    CHECK_FALSE(sglang_reads_as_json_file("/tmp/plan.JSON"));  // Python's endswith is case-sensitive
    CHECK_FALSE(sglang_reads_as_json_file("/tmp/plan.txt"));
    CHECK_FALSE(sglang_reads_as_json_file("/tmp/plan"));
    CHECK(sglang_reads_as_json_file("dir/.json"));  // endswith, nothing more
}

TEST_CASE("TensorRT-LLM YAML as PyYAML writes it: block lists, wrapped flow lists, comments") {
    const std::string block =
        "initial_global_assignments:\n"
        "  7:\n"
        "  - 1\n"
        "  - 0\n"
        "  - 1\n"
        "  2: [0, 1,   # a comment\n"
        "      1]\n"
        "layer_updates_per_iter: 0\n"
        "num_slots: 3\n";
    const PlacementDoc d = parse_trtllm_yaml(block, "b.yaml", {});
    CHECK(d.layer_ids == std::vector<int>{2, 7});
    CHECK(row_of(d.placement.phy2log, 0) == std::vector<int>{0, 1, 1});
    CHECK(row_of(d.placement.phy2log, 1) == std::vector<int>{1, 0, 1});
    CHECK(d.config.num_logical_experts == 2);
    CHECK(error_of([] {
              parse_trtllm_yaml("num_slots: 3\nfoo: 1\n", "b.yaml", {});
          }).find("b.yaml: line 2: unknown key 'foo'") == 0);
    CHECK(error_of([] {
              parse_trtllm_yaml("num_slots: 3\ninitial_global_assignments:\n  1: [0, 1]\n", "b.yaml", {});
          }) == "b.yaml: layer 1 lists 2 experts but num_slots is 3");
    CHECK(error_of([] { parse_trtllm_yaml("initial_global_assignments:\n  1: [0, 1]\n", "b.yaml", {}); }) ==
          "b.yaml: num_slots is missing");
    CHECK(error_of([] {
              parse_trtllm_yaml("num_slots: 2\ninitial_global_assignments:\n  1: [0, x]\n", "b.yaml", {});
          }) == "b.yaml: line 3: expert 'x' is not an integer >= 0");
    // An expert left out of a layer fails as it would in TensorRT-LLM (set(list) != range(E)).
    PlacementImportOptions three;
    three.num_logical_experts = 3;
    CHECK(error_of([&] {
              parse_trtllm_yaml("num_slots: 3\ninitial_global_assignments:\n  1: [0, 1, 1]\n", "b.yaml",
                                three);
          }) == "b.yaml: layer 0: expert 2 has no replica");
}

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

TEST_CASE("every export reads back to the same placement; formats are detected from the file") {
    const PlacementDoc d = readme_doc();
    const auto dir = std::filesystem::temp_directory_path();
    PlacementImportOptions opts;
    opts.num_gpus = 8;
    opts.num_nodes = 2;
    opts.num_groups = 4;
    for (PlacementFormat f : {PlacementFormat::kEplb, PlacementFormat::kSglang, PlacementFormat::kTrtllm,
                              PlacementFormat::kVllm}) {
        CAPTURE(placement_format_name(f));
        const std::string path = (dir / (std::string("eplb_export_rt.") + placement_format_name(f) +
                                         (f == PlacementFormat::kTrtllm ? ".yaml" : ".json")))
                                     .string();
        write_file_atomic(path, export_placement(d, f));
        CHECK(is_placement_file(path));
        PlacementFormat detected = PlacementFormat::kEplb;
        PlacementDoc back = read_any_placement(path, opts, &detected);
        CHECK(detected == f);
        if (f == PlacementFormat::kSglang) back = select_placement_layers(back, Range{3, 5});
        CHECK(back.layer_ids == d.layer_ids);
        CHECK(back.placement.phy2log == d.placement.phy2log);
        CHECK(back.placement.logcnt == d.placement.logcnt);
        CHECK(back.config.num_gpus == 8);
        if (f == PlacementFormat::kEplb || f == PlacementFormat::kVllm) {
            CHECK(back.placement.phyrank == d.placement.phyrank);  // these carry replica ranks
        }
        std::filesystem::remove(path);
    }
    CHECK(parse_placement_format("SGLang") == PlacementFormat::kSglang);
    CHECK(error_of([] { parse_placement_format("deepspeed"); }) ==
          "placement format: 'deepspeed' is not one of eplb, sglang, trtllm, vllm");
}

TEST_CASE("engine placements: inconsistent or foreign files are invalid input") {
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
    CHECK(error_of([] {
              parse_sglang_placement(R"({"physical_to_logical_map": [[0, 1], [0]]})", "s.json", {});
          }) == "s.json: physical_to_logical_map[1] has 1 entries, expected 2");
    PlacementImportOptions gpus;
    gpus.num_gpus = 3;
    CHECK(error_of([&] {
              parse_sglang_placement(R"({"physical_to_logical_map": [[0, 1]]})", "s.json", gpus);
          }).find("s.json: num_physical_experts (2) must be a multiple of num_gpus (3)") == 0);
    CHECK(error_of([] {
              detect_placement_format("t.json", R"({"logical_count": [[1]]})");
          }).find("t.json: no placement found") == 0);
}
