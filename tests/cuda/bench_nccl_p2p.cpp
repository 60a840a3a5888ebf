// NCCL point-to-point bandwidth by pattern and operation size, one process driving every GPU: what
// the shuffle's transfers (expert-sized operations) get from NCCL next to the 1 GiB ring peak.
// Prints one line per pattern: GB/s per GPU and direction (bytes each GPU receives / time), median
// of 5 runs after 2 warm-ups. usage: bench_nccl_p2p [OP_BYTES] [TOTAL_BYTES]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "cuda/nccl_check.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Gpus {
    int n = 0;
    std::vector<ncclComm_t> comms;
    std::vector<cudaStream_t> streams;
    std::vector<uint8_t*> send, recv;
};

void sync_all(const Gpus& g) {
    for (int i = 0; i < g.n; ++i) {
        CUDA_CHECK(cudaSetDevice(i));
        CUDA_CHECK(cudaStreamSynchronize(g.streams[i]));
    }
}

double median_gbps(const Gpus& g, int64_t bytes_per_gpu, const std::function<void()>& enqueue) {
    std::vector<double> t;
    for (int it = 0; it < 7; ++it) {
        sync_all(g);
        const auto t0 = Clock::now();
        enqueue();
        sync_all(g);
        t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
    std::sort(t.begin() + 2, t.end());
    return static_cast<double>(bytes_per_gpu) / t[4] / 1e9;
}

// Ring: GPU q sends to q+1 and receives from q-1, `ops` operations of `op` bytes, `per_group`
// operations per NCCL group.
double ring(const Gpus& g, int64_t op, int64_t ops, int64_t per_group) {
    return median_gbps(g, op * ops, [&] {
        for (int64_t c = 0; c < ops; c += per_group) {
            NCCL_CHECK(ncclGroupStart());
            for (int q = 0; q < g.n; ++q) {
                for (int64_t j = c; j < std::min(ops, c + per_group); ++j) {
                    NCCL_CHECK(
                        ncclSend(g.send[q] + j * op, op, ncclUint8, (q + 1) % g.n, g.comms[q], g.streams[q]));
                    NCCL_CHECK(ncclRecv(g.recv[q] + j * op, op, ncclUint8, (q + g.n - 1) % g.n, g.comms[q],
                                        g.streams[q]));
                }
            }
            NCCL_CHECK(ncclGroupEnd());
        }
    });
}

// All pairs: every GPU sends `ops` operations of `op` bytes to each other GPU and receives as many,
// `per_peer_group` operations per peer in one group.
double all_pairs(const Gpus& g, int64_t op, int64_t ops, int64_t per_peer_group) {
    const int peers = g.n - 1;
    return median_gbps(g, op * ops * peers, [&] {
        for (int64_t c = 0; c < ops; c += per_peer_group) {
            NCCL_CHECK(ncclGroupStart());
            for (int q = 0; q < g.n; ++q) {
                for (int d = 1; d < g.n; ++d) {
                    for (int64_t j = c; j < std::min(ops, c + per_peer_group); ++j) {
                        const int64_t slot = (d - 1) * ops + j;
                        NCCL_CHECK(ncclSend(g.send[q] + slot * op, op, ncclUint8, (q + d) % g.n, g.comms[q],
                                            g.streams[q]));
                        NCCL_CHECK(ncclRecv(g.recv[q] + slot * op, op, ncclUint8, (q + g.n - d) % g.n,
                                            g.comms[q], g.streams[q]));
                    }
                }
            }
            NCCL_CHECK(ncclGroupEnd());
        }
    });
}

}  // namespace

int main(int argc, char** argv) {
    const int64_t op = argc > 1 ? std::atoll(argv[1]) : 44040192;
    const int64_t total = argc > 2 ? std::atoll(argv[2]) : int64_t{1} << 30;
    Gpus g;
    if (cudaGetDeviceCount(&g.n) != cudaSuccess || g.n < 2) {
        std::printf("skipped: needs 2 GPUs\n");
        return 77;
    }
    try {
        setenv("NCCL_NVLS_ENABLE", "0", 0);
        g.comms.resize(g.n);
        g.streams.resize(g.n);
        g.send.resize(g.n);
        g.recv.resize(g.n);
        std::vector<int> devs(g.n);
        for (int q = 0; q < g.n; ++q) {
            devs[q] = q;
            CUDA_CHECK(cudaSetDevice(q));
            CUDA_CHECK(cudaStreamCreateWithFlags(&g.streams[q], cudaStreamNonBlocking));
            CUDA_CHECK(cudaMalloc(&g.send[q], total));
            CUDA_CHECK(cudaMalloc(&g.recv[q], total));
            CUDA_CHECK(cudaMemset(g.send[q], 1, total));
        }
        NCCL_CHECK(ncclCommInitAll(g.comms.data(), g.n, devs.data()));
        const char* chunk = std::getenv("NCCL_P2P_NVL_CHUNKSIZE");
        const char* minch = std::getenv("NCCL_MIN_P2P_NCHANNELS");
        std::printf("env NCCL_P2P_NVL_CHUNKSIZE=%s NCCL_MIN_P2P_NCHANNELS=%s, %d GPUs, op %lld bytes\n",
                    chunk ? chunk : "(default)", minch ? minch : "(default)", g.n,
                    static_cast<long long>(op));
        const int64_t n = total / op;
        std::printf("ring 1 op of %lld bytes: %.1f GB/s\n", static_cast<long long>(total),
                    ring(g, total, 1, 1));
        for (int64_t size : {op / 2, op, 2 * op, 4 * op, 8 * op}) {
            if (size <= 0 || size > total) continue;
            std::printf("ring ops of %lld bytes, 8 per group: %.1f GB/s\n", static_cast<long long>(size),
                        ring(g, size, total / size, 8));
        }
        std::printf("ring %lld ops of %lld bytes, all in one group: %.1f GB/s\n", static_cast<long long>(n),
                    static_cast<long long>(op), ring(g, op, n, n));
        const int64_t per_peer = n / (g.n - 1);
        if (per_peer > 0) {
            std::printf("all-pairs %lld ops of %lld bytes per peer, one group: %.1f GB/s\n",
                        static_cast<long long>(per_peer), static_cast<long long>(op),
                        all_pairs(g, op, per_peer, per_peer));
            std::printf("all-pairs %lld ops of %lld bytes per peer, 1 per peer per group: %.1f GB/s\n",
                        static_cast<long long>(per_peer), static_cast<long long>(op),
                        all_pairs(g, op, per_peer, 1));
            std::printf("all-pairs 1 op of %lld bytes per peer: %.1f GB/s\n",
                        static_cast<long long>(per_peer * op), all_pairs(g, per_peer * op, 1, 1));
        }
        for (int q = 0; q < g.n; ++q) ncclCommAbort(g.comms[q]);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_nccl_p2p: %s\n", e.what());
        return 4;
    }
    return 0;
}
