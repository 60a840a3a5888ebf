// The binary's check, convert and plan --export: the example check file, exit codes 0/1/2/3, JUnit
// XML read back, engine exports, round trips through every trace and placement format.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_runner.h"
#include "tests/xml_check.h"

using namespace eplb::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string bundled_trace() { return source_root() + "/traces/deepseek-v3-seed1.json"; }

int count_of(const std::string& text, const std::string& what) {
    int n = 0;
    for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
    return n;
}

}  // namespace

TEST_CASE("check: the example check file passes, one aligned line per case, JUnit XML of it") {
    const std::string junit = temp_dir() + "/example.xml";
    const CliResult r =
        run_eplb("check --backend cpu " + config_path("check-example.json") + " --junit " + junit);
    CHECK(r.exit_code == 0);
    CHECK(r.out.rfind("eplb check: " + config_path("check-example.json") + " (5 cases, cpu backend)\n", 0) ==
          0);
    CHECK(count_of(r.out, "\nPASS  ") == 5);
    CHECK(r.out.find(
              "PASS  deepseek-v3-ep32                balancedness 0.9625 >= 0.9500, gap 0.0390 <= 0.0500, "
              "worst layer gap 0.1221 <= 0.1500\n") != std::string::npos);
    CHECK(r.out.find("PASS  deepseek-v3-ep72                balancedness 0.9837 >= 0.9800") !=
          std::string::npos);
    CHECK(r.out.find(
              "PASS  deepseek-v3-ep32-vs-production  moved experts 14874 <= 15000, regression -0.0697 <= "
              "0.0000 (baseline 0.8928)") != std::string::npos);
    CHECK(r.out.find("5 cases: 5 passed, 0 failed\n") != std::string::npos);
    const XmlElement doc = parse_xml(slurp(junit));
    const XmlElement& suite = *doc.child("testsuite");
    CHECK(suite.attrs.at("name") == "check-example");
    CHECK(suite.attrs.at("tests") == "5");
    CHECK(suite.attrs.at("failures") == "0");
    REQUIRE(suite.count("testcase") == 5);
    CHECK(suite.children[2].attrs.at("name") == "deepseek-v3-ep72");
    CHECK(suite.children[2].child("system-out")->text.find("policy deepseek (global)") != std::string::npos);
}

TEST_CASE("check: a failing case is FAIL, exit 1, a <failure> in the JUnit XML") {
    const std::string file = temp_dir() + "/failing.json", junit = temp_dir() + "/failing.xml";
    write_text(file, R"({"name": "strict", "defaults": {"trace": ")" + bundled_trace() + R"("}, "cases": [
        {"name": "ep32-ok", "config": ")" +
                         config_path("deepseek-v3-ep32.json") + R"(", "min_balancedness": 0.95},
        {"name": "ep64-too-strict", "config": ")" +
                         config_path("deepseek-v3-ep64.json") + R"(",
         "min_balancedness": 0.9, "max_gap": 0.5}]})");
    const CliResult r = run_eplb("check --backend cpu " + file + " --junit " + junit);
    CHECK(r.exit_code == 1);
    CHECK(r.out.find("PASS  ep32-ok          balancedness 0.9625 >= 0.9500\n") != std::string::npos);
    CHECK(r.out.find("FAIL  ep64-too-strict  balancedness 0.8370 < 0.9000, gap 0.1947 <= 0.5000\n") !=
          std::string::npos);
    CHECK(r.out.find("2 cases: 1 passed, 1 failed") != std::string::npos);
    const XmlElement doc = parse_xml(slurp(junit));
    const XmlElement& suite = *doc.child("testsuite");
    CHECK(suite.attrs.at("failures") == "1");
    CHECK(suite.children[0].child("failure") == nullptr);
    REQUIRE(suite.children[1].child("failure") != nullptr);
    CHECK(suite.children[1].child("failure")->attrs.at("message") == "balancedness 0.8370 < 0.9000");
}

