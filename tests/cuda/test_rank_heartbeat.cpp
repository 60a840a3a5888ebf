// The heartbeat files of a one-process-per-GPU shuffle (cuda/rank_heartbeat.h, plain C++: suite
// unit, no GPU): the writer's records and final states, and what a rank reads of fake peers' files
// (fresh, stale with a dead pid, missing, garbage, left by an earlier run, outside the world).
#include "cuda/rank_heartbeat.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include <doctest/doctest.h>

#include "eplb/error.h"

namespace eplb::cuda {
namespace {

namespace fs = std::filesystem;

struct TempDir {
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "eplb_heartbeat_XXXXXX").string();
        path = mkdtemp(tmpl.data());
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    std::string path;
};

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

Heartbeat peer(int rank, int64_t pid) {
    Heartbeat h;
    h.rank = rank;
    h.pid = pid;
    h.host = this_host();
    h.beat = 5;
    h.phase = "shuffle pass 3";
    return h;
}

// A pid that just ended (a child reaped at once).
int64_t dead_pid() {
    const pid_t child = fork();
    if (child == 0) _exit(0);
    int status = 0;
    waitpid(child, &status, 0);
    return child;
}

TEST_CASE("the writer rewrites its record every period, then leaves the final state") {
    TempDir dir;
    const std::string id_file = dir.path + "/id";
    SUBCASE("done removes the file") {
        HeartbeatWriter w(id_file, 2, 0.02);
        CHECK(w.path() == id_file + ".rank2");
        w.set_phase("shuffle pass 0");
        std::optional<Heartbeat> first = parse_heartbeat(slurp(w.path()));
        REQUIRE(first);
        CHECK(first->rank == 2);
        CHECK(first->pid == getpid());
        CHECK(first->host == this_host());
        CHECK(first->state == RankState::kRunning);
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        std::optional<Heartbeat> later = parse_heartbeat(slurp(w.path()));
        REQUIRE(later);
        CHECK(later->beat > first->beat + 2);
        CHECK(later->phase == "shuffle pass 0");
        w.finish(RankState::kDone);
        CHECK_FALSE(fs::exists(w.path()));
        w.finish(RankState::kFailed);  // the first call wins
        CHECK_FALSE(fs::exists(w.path()));
    }
    SUBCASE("timed out stays, never rewritten") {
        std::string path;
        {
            HeartbeatWriter w(id_file, 0, 0.02);
            path = w.path();
            w.set_phase("NCCL initialisation");
            w.finish(RankState::kTimedOut);
            const std::string final_record = slurp(path);
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            CHECK(slurp(path) == final_record);
            w.beat_now();
            CHECK(slurp(path) == final_record);
        }
        const std::optional<Heartbeat> h = parse_heartbeat(slurp(path));
        REQUIRE(h);
        CHECK(h->state == RankState::kTimedOut);  // the destructor's "failed" does not overwrite it
        CHECK(h->phase == "NCCL initialisation");
    }
    SUBCASE("a writer destroyed unfinished (an exception) leaves failed") {
        { HeartbeatWriter w(id_file, 1, 0.02); }
        const std::optional<Heartbeat> h = parse_heartbeat(slurp(id_file + ".rank1"));
        REQUIRE(h);
        CHECK(h->state == RankState::kFailed);
    }
    // No temporary file is left beside the records.
    for (const auto& e : fs::directory_iterator(dir.path)) {
        CHECK(e.path().filename().string().find(".tmp") == std::string::npos);
    }
}

TEST_CASE("a directory the rank cannot write: the writer throws naming the file") {
    try {
        HeartbeatWriter w("/nonexistent/eplb/id", 0);
        FAIL("no exception");
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::kDevice);
        CHECK(std::string(e.what()).find("/nonexistent/eplb/id.rank0") != std::string::npos);
    }
}

