// `eplb gen-trace` end to end: the CSV format, and the exit codes of a bad extension or range.
#include <doctest/doctest.h>

#include <string>

#include "tests/cli/cli_runner.h"

using namespace eplb::test;

TEST_CASE("gen-trace formats: CSV rows, unknown extensions, flag ranges") {
    const std::string csv = temp_dir() + "/g.csv";
    REQUIRE(run_eplb("gen-trace --num-layers 2 --num-experts 8 --top-k 2 -o " + csv).exit_code == 0);
    CHECK(slurp(csv).rfind("step,layer,expert,load\n0,0,0,", 0) == 0);
    CHECK(run_eplb("gen-trace -o " + temp_dir() + "/g.txt").exit_code == 3);
    CHECK(run_eplb("gen-trace --top-k 0 -o " + temp_dir() + "/g.json").exit_code == 2);  // the flag's range
    CHECK(run_eplb("gen-trace --num-experts 4 --top-k 5 -o " + temp_dir() + "/g.json").exit_code == 3);
}
