// The GPUs and communicators of a device shuffle (see shuffle_world.h), and the watchdog that
// aborts the communicators when a phase hangs.
#include "cuda/shuffle_world.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

#include "cuda/device_shuffle.h"
#include "cuda/nccl_check.h"
#include "eplb/error.h"

namespace eplb {

int visible_cuda_devices(std::string* why) {
    int n = 0;
    const cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess) {
        (void)cudaGetLastError();
        if (why) *why = std::string("no usable CUDA device (") + cudaGetErrorString(err) + ")";
        return 0;
    }
    if (n == 0 && why) *why = "no CUDA device";
    return n;
}

namespace cuda {

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string gib(int64_t bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(bytes) / (1 << 30));
    return buf;
}

Watchdog::Watchdog(double timeout_s) : timeout_s_(timeout_s) {
    if (timeout_s_ > 0) thread_ = std::thread([this] { loop(); });
}

Watchdog::~Watchdog() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void Watchdog::phase(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    phase_ = name;
    deadline_ =
        Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s_));
    armed_ = true;
    if (heartbeat_) heartbeat_->set_phase(name);
    cv_.notify_all();
}

void Watchdog::set_comms(const std::vector<ncclComm_t>& comms) {
    std::lock_guard<std::mutex> lock(mu_);
    comms_ = comms;
}

void Watchdog::watch_ranks(const std::string& id_file, int rank, int world_size) {
    auto heartbeat = std::make_unique<HeartbeatWriter>(id_file, rank);
    std::lock_guard<std::mutex> lock(mu_);
    heartbeat->set_phase(phase_);
    heartbeat_ = std::move(heartbeat);
    id_file_ = id_file;
    rank_ = rank;
    world_size_ = world_size;
}

void Watchdog::all_joined() {
    std::lock_guard<std::mutex> lock(mu_);
    all_joined_ = true;
}

void Watchdog::finish(bool clean) {
    HeartbeatWriter* heartbeat = nullptr;
    {
        std::lock_guard<std::mutex> lock(mu_);
        heartbeat = heartbeat_.get();
    }
    // Outside the lock: this reads and writes files. When the watchdog fired first, it has named the
    // lost ranks and its timed_out record stays.
    if (!heartbeat || heartbeat->finished()) return;
    if (!clean) {
        // An error ended the run (NCCL reporting a dead peer, say): name the ranks lost, if any.
        const std::vector<RankVerdict> verdicts =
            judge_world(*heartbeat, id_file_, rank_, world_size_, all_joined_);
        if (std::any_of(verdicts.begin(), verdicts.end(),
                        [](const RankVerdict& v) { return is_lost(v.liveness); })) {
            std::fprintf(stderr, "error: eplb shuffle: %s\n", describe_ranks(verdicts).c_str());
            std::fflush(stderr);
        }
    }
    heartbeat->finish(clean ? RankState::kDone : RankState::kFailed);
}

void Watchdog::loop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
        if (stop_) return;
        if (!armed_) {
            cv_.wait(lock);
            continue;
        }
        const Clock::time_point deadline = deadline_;
        if (cv_.wait_until(lock, deadline, [&] { return stop_ || deadline_ != deadline; })) continue;
        fire(lock);
    }
}

