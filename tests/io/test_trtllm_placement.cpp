// TensorRT-LLM's moe_load_balancer YAML: the keys and lists MoeLoadBalancerConfig and the MoE modules
// expect, MTP layers, and reading back any YAML TensorRT-LLM would read (yaml-cpp), or refusing it.
#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include "eplb/error.h"
#include "io/trtllm_placement.h"
#include "tests/io/readme_placement.h"
#include "tests/test_util.h"

using namespace eplb;
using namespace eplb::io;
using eplb::test::error_of;
using eplb::test::readme_doc;
using eplb::test::row_of;

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

namespace {

// Layers 2 and 7 of 3 slots, as the YAML test cases below write them in different styles.
void check_layers_2_and_7(const PlacementDoc& d) {
    CHECK(d.layer_ids == std::vector<int>{2, 7});
    CHECK(row_of(d.placement.phy2log, 0) == std::vector<int>{0, 1, 1});
    CHECK(row_of(d.placement.phy2log, 1) == std::vector<int>{1, 0, 1});
    CHECK(d.config.num_physical_experts == 3);
    CHECK(d.config.num_logical_experts == 2);
    CHECK(d.policy == "read from trtllm");
}

std::string yaml_error(const std::string& text) {
    return error_of([&] { parse_trtllm_yaml(text, "b.yaml", {}); });
}

// Each text refused (exit 3) with exactly its message.
struct RefusedYaml {
    std::string text, message;
};
void check_refused(const std::vector<RefusedYaml>& cases) {
    for (const RefusedYaml& c : cases) {
        CAPTURE(c.text);
        CHECK(yaml_error(c.text) == c.message);
    }
}

}  // namespace

TEST_CASE("TensorRT-LLM YAML in flow style, and JSON (a YAML subset)") {
    check_layers_2_and_7(
        parse_trtllm_yaml("{num_slots: 3, initial_global_assignments: {7: [1, 0, 1], 2: [0, 1, 1]}, "
                          "layer_updates_per_iter: 0}\n",
                          "b.yaml", {}));
    check_layers_2_and_7(parse_trtllm_yaml(
        R"({"num_slots": 3, "initial_global_assignments": {"2": [0, 1, 1], "7": [1, 0, 1]}})", "b.yaml", {}));
    // A flow mapping under a block key, and block lists under a flow-less layer.
    check_layers_2_and_7(
        parse_trtllm_yaml("num_slots: 3\n"
                          "initial_global_assignments: {2: [0, 1, 1],\n"
                          "  7: [1,\n"
                          "      0, 1]}\n",
                          "b.yaml", {}));
}

TEST_CASE("TensorRT-LLM YAML in block style: indented or not, nested block lists") {
    check_layers_2_and_7(
        parse_trtllm_yaml("num_slots: 3\n"
                          "initial_global_assignments:\n"
                          "    2:\n"
                          "        - 0\n"
                          "        - 1\n"
                          "        - 1\n"
                          "    7:\n"
                          "    - 1\n"
                          "    - 0\n"
                          "    - 1\n",
                          "b.yaml", {}));
}

TEST_CASE("TensorRT-LLM YAML comments: whole lines, after values, inside flow lists") {
    check_layers_2_and_7(
        parse_trtllm_yaml("# written by hand\n"
                          "num_slots: 3  # R\n"
                          "initial_global_assignments:  # layer: experts\n"
                          "  # the first MoE layer\n"
                          "  2: [0,  # slot 0\n"
                          "      1, 1]\n"
                          "  7:\n"
                          "  - 1  # slot 0\n"
                          "  # - 5 (commented out)\n"
                          "  - 0\n"
                          "  - 1\n"
                          "layer_updates_per_iter: 0 # static\n",
                          "b.yaml", {}));
    // '#' inside a quoted scalar or glued to a word is not a comment.
    CHECK(yaml_error("num_slots: 3\ninitial_global_assignments:\n  2: [0, '1#x', 1]\n") ==
          "b.yaml: line 3: expert '1#x' is not an integer >= 0");
}

