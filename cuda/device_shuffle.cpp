// The device shuffle's harness: world set-up, the ring peaks, allocation, the passes and their
// verification; the transports (shuffle_transports.cpp) move the steps. Per GPU the `net` stream
// runs the steps, `loc` the local copies, each waiting for the step it depends on; the steps wait
// for the local copies the plan names (staging reuse). One thread drives every local GPU.
#include "cuda/device_shuffle.h"

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <sstream>

#include <cuda_runtime.h>
#include <nccl.h>

#include "cuda/nccl_check.h"
#include "cuda/shuffle_kernels.h"
#include "cuda/shuffle_transports.h"
#include "cuda/shuffle_world.h"
#include "eplb/error.h"

namespace eplb {

namespace {

using cuda::Clock;
using cuda::Gpu;
using cuda::seconds_since;

// Median of the runs after the first two (warm-up), as baselines/p2p_peak.py does.
double settled_median(std::vector<double> t) {
    t.erase(t.begin(), t.begin() + std::min<size_t>(2, t.size() - 1));
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

class DeviceShuffle {
  public:
    DeviceShuffle(const TransferPlan& plan, const ShuffleRunOptions& opt)
        : plan_(plan),
          opt_(opt),
          world_(opt, plan.num_gpus),
          ctx_{plan, world_.gpus, world_.comms, 0, std::max(1, opt.group_size)} {}

    ShuffleRunResult run() {
        set_up();
        ShuffleRunResult res;
        res.nccl_version = world_.nccl_version;
        res.transport = ops_->transport;
        res.nccl_p2p_chunk = nccl_p2p_chunk_;
        res.device_name = world_.device_name;
        for (const Gpu& g : world_.gpus) res.devices.push_back(g.device);
        if (opt_.peak_bytes > 0) measure_peaks(res);
        allocate();
        res.weight_bytes_per_gpu = weight_bytes_;
        res.staging_bytes.assign(plan_.num_gpus, 0);
        for (int q = 0; q < plan_.num_gpus; ++q)
            res.staging_bytes[q] = plan_.stats.gpus[q].staging_buffers * ctx_.stride;
        res.wrong.assign(plan_.num_gpus, std::vector<int64_t>(plan_.num_layers, 0));
        ops_->count_groups(plan_, opt_.group_size, res);
        std::vector<double> times;
        for (int pass = 0; pass <= opt_.repeat; ++pass) {
            world_.watchdog.phase("shuffle pass " + std::to_string(pass));
            times.push_back(one_pass(res));
        }
        if (world_.multi) times = gather(times, res);
        res.warmup_seconds = times[0];
        res.pass_seconds.assign(times.begin() + 1, times.end());
        for (const auto& row : res.wrong) {
            for (int64_t w : row) res.wrong_total += w;
        }
        world_.watchdog.phase("shutdown");
        world_.clean = true;
        return res;
    }

  private:
    // Devices, the transport (auto resolved; a named one checked against the world), NCCL's chunk
    // size (in the environment before NCCL's first initialisation reads it), communicators, events.
    void set_up() {
        const std::vector<int> devices = world_.choose_devices();
        const cuda::ShuffleTransportOps* asked =
            opt_.transport == ShuffleTransport::kAuto ? nullptr : &cuda::transport_ops(opt_.transport);
        const bool needs_peers = asked && asked->needs_peer_access;
        if (needs_peers && world_.multi)
            EPLB_FAIL("--transport " << transport_name(asked->transport)
                                     << " needs one process driving every GPU (no --rank/--world-size)");
        world_.open_devices(devices);
        if (needs_peers && !world_.peer_ok)
            EPLB_FAIL_KIND(ErrorKind::kDevice, "--transport "
                                                   << transport_name(asked->transport)
                                                   << " needs peer access between every two GPUs; use "
                                                      "--transport nccl");
        ops_ = asked ? asked
                     : &cuda::transport_ops(world_.peer_ok ? ShuffleTransport::kCopyEngine
                                                           : ShuffleTransport::kNccl);
        const int64_t chunk = opt_.nccl_p2p_chunk >= 0 ? opt_.nccl_p2p_chunk : ops_->default_p2p_chunk;
        if (chunk > 0) setenv("NCCL_P2P_NVL_CHUNKSIZE", std::to_string(chunk).c_str(), 0);
        const char* in_effect = std::getenv("NCCL_P2P_NVL_CHUNKSIZE");
        nccl_p2p_chunk_ = in_effect ? in_effect : "default";
        world_.init_communicators(devices);
        create_events();
    }

    // Per GPU and step: ready (the copy-engine barrier) and done; a mark after each local copy a step
    // waits for.
    void create_events() {
        const size_t num_steps = plan_.steps.size();
        for (Gpu& g : world_.gpus) {
            CUDA_CHECK(cudaSetDevice(g.device));
            g.step_ready.assign(num_steps, nullptr);
            g.step_done.assign(num_steps, nullptr);
            for (size_t s = 0; s < num_steps; ++s) {
                CUDA_CHECK(cudaEventCreateWithFlags(&g.step_ready[s], cudaEventDisableTiming));
                CUDA_CHECK(cudaEventCreateWithFlags(&g.step_done[s], cudaEventDisableTiming));
            }
            g.marks.assign(plan_.local[g.q].size(), nullptr);
            for (const Step& st : plan_.steps) {
                const int n = st.wait_local[g.q];
                if (n > 0 && !g.marks[n - 1])
                    CUDA_CHECK(cudaEventCreateWithFlags(&g.marks[n - 1], cudaEventDisableTiming));
            }
        }
    }

    // The settled median time of `enqueue` (slowest rank), between barriers.
    double time_runs(const std::function<void()>& enqueue) {
        std::vector<double> t;
        for (int it = 0; it < 7; ++it) {
            world_.barrier();
            const Clock::time_point t0 = Clock::now();
            enqueue();
            world_.barrier();
            t.push_back(world_.max_over_ranks(seconds_since(t0)));
        }
        return settled_median(t);
    }

    // Rings (GPU q sends to q + 1): NCCL with one operation of peak_bytes, NCCL in the executor's
    // shape (expert-sized operations, group_size per group), and copy engines where peers allow.
    void measure_peaks(ShuffleRunResult& res) {
        const int p = plan_.num_gpus;
        if (p < 2) return;
        std::vector<Gpu>& gpus = world_.gpus;
        const int64_t bytes = opt_.peak_bytes;
        for (Gpu& g : gpus)
            world_.check_memory(g, 2 * bytes,
                                "the point-to-point peak buffers (2 x " + cuda::gib(bytes) + ")");
        std::vector<uint8_t*> a(gpus.size()), b(gpus.size());
        for (size_t i = 0; i < gpus.size(); ++i) {
            CUDA_CHECK(cudaSetDevice(gpus[i].device));
            CUDA_CHECK(cudaMalloc(&a[i], bytes));
            CUDA_CHECK(cudaMalloc(&b[i], bytes));
            CUDA_CHECK(cudaMemset(a[i], 1, bytes));
        }
        const std::vector<ncclComm_t>& comms = world_.comms;
        world_.watchdog.phase("NCCL ring peak");
        const double ring = time_runs([&] {
            NCCL_CHECK(ncclGroupStart());
            for (size_t i = 0; i < gpus.size(); ++i) {
                const int q = gpus[i].q;
                NCCL_CHECK(ncclSend(a[i], bytes, ncclUint8, (q + 1) % p, comms[i], gpus[i].net));
                NCCL_CHECK(ncclRecv(b[i], bytes, ncclUint8, (q + p - 1) % p, comms[i], gpus[i].net));
            }
            NCCL_CHECK(ncclGroupEnd());
        });
        res.ring_peak = static_cast<double>(bytes) / ring;
        const int64_t eb = plan_.expert_bytes, n = bytes / eb, gs = ctx_.group_size;
        if (n > 0) {
            world_.watchdog.phase("NCCL chunked ring");
            const double chunked = time_runs([&] {
                for (int64_t c = 0; c < n; c += gs) {
                    NCCL_CHECK(ncclGroupStart());
                    for (size_t i = 0; i < gpus.size(); ++i) {
                        const int q = gpus[i].q;
                        for (int64_t j = c; j < std::min(n, c + gs); ++j) {
                            NCCL_CHECK(
                                ncclSend(a[i] + j * eb, eb, ncclUint8, (q + 1) % p, comms[i], gpus[i].net));
                            NCCL_CHECK(ncclRecv(b[i] + j * eb, eb, ncclUint8, (q + p - 1) % p, comms[i],
                                                gpus[i].net));
                        }
                    }
                    NCCL_CHECK(ncclGroupEnd());
                }
            });
            res.ring_chunked = static_cast<double>(n * eb) / chunked;
        }
        if (world_.peer_ok) {
            world_.watchdog.phase("copy-engine ring peak");
            const double ce = time_runs([&] {
                for (size_t i = 0; i < gpus.size(); ++i) {
                    const size_t j = (i + 1) % gpus.size();
                    CUDA_CHECK(cudaSetDevice(gpus[i].device));
                    CUDA_CHECK(
                        cudaMemcpyPeerAsync(b[j], gpus[j].device, a[i], gpus[i].device, bytes, gpus[i].net));
                }
            });
            res.ce_peak = static_cast<double>(bytes) / ce;
        }
        for (size_t i = 0; i < gpus.size(); ++i) {
            CUDA_CHECK(cudaSetDevice(gpus[i].device));
            CUDA_CHECK(cudaFree(a[i]));
            CUDA_CHECK(cudaFree(b[i]));
        }
    }

    // Slots, staging, and each slot's old and new expert (what the fill and the check compute).
    void allocate() {
        const int k = plan_.slots_per_gpu, num_layers = plan_.num_layers;
        ctx_.stride = round_up(plan_.expert_bytes, 256);
        const int64_t stride = ctx_.stride;
        weight_bytes_ = static_cast<int64_t>(num_layers) * k * stride;
        EPLB_CHECK(static_cast<int64_t>(num_layers) * k <= 65535,
                   "at most 65535 slots per GPU (layers x slots per GPU is " << num_layers * k << ")");
        for (Gpu& g : world_.gpus) {
            const int64_t staging = plan_.stats.gpus[g.q].staging_buffers * stride;
            std::ostringstream what;
            what << num_layers << " layers x " << k << " slots of " << plan_.expert_bytes << " bytes plus "
                 << plan_.stats.gpus[g.q].staging_buffers << " staging buffers";
            world_.check_memory(g, weight_bytes_ + staging, what.str());
            CUDA_CHECK(cudaMalloc(&g.slots, weight_bytes_));
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

    // Local copies of GPU g up to (not including) the first that waits for step `s` or later.
    void enqueue_local(Gpu& g, int s) {
        const std::vector<LocalCopy>& ops = plan_.local[g.q];
        CUDA_CHECK(cudaSetDevice(g.device));
        while (g.next_local < ops.size() && ops[g.next_local].after_step < s) {
            const LocalCopy& op = ops[g.next_local];
            if (op.after_step > g.waited_step) {
                ops_->wait_for_step(ctx_, g, op.after_step, g.loc);
                g.waited_step = op.after_step;
            }
            CUDA_CHECK(cudaMemcpyAsync(ctx_.buffer(g, op.dst), ctx_.buffer(g, op.src), plan_.expert_bytes,
                                       cudaMemcpyDeviceToDevice, g.loc));
            if (g.marks[g.next_local]) CUDA_CHECK(cudaEventRecord(g.marks[g.next_local], g.loc));
            ++g.next_local;
        }
    }

    void enqueue_pass() {
        const int num_steps = static_cast<int>(plan_.steps.size());
        for (Gpu& g : world_.gpus) {
            g.next_local = 0;
            g.waited_step = -1;
        }
        for (int s = 0; s < num_steps; ++s) {
            const Step& st = plan_.steps[s];
            for (Gpu& g : world_.gpus) {
                enqueue_local(g, s);
                const int n = st.wait_local[g.q];
                if (n > 0) {
                    EPLB_CHECK(static_cast<size_t>(n) <= g.next_local && g.marks[n - 1],
                               "internal: step " << s << " waits for local copy " << n - 1 << " of GPU "
                                                 << g.q << " before it is enqueued");
                    CUDA_CHECK(cudaStreamWaitEvent(g.net, g.marks[n - 1], 0));
                }
            }
            ops_->enqueue_step(ctx_, s);
        }
        for (Gpu& g : world_.gpus) enqueue_local(g, num_steps + 1);
    }

    // Fills every slot with its old expert's pattern, runs the plan (timed between barriers), then
    // counts each layer's bytes that differ from the new expert's pattern.
    double one_pass(ShuffleRunResult& res) {
        const int k = plan_.slots_per_gpu, num_layers = plan_.num_layers;
        const int64_t stride = ctx_.stride;
        for (Gpu& g : world_.gpus) {
            CUDA_CHECK(cudaSetDevice(g.device));
            launch_fill_pattern(g.slots, stride, plan_.expert_bytes, g.old_experts, num_layers * k, k, 0,
                                g.net);
            CUDA_CHECK(cudaGetLastError());
        }
        world_.barrier();
        const Clock::time_point t0 = Clock::now();
        enqueue_pass();
        world_.barrier();
        const double t = seconds_since(t0);
        std::vector<unsigned long long> wrong(std::max(1, num_layers));
        for (Gpu& g : world_.gpus) {
            CUDA_CHECK(cudaSetDevice(g.device));
            CUDA_CHECK(cudaMemsetAsync(g.wrong, 0, wrong.size() * sizeof(unsigned long long), g.net));
            launch_count_wrong(g.slots, stride, plan_.expert_bytes, g.new_experts, num_layers * k, k, 0,
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
        const std::vector<double> all = world_.gather_doubles(mine);
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
    cuda::ShuffleWorld world_;  // declared before ctx_, which refers to its GPUs and communicators
    cuda::StepContext ctx_;     // stride set by allocate()
    const cuda::ShuffleTransportOps* ops_ = nullptr;
    std::string nccl_p2p_chunk_;
    int64_t weight_bytes_ = 0;
};

}  // namespace

ShuffleRunResult run_shuffle_on_devices(const TransferPlan& plan, const ShuffleRunOptions& options) {
    EPLB_CHECK(options.repeat >= 0, "--repeat (" << options.repeat << ") must be at least 0");
    EPLB_CHECK(options.group_size >= 1, "--group-size (" << options.group_size << ") must be at least 1");
    DeviceShuffle shuffle(plan, options);
    return shuffle.run();
}

}  // namespace eplb
