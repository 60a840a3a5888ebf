// `eplb bench` end to end: the JSON report of the CPU backend.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_runner.h"

using namespace eplb::test;
using nlohmann::json;

TEST_CASE("bench --json: plans per second and the per-call times of the CPU backend") {
    const CliResult b = run_eplb("bench --backend cpu --repeat 3 --json");
    REQUIRE(b.exit_code == 0);
    const json j = json::parse(b.out);
    CHECK(j["backends"]["cpu"]["plans_per_second"].get<double>() > 0);
    CHECK(j["backends"]["cpu"]["median_ms_per_call"].get<double>() >=
          j["backends"]["cpu"]["min_ms_per_call"].get<double>());
}
