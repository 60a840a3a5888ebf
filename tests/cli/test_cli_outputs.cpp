// Outputs that never destroy anything, and runs that must not look right when they are not: the
// state of the file system after each run (links stay links, FIFOs and devices are written in
// place, no temp file after a signal), exit codes and messages.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_runner.h"

using namespace eplb::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string trace() { return source_root() + "/traces/deepseek-v3-seed1.json"; }
std::string ep32() { return source_root() + "/configs/deepseek-v3-ep32.json"; }
std::string plan_args() { return "plan --backend cpu --trace " + trace() + " --config " + ep32(); }

// A fresh scratch directory per test case.
std::string scratch(const std::string& name) {
    const fs::path dir = fs::path(temp_dir()) / name;
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir.string();
}

// Names in `dir` that look like write_file_atomic's temp files.
int temp_files_in(const std::string& dir) {
    int n = 0;
    for (const auto& e : fs::directory_iterator(dir))
        n += e.path().filename().string().find(".tmp.") != std::string::npos;
    return n;
}

bool is_placement_json(const std::string& text) {
    const json j = json::parse(text, nullptr, false);
    return !j.is_discarded() && j.value("schema", "") == "eplb.placement/v1";
}

}  // namespace

TEST_CASE("outputs: a symbolic link stays a link and its target gets the new content") {
    const std::string dir = scratch("link");
    write_text(dir + "/target.json", "old");
    fs::create_symlink("target.json", dir + "/link.json");
    const CliResult r = run_eplb(plan_args() + " -o " + dir + "/link.json");
    CHECK(r.exit_code == 0);
    CHECK(fs::is_symlink(dir + "/link.json"));
    CHECK(fs::read_symlink(dir + "/link.json") == "target.json");
    CHECK(is_placement_json(slurp(dir + "/target.json")));
    CHECK(temp_files_in(dir) == 0);
    // A dangling link: its target is created, the link stays.
    fs::create_symlink("new.json", dir + "/dangling.json");
    CHECK(run_eplb(plan_args() + " -o " + dir + "/dangling.json").exit_code == 0);
    CHECK(fs::is_symlink(dir + "/dangling.json"));
    CHECK(is_placement_json(slurp(dir + "/new.json")));
}

TEST_CASE("outputs: a FIFO stays a FIFO and its reader gets the document") {
    const std::string dir = scratch("fifo");
    const std::string fifo = dir + "/out.json";
    REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
    std::string got;
    std::thread reader([&] { got = slurp(fifo); });
    const CliResult r = run_eplb(plan_args() + " -o " + fifo);
    // Unblock the reader should eplb have failed before opening the FIFO.
    const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    if (fd >= 0) ::close(fd);
    reader.join();
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("placement written to " + fifo) != std::string::npos);
    CHECK(is_placement_json(got));
    struct stat st {};
    REQUIRE(::lstat(fifo.c_str(), &st) == 0);
    CHECK(S_ISFIFO(st.st_mode));
    CHECK(temp_files_in(dir) == 0);
}

