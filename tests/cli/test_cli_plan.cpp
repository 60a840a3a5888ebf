// `eplb plan` end to end: the embedded default, the README example as JSON, config files and
// flags, backends, the real traces, the balanced policy, --previous and SGLang's .pt dumps.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_runner.h"
#include "tests/test_util.h"

using namespace eplb::test;
using nlohmann::json;

TEST_CASE("plan with no input runs the embedded DeepSeek-V3 default and says so first") {
    const CliResult r = run_eplb("plan --backend cpu");
    CHECK(r.exit_code == 0);
    CHECK(r.out.rfind(
              "eplb plan: embedded default: DeepSeek-V3 shapes (58 MoE layers x 256 experts, 8 groups)", 0) ==
          0);
    CHECK(r.out.find("hierarchical") != std::string::npos);
    CHECK(r.out.find("worst layer") != std::string::npos);
}

TEST_CASE("plan --json: the README example through the CLI, and nothing else on stdout") {
    const std::string trace = temp_dir() + "/readme.json";
    write_text(trace, kReadmeTrace);
    const CliResult r = run_eplb("plan --backend cpu --json --trace " + trace + " " + kReadmeFlags);
    REQUIRE(r.exit_code == 0);
    const json j = json::parse(r.out);  // throws if anything but JSON is on stdout
    CHECK(j["schema"] == "eplb.placement/v1");
    CHECK(j["policy"] == "deepseek");
    CHECK(j["policy_taken"] == "hierarchical");
    CHECK(j["phy2log"] ==
          json::parse("[[5,6,5,7,8,4,3,4,10,9,10,2,0,1,11,1],[7,10,6,8,6,11,8,9,2,4,5,1,5,0,3,1]]"));
    CHECK(j["logcnt"] == json::parse("[[1,2,1,1,2,2,1,1,1,1,2,1],[1,2,1,1,1,2,2,1,2,1,1,1]]"));
    CHECK(j["log2phy"][0][1] == json::parse("[15, 13]"));
    CHECK(j["layers"] == json::parse("[0, 1]"));
    CHECK(j["config"]["num_gpus"] == 8);
    CHECK(j["metrics"]["per_layer"].size() == 2);
    CHECK(j["metrics"]["balancedness"].get<double>() > 0.5);
}

TEST_CASE("flags override the config file; moe_layers selects layers") {
    const char* root = std::getenv("EPLB_SOURCE_ROOT");
    const std::string cfg = std::string(root) + "/configs/deepseek-v3-ep32.json";
    const CliResult r =
        run_eplb("plan --backend cpu --json --config " + cfg + " --num-nodes 8 --num-gpus 16");
    REQUIRE(r.exit_code == 0);
    const json j = json::parse(r.out);
    CHECK(j["config"]["num_nodes"] == 8);
    CHECK(j["config"]["num_gpus"] == 16);
    CHECK(j["config"]["num_physical_experts"] == 288);
    CHECK(j["layers"].size() == 58);
    CHECK(j["layers"][0] == 3);
}

TEST_CASE("the CPU fallback of --backend auto is said only when --backend was given") {
    const CliResult quiet = run_eplb("plan --json");
    REQUIRE(quiet.exit_code == 0);
    CHECK(quiet.err.empty());
    const CliResult asked = run_eplb("plan --json --backend auto");
    REQUIRE(asked.exit_code == 0);
    if (json::parse(asked.out)["inputs"]["backend"] == "cpu") {
        CHECK(asked.err.rfind("note: ", 0) == 0);
        CHECK(asked.err.find("planning on the CPU") != std::string::npos);
        CHECK(std::count(asked.err.begin(), asked.err.end(), '\n') == 1);
    } else {
        CHECK(asked.err.empty());  // a GPU: nothing to say
    }
}

TEST_CASE("--backend cuda without CUDA is exit 4 with a message that says what is missing") {
    const CliResult r = run_eplb("plan --backend cuda");
    if (r.exit_code == 0) {
        MESSAGE("a CUDA device is present: the CUDA backend ran");
        return;
    }
    CHECK(r.exit_code == 4);
    CHECK(r.err.find("--backend cuda") != std::string::npos);
}