TEST_CASE("TensorRT-LLM YAML anchors and aliases: one list shared by several layers") {
    const PlacementDoc d = parse_trtllm_yaml(
        "num_slots: 3\n"
        "initial_global_assignments:\n"
        "  2: &same [0, 1, 1]\n"
        "  5: *same\n"
        "  7: [1, 0, 1]\n"
        "  9: *same\n",
        "b.yaml", {});
    CHECK(d.layer_ids == std::vector<int>{2, 5, 7, 9});
    CHECK(row_of(d.placement.phy2log, 1) == std::vector<int>{0, 1, 1});
    CHECK(row_of(d.placement.phy2log, 2) == std::vector<int>{1, 0, 1});
    CHECK(row_of(d.placement.phy2log, 3) == std::vector<int>{0, 1, 1});
    // An anchored scalar, too.
    const PlacementDoc s = parse_trtllm_yaml(
        "num_slots: &r 2\ninitial_global_assignments:\n  4: [1, 0]\nlayer_updates_per_iter: 0\n", "b.yaml",
        {});
    CHECK(s.config.num_physical_experts == 2);
    // yaml-cpp 0.8 appends the anchor's name.
    CHECK(yaml_error("num_slots: 2\ninitial_global_assignments:\n  4: *nowhere\n")
              .find("b.yaml: line 3:6: the referenced anchor is not defined") == 0);
}

TEST_CASE("TensorRT-LLM YAML quoting: single- and double-quoted keys and numbers") {
    check_layers_2_and_7(
        parse_trtllm_yaml("\"num_slots\": '3'\n"
                          "'initial_global_assignments':\n"
                          "  '2': [\"0\", '1', 1]\n"
                          "  \"7\": [1, \"0\", '1']\n",
                          "b.yaml", {}));
}

TEST_CASE("TensorRT-LLM YAML document markers and directives") {
    check_layers_2_and_7(
        parse_trtllm_yaml("%YAML 1.2\n"
                          "---\n"
                          "num_slots: 3\n"
                          "initial_global_assignments:\n"
                          "  2: [0, 1, 1]\n"
                          "  7: [1, 0, 1]\n"
                          "...\n",
                          "b.yaml", {}));
    check_layers_2_and_7(
        parse_trtllm_yaml("--- # the placement\n"
                          "num_slots: 3\n"
                          "initial_global_assignments: {2: [0, 1, 1], 7: [1, 0, 1]}\n",
                          "b.yaml", {}));
    // yaml.safe_load reads one document: a second, or text after the first (which yaml-cpp's LoadAll
    // would loop on forever), is refused rather than ignored.
    const std::string second = ": a second YAML document, or text after the first (TensorRT-LLM reads one)";
    check_refused({
        {"num_slots: 3\n---\nnum_slots: 4\n", "b.yaml: line 2:1" + second},
        {"[],", "b.yaml: line 1:3" + second},
        {",", "b.yaml: line 1:1" + second},
    });
}

TEST_CASE("TensorRT-LLM YAML syntax errors name the line and column") {
    check_refused({
        {"num_slots: 2\ninitial_global_assignments:\n  1: [0, 1\nlayer_updates_per_iter: 0\n",
         "b.yaml: line 4:23: end of sequence flow not found"},
        {"num_slots: 2\ninitial_global_assignments:\n  1: [0, 1]]\n", "b.yaml: line 3:12: illegal flow end"},
        {"num_slots: 2 initial_global_assignments: 3\n", "b.yaml: line 1:40: illegal map value"},
        {"num_slots: 2\ninitial_global_assignments:\n\t1: [0, 1]\n",
         "b.yaml: line 3: tabs are not allowed for indentation in YAML"},
    });
}

TEST_CASE("TensorRT-LLM YAML of the wrong types names the key and what it holds") {
    check_refused({
        {"num_slots: [3]\n", "b.yaml: line 1: num_slots is a list of 1, expected an integer >= 1"},
        {"num_slots:\ninitial_global_assignments:\n  1: [0]\n",
         "b.yaml: line 1: num_slots is empty, expected an integer >= 1"},
        {"num_slots: 2.5\n", "b.yaml: line 1: num_slots '2.5' is not an integer >= 1"},
        {"num_slots: 2\ninitial_global_assignments: [0, 1]\n",
         "b.yaml: line 2: initial_global_assignments is a list of 2, expected a mapping of layer index to "
         "experts"},
        {"num_slots: 2\ninitial_global_assignments:\n  1: 0\n",
         "b.yaml: line 3: layer 1 maps to '0', expected a list of experts"},
        {"num_slots: 2\ninitial_global_assignments:\n  1: [0, [1]]\n",
         "b.yaml: line 3: expert is a list of 1, expected an integer >= 0"},
        {"num_slots: 2\ninitial_global_assignments:\n  x: [0, 1]\n",
         "b.yaml: line 3: layer index 'x' is not an integer >= 0"},
        {"num_slots: 2\nlayer_updates_per_iter: off\n",
         "b.yaml: line 2: layer_updates_per_iter 'off' is not an integer >= 0"},
        {"- num_slots: 2\n",
         "b.yaml: line 1: expected a mapping of num_slots, initial_global_assignments and "
         "layer_updates_per_iter, found a list of 1"},
        {"? [num_slots]\n: 2\n",
         "b.yaml: line 1: unknown key a list of 1 (TensorRT-LLM's MoeLoadBalancerConfig takes num_slots, "
         "initial_global_assignments, layer_updates_per_iter)"},
    });
}