TEST_CASE("the readings of fake peers: fresh, stale and dead, missing, garbage, earlier run, out of range") {
    TempDir dir;
    const std::string id_file = dir.path + "/id";
    const auto now = fs::file_time_type::clock::now();
    const auto self_start = now - std::chrono::seconds(10);
    const auto set_age = [&](int rank, double age_s) {
        fs::last_write_time(heartbeat_path(id_file, rank),
                            now - std::chrono::duration_cast<fs::file_time_type::duration>(
                                      std::chrono::duration<double>(age_s)));
    };
    const int64_t gone = dead_pid();
    write(heartbeat_path(id_file, 0), format_heartbeat(peer(0, getpid())));  // the judge
    set_age(0, 0);
    write(heartbeat_path(id_file, 1), format_heartbeat(peer(1, getpid())));  // fresh
    set_age(1, 0.4);
    write(heartbeat_path(id_file, 2), format_heartbeat(peer(2, gone)));  // killed 4.5 s ago
    set_age(2, 4.5);
    // rank 3: no file
    write(heartbeat_path(id_file, 4), "eplb-heartbeat rank=4 pid=");  // garbage
    set_age(4, 0.1);
    write(heartbeat_path(id_file, 5), format_heartbeat(peer(5, gone)));  // an earlier run's
    set_age(5, 3600);
    Heartbeat elsewhere = peer(6, 1);
    elsewhere.host = "another-host-" + this_host();
    write(heartbeat_path(id_file, 6), format_heartbeat(elsewhere));  // stale, on another host
    set_age(6, 7.25);
    write(heartbeat_path(id_file, 9), format_heartbeat(peer(9, gone)));  // outside the world of 7
    set_age(9, 100);

    const std::vector<RankReading> r = read_heartbeats(id_file, 7, now, self_start);
    REQUIRE(r.size() == 7);
    CHECK(r[1].present);
    CHECK(r[1].age_s == doctest::Approx(0.4).epsilon(1e-6));
    CHECK(r[1].pid_running == 1);
    CHECK_FALSE(r[1].predates);
    CHECK(r[2].age_s == doctest::Approx(4.5).epsilon(1e-6));
    CHECK(r[2].pid_running == 0);
    CHECK_FALSE(r[3].present);
    CHECK(r[4].present);
    CHECK(r[4].text == "eplb-heartbeat rank=4 pid=");
    CHECK(r[4].pid_running == -1);
    CHECK(r[5].predates);
    CHECK(r[6].pid_running == -1);  // not checked on another host

    const std::vector<RankVerdict> v = judge_ranks(r, 0, false);
    CHECK(v[1].liveness == Liveness::kAlive);
    CHECK(v[2].text == "rank 2 stopped responding 4.5 s ago in shuffle pass 3 (pid " + std::to_string(gone) +
                           " on host " + this_host() + " gone)");
    CHECK(v[3].text == "rank 3 never joined (no heartbeat file)");
    CHECK(v[4].liveness == Liveness::kUnreadable);
    CHECK(v[5].text == "rank 5 never joined (its heartbeat file, 3600.0 s old, was left by an earlier run)");
    CHECK(v[6].text ==
          "rank 6 stopped responding 7.2 s ago in shuffle pass 3 (pid 1 on host " + elsewhere.host + ")");
    CHECK(judge_ranks(r, 0, true)[3].liveness == Liveness::kExited);
}

TEST_CASE("describe_world: a live writer judges real files end to end") {
    TempDir dir;
    const std::string id_file = dir.path + "/id";
    HeartbeatWriter self(id_file, 1, 0.05);
    HeartbeatWriter alive(id_file, 2, 0.05);  // a second writer in this process stands for a live peer
    const int64_t gone = dead_pid();
    write(heartbeat_path(id_file, 0), format_heartbeat(peer(0, gone)));
    fs::last_write_time(heartbeat_path(id_file, 0),
                        fs::file_time_type::clock::now() - std::chrono::seconds(5));
    const std::string line = describe_world(self, id_file, 1, 4, true);
    CAPTURE(line);
    CHECK(line.rfind("rank 0 stopped responding 5.", 0) == 0);
    CHECK(line.find("(pid " + std::to_string(gone) + " on host " + this_host() + " gone); ") !=
          std::string::npos);
    CHECK(line.find("rank 3 exited (no heartbeat file); rank 2 alive") != std::string::npos);
    alive.finish(RankState::kTimedOut);
    CHECK(describe_world(self, id_file, 1, 3, true).find("rank 2 timed out too") != std::string::npos);
    self.finish(RankState::kDone);
    alive.finish(RankState::kDone);
    CHECK_FALSE(fs::exists(heartbeat_path(id_file, 1)));
    CHECK(fs::exists(heartbeat_path(id_file, 2)));  // alive had finished already: its record stays
}

TEST_CASE(
    "processes: a rank killed with SIGKILL is named stopped, its pid gone; one that never came, never "
    "joined") {
    TempDir dir;
    const std::string id_file = dir.path + "/id";
    // Forked before this process starts any thread: the child is rank 2 of 4, beating every 50 ms.
    const pid_t child = fork();
    if (child == 0) {
        HeartbeatWriter w(id_file, 2, 0.05);
        w.set_phase("shuffle pass 5");
        for (;;) pause();
    }
    REQUIRE(child > 0);
    for (int i = 0; i < 500 && !parse_heartbeat(slurp(heartbeat_path(id_file, 2))); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    HeartbeatWriter self(id_file, 0, 0.05);
    HeartbeatWriter peer1(id_file, 1, 0.05);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the child's phase is in its record
    CHECK(describe_world(self, id_file, 0, 4, false) ==
          "rank 3 never joined (no heartbeat file); ranks 1, 2 alive");
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    const std::string line = describe_world(self, id_file, 0, 4, false);
    CAPTURE(line);
    CHECK(line.rfind("rank 2 stopped responding ", 0) == 0);
    CHECK(line.find(" s ago in shuffle pass 5 (pid " + std::to_string(child) + " on host " + this_host() +
                    " gone); rank 3 never joined (no heartbeat file); rank 1 alive") != std::string::npos);
    // A rank that finished cleanly removed its file: after every rank joined, it exited.
    peer1.finish(RankState::kDone);
    CHECK(describe_world(self, id_file, 0, 3, true).find("rank 1 exited (no heartbeat file)") !=
          std::string::npos);
}

}  // namespace
}  // namespace eplb::cuda
