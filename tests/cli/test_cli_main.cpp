// The binary as a whole: exit codes and one-line messages, --version and help, ASCII or UTF-8
// output by locale (src/cli/main.cpp and what every subcommand shares).
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "tests/cli/cli_runner.h"

using namespace eplb::test;

TEST_CASE("exit codes and messages: usage 2, invalid input 3, device 4; no output file on failure") {
    const std::string trace = temp_dir() + "/readme2.json", out = temp_dir() + "/never.json";
    write_text(trace, kReadmeTrace);
    CliResult r = run_eplb("plan --trace " + trace + " --num-groups 4 --num-nodes 4 --num-gpus 6 -o " + out);
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("num_gpus (6) must be a multiple of num_nodes (4)") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(out));
    r = run_eplb("plan --trace " + trace + " --num-gpus 8 --num-physical-experts 20");
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("num_physical_experts (20) must be a multiple of num_gpus (8)") != std::string::npos);
    r = run_eplb("plan --trace " + trace);
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("num_gpus is not set") != std::string::npos);
    r = run_eplb("plan --trace " + trace + " --num-gpus 4 --layers 5:9");
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("--layers 5:9 is outside the trace's layers 0:2") != std::string::npos);
    const std::string bad = temp_dir() + "/bad.json";
    write_text(bad, R"({"logical_count": [[1, 2], [3, "nan"]]})");
    r = run_eplb("plan --trace " + bad + " --num-gpus 2");
    CHECK(r.exit_code == 3);
    CHECK(r.err.find(bad + ": logical_count[1][1] is \"nan\", expected a number") != std::string::npos);
    r = run_eplb("plan --no-such-flag");
    CHECK(r.exit_code == 2);
    r = run_eplb("plan --trace /nonexistent/trace.json --num-gpus 2");
    CHECK(r.exit_code == 3);  // a missing file is an input error, like a bad one
    CHECK(r.err.find("/nonexistent/trace.json: no such file") != std::string::npos);
    r = run_eplb("plan --policy nonsense");
    CHECK(r.exit_code == 2);
    r = run_eplb("");
    CHECK(r.exit_code == 2);
}

TEST_CASE("--version and help: exit 0, the build's CUDA and NCCL, help as --help does") {
    for (const char* flag : {"--version", "-V"}) {
        const CliResult r = run_eplb(flag);
        CHECK(r.exit_code == 0);
        CHECK(r.out.rfind("eplb 0.", 0) == 0);
        CHECK(r.out.find("\nCUDA: ") != std::string::npos);
        CHECK(r.out.find("\nNCCL: ") != std::string::npos);
    }
    const CliResult help = run_eplb("help"), dash_help = run_eplb("--help");
    CHECK(help.exit_code == 0);
    CHECK(help.out == dash_help.out);
    CHECK(help.out.find("SUBCOMMAND") != std::string::npos);
    const CliResult plan_help = run_eplb("help plan");
    CHECK(plan_help.exit_code == 0);
    CHECK(plan_help.out == run_eplb("plan --help").out);
    CHECK(plan_help.out.find("--policy deepseek|balanced") != std::string::npos);
    CHECK(plan_help.out.find("->") == std::string::npos);  // no CLI11 map text
}

TEST_CASE("plain ASCII when the locale is not UTF-8, UTF-8 glyphs when it is") {
    const std::string trace = temp_dir() + "/ascii.json";
    write_text(trace, kReadmeTrace);
    const std::string args = "plan --backend cpu --trace " + trace + " " + kReadmeFlags;
    const CliResult ascii = run_eplb_with("LC_ALL=C", args);
    REQUIRE(ascii.exit_code == 0);
    for (char c : ascii.out) CHECK(static_cast<unsigned char>(c) < 0x80);
    CHECK(ascii.out.find("(_ = min ") != std::string::npos);
    const CliResult utf8 = run_eplb_with("LC_ALL=C.UTF-8", args);
    REQUIRE(utf8.exit_code == 0);
    CHECK(utf8.out.find("(▁ = min ") != std::string::npos);
    // Same report otherwise: the strip has one character per GPU either way.
    const auto strip = [](const std::string& out) { return out.substr(out.rfind('\n', out.size() - 2) + 1); };
    CHECK(strip(ascii.out).size() == 2 + 8 + 1 + 1);     // "  " + 8 GPUs + node gap + "\n"
    CHECK(strip(utf8.out).size() == 2 + 3 * 8 + 1 + 1);  // 3 bytes a block character
}
