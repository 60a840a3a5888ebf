// The device executor of the shuffle. Per GPU two streams: `net` runs the plan's steps (NCCL groups
// of at most group_size sends and receives, or copy-engine pushes behind a barrier of events), `loc`
// runs the local copies, each waiting for the step it depends on; the steps wait for the local
// copies the plan names (staging reuse). One thread drives every local GPU.
#include "cuda/nccl_shuffle.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include <cuda_runtime.h>
#include <nccl.h>

#include "cuda/nccl_check.h"
#include "cuda/shuffle_kernels.h"
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

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Median of the runs after the first two (warm-up), as baselines/p2p_peak.py does.
double settled_median(std::vector<double> t) {
    t.erase(t.begin(), t.begin() + std::min<size_t>(2, t.size() - 1));
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

// Aborts the communicators and exits with 4 when a phase outlives the timeout: a hung peer or NCCL
// operation must not hang the tool.
class Watchdog {
  public:
    explicit Watchdog(double timeout_s) : timeout_s_(timeout_s) {
        if (timeout_s_ > 0) thread_ = std::thread([this] { loop(); });
    }
    ~Watchdog() {
        {
            std::lock_guard<std::mutex> lock(mu_);
            stop_ = true;
        }
        cv_.notify_all();
        if (thread_.joinable()) thread_.join();
    }
    void phase(const std::string& name) {
        std::lock_guard<std::mutex> lock(mu_);
        phase_ = name;
        deadline_ = Clock::now() +
                    std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s_));
        armed_ = true;
        cv_.notify_all();
    }
    void set_comms(const std::vector<ncclComm_t>& comms) {
        std::lock_guard<std::mutex> lock(mu_);
        comms_ = comms;
    }

  private:
    void loop() {
        std::unique_lock<std::mutex> lock(mu_);
        for (;;) {
            if (stop_) return;
            if (!armed_) {
                cv_.wait(lock);
                continue;
            }
            const Clock::time_point deadline = deadline_;
            if (cv_.wait_until(lock, deadline, [&] { return stop_ || deadline_ != deadline; })) continue;
            std::fprintf(stderr,
                         "error: eplb shuffle: %s did not finish within --timeout %.0f s; aborting the NCCL "
                         "communicators (a peer process missing, a hung link or GPU?)\n",
                         phase_.c_str(), timeout_s_);
            std::fflush(stderr);
            const std::vector<ncclComm_t> comms = comms_;
            // Abort in the background: if even that hangs, exit after 10 s anyway.
            auto done = std::make_shared<std::atomic<bool>>(false);
            std::thread([comms, done] {
                for (ncclComm_t c : comms) {
                    if (c) ncclCommAbort(c);
                }
                *done = true;
            }).detach();
            lock.unlock();
            for (int i = 0; i < 1000 && !*done; ++i)
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            std::_Exit(static_cast<int>(ErrorKind::kDevice));
        }
    }

    double timeout_s_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::thread thread_;
    std::string phase_;
    Clock::time_point deadline_;
    bool armed_ = false;
    bool stop_ = false;
    std::vector<ncclComm_t> comms_;
};

int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

std::string gib(int64_t bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(bytes) / (1 << 30));
    return buf;
}

// One GPU this process drives.
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
    // Packed NCCL transport: contiguous send and receive blocks (2 x pack experts each, alternating
    // with the chunk index), their streams, and per chunk: packed, moved, scattered.
    cudaStream_t pack = nullptr, unpack = nullptr;
    uint8_t* send_block = nullptr;
    uint8_t* recv_block = nullptr;
    std::vector<cudaEvent_t> packed, moved, scattered;  // [chunks]
    size_t next_local = 0;
    int waited_step = -1;
};

class Runner {
  public:
    Runner(const TransferPlan& plan, const ShuffleRunOptions& opt)
        : plan_(plan),
          opt_(opt),
          watchdog_(opt.timeout_s),
          multi_(opt.world_size > 0),
          transport_(opt.transport) {}

