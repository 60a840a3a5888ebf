// The enum name tables and the "did you mean" of eplb/names.h: distances, suggestions, messages,
// and every table printed and parsed back.
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "eplb/names.h"
#include "eplb/planner.h"
#include "eplb/policy.h"
#include "eplb/shuffle_run.h"
#include "tests/test_util.h"

using namespace eplb;
using eplb::test::error_of;

namespace {

// Every name of the table parses back to its value, and the names differ ignoring case.
template <class T>
void check_round_trip(std::span<const NamedValue<T>> table) {
    std::set<std::string> lowered;
    for (const NamedValue<T>& e : table) {
        CAPTURE(e.name);
        CHECK(std::string(name_in(table, e.value)) == e.name);
        CHECK(parse_name(table, e.name, "x") == e.value);
        std::string upper = e.name;
        for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        CHECK(parse_name(table, upper, "x") == e.value);
        std::string lower = e.name;
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        CHECK(lowered.insert(lower).second);
    }
}

}  // namespace

TEST_CASE("edit_distance: insertions, deletions, substitutions and swaps cost one each, any case") {
    CHECK(edit_distance("", "") == 0);
    CHECK(edit_distance("plan", "plan") == 0);
    CHECK(edit_distance("PLAN", "plan") == 0);
    CHECK(edit_distance("plna", "plan") == 1);         // swap of neighbours
    CHECK(edit_distance("balance", "balanced") == 1);  // insertion
    CHECK(edit_distance("plans", "plan") == 1);        // deletion
    CHECK(edit_distance("clan", "plan") == 1);         // substitution
    CHECK(edit_distance("", "cuda") == 4);
    CHECK(edit_distance("kitten", "sitting") == 3);
    CHECK(edit_distance("evaluate", "bench") == edit_distance("bench", "evaluate"));
}

TEST_CASE("closest_name: a typo gets its word, anything further gets none") {
    const std::vector<std::string> subcommands = {"plan",  "evaluate", "gen-trace", "bench",
                                                  "check", "convert",  "simulate",  "shuffle"};
    CHECK(closest_name("plna", subcommands) == "plan");
    CHECK(closest_name("evalute", subcommands) == "evaluate");
    CHECK(closest_name("gentrace", subcommands) == "gen-trace");
    CHECK(closest_name("shufle", subcommands) == "shuffle");
    CHECK(closest_name("SIMULATE", subcommands) == "simulate");
    CHECK(closest_name("frobnicate", subcommands).empty());
    CHECK(closest_name("x", subcommands).empty());
    CHECK(closest_name("", subcommands).empty());
    // Short names allow one edit.
    CHECK(closest_name("gpu", {"auto", "cpu", "cuda"}) == "cpu");
    CHECK(closest_name("nvlink", {"auto", "nccl", "ce"}).empty());
    // Ties go to the first candidate.
    CHECK(closest_name("ab", {"aa", "bb"}) == "aa");
}

TEST_CASE("unknown_name_message: lists the names, suggests the closest, quotes control bytes") {
    CHECK(unknown_name_message("balance", {"deepseek", "balanced"}) ==
          "'balance' is not one of deepseek, balanced; did you mean 'balanced'?");
    CHECK(unknown_name_message("1", {"deepseek", "balanced"}) == "'1' is not one of deepseek, balanced");
    CHECK(unknown_name_message("a\x1b", {"on", "off"}) == "'a\\x1b' is not one of on, off");
}

TEST_CASE("policy names: one table, parsed and printed through it; errors name where the text came from") {
    check_round_trip<Policy>(kPolicyNames);
    CHECK(std::string(policy_name(Policy::kDeepseek)) == "deepseek");
    CHECK(std::string(policy_name(Policy::kBalanced)) == "balanced");
    CHECK(parse_policy("Balanced", "--policy") == Policy::kBalanced);
    // Prefixes and suffixes: a policy added to the table extends the list.
    const std::string typo = error_of([] { parse_policy("balance", "c.json: policy"); });
    CHECK(typo.rfind("c.json: policy: 'balance' is not one of deepseek, balanced", 0) == 0);
    CHECK(typo.size() > 26);
    CHECK(typo.substr(typo.size() - 26) == "; did you mean 'balanced'?");
    const std::string number = error_of([] { parse_policy("0", "--policy"); });
    CHECK(number.rfind("--policy: '0' is not one of deepseek, balanced", 0) == 0);
    CHECK(number.find("did you mean") == std::string::npos);
}

TEST_CASE("backend and transport names: one table each") {
    check_round_trip<Backend>(kBackendNames);
    CHECK(std::string(backend_name(Backend::kCuda)) == "cuda");
    CHECK(parse_name<Backend>(kBackendNames, "CPU", "--backend") == Backend::kCpu);
    check_round_trip<ShuffleTransport>(kTransportNames);
    CHECK(std::string(transport_name(ShuffleTransport::kCopyEngine)) == "ce");
    CHECK(error_of([] { parse_name<ShuffleTransport>(kTransportNames, "ncl", "--transport"); }) ==
          "--transport: 'ncl' is not one of auto, nccl, ce; did you mean 'nccl'?");
}
