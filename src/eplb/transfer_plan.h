// The expert-weight shuffle as a schedule (DESIGN.md "Shuffle"): from old and new phy2log, which
// expert every GPU receives from which GPU and when, the local copies, the staging buffers, and the
// statistics. Pure CPU; the CUDA/NCCL executor and the host executor (transfer_exec.h) run it.
#pragma once

#include <cstdint>
#include <vector>

#include "eplb/config.h"
#include "eplb/types.h"

namespace eplb {

// Both placements of an elastic change expressed over one set of GPUs (vLLM's elastic EP): when the
// world shrinks or keeps its size the GPUs are the old ranks (a leaving rank keeps its old experts
// to send and needs nothing), when it grows they are the new ranks (a joining rank holds nothing).
struct AlignedPlacements {
    IndexMatrix old_phy2log;  // [L][P·k], -1: the slot holds nothing
    IndexMatrix new_phy2log;  // [L][P·k], -1: the slot needs nothing
    int num_gpus = 0;         // P: the GPUs taking part
    bool old_ranks = true;    // GPU q is old rank q (else new rank q)
};

// old_phy2log [L][old_num_gpus·k] and new_phy2log [L][new_num_gpus·k] with the same k slots per
// GPU; rank_mapping[q] is the new rank of old rank q, or -1 when it leaves (an empty mapping: the
// identity, same world). Every new rank must have exactly one old rank when the world does not
// grow; throws invalid input naming the offending rank.
AlignedPlacements align_placements(const IndexMatrix& old_phy2log, int old_num_gpus,
                                   const IndexMatrix& new_phy2log, int new_num_gpus,
                                   const std::vector<int>& rank_mapping);

struct TransferPlanOptions {
    int64_t expert_bytes = 44040192;  // one expert's weights (DeepSeek-V3 FP8: 44040192)
    int layers_in_flight = 4;         // layers scheduled together (one window); staging grows with it
    // Experts one GPU pair moves in one step at most (0: whole permutations). Shorter steps let the
    // copies after one step overlap the next one's transfers, and more receives land in their slot
    // directly (its old content was sent in an earlier step); each step boundary costs a barrier.
    int step_experts = 16;
};

// A buffer of one GPU: a slot of a layer, or a staging buffer of expert_bytes.
struct BufferRef {
    int layer = -1;  // the layer of a slot; -1: staging buffer
    int index = 0;   // slot within the GPU [0, k), or staging buffer index
    bool staging() const { return layer < 0; }
    bool operator==(const BufferRef&) const = default;
};

// One expert over the network, from a slot of the sender to a buffer of the receiver.
struct Transfer {
    int layer = 0;
    int expert = 0;
    int src_slot = 0;  // slot within the sender, holding `expert` in the old map (never written before)
    BufferRef dst;     // the new slot itself (direct) or a staging buffer
};

// One step of the schedule: every GPU sends to at most one peer and receives from at most one peer
// (the ring pattern of the point-to-point peak), all pairs moving about the same bytes.
struct Step {
    int window = 0;
    int length = 0;                            // experts per busy pair (the step's duration in experts)
    std::vector<int> send_peer;                // [P] receiver of GPU q, -1: sends nothing
    std::vector<int> recv_peer;                // [P] sender to GPU q, -1: receives nothing
    std::vector<std::vector<Transfer>> sends;  // [P] what GPU q sends, in order; its receiver takes them in
                                               // the same order
    std::vector<int> wait_local;               // [P] before this step GPU q's network stream waits until its
                                               // first wait_local[q] local copies are done (0: no wait)
};

enum class CopyKind : uint8_t {
    kLocal,    // old content of one slot to another slot of the same GPU
    kLanding,  // a received expert from where it landed (staging or its first slot) to a slot
    kSave,     // old content to staging, to break a cycle of local copies
};

// A device-local copy of expert_bytes, run in order on the GPU's local stream.
struct LocalCopy {
    int after_step = -1;  // waits until this (global) step is done on the GPU; -1: no wait
    BufferRef src;
    BufferRef dst;
    CopyKind kind = CopyKind::kLocal;
};

struct GpuTransferStats {
    int64_t received = 0;         // experts received (each once per layer)
    int64_t received_intra = 0;   // ... from a GPU of the same node
    int64_t sent = 0;             // experts sent
    int64_t sent_intra = 0;       // ... to a GPU of the same node
    int64_t direct = 0;           // received straight into their slot
    int64_t staged = 0;           // received into staging, then copied
    int64_t local_copies = 0;     // slots filled from an old slot of the same GPU
    int64_t landing_copies = 0;   // slots filled from a received expert's landing buffer
    int64_t saves = 0;            // old contents saved to staging to break local cycles
    int64_t staging_buffers = 0;  // staging buffers of expert_bytes this GPU needs
};

struct TransferStats {
    int64_t expert_bytes = 0;
    std::vector<GpuTransferStats> gpus;  // [P]
    IndexMatrix link_experts;            // [P][P] experts sent from GPU a to GPU b
    int64_t received = 0;                // Σ over GPUs
    int64_t received_intra = 0;
    int64_t max_received = 0;     // experts received by the busiest receiver
    int64_t max_sent = 0;         // experts sent by the busiest sender
    int64_t schedule_length = 0;  // Σ step lengths in experts: the schedule's duration at link speed
    int64_t max_staging_buffers = 0;

    // Lower bound on the shuffle time at `bytes_per_second` per GPU and direction: no GPU can
    // receive or send faster. max(max_received, max_sent) · expert_bytes / bandwidth.
    double bound_seconds(double bytes_per_second) const;
    // The schedule's own duration when every step runs at `bytes_per_second`.
    double schedule_seconds(double bytes_per_second) const;
};

struct TransferPlan {
    int num_layers = 0;
    int num_gpus = 0;       // P
    int slots_per_gpu = 0;  // k
    int num_nodes = 1;
    int64_t expert_bytes = 0;
    int layers_in_flight = 0;
    int step_experts = 0;
    IndexMatrix old_phy2log;  // [L][P·k] as planned (after align_placements)
    IndexMatrix new_phy2log;
    std::vector<int> window_first_layer;        // [W + 1]
    std::vector<int> window_first_step;         // [W + 1]
    std::vector<Step> steps;                    // in order, windows one after the other
    std::vector<std::vector<LocalCopy>> local;  // [P] each GPU's local copies in stream order
    TransferStats stats;

    int num_windows() const { return static_cast<int>(window_first_layer.size()) - 1; }
};

// Plans the shuffle from old to new phy2log [L][R] (-1: empty slot) under `config` (E, R, N, P
// used; GPU q owns slots [q·k, (q+1)·k)). Each GPU receives each expert it lacks once, from an old
// holder on its own node when there is one, the senders balanced; the transfers of
// `layers_in_flight` layers are cut into steps by a Birkhoff-von Neumann decomposition of the
// GPU-to-GPU matrix so the schedule's length equals max(max received, max sent) per window, and
// each permutation into steps of at most `step_experts` experts per pair.
// Receives go straight into their slot once its old content has been sent, else into staging.
// Throws invalid input on bad shapes or values, or when a needed expert has no old holder.
TransferPlan build_transfer_plan(const IndexMatrix& old_phy2log, const IndexMatrix& new_phy2log,
                                 const ParallelConfig& config, const TransferPlanOptions& options);

}  // namespace eplb
