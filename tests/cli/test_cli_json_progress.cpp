// --json of check, gen-trace and convert (a document on stdout and nothing else, read back and
// checked value by value), convert --steps, and the progress bar: drawn on a terminal, absent when
// stderr is not one.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_runner.h"

using namespace eplb::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const json* find_case(const json& doc, const std::string& name) {
    for (const json& c : doc["cases"]) {
        if (c["name"] == name) return &c;
    }
    return nullptr;
}

const json* find_check(const json& c, const std::string& name) {
    for (const json& k : c["checks"]) {
        if (k["name"] == name) return &k;
    }
    return nullptr;
}

}  // namespace

TEST_CASE("check --json: every case with its measured values, thresholds and pass/fail") {
    const std::string junit = temp_dir() + "/json-check.xml";
    const CliResult r =
        run_eplb("check --backend cpu --json " + config_path("check-example.json") + " --junit " + junit);
    CHECK(r.exit_code == 0);
    const json doc = json::parse(r.out);  // stdout holds the document and nothing else
    CHECK(doc["schema"] == "eplb.check_result/v1");
    CHECK(doc["file"] == config_path("check-example.json"));
    CHECK(doc["backend"] == "cpu");
    CHECK(doc["passed"] == 5);
    CHECK(doc["failed"] == 0);
    REQUIRE(doc["cases"].size() == 5);
    const json* ep32 = find_case(doc, "deepseek-v3-ep32");
    REQUIRE(ep32 != nullptr);
    CHECK((*ep32)["pass"] == true);
    CHECK((*ep32)["layers"] == 58);
    CHECK((*ep32)["experts"] == 256);
    CHECK((*ep32)["slots"] == 288);
    CHECK((*ep32)["gpus"] == 32);
    REQUIRE((*ep32)["checks"].size() == 3);
    const json* bal = find_check(*ep32, "balancedness");
    REQUIRE(bal != nullptr);
    CHECK((*bal)["value"].get<double>() == doctest::Approx(0.9625).epsilon(1e-4));
    CHECK((*bal)["value"] == (*ep32)["metrics"]["balancedness"]);
    CHECK((*bal)["threshold"] == 0.95);
    CHECK((*bal)["op"] == ">=");
    CHECK((*bal)["pass"] == true);
    const json* layer_gap = find_check(*ep32, "worst_layer_gap");
    REQUIRE(layer_gap != nullptr);
    CHECK((*layer_gap)["value"].get<double>() == doctest::Approx(0.1221).epsilon(1e-3));
    CHECK((*layer_gap)["threshold"] == 0.15);
    CHECK((*layer_gap)["op"] == "<=");
    const json* prod = find_case(doc, "deepseek-v3-ep32-vs-production");
    REQUIRE(prod != nullptr);
    const json* moved = find_check(*prod, "moved_experts");
    REQUIRE(moved != nullptr);
    CHECK((*moved)["value"] == 14874.0);
    CHECK((*moved)["threshold"] == 15000.0);
    CHECK((*prod)["baseline"]["experts_moved"] == 14874);
    CHECK((*prod)["baseline"]["balancedness"].get<double>() == doctest::Approx(0.8928).epsilon(1e-4));
    const json* regression = find_check(*prod, "regression");
    REQUIRE(regression != nullptr);
    CHECK((*regression)["value"].get<double>() ==
          doctest::Approx((*prod)["baseline"]["balancedness"].get<double>() -
                          (*prod)["metrics"]["balancedness"].get<double>()));
    // The JUnit note moves to stderr; the XML is written as without --json.
    CHECK(r.err.find("JUnit XML written to " + junit) != std::string::npos);
    CHECK(fs::exists(junit));

    // One failing case: exit 1, pass false in the document.
    const CliResult f = run_eplb("check --backend cpu --json --trace " + source_root() +
                                 "/traces/deepseek-v3-seed1.json --config " +
                                 config_path("deepseek-v3-ep32.json") + " --min-balancedness 0.999");
    CHECK(f.exit_code == 1);
    const json fd = json::parse(f.out);
    CHECK(fd["file"].is_null());
    CHECK(fd["failed"] == 1);
    REQUIRE(fd["cases"].size() == 1);
    CHECK(fd["cases"][0]["pass"] == false);
    CHECK(fd["cases"][0]["checks"][0]["pass"] == false);
    CHECK(fd["cases"][0]["checks"][0]["threshold"] == 0.999);
}

