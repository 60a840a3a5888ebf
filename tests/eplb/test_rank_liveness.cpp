// The judge of a one-process-per-GPU shuffle's heartbeat records (eplb/rank_liveness.h): records
// parsed and refused, each rank's verdict and the one line a timed-out rank prints.
#include "eplb/rank_liveness.h"

#include <doctest/doctest.h>

#include "eplb/error.h"

namespace eplb {
namespace {

Heartbeat record(int rank, RankState state = RankState::kRunning,
                 const std::string& phase = "shuffle pass 3") {
    Heartbeat h;
    h.rank = rank;
    h.pid = 1000 + rank;
    h.host = "gpu1";
    h.beat = 17;
    h.state = state;
    h.phase = phase;
    return h;
}

RankReading fresh(int rank, double age_s = 0.3) {
    RankReading r;
    r.present = true;
    r.text = format_heartbeat(record(rank));
    r.age_s = age_s;
    return r;
}

TEST_CASE("a heartbeat record reads back as written, its phase with spaces last") {
    const Heartbeat h = record(2, RankState::kTimedOut, "NCCL initialisation");
    const std::string text = format_heartbeat(h);
    CHECK(text ==
          "eplb-heartbeat rank=2 pid=1002 host=gpu1 beat=17 state=timed_out phase=NCCL initialisation\n");
    const std::optional<Heartbeat> back = parse_heartbeat(text);
    REQUIRE(back);
    CHECK(back->rank == 2);
    CHECK(back->pid == 1002);
    CHECK(back->host == "gpu1");
    CHECK(back->beat == 17);
    CHECK(back->state == RankState::kTimedOut);
    CHECK(back->phase == "NCCL initialisation");
    const std::optional<Heartbeat> no_phase =
        parse_heartbeat(format_heartbeat(record(0, RankState::kRunning, "")));
    REQUIRE(no_phase);
    CHECK(no_phase->phase.empty());
}

TEST_CASE("text that is no whole heartbeat record is refused") {
    for (const char* text : {
             "",
             "garbage",
             "eplb-heartbeat",
             "eplb-heartbeat rank=2 pid=1002 host=gpu1 beat=17 state=running",  // cut before the phase
             "eplb-heartbeat rank=2x pid=1002 host=gpu1 beat=17 state=running phase=",
             "eplb-heartbeat rank=-1 pid=1002 host=gpu1 beat=17 state=running phase=",
             "eplb-heartbeat rank=99999999999 pid=1002 host=gpu1 beat=17 state=running phase=",
             "eplb-heartbeat rank=2 pid=0 host=gpu1 beat=17 state=running phase=",
             "eplb-heartbeat rank=2 pid=1002 host= beat=17 state=running phase=",
             "eplb-heartbeat rank=2 pid=1002 host=gpu1 beat=17 state=sleeping phase=",
             "eplb-heartbeat pid=1002 rank=2 host=gpu1 beat=17 state=running phase=",
             "eplb-heartbeat rank=2 pid=1002 host=gpu1 beat=17 state=running phase=a\nb",
             "EPLB-heartbeat rank=2 pid=1002 host=gpu1 beat=17 state=running phase=",
         }) {
        const std::string shown = printable(text, 100);
        CAPTURE(shown);
        CHECK_FALSE(parse_heartbeat(text));
    }
}

TEST_CASE("a missing, a stopped and a fresh rank: the lost ones named first") {
    std::vector<RankReading> readings(4);
    readings[0] = fresh(0);
    readings[1] = fresh(1);
    readings[2] = fresh(2, 4.1);
    readings[2].pid_running = 0;
    // readings[3]: no file
    const std::vector<RankVerdict> v = judge_ranks(readings, 0, false);
    REQUIRE(v.size() == 4);
    CHECK(v[0].liveness == Liveness::kSelf);
    CHECK(v[1].liveness == Liveness::kAlive);
    CHECK(v[2].liveness == Liveness::kStopped);
    CHECK(v[3].liveness == Liveness::kNeverJoined);
    CHECK(v[2].text == "rank 2 stopped responding 4.1 s ago in shuffle pass 3 (pid 1002 on host gpu1 gone)");
    CHECK(describe_ranks(v) ==
          "rank 2 stopped responding 4.1 s ago in shuffle pass 3 (pid 1002 on host gpu1 gone); "
          "rank 3 never joined (no heartbeat file); rank 1 alive");
}

TEST_CASE("the pid is named running or gone only where the judge could check it") {
    std::vector<RankReading> readings = {fresh(0), fresh(1, 3.0)};
    readings[1].pid_running = 1;
    CHECK(judge_ranks(readings, 0, true)[1].text ==
          "rank 1 stopped responding 3.0 s ago in shuffle pass 3 (pid 1001 on host gpu1 still running)");
    readings[1].pid_running = -1;
    CHECK(judge_ranks(readings, 0, true)[1].text ==
          "rank 1 stopped responding 3.0 s ago in shuffle pass 3 (pid 1001 on host gpu1)");
    // A fresh record of a process seen gone was its last: it stopped, however young the record.
    readings[1].age_s = 0.2;
    CHECK(judge_ranks(readings, 0, true)[1].liveness == Liveness::kAlive);
    readings[1].pid_running = 0;
    CHECK(judge_ranks(readings, 0, true)[1].text ==
          "rank 1 stopped responding 0.2 s ago in shuffle pass 3 (pid 1001 on host gpu1 gone)");
}

TEST_CASE("every other rank fresh: NCCL itself is stuck") {
    const std::vector<RankReading> readings = {fresh(0), fresh(1, kHeartbeatStaleSeconds), fresh(2, 0.0)};
    const std::vector<RankVerdict> v = judge_ranks(readings, 1, true);
    CHECK(v[1].liveness == Liveness::kSelf);
    CHECK(describe_ranks(v) == "every rank alive: NCCL itself is stuck (or a link or a GPU)");
    // The judge's own reading never counts, even when its file is missing or stale.
    const std::vector<RankReading> self_missing = {RankReading{}, fresh(1)};
    CHECK(describe_ranks(judge_ranks(self_missing, 0, false)) ==
          "every rank alive: NCCL itself is stuck (or a link or a GPU)");
}

TEST_CASE("a missing file after every rank joined is a rank that exited") {
    std::vector<RankReading> readings = {fresh(0), RankReading{}};
    CHECK(describe_ranks(judge_ranks(readings, 0, true)) == "rank 1 exited (no heartbeat file)");
    readings[1].present = true;
    readings[1].text = format_heartbeat(record(1, RankState::kDone));
    CHECK(describe_ranks(judge_ranks(readings, 0, true)) == "rank 1 finished and exited");
}

TEST_CASE("a stale file older than the judge's first record: left by an earlier run") {
    std::vector<RankReading> readings = {fresh(0), fresh(1, 3600.0)};
    readings[1].predates = true;
    readings[1].pid_running = 0;
    CHECK(judge_ranks(readings, 0, false)[1].text ==
          "rank 1 never joined (its heartbeat file, 3600.0 s old, was left by an earlier run)");
    // Once every rank joined, the same file is one that stopped.
    CHECK(judge_ranks(readings, 0, true)[1].liveness == Liveness::kStopped);
    // An earlier run's final record, too, is no rank of this run.
    readings[1].text = format_heartbeat(record(1, RankState::kTimedOut));
    CHECK(judge_ranks(readings, 0, false)[1].liveness == Liveness::kNeverJoined);
    readings[1].text = format_heartbeat(record(1));
    // A fresh record of a running process is alive whenever its file was first written.
    readings[1].age_s = 0.5;
    readings[1].pid_running = 1;
    CHECK(judge_ranks(readings, 0, false)[1].liveness == Liveness::kAlive);
}

TEST_CASE("final records: a failed rank is lost, one that timed out too is not") {
    std::vector<RankReading> readings = {fresh(0), fresh(1), fresh(2)};
    readings[1].text = format_heartbeat(record(1, RankState::kTimedOut, "NCCL initialisation"));
    readings[1].age_s = 30;  // final records are never rewritten: their age does not matter
    readings[2].text = format_heartbeat(record(2, RankState::kFailed));
    const std::vector<RankVerdict> v = judge_ranks(readings, 0, true);
    CHECK(v[1].liveness == Liveness::kTimedOut);
    CHECK_FALSE(is_lost(v[1].liveness));
    CHECK(v[2].liveness == Liveness::kFailed);
    CHECK(is_lost(v[2].liveness));
    CHECK(describe_ranks(v) ==
          "rank 2 failed in shuffle pass 3 (see its own error); rank 1 timed out too in NCCL initialisation");
    readings[2] = fresh(2);
    CHECK(describe_ranks(judge_ranks(readings, 0, true)) ==
          "no rank lost; rank 1 timed out too in NCCL initialisation; rank 2 alive");
}

TEST_CASE("garbage and another rank's record are unknown, not alive and not lost") {
    std::vector<RankReading> readings = {fresh(0), fresh(1), fresh(2), fresh(3)};
    readings[1].text = "\x01garbage\n";
    readings[2].text =
        format_heartbeat(record(7));  // a record of rank 7 (outside the world) in rank 2's file
    const std::vector<RankVerdict> v = judge_ranks(readings, 0, false);
    CHECK(v[1].liveness == Liveness::kUnreadable);
    CHECK(v[1].text == "rank 1 unknown (heartbeat file holds \"\\x01garbage\\x0a\")");
    CHECK(v[2].liveness == Liveness::kUnreadable);
    CHECK_FALSE(is_lost(v[2].liveness));
    CHECK(describe_ranks(v).rfind("no rank lost; rank 1 unknown", 0) == 0);
    CHECK(describe_ranks(v).find("; rank 3 alive") != std::string::npos);
}

TEST_CASE("several alive ranks are listed together") {
    const std::vector<RankReading> readings = {fresh(0), fresh(1), RankReading{}, fresh(3)};
    CHECK(describe_ranks(judge_ranks(readings, 1, false)) ==
          "rank 2 never joined (no heartbeat file); ranks 0, 3 alive");
}

}  // namespace
}  // namespace eplb