    ~Runner() {
        // Nothing is pending once a run ends. One process driving several communicators would have
        // to group their (collective) finalisation; aborting tears them down without it. One
        // communicator per process is destroyed normally after a clean run.
        for (ncclComm_t c : comms_) {
            if (!c) continue;
            if (clean_ && multi_) {
                ncclCommDestroy(c);
            } else {
                ncclCommAbort(c);
            }
        }
        for (Gpu& g : gpus_) {
            cudaSetDevice(g.device);
            for (auto* list : {&g.step_ready, &g.step_done, &g.marks, &g.packed, &g.moved, &g.scattered}) {
                for (cudaEvent_t e : *list) {
                    if (e) cudaEventDestroy(e);
                }
            }
            for (void* ptr : {static_cast<void*>(g.slots), static_cast<void*>(g.staging),
                              static_cast<void*>(g.old_experts), static_cast<void*>(g.new_experts),
                              static_cast<void*>(g.wrong), static_cast<void*>(g.send_block),
                              static_cast<void*>(g.recv_block)}) {
                if (ptr) cudaFree(ptr);
            }
            if (g.net) cudaStreamDestroy(g.net);
            if (g.loc) cudaStreamDestroy(g.loc);
            if (g.pack) cudaStreamDestroy(g.pack);
            if (g.unpack) cudaStreamDestroy(g.unpack);
        }
        if (barrier_buf_) cudaFree(barrier_buf_);
    }

    ShuffleRunResult run() {
        init();
        ShuffleRunResult res;
        res.nccl_version = nccl_version_;
        res.transport = transport_;
        res.nccl_p2p_chunk = nccl_p2p_chunk_;
        res.device_name = device_name_;
        for (const Gpu& g : gpus_) res.devices.push_back(g.device);
        if (opt_.peak_bytes > 0) measure_peaks(res);
        allocate();
        res.weight_bytes_per_gpu = weight_bytes_;
        res.staging_bytes.assign(plan_.num_gpus, 0);
        for (int q = 0; q < plan_.num_gpus; ++q)
            res.staging_bytes[q] = plan_.stats.gpus[q].staging_buffers * stride_;
        res.wrong.assign(plan_.num_gpus, std::vector<int64_t>(plan_.num_layers, 0));
        const int g_size = std::max(1, opt_.group_size);
        for (const Step& st : plan_.steps) {
            res.nccl_groups += (st.length + g_size - 1) / g_size;
            res.max_ops_per_group = std::max<int64_t>(res.max_ops_per_group, 2 * std::min(st.length, g_size));
        }
        if (transport_ == ShuffleTransport::kCopyEngine) res.nccl_groups = res.max_ops_per_group = 0;
        if (pack_ > 0) {
            res.nccl_pack = pack_;
            res.nccl_groups = num_chunks_;
            res.max_ops_per_group = 2;
            res.pack_bytes_per_gpu = 4 * pack_ * stride_;
        }
        std::vector<double> times;
        for (int pass = 0; pass <= opt_.repeat; ++pass) {
            watchdog_.phase("shuffle pass " + std::to_string(pass));
            times.push_back(one_pass(res));
        }
        if (multi_) times = gather(times, res);
        res.warmup_seconds = times[0];
        res.pass_seconds.assign(times.begin() + 1, times.end());
        for (const auto& row : res.wrong) {
            for (int64_t w : row) res.wrong_total += w;
        }
        watchdog_.phase("shutdown");
        clean_ = true;
        return res;
    }

