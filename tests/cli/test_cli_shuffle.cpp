// `eplb shuffle` through the binary: dry runs on placement files, the baselines' probe file, traces,
// elastic rank mappings, and the error paths (exit codes 2, 3, 4).
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_runner.h"

using namespace eplb::test;
using nlohmann::json;

namespace {

// Two placements of the same 3 layers x 32 experts on `gpus` GPUs from traces of two seeds.
struct Pair {
    std::string old_path, new_path;
};

Pair make_placements(int experts, int gpus, int slots, const std::string& tag) {
    const std::string dir = temp_dir();
    Pair p{dir + "/old_" + tag + ".json", dir + "/new_" + tag + ".json"};
    for (int seed : {1, 2}) {
        const std::string trace = dir + "/t" + std::to_string(seed) + "_" + tag + ".json";
        REQUIRE(run_eplb("gen-trace --num-layers 3 --first-layer 3 --num-experts " + std::to_string(experts) +
                         " --seed " + std::to_string(seed) + " -o " + trace)
                    .exit_code == 0);
        const CliResult r = run_eplb("plan --backend cpu --trace " + trace + " --num-gpus " +
                                     std::to_string(gpus) + " --num-physical-experts " +
                                     std::to_string(slots) + " -o " + (seed == 1 ? p.old_path : p.new_path));
        REQUIRE(r.exit_code == 0);
    }
    return p;
}

}  // namespace

TEST_CASE("shuffle --dry-run on two placement files: report, host check, JSON plan") {
    const Pair p = make_placements(32, 4, 48, "a");
    const CliResult text = run_eplb("shuffle --dry-run --old " + p.old_path + " --new " + p.new_path);
    REQUIRE(text.exit_code == 0);
    CHECK(text.out.find("layers    3 (model layers 3..5), 12 slots per GPU on 4 GPUs (1 node)") !=
          std::string::npos);
    CHECK(text.out.find("host      order checked and run on host buffers: 0 wrong bytes") !=
          std::string::npos);

    const CliResult r = run_eplb(
        "shuffle --dry-run --json --layers-in-flight 2 --step-experts 3 --expert-bytes 1000 --link-gbps "
        "100 --old " +
        p.old_path + " --new " + p.new_path);
    REQUIRE(r.exit_code == 0);
    const json j = json::parse(r.out);
    CHECK(j["schema"] == "eplb.shuffle/v1");
    CHECK(j["layers"] == json::parse("[3, 4, 5]"));
    CHECK(j["config"]["expert_bytes"] == 1000);
    CHECK(j["config"]["layers_in_flight"] == 2);
    CHECK(j["config"]["step_experts"] == 3);
    CHECK(j["plan"]["windows"] == 2);
    CHECK(j["host_check"]["done"] == true);
    CHECK(j["host_check"]["wrong_bytes"] == 0);
    // Every receive appears once in the listed steps; per-GPU counts add up.
    int64_t listed = 0, per_gpu = 0;
    for (const json& step : j["steps"]) {
        for (const json& pair : step["pairs"]) {
            listed += static_cast<int64_t>(pair["transfers"].size());
            CHECK(pair["transfers"].size() <= 3);
        }
    }
    for (const json& g : j["plan"]["per_gpu"]) per_gpu += g["received"].get<int64_t>();
    CHECK(listed == j["plan"]["received"].get<int64_t>());
    CHECK(per_gpu == listed);
    const int64_t busiest =
        std::max(j["plan"]["max_received"].get<int64_t>(), j["plan"]["max_sent"].get<int64_t>());
    CHECK(j["plan"]["bound_ms"].get<double>() == doctest::Approx(busiest * 1000 / 100e9 * 1e3));
    CHECK(j["local_copies"].size() == 4);
}