TEST_CASE("check: invalid check files and inputs exit 3 and write no JUnit file") {
    const std::string junit = temp_dir() + "/never.xml";
    const std::string bad = temp_dir() + "/bad-check.json";
    write_text(bad, R"({"cases": [{"name": "a", "trace": "t.json", "min_balancednes": 0.9}]})");
    CliResult r = run_eplb("check " + bad + " --junit " + junit);
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("unknown key \"min_balancednes\"") != std::string::npos);
    write_text(bad, R"({"cases": [{"name": "a", "trace": "missing.json", "min_balancedness": 0.9}]})");
    r = run_eplb("check " + bad + " --junit " + junit);
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("case \"a\": " + temp_dir() + "/missing.json: no such file") != std::string::npos);
    write_text(bad, R"({"cases": [{"name": "a", "trace": ")" + bundled_trace() +
                        R"(", "num_gpus": 32, "policy": "magic", "min_balancedness": 0.9}]})");
    r = run_eplb("check " + bad + " --junit " + junit);
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("case \"a\": policy: 'magic' is not one of deepseek, balanced, robust") !=
          std::string::npos);
    write_text(bad, R"({"cases": [{"name": "a", "trace": ")" + bundled_trace() +
                        R"(", "num_gpus": 7, "min_balancedness": 0.9}]})");
    r = run_eplb("check " + bad + " --junit " + junit);
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("case \"a\": " + bundled_trace() +
                     ": num_physical_experts (256) must be a multiple of num_gpus (7)") != std::string::npos);
    write_text(bad, "{not json");
    CHECK(run_eplb("check " + bad + " --junit " + junit).exit_code == 3);
    CHECK_FALSE(fs::exists(junit));
}

TEST_CASE("check: the one-case form takes plan's flags; usage errors exit 2") {
    const std::string flags = "check --backend cpu --trace " + bundled_trace() + " --config " +
                              config_path("deepseek-v3-ep32.json") + " --policy deepseek";
    CliResult r = run_eplb(flags + " --min-balancedness 0.95");
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("PASS  deepseek-v3-seed1/deepseek-v3-ep32/deepseek  balancedness 0.9625 >= 0.9500\n") !=
          std::string::npos);
    r = run_eplb(flags + " --min-balancedness 0.97 --max-layer-gap 0.2");
    CHECK(r.exit_code == 1);
    CHECK(r.out.find(
              "FAIL  deepseek-v3-seed1/deepseek-v3-ep32/deepseek  balancedness 0.9625 < 0.9700, worst layer "
              "gap 0.1221 <= 0.2000") != std::string::npos);
    // A placement baseline: planned here, so nothing moves and nothing regresses.
    const std::string base = temp_dir() + "/base.json";
    REQUIRE(run_eplb("plan --backend cpu --trace " + bundled_trace() + " --config " +
                     config_path("deepseek-v3-ep32.json") + " -o " + base)
                .exit_code == 0);
    r = run_eplb(flags + " --baseline " + base + " --max-moved-experts 0 --max-regression 0");
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("moved experts 0 <= 0, regression 0.0000 <= 0.0000 (baseline 0.9625)") !=
          std::string::npos);
    // An evaluation baseline gives a recorded value; it cannot count moved experts.
    const CliResult ev = run_eplb("evaluate --json --placement " + base + " --trace " + bundled_trace());
    const std::string eval = temp_dir() + "/eval.json";
    write_text(eval, ev.out);
    r = run_eplb(flags + " --baseline " + eval + " --max-regression 0.001");
    CHECK(r.exit_code == 0);
    r = run_eplb(flags + " --baseline " + eval + " --max-moved-experts 5");
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("max_moved_experts needs a baseline placement") != std::string::npos);
    CHECK(run_eplb(flags).exit_code == 2);                            // no threshold
    CHECK(run_eplb(flags + " --max-regression 0.1").exit_code == 3);  // no baseline to regress from
    CHECK(run_eplb("check " + config_path("check-example.json") + " --trace " + bundled_trace()).exit_code ==
          2);
    CHECK(run_eplb("check " + config_path("check-example.json") + " --min-balancedness 0.5").exit_code == 2);
    CHECK(run_eplb("check /nonexistent/check.json").exit_code == 3);
}