// Never returns. The heartbeat files and the abort are handled in the background, for neither a
// hung file system nor a hung NCCL may keep the process: it exits after 10 s anyway.
void Watchdog::fire(std::unique_lock<std::mutex>& lock) {
    std::fprintf(stderr,
                 "error: eplb shuffle: %s did not finish within --timeout %.0f s; aborting the NCCL "
                 "communicators (a peer process missing, a hung link or GPU?)\n",
                 phase_.c_str(), timeout_s_);
    std::fflush(stderr);
    const std::vector<ncclComm_t> comms = comms_;
    HeartbeatWriter* heartbeat = heartbeat_.get();  // lives on: ~Watchdog waits for this thread
    const std::string id_file = id_file_;
    const int rank = rank_, world_size = world_size_;
    const bool joined = all_joined_;
    auto done = std::make_shared<std::atomic<bool>>(false);
    std::thread([=] {
        if (heartbeat) {
            // The lost ranks before the abort: this rank's "timed_out" record must come before an
            // aborted NCCL call can make the main thread leave "failed".
            const std::string lost = describe_world(*heartbeat, id_file, rank, world_size, joined);
            std::fprintf(stderr, "error: eplb shuffle: %s\n", lost.c_str());
            std::fflush(stderr);
            heartbeat->finish(RankState::kTimedOut);
        }
        for (ncclComm_t c : comms) {
            if (c) ncclCommAbort(c);
        }
        *done = true;
    }).detach();
    lock.unlock();
    for (int i = 0; i < 1000 && !*done; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::_Exit(static_cast<int>(ErrorKind::kDevice));
}

ShuffleWorld::ShuffleWorld(const ShuffleRunOptions& options, int num_gpus)
    : watchdog(options.timeout_s), multi(options.world_size > 0), opt_(options), num_gpus_(num_gpus) {}

ShuffleWorld::~ShuffleWorld() {
    // Nothing is pending once a run ends. One process driving several communicators would have
    // to group their (collective) finalisation; aborting tears them down without it. One
    // communicator per process is destroyed normally after a clean run.
    for (ncclComm_t c : comms) {
        if (!c) continue;
        if (clean && multi) {
            ncclCommDestroy(c);
        } else {
            ncclCommAbort(c);
        }
    }
    for (Gpu& g : gpus) {
        cudaSetDevice(g.device);
        for (auto* list : {&g.step_ready, &g.step_done, &g.marks}) {
            for (cudaEvent_t e : *list) {
                if (e) cudaEventDestroy(e);
            }
        }
        for (void* ptr :
             {static_cast<void*>(g.slots), static_cast<void*>(g.staging), static_cast<void*>(g.old_experts),
              static_cast<void*>(g.new_experts), static_cast<void*>(g.wrong)}) {
            if (ptr) cudaFree(ptr);
        }
        if (g.net) cudaStreamDestroy(g.net);
        if (g.loc) cudaStreamDestroy(g.loc);
    }
    if (barrier_buf_) cudaFree(barrier_buf_);
    watchdog.finish(clean);
}

std::vector<int> ShuffleWorld::choose_devices() {
    const int p = num_gpus_;
    // NVLink SHARP (multicast) stays off: point-to-point does not use it and it costs memory.
    setenv("NCCL_NVLS_ENABLE", "0", 0);
    std::string why;
    const int visible = visible_cuda_devices(&why);
    if (visible == 0) EPLB_FAIL_KIND(ErrorKind::kDevice, "eplb shuffle needs CUDA GPUs: " << why);
    NCCL_CHECK(ncclGetVersion(&nccl_version));
    std::vector<int> devices;
    if (multi) {
        EPLB_CHECK(opt_.world_size == p, "the placement has " << p << " GPUs but the world has "
                                                              << opt_.world_size << " processes");
        EPLB_CHECK(opt_.rank >= 0 && opt_.rank < p, "rank " << opt_.rank << " outside [0, " << p << ")");
        const int dev = opt_.device >= 0 ? opt_.device : opt_.rank % visible;
        if (dev >= visible)
            EPLB_FAIL_KIND(ErrorKind::kDevice, "rank " << opt_.rank << " wants CUDA device " << dev
                                                       << " but this process sees " << visible);
        devices.push_back(dev);
        return devices;
    }
    if (p > visible && opt_.devices.empty())
        EPLB_FAIL_KIND(ErrorKind::kDevice, "the placement needs " << p << " GPUs but this process sees "
                                                                  << visible
                                                                  << " (check CUDA_VISIBLE_DEVICES, --gpus)");
    devices = opt_.devices;
    if (devices.empty()) {
        for (int q = 0; q < p; ++q) devices.push_back(q);
    }
    if (static_cast<int>(devices.size()) != p)
        EPLB_FAIL_KIND(ErrorKind::kDevice,
                       "the placement needs " << p << " GPUs but --gpus names " << devices.size());
    std::vector<int> sorted = devices;
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 0; i < sorted.size(); ++i) {
        if (sorted[i] < 0 || sorted[i] >= visible)
            EPLB_FAIL_KIND(ErrorKind::kDevice, "CUDA device " << sorted[i]
                                                              << " does not exist (this process sees "
                                                              << visible << ")");
        if (i > 0 && sorted[i] == sorted[i - 1])
            EPLB_FAIL_KIND(ErrorKind::kDevice, "CUDA device " << sorted[i] << " is named twice in --gpus");
    }
    return devices;
}

void ShuffleWorld::open_devices(const std::vector<int>& devices) {
    for (size_t i = 0; i < devices.size(); ++i) {
        Gpu g;
        g.q = multi ? opt_.rank : static_cast<int>(i);
        g.device = devices[i];
        CUDA_CHECK(cudaSetDevice(g.device));
        CUDA_CHECK(cudaStreamCreateWithFlags(&g.net, cudaStreamNonBlocking));
        CUDA_CHECK(cudaStreamCreateWithFlags(&g.loc, cudaStreamNonBlocking));
        gpus.push_back(std::move(g));
    }
    cudaDeviceProp prop{};
    CUDA_CHECK(cudaGetDeviceProperties(&prop, gpus[0].device));
    device_name = prop.name;
    // Peer access for the copy-engine transport and the copy-engine peak.
    peer_ok = !multi && num_gpus_ > 1;
    for (Gpu& a : gpus) {
        if (multi) break;
        for (const Gpu& b : gpus) {
            if (a.device == b.device) continue;
            int can = 0;
            CUDA_CHECK(cudaDeviceCanAccessPeer(&can, a.device, b.device));
            if (!can) {
                peer_ok = false;
                continue;
            }
            CUDA_CHECK(cudaSetDevice(a.device));
            const cudaError_t err = cudaDeviceEnablePeerAccess(b.device, 0);
            if (err == cudaErrorPeerAccessAlreadyEnabled) {
                (void)cudaGetLastError();
            } else {
                CUDA_CHECK(err);
            }
        }
    }
}

