// An alpha-beta model of a transfer plan's run on the GPUs (the dry run's predicted time): each step's
// NCCL groups or copy-engine pushes and each GPU's local copies on a timeline, so that schedules can
// be compared and ranked on the CPU and a device run measures only the best few.
#pragma once

#include <cstdint>
#include <vector>

#include "eplb/config.h"
#include "eplb/link_classes.h"
#include "eplb/transfer_plan.h"
#include "eplb/types.h"

namespace eplb {

// What one transfer costs. A pair moving n experts in one NCCL group takes
//   group_us + n · (op_us + expert_bytes / link)
// with link = ring_gbps · link_factor between GPUs of one node and inter_node_gbps between GPUs of
// different nodes (the plan's num_nodes; NVLink and NICs run at once); a copy-engine step is one barrier
// (group_us) and then each sender's n pushes. A local copy takes expert_bytes / copy_gbps. While a GPU's
// local stream copies, a transfer to or from it is delayed by `interference` times the overlap (the copies'
// memory traffic beside NCCL's kernels). A default-constructed one has no latency and no interference;
// fitted_model_params gives the values fitted to the README's runs on 2 and 4 x NVIDIA H200.
struct TransferModelParams {
    bool copy_engines = false;    // the ce transport (else nccl)
    int group_size = 8;           // nccl: at most this many sends and receives per GPU in one group
    double ring_gbps = 350;       // NCCL ring peak, GB/s per GPU and direction (the "% of ring" reference)
    double link_factor = 1.0;     // the transport's wire rate over the NCCL ring's
    double op_us = 0;             // per operation (one expert sent)
    double group_us = 0;          // per NCCL group, or per copy-engine step barrier
    double copy_gbps = 1000;      // device-local copies, bytes copied per second / 1e9
    double interference = 0;      // transfer delay per second of overlapping local copies
    double inter_node_gbps = 50;  // GB/s per GPU and direction between GPUs of different nodes
};

// The defaults of a transport, fitted to the README's H200 measurements.
TransferModelParams fitted_model_params(bool copy_engines);

struct ModelStep {
    int window = 0;
    int pairs = 0;          // GPU pairs moving experts
    int length = 0;         // experts of the busiest pair
    int groups = 0;         // nccl groups (copy engines: 1 barrier)
    int ops_per_group = 0;  // sends + receives of one GPU in its fullest group (ce: its pushes)
    double start_ms = 0;    // first transfer starts
    double end_ms = 0;      // last transfer ends
    double delay_ms = 0;    // interference added to its slowest pair
    int inter_pairs = 0;    // pairs whose GPUs are on different nodes
};

struct TransferModelResult {
    TransferModelParams params;
    std::vector<ModelStep> steps;
    int64_t groups = 0;  // nccl groups per pass (0 for copy engines), as the executor counts them
    int64_t max_ops_per_group = 0;
    int64_t local_copies = 0;       // on the busiest local stream
    double seconds = 0;             // predicted pass time (the last stream to finish)
    double network_seconds = 0;     // when the last transfer ends
    double local_tail_seconds = 0;  // seconds - network_seconds: copies left after the network
    double ring_seconds = 0;        // the busiest receiver's bytes at the ring: max_received · bytes / ring
    LinkBound links;                // the link classes at ring · link_factor and inter_node_gbps
    double of_ring() const { return seconds > 0 ? ring_seconds / seconds : 0.0; }
};

// Runs the plan through the model: per GPU a network stream (the steps, in order) and a local
// stream (its copies, in order), with the executor's waits (a copy after its step, a step after
// its wait_local copies; copy engines: every step behind a barrier of all GPUs).
TransferModelResult model_transfer_plan(const TransferPlan& plan, const TransferModelParams& params);

// One schedule a sweep tries.
struct ScheduleCandidate {
    bool copy_engines = false;
    int group_size = 0;  // nccl only (0 for copy engines)
    int step_experts = 16;
    int layers_in_flight = 4;
};

struct SweepRow {
    ScheduleCandidate candidate;
    int64_t steps = 0;
    int64_t groups = 0;               // nccl groups per pass
    int64_t max_staging_buffers = 0;  // staging grows with the layers in flight
    double seconds = 0;               // predicted
    double of_ring = 0;
};

// The grid a sweep tries: every transport x group size (nccl only) x step experts x layers in flight.
struct ScheduleGrid {
    std::vector<TransferModelParams> transports;  // the model of each transport (its group_size unused)
    std::vector<int> group_sizes = {4, 8, 16, 32};
    std::vector<int> step_experts = {0, 4, 8, 16, 32};
    std::vector<int> layers_in_flight = {1, 2, 4, 8};
};

// Plans and models every candidate of `grid` (layers in flight above the layer count give the
// plan of the smallest such value, so only that one is kept), fastest first; ties keep grid order.
std::vector<SweepRow> sweep_schedules(const IndexMatrix& old_phy2log, const IndexMatrix& new_phy2log,
                                      const ParallelConfig& config, int64_t expert_bytes,
                                      const ScheduleGrid& grid);

}  // namespace eplb