TEST_CASE("plan --export: SGLang, TensorRT-LLM and vLLM files next to the placement, in their schemas") {
    const std::string dir = temp_dir();
    const CliResult r =
        run_eplb("plan --backend cpu --trace " + bundled_trace() + " --config " +
                 config_path("deepseek-v3-ep32.json") + " -o " + dir + "/p.json --export sglang " + dir +
                 "/s.json --export TRTLLM " + dir + "/t.yaml --export vllm " + dir + "/v.json");
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("sglang export written to " + dir + "/s.json") != std::string::npos);
    const json p = json::parse(slurp(dir + "/p.json"));
    const json s = json::parse(slurp(dir + "/s.json"));
    CHECK(s.size() == 1);
    REQUIRE(s["physical_to_logical_map"].size() == 61);  // DeepSeek-V3's num_hidden_layers
    CHECK(s["physical_to_logical_map"][0][287] == 287 % 256);
    CHECK(s["physical_to_logical_map"][3] == p["phy2log"][0]);
    CHECK(s["physical_to_logical_map"][60] == p["phy2log"][57]);
    const std::string yaml = slurp(dir + "/t.yaml");
    CHECK(yaml.find("\nnum_slots: 288\ninitial_global_assignments:\n  3: [") != std::string::npos);
    CHECK(yaml.find("\n  60: [") != std::string::npos);
    CHECK(yaml.find("\nlayer_updates_per_iter: 0\n") != std::string::npos);
    const json v = json::parse(slurp(dir + "/v.json"));
    CHECK(v["physical_to_logical_map"] == p["phy2log"]);
    CHECK(v["logical_to_physical_map"].size() == 58);
    CHECK(v["logical_to_physical_map"][0].size() == 256);
    CHECK(v["logical_to_physical_map"][0][0].size() == 33);  // num_redundant_experts + 1
    CHECK(v["logical_replica_count"] == p["logcnt"]);
    // A bad format is a usage error; a failing plan leaves none of the files behind.
    CHECK(run_eplb("plan --export deepspeed " + dir + "/x.json").exit_code == 2);
    const CliResult bad = run_eplb("plan --trace " + bundled_trace() + " --num-gpus 7 --export sglang " +
                                   dir + "/never-s.json -o " + dir + "/never-p.json");
    CHECK(bad.exit_code == 3);
    CHECK_FALSE(fs::exists(dir + "/never-s.json"));
    CHECK_FALSE(fs::exists(dir + "/never-p.json"));
}

namespace {

// The layer ids of a TensorRT-LLM YAML's initial_global_assignments, in file order, and the row of `id`.
std::vector<int> yaml_layers(const std::string& yaml) {
    std::vector<int> ids;
    std::istringstream in(yaml);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("  ", 0) == 0 && line.find(": [") != std::string::npos) ids.push_back(std::stoi(line));
    }
    return ids;
}
json yaml_row(const std::string& yaml, int id) {
    const std::string key = "\n  " + std::to_string(id) + ": ";
    const size_t at = yaml.find(key);
    REQUIRE(at != std::string::npos);
    return json::parse(yaml.substr(at + key.size(), yaml.find('\n', at + 1) - at - key.size()));
}

}  // namespace

