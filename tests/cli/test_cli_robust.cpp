// The `robust` policy through the binary: plan with several --trace workloads (or cut from one
// series), evaluate with a row per workload and the worst, simulate beside deepseek, --previous.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_runner.h"
#include "tests/test_util.h"

using namespace eplb::test;
using nlohmann::json;

namespace {

const char* kSmallFlags = "--num-gpus 8 --num-redundant-experts 8";

// Three workloads of 4 layers x 32 experts whose hot experts differ, and a 6-step series.
struct Traces {
    std::string a, b, c, series;
};

const Traces& traces() {
    static const Traces t = [] {
        Traces out;
        const std::string dir = temp_dir();
        out.a = dir + "/rob_a.json";
        out.b = dir + "/rob_b.json";
        out.c = dir + "/rob_c.json";
        out.series = dir + "/rob_series.json";
        const char* common = " --num-layers 4 --num-experts 32 --skew 1.0 --seed ";
        REQUIRE(run_eplb("gen-trace" + std::string(common) + "1 -o " + out.a).exit_code == 0);
        REQUIRE(run_eplb("gen-trace" + std::string(common) + "2 -o " + out.b).exit_code == 0);
        REQUIRE(run_eplb("gen-trace" + std::string(common) + "3 -o " + out.c).exit_code == 0);
        REQUIRE(run_eplb("gen-trace" + std::string(common) + "4 --num-steps 6 --drift 0.3 -o " + out.series)
                    .exit_code == 0);
        return out;
    }();
    return t;
}

double worst_of(const std::string& placement, const Traces& t) {
    const CliResult r = run_eplb("evaluate --json --placement " + placement + " --trace " + t.a +
                                 " --trace " + t.b + " --trace " + t.c);
    REQUIRE(r.exit_code == 0);
    return json::parse(r.out)["worst"]["balancedness"].get<double>();
}

}  // namespace

TEST_CASE("plan --policy robust with several --trace: the report says what it planned on; bytes repeat") {
    const Traces& t = traces();
    const std::string three = " --trace " + t.a + " --trace " + t.b + " --trace " + t.c + " ";
    const std::string rob = temp_dir() + "/rob.json", rob2 = temp_dir() + "/rob2.json",
                      bal = temp_dir() + "/rob_bal.json";
    const CliResult r = run_eplb("plan --backend cpu --policy robust" + three + kSmallFlags + " -o " + rob);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("3 workloads, each normalised to equal total per layer: robust plans for the worst of "
                     "them") != std::string::npos);
    CHECK(r.out.find("policy    robust") != std::string::npos);
    CHECK(r.out.find("worst (") != std::string::npos);
    REQUIRE(run_eplb("plan --backend cpu --policy robust" + three + kSmallFlags + " -o " + rob2).exit_code ==
            0);
    CHECK(slurp(rob) == slurp(rob2));  // deterministic, to the byte
    const CliResult b = run_eplb("plan --backend cpu --policy balanced" + three + kSmallFlags + " -o " + bal);
    REQUIRE(b.exit_code == 0);
    CHECK(b.out.find("3 workloads: planned on their sum, as the engines do") != std::string::npos);
    // Robust's worst workload is at least as balanced as balanced-on-the-sum's.
    CHECK(worst_of(rob, t) >= worst_of(bal, t));
    // One trace: robust is balanced (same placement).
    const CliResult one_rob =
        run_eplb("plan --json --backend cpu --policy robust --trace " + t.a + " " + kSmallFlags);
    const CliResult one_bal =
        run_eplb("plan --json --backend cpu --policy balanced --trace " + t.a + " " + kSmallFlags);
    REQUIRE(one_rob.exit_code == 0);
    REQUIRE(one_bal.exit_code == 0);
    CHECK(json::parse(one_rob.out)["phy2log"] == json::parse(one_bal.out)["phy2log"]);
    // The CUDA backend has no robust planner: the plan says it ran on the CPU.
    const CliResult cuda = run_eplb("plan --json --backend cuda --policy robust" + three + kSmallFlags);
    REQUIRE(cuda.exit_code == 0);
    CHECK(cuda.err.find("the CUDA backend has no robust planner; planning on the CPU") != std::string::npos);
    CHECK(json::parse(cuda.out)["inputs"]["backend"] == "cpu");
}

