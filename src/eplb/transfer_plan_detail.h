// Internal to build_transfer_plan (transfer_plan.cpp, transfer_steps.cpp, transfer_local.cpp): the
// placements seen per GPU slot, the items and slot facts of a window, the step shapes, and the
// ordering of each GPU's local copies.
#pragma once

#include <cstdint>
#include <vector>

#include "eplb/transfer_plan.h"
#include "eplb/types.h"

namespace eplb::transfer_detail {

// Old and new phy2log seen per (layer, GPU, slot of the GPU), with the slot each old expert is read
// from.
class SlotMaps {
  public:
    SlotMaps(const IndexMatrix& old_phy2log, const IndexMatrix& new_phy2log, int num_gpus, int num_experts);

    int old_at(int l, int q, int t) const { return old_(l, q * k + t); }
    int new_at(int l, int q, int t) const { return new_(l, q * k + t); }
    // The slot keeps its old expert.
    bool stable(int l, int q, int t) const {
        return old_at(l, q, t) >= 0 && old_at(l, q, t) == new_at(l, q, t);
    }
    // The slot of GPU q that sends or copies x's old content: a slot that keeps x when there is one
    // (never written), else the first slot holding it; -1: q holds no x.
    int read_slot(int l, int q, int x) const { return read_slot_[(static_cast<size_t>(l) * p + q) * e + x]; }

    const int p, k, e;  // GPUs, slots per GPU, logical experts

  private:
    const IndexMatrix& old_;
    const IndexMatrix& new_;
    std::vector<int> read_slot_;  // [L][P][E]
};

// One expert one GPU receives.
struct Item {
    int layer = 0;  // absolute layer
    int expert = 0;
    int dst_gpu = 0;
    int src_gpu = -1;
    int src_slot = 0;  // slot within the sender
    bool intra = false;
    std::vector<int> targets;  // slots of the receiver whose new expert it is, ascending
    int step = -1;
    BufferRef landing;
};

// Staging buffers are handed out in two pools alternating with the windows (a buffer of window w
// is free again in window w + 2, after the network has waited for window w's local copies); the
// final index is pool 0's buffers first. Encoded as -(2 + 2·i + pool) until the pools are sized.
inline int encode_staging(int pool, int i) { return -(2 + 2 * i + pool); }

// The layers scheduled together, and what the steps of build_transfer_plan learn about their
// slots, per GPU.
struct Window {
    int w = 0;
    int first = 0, end = 0;  // layers [first, end)
    int k = 0;               // slots per GPU
    int pool = 0;            // staging pool: w % 2
    int step0 = 0, step_end = 0;
    std::vector<int> staged;  // [P] buffers of this window's pool handed out so far
    std::vector<Item> items;
    std::vector<std::vector<int64_t>> count;  // [P][P] items from GPU a to GPU b
    // [P][slot of the window]: local copies reading the old slot (such slots are written by the
    // local stream only, never received into), sends of its old content left, the step of the last
    // one, and whether a receive landed in it.
    std::vector<std::vector<int>> loc_readers, sends_left, last_send;
    std::vector<std::vector<char>> written;
    std::vector<std::vector<int>> incoming_left;          // [P][slot] receives into it not yet scheduled
    std::vector<std::vector<std::vector<size_t>>> queue;  // [P][P] items of a pair not yet scheduled

    size_t idx(int l, int t) const { return static_cast<size_t>(l - first) * k + t; }

    // A target slot of `it` the receive can land in now: its old content has been sent in earlier
    // steps, no local copy reads it and nothing landed in it; -1: none.
    int free_target(const Item& it) const {
        for (int t : it.targets) {
            const size_t s = idx(it.layer, t);
            if (loc_readers[it.dst_gpu][s] == 0 && sends_left[it.dst_gpu][s] == 0 && !written[it.dst_gpu][s])
                return t;
        }
        return -1;
    }
};

// One step before the items are chosen: who sends to whom, and how many real experts.
struct StepShape {
    std::vector<int> peer;       // [P] receiver of each sender (itself: idle)
    int64_t length = 0;          // experts
    std::vector<int64_t> count;  // [P] real experts the sender moves
};

// Cuts the transfer counts c[a][b] ([P][P]) into steps, each a permutation, so that the steps'
// lengths sum to T = max(row sums, column sums): pad to a matrix whose rows and columns all sum to
// T (padding is idle time), peel permutations off it, and spend each pair's real transfers first.
std::vector<StepShape> decompose(const std::vector<std::vector<int64_t>>& c);

// Each permutation cut into steps of at most `cap` experts per pair (0: no cut), a pair's real
// transfers first; a step's length is its busiest pair's count, and steps with none are dropped
// (the idle padding at a permutation's end).
std::vector<StepShape> split_steps(const std::vector<StepShape>& whole, int64_t cap);

// Each GPU's local copies: ordered per window once its steps are known (order_window), then
// chained into one stream per GPU (chain).
class LocalCopyOrder {
  public:
    LocalCopyOrder(const SlotMaps& maps, std::vector<GpuTransferStats>& stats)
        : maps_(maps), stats_(stats), pre_all_(maps.p), post_all_(maps.p) {}

    void order_window(Window& win);
    void chain(TransferPlan& plan) const;

  private:
    struct PendingWrite;
    std::vector<PendingWrite> pending_writes(const Window& win, int q, const std::vector<int>& item_of);
    void sweep_position(Window& win, int q, int pos, std::vector<PendingWrite>& pending,
                        std::vector<LocalCopy>& out);
    bool save_one(Window& win, int q, int after, std::vector<PendingWrite>& pending,
                  std::vector<LocalCopy>& out);

    const SlotMaps& maps_;
    std::vector<GpuTransferStats>& stats_;
    // Per GPU and window: local copies before the window's network (PRE) and after its steps (POST).
    std::vector<std::vector<std::vector<LocalCopy>>> pre_all_, post_all_;
};

}  // namespace eplb::transfer_detail