TEST_CASE(
    "plan --export from a trace without layer ids (.npy, load-history JSON) lands on model layers 3..60") {
    const std::string dir = temp_dir() + "/layer-ids";
    fs::create_directories(dir);
    // The same 58 MoE layers with ids (eplb JSON) and without (.npy, load-history JSON, as one would
    // collect from vLLM's EplbState, which counts MoE layers from 0).
    REQUIRE(run_eplb("gen-trace --num-layers 58 --first-layer 3 --num-experts 256 --num-steps 2 -o " + dir +
                     "/ids.json")
                .exit_code == 0);
    REQUIRE(run_eplb("convert --from " + dir + "/ids.json --to " + dir + "/rows.npy").exit_code == 0);
    REQUIRE(
        run_eplb("convert --from " + dir + "/ids.json --to " + dir + "/rows.json --format vllm").exit_code ==
        0);
    const std::string ep32 = " --backend cpu --config " + config_path("deepseek-v3-ep32.json");
    REQUIRE(run_eplb("plan" + ep32 + " --trace " + dir + "/ids.json -o " + dir + "/ref.json").exit_code == 0);
    const json ref = json::parse(slurp(dir + "/ref.json"));
    REQUIRE(ref["phy2log"].size() == 58);
    for (const std::string trace : {"rows.npy", "rows.json"}) {
        INFO(trace);
        const std::string s = dir + "/" + trace + ".sglang.json", t = dir + "/" + trace + ".yaml";
        const CliResult r = run_eplb("plan" + ep32 + " --trace " + dir + "/" + trace + " --export sglang " +
                                     s + " --export trtllm " + t);
        REQUIRE(r.exit_code == 0);
        CHECK(r.err.find("note: " + dir + "/" + trace +
                         " has no layer ids: its 58 rows are taken as the MoE layers "
                         "3..60 of moe_layers") != std::string::npos);
        CHECK(r.out.find("layers    58 (model layers 3..60)") != std::string::npos);
        // SGLang: one row per model layer; dense rows 0..2 trivial, MoE layer k's plan in row k.
        const json map = json::parse(slurp(s))["physical_to_logical_map"];
        REQUIRE(map.size() == 61);
        CHECK(map[2][287] == 287 % 256);
        CHECK(map[3] == ref["phy2log"][0]);
        CHECK(map[60] == ref["phy2log"][57]);
        // TensorRT-LLM: keys 3..60, then the MTP layer 61 (num_nextn_predict_layers 1 in the config).
        const std::string yaml = slurp(t);
        std::vector<int> expected;
        for (int id = 3; id <= 61; ++id) expected.push_back(id);
        CHECK(yaml_layers(yaml) == expected);
        CHECK(yaml_row(yaml, 3) == ref["phy2log"][0]);
        CHECK(yaml_row(yaml, 60) == ref["phy2log"][57]);
    }
    // --first-layer gives the ids without a config; --layers then selects model layers.
    const CliResult f = run_eplb("plan --backend cpu --trace " + dir +
                                 "/rows.npy --num-gpus 32 --num-groups 8 "
                                 "--num-nodes 4 --num-redundant-experts 32 --first-layer 3 --layers 10:20 "
                                 "--export trtllm " +
                                 dir + "/f.yaml");
    REQUIRE(f.exit_code == 0);
    CHECK(f.err.empty());
    std::vector<int> ten_to_twenty;
    for (int id = 10; id < 20; ++id) ten_to_twenty.push_back(id);
    CHECK(yaml_layers(slurp(dir + "/f.yaml")) == ten_to_twenty);
    CHECK(yaml_row(slurp(dir + "/f.yaml"), 10) == ref["phy2log"][7]);
    // Nothing gives ids: the plan is fine, the exports that need model layers are refused (exit 2,
    // naming the flag), and nothing is written.
    const std::string shape = " --num-gpus 32 --num-groups 8 --num-nodes 4 --num-redundant-experts 32";
    const CliResult plain = run_eplb("plan --backend cpu --trace " + dir + "/rows.json" + shape);
    CHECK(plain.exit_code == 0);
    CHECK(plain.out.find("layers    58 (rows without layer ids 0..57)") != std::string::npos);
    for (const std::string format : {"sglang", "trtllm"}) {
        const std::string out = dir + "/refused." + (format == "sglang" ? "json" : "yaml");
        const CliResult no = run_eplb("plan --backend cpu --trace " + dir + "/rows.json" + shape + " -o " +
                                      dir + "/refused-p.json --export " + format + " " + out);
        CHECK(no.exit_code == 2);
        CHECK(no.err.find(dir + "/rows.json: --export " + format +
                          " needs model layer ids, but the trace has none") != std::string::npos);
        CHECK(no.err.find("pass --first-layer N") != std::string::npos);
        CHECK_FALSE(fs::exists(out));
        CHECK_FALSE(fs::exists(dir + "/refused-p.json"));
    }
    // A trace with ids keeps them: --first-layer on it is a usage error.
    CHECK(
        run_eplb("plan --backend cpu --trace " + dir + "/ids.json" + shape + " --first-layer 0").exit_code ==
        2);
    // evaluate follows the same rule: the placement's layers 3..60 number the 58 rows.
    const CliResult ev =
        run_eplb("evaluate --placement " + dir + "/ref.json --trace " + dir + "/rows.npy --json");
    REQUIRE(ev.exit_code == 0);
    const CliResult ev_ref =
        run_eplb("evaluate --placement " + dir + "/ref.json --trace " + dir + "/ids.json --json");
    CHECK(json::parse(ev.out)["metrics"] == json::parse(ev_ref.out)["metrics"]);
}