TEST_CASE("real traces: plan every SGLang workload at EP32 and EP72") {
    const std::string dir = shared_traces_dir();
    if (dir.empty()) {
        MESSAGE("../shared/traces absent: skipped");
        return;
    }
    const std::string root = std::getenv("EPLB_SOURCE_ROOT");
    for (const char* cfg : {"deepseek-v3-ep32.json", "deepseek-v3-ep72.json"}) {
        const CliResult r = run_eplb("plan --backend cpu --json --trace " + dir +
                                     "/prefill_in4096.json --config " + root + "/configs/" + cfg);
        REQUIRE(r.exit_code == 0);
        const json j = json::parse(r.out);
        CHECK(j["layers"].size() == 58);
        const double bal = j["metrics"]["balancedness"].get<double>();
        CHECK(bal > 0.7);  // planned and scored on the same workload; hierarchical EP32 is the weaker one
        CHECK(bal <= 1.0);
        CHECK(j["metrics"]["gap"].get<double>() >= 0.0);
    }
}

TEST_CASE("plan --policy balanced: no duplicates, never further from the bound than deepseek") {
    const std::string trace = temp_dir() + "/bal.json";
    REQUIRE(run_eplb("gen-trace --num-layers 6 --num-experts 64 --tokens 100000 --seed 4 -o " + trace)
                .exit_code == 0);
    const std::string flags =
        " --backend cpu --json --trace " + trace + " --num-gpus 16 --num-redundant-experts 16";
    const CliResult ds = run_eplb("plan" + flags);
    const CliResult bal = run_eplb("plan --policy balanced" + flags);
    REQUIRE(ds.exit_code == 0);
    REQUIRE(bal.exit_code == 0);
    const json d = json::parse(ds.out), b = json::parse(bal.out);
    CHECK(b["policy"] == "balanced");
    CHECK(b["metrics"]["duplicate_pairs"] == 0);
    CHECK(b["metrics"]["gap"].get<double>() >= 0);
    CHECK(b["metrics"]["gap"].get<double>() <= d["metrics"]["gap"].get<double>());
    CHECK(b["metrics"]["balancedness"].get<double>() >= d["metrics"]["balancedness"].get<double>());
    // Global here (one node): no node bounds. Hierarchical on 2 nodes: one per layer, and the
    // report splits the gap between the hierarchy and the packing.
    CHECK_FALSE(b.contains("node_bounds"));
    const std::string hier = " --backend cpu --trace " + trace +
                             " --num-groups 4 --num-nodes 2 --num-gpus 16 "
                             "--num-redundant-experts 16 --policy balanced";
    const json h = json::parse(run_eplb("plan --json" + hier).out);
    REQUIRE(h["node_bounds"].size() == 6);
    for (size_t l = 0; l < 6; ++l) {
        CHECK(h["node_bounds"][l].get<double>() >=
              h["metrics"]["per_layer"][l]["lower_bound"].get<double>() * (1 - 1e-12));
        CHECK(h["node_bounds"][l].get<double>() <=
              h["metrics"]["per_layer"][l]["max_gpu_load"].get<double>() * (1 + 1e-12));
    }
    CHECK(run_eplb("plan" + hier).out.find("hierarchy     groups on nodes cost ") != std::string::npos);
}

