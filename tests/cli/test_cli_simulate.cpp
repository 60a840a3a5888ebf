// `eplb simulate` and the time-series side of `eplb gen-trace` end to end: the table, CSV, SVG and
// JSON outputs, every input kind (generated, .npy streamed, JSON, mixtures), sweeps, exit codes.
#include <doctest/doctest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_runner.h"
#include "tests/test_util.h"

using namespace eplb::test;
using nlohmann::json;

namespace {
const char* kSmallConfig = "--num-gpus 4 --num-redundant-experts 4";
}  // namespace

TEST_CASE("simulate with no input: the embedded DeepSeek-V3 default on a generated series") {
    const CliResult r = run_eplb("simulate --backend cpu --gen-num-steps 400 --step-interval 100");
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.rfind("eplb simulate: embedded default: DeepSeek-V3 shapes", 0) == 0);
    CHECK(r.out.find("series    400 steps (0..399) x 58 layers (model layers 3..60)") != std::string::npos);
    CHECK(r.out.find("loop      window 1000 steps, a check every 100 steps (the first after step 24)") !=
          std::string::npos);
    CHECK(r.out.find("\ndeepseek ") != std::string::npos);
    CHECK(r.err.find("[") == std::string::npos);  // no progress bar without a terminal
}

TEST_CASE("a .npy series streamed, outputs written; the same series from JSON gives the same run") {
    const std::string npy = temp_dir() + "/series.npy", js = temp_dir() + "/series.json";
    const std::string gen =
        "gen-trace --num-layers 4 --num-experts 16 --num-steps 300 --tokens 512 --drift 0.05 "
        "--switch-every 100 --seed 7 -o ";
    REQUIRE(run_eplb(gen + npy).exit_code == 0);
    REQUIRE(run_eplb(gen + js).exit_code == 0);
    const std::string csv = temp_dir() + "/s.csv", svg = temp_dir() + "/s.svg";
    const std::string flags =
        std::string(" --backend cpu ") + kSmallConfig + " --window-size 50 --step-interval 40";
    const CliResult r =
        run_eplb("simulate --trace " + npy + flags + " --oracle --csv " + csv + " --svg " + svg);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("eplb simulate: trace " + npy + " (read step by step)") == 0);
    CHECK(r.out.find("per-step CSV written to " + csv) != std::string::npos);
    CHECK(r.out.find("plot written to " + svg) != std::string::npos);
    CHECK(r.out.find("deepseek oracle") != std::string::npos);
    const std::string csv_text = slurp(csv);
    CHECK(csv_text.rfind(
              "step,policy,balancedness,max_gpu_load,mean_gpu_load,rearranged,experts_moved\n0,deepseek,",
              0) == 0);
    CHECK(std::count(csv_text.begin(), csv_text.end(), '\n') == 1 + 2 * 300);
    const std::string svg_text = slurp(svg);
    CHECK(svg_text.rfind("<svg", 0) == 0);
    CHECK(svg_text.find("</svg>") != std::string::npos);

    const CliResult a = run_eplb("simulate --json --trace " + npy + flags);
    const CliResult b = run_eplb("simulate --json --trace " + js + flags);
    REQUIRE(a.exit_code == 0);
    REQUIRE(b.exit_code == 0);
    const json ja = json::parse(a.out), jb = json::parse(b.out);
    CHECK(ja["schema"] == "eplb.simulation/v1");
    CHECK(ja["lanes"][0]["balancedness"] == jb["lanes"][0]["balancedness"]);
    CHECK(ja["lanes"][0]["rearranged_at"] == json::parse("[9, 49, 89, 129, 169, 209, 249, 289]"));
    // The generator in-process with the same options: the same series, the same run.
    const CliResult c = run_eplb(
        "simulate --json --gen-num-layers 4 --gen-first-layer 0 --gen-num-experts 16 --gen-num-steps 300 "
        "--gen-tokens 512 --gen-drift 0.05 --gen-switch-every 100 --gen-seed 7" +
        flags);
    REQUIRE(c.exit_code == 0);
    const json jc = json::parse(c.out);
    CHECK(jc["lanes"][0]["balancedness"] == ja["lanes"][0]["balancedness"]);
    CHECK(jc["inputs"]["generator"].get<std::string>().find("switch every 100 steps") != std::string::npos);
    // --steps and --layers select a part of the series.
    const CliResult part =
        run_eplb("simulate --json --trace " + npy + flags + " --steps 100:250 --layers 1:3");
    REQUIRE(part.exit_code == 0);
    const json jp = json::parse(part.out);
    CHECK(jp["num_steps"] == 150);
    CHECK(jp["first_step"] == 100);
    CHECK(jp["layers"] == json::parse("[1, 2]"));
}

