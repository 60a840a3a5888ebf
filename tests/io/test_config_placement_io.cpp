// Config files, placement files (round trip, checks) and the atomic writer.
#include <doctest/doctest.h>

#include <filesystem>

#include "eplb/error.h"
#include "eplb/policy.h"
#include "io/config_io.h"
#include "io/file_util.h"
#include "io/placement_io.h"
#include "tests/test_util.h"

using namespace eplb;
using namespace eplb::io;
using eplb::test::error_of;

namespace {

PlacementDoc sample_doc() {
    Rng rng(5);
    PlacementDoc d;
    d.config = ParallelConfig{16, 24, 4, 2, 8};
    const LoadMatrix load = test::random_loads(rng, 3, 16);
    d.placement = plan_deepseek(load, d.config);
    d.layer_ids = {3, 4, 5};
    d.expert_bytes = 1024;
    return d;
}
}  // namespace

TEST_CASE("config keys, types and ranges") {
    const ConfigFile c = parse_config_json(
        R"({"num_groups": 8, "num_nodes": 4, "num_gpus": 32, "num_redundant_experts": 32, "moe_layers": [3, 61],
            "expert_bytes": 44040192, "window_size": 10, "step_interval": 30, "policy": "deepseek", "description": "x"})",
        "c.json");
    CHECK(*c.num_groups == 8);
    CHECK(*c.num_gpus == 32);
    CHECK(c.moe_layers->first == 3);
    CHECK(c.moe_layers->end == 61);
    CHECK(*c.expert_bytes == 44040192);
    CHECK_FALSE(c.num_nextn_predict_layers);
    CHECK(*parse_config_json(R"({"num_nextn_predict_layers": 1})", "c.json").num_nextn_predict_layers == 1);
    CHECK(error_of([] { parse_config_json(R"({"num_nextn_predict_layers": -1})", "c.json"); }) ==
          "c.json: num_nextn_predict_layers is -1, expected 0..64");
    CHECK(error_of([] {
              parse_config_json(R"({"num_gpu": 8})", "c.json");
          }).rfind("c.json: unknown key \"num_gpu\"", 0) == 0);
    CHECK(error_of([] { parse_config_json(R"({"num_gpus": "8"})", "c.json"); }) ==
          "c.json: num_gpus is \"8\", expected an integer");
    CHECK(error_of([] { parse_config_json(R"({"num_gpus": 0})", "c.json"); }) ==
          "c.json: num_gpus is 0, expected 1..16777216");
    CHECK(error_of([] { parse_config_json(R"({"moe_layers": [5, 2]})", "c.json"); }) ==
          "c.json: moe_layers [5,2] must satisfy 0 <= first < end");
    CHECK(error_of([] {
              parse_config_json(R"({"num_redundant_experts": 1, "num_physical_experts": 9})", "c.json");
          }) == "c.json: give num_redundant_experts or num_physical_experts, not both");
}

TEST_CASE("every bundled config parses and validates against its shapes") {
    const char* root = std::getenv("EPLB_SOURCE_ROOT");
    REQUIRE(root);
    int count = 0;
    for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(root) / "configs")) {
        if (entry.path().extension() != ".json") continue;
        if (entry.path().filename().string().rfind("check-", 0) == 0) continue;  // `eplb check` files
        const ConfigFile c = read_config(entry.path().string());
        CHECK_FALSE(c.description.empty());
        REQUIRE(c.num_logical_experts);
        ParallelConfig p{*c.num_logical_experts, *c.num_logical_experts + c.num_redundant_experts.value_or(0),
                         c.num_groups.value_or(1), c.num_nodes.value_or(1), c.num_gpus.value_or(1)};
        CHECK_NOTHROW(p.validate());
        // DeepSeek-V3 has one MTP layer after its MoE layers 3..60 (num_nextn_predict_layers in its
        // config.json); TensorRT-LLM's load balancer looks it up as layer 61.
        if (c.model == "DeepSeek-V3") CHECK(c.num_nextn_predict_layers.value_or(0) == 1);
        ++count;
    }
    CHECK(count >= 6);
}

TEST_CASE("placement JSON round trip keeps maps and replica ranks") {
    const PlacementDoc d = sample_doc();
    const std::string text = placement_to_json(d, nullptr, nullptr);
    const PlacementDoc r = parse_placement_json(text, "p.json");
    CHECK(r.placement.phy2log == d.placement.phy2log);
    CHECK(r.placement.phyrank == d.placement.phyrank);
    CHECK(r.placement.logcnt == d.placement.logcnt);
    CHECK(r.layer_ids == d.layer_ids);
    CHECK(r.config.num_gpus == 8);
    CHECK(r.expert_bytes == 1024);
    CHECK(placement_to_json(r, nullptr, nullptr) == text);  // deterministic and lossless
}

TEST_CASE("placement errors") {
    const PlacementDoc d = sample_doc();
    std::string text = placement_to_json(d, nullptr, nullptr);
    CHECK(error_of([] { parse_placement_json("{}", "p.json"); }).rfind("p.json: not a placement file", 0) ==
          0);
    std::string bad = text;
    bad.replace(bad.find("\"num_gpus\":8"), 12, "\"num_gpus\":7");
    CHECK(error_of([&] { parse_placement_json(bad, "p.json"); }) ==
          "p.json: num_gpus (7) must be a multiple of num_nodes (2)");
    bad = text;
    const size_t at = bad.find("\"phy2log\":[[") + 12;
    bad.replace(at, bad.find(',', at) - at, "99");
    CHECK(error_of([&] { parse_placement_json(bad, "p.json"); }).find("p.json: phy2log[0][0] is 99") == 0);
}

