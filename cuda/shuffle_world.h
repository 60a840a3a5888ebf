// The GPUs one device shuffle runs on: which CUDA devices (one process driving every GPU, or one
// process per GPU), their streams, buffers and events, peer access, the NCCL communicators, the
// barrier and gathers across processes, and the watchdog. Internal to cuda/ (CUDA and NCCL headers).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <cuda_runtime.h>
#include <nccl.h>

#include "cuda/rank_heartbeat.h"
#include "eplb/shuffle_run.h"

namespace eplb::cuda {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0);
std::string gib(int64_t bytes);  // "1.00 GiB"

// Aborts the communicators and exits with 4 when a phase outlives the timeout: a hung peer or NCCL
// operation must not hang the tool. With one process per GPU it first names the ranks lost, from
// the heartbeat files every rank keeps beside the id file.
class Watchdog {
  public:
    explicit Watchdog(double timeout_s);
    ~Watchdog();
    void phase(const std::string& name);  // starts the clock of the named phase
    void set_comms(const std::vector<ncclComm_t>& comms);
    // One process per GPU: writes this rank's heartbeat file from now on.
    void watch_ranks(const std::string& id_file, int rank, int world_size);
    void all_joined();  // NCCL's initialisation finished: a missing heartbeat file is a rank that left
    // The run ended: removes the heartbeat file when clean, else leaves the record "failed".
    void finish(bool clean);

  private:
    void loop();
    void fire(std::unique_lock<std::mutex>& lock);

    double timeout_s_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::thread thread_;
    std::string phase_;
    Clock::time_point deadline_;
    bool armed_ = false;
    bool stop_ = false;
    std::vector<ncclComm_t> comms_;
    std::unique_ptr<HeartbeatWriter> heartbeat_;  // one process per GPU
    std::string id_file_;
    int rank_ = 0;
    int world_size_ = 0;
    bool all_joined_ = false;
};

// One GPU this process drives. Two streams: `net` runs the plan's steps, `loc` the local copies.
struct Gpu {
    int q = 0;       // plan GPU
    int device = 0;  // CUDA device
    cudaStream_t net = nullptr, loc = nullptr;
    uint8_t* slots = nullptr;
    uint8_t* staging = nullptr;
    int32_t* old_experts = nullptr;  // [L·k]
    int32_t* new_experts = nullptr;
    unsigned long long* wrong = nullptr;  // [L]
    std::vector<cudaEvent_t> step_ready;  // [S] copy-engine barrier
    std::vector<cudaEvent_t> step_done;   // [S]
    std::vector<cudaEvent_t> marks;       // [local copies] recorded after copies a step waits for
    size_t next_local = 0;                // first local copy not enqueued yet in this pass
    int waited_step = -1;                 // last step the local stream waits for in this pass
};

// The GPUs and communicators of one run; frees everything it and the harness allocated on them.
// The watchdog is its first member: it outlives the teardown, which it guards as phase "shutdown".
class ShuffleWorld {
  public:
    ShuffleWorld(const ShuffleRunOptions& options, int num_gpus);
    ~ShuffleWorld();

    // The CUDA device of each plan GPU this process drives, checked against the visible devices.
    std::vector<int> choose_devices();
    // Streams on each device; peer access between every two where all pairs have it (peer_ok).
    void open_devices(const std::vector<int>& devices);
    // The NCCL communicators (one process per GPU: the unique id passes through the id file).
    void init_communicators(const std::vector<int>& devices);
    // Every GPU here is idle; with one process per GPU, every process has reached this point.
    void barrier();
    // One process per GPU: the largest t of all ranks; else t.
    double max_over_ranks(double t);
    // One process per GPU: every rank's values, rank by rank (the same count on each).
    std::vector<double> gather_doubles(const std::vector<double>& mine);
    // Throws kDevice naming the GPU, the need and what to lower when `need` bytes do not fit.
    void check_memory(const Gpu& g, int64_t need, const std::string& what);

    Watchdog watchdog;
    const bool multi;  // one process per GPU
    std::vector<Gpu> gpus;
    std::vector<ncclComm_t> comms;  // [gpus]
    bool peer_ok = false;           // one process, peer access between every two GPUs
    int nccl_version = 0;
    std::string device_name;
    bool clean = false;  // the run ended normally: communicators may be destroyed, not aborted

  private:
    void exchange_id(ncclUniqueId& id);
    void sync_all();

    ShuffleRunOptions opt_;
    int num_gpus_;
    float* barrier_buf_ = nullptr;
};

}  // namespace eplb::cuda