TEST_CASE("shuffle --probe: the baselines' placements give the baseline's busiest receiver") {
    const char* shared = std::getenv("EPLB_SHARED");
    const std::string probe = shared ? std::string(shared) + "/baselines/probe_placements.json" : "";
    if (probe.empty() || !std::filesystem::exists(probe)) {
        MESSAGE("skipped: shared/baselines/probe_placements.json not found");
        return;
    }
    const CliResult r = run_eplb("shuffle --dry-run --json --link-gbps 311 --probe " + probe);
    REQUIRE(r.exit_code == 0);
    const json j = json::parse(r.out);
    CHECK(j["layers"] == json::parse("[3, 4, 5, 6, 7, 8, 9, 10]"));
    CHECK(j["config"]["num_gpus"] == 4);
    CHECK(j["config"]["slots_per_gpu"] == 72);
    // vllm_style_shuffle.py reports 409 experts for the busiest GPU on these placements.
    CHECK(j["plan"]["max_received"] == 409);
    std::vector<int64_t> received;
    for (const json& g : j["plan"]["per_gpu"]) received.push_back(g["received"].get<int64_t>());
    CHECK(received == std::vector<int64_t>{409, 393, 382, 396});
    CHECK(j["plan"]["received_inter"] == 0);
    // 409 x 44040192 bytes at 311 GB/s.
    CHECK(j["plan"]["bound_ms"].get<double>() == doctest::Approx(409.0 * 44040192 / 311e9 * 1e3));
    CHECK(j["plan"]["schedule_length"].get<int64_t>() >= 409);
    CHECK(j["host_check"]["wrong_bytes"] == 0);
}

TEST_CASE("shuffle --trace-old/--trace-new plans both with the policy first") {
    const std::string dir = temp_dir();
    for (int seed : {1, 2}) {
        REQUIRE(run_eplb("gen-trace --num-layers 2 --num-experts 16 --seed " + std::to_string(seed) + " -o " +
                         dir + "/tt" + std::to_string(seed) + ".json")
                    .exit_code == 0);
    }
    write_text(dir + "/cfg.json", R"({"num_gpus": 4, "num_nodes": 2, "num_redundant_experts": 8})");
    const CliResult r = run_eplb("shuffle --dry-run --json --trace-old " + dir + "/tt1.json --trace-new " +
                                 dir + "/tt2.json --config " + dir + "/cfg.json");
    REQUIRE(r.exit_code == 0);
    const json j = json::parse(r.out);
    CHECK(j["config"]["num_nodes"] == 2);
    CHECK(j["config"]["slots_per_gpu"] == 6);
    CHECK(j["plan"]["received_intra"].get<int64_t>() + j["plan"]["received_inter"].get<int64_t>() ==
          j["plan"]["received"].get<int64_t>());
}

TEST_CASE("shuffle --rank-mapping: elastic scale-down and scale-up") {
    const Pair four = make_placements(16, 4, 32, "m4");  // 8 slots per GPU
    const Pair two = make_placements(16, 2, 16, "m2");   // 8 slots per GPU
    const CliResult down = run_eplb("shuffle --dry-run --json --rank-mapping 0,-1,1,-1 --old " +
                                    four.old_path + " --new " + two.new_path);
    REQUIRE(down.exit_code == 0);
    const json d = json::parse(down.out);
    CHECK(d["config"]["num_gpus"] == 4);
    CHECK(d["config"]["gpus_are"] == "old ranks");
    CHECK(d["plan"]["per_gpu"][1]["received"] == 0);
    CHECK(d["plan"]["per_gpu"][3]["received"] == 0);
    CHECK(d["host_check"]["wrong_bytes"] == 0);

    const CliResult up = run_eplb("shuffle --dry-run --json --rank-mapping 0,2 --old " + two.old_path +
                                  " --new " + four.new_path);
    REQUIRE(up.exit_code == 0);
    const json u = json::parse(up.out);
    CHECK(u["config"]["gpus_are"] == "new ranks");
    CHECK(u["plan"]["per_gpu"][1]["sent"] == 0);
    CHECK(u["plan"]["per_gpu"][3]["sent"] == 0);
    CHECK(u["plan"]["per_gpu"][1]["received"].get<int64_t>() > 0);

    const CliResult text =
        run_eplb("shuffle --dry-run --rank-mapping 0,2 --old " + two.old_path + " --new " + four.new_path);
    CHECK(text.out.find("mapping   old rank -> new rank 0,2; GPUs numbered as the new world's ranks") !=
          std::string::npos);
}