TEST_CASE("write_file_atomic: a link stays a link, a FIFO or device is written in place") {
    namespace fs = std::filesystem;
    const auto dir = fs::temp_directory_path() / "eplb_outputs_unit";
    fs::remove_all(dir);
    fs::create_directories(dir / "sub");
    write_file_atomic((dir / "sub" / "target.json").string(), "old");
    fs::permissions(dir / "sub" / "target.json", fs::perms(0640));
    fs::create_symlink("sub/target.json", dir / "link.json");
    write_file_atomic((dir / "link.json").string(), "new");
    CHECK(fs::is_symlink(dir / "link.json"));
    CHECK(read_text_file((dir / "sub" / "target.json").string()) == "new");
    CHECK(fs::status(dir / "sub" / "target.json").permissions() == fs::perms(0640));  // kept
    write_file_atomic("/dev/null", "x");
    CHECK(fs::is_character_file("/dev/null"));
    // Two outputs naming one file: by path, through a link, stdout twice; /dev/null may repeat.
    const std::string target = (dir / "sub" / "target.json").string();
    const auto kind_of = [](const std::function<void()>& f) {
        try {
            f();
        } catch (const Error& e) {
            return static_cast<int>(e.kind());
        }
        return 0;
    };
    CHECK(kind_of([&] {
              check_outputs({{"-o", target}, {"--export sglang", (dir / "link.json").string()}});
          }) == 2);
    CHECK(kind_of([&] {
              check_outputs({{"-o", (dir / "a").string()}, {"--csv", (dir / "sub" / ".." / "a").string()}});
          }) == 2);
    CHECK(kind_of([&] { check_outputs({{"-o", "-"}, {"--json", "/dev/stdout"}}); }) == 2);
    CHECK(kind_of([&] { check_outputs({{"-o", "/dev/null"}, {"--export sglang", "/dev/null"}}); }) == 0);
    CHECK(kind_of([&] { check_outputs({{"-o", target}, {"--export sglang", (dir / "b").string()}}); }) == 0);
    CHECK(is_stdout_path("-"));
    CHECK(is_stdout_path("/dev/stdout"));
    CHECK(!is_stdout_path("/dev/stderr"));
    fs::remove_all(dir);
}

TEST_CASE("write_file_atomic leaves no partial file on failure") {
    const auto dir = std::filesystem::temp_directory_path() / "eplb_atomic_test";
    std::filesystem::create_directories(dir);
    const std::string path = (dir / "out.json").string();
    write_file_atomic(path, "hello");
    CHECK(read_text_file(path) == "hello");
    CHECK(error_of([&] {
              write_file_atomic((dir / "missing" / "x.json").string(), "x");
          }).find("does not exist") != std::string::npos);
    CHECK(error_of([&] { write_file_atomic(dir.string(), "x"); }).find("is a directory") !=
          std::string::npos);
    int files = 0;
    for (auto& e : std::filesystem::directory_iterator(dir)) files += e.is_regular_file();
    CHECK(files == 1);  // no temp files left behind
    std::filesystem::remove_all(dir);
}

TEST_CASE("placement reader: row lengths checked before allocating, byte counts bounded") {
    // One short row under a config of 2^24 slots: refused without allocating rows x 2^24 entries.
    const std::string huge =
        R"({"schema": "eplb.placement/v1", "config": {"num_logical_experts": 1, "num_physical_experts": 16777216,
            "num_groups": 1, "num_nodes": 1, "num_gpus": 1}, "phy2log": [[0]]})";
    CHECK(error_of([&] { parse_placement_json(huge, "h.json"); }) ==
          "h.json: phy2log[0] has 1 entries, expected 16777216");
    std::string text = placement_to_json(sample_doc(), nullptr, nullptr);
    text.replace(text.find("\"expert_bytes\":1024"), 19, "\"expert_bytes\":-5");
    CHECK(error_of([&] { parse_placement_json(text, "b.json"); }) ==
          "b.json: config.expert_bytes is -5, expected an integer 0..2^40");
}

TEST_CASE("validate_placement: replica counts must sum to the slots") {
    PlacementDoc d = sample_doc();
    d.placement.logcnt(1, 0) += 1;
    CHECK(error_of([&] { validate_placement(d.placement, d.config); }) ==
          "layer 1: logcnt sums to 25, expected num_physical_experts (24)");
}

TEST_CASE("config reader: deeply nested values are described, not dumped") {
    const std::string deep = "{\"num_gpus\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
    CHECK(error_of([&] { parse_config_json(deep, "c.json"); }) ==
          "c.json: num_gpus is an array of 1, expected an integer");
    CHECK(error_of([] { parse_config_json(R"({"policy": {"a": 1}})", "c.json"); }) ==
          "c.json: policy is an object of 1 keys, expected a string");
}

TEST_CASE("fuzz regression regress-number-overflow (config): a number beyond double is invalid input") {
    const std::string text = test::fuzz_corpus_file("config", "regress-number-overflow");
    CHECK(error_of([&] {
              parse_config_json(text, "c.json");
          }).rfind("c.json: not valid JSON: [json.exception.out_of_range.406] number overflow parsing", 0) ==
          0);
}

TEST_CASE("fuzz regression regress-key-newline (config): a key holding a newline is quoted on one line") {
    const std::string text = test::fuzz_corpus_file("config", "regress-key-newline");
    const std::string message = error_of([&] { parse_config_json(text, "c.json"); });
    // The key (a backslash, then a newline, ...) is quoted with its control bytes escaped.
    CHECK(message.rfind(R"(c.json: unknown key "nl''''',''''''777{8888\\x0aUW\\x0aUW)", 0) == 0);
    CHECK(message.find('\n') == std::string::npos);
}