TEST_CASE("plan --workloads-from-steps cuts one series into workloads") {
    const Traces& t = traces();
    const CliResult r = run_eplb("plan --backend cpu --policy robust --trace " + t.series +
                                 " --workloads-from-steps 3 " + kSmallFlags);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("3 workloads") != std::string::npos);
    CHECK(r.out.find(t.series + " steps 0:2") != std::string::npos);
    CHECK(r.out.find(t.series + " steps 4:6") != std::string::npos);
}

TEST_CASE("evaluate with several --trace: a row per workload and the worst, as text and JSON") {
    const Traces& t = traces();
    const std::string p = temp_dir() + "/rob_eval.json";
    REQUIRE(run_eplb("plan --backend cpu --policy robust --trace " + t.a + " --trace " + t.b + " " +
                     kSmallFlags + " -o " + p)
                .exit_code == 0);
    const CliResult j = run_eplb("evaluate --json --placement " + p + " --trace " + t.a + " --trace " + t.b +
                                 " --trace " + t.c);
    REQUIRE(j.exit_code == 0);
    const json doc = json::parse(j.out);
    REQUIRE(doc["workloads"].size() == 3);
    double lowest = 2;
    for (const json& w : doc["workloads"]) lowest = std::min(lowest, w["balancedness"].get<double>());
    CHECK(doc["worst"]["balancedness"].get<double>() == lowest);
    CHECK(doc["workloads"][1]["trace"] == t.b);
    // Each row equals evaluate on that trace alone.
    const CliResult single = run_eplb("evaluate --json --placement " + p + " --trace " + t.b);
    REQUIRE(single.exit_code == 0);
    CHECK(json::parse(single.out)["metrics"]["balancedness"].get<double>() ==
          doctest::Approx(doc["workloads"][1]["balancedness"].get<double>()).epsilon(1e-12));
    const CliResult text =
        run_eplb("evaluate --placement " + p + " --trace " + t.a + " --trace " + t.b + " --trace " + t.c);
    REQUIRE(text.exit_code == 0);
    CHECK(text.out.find("scored on 3 workloads") != std::string::npos);
    CHECK(text.out.find("worst: ") != std::string::npos);
}

TEST_CASE("plan --policy robust --previous with a move budget; simulate robust beside deepseek") {
    const Traces& t = traces();
    const std::string prev = temp_dir() + "/rob_prev.json";
    REQUIRE(
        run_eplb("plan --backend cpu --policy deepseek --trace " + t.a + " " + kSmallFlags + " -o " + prev)
            .exit_code == 0);
    const CliResult m = run_eplb("plan --json --backend cpu --policy robust --trace " + t.b + " --trace " +
                                 t.c + " " + kSmallFlags + " --previous " + prev + " --max-moves 10");
    REQUIRE(m.exit_code == 0);
    const json doc = json::parse(m.out);
    int moved = 0;
    for (const json& x : doc["migration"]["moved_per_layer"]) moved += x.get<int>();
    CHECK(moved <= 10);
    const CliResult s =
        run_eplb("simulate --json --backend cpu --trace " + t.series + " " + kSmallFlags +
                 " --window-size 4 --step-interval 2 --policy deepseek,robust --robust-chunks 2");
    REQUIRE(s.exit_code == 0);
    const json sim = json::parse(s.out);
    REQUIRE(sim["lanes"].size() == 2);
    CHECK(sim["lanes"][1]["policy"] == "robust");
    CHECK(sim["lanes"][1]["summary"]["rearrangements"].get<int>() ==
          sim["lanes"][0]["summary"]["rearrangements"].get<int>());
    const CliResult bad = run_eplb("simulate --backend cpu --trace " + t.series + " " + kSmallFlags +
                                   " --window-size 4 --policy robust --robust-chunks 5");
    CHECK(bad.exit_code == 3);
    CHECK(bad.err.find("robust_chunks (5) must be 1..window_size (4)") != std::string::npos);
}