TEST_CASE("shuffle errors: usage 2, invalid input 3, no GPU 4") {
    const Pair p = make_placements(32, 4, 48, "e");
    const Pair two = make_placements(16, 2, 16, "e2");
    CHECK(run_eplb("shuffle --dry-run --old /nonexistent.json --new " + p.new_path).exit_code == 3);
    CliResult r = run_eplb("shuffle --dry-run --old " + p.old_path);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("--old requires --new") != std::string::npos);
    r = run_eplb("shuffle --dry-run --old " + p.old_path + " --new " + two.new_path);
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("experts") != std::string::npos);
    r = run_eplb("shuffle --dry-run --rank-mapping 0,x --old " + p.old_path + " --new " + p.new_path);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("--rank-mapping: value: \"x\" is not an integer") != std::string::npos);
    r = run_eplb("shuffle --dry-run --transport tcp --old " + p.old_path + " --new " + p.new_path);
    CHECK(r.exit_code == 2);
    // Without --dry-run: runs where GPUs are (zero wrong bytes), else says what is missing (exit 4).
    r = run_eplb("shuffle --expert-bytes 65536 --peak-bytes 0 --repeat 1 --timeout 60 --old " + p.old_path +
                 " --new " + p.new_path);
    if (r.exit_code == 0) {
        CHECK(r.out.find("wrong     0 bytes") != std::string::npos);
    } else {
        CHECK(r.exit_code == 4);
        CHECK((r.err.find("CUDA") != std::string::npos || r.err.find("GPU") != std::string::npos));
    }
}

TEST_CASE("shuffle --dry-run --model and --sweep: the model's counts match the planned steps") {
    const Pair p = make_placements(32, 4, 48, "model");
    const std::string files = " --old " + p.old_path + " --new " + p.new_path;
    const CliResult text = run_eplb("shuffle --dry-run --model --transport nccl --group-size 4" + files);
    REQUIRE(text.exit_code == 0);
    CHECK(text.out.find("host      order checked and run on host buffers: 0 wrong bytes") !=
          std::string::npos);
    CHECK(text.out.find("model     nccl, groups of <= 4 sends + 4 receives: ") != std::string::npos);
    CHECK(text.out.find("of a 350 GB/s ring") != std::string::npos);

    auto json_of = [](const std::string& args) {
        const CliResult r = run_eplb(args);
        REQUIRE(r.exit_code == 0);
        return json::parse(r.out);
    };
    const std::string schedule = " --step-experts 3 --layers-in-flight 2 --expert-bytes 1000000" + files;
    const json pj = json_of("shuffle --dry-run --json" + schedule);
    int64_t groups = 0, ops = 0;
    for (const json& step : pj["steps"]) {
        const int64_t length = step["length"].get<int64_t>();
        groups += (length + 3) / 4;
        ops = std::max<int64_t>(ops, 2 * std::min<int64_t>(length, 4));
    }
    const json mj = json_of(
        "shuffle --dry-run --model --json --transport nccl --group-size 4 --model-op-us 3 "
        "--model-ring-gbps 100" +
        schedule);
    CHECK(mj["schema"] == "eplb.shuffle_model/v1");
    CHECK(mj["params"]["transport"] == "nccl");
    CHECK(mj["params"]["op_us"] == 3.0);
    CHECK(mj["params"]["group_us"] == 21.0);  // the fitted default
    CHECK(mj["predicted"]["groups"] == groups);
    CHECK(mj["predicted"]["max_ops_per_group"] == ops);
    CHECK(mj["steps"].size() == pj["steps"].size());
    // The busiest receiver's experts at the ring; nccl's wire is the ring, so no faster.
    const double ring_s = pj["plan"]["max_received"].get<double>() * 1e6 / 100e9;
    CHECK(mj["predicted"]["ring_seconds"].get<double>() == doctest::Approx(ring_s));
    CHECK(mj["predicted"]["seconds"].get<double>() >= ring_s);

    const json sj = json_of(
        "shuffle --dry-run --sweep --json --transport nccl --sweep-group-sizes 4 --sweep-step-experts 0,3 "
        "--sweep-layers-in-flight 1,2,8" +
        files);
    CHECK(sj["schema"] == "eplb.shuffle_sweep/v1");
    REQUIRE(sj["rows"].size() == 6);  // 3 layers: in flight 1, 2 and 8 (one window) x 2 x 1 group size
    for (size_t i = 1; i < sj["rows"].size(); ++i)
        CHECK(sj["rows"][i - 1]["seconds"].get<double>() <= sj["rows"][i]["seconds"].get<double>());
    const json& best = sj["rows"][0];
    CHECK(best["flags"] == "--transport nccl --group-size 4 --step-experts " +
                               std::to_string(best["step_experts"].get<int>()) + " --layers-in-flight " +
                               std::to_string(best["layers_in_flight"].get<int>()));
    const CliResult sweep_text = run_eplb("shuffle --dry-run --sweep --sweep-top 2" + files);
    REQUIRE(sweep_text.exit_code == 0);
    CHECK(sweep_text.out.find("schedules modelled (transport nccl,ce; ") != std::string::npos);
    CHECK(sweep_text.out.find("#1: eplb shuffle --transport ") != std::string::npos);
}