TEST_CASE("--physical-map folds a physical-slot trace (vLLM's expert_load_window) into logical loads") {
    const std::string dir = temp_dir() + "/physical";
    fs::create_directories(dir);
    REQUIRE(run_eplb("gen-trace --num-layers 58 --first-layer 3 --num-experts 256 --num-steps 3 -o " + dir +
                     "/logical.json")
                .exit_code == 0);
    // The placement in force (vLLM's EplbState tensors) and, per slot, the share of its expert's load
    // that replica took: what vLLM records in expert_load_window [W][L][R] (MoE layers from 0).
    const std::string ep32 = " --backend cpu --config " + config_path("deepseek-v3-ep32.json");
    REQUIRE(run_eplb("plan" + ep32 + " --trace " + dir + "/logical.json -o " + dir +
                     "/ref.json --export vllm " + dir + "/in-force.json")
                .exit_code == 0);
    const json logical = json::parse(slurp(dir + "/logical.json"))["load"];
    const json map = json::parse(slurp(dir + "/in-force.json"))["physical_to_logical_map"];
    const json count = json::parse(slurp(dir + "/in-force.json"))["logical_replica_count"];
    json window = json::array();
    for (const json& step : logical) {
        json rows = json::array();
        for (size_t l = 0; l < step.size(); ++l) {
            json slots = json::array();
            std::vector<int> seen(256, 0);
            for (const json& expert : map[l]) {
                const int e = expert.get<int>(), n = count[l][e].get<int>();
                const int64_t load = step[l][e].get<int64_t>(), share = load / n;
                slots.push_back(seen[e]++ == 0 ? load - share * (n - 1) : share);  // integers summing to load
            }
            rows.push_back(slots);
        }
        window.push_back(json{{"logical_expert_load", rows}});
    }
    write_text(dir + "/window.json", json{{"load_history", window}}.dump());
    const CliResult r =
        run_eplb("plan" + ep32 + " --trace " + dir + "/window.json --physical-map " + dir +
                 "/in-force.json -o " + dir + "/folded.json --export trtllm " + dir + "/t.yaml");
    REQUIRE(r.exit_code == 0);
    const json ref = json::parse(slurp(dir + "/ref.json")), folded = json::parse(slurp(dir + "/folded.json"));
    CHECK(folded["phy2log"] == ref["phy2log"]);  // the same logical loads, so the same plan
    CHECK(folded["layers"] == ref["layers"]);    // 58 id-less rows: moe_layers 3..60
    CHECK(yaml_row(slurp(dir + "/t.yaml"), 60) == ref["phy2log"][57]);
    // simulate folds the same way (the series read whole instead of streamed).
    const std::string sim = " --backend cpu --config " + config_path("deepseek-v3-ep32.json") +
                            " --window-size 2 --step-interval 2 --json --trace ";
    const CliResult a =
        run_eplb("simulate" + sim + dir + "/window.json --physical-map " + dir + "/in-force.json");
    const CliResult b = run_eplb("simulate" + sim + dir + "/logical.json");
    REQUIRE(a.exit_code == 0);
    REQUIRE(b.exit_code == 0);
    const json lane_a = json::parse(a.out)["lanes"][0], lane_b = json::parse(b.out)["lanes"][0];
    CHECK(lane_a["balancedness"] == lane_b["balancedness"]);  // per step
    CHECK(lane_a["experts_moved_at"] == lane_b["experts_moved_at"]);
    CHECK(json::parse(a.out)["layers"] == json::parse(b.out)["layers"]);
    // Without the map the 288 columns are not the config's 256 experts.
    CHECK(run_eplb("plan" + ep32 + " --trace " + dir + "/window.json").exit_code == 3);
}

