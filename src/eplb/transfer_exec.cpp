// Host executor and order checker of the transfer plan: the plan as a graph of operations with the
// device executor's happens-before edges.
#include "eplb/transfer_exec.h"

#include <algorithm>
#include <cstring>
#include <queue>
#include <sstream>
#include <string>

#include "eplb/error.h"
#include "eplb/weight_pattern.h"

namespace eplb {

namespace {

constexpr uint8_t kEmptyFill = 0xa5;
constexpr uint8_t kStagingFill = 0x5a;

// One operation of the plan: a transfer or a local copy (start/end markers of steps move no data).
struct Op {
    int src_gpu = -1;  // -1: a marker
    BufferRef src;
    int dst_gpu = -1;
    BufferRef dst;
    std::string what;  // for messages
};

struct OpGraph {
    std::vector<Op> ops;
    std::vector<std::vector<int>> succ;
    std::vector<int> order;  // a topological order
    // The totally ordered chains the operations lie on: a GPU's step markers (chain q), its local
    // copies (chain P + q); -1 for transfers, which run concurrently within their step.
    std::vector<int> chain, pos;
    int num_chains = 0;

    int add(Op op, int on_chain = -1, int at = -1) {
        ops.push_back(std::move(op));
        succ.emplace_back();
        chain.push_back(on_chain);
        pos.push_back(at);
        return static_cast<int>(ops.size()) - 1;
    }
    void edge(int a, int b) { succ[a].push_back(b); }
};

std::string describe_buffer(int gpu, const BufferRef& b) {
    std::ostringstream out;
    if (b.staging()) {
        out << "GPU " << gpu << " staging " << b.index;
    } else {
        out << "GPU " << gpu << " layer " << b.layer << " slot " << b.index;
    }
    return out.str();
}

OpGraph build_graph(const TransferPlan& plan) {
    const int p = plan.num_gpus, ns = static_cast<int>(plan.steps.size());
    OpGraph g;
    g.num_chains = 2 * p;
    std::vector<std::vector<int>> start(p, std::vector<int>(ns)), end(p, std::vector<int>(ns));
    for (int s = 0; s < ns; ++s) {
        for (int q = 0; q < p; ++q) {
            start[q][s] = g.add(Op{}, q, 2 * s);
            end[q][s] = g.add(Op{}, q, 2 * s + 1);
            g.edge(start[q][s], end[q][s]);
            if (s > 0) g.edge(end[q][s - 1], start[q][s]);
        }
    }
    for (int s = 0; s < ns; ++s) {
        const Step& step = plan.steps[s];
        for (int a = 0; a < p; ++a) {
            const int b = step.send_peer[a];
            for (const Transfer& tr : step.sends[a]) {
                std::ostringstream what;
                what << "step " << s << " transfer of layer " << tr.layer << " expert " << tr.expert
                     << " GPU " << a << " -> " << b;
                const int t = g.add(Op{a, BufferRef{tr.layer, tr.src_slot}, b, tr.dst, what.str()});
                g.edge(start[a][s], t);
                g.edge(start[b][s], t);
                g.edge(t, end[a][s]);
                g.edge(t, end[b][s]);
            }
        }
    }
    for (int q = 0; q < p; ++q) {
        std::vector<int> local_ids;
        for (size_t i = 0; i < plan.local[q].size(); ++i) {
            const LocalCopy& lc = plan.local[q][i];
            std::ostringstream what;
            what << "GPU " << q << " local copy " << i << " (after step " << lc.after_step << ")";
            const int id = g.add(Op{q, lc.src, q, lc.dst, what.str()}, p + q, static_cast<int>(i));
            if (!local_ids.empty()) g.edge(local_ids.back(), id);
            if (lc.after_step >= 0) g.edge(end[q][lc.after_step], id);
            local_ids.push_back(id);
        }
        for (int s = 0; s < ns; ++s) {
            const int n = plan.steps[s].wait_local[q];
            if (n > 0) {
                EPLB_CHECK(n <= static_cast<int>(local_ids.size()),
                           "internal: step " << s << " waits for " << n << " local copies of GPU " << q);
                g.edge(local_ids[n - 1], start[q][s]);
            }
        }
    }
    // Kahn, smallest id first: deterministic.
    std::vector<int> indeg(g.ops.size(), 0);
    for (const auto& out : g.succ) {
        for (int v : out) ++indeg[v];
    }
    std::priority_queue<int, std::vector<int>, std::greater<>> ready;
    for (size_t v = 0; v < indeg.size(); ++v) {
        if (indeg[v] == 0) ready.push(static_cast<int>(v));
    }
    while (!ready.empty()) {
        const int v = ready.top();
        ready.pop();
        g.order.push_back(v);
        for (int w : g.succ[v]) {
            if (--indeg[w] == 0) ready.push(w);
        }
    }
    EPLB_CHECK(g.order.size() == g.ops.size(),
               "internal: the transfer plan's order has a cycle (a deadlock)");
    return g;
}

size_t buffer_key(const TransferPlan& plan, int gpu, const BufferRef& b) {
    const size_t slots = static_cast<size_t>(plan.num_layers) * plan.slots_per_gpu;
    const size_t per_gpu = slots + static_cast<size_t>(plan.stats.max_staging_buffers);
    return static_cast<size_t>(gpu) * per_gpu +
           (b.staging() ? slots + b.index : static_cast<size_t>(b.layer) * plan.slots_per_gpu + b.index);
}

uint8_t* buffer_ptr(const TransferPlan& plan, HostShuffleState& state, int gpu, const BufferRef& b) {
    const size_t eb = static_cast<size_t>(plan.expert_bytes);
    if (b.staging()) return state.staging[gpu].data() + static_cast<size_t>(b.index) * eb;
    return state.slots[gpu].data() + (static_cast<size_t>(b.layer) * plan.slots_per_gpu + b.index) * eb;
}

}  // namespace

HostShuffleState make_host_state(const TransferPlan& plan) {
    HostShuffleState st;
    const size_t eb = static_cast<size_t>(plan.expert_bytes), k = static_cast<size_t>(plan.slots_per_gpu);
    for (int q = 0; q < plan.num_gpus; ++q) {
        std::vector<uint8_t> slots(static_cast<size_t>(plan.num_layers) * k * eb, kEmptyFill);
        for (int l = 0; l < plan.num_layers; ++l) {
            for (size_t t = 0; t < k; ++t) {
                const int x = plan.old_phy2log(l, static_cast<Eigen::Index>(q * k + t));
                if (x < 0) continue;
                uint8_t* dst = slots.data() + (static_cast<size_t>(l) * k + t) * eb;
                for (size_t i = 0; i < eb; ++i) dst[i] = pattern_byte(l, x, i);
            }
        }
        st.slots.push_back(std::move(slots));
        st.staging.emplace_back(static_cast<size_t>(plan.stats.gpus[q].staging_buffers) * eb, kStagingFill);
    }
    return st;
}

void check_transfer_order(const TransferPlan& plan) {
    const OpGraph g = build_graph(plan);
    const size_t n = g.ops.size(), c = static_cast<size_t>(g.num_chains);
    // Vector clocks: clock[v][k] = the last position on chain k that happens before v or is v (-1:
    // none). Chains are totally ordered, so this is all of v's ancestry in n x chains ints (the
    // ancestor bitsets this replaces took n^2 bits: 375 MB for a 58-layer EP32 shuffle).
    std::vector<int32_t> clock(n * c, -1);
    std::vector<std::vector<int>> pred(n);
    for (size_t v = 0; v < n; ++v) {
        for (int w : g.succ[v]) pred[w].push_back(static_cast<int>(v));
    }
    for (int v : g.order) {
        int32_t* cv = &clock[static_cast<size_t>(v) * c];
        for (int u : pred[v]) {
            const int32_t* cu = &clock[static_cast<size_t>(u) * c];
            for (size_t k = 0; k < c; ++k) cv[k] = std::max(cv[k], cu[k]);
        }
        if (g.chain[v] >= 0) cv[g.chain[v]] = g.pos[v];
    }
    // a happens before b (a != b). A transfer lies on no chain; it happens before b exactly when one
    // of its successors (the end markers of its step on both GPUs) is b or happens before b.
    auto reaches = [&](int a, int b) {
        return a == b || clock[static_cast<size_t>(b) * c + g.chain[a]] >= g.pos[a];
    };
    auto before = [&](int a, int b) {
        if (g.chain[a] >= 0) return a != b && reaches(a, b);
        for (int w : g.succ[a]) {
            if (g.chain[w] < 0) EPLB_FAIL("internal: transfer followed by a transfer in the order graph");
            if (reaches(w, b)) return true;
        }
        return false;
    };
    // Accesses per buffer: (op, is_write).
    std::vector<std::vector<std::pair<int, bool>>> access(buffer_key(plan, plan.num_gpus, BufferRef{0, 0}));
    for (size_t v = 0; v < n; ++v) {
        const Op& op = g.ops[v];
        if (op.src_gpu < 0) continue;
        access[buffer_key(plan, op.src_gpu, op.src)].push_back({static_cast<int>(v), false});
        access[buffer_key(plan, op.dst_gpu, op.dst)].push_back({static_cast<int>(v), true});
    }
    for (const auto& list : access) {
        for (size_t i = 0; i < list.size(); ++i) {
            for (size_t j = i + 1; j < list.size(); ++j) {
                const auto [a, wa] = list[i];
                const auto [b, wb] = list[j];
                if (!wa && !wb) continue;
                if (before(a, b) || before(b, a)) continue;
                const Op& oa = g.ops[a];
                const std::string where =
                    wa ? describe_buffer(oa.dst_gpu, oa.dst) : describe_buffer(oa.src_gpu, oa.src);
                EPLB_FAIL("internal: unordered accesses to " << where << ": " << oa.what << " and "
                                                             << g.ops[b].what);
            }
        }
    }
}

void execute_on_host(const TransferPlan& plan, HostShuffleState& state) {
    const OpGraph g = build_graph(plan);
    const size_t eb = static_cast<size_t>(plan.expert_bytes);
    for (int v : g.order) {
        const Op& op = g.ops[v];
        if (op.src_gpu < 0) continue;
        std::memmove(buffer_ptr(plan, state, op.dst_gpu, op.dst), buffer_ptr(plan, state, op.src_gpu, op.src),
                     eb);
    }
}

std::vector<std::vector<int64_t>> count_wrong_bytes(const TransferPlan& plan, const HostShuffleState& state) {
    const size_t eb = static_cast<size_t>(plan.expert_bytes), k = static_cast<size_t>(plan.slots_per_gpu);
    std::vector<std::vector<int64_t>> wrong(plan.num_gpus, std::vector<int64_t>(plan.num_layers, 0));
    for (int q = 0; q < plan.num_gpus; ++q) {
        for (int l = 0; l < plan.num_layers; ++l) {
            for (size_t t = 0; t < k; ++t) {
                const int y = plan.new_phy2log(l, static_cast<Eigen::Index>(q * k + t));
                if (y < 0) continue;
                const uint8_t* got = state.slots[q].data() + (static_cast<size_t>(l) * k + t) * eb;
                for (size_t i = 0; i < eb; ++i) wrong[q][l] += got[i] != pattern_byte(l, y, i);
            }
        }
    }
    return wrong;
}

}  // namespace eplb
