// The transports of the device shuffle in one table, as nccl-tests keeps its collectives: what each
// needs, how it moves one step of the plan, what a local copy after a step waits for, and what the
// report counts. The harness (device_shuffle.cpp) does the rest. Internal to cuda/.
#pragma once

#include <cstdint>
#include <vector>

#include <cuda_runtime.h>
#include <nccl.h>

#include "cuda/shuffle_world.h"
#include "eplb/shuffle_run.h"
#include "eplb/transfer_plan.h"

namespace eplb::cuda {

// What a transport works on: the plan, the GPUs this process drives with their communicators, and
// where a plan buffer lives (slots of `stride` bytes, staging buffers after them).
struct StepContext {
    const TransferPlan& plan;
    std::vector<Gpu>& gpus;
    const std::vector<ncclComm_t>& comms;  // [gpus]
    int64_t stride = 0;
    int group_size = 8;

    uint8_t* buffer(const Gpu& g, const BufferRef& b) const {
        if (b.staging()) return g.staging + b.index * stride;
        return g.slots + (static_cast<int64_t>(b.layer) * plan.slots_per_gpu + b.index) * stride;
    }
    const Gpu* gpu_of(int q) const {
        for (const Gpu& g : gpus) {
            if (g.q == q) return &g;
        }
        return nullptr;
    }
};

struct ShuffleTransportOps {
    ShuffleTransport transport;
    // NCCL_P2P_NVL_CHUNKSIZE set for it unless the options or the environment give one (0: none).
    int64_t default_p2p_chunk;
    // Only for one process driving every GPU, with peer access between every two.
    bool needs_peer_access;
    // Enqueues step s on every GPU's `net` stream, after what is already there, and records each
    // GPU's step_done[s] once its part of the step is enqueued.
    void (*enqueue_step)(const StepContext& ctx, int s);
    // Makes `stream` (a local stream of GPU g) wait until step s has delivered g's receives.
    void (*wait_for_step)(const StepContext& ctx, const Gpu& g, int s, cudaStream_t stream);
    // Fills the result's NCCL counts (groups per pass, operations per group); 0 where none are used.
    void (*count_groups)(const TransferPlan& plan, int group_size, ShuffleRunResult& res);
};

// The table's entry of a transport (not kAuto).
const ShuffleTransportOps& transport_ops(ShuffleTransport transport);

}  // namespace eplb::cuda