TEST_CASE("gen-trace --json and convert --json describe what was written") {
    const std::string dir = temp_dir() + "/json-written";
    fs::create_directories(dir);
    const std::string npy = dir + "/g.npy";
    CliResult r = run_eplb(
        "gen-trace --num-layers 3 --first-layer 4 --num-experts 16 --top-k 4 --num-steps 6 "
        "--json -o " +
        npy);
    REQUIRE(r.exit_code == 0);
    json doc = json::parse(r.out);
    CHECK(doc["schema"] == "eplb.gen_trace_result/v1");
    CHECK(doc["path"] == npy);
    CHECK(doc["kind"] == "trace");
    CHECK(doc["format"] == "npy");
    CHECK(doc["shape"] == json::parse("[6, 3, 16]"));
    CHECK(doc["layers"] == json::parse("[4, 5, 6]"));
    CHECK(doc["steps"] == json::parse(R"({"first": 0, "end": 6})"));
    CHECK(doc["bytes"] == fs::file_size(npy));
    CHECK(fs::file_size(npy) == 128 + 6 * 3 * 16 * 4);
    CHECK(r.err == "wrote " + npy + ": 6 steps x 3 layers x 16 experts\n");

    // A trace: .npy rows are layers 0..L-1; --steps keeps [2, 5).
    const std::string csv = dir + "/c.csv";
    r = run_eplb("convert --json --from " + npy + " --to " + csv + " --steps 2:5");
    REQUIRE(r.exit_code == 0);
    doc = json::parse(r.out);
    CHECK(doc["schema"] == "eplb.convert_result/v1");
    CHECK(doc["path"] == csv);
    CHECK(doc["kind"] == "trace");
    CHECK(doc["format"] == "csv");
    CHECK(doc["from"] == npy);
    CHECK(doc["shape"] == json::parse("[3, 3, 16]"));
    CHECK(doc["layers"] == json::parse("[0, 1, 2]"));
    CHECK(doc["steps"] == json::parse(R"({"first": 2, "end": 5})"));
    CHECK(doc["bytes"] == fs::file_size(csv));

    // A TensorRT-LLM directory: the bytes of both files (its keys are model layers: a .npy has none,
    // --first-layer gives them).
    const std::string stats = dir + "/stats";
    r = run_eplb("convert --json --from " + npy + " --first-layer 0 --to " + stats + " --top-k 4");
    REQUIRE(r.exit_code == 0);
    doc = json::parse(r.out);
    CHECK(doc["format"] == "trtllm");
    CHECK(doc["bytes"] ==
          fs::file_size(stats + "/rank0.safetensors") + fs::file_size(stats + "/meta_info.json"));

    // A placement: its formats and [layers, slots].
    const std::string placement = dir + "/p.json", sglang = dir + "/p-sglang.json";
    REQUIRE(run_eplb("plan --backend cpu --trace " + npy + " --num-gpus 4 --num-redundant-experts 4 -o " +
                     placement)
                .exit_code == 0);
    r = run_eplb("convert --json --from " + placement + " --to " + sglang + " --format sglang");
    REQUIRE(r.exit_code == 0);
    doc = json::parse(r.out);
    CHECK(doc["kind"] == "placement");
    CHECK(doc["format"] == "sglang");
    CHECK(doc["from_format"] == "eplb");
    CHECK(doc["shape"] == json::parse("[3, 20]"));
    CHECK(doc["layers"] == json::parse("[0, 1, 2]"));
    CHECK_FALSE(doc.contains("steps"));
    CHECK(doc["bytes"] == fs::file_size(sglang));

    // The document and the trace cannot share stdout.
    r = run_eplb("gen-trace --json -o -");
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    r = run_eplb("convert --json --from " + npy + " --to -");
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
}

