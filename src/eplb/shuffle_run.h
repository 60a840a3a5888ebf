// What a run of the shuffle on GPUs is asked to do and what it measured: plain types shared by the
// executor (cuda/device_shuffle.h), the reports (io/shuffle_io.h) and `eplb shuffle`.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "eplb/names.h"

namespace eplb {

enum class ShuffleTransport {
    kAuto,        // copy engines when one process drives GPUs that all have peer access, else NCCL
    kNccl,        // ncclSend/ncclRecv, one group per chunk of a step
    kCopyEngine,  // cudaMemcpyPeerAsync pushed by the sender (one process driving every GPU only)
};

inline constexpr NamedValue<ShuffleTransport> kTransportNames[] = {
    {"auto", ShuffleTransport::kAuto},
    {"nccl", ShuffleTransport::kNccl},
    {"ce", ShuffleTransport::kCopyEngine},
};

inline const char* transport_name(ShuffleTransport transport) {
    return name_in<ShuffleTransport>(kTransportNames, transport);
}

struct ShuffleRunOptions {
    ShuffleTransport transport = ShuffleTransport::kAuto;
    // NCCL_P2P_NVL_CHUNKSIZE for the NCCL transport, set unless the environment sets it: NCCL splits
    // a point-to-point operation over more channels when its chunks are smaller, and an expert-sized
    // operation gets a quarter of the channels of a 1 GiB one at NCCL's default (512 KiB) on 4 GPUs.
    // -1: 65536 with the NCCL transport; 0: NCCL's default.
    int64_t nccl_p2p_chunk = -1;
    int group_size = 8;            // at most this many sends and receives per GPU in one NCCL group
    int repeat = 3;                // timed passes, after one warm-up pass
    double timeout_s = 300;        // per phase (init, peak, each pass); then the communicators are
                                   // aborted and the process exits with 4. 0: wait forever
    int64_t peak_bytes = 1 << 30;  // bytes per GPU and direction of the ring peak; 0: skip it
    // One process driving every GPU: devices[q] is the CUDA device of plan GPU q (empty: 0..P-1).
    std::vector<int> devices;
    // One process per GPU (world_size > 0): this process is plan GPU `rank` on CUDA device `device`
    // (-1: LOCAL_RANK, else rank modulo the visible devices); rank 0 writes NCCL's unique id to
    // id_file, the others wait for it.
    int rank = 0;
    int world_size = 0;
    int device = -1;
    std::string id_file;
};

struct ShuffleRunResult {
    ShuffleTransport transport = ShuffleTransport::kNccl;  // the one that ran (auto resolved)
    std::string nccl_p2p_chunk;               // NCCL_P2P_NVL_CHUNKSIZE in effect ("default": unset)
    std::string device_name;                  // "NVIDIA H100 80GB HBM3"
    int nccl_version = 0;                     // ncclGetVersion
    std::vector<int> devices;                 // CUDA device of each plan GPU driven by this process
    double warmup_seconds = 0;                // first pass: connections are set up here
    std::vector<double> pass_seconds;         // timed passes (wall clock, slowest GPU)
    double ring_peak = 0;                     // NCCL ring, 1 op of peak_bytes: bytes/s per GPU and direction
    double ring_chunked = 0;                  // NCCL ring moving expert_bytes ops in groups of group_size
    double ce_peak = 0;                       // copy-engine ring (one process only, else 0)
    std::vector<std::vector<int64_t>> wrong;  // [P][L] wrong bytes summed over all passes
    int64_t wrong_total = 0;
    int64_t weight_bytes_per_gpu = 0;    // slots allocated per GPU
    std::vector<int64_t> staging_bytes;  // [P] staging allocated per GPU
    int64_t nccl_groups = 0;             // NCCL groups per pass (NCCL transport)
    int64_t max_ops_per_group = 0;       // operations of one GPU in one group (sends + receives)

    double min_seconds() const {
        return pass_seconds.empty() ? 0.0 : *std::min_element(pass_seconds.begin(), pass_seconds.end());
    }
    double median_seconds() const {
        if (pass_seconds.empty()) return 0.0;
        std::vector<double> t = pass_seconds;
        std::sort(t.begin(), t.end());
        return t.size() % 2 ? t[t.size() / 2] : 0.5 * (t[t.size() / 2 - 1] + t[t.size() / 2]);
    }
};

}  // namespace eplb