TEST_CASE("outputs: a character device is written to, never replaced") {
    // A null device of our own where we may create one (root), else /dev/null itself.
    const std::string dir = scratch("device");
    std::string dev = dir + "/null";
    if (::mknod(dev.c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0) dev = "/dev/null";
    CAPTURE(dev);
    const CliResult r = run_eplb(plan_args() + " -o " + dev + " --export sglang " + dev);
    CHECK(r.exit_code == 0);
    struct stat st {};
    REQUIRE(::lstat(dev.c_str(), &st) == 0);
    CHECK(S_ISCHR(st.st_mode));
    CHECK(temp_files_in(dir) == 0);
    // /dev/full: the write error is exit 3 naming the output, and /dev/full stays a device.
    if (fs::exists("/dev/full")) {
        const CliResult full = run_eplb(plan_args() + " -o /dev/full");
        CHECK(full.exit_code == 3);
        CHECK(full.err == "eplb plan: error: /dev/full: cannot write: No space left on device\n");
        REQUIRE(::stat("/dev/full", &st) == 0);
        CHECK(S_ISCHR(st.st_mode));
    }
}

TEST_CASE("outputs: -o - sends the document to stdout and the report to stderr") {
    const CliResult r = run_eplb(plan_args() + " -o -");
    CHECK(r.exit_code == 0);
    CHECK(is_placement_json(r.out));
    CHECK(r.err.rfind("eplb plan: trace " + trace(), 0) == 0);
    CHECK(r.err.find("placement written to stdout") != std::string::npos);
    // /dev/stdout is the same stream (not reopened, not replaced).
    const CliResult dev = run_eplb(plan_args() + " --export sglang /dev/stdout");
    CHECK(dev.exit_code == 0);
    CHECK(json::parse(dev.out, nullptr, false).contains("physical_to_logical_map"));
}

TEST_CASE("outputs: two outputs naming one file are refused before anything is written (exit 2)") {
    const std::string dir = scratch("same");
    const CliResult a = run_eplb(plan_args() + " -o " + dir + "/x.json --export sglang " + dir + "/x.json");
    CHECK(a.exit_code == 2);
    CHECK(a.err == "eplb plan: usage error: -o " + dir + "/x.json and --export sglang " + dir +
                       "/x.json: every output needs a file of its own\n");
    write_text(dir + "/y.json", "old");
    fs::create_symlink("y.json", dir + "/y_link.json");
    const CliResult b =
        run_eplb(plan_args() + " -o " + dir + "/y.json --export sglang " + dir + "/y_link.json");
    CHECK(b.exit_code == 2);
    CHECK(b.err.find("are the same file: every output needs a file of its own") != std::string::npos);
    CHECK(slurp(dir + "/y.json") == "old");
    const CliResult c = run_eplb(plan_args() + " --json -o -");
    CHECK(c.exit_code == 2);
    CHECK(c.err ==
          "eplb plan: usage error: -o stdout and --json stdout: every output needs a file of its own\n");
    const CliResult d = run_eplb("simulate --backend cpu --trace " + trace() + " --config " + ep32() +
                                 " --csv " + dir + "/s --svg " + dir + "/./s");
    CHECK(d.exit_code == 2);
    CHECK(d.err.find("--csv " + dir + "/s and --svg " + dir + "/./s are the same file") != std::string::npos);
    CHECK(d.out.empty());
    CHECK(!fs::exists(dir + "/x.json"));
    CHECK(!fs::exists(dir + "/s"));
    CHECK(temp_files_in(dir) == 0);
}

TEST_CASE("outputs: a document on a closed or full stdout is exit 3") {
    const char* bin = std::getenv("EPLB_BIN");
    const std::string base = std::string(bin) + " " + plan_args() + " --json";
    CHECK(WEXITSTATUS(std::system((base + " >&- 2>/dev/null").c_str())) == 3);
    if (fs::exists("/dev/full")) {
        const std::string err = temp_dir() + "/full_err";
        CHECK(WEXITSTATUS(std::system((base + " >/dev/full 2>" + err).c_str())) == 3);
        CHECK(slurp(err) == "eplb plan: error: stdout: cannot write: No space left on device\n");
        // The report (not --json) as well.
        CHECK(WEXITSTATUS(
                  std::system((std::string(bin) + " " + plan_args() + " >/dev/full 2>" + err).c_str())) == 3);
        CHECK(slurp(err).rfind("eplb plan: error: stdout: cannot write the output: ", 0) == 0);
    }
}

TEST_CASE("outputs: SIGINT and SIGTERM during a long write leave no temporary file") {
    for (const int sig : {SIGINT, SIGTERM}) {
        CAPTURE(sig);
        const std::string dir = scratch("signal" + std::to_string(sig));
        const std::string out = dir + "/g.json";
        const pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            const int null = ::open("/dev/null", O_WRONLY);
            dup2(null, 1);
            dup2(null, 2);
            const char* bin = std::getenv("EPLB_BIN");
            execl(bin, bin, "gen-trace", "--num-layers", "4", "--num-steps", "20000", "-o", out.c_str(),
                  static_cast<char*>(nullptr));
            _exit(127);
        }
        // Wait for the temp file to appear (the JSON is written for seconds), then interrupt.
        bool seen = false;
        for (int i = 0; i < 3000 && !seen; ++i) {
            seen = temp_files_in(dir) > 0;
            if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        CHECK(seen);
        ::kill(pid, sig);
        int status = 0;
        REQUIRE(::waitpid(pid, &status, 0) == pid);
        if (seen) {
            CHECK(WIFSIGNALED(status));
            CHECK(WTERMSIG(status) == sig);
        }
        CHECK(temp_files_in(dir) == 0);
        CHECK(!fs::exists(out));
    }
}

TEST_CASE("plan: a placement of the synthetic default is written only with --synthetic") {
    const std::string dir = scratch("synthetic");
    const CliResult r = run_eplb("plan --backend cpu --export sglang " + dir + "/deploy.json");
    CHECK(r.exit_code == 2);
    CHECK(
        r.err ==
        "eplb plan: usage error: no --trace: refusing to write a placement (--export) planned on a synthetic "
        "trace; "
        "pass --trace FILE (the loads to balance), or --synthetic to write it anyway\n");
    CHECK(!fs::exists(dir + "/deploy.json"));
    CHECK(run_eplb("plan --backend cpu --config " + ep32() + " -o " + dir + "/p.json").exit_code == 2);
    const CliResult ok = run_eplb("plan --backend cpu --synthetic --export sglang " + dir + "/deploy.json");
    CHECK(ok.exit_code == 0);
    CHECK(ok.out.rfind("eplb plan: embedded default: DeepSeek-V3 shapes", 0) == 0);
    CHECK(ok.out.find("synthetic trace") != std::string::npos);
    CHECK(fs::exists(dir + "/deploy.json"));
    // The report alone needs no --synthetic.
    CHECK(run_eplb("plan --backend cpu").exit_code == 0);
}

TEST_CASE("plan, simulate: the report and the JSON say where the plans ran") {
    const CliResult p = run_eplb(plan_args() + " --policy balanced --json");
    REQUIRE(p.exit_code == 0);
    CHECK(json::parse(p.out)["inputs"]["backend"] == "cpu");
    const CliResult s = run_eplb("simulate --backend cpu --json --trace " + trace() + " --config " + ep32() +
                                 " --policy deepseek,balanced");
    REQUIRE(s.exit_code == 0);
    const json j = json::parse(s.out);
    CHECK(j["inputs"]["backend"] == "cpu");
    CHECK(j["lanes"][0]["backend"] == "cpu");
    CHECK(j["lanes"][1]["backend"] == "cpu");
}

TEST_CASE("simulate: a series too short for any check says that no rearrangement could happen") {
    const std::string args = "simulate --backend cpu --trace " + trace() + " --config " + ep32();
    const CliResult r = run_eplb(args);
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("note: deepseek: no rearrangement could happen: the first check would be after step 749 "
                     "(step interval 3000), past the series' last step 0 (1 step); lower --step-interval or "
                     "give more steps\n") != std::string::npos);
    const CliResult j = run_eplb(args + " --json");
    REQUIRE(j.exit_code == 0);
    const json doc = json::parse(j.out);
    CHECK(doc["lanes"][0]["summary"]["rearrangements"] == 0);
    CHECK(doc["lanes"][0]["no_rearrangement"].get<std::string>().find("past the series' last step 0") !=
          std::string::npos);
    // A series that reaches its first check says nothing.
    const CliResult g = run_eplb("simulate --backend cpu --json --gen-num-steps 400 --step-interval 100");
    REQUIRE(g.exit_code == 0);
    CHECK(json::parse(g.out)["lanes"][0]["no_rearrangement"].is_null());
}

