// Runs the built eplb binary (path in EPLB_BIN) with arguments and captures stdout, stderr and the
// exit code, for the CLI tests; and the README example that several of them plan.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace eplb::test {

struct CliResult {
    int exit_code = -1;
    std::string out, err;
};

inline std::string temp_dir() {
    static const std::string dir = [] {
        std::string tmpl = (std::filesystem::temp_directory_path() / "eplb_cli_XXXXXX").string();
        return std::string(mkdtemp(tmpl.data()));
    }();
    return dir;
}

inline std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

inline void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// args is passed to the shell as is: quote what needs quoting. `prefix` goes before the binary:
// environment assignments ("OMP_NUM_THREADS=4") or a wrapper ("timeout 60": a hang then fails the
// test with exit code 124 instead of stalling the suite).
inline CliResult run_eplb_with(const std::string& prefix, const std::string& args) {
    const char* bin = std::getenv("EPLB_BIN");
    const std::string out = temp_dir() + "/stdout", err = temp_dir() + "/stderr";
    const std::string cmd = prefix + " " + std::string(bin ? bin : "eplb") + " " + args + " >" + out + " 2>" +
                            err + " </dev/null";
    const int status = std::system(cmd.c_str());
    CliResult r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
}

inline CliResult run_eplb(const std::string& args) { return run_eplb_with("", args); }

// The source tree (meson sets EPLB_SOURCE_ROOT for every test) and a bundled config in it.
inline std::string source_root() { return std::getenv("EPLB_SOURCE_ROOT"); }
inline std::string config_path(const std::string& name) { return source_root() + "/configs/" + name; }

// The README example: 2 layers x 12 experts, and the flags that plan it onto 16 slots of 2 nodes.
inline constexpr const char* kReadmeTrace =
    R"({"logical_count": [[90,132,40,61,104,165,39,4,73,56,183,86],[20,107,104,64,19,197,187,157,172,86,16,27]]})";
inline constexpr const char* kReadmeFlags =
    "--num-groups 4 --num-nodes 2 --num-gpus 8 --num-physical-experts 16";

}  // namespace eplb::test