TEST_CASE("deploy traps: SGLang export names must end in .json; TensorRT-LLM exports name the MTP layer") {
    const std::string dir = temp_dir() + "/traps";
    fs::create_directories(dir);
    // SGLang parses --init-expert-location by the name's ending: another name would be read as JSON text.
    const CliResult r = run_eplb("plan --backend cpu --trace " + bundled_trace() + " --config " +
                                 config_path("deepseek-v3-ep32.json") + " -o " + dir +
                                 "/p.json --export sglang " + dir + "/map.txt");
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("--export sglang " + dir +
                     "/map.txt: SGLang reads --init-expert-location from a file only "
                     "when its name ends in .json") != std::string::npos);
    CHECK_FALSE(fs::exists(dir + "/map.txt"));
    CHECK_FALSE(fs::exists(dir + "/p.json"));
    // MTP layer 61 without load in the trace: TensorRT-LLM's own default map (rank q's slot k holds
    // expert (q*E/P + k) mod E), with a note.
    const CliResult m =
        run_eplb("plan --backend cpu --trace " + bundled_trace() + " --config " +
                 config_path("deepseek-v3-ep32.json") + " --export trtllm " + dir + "/m.yaml");
    REQUIRE(m.exit_code == 0);
    CHECK(
        m.err.find("note: trtllm export: MTP layer 61 (num_nextn_predict_layers) has no load in the trace") !=
        std::string::npos);
    const std::string yaml = slurp(dir + "/m.yaml");
    CHECK(yaml_layers(yaml).back() == 61);
    CHECK(yaml_layers(yaml).size() == 59);
    const json mtp = yaml_row(yaml, 61);
    REQUIRE(mtp.size() == 288);
    for (int s = 0; s < 288; ++s) CHECK(mtp[s] == (s / 9 * 256 / 32 + s % 9) % 256);
    // A trace with a row for layer 61 (a TensorRT-LLM statistics directory of a run with MTP): it is
    // planned with the MoE layers and exported under 61; SGLang's map keeps the model's 61 rows.
    REQUIRE(run_eplb("gen-trace --num-layers 59 --first-layer 3 --num-experts 256 -o " + dir + "/mtp.json")
                .exit_code == 0);
    const CliResult w =
        run_eplb("plan --backend cpu --trace " + dir + "/mtp.json --config " +
                 config_path("deepseek-v3-ep32.json") + " -o " + dir + "/w.json --export trtllm " + dir +
                 "/w.yaml --export sglang " + dir + "/w-sglang.json");
    REQUIRE(w.exit_code == 0);
    CHECK(w.err.find("MTP layer") == std::string::npos);
    const json p = json::parse(slurp(dir + "/w.json"));
    REQUIRE(p["layers"].size() == 59);
    CHECK(p["layers"][58] == 61);
    CHECK(yaml_row(slurp(dir + "/w.yaml"), 61) == p["phy2log"][58]);
    CHECK(json::parse(slurp(dir + "/w-sglang.json"))["physical_to_logical_map"].size() == 61);
}

TEST_CASE("convert: traces round-trip through every format, TensorRT-LLM statistics included") {
    const std::string dir = temp_dir() + "/conv";
    fs::create_directories(dir);
    const std::string start = dir + "/start.json";
    REQUIRE(
        run_eplb(
            "gen-trace --num-layers 3 --first-layer 2 --num-experts 16 --num-steps 3 --top-k 4 --drift 0.3 "
            "-o " +
            start)
            .exit_code == 0);
    const json original = json::parse(slurp(start));
    // Formats that keep model layer ids: eplb JSON, CSV, TensorRT-LLM statistics.
    REQUIRE(run_eplb("convert --from " + start + " --to " + dir + "/a.csv").exit_code == 0);
    REQUIRE(run_eplb("convert --from " + dir + "/a.csv --to " + dir + "/stats --top-k 4").exit_code == 0);
    CHECK(fs::exists(dir + "/stats/meta_info.json"));
    CHECK(fs::exists(dir + "/stats/rank0.safetensors"));
    REQUIRE(run_eplb("convert --from " + dir + "/stats --to " + dir + "/b.json").exit_code == 0);
    const json b = json::parse(slurp(dir + "/b.json"));
    CHECK(b["load"] == original["load"]);
    CHECK(b["layers"] == original["layers"]);
    // SGLang's logical_count has a row per model layer: 2 zero rows before layers 2..4.
    REQUIRE(run_eplb("convert --from " + dir + "/b.json --to " + dir + "/c.json --format sglang").exit_code ==
            0);
    const json c = json::parse(slurp(dir + "/c.json"));
    REQUIRE(c["logical_count"].size() == 3);
    REQUIRE(c["logical_count"][0].size() == 5);
    CHECK(c["logical_count"][0][0] == json(std::vector<float>(16, 0.0f)));
    CHECK(c["logical_count"][1][2] == original["load"][1][0]);
    // .npy and the load-history JSON have no layer ids (rows 0..L-1); --layers drops SGLang's dense rows.
    REQUIRE(run_eplb("convert --from " + dir + "/c.json --to " + dir + "/d.npy --layers 2:5").exit_code == 0);
    REQUIRE(run_eplb("convert --from " + dir + "/d.npy --to " + dir + "/e.json --format vllm").exit_code ==
            0);
    CHECK(json::parse(slurp(dir + "/e.json"))["load_history"].size() == 3);
    REQUIRE(run_eplb("convert --from " + dir + "/e.json --to " + dir + "/f.json").exit_code == 0);
    const json f = json::parse(slurp(dir + "/f.json"));
    CHECK(f["load"] == original["load"]);
    CHECK_FALSE(f.contains("layers"));  // still none: the native format says so by leaving them out
    REQUIRE(run_eplb("convert --from " + dir + "/e.json --to " + dir + "/g.json --first-layer 2").exit_code ==
            0);
    CHECK(json::parse(slurp(dir + "/g.json"))["layers"] == original["layers"]);
    // The statistics directory is a trace everywhere: plan gives the same placement as from JSON.
    const CliResult from_json = run_eplb("plan --backend cpu --json --trace " + start +
                                         " --num-gpus 4 "
                                         "--num-redundant-experts 4");
    const CliResult from_dir = run_eplb("plan --backend cpu --json --trace " + dir +
                                        "/stats --num-gpus 4 "
                                        "--num-redundant-experts 4");
    REQUIRE(from_dir.exit_code == 0);
    CHECK(json::parse(from_dir.out)["phy2log"] == json::parse(from_json.out)["phy2log"]);
    // Errors: TensorRT-LLM needs top_k; unknown formats; placement flags on a trace.
    CliResult r = run_eplb("convert --from " + start + " --to " + dir + "/no-topk");
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("pass --top-k K") != std::string::npos);
    CHECK_FALSE(fs::exists(dir + "/no-topk"));
    CHECK(run_eplb("convert --from " + start + " --to " + dir + "/x.txt").exit_code == 3);
    CHECK(run_eplb("convert --from " + start + " --to " + dir + "/x.json --format yaml").exit_code == 2);
    CHECK(run_eplb("convert --from " + start + " --to " + dir + "/x.json --num-gpus 4").exit_code == 3);
}