TEST_CASE("TensorRT-LLM YAML with a key missing or empty") {
    check_refused({
        {"", "b.yaml: num_slots is missing"},
        {"# nothing but a comment\n", "b.yaml: num_slots is missing"},
        {"num_slots: 2\n", "b.yaml: initial_global_assignments is missing or empty"},
        {"num_slots: 2\ninitial_global_assignments:\n",
         "b.yaml: initial_global_assignments is missing or empty"},
        {"num_slots: 2\ninitial_global_assignments: {}\n",
         "b.yaml: initial_global_assignments is missing or empty"},
    });
}

TEST_CASE("TensorRT-LLM YAML with negative or out-of-range values") {
    check_refused({
        {"num_slots: 0\n", "b.yaml: line 1: num_slots '0' is not an integer >= 1"},
        {"num_slots: -3\n", "b.yaml: line 1: num_slots '-3' is not an integer >= 1"},
        {"num_slots: 99999999999\n", "b.yaml: line 1: num_slots '99999999999' is not an integer >= 1"},
        {"num_slots: 2\ninitial_global_assignments:\n  -1: [0, 1]\n",
         "b.yaml: line 3: layer index '-1' is not an integer >= 0"},
        {"num_slots: 2\ninitial_global_assignments:\n  1:\n  - 0\n  - -1\n",
         "b.yaml: line 5: expert '-1' is not an integer >= 0"},
        {"num_slots: 2\nlayer_updates_per_iter: -1\n",
         "b.yaml: line 2: layer_updates_per_iter '-1' is not an integer >= 0"},
        {"num_slots: 2\ninitial_global_assignments:\n  1: [0, 16777216]\n",
         "b.yaml: line 3: expert 16777216 is too large (expert ids are below 16777216)"},
    });
    PlacementImportOptions three;
    three.num_logical_experts = 3;
    CHECK(error_of([&] {
              parse_trtllm_yaml("num_slots: 3\ninitial_global_assignments:\n  1: [0, 1, 5]\n", "b.yaml",
                                three);
          }) == "b.yaml: names expert 5 but num_logical_experts is 3");
}

TEST_CASE("TensorRT-LLM YAML duplicate keys are refused (PyYAML would keep the last silently)") {
    check_refused({
        {"num_slots: 2\nnum_slots: 3\n", "b.yaml: line 2: key 'num_slots' appears twice"},
        {"num_slots: 2\ninitial_global_assignments:\n  1: [0, 1]\n  1: [1, 0]\n",
         "b.yaml: line 4: layer 1 appears twice"},
        // Two spellings of one layer index are one layer, too.
        {"num_slots: 2\ninitial_global_assignments:\n  1: [0, 1]\n  '1': [1, 0]\n",
         "b.yaml: line 4: layer 1 appears twice"},
    });
}

TEST_CASE("TensorRT-LLM YAML aliases may not blow a small file up") {
    // 4096 slots named once, repeated under 2048 layers by alias: 8 M experts from a 20 kB file.
    std::string text = "num_slots: 4096\ninitial_global_assignments:\n  0: &row [";
    for (int s = 0; s < 4096; ++s) {
        if (s) text += ',';
        text += std::to_string(s);
    }
    text += "]\n";
    for (int l = 1; l < 2048; ++l) text += "  " + std::to_string(l) + ": *row\n";
    CHECK(yaml_error(text) ==
          "b.yaml: line 1027: layer 1024: aliases repeat lists past 4194304 experts in all");
}