void ShuffleWorld::init_communicators(const std::vector<int>& devices) {
    const int p = num_gpus_;
    watchdog.phase("NCCL initialisation");
    if (multi) {
        EPLB_CHECK(!opt_.id_file.empty(), "one process per GPU needs --id-file");
        watchdog.watch_ranks(opt_.id_file, opt_.rank, p);
        ncclUniqueId id{};
        exchange_id(id);
        ncclComm_t comm = nullptr;
        CUDA_CHECK(cudaSetDevice(gpus[0].device));
        NCCL_CHECK(ncclCommInitRank(&comm, p, id, opt_.rank));
        comms.push_back(comm);
        watchdog.all_joined();
        if (opt_.rank == 0) std::filesystem::remove(opt_.id_file);
        CUDA_CHECK(cudaMalloc(&barrier_buf_, sizeof(float)));
    } else {
        comms.assign(p, nullptr);
        NCCL_CHECK(ncclCommInitAll(comms.data(), p, devices.data()));
    }
    watchdog.set_comms(comms);
}

// Rank 0 writes NCCL's unique id to the file (atomically: write, then rename); the others poll.
void ShuffleWorld::exchange_id(ncclUniqueId& id) {
    namespace fs = std::filesystem;
    if (opt_.rank == 0) {
        if (fs::exists(opt_.id_file))
            EPLB_FAIL_KIND(ErrorKind::kDevice, "id file "
                                                   << opt_.id_file
                                                   << " exists already (left by an earlier run?): remove it");
        NCCL_CHECK(ncclGetUniqueId(&id));
        const std::string tmp = opt_.id_file + ".tmp." + std::to_string(getpid());
        {
            std::ofstream out(tmp, std::ios::binary);
            out.write(reinterpret_cast<const char*>(&id), sizeof id);
            if (!out) EPLB_FAIL_KIND(ErrorKind::kDevice, "cannot write the id file " << tmp);
        }
        fs::rename(tmp, opt_.id_file);
        return;
    }
    for (;;) {
        std::error_code ec;
        if (fs::exists(opt_.id_file, ec) && fs::file_size(opt_.id_file, ec) == sizeof id) {
            std::ifstream in(opt_.id_file, std::ios::binary);
            in.read(reinterpret_cast<char*>(&id), sizeof id);
            if (in) return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

void ShuffleWorld::sync_all() {
    for (Gpu& g : gpus) {
        CUDA_CHECK(cudaSetDevice(g.device));
        for (cudaStream_t stream : {g.net, g.loc}) {
            if (stream) CUDA_CHECK(cudaStreamSynchronize(stream));
        }
    }
}

void ShuffleWorld::barrier() {
    sync_all();
    if (!multi) return;
    NCCL_CHECK(ncclAllReduce(barrier_buf_, barrier_buf_, 1, ncclFloat, ncclSum, comms[0], gpus[0].net));
    CUDA_CHECK(cudaStreamSynchronize(gpus[0].net));
}

double ShuffleWorld::max_over_ranks(double t) {
    if (!multi) return t;
    std::vector<double> all = gather_doubles({t});
    return *std::max_element(all.begin(), all.end());
}

std::vector<double> ShuffleWorld::gather_doubles(const std::vector<double>& mine) {
    const size_t n = mine.size(), p = static_cast<size_t>(num_gpus_);
    double* buf = nullptr;
    CUDA_CHECK(cudaMalloc(&buf, n * (p + 1) * sizeof(double)));
    CUDA_CHECK(cudaMemcpy(buf, mine.data(), n * sizeof(double), cudaMemcpyHostToDevice));
    NCCL_CHECK(ncclAllGather(buf, buf + n, n, ncclDouble, comms[0], gpus[0].net));
    CUDA_CHECK(cudaStreamSynchronize(gpus[0].net));
    std::vector<double> all(n * p);
    CUDA_CHECK(cudaMemcpy(all.data(), buf + n, n * p * sizeof(double), cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaFree(buf));
    return all;
}

void ShuffleWorld::check_memory(const Gpu& g, int64_t need, const std::string& what) {
    CUDA_CHECK(cudaSetDevice(g.device));
    size_t free_b = 0, total_b = 0;
    CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    const int64_t margin = int64_t{256} << 20;
    if (need + margin > static_cast<int64_t>(free_b)) {
        EPLB_FAIL_KIND(ErrorKind::kDevice, "out of GPU memory: GPU "
                                               << g.q << " (CUDA device " << g.device << ") needs "
                                               << gib(need) << " for " << what << " but has " << gib(free_b)
                                               << " free of " << gib(total_b)
                                               << "; lower --layers, --layers-in-flight "
                                                  "(staging) or --expert-bytes");
    }
}

}  // namespace cuda
}  // namespace eplb