TEST_CASE(
    "simulate follows the layer-id rule: a .npy of the MoE layers alone is moe_layers, streamed or not") {
    const std::string npy = temp_dir() + "/moe-only.npy", hist = temp_dir() + "/moe-only.json",
                      cfg = temp_dir() + "/moe-3-7.json";
    REQUIRE(
        run_eplb("gen-trace --num-layers 4 --first-layer 3 --num-experts 16 --top-k 2 --num-steps 20 -o " +
                 npy)
            .exit_code == 0);
    REQUIRE(run_eplb("convert --from " + npy + " --to " + hist + " --format vllm").exit_code == 0);
    write_text(cfg, R"({"num_gpus": 4, "num_redundant_experts": 4, "moe_layers": [3, 7]})");
    const std::string flags = " --backend cpu --config " + cfg + " --window-size 5 --step-interval 5";
    for (const std::string& trace : {npy, hist}) {
        INFO(trace);
        const CliResult r = run_eplb("simulate --json --trace " + trace + flags);
        REQUIRE(r.exit_code == 0);
        CHECK(json::parse(r.out)["layers"] == json::parse("[3, 4, 5, 6]"));
        CHECK(
            r.err.find("note: " + trace + " has no layer ids: its 4 rows are taken as the MoE layers 3..6") !=
            std::string::npos);
        // --layers then names model layers; --first-layer numbers the rows explicitly.
        CHECK(json::parse(
                  run_eplb("simulate --json --trace " + trace + flags + " --layers 4:6").out)["layers"] ==
              json::parse("[4, 5]"));
        CHECK(
            json::parse(run_eplb("simulate --json --trace " + trace + flags + " --first-layer 1 --layers 1:3")
                            .out)["layers"] == json::parse("[1, 2]"));
    }
}

TEST_CASE("a sweep prints one table; thresholds and policies as lists") {
    const CliResult r =
        run_eplb(std::string("simulate --backend cpu ") + kSmallConfig +
                 " --gen-num-layers 2 --gen-num-experts 16 --gen-num-steps 200 --gen-drift 0.05"
                 " --window-size 20,50 --step-interval 30,60 --threshold off,0.98 --policy deepseek");
    REQUIRE(r.exit_code == 0);
    CHECK(
        r.out.find(
            "policy    window  interval  threshold  balancedness  mean step  worst step  at step  checks") !=
        std::string::npos);
    int rows = 0;
    for (size_t p = r.out.find("\ndeepseek "); p != std::string::npos; p = r.out.find("\ndeepseek ", p + 1))
        ++rows;
    CHECK(rows == 8);
}

TEST_CASE("gen-trace: a mixture of the real SGLang workloads switching over time") {
    const std::string dir = shared_traces_dir();
    if (dir.empty()) {
        MESSAGE("../shared/traces absent: skipped");
        return;
    }
    const std::string out = temp_dir() + "/mix.npy";
    const CliResult g =
        run_eplb("gen-trace --from-traces " + dir + "/prefill_in1024.json," + dir +
                 "/decode_in2000out100.json --switch-every 50 --num-steps 120 --tokens 1024 -o " + out);
    REQUIRE(g.exit_code == 0);
    CHECK(g.err.find("120 steps x 61 layers x 256 experts") != std::string::npos);
    const std::string root = std::getenv("EPLB_SOURCE_ROOT");
    const CliResult s = run_eplb("simulate --backend cpu --json --trace " + out + " --config " + root +
                                 "/configs/deepseek-v3-ep32.json --step-interval 40 --window-size 40");
    REQUIRE(s.exit_code == 0);
    const json j = json::parse(s.out);
    CHECK(j["layers"].size() == 58);  // the config's moe_layers
    CHECK(j["lanes"][0]["summary"]["rearrangements"] == 3);
    CHECK(j["lanes"][0]["summary"]["balancedness"].get<double>() > 0.5);
    // The same mixture generated inside simulate.
    const CliResult t =
        run_eplb("simulate --backend cpu --json --gen-from-traces " + dir + "/prefill_in1024.json," + dir +
                 "/decode_in2000out100.json --gen-switch-every 50 --gen-num-steps 120 "
                 "--gen-tokens 1024 --config " +
                 root + "/configs/deepseek-v3-ep32.json --step-interval 40 --window-size 40");
    REQUIRE(t.exit_code == 0);
    CHECK(json::parse(t.out)["lanes"][0]["balancedness"] == j["lanes"][0]["balancedness"]);
}