TEST_CASE("convert --steps keeps steps A:B of every kind of trace input") {
    const std::string dir = temp_dir() + "/steps";
    fs::create_directories(dir);
    const std::string start = dir + "/start.json", npy = dir + "/start.npy";
    REQUIRE(
        run_eplb(
            "gen-trace --num-layers 2 --first-layer 3 --num-experts 8 --top-k 2 --num-steps 7 --drift 0.2 "
            "-o " +
            start)
            .exit_code == 0);
    REQUIRE(run_eplb("convert --from " + start + " --to " + npy).exit_code == 0);
    const json original = json::parse(slurp(start));
    // From JSON (read whole) and from .npy (read step by step): the same steps.
    REQUIRE(run_eplb("convert --from " + start + " --to " + dir + "/a.json --steps 2:5").exit_code == 0);
    REQUIRE(run_eplb("convert --from " + npy + " --to " + dir + "/b.json --steps 2:5").exit_code == 0);
    const json a = json::parse(slurp(dir + "/a.json")), b = json::parse(slurp(dir + "/b.json"));
    REQUIRE(a["load"].size() == 3);
    for (int s = 0; s < 3; ++s) CHECK(a["load"][s] == original["load"][s + 2]);
    CHECK(a["layers"] == json::parse("[3, 4]"));
    CHECK(b["load"] == a["load"]);
    CHECK_FALSE(b.contains("layers"));  // a .npy has no layer ids, and the JSON says none
    // "A:" runs to the end; with --layers.
    REQUIRE(
        run_eplb("convert --from " + start + " --to " + dir + "/c.json --steps 5: --layers 4:5").exit_code ==
        0);
    const json c = json::parse(slurp(dir + "/c.json"));
    REQUIRE(c["load"].size() == 2);
    CHECK(c["load"][1][0] == original["load"][6][1]);
    CHECK(c["layers"] == json::parse("[4]"));
    // An SGLang stat-mode .pt dump (read step by step) gives the steps of its JSON twin.
    const std::string pt = source_root() + "/tests/io/pt/stat.pt",
                      twin = source_root() + "/tests/io/pt/stat.json";
    REQUIRE(run_eplb("convert --from " + pt + " --to " + dir + "/pt.json --steps 1:3").exit_code == 0);
    REQUIRE(run_eplb("convert --from " + twin + " --to " + dir + "/twin.json --steps 1:3").exit_code == 0);
    const json from_pt = json::parse(slurp(dir + "/pt.json"));
    CHECK(from_pt["load"].size() == 2);
    CHECK(from_pt["load"] == json::parse(slurp(dir + "/twin.json"))["load"]);
    CHECK(from_pt["load"][0] == json::parse(slurp(twin))["logical_count"][1]);
    // Out of range: invalid input naming the file, nothing written.
    for (const std::string& from : {start, npy}) {
        const CliResult r = run_eplb("convert --from " + from + " --to " + dir + "/x.json --steps 5:9");
        CHECK(r.exit_code == 3);
        CHECK(r.err.find(from + ": --steps 5:9 is outside the trace's 7 steps [0, 7)") != std::string::npos);
        CHECK_FALSE(fs::exists(dir + "/x.json"));
    }
}

TEST_CASE("gen-trace and convert: no progress bar when stderr is not a terminal, one on a terminal") {
    const std::string dir = temp_dir() + "/progress";
    fs::create_directories(dir);
    const std::string npy = dir + "/long.npy";
    // 300 steps of 58 x 256 are two of the writer's chunks (282 steps each), so the bar has a step to
    // show; EPLB_PROGRESS_AFTER=0 draws it from the start instead of after the first second.
    const std::string now = "EPLB_PROGRESS_AFTER=0";
    CliResult r = run_eplb_with(now, "gen-trace --num-steps 300 -o " + npy);
    REQUIRE(r.exit_code == 0);
    CHECK(r.err == "wrote " + npy + ": 300 steps x 58 layers x 256 experts\n");
    r = run_eplb_with(now, "convert --from " + npy + " --to " + dir + "/piped.npy");
    REQUIRE(r.exit_code == 0);
    CHECK(r.err == "wrote " + dir + "/piped.npy: npy trace of 300 steps x 58 layers x 256 experts\n");
    // On a terminal (script(1) gives the command one): the bar, then erased before the last line.
    const auto on_terminal = [&](const std::string& env, const std::string& out) {
        const std::string typescript = dir + "/typescript";
        const std::string command =
            env + " " + std::getenv("EPLB_BIN") + " convert --from " + npy + " --to " + dir + "/" + out;
        REQUIRE(std::system(
                    ("script -qec '" + command + "' " + typescript + " >/dev/null </dev/null").c_str()) == 0);
        return slurp(typescript);
    };
    std::string shown = on_terminal(now, "tty.npy");
    CHECK(shown.find("\r[#########") != std::string::npos);
    CHECK(shown.find(" 94%  step 282 of 300") != std::string::npos);
    CHECK(shown.find("wrote " + dir + "/tty.npy: npy trace of 300 steps x 58 layers x 256 experts") !=
          std::string::npos);
    CHECK(slurp(dir + "/tty.npy") == slurp(dir + "/piped.npy"));
    // The default waits a second, which this conversion does not take on a fast machine; a value that
    // is not a number of seconds is named and the default used.
    shown = on_terminal("EPLB_PROGRESS_AFTER=soon", "default.npy");
    CHECK(shown.find("eplb: EPLB_PROGRESS_AFTER='soon' is not a number of seconds >= 0; using 1") !=
          std::string::npos);
    CHECK(slurp(dir + "/default.npy") == slurp(dir + "/piped.npy"));
    fs::remove_all(dir);
}