TEST_CASE("convert: placements between eplb, SGLang, TensorRT-LLM and vLLM formats") {
    const std::string dir = temp_dir() + "/pconv";
    fs::create_directories(dir);
    const std::string p = dir + "/p.json";
    REQUIRE(run_eplb("plan --backend cpu --trace " + bundled_trace() + " --config " +
                     config_path("deepseek-v3-ep32.json") + " -o " + p)
                .exit_code == 0);
    const json original = json::parse(slurp(p));
    const std::string cfg = " --num-gpus 32 --num-nodes 4 --num-groups 8";
    // eplb -> trtllm -> sglang -> vllm -> eplb; SGLang's dense rows dropped with --layers.
    REQUIRE(run_eplb("convert --from " + p + " --to " + dir + "/t.yaml").exit_code == 0);
    REQUIRE(run_eplb("convert --from " + dir + "/t.yaml --to " + dir + "/s.json --format sglang").exit_code ==
            0);
    CHECK(json::parse(slurp(dir + "/s.json"))["physical_to_logical_map"].size() == 61);
    REQUIRE(run_eplb("convert --from " + dir + "/s.json --to " + dir + "/v.json --format vllm --layers 3:61")
                .exit_code == 0);
    const CliResult r = run_eplb("convert --from " + dir + "/v.json --to " + dir + "/back.json" + cfg);
    REQUIRE(r.exit_code == 0);
    CHECK(r.err.find("wrote " + dir + "/back.json: eplb placement of 58 layers x 288 slots (from vllm)") !=
          std::string::npos);
    const json back = json::parse(slurp(dir + "/back.json"));
    CHECK(back["phy2log"] == original["phy2log"]);
    CHECK(back["logcnt"] == original["logcnt"]);
    CHECK(back["layers"] == original["layers"]);
    CHECK(back["config"]["num_gpus"] == 32);
    CHECK(back["policy_taken"] == "hierarchical");
    // The engine formats do not record the GPU count: eplb output needs --num-gpus.
    CliResult e = run_eplb("convert --from " + dir + "/t.yaml --to " + dir + "/no-gpus.json");
    CHECK(e.exit_code == 3);
    CHECK(e.err.find("does not record the GPU count: pass --num-gpus") != std::string::npos);
    e = run_eplb("convert --from " + p + " --to " + dir + "/x.yaml --num-gpus 8");
    CHECK(e.exit_code == 3);
    CHECK(e.err.find("records its config") != std::string::npos);
    // A placement scored back on its trace gives the plan's balancedness, whatever format it went through.
    const CliResult ev =
        run_eplb("evaluate --json --placement " + dir + "/back.json --trace " + bundled_trace());
    REQUIRE(ev.exit_code == 0);
    CHECK(json::parse(ev.out)["metrics"]["balancedness"] == original["metrics"]["balancedness"]);
}