  private:
    void init() {
        const int p = plan_.num_gpus;
        // NVLink SHARP (multicast) stays off: point-to-point does not use it and it costs memory.
        setenv("NCCL_NVLS_ENABLE", "0", 0);
        std::string why;
        const int visible = visible_cuda_devices(&why);
        if (visible == 0) EPLB_FAIL_KIND(ErrorKind::kDevice, "eplb shuffle needs CUDA GPUs: " << why);
        NCCL_CHECK(ncclGetVersion(&nccl_version_));
        std::vector<int> devices;
        if (multi_) {
            EPLB_CHECK(opt_.world_size == p, "the placement has " << p << " GPUs but the world has "
                                                                  << opt_.world_size << " processes");
            EPLB_CHECK(opt_.rank >= 0 && opt_.rank < p, "rank " << opt_.rank << " outside [0, " << p << ")");
            const int dev = opt_.device >= 0 ? opt_.device : opt_.rank % visible;
            if (dev >= visible)
                EPLB_FAIL_KIND(ErrorKind::kDevice, "rank " << opt_.rank << " wants CUDA device " << dev
                                                           << " but this process sees " << visible);
            devices.push_back(dev);
        } else {
            if (p > visible && opt_.devices.empty())
                EPLB_FAIL_KIND(ErrorKind::kDevice, "the placement needs "
                                                       << p << " GPUs but this process sees " << visible
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
                    EPLB_FAIL_KIND(ErrorKind::kDevice,
                                   "CUDA device " << sorted[i] << " is named twice in --gpus");
            }
        }
        if (opt_.transport == ShuffleTransport::kCopyEngine && multi_)
            EPLB_FAIL("--transport ce needs one process driving every GPU (no --rank/--world-size)");
        for (size_t i = 0; i < devices.size(); ++i) {
            Gpu g;
            g.q = multi_ ? opt_.rank : static_cast<int>(i);
            g.device = devices[i];
            CUDA_CHECK(cudaSetDevice(g.device));
            CUDA_CHECK(cudaStreamCreateWithFlags(&g.net, cudaStreamNonBlocking));
            CUDA_CHECK(cudaStreamCreateWithFlags(&g.loc, cudaStreamNonBlocking));
            gpus_.push_back(std::move(g));
        }
        cudaDeviceProp prop{};
        CUDA_CHECK(cudaGetDeviceProperties(&prop, gpus_[0].device));
        device_name_ = prop.name;
        // Peer access for the copy-engine transport and the copy-engine peak.
        peer_ok_ = !multi_ && p > 1;
        for (Gpu& a : gpus_) {
            if (multi_) break;
            for (const Gpu& b : gpus_) {
                if (a.device == b.device) continue;
                int can = 0;
                CUDA_CHECK(cudaDeviceCanAccessPeer(&can, a.device, b.device));
                if (!can) {
                    peer_ok_ = false;
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
        if (opt_.transport == ShuffleTransport::kCopyEngine && !peer_ok_)
            EPLB_FAIL_KIND(ErrorKind::kDevice,
                           "--transport ce needs peer access between every two GPUs; use "
                           "--transport nccl");
        if (transport_ == ShuffleTransport::kAuto)
            transport_ = peer_ok_ ? ShuffleTransport::kCopyEngine : ShuffleTransport::kNccl;
        // The chunk size must be in the environment before NCCL reads its parameters (first init).
        pack_ = transport_ == ShuffleTransport::kNccl ? std::max(0, opt_.nccl_pack) : 0;
        const int64_t chunk = opt_.nccl_p2p_chunk >= 0                              ? opt_.nccl_p2p_chunk
                              : transport_ == ShuffleTransport::kNccl && pack_ == 0 ? 65536
                                                                                    : 0;
        if (chunk > 0) setenv("NCCL_P2P_NVL_CHUNKSIZE", std::to_string(chunk).c_str(), 0);
        const char* in_effect = std::getenv("NCCL_P2P_NVL_CHUNKSIZE");
        nccl_p2p_chunk_ = in_effect ? in_effect : "default";
        watchdog_.phase("NCCL initialisation");
        if (multi_) {
            ncclUniqueId id{};
            exchange_id(id);
            ncclComm_t comm = nullptr;
            CUDA_CHECK(cudaSetDevice(gpus_[0].device));
            NCCL_CHECK(ncclCommInitRank(&comm, p, id, opt_.rank));
            comms_.push_back(comm);
            if (opt_.rank == 0) std::filesystem::remove(opt_.id_file);
            CUDA_CHECK(cudaMalloc(&barrier_buf_, sizeof(float)));
        } else {
            comms_.assign(p, nullptr);
            NCCL_CHECK(ncclCommInitAll(comms_.data(), p, devices.data()));
        }
        watchdog_.set_comms(comms_);
        const size_t num_steps = plan_.steps.size();
        chunk_base_.assign(num_steps + 1, 0);
        for (size_t st = 0; st < num_steps; ++st) {
            const int len = plan_.steps[st].length;
            chunk_base_[st + 1] = chunk_base_[st] + (pack_ > 0 ? (len + pack_ - 1) / pack_ : 0);
        }
        num_chunks_ = pack_ > 0 ? chunk_base_[num_steps] : 0;
        for (Gpu& g : gpus_) {
            CUDA_CHECK(cudaSetDevice(g.device));
            g.step_ready.assign(num_steps, nullptr);
            g.step_done.assign(num_steps, nullptr);
            for (size_t s = 0; s < num_steps; ++s) {
                CUDA_CHECK(cudaEventCreateWithFlags(&g.step_ready[s], cudaEventDisableTiming));
                CUDA_CHECK(cudaEventCreateWithFlags(&g.step_done[s], cudaEventDisableTiming));
            }
            CUDA_CHECK(cudaStreamCreateWithFlags(&g.pack, cudaStreamNonBlocking));
            CUDA_CHECK(cudaStreamCreateWithFlags(&g.unpack, cudaStreamNonBlocking));
            for (auto* list : {&g.packed, &g.moved, &g.scattered}) {
                list->assign(num_chunks_, nullptr);
                for (cudaEvent_t& e : *list) CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
            }
            g.marks.assign(plan_.local[g.q].size(), nullptr);
            for (const Step& st : plan_.steps) {
                const int n = st.wait_local[g.q];
                if (n > 0 && !g.marks[n - 1])
                    CUDA_CHECK(cudaEventCreateWithFlags(&g.marks[n - 1], cudaEventDisableTiming));
            }
        }
    }

    // Rank 0 writes NCCL's unique id to the file (atomically: write, then rename); the others poll.
    void exchange_id(ncclUniqueId& id) {
        EPLB_CHECK(!opt_.id_file.empty(), "one process per GPU needs --id-file");
        namespace fs = std::filesystem;
        if (opt_.rank == 0) {
            if (fs::exists(opt_.id_file))
                EPLB_FAIL_KIND(
                    ErrorKind::kDevice,
                    "id file " << opt_.id_file << " exists already (left by an earlier run?): remove it");
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

    void sync_all() {
        for (Gpu& g : gpus_) {
            CUDA_CHECK(cudaSetDevice(g.device));
            for (cudaStream_t stream : {g.net, g.loc, g.pack, g.unpack}) {
                if (stream) CUDA_CHECK(cudaStreamSynchronize(stream));
            }
        }
    }

    // Every GPU here is idle; with one process per GPU, every process has reached this point.
    void barrier() {
        sync_all();
        if (!multi_) return;
        NCCL_CHECK(ncclAllReduce(barrier_buf_, barrier_buf_, 1, ncclFloat, ncclSum, comms_[0], gpus_[0].net));
        CUDA_CHECK(cudaStreamSynchronize(gpus_[0].net));
    }

    double max_over_ranks(double t) {
        if (!multi_) return t;
        std::vector<double> all = gather_doubles({t});
        return *std::max_element(all.begin(), all.end());
    }

    std::vector<double> gather_doubles(const std::vector<double>& mine) {
        const size_t n = mine.size(), p = static_cast<size_t>(plan_.num_gpus);
        double* buf = nullptr;
        CUDA_CHECK(cudaMalloc(&buf, n * (p + 1) * sizeof(double)));
        CUDA_CHECK(cudaMemcpy(buf, mine.data(), n * sizeof(double), cudaMemcpyHostToDevice));
        NCCL_CHECK(ncclAllGather(buf, buf + n, n, ncclDouble, comms_[0], gpus_[0].net));
        CUDA_CHECK(cudaStreamSynchronize(gpus_[0].net));
        std::vector<double> all(n * p);
        CUDA_CHECK(cudaMemcpy(all.data(), buf + n, n * p * sizeof(double), cudaMemcpyDeviceToHost));
        CUDA_CHECK(cudaFree(buf));
        return all;
    }

    void measure_peaks(ShuffleRunResult& res) {
        const int p = plan_.num_gpus;
        if (p < 2) return;
        const int64_t bytes = opt_.peak_bytes;
        for (Gpu& g : gpus_)
            check_memory(g, 2 * bytes, "the point-to-point peak buffers (2 x " + gib(bytes) + ")");
        std::vector<uint8_t*> a(gpus_.size()), b(gpus_.size());
        for (size_t i = 0; i < gpus_.size(); ++i) {
            CUDA_CHECK(cudaSetDevice(gpus_[i].device));
            CUDA_CHECK(cudaMalloc(&a[i], bytes));
            CUDA_CHECK(cudaMalloc(&b[i], bytes));
            CUDA_CHECK(cudaMemset(a[i], 1, bytes));
        }
        auto time_runs = [&](const std::function<void()>& enqueue) {
            std::vector<double> t;
            for (int it = 0; it < 7; ++it) {
                barrier();
                const Clock::time_point t0 = Clock::now();
                enqueue();
                barrier();
                t.push_back(max_over_ranks(seconds_since(t0)));
            }
            return settled_median(t);
        };
        watchdog_.phase("NCCL ring peak");
        const double ring = time_runs([&] {
            NCCL_CHECK(ncclGroupStart());
            for (size_t i = 0; i < gpus_.size(); ++i) {
                const int q = gpus_[i].q;
                NCCL_CHECK(ncclSend(a[i], bytes, ncclUint8, (q + 1) % p, comms_[i], gpus_[i].net));
                NCCL_CHECK(ncclRecv(b[i], bytes, ncclUint8, (q + p - 1) % p, comms_[i], gpus_[i].net));
            }
            NCCL_CHECK(ncclGroupEnd());
        });
        res.ring_peak = static_cast<double>(bytes) / ring;
        // The same ring in the executor's shape: expert-sized operations, group_size per group.
        const int64_t eb = plan_.expert_bytes, n = bytes / eb, gs = std::max(1, opt_.group_size);
        if (n > 0) {
            watchdog_.phase("NCCL chunked ring");
            const double chunked = time_runs([&] {
                for (int64_t c = 0; c < n; c += gs) {
                    NCCL_CHECK(ncclGroupStart());
                    for (size_t i = 0; i < gpus_.size(); ++i) {
                        const int q = gpus_[i].q;
                        for (int64_t j = c; j < std::min(n, c + gs); ++j) {
                            NCCL_CHECK(
                                ncclSend(a[i] + j * eb, eb, ncclUint8, (q + 1) % p, comms_[i], gpus_[i].net));
                            NCCL_CHECK(ncclRecv(b[i] + j * eb, eb, ncclUint8, (q + p - 1) % p, comms_[i],
                                                gpus_[i].net));
                        }
                    }
                    NCCL_CHECK(ncclGroupEnd());
                }
            });
            res.ring_chunked = static_cast<double>(n * eb) / chunked;
        }
        if (peer_ok_) {
            watchdog_.phase("copy-engine ring peak");
            const double ce = time_runs([&] {
                for (size_t i = 0; i < gpus_.size(); ++i) {
                    const size_t j = (i + 1) % gpus_.size();
                    CUDA_CHECK(cudaSetDevice(gpus_[i].device));
                    CUDA_CHECK(cudaMemcpyPeerAsync(b[j], gpus_[j].device, a[i], gpus_[i].device, bytes,
                                                   gpus_[i].net));
                }
            });
            res.ce_peak = static_cast<double>(bytes) / ce;
        }
        for (size_t i = 0; i < gpus_.size(); ++i) {
            CUDA_CHECK(cudaSetDevice(gpus_[i].device));
            CUDA_CHECK(cudaFree(a[i]));
            CUDA_CHECK(cudaFree(b[i]));
        }
    }

    void check_memory(const Gpu& g, int64_t need, const std::string& what) {
        CUDA_CHECK(cudaSetDevice(g.device));
        size_t free_b = 0, total_b = 0;
        CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
        const int64_t margin = int64_t{256} << 20;
        if (need + margin > static_cast<int64_t>(free_b)) {
            EPLB_FAIL_KIND(ErrorKind::kDevice, "out of GPU memory: GPU "
                                                   << g.q << " (CUDA device " << g.device << ") needs "
                                                   << gib(need) << " for " << what << " but has "
                                                   << gib(free_b) << " free of " << gib(total_b)
                                                   << "; lower --layers, --layers-in-flight "
                                                      "(staging) or --expert-bytes");
        }
    }

    void allocate() {
        const int k = plan_.slots_per_gpu, num_layers = plan_.num_layers;
        stride_ = round_up(plan_.expert_bytes, 256);
        weight_bytes_ = static_cast<int64_t>(num_layers) * k * stride_;
        EPLB_CHECK(static_cast<int64_t>(num_layers) * k <= 65535,
                   "at most 65535 slots per GPU (layers x slots per GPU is " << num_layers * k << ")");
        for (Gpu& g : gpus_) {
            const int64_t staging = plan_.stats.gpus[g.q].staging_buffers * stride_;
            std::ostringstream what;
            what << num_layers << " layers x " << k << " slots of " << plan_.expert_bytes << " bytes plus "
                 << plan_.stats.gpus[g.q].staging_buffers << " staging buffers";
            if (pack_ > 0) what << " plus 4 x " << pack_ << " packing buffers";
            check_memory(g, weight_bytes_ + staging + 4 * pack_ * stride_, what.str());
            CUDA_CHECK(cudaMalloc(&g.slots, weight_bytes_));
            if (pack_ > 0) {
                CUDA_CHECK(cudaMalloc(&g.send_block, 2 * pack_ * stride_));
                CUDA_CHECK(cudaMalloc(&g.recv_block, 2 * pack_ * stride_));
            }
            if (staging > 0) CUDA_CHECK(cudaMalloc(&g.staging, staging));
            std::vector<int32_t> olds(static_cast<size_t>(num_layers) * k), news(olds.size());
            for (int l = 0; l < num_layers; ++l) {
                for (int t = 0; t < k; ++t) {
                    olds[static_cast<size_t>(l) * k + t] = plan_.old_phy2log(l, g.q * k + t);
                    news[static_cast<size_t>(l) * k + t] = plan_.new_phy2log(l, g.q * k + t);
                }
            }
            const size_t n = std::max<size_t>(1, olds.size());
            CUDA_CHECK(cudaMalloc(&g.old_experts, n * sizeof(int32_t)));
            CUDA_CHECK(cudaMalloc(&g.new_experts, n * sizeof(int32_t)));
            CUDA_CHECK(cudaMalloc(&g.wrong, std::max(1, num_layers) * sizeof(unsigned long long)));
            CUDA_CHECK(cudaMemcpy(g.old_experts, olds.data(), olds.size() * sizeof(int32_t),
                                  cudaMemcpyHostToDevice));
            CUDA_CHECK(cudaMemcpy(g.new_experts, news.data(), news.size() * sizeof(int32_t),
                                  cudaMemcpyHostToDevice));
        }
    }

    uint8_t* buffer(const Gpu& g, const BufferRef& b) const {
        if (b.staging()) return g.staging + b.index * stride_;
        return g.slots + (static_cast<int64_t>(b.layer) * plan_.slots_per_gpu + b.index) * stride_;
    }

    const Gpu* gpu_of(int q) const {
        for (const Gpu& g : gpus_) {
            if (g.q == q) return &g;
        }
        return nullptr;
    }

    // Local copies of GPU g up to (not including) the first that waits for step `s` or later.
    void enqueue_local(Gpu& g, int s) {
        const std::vector<LocalCopy>& ops = plan_.local[g.q];
        CUDA_CHECK(cudaSetDevice(g.device));
        while (g.next_local < ops.size() && ops[g.next_local].after_step < s) {
            const LocalCopy& op = ops[g.next_local];
            if (op.after_step > g.waited_step) {
                if (transport_ == ShuffleTransport::kCopyEngine) {
                    for (const Gpu& h : gpus_)
                        CUDA_CHECK(cudaStreamWaitEvent(g.loc, h.step_done[op.after_step], 0));
                } else {
                    CUDA_CHECK(cudaStreamWaitEvent(g.loc, g.step_done[op.after_step], 0));
                }
                g.waited_step = op.after_step;
            }
            CUDA_CHECK(cudaMemcpyAsync(buffer(g, op.dst), buffer(g, op.src), plan_.expert_bytes,
                                       cudaMemcpyDeviceToDevice, g.loc));
            if (g.marks[g.next_local]) CUDA_CHECK(cudaEventRecord(g.marks[g.next_local], g.loc));
            ++g.next_local;
        }
    }

    // Step s in packed chunks. Chunk c uses block c % 2 on both sides: its packing waits until chunk
    // c - 2 has left (moved), its receive until chunk c - 2 was scattered. The step is done for the
    // local stream once its last chunk is scattered. Packing reads slots before the step as planned
    // (their old content is intact until a write that waits for this step), scattering writes the
    // planned buffers after it: the plan's order is kept.
    void enqueue_packed_step(int s) {
        const Step& st = plan_.steps[s];
        const int64_t eb = plan_.expert_bytes;
        for (int c = chunk_base_[s], first = 0; c < chunk_base_[s + 1]; ++c, first += pack_) {
            const int64_t block = (c % 2) * pack_ * stride_;
            std::vector<int> n_send(gpus_.size(), 0), n_recv(gpus_.size(), 0);
            for (size_t i = 0; i < gpus_.size(); ++i) {
                Gpu& g = gpus_[i];
                CUDA_CHECK(cudaSetDevice(g.device));
                const int to = st.send_peer[g.q], from = st.recv_peer[g.q];
                if (to >= 0) n_send[i] = std::clamp(static_cast<int>(st.sends[g.q].size()) - first, 0, pack_);
                if (from >= 0)
                    n_recv[i] = std::clamp(static_cast<int>(st.sends[from].size()) - first, 0, pack_);
                if (c >= 2) CUDA_CHECK(cudaStreamWaitEvent(g.pack, g.moved[c - 2], 0));
                for (int j = 0; j < n_send[i]; ++j) {
                    const Transfer& tr = st.sends[g.q][first + j];
                    CUDA_CHECK(cudaMemcpyAsync(g.send_block + block + j * stride_,
                                               buffer(g, BufferRef{tr.layer, tr.src_slot}), eb,
                                               cudaMemcpyDeviceToDevice, g.pack));
                }
                CUDA_CHECK(cudaEventRecord(g.packed[c], g.pack));
                CUDA_CHECK(cudaStreamWaitEvent(g.net, g.packed[c], 0));
                if (c >= 2) CUDA_CHECK(cudaStreamWaitEvent(g.net, g.scattered[c - 2], 0));
            }
            NCCL_CHECK(ncclGroupStart());
            for (size_t i = 0; i < gpus_.size(); ++i) {
                Gpu& g = gpus_[i];
                if (n_send[i] > 0)
                    NCCL_CHECK(ncclSend(g.send_block + block, n_send[i] * stride_, ncclUint8,
                                        st.send_peer[g.q], comms_[i], g.net));
                if (n_recv[i] > 0)
                    NCCL_CHECK(ncclRecv(g.recv_block + block, n_recv[i] * stride_, ncclUint8,
                                        st.recv_peer[g.q], comms_[i], g.net));
            }
            NCCL_CHECK(ncclGroupEnd());
            for (size_t i = 0; i < gpus_.size(); ++i) {
                Gpu& g = gpus_[i];
                CUDA_CHECK(cudaSetDevice(g.device));
                CUDA_CHECK(cudaEventRecord(g.moved[c], g.net));
                CUDA_CHECK(cudaStreamWaitEvent(g.unpack, g.moved[c], 0));
                for (int j = 0; j < n_recv[i]; ++j) {
                    const Transfer& tr = st.sends[st.recv_peer[g.q]][first + j];
                    CUDA_CHECK(cudaMemcpyAsync(buffer(g, tr.dst), g.recv_block + block + j * stride_, eb,
                                               cudaMemcpyDeviceToDevice, g.unpack));
                }
                CUDA_CHECK(cudaEventRecord(g.scattered[c], g.unpack));
            }
        }
        // Every step has at least one chunk, and the scatter stream has waited for its last move.
        for (Gpu& g : gpus_) {
            CUDA_CHECK(cudaSetDevice(g.device));
            CUDA_CHECK(cudaEventRecord(g.step_done[s], g.unpack));
        }
    }

    void enqueue_pass() {
        const int num_steps = static_cast<int>(plan_.steps.size());
        const int64_t eb = plan_.expert_bytes;
        const int gs = std::max(1, opt_.group_size);
        for (Gpu& g : gpus_) {
            g.next_local = 0;
            g.waited_step = -1;
        }
        for (int s = 0; s < num_steps; ++s) {
            const Step& st = plan_.steps[s];
            for (Gpu& g : gpus_) {
                enqueue_local(g, s);
                const int n = st.wait_local[g.q];
                if (n > 0) {
                    EPLB_CHECK(static_cast<size_t>(n) <= g.next_local && g.marks[n - 1],
                               "internal: step " << s << " waits for local copy " << n - 1 << " of GPU "
                                                 << g.q << " before it is enqueued");
                    CUDA_CHECK(cudaStreamWaitEvent(g.net, g.marks[n - 1], 0));
                }
            }
            if (transport_ == ShuffleTransport::kCopyEngine) {
                for (Gpu& g : gpus_) {
                    CUDA_CHECK(cudaSetDevice(g.device));
                    CUDA_CHECK(cudaEventRecord(g.step_ready[s], g.net));
                }
                for (Gpu& g : gpus_) {
                    CUDA_CHECK(cudaSetDevice(g.device));
                    for (const Gpu& h : gpus_) {
                        if (&h != &g) CUDA_CHECK(cudaStreamWaitEvent(g.net, h.step_ready[s], 0));
                    }
                    const int peer = st.send_peer[g.q];
                    if (peer >= 0) {
                        const Gpu* dst = gpu_of(peer);
                        for (const Transfer& tr : st.sends[g.q]) {
                            CUDA_CHECK(cudaMemcpyPeerAsync(buffer(*dst, tr.dst), dst->device,
                                                           buffer(g, BufferRef{tr.layer, tr.src_slot}),
                                                           g.device, eb, g.net));
                        }
                    }
                    CUDA_CHECK(cudaEventRecord(g.step_done[s], g.net));
                }
                continue;
            }
            if (pack_ > 0) {
                enqueue_packed_step(s);
                continue;
            }
            for (int c = 0; c < st.length; c += gs) {
                NCCL_CHECK(ncclGroupStart());
                for (size_t i = 0; i < gpus_.size(); ++i) {
                    Gpu& g = gpus_[i];
                    const int to = st.send_peer[g.q], from = st.recv_peer[g.q];
                    if (to >= 0) {
                        const std::vector<Transfer>& out = st.sends[g.q];
                        for (int j = c; j < std::min<int>(out.size(), c + gs); ++j) {
                            NCCL_CHECK(ncclSend(buffer(g, BufferRef{out[j].layer, out[j].src_slot}), eb,
                                                ncclUint8, to, comms_[i], g.net));
                        }
                    }
                    if (from >= 0) {
                        const std::vector<Transfer>& in = st.sends[from];
                        for (int j = c; j < std::min<int>(in.size(), c + gs); ++j) {
                            NCCL_CHECK(ncclRecv(buffer(g, in[j].dst), eb, ncclUint8, from, comms_[i], g.net));
                        }
                    }
                }
                NCCL_CHECK(ncclGroupEnd());
            }
            for (Gpu& g : gpus_) {
                CUDA_CHECK(cudaSetDevice(g.device));
                CUDA_CHECK(cudaEventRecord(g.step_done[s], g.net));
            }
        }
        for (Gpu& g : gpus_) enqueue_local(g, num_steps + 1);
    }

    double one_pass(ShuffleRunResult& res) {
        const int k = plan_.slots_per_gpu, num_layers = plan_.num_layers;
        for (Gpu& g : gpus_) {
            CUDA_CHECK(cudaSetDevice(g.device));
            launch_fill_pattern(g.slots, stride_, plan_.expert_bytes, g.old_experts, num_layers * k, k, 0,
                                g.net);
            CUDA_CHECK(cudaGetLastError());
        }
        barrier();
        const Clock::time_point t0 = Clock::now();
        enqueue_pass();
        barrier();
        const double t = seconds_since(t0);
        std::vector<unsigned long long> wrong(std::max(1, num_layers));
        for (Gpu& g : gpus_) {
            CUDA_CHECK(cudaSetDevice(g.device));
            CUDA_CHECK(cudaMemsetAsync(g.wrong, 0, wrong.size() * sizeof(unsigned long long), g.net));
            launch_count_wrong(g.slots, stride_, plan_.expert_bytes, g.new_experts, num_layers * k, k, 0,
                               g.wrong, g.net);
            CUDA_CHECK(cudaGetLastError());
            CUDA_CHECK(cudaMemcpyAsync(wrong.data(), g.wrong, wrong.size() * sizeof(unsigned long long),
                                       cudaMemcpyDeviceToHost, g.net));
            CUDA_CHECK(cudaStreamSynchronize(g.net));
            for (int l = 0; l < num_layers; ++l) res.wrong[g.q][l] += static_cast<int64_t>(wrong[l]);
        }
        return t;
    }

    // One process per GPU: the slowest rank's time per pass, every rank's wrong bytes.
    std::vector<double> gather(const std::vector<double>& times, ShuffleRunResult& res) {
        const int num_layers = plan_.num_layers;
        std::vector<double> mine = times;
        for (int l = 0; l < num_layers; ++l) mine.push_back(static_cast<double>(res.wrong[opt_.rank][l]));
        const std::vector<double> all = gather_doubles(mine);
        const size_t n = mine.size();
        std::vector<double> worst(times.size(), 0.0);
        for (int r = 0; r < plan_.num_gpus; ++r) {
            for (size_t i = 0; i < times.size(); ++i) worst[i] = std::max(worst[i], all[r * n + i]);
            for (int l = 0; l < num_layers; ++l)
                res.wrong[r][l] = static_cast<int64_t>(all[r * n + times.size() + static_cast<size_t>(l)]);
        }
        return worst;
    }

    const TransferPlan& plan_;
    ShuffleRunOptions opt_;
    Watchdog watchdog_;
    bool multi_;
    ShuffleTransport transport_;
    std::string nccl_p2p_chunk_;
    int pack_ = 0;                 // experts per packed NCCL operation, 0: not packed
    std::vector<int> chunk_base_;  // [S + 1] first packed chunk of each step
    int num_chunks_ = 0;
    bool clean_ = false;
    bool peer_ok_ = false;
    int nccl_version_ = 0;
    std::string device_name_;
    std::vector<Gpu> gpus_;
    std::vector<ncclComm_t> comms_;
    float* barrier_buf_ = nullptr;
    int64_t stride_ = 0;
    int64_t weight_bytes_ = 0;
};

}  // namespace

ShuffleRunResult run_shuffle_on_devices(const TransferPlan& plan, const ShuffleRunOptions& options) {
    EPLB_CHECK(options.repeat >= 0, "--repeat (" << options.repeat << ") must be at least 0");
    EPLB_CHECK(options.group_size >= 1, "--group-size (" << options.group_size << ") must be at least 1");
    Runner runner(plan, options);
    return runner.run();
}

}  // namespace eplb
