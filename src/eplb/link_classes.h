// Link classes of a transfer plan: GPUs of one node talk over NVLink, GPUs of different nodes over
// the network, each class at its own speed per GPU and direction. A GPU's NVLink and its NIC run at
// the same time, so a transfer takes as long as its slowest (GPU, direction, class).
#pragma once

#include <cstdint>

#include "eplb/transfer_plan.h"

namespace eplb {

// GB/s (1e9 bytes per second) per GPU and direction.
struct LinkSpeeds {
    double intra_gbps = 300;  // between GPUs of one node (NVLink)
    double inter_gbps = 50;   // between GPUs of different nodes: the GPU's share of its node's NICs
                              // (8 x 400 Gb/s InfiniBand per 8-GPU node = 50 GB/s per GPU)
};

// One (GPU, direction, link class) and its traffic.
struct LinkLoad {
    int gpu = -1;        // -1: nothing moves
    bool send = false;   // its sends (else its receives)
    bool inter = false;  // over the network (else NVLink)
    int64_t experts = 0;
    double seconds = 0;  // experts · expert_bytes / the class's speed
};

struct LinkBound {
    int64_t experts_intra = 0;  // experts per pass between GPUs of one node (Σ over GPUs)
    int64_t experts_inter = 0;  // ... between GPUs of different nodes
    // The (GPU, direction, class) of most seconds over the whole pass: no schedule is faster.
    LinkLoad busiest;
    // Σ over steps of the step's slowest (GPU, direction, class): the plan's schedule at these speeds.
    double schedule_seconds = 0;
    int64_t steps_inter_bound = 0;  // steps whose slowest is an inter-node link
};

// GPU q sits on node q / (P / N) (DESIGN.md: node n owns GPUs [n·P/N, (n+1)·P/N)).
bool same_node(const TransferPlan& plan, int a, int b);

// Splits the plan's transfers by link class and bounds its time at `speeds` (both > 0, finite;
// else invalid input). With one node it equals TransferStats::bound_seconds and schedule_seconds
// at intra_gbps.
LinkBound link_bound(const TransferPlan& plan, const LinkSpeeds& speeds);

}  // namespace eplb
