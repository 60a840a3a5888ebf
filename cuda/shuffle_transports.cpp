// The table of the device shuffle's transports (see shuffle_transports.h): NCCL point-to-point in
// groups, and copy engines pushed by the sender behind a barrier of events.
#include "cuda/shuffle_transports.h"

#include <algorithm>

#include "cuda/nccl_check.h"
#include "eplb/error.h"

namespace eplb::cuda {

namespace {

// ncclSend/ncclRecv of expert-sized operations, at most group_size sends and receives per GPU in
// one group; the receiver takes its sender's transfers in the sender's order.
void enqueue_nccl_step(const StepContext& ctx, int s) {
    const Step& st = ctx.plan.steps[s];
    const int64_t eb = ctx.plan.expert_bytes;
    const int gs = ctx.group_size;
    for (int c = 0; c < st.length; c += gs) {
        NCCL_CHECK(ncclGroupStart());
        for (size_t i = 0; i < ctx.gpus.size(); ++i) {
            Gpu& g = ctx.gpus[i];
            const int to = st.send_peer[g.q], from = st.recv_peer[g.q];
            if (to >= 0) {
                const std::vector<Transfer>& out = st.sends[g.q];
                for (int j = c; j < std::min<int>(out.size(), c + gs); ++j) {
                    NCCL_CHECK(ncclSend(ctx.buffer(g, BufferRef{out[j].layer, out[j].src_slot}), eb,
                                        ncclUint8, to, ctx.comms[i], g.net));
                }
            }
            if (from >= 0) {
                const std::vector<Transfer>& in = st.sends[from];
                for (int j = c; j < std::min<int>(in.size(), c + gs); ++j) {
                    NCCL_CHECK(ncclRecv(ctx.buffer(g, in[j].dst), eb, ncclUint8, from, ctx.comms[i], g.net));
                }
            }
        }
        NCCL_CHECK(ncclGroupEnd());
    }
    for (Gpu& g : ctx.gpus) {
        CUDA_CHECK(cudaSetDevice(g.device));
        CUDA_CHECK(cudaEventRecord(g.step_done[s], g.net));
    }
}

// A GPU's receives arrive on its own network stream.
void wait_own_step(const StepContext&, const Gpu& g, int s, cudaStream_t stream) {
    CUDA_CHECK(cudaStreamWaitEvent(stream, g.step_done[s], 0));
}

void count_nccl_groups(const TransferPlan& plan, int group_size, ShuffleRunResult& res) {
    const int g_size = std::max(1, group_size);
    for (const Step& st : plan.steps) {
        res.nccl_groups += (st.length + g_size - 1) / g_size;
        res.max_ops_per_group = std::max<int64_t>(res.max_ops_per_group, 2 * std::min(st.length, g_size));
    }
}

// Every GPU's network stream waits until every GPU is ready for the step (what it waits for locally
// is done), then pushes its sends into the receiver's buffers with cudaMemcpyPeerAsync.
void enqueue_copy_engine_step(const StepContext& ctx, int s) {
    const Step& st = ctx.plan.steps[s];
    const int64_t eb = ctx.plan.expert_bytes;
    for (Gpu& g : ctx.gpus) {
        CUDA_CHECK(cudaSetDevice(g.device));
        CUDA_CHECK(cudaEventRecord(g.step_ready[s], g.net));
    }
    for (Gpu& g : ctx.gpus) {
        CUDA_CHECK(cudaSetDevice(g.device));
        for (const Gpu& h : ctx.gpus) {
            if (&h != &g) CUDA_CHECK(cudaStreamWaitEvent(g.net, h.step_ready[s], 0));
        }
        const int peer = st.send_peer[g.q];
        if (peer >= 0) {
            const Gpu* dst = ctx.gpu_of(peer);
            for (const Transfer& tr : st.sends[g.q]) {
                CUDA_CHECK(cudaMemcpyPeerAsync(ctx.buffer(*dst, tr.dst), dst->device,
                                               ctx.buffer(g, BufferRef{tr.layer, tr.src_slot}), g.device, eb,
                                               g.net));
            }
        }
        CUDA_CHECK(cudaEventRecord(g.step_done[s], g.net));
    }
}

// A GPU's receives are pushed by its sender's stream: wait for every GPU's part of the step.
void wait_every_step(const StepContext& ctx, const Gpu&, int s, cudaStream_t stream) {
    for (const Gpu& h : ctx.gpus) CUDA_CHECK(cudaStreamWaitEvent(stream, h.step_done[s], 0));
}

void count_no_groups(const TransferPlan&, int, ShuffleRunResult&) {}

constexpr ShuffleTransportOps kTransports[] = {
    {ShuffleTransport::kNccl, 65536, false, enqueue_nccl_step, wait_own_step, count_nccl_groups},
    {ShuffleTransport::kCopyEngine, 0, true, enqueue_copy_engine_step, wait_every_step, count_no_groups},
};

}  // namespace

const ShuffleTransportOps& transport_ops(ShuffleTransport transport) {
    for (const ShuffleTransportOps& ops : kTransports) {
        if (ops.transport == transport) return ops;
    }
    EPLB_FAIL_KIND(ErrorKind::kDevice, "internal: no transport " << transport_name(transport));
}

}  // namespace eplb::cuda
