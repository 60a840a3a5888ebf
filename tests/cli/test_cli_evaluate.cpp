// `eplb evaluate` end to end: it scores a written placement back exactly, and reads the engines'
// placement formats (as `shuffle` does).
#include <doctest/doctest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_runner.h"

using namespace eplb::test;
using nlohmann::json;

TEST_CASE("plan -o writes the file atomically; evaluate scores it back identically") {
    const std::string trace = temp_dir() + "/g.npy", out = temp_dir() + "/p.json";
    REQUIRE(run_eplb("gen-trace --num-layers 4 --num-experts 32 --num-steps 3 --drift 0.1 -o " + trace)
                .exit_code == 0);
    const CliResult plan =
        run_eplb("plan --backend cpu --trace " + trace + " --num-gpus 8 --num-redundant-experts 8 -o " + out);
    REQUIRE(plan.exit_code == 0);
    CHECK(plan.out.find("placement written to " + out) != std::string::npos);
    const json p = json::parse(slurp(out));
    const CliResult ev = run_eplb("evaluate --json --placement " + out + " --trace " + trace);
    REQUIRE(ev.exit_code == 0);
    const json e = json::parse(ev.out);
    CHECK(e["schema"] == "eplb.evaluation/v1");
    CHECK(e["metrics"]["balancedness"] == p["metrics"]["balancedness"]);
    // Out of sample: a different window of the same series scores differently but validly.
    const CliResult ev2 = run_eplb("evaluate --placement " + out + " --trace " + trace + " --steps 2:3");
    CHECK(ev2.exit_code == 0);
    CHECK(ev2.out.find("eplb evaluate: placement") == 0);
}

TEST_CASE("every flag naming a placement reads the engines' formats: evaluate, shuffle") {
    const std::string trace = temp_dir() + "/pf.json", eplb_file = temp_dir() + "/pf_eplb.json",
                      sglang = temp_dir() + "/pf_sglang.json", vllm = temp_dir() + "/pf_vllm.json";
    REQUIRE(run_eplb("gen-trace --num-layers 3 --first-layer 3 --num-experts 32 --seed 7 -o " + trace)
                .exit_code == 0);
    REQUIRE(run_eplb("plan --backend cpu --trace " + trace +
                     " --num-gpus 8 --num-nodes 2 --num-redundant-experts 8 -o " + eplb_file +
                     " --export sglang " + sglang + " --export vllm " + vllm)
                .exit_code == 0);
    const CliResult a = run_eplb("evaluate --json --placement " + eplb_file + " --trace " + trace);
    // SGLang's map has rows for model layers 0..5 (0..2 trivial): --layers keeps the trace's.
    const CliResult b = run_eplb("evaluate --json --placement " + sglang + " --trace " + trace +
                                 " --num-gpus 8 --num-nodes 2 --layers 3:6");
    REQUIRE(a.exit_code == 0);
    REQUIRE(b.exit_code == 0);
    CHECK(json::parse(a.out)["metrics"]["balancedness"] == json::parse(b.out)["metrics"]["balancedness"]);
    CHECK(json::parse(a.out)["metrics"]["per_layer"].size() == 3);
    const CliResult s = run_eplb("shuffle --dry-run --json --old " + vllm + " --new " + eplb_file +
                                 " --num-gpus 8 --num-nodes 2");
    REQUIRE(s.exit_code == 0);
    CHECK(json::parse(s.out)["plan"]["received"] == 0);  // the same placement: nothing moves
}
