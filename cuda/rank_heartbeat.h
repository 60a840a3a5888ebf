// Heartbeat files of a one-process-per-GPU shuffle: each rank rewrites "<id-file>.rank<R>" every
// 0.5 s from a thread, so that a rank whose phase timed out can name the ranks it lost
// (eplb/rank_liveness.h judges). Plain C++ (no CUDA): the unit tests compile it without CUDA.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "eplb/rank_liveness.h"

namespace eplb::cuda {

inline constexpr double kHeartbeatPeriodSeconds = 0.5;

std::string heartbeat_path(const std::string& id_file, int rank);  // "<id_file>.rank<R>"
std::string this_host();                                           // gethostname, "?" if it fails
// 1: `pid` runs on this host (or exists and belongs to another user); 0: no such process.
int pid_running(int64_t pid);

// This rank's heartbeat: the first record is written by the constructor (throws kDevice naming
// the file when it cannot be written), then one every period from a thread. Records are written
// to a temporary file and renamed, so a reader sees a whole record or the previous one.
class HeartbeatWriter {
  public:
    HeartbeatWriter(const std::string& id_file, int rank, double period_s = kHeartbeatPeriodSeconds);
    ~HeartbeatWriter();  // finish(kFailed) unless finished: an exception ended the run
    HeartbeatWriter(const HeartbeatWriter&) = delete;
    HeartbeatWriter& operator=(const HeartbeatWriter&) = delete;

    void set_phase(const std::string& phase);
    // Writes a record now (the judge's own file is the file system's clock).
    void beat_now();
    // Stops the beats and leaves the final state: kDone removes the file; kTimedOut and kFailed
    // stay as the record the peers read (a later run overwrites them). The first call wins.
    void finish(RankState state);
    bool finished();

    const std::string& path() const { return path_; }
    // When the first record was written, by the file system's clock.
    std::filesystem::file_time_type first_written() const { return first_written_; }

  private:
    void write_file(const std::string& text);  // io_mu_ held
    void loop();

    std::string path_;
    double period_s_;
    std::filesystem::file_time_type first_written_;
    // mu_ (held briefly) guards the record; io_mu_ (held across the file's I/O) orders the writes,
    // so that setting the phase never waits on a slow file system.
    std::mutex mu_, io_mu_;
    std::condition_variable cv_;
    Heartbeat record_;
    bool finished_ = false;
    std::thread thread_;
};

// What rank `self_rank` sees of the heartbeat files of ranks 0..world_size-1 beside `id_file`
// (other files, a rank outside the world among them, are never read): ages against `now` (the
// judge's own file, just rewritten), `self_start` its first record, pids checked on this host.
std::vector<RankReading> read_heartbeats(const std::string& id_file, int world_size,
                                         std::filesystem::file_time_type now,
                                         std::filesystem::file_time_type self_start);

// Writes this rank's record (its file's time is the file system's clock), reads every rank's and
// judges them.
std::vector<RankVerdict> judge_world(HeartbeatWriter& self, const std::string& id_file, int self_rank,
                                     int world_size, bool all_joined);
// The line a rank whose phase timed out prints: "rank 3 never joined (no heartbeat file); ranks 0,
// 1 alive".
std::string describe_world(HeartbeatWriter& self, const std::string& id_file, int self_rank, int world_size,
                           bool all_joined);

}  // namespace eplb::cuda
