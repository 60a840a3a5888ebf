// Runs the bad-input catalogue (tests/cli/bad_inputs/catalogue.tsv): every entry must exit with its
// code and a one-line message on stderr holding its substring, print nothing on stdout, and leave
// nothing behind in its scratch directory (no output file, no temporary file).
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/cli/cli_runner.h"

using namespace eplb::test;
namespace fs = std::filesystem;

namespace {

struct Entry {
    int line = 0;
    std::string id;
    int exit_code = 0;
    std::string message, args;
};

std::string bad_inputs_dir() {
    const char* root = std::getenv("EPLB_SOURCE_ROOT");
    REQUIRE(root);
    return (fs::path(root) / "tests" / "cli" / "bad_inputs").string();
}

std::vector<Entry> read_catalogue(const std::string& path) {
    std::ifstream in(path);
    REQUIRE(in.good());
    std::vector<Entry> entries;
    std::string line;
    int line_no = 0;
    while (std::getline(in, line)) {
        ++line_no;
        if (line.empty() || line[0] == '#') continue;
        std::vector<std::string> cols;
        std::istringstream ls(line);
        std::string col;
        while (std::getline(ls, col, '\t')) cols.push_back(col);
        INFO("catalogue.tsv line " << line_no << ": " << line);
        REQUIRE(cols.size() == 4);
        entries.push_back({line_no, cols[0], std::stoi(cols[1]), cols[2], cols[3]});
    }
    return entries;
}

std::string substitute(std::string text, const std::string& in, const std::string& tmp) {
    const std::pair<std::string, std::string> keys[] = {
        {"{out}", tmp + "/out.json"}, {"{in}", in}, {"{tmp}", tmp}};
    for (const auto& [key, value] : keys) {
        for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + value.size())) {
            text.replace(at, key.size(), value);
        }
    }
    return text;
}

std::set<std::string> listing(const std::string& dir) {
    std::set<std::string> names;
    for (const auto& e : fs::recursive_directory_iterator(dir)) names.insert(e.path().string());
    return names;
}

}  // namespace

TEST_CASE("every bad input of the catalogue: documented exit code, one-line message, no output left") {
    const std::string in = bad_inputs_dir();
    const std::vector<Entry> entries = read_catalogue(in + "/catalogue.tsv");
    CHECK(entries.size() >= 40);
    std::set<std::string> ids;
    for (const Entry& e : entries) {
        INFO("catalogue entry " << e.id << " (line " << e.line << ")");
        CHECK(ids.insert(e.id).second);  // ids are unique
        const std::string tmp = temp_dir() + "/" + e.id;
        fs::create_directories(tmp);
        for (const char* fifo : {"/fifo.json", "/fifo.npy"}) REQUIRE(mkfifo((tmp + fifo).c_str(), 0600) == 0);
        const std::set<std::string> before = listing(tmp);
        const std::string args = substitute(e.args, in, tmp);
        // `timeout`: an entry that hangs fails here (exit 124) instead of stalling the suite.
        const CliResult r = run_eplb_with("timeout 60", args);
        INFO("eplb " << args);
        INFO("stderr: " << r.err);
        CHECK(r.exit_code == e.exit_code);
        const std::string expected = substitute(e.message, in, tmp);
        CHECK_MESSAGE(r.err.find(expected) != std::string::npos, "expected in the message: " << expected);
        CHECK(r.err.size() > 1);
        CHECK(r.err.find('\n') == r.err.size() - 1);  // exactly one line
        CHECK(r.out.empty());
        CHECK(listing(tmp) == before);  // no output file, no temporary file
        fs::remove_all(tmp);
    }
}

TEST_CASE("the catalogue covers every subcommand that reads a file and every exit code of bad input") {
    const std::vector<Entry> entries = read_catalogue(bad_inputs_dir() + "/catalogue.tsv");
    std::set<std::string> commands;
    std::set<int> codes;
    for (const Entry& e : entries) {
        commands.insert(e.args.substr(0, e.args.find(' ')));
        codes.insert(e.exit_code);
    }
    for (const char* c :
         {"plan", "evaluate", "gen-trace", "bench", "check", "convert", "simulate", "shuffle"}) {
        CHECK(commands.count(c) == 1);
    }
    CHECK(codes == std::set<int>{2, 3});
}
