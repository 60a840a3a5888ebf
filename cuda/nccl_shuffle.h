// The device executor of a TransferPlan: synthetic expert weights on the GPUs, the transfers with
// NCCL (or copy engines in one process), local copies on a second stream, every byte verified, and
// the NCCL point-to-point ring peak measured in the same run. Plain C++ header (no CUDA headers).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "eplb/names.h"
#include "eplb/transfer_plan.h"

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
    // NCCL transport: gather up to this many of a step's experts into one contiguous block per peer,
    // send it as one operation and scatter it on the receiver (double-buffered on two extra streams).
    // NCCL moves large operations faster, but each expert then costs one device copy on each side:
    // on 4 x H200 packing 8 took 68.4 ms against 64.8 ms for one operation per expert with 64 KiB
    // chunks, so it is off by default. 0: one operation per expert, group_size operations per group.
    // With packing, nccl_p2p_chunk = -1 means NCCL's default chunk size.
    int nccl_pack = 0;
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
    int nccl_pack = 0;                   // experts per packed operation (0: not packed)
    int64_t pack_bytes_per_gpu = 0;      // send and receive blocks of the packed transport

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

// Runs the plan `1 + repeat` times on freshly filled weights and verifies every byte after each
// pass. Throws eplb::Error of kind kDevice on CUDA/NCCL failures, too few GPUs, or too little
// memory (the message says how much was needed and what to lower).
ShuffleRunResult run_shuffle_on_devices(const TransferPlan& plan, const ShuffleRunOptions& options);

// CUDA devices this process sees; 0 with *why set when there are none or no driver.
int visible_cuda_devices(std::string* why);

}  // namespace eplb