TEST_CASE("simulate exit codes: usage 2, invalid input 3, device 4; no partial outputs") {
    const std::string csv = temp_dir() + "/never.csv";
    CliResult r =
        run_eplb(std::string("simulate --gen-num-steps 50 --gen-num-experts 16 --gen-num-layers 2 ") +
                 kSmallConfig + " --window-size 0 --csv " + csv);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("--window-size: '0' must be at least 1") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(csv));
    r = run_eplb("simulate --threshold 1.5 --gen-num-steps 10");
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("--threshold: '1.5' is neither 'off' nor a balancedness in (0, 1]") !=
          std::string::npos);
    r = run_eplb("simulate --gen-num-steps 0");
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("--gen-num-steps: '0' must be at least 1") != std::string::npos);
    r = run_eplb("simulate --policy nonsense");
    CHECK(r.exit_code == 2);
    r = run_eplb("simulate --trace " + temp_dir() + "/series.npy --gen-drift 0.1 --num-gpus 4");
    CHECK(r.exit_code == 2);  // a trace and generator flags exclude each other
    r = run_eplb("gen-trace --from-traces /nonexistent.json -o " + temp_dir() + "/x.npy");
    CHECK(r.exit_code == 3);  // a missing file is an input error
    const std::string bad = temp_dir() + "/bad_series.json";
    write_text(bad, R"({"logical_count": [[[1, 2], [3, 4]], [[1, -2], [3, 4]]]})");
    r = run_eplb("simulate --trace " + bad + " --num-gpus 2");
    CHECK(r.exit_code == 3);
    CHECK(r.err.find(bad + ": logical_count[1][0][1] is -2: loads must be finite and >= 0") !=
          std::string::npos);
    r = run_eplb("simulate --backend cuda --gen-num-steps 10");
    if (r.exit_code != 0) {
        CHECK(r.exit_code == 4);
        CHECK(r.err.find("--backend cuda") != std::string::npos);
    }
}

TEST_CASE("simulate: every policy of policy_names side by side, relabelled or not") {
    const CliResult r =
        run_eplb(std::string("simulate --backend cpu --json ") + kSmallConfig +
                 " --gen-num-layers 2 --gen-num-experts 16 --gen-num-steps 120 --gen-drift 0.05"
                 " --window-size 20 --step-interval 30 --policy deepseek,balanced --relabel off,on");
    REQUIRE(r.exit_code == 0);
    const json j = json::parse(r.out);
    REQUIRE(j["lanes"].size() == 4);
    CHECK(j["lanes"][0]["label"] == "deepseek");
    CHECK(j["lanes"][1]["label"] == "deepseek relabel");
    CHECK(j["lanes"][1]["relabel"] == true);
    CHECK(j["lanes"][2]["label"] == "balanced");
    CHECK(j["lanes"][1]["summary"]["balancedness"].get<double>() ==
          doctest::Approx(j["lanes"][0]["summary"]["balancedness"].get<double>()).epsilon(1e-12));
    CHECK(j["lanes"][1]["experts_moved_at"][0].get<int64_t>() <=
          j["lanes"][0]["experts_moved_at"][0].get<int64_t>());
    const CliResult bad = run_eplb("simulate --relabel maybe --gen-num-steps 10");
    CHECK(bad.exit_code == 2);
    CHECK(bad.err.find("--relabel: 'maybe' is not one of off, on") != std::string::npos);
}

TEST_CASE("simulate --trace X.pt streams an SGLang stat dump step by step, with the JSON's results") {
    const std::string pt = std::string(std::getenv("EPLB_SOURCE_ROOT")) + "/tests/io/pt/";
    const std::string flags =
        " --num-gpus 2 --window-size 2 --step-interval 1 --layers 1:4 --steps 1:3 --csv ";
    const CliResult a = run_eplb("simulate --trace " + pt + "stat.pt" + flags + temp_dir() + "/pt.csv");
    const CliResult b = run_eplb("simulate --trace " + pt + "stat.json" + flags + temp_dir() + "/json.csv");
    REQUIRE(a.exit_code == 0);
    REQUIRE(b.exit_code == 0);
    CHECK(a.out.rfind("eplb simulate: trace " + pt + "stat.pt (read step by step)\n", 0) == 0);
    CHECK(slurp(temp_dir() + "/pt.csv") == slurp(temp_dir() + "/json.csv"));
    // The same series line (the report's timings differ).
    CHECK(a.out.find("series    2 steps (1..2) x 3 layers (model layers 1..3)\n") != std::string::npos);
    CHECK(b.out.find("series    2 steps (1..2) x 3 layers (model layers 1..3)\n") != std::string::npos);
}
