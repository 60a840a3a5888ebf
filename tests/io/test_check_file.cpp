// Check files (defaults, paths, config keys, thresholds and their errors), baselines, and the JUnit
// XML writer (well-formed and escaped, read back with a strict reader).
#include <doctest/doctest.h>

#include <filesystem>
#include <functional>

#include "eplb/error.h"
#include "eplb/policy.h"
#include "io/check_file.h"
#include "io/file_util.h"
#include "io/junit.h"
#include "tests/test_util.h"
#include "tests/xml_check.h"

using namespace eplb;
using namespace eplb::io;
using eplb::test::error_of;

TEST_CASE("check file: defaults, relative paths, config keys per case, thresholds") {
    const CheckFile f = parse_check_file(R"({
        "schema": "eplb.check/v1", "name": "nightly",
        "defaults": {"trace": "../traces/t.json", "config": "ep32.json", "min_balancedness": 0.9},
        "cases": [
          {"name": "a"},
          {"name": "b", "config": {"num_gpus": 8, "num_redundant_experts": 8}, "policy": "deepseek",
           "num_gpus": 16, "layers": "3:61", "steps": "0:10", "max_gap": 0.1, "max_layer_gap": 0.3},
          {"name": "c", "trace": "/abs/t.npy", "first_layer": 3, "baseline": "base.yaml", "max_regression": 0.01,
           "max_moved_experts": 100, "min_balancedness": 0.5}
        ]})",
                                         "ci/checks/nightly.json");
    CHECK(f.name == "nightly");
    REQUIRE(f.cases.size() == 3);
    const CheckCase& a = f.cases[0];
    CHECK(a.trace == "ci/traces/t.json");
    CHECK(a.config == "ci/checks/ep32.json");
    CHECK(a.thresholds.min_balancedness == 0.9);
    CHECK_FALSE(a.thresholds.max_gap);
    const CheckCase& b = f.cases[1];
    CHECK(b.config.empty());            // an inline config object replaces the default path
    CHECK(b.overrides.num_gpus == 16);  // the case's own keys win over its inline config
    CHECK(b.overrides.num_redundant_experts == 8);
    CHECK(b.overrides.policy == std::string("deepseek"));
    CHECK(b.layers == "3:61");
    CHECK(b.steps == "0:10");
    CHECK(b.thresholds.max_gap == 0.1);
    CHECK(b.thresholds.max_layer_gap == 0.3);
    CHECK(b.thresholds.min_balancedness == 0.9);  // from the defaults
    const CheckCase& c = f.cases[2];
    CHECK(c.trace == "/abs/t.npy");
    CHECK(c.first_layer == 3);  // the model layer of the .npy's first row
    CHECK(a.first_layer == -1);
    CHECK(c.baseline == "ci/checks/base.yaml");
    CHECK(c.thresholds.max_regression == 0.01);
    CHECK(c.thresholds.max_moved_experts == 100);
    CHECK(c.thresholds.min_balancedness == 0.5);
    // Without "name" the suite is named after the file.
    CHECK(parse_check_file(R"({"cases": [{"name": "x", "trace": "t.json", "max_gap": 1}]})", "dir/gate.json")
              .name == "gate");
}