TEST_CASE("plan --previous: relabelling, the migration report, and the move budget") {
    const std::string a = temp_dir() + "/wa.json", b = temp_dir() + "/wb.json",
                      prev = temp_dir() + "/prev.json";
    REQUIRE(run_eplb("gen-trace --num-layers 4 --num-experts 64 --tokens 50000 --seed 7 -o " + a).exit_code ==
            0);
    REQUIRE(run_eplb("gen-trace --num-layers 4 --num-experts 64 --tokens 50000 --seed 8 -o " + b).exit_code ==
            0);
    const std::string shape =
        " --backend cpu --num-groups 4 --num-nodes 2 --num-gpus 8 --num-redundant-experts 8";
    REQUIRE(run_eplb("plan --trace " + a + shape + " -o " + prev).exit_code == 0);
    const json previous = json::parse(slurp(prev));

    // deepseek: relabelling only, the balance of the plan without --previous exactly.
    const json plain = json::parse(run_eplb("plan --json --trace " + b + shape).out);
    const CliResult rel = run_eplb("plan --json --trace " + b + shape + " --previous " + prev);
    REQUIRE(rel.exit_code == 0);
    const json r = json::parse(rel.out);
    CHECK(r["metrics"]["balancedness"] == plain["metrics"]["balancedness"]);
    CHECK(r["inputs"]["previous"] == prev);
    CHECK(r["layer_sources"] == json::parse(R"(["plan","plan","plan","plan"])"));
    const json& mig = r["migration"];
    CHECK(mig["experts_moved"].get<int64_t>() ==
          mig["intra_node"].get<int64_t>() + mig["inter_node"].get<int64_t>());
    CHECK(mig["bytes_moved"].get<int64_t>() == mig["experts_moved"].get<int64_t>() * 44040192);
    CHECK(mig["moved_per_layer"].size() == 4);
    const CliResult text = run_eplb("plan --trace " + b + shape + " --previous " + prev);
    CHECK(text.out.find("moved         ") != std::string::npos);
    CHECK(text.out.find("4 layers from the plan (relabelled)") != std::string::npos);

    // balanced with a budget of 0: the previous placement as it was.
    const CliResult kept = run_eplb("plan --policy balanced --json --trace " + b + shape + " --previous " +
                                    prev + " --max-moves 0");
    REQUIRE(kept.exit_code == 0);
    const json k = json::parse(kept.out);
    CHECK(k["migration"]["experts_moved"] == 0);
    CHECK(k["phy2log"] == previous["phy2log"]);
    CHECK(k["layer_sources"] == json::parse(R"(["previous","previous","previous","previous"])"));
    // A budget of half the relabelled plan's moves is kept.
    const int64_t half = mig["experts_moved"].get<int64_t>() / 2;
    const CliResult traded = run_eplb("plan --policy balanced --json --trace " + b + shape + " --previous " +
                                      prev + " --max-moves " + std::to_string(half));
    REQUIRE(traded.exit_code == 0);
    const json t = json::parse(traded.out);
    CHECK(t["migration"]["experts_moved"].get<int64_t>() <= half);
    CHECK(t["metrics"]["balancedness"].get<double>() >= k["metrics"]["balancedness"].get<double>());
}

TEST_CASE("plan --previous errors: trade needs balanced, budget needs --previous, shapes must match") {
    const std::string a = temp_dir() + "/ea.json", prev = temp_dir() + "/eprev.json";
    REQUIRE(run_eplb("gen-trace --num-layers 2 --num-experts 16 --seed 3 -o " + a).exit_code == 0);
    REQUIRE(run_eplb("plan --backend cpu --trace " + a + " --num-gpus 4 --num-redundant-experts 4 -o " + prev)
                .exit_code == 0);
    const CliResult ds =
        run_eplb("plan --trace " + a + " --num-gpus 4 --num-redundant-experts 4 --previous " + prev +
                 " --max-moves 3");
    CHECK(ds.exit_code == 3);
    CHECK(ds.err.find("--max-moves and --move-cost need --policy balanced") != std::string::npos);
    CHECK(run_eplb("plan --trace " + a + " --num-gpus 4 --max-moves 3").exit_code == 2);
    const CliResult shape =
        run_eplb("plan --trace " + a + " --num-gpus 2 --num-redundant-experts 4 --previous " + prev);
    CHECK(shape.exit_code == 3);
    CHECK(shape.err.find(
              "the previous placement has 16 experts, 20 slots on 4 GPUs but this plan has 16 experts, "
              "20 slots on 2 GPUs") != std::string::npos);
    // Rows are matched by model layer id: a plan of layer 1 alone takes the previous row of layer 1;
    // a previous placement of layer 0 alone has no row for layer 1.
    const CliResult one = run_eplb("plan --json --trace " + a +
                                   " --layers 1:2 --num-gpus 4 --num-redundant-experts 4 --previous " + prev);
    REQUIRE(one.exit_code == 0);
    CHECK(json::parse(one.out)["migration"]["moved_per_layer"].size() == 1);
    const std::string prev0 = temp_dir() + "/eprev0.json";
    REQUIRE(run_eplb("plan --backend cpu --trace " + a +
                     " --layers 0:1 --num-gpus 4 --num-redundant-experts 4 -o " + prev0)
                .exit_code == 0);
    const CliResult layers =
        run_eplb("plan --trace " + a + " --num-gpus 4 --num-redundant-experts 4 --previous " + prev0);
    CHECK(layers.exit_code == 3);
    CHECK(layers.err.find("the previous placement has no model layer 1") != std::string::npos);
}

