// Which ranks a one-process-per-GPU shuffle lost when a phase times out, judged from the heartbeat
// records every rank keeps beside the id file (cuda/rank_heartbeat.h writes and reads the files).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace eplb {

// The state a rank's heartbeat record gives. A running rank rewrites its record every beat; the
// others are final records: kDone is removed at once, kTimedOut and kFailed stay for the peers.
enum class RankState { kRunning, kDone, kTimedOut, kFailed };

// One rank's heartbeat file: one line,
// "eplb-heartbeat rank=2 pid=1234 host=gpu1 beat=17 state=running phase=shuffle pass 3".
struct Heartbeat {
    int rank = -1;
    int64_t pid = 0;
    std::string host;
    int64_t beat = 0;  // counts the writes while the rank runs
    RankState state = RankState::kRunning;
    std::string phase;  // the phase the rank's watchdog last started; last, as it holds spaces
};

std::string format_heartbeat(const Heartbeat& h);
// The record in `text`, or nullopt when it is not one (a partial write, another file).
std::optional<Heartbeat> parse_heartbeat(std::string_view text);

// What the judging rank saw of one rank's heartbeat file.
struct RankReading {
    bool present = false;   // the file exists
    std::string text;       // its contents
    double age_s = 0;       // since it was last written (file times: the judge's own file is now)
    bool predates = false;  // last written before the judging rank wrote its first record
    int pid_running = -1;   // its pid on the judging rank's host: 1 running, 0 gone; -1 not known
};

enum class Liveness {
    kSelf,
    kAlive,
    kNeverJoined,  // no file (or one left by an earlier run) before every rank joined
    kExited,       // no file after every rank joined, or a kDone record
    kStopped,      // a running record not rewritten for longer than the stale limit
    kFailed,       // its own error ended it
    kTimedOut,     // its own watchdog fired: a survivor too, not a lost rank
    kUnreadable,   // a file that is no heartbeat record of this rank
};

inline bool is_lost(Liveness l) {
    return l == Liveness::kNeverJoined || l == Liveness::kExited || l == Liveness::kStopped ||
           l == Liveness::kFailed;
}

struct RankVerdict {
    int rank = 0;
    Liveness liveness = Liveness::kAlive;
    std::string text;  // "rank 3 never joined (no heartbeat file)"
};

// A running record older than this is a rank that stopped (it rewrites its record every 0.5 s), as
// is one whose process the judge sees gone.
inline constexpr double kHeartbeatStaleSeconds = 2.0;

// One verdict per rank of the world (readings[r] is rank r's file). `all_joined`: NCCL's
// initialisation finished, so every rank once ran and a missing file means one that left.
std::vector<RankVerdict> judge_ranks(const std::vector<RankReading>& readings, int self_rank,
                                     bool all_joined);

// One line: the lost ranks first, then the unknown and timed-out ones, then the ranks alive
// ("ranks 0, 2 alive"); "every rank alive: NCCL itself is stuck" when no other rank is lost or
// unknown.
std::string describe_ranks(const std::vector<RankVerdict>& verdicts);

}  // namespace eplb