TEST_CASE("check file: every mistake is invalid input naming the file, the case and the key") {
    auto err = [](const std::string& text) { return error_of([&] { parse_check_file(text, "c.json"); }); };
    CHECK(err("[1]") == "c.json: expected a JSON object with \"cases\"");
    CHECK(err("{\"cases\": 1").find("c.json: not valid JSON") == 0);
    CHECK(err(R"({"cases": []})") == "c.json: \"cases\" must be a non-empty array of cases");
    CHECK(err(R"({"schema": "eplb.check/v2", "cases": []})") ==
          "c.json: schema is \"eplb.check/v2\", expected \"eplb.check/v1\"");
    CHECK(err(R"({"cases": [{"name": "a", "trace": "t", "first_layer": -3, "max_gap": 1}]})") ==
          "c.json: cases[0] (a): first_layer is -3, expected a model layer id >= 0");
    CHECK(err(R"({"case": []})") ==
          "c.json: unknown key \"case\" (known: schema, name, description, defaults, cases)");
    CHECK(err(R"({"cases": [{"name": "a", "trace": "t", "min_balancnedness": 0.9}]})")
              .find("c.json: cases[0] (a): unknown key \"min_balancnedness\" (case keys: name, trace, "
                    "config, layers, first_layer, "
                    "steps, baseline, min_balancedness, max_gap, max_layer_gap, max_moved_experts, "
                    "max_regression, allow_other_trace; "
                    "config keys: num_groups,") == 0);
    CHECK(err(R"({"cases": [{"trace": "t", "max_gap": 1}]})") == "c.json: cases[0]: missing \"name\"");
    CHECK(
        err(R"({"cases": [{"name": "a", "max_gap": 1}]})").find("c.json: cases[0] (a): missing \"trace\"") ==
        0);
    CHECK(err(R"({"cases": [{"name": "a", "trace": "t"}]})")
              .find("c.json: cases[0] (a): no threshold: give min_balancedness") == 0);
    CHECK(err(R"({"cases": [{"name": "a", "trace": "t", "min_balancedness": 1.5}]})") ==
          "c.json: cases[0] (a): min_balancedness (1.5) must be in [0, 1]");
    CHECK(err(R"({"cases": [{"name": "a", "trace": "t", "max_gap": "5%"}]})") ==
          "c.json: cases[0] (a): max_gap is \"5%\", expected a number");
    CHECK(err(R"({"cases": [{"name": "a", "trace": "t", "max_regression": 0.01}]})") ==
          "c.json: cases[0] (a): max_regression needs a baseline (a placement or an evaluation)");
    CHECK(
        err(R"({"cases": [{"name": "a", "trace": "t", "max_gap": 1, "baseline": "b.json"}]})") ==
        "c.json: cases[0] (a): a baseline is given but neither max_regression nor max_moved_experts uses it");
    CHECK(err(R"({"cases": [{"name": "a", "trace": "t", "max_moved_experts": 1.5, "baseline": "b"}]})") ==
          "c.json: cases[0] (a): max_moved_experts is 1.5, expected an integer");
    CHECK(err(R"({"cases": [{"name": "a", "trace": "t", "max_gap": 1, "layers": "3-61"}]})") ==
          "c.json: cases[0] (a): layers '3-61' is not a range A:B (e.g. 3:61)");
    CHECK(err(R"({"cases": [{"name": "a", "trace": "t", "max_gap": 1, "num_gpus": 0}]})") ==
          "c.json: cases[0] (a): num_gpus is 0, expected 1..16777216");
    CHECK(err(R"({"cases": [{"name": "a", "trace": "t", "max_gap": 1, "config": {"gpus": 8}}]})")
              .find("c.json: cases[0] (a): config: unknown key \"gpus\"") == 0);
    CHECK(
        err(R"({"cases": [{"name": "a", "trace": "t", "max_gap": 1}, {"name": "a", "trace": "t", "max_gap": 1}]})") ==
        "c.json: cases[1] (a): name \"a\" is used twice");
    CHECK(err(R"({"defaults": {"name": "x"}, "cases": [{"name": "a", "trace": "t", "max_gap": 1}]})") ==
          "c.json: defaults may not set \"name\" (names are per case)");
}