TEST_CASE("check: an evaluation baseline scored on another load fails unless allowed") {
    const std::string dir = scratch("digest");
    REQUIRE(run_eplb(plan_args() + " -o " + dir + "/p.json").exit_code == 0);
    const CliResult e = run_eplb("evaluate --json --placement " + dir + "/p.json --trace " + trace());
    REQUIRE(e.exit_code == 0);
    json base = json::parse(e.out);
    CHECK(base["load_digest"].get<std::string>().rfind("fnv1a64:", 0) == 0);
    write_text(dir + "/base.json", e.out);
    const std::string check = "check --backend cpu --trace " + trace() + " --config " + ep32() +
                              " --baseline " + dir + "/base.json --max-regression 0.5";
    const CliResult same = run_eplb(check);
    CHECK(same.exit_code == 0);
    CHECK(same.err.empty());
    const CliResult other = run_eplb(check + " --layers 3:30");
    CHECK(other.exit_code == 1);
    CHECK(other.out.find("FAIL") != std::string::npos);
    CHECK(other.out.find("baseline " + dir + "/base.json was scored on another load (load_digest " +
                         base["load_digest"].get<std::string>()) != std::string::npos);
    CHECK(other.out.find("pass --allow-other-trace to compare anyway") != std::string::npos);
    const CliResult allowed = run_eplb(check + " --layers 3:30 --allow-other-trace");
    CHECK(allowed.exit_code == 0);
    // A baseline from before the digest: a warning, never a silent pass.
    base.erase("load_digest");
    write_text(dir + "/old.json", base.dump());
    const CliResult old = run_eplb("check --backend cpu --trace " + trace() + " --config " + ep32() +
                                   " --baseline " + dir + "/old.json --max-regression 0.5");
    CHECK(old.exit_code == 0);
    CHECK(old.err.find("records no load_digest") != std::string::npos);
}