TEST_CASE("plan --previous reads an engine's placement file (SGLang export)") {
    const std::string a = temp_dir() + "/sa.json", b = temp_dir() + "/sb.json";
    const std::string eplb_file = temp_dir() + "/sprev.json", sglang = temp_dir() + "/sprev_sglang.json";
    REQUIRE(
        run_eplb("gen-trace --num-layers 3 --first-layer 3 --num-experts 32 --seed 5 -o " + a).exit_code ==
        0);
    REQUIRE(
        run_eplb("gen-trace --num-layers 3 --first-layer 3 --num-experts 32 --seed 6 -o " + b).exit_code ==
        0);
    const std::string shape = " --backend cpu --num-gpus 8 --num-redundant-experts 8";
    REQUIRE(
        run_eplb("plan --trace " + a + shape + " -o " + eplb_file + " --export sglang " + sglang).exit_code ==
        0);
    // The SGLang map has rows for model layers 0..5 (0..2 trivial); rows 3..5 are the plan's.
    const json from_eplb =
        json::parse(run_eplb("plan --json --trace " + b + shape + " --previous " + eplb_file).out);
    const json from_sglang =
        json::parse(run_eplb("plan --json --trace " + b + shape + " --previous " + sglang).out);
    CHECK(from_sglang["migration"]["experts_moved"] == from_eplb["migration"]["experts_moved"]);
    CHECK(from_sglang["phy2log"] == from_eplb["phy2log"]);
}

TEST_CASE(
    "plan --trace X.pt: SGLang's .pt dumps (a stat file, a per_pass directory) plan exactly as their JSON") {
    const std::string pt = std::string(std::getenv("EPLB_SOURCE_ROOT")) + "/tests/io/pt/";
    // The placement of each trace, all but the name of its input; and what evaluate says of it.
    const auto plan = [&](const std::string& trace, const std::string& flags) {
        const std::string out = temp_dir() + "/pt_plan.json";
        const CliResult r = run_eplb("plan --backend cpu --trace " + trace + " " + flags + " -o " + out);
        INFO(trace << ": " << r.err);
        REQUIRE(r.exit_code == 0);
        json p = json::parse(slurp(out));
        CHECK(p["inputs"]["trace"] == trace);
        p.erase("inputs");
        const CliResult ev = run_eplb("evaluate --json --placement " + out + " --trace " + trace);
        REQUIRE(ev.exit_code == 0);
        p["evaluated_balancedness"] = json::parse(ev.out)["metrics"]["balancedness"];
        return p;
    };
    const std::string stat_flags = "--num-gpus 4 --num-redundant-experts 4 --num-groups 2 --num-nodes 2";
    const json stat = plan(pt + "stat.json", stat_flags);
    CHECK(stat["layers"] == json::array({0, 1, 2, 3}));
    for (const char* name : {"stat.pt", "stat_torch2.pt", "stat_strided.pt", "stat_int64.pt"}) {
        CHECK(plan(pt + name, stat_flags) == stat);
    }
    CHECK(plan(pt + "stat_float64_big_endian.pt", stat_flags) == plan(pt + "stat_quarters.json", stat_flags));
    const std::string pass_flags = "--num-gpus 2 --num-redundant-experts 2";
    const json per_pass = plan(pt + "per_pass.json", pass_flags);
    CHECK(plan(pt + "per_pass", pass_flags) == per_pass);
    CHECK(plan(pt + "per_pass/", pass_flags) == per_pass);
    // Steps of the dump are steps: --steps picks forward passes (0, 1 | 3).
    CHECK(plan(pt + "per_pass", pass_flags + " --steps 0:2") ==
          plan(pt + "per_pass.json", pass_flags + " --steps 0:2"));
    CHECK(plan(pt + "per_pass", pass_flags + " --steps 0:2") != per_pass);
}