TEST_CASE("baselines: an evaluation gives its balancedness, a placement gives itself") {
    const auto dir = std::filesystem::temp_directory_path();
    const std::string eval = (dir / "eplb_baseline_eval.json").string();
    write_file_atomic(eval, R"({"schema": "eplb.evaluation/v1", "metrics": {"balancedness": 0.875}})");
    const Baseline b = read_baseline(eval, {});
    CHECK(b.balancedness == 0.875);
    CHECK_FALSE(b.placement);
    const std::string yaml = (dir / "eplb_baseline.yaml").string();
    write_file_atomic(yaml, "num_slots: 4\ninitial_global_assignments:\n  3: [0, 1, 1, 0]\n");
    PlacementImportOptions o;
    o.num_gpus = 2;
    const Baseline p = read_baseline(yaml, o);
    REQUIRE(p.placement);
    CHECK(p.placement->layer_ids == std::vector<int>{3});
    CHECK(p.placement->config.num_gpus == 2);
    write_file_atomic(eval, R"({"schema": "eplb.evaluation/v1", "metrics": {}})");
    CHECK(error_of([&] { read_baseline(eval, {}); }) ==
          eval + ": an evaluation without metrics.balancedness");
    std::filesystem::remove(eval);
    std::filesystem::remove(yaml);
}

TEST_CASE("JUnit XML: well-formed, counted, escaped") {
    JunitSuite s;
    s.name = "gate <nightly> & \"more\"";
    s.seconds = 1.25;
    s.timestamp = "2026-01-02T03:04:05";
    JunitCase pass;
    pass.name = "ep32";
    pass.classname = "eplb.check.gate";
    pass.seconds = 0.5;
    pass.system_out = "balancedness 0.96 >= 0.95";
    JunitCase fail;
    fail.name = "ep64 <'&'>";
    fail.classname = "eplb.check.gate";
    fail.failed = true;
    fail.failure_message = "balancedness 0.82 < 0.90";
    fail.failure_text = "balancedness 0.82 < 0.90\nline two\x01";
    s.cases = {pass, fail};
    const std::string xml = junit_xml(s);
    CHECK(xml.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", 0) == 0);
    const test::XmlElement root = test::parse_xml(xml);  // throws when malformed
    CHECK(root.name == "testsuites");
    CHECK(root.attrs.at("tests") == "2");
    CHECK(root.attrs.at("failures") == "1");
    REQUIRE(root.count("testsuite") == 1);
    const test::XmlElement& suite = *root.child("testsuite");
    CHECK(suite.attrs.at("name") == "gate <nightly> & \"more\"");
    CHECK(suite.attrs.at("tests") == "2");
    CHECK(suite.attrs.at("failures") == "1");
    CHECK(suite.attrs.at("errors") == "0");
    CHECK(suite.attrs.at("skipped") == "0");
    CHECK(suite.attrs.at("time") == "1.250");
    CHECK(suite.attrs.at("timestamp") == "2026-01-02T03:04:05");
    REQUIRE(suite.count("testcase") == 2);
    const test::XmlElement& c0 = suite.children[0];
    CHECK(c0.attrs.at("name") == "ep32");
    CHECK(c0.attrs.at("time") == "0.500");
    CHECK(c0.child("failure") == nullptr);
    CHECK(c0.child("system-out")->text == "balancedness 0.96 >= 0.95");
    const test::XmlElement& c1 = suite.children[1];
    CHECK(c1.attrs.at("name") == "ep64 <'&'>");
    REQUIRE(c1.child("failure") != nullptr);
    CHECK(c1.child("failure")->attrs.at("message") == "balancedness 0.82 < 0.90");
    CHECK(c1.child("failure")->text == "balancedness 0.82 < 0.90\nline two?");  // control character replaced
    CHECK(xml_escape("a<b>&\"'") == "a&lt;b&gt;&amp;&quot;&apos;");
    // The reader the test relies on does reject malformed documents.
    CHECK_THROWS(test::parse_xml("<a><b></a></b>"));
    CHECK_THROWS(test::parse_xml("<a x=1></a>"));
    CHECK_THROWS(test::parse_xml("<a>&</a>"));
}

TEST_CASE("fuzz regression regress-key-newline (check file): a key holding a newline is quoted on one line") {
    const std::string text = test::fuzz_corpus_file("check_file", "regress-key-newline");
    const std::string message = error_of([&] { parse_check_file(text, "k.json"); });
    CHECK(message.rfind(R"(k.json: cases[0] (a): unknown key "co|\x0afig" (case keys: )", 0) == 0);
    CHECK(message.find('\n') == std::string::npos);
}
