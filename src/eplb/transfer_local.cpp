// The local stream of a transfer plan: each GPU's slot writes ordered after the sends of their old
// content and the copies that read it, cycles broken through staging, the windows chained.
#include "eplb/transfer_plan_detail.h"

#include <algorithm>

#include "eplb/error.h"

namespace eplb::transfer_detail {

// A write of one slot by the local stream, waiting to be ordered.
struct LocalCopyOrder::PendingWrite {
    int layer = 0;
    int slot = 0;
    BufferRef src;
    CopyKind kind = CopyKind::kLocal;
    int earliest = -1;     // step after which it may run (-1: any time)
    int src_tracked = -1;  // index of the old slot it reads, when that slot is itself written
};

// 4. Local copies per GPU: every slot write after the sends of its old content and after the
// local copies that read it, swept step by step.
void LocalCopyOrder::order_window(Window& win) {
    std::vector<std::vector<int>> item_of(maps_.p, std::vector<int>(win.loc_readers[0].size(), -1));
    for (size_t i = 0; i < win.items.size(); ++i) {
        for (int t : win.items[i].targets)
            item_of[win.items[i].dst_gpu][win.idx(win.items[i].layer, t)] = static_cast<int>(i);
    }
    for (int q = 0; q < maps_.p; ++q) {
        std::vector<PendingWrite> pending = pending_writes(win, q, item_of[q]);
        std::vector<LocalCopy> pre, post;
        std::vector<int> positions = {-1};
        for (int s = win.step0; s < win.step_end; ++s) positions.push_back(s);
        if (win.step0 == win.step_end) positions.push_back(-2);  // no network: one unconstrained position
        for (int pos : positions) sweep_position(win, q, pos, pending, pos == -1 ? pre : post);
        EPLB_CHECK(pending.empty(), "internal: local copies left unordered on GPU " << q);
        pre_all_[q].push_back(std::move(pre));
        post_all_[q].push_back(std::move(post));
    }
}

// 4a. The slot writes of GPU q in the window: from an old slot of its own, or from where a
// received expert landed (unless it landed in the slot itself).
std::vector<LocalCopyOrder::PendingWrite> LocalCopyOrder::pending_writes(const Window& win, int q,
                                                                         const std::vector<int>& item_of) {
    std::vector<PendingWrite> pending;
    for (int l = win.first; l < win.end; ++l) {
        for (int t = 0; t < maps_.k; ++t) {
            const int y = maps_.new_at(l, q, t);
            if (y < 0 || y == maps_.old_at(l, q, t)) continue;
            const size_t s = win.idx(l, t);
            PendingWrite pw;
            pw.layer = l;
            pw.slot = t;
            pw.earliest = win.last_send[q][s];
            const int src = maps_.read_slot(l, q, y);
            if (src >= 0) {
                pw.src = BufferRef{l, src};
                pw.kind = CopyKind::kLocal;
                if (!maps_.stable(l, q, src)) pw.src_tracked = static_cast<int>(win.idx(l, src));
                ++stats_[q].local_copies;
            } else {
                const Item& it = win.items[item_of[s]];
                if (it.landing == BufferRef{l, t}) continue;  // received straight into it
                pw.src = it.landing;
                pw.kind = CopyKind::kLanding;
                pw.earliest = std::max(pw.earliest, it.step);
                ++stats_[q].landing_copies;
            }
            pending.push_back(pw);
        }
    }
    return pending;
}

// 4b. The writes that can run at position `pos` (-1: before the window's network, else after
// step pos), repeated until none can; a cycle of local copies is broken by saving one old
// content to staging (never before the network: PRE only takes what is free).
void LocalCopyOrder::sweep_position(Window& win, int q, int pos, std::vector<PendingWrite>& pending,
                                    std::vector<LocalCopy>& out) {
    std::vector<int>& readers = win.loc_readers[q];
    const int after = std::max(pos, -1);
    const bool is_pre = pos == -1;
    for (;;) {
        bool progress = false;
        for (size_t i = 0; i < pending.size();) {
            PendingWrite& pw = pending[i];
            if (pw.earliest <= after && readers[win.idx(pw.layer, pw.slot)] == 0) {
                out.push_back(LocalCopy{after, pw.src, BufferRef{pw.layer, pw.slot}, pw.kind});
                if (pw.src_tracked >= 0) --readers[pw.src_tracked];
                pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(i));
                progress = true;
            } else {
                ++i;
            }
        }
        if (progress || is_pre) {
            if (!progress) break;
            continue;
        }
        if (!save_one(win, q, after, pending, out)) break;
    }
}

// 4c. Stuck: save a slot whose every pending reader could run now; false when there is none.
bool LocalCopyOrder::save_one(Window& win, int q, int after, std::vector<PendingWrite>& pending,
                              std::vector<LocalCopy>& out) {
    int victim = -1;
    for (const PendingWrite& pw : pending) {
        if (pw.earliest > after) continue;
        const int s = static_cast<int>(win.idx(pw.layer, pw.slot));
        bool all_ready = true;
        for (const PendingWrite& rd : pending) {
            if (rd.src_tracked == s && rd.earliest > after) all_ready = false;
        }
        if (all_ready) {
            victim = s;
            break;
        }
    }
    if (victim < 0) return false;
    const BufferRef temp{-1, encode_staging(win.pool, win.staged[q]++)};
    const BufferRef old_slot{win.first + victim / maps_.k, victim % maps_.k};
    out.push_back(LocalCopy{after, old_slot, temp, CopyKind::kSave});
    ++stats_[q].saves;
    for (PendingWrite& rd : pending) {
        if (rd.src_tracked == victim) {
            rd.src = temp;
            rd.src_tracked = -1;
        }
    }
    win.loc_readers[q][victim] = 0;
    return true;
}

// 5. Each GPU's local stream: PRE(0), then per window w: PRE(w+1), POST(w). The first step of
// window w waits for everything through PRE(w), which includes POST(w-2): the last users of
// the staging pool that window w uses again.
void LocalCopyOrder::chain(TransferPlan& plan) const {
    const int num_windows = plan.num_windows();
    for (int q = 0; q < maps_.p; ++q) {
        std::vector<LocalCopy>& out = plan.local[q];
        std::vector<int64_t> through_pre(num_windows, 0);
        if (num_windows > 0) {
            out.insert(out.end(), pre_all_[q][0].begin(), pre_all_[q][0].end());
            through_pre[0] = static_cast<int64_t>(out.size());
        }
        for (int w = 0; w < num_windows; ++w) {
            if (w + 1 < num_windows) {
                out.insert(out.end(), pre_all_[q][w + 1].begin(), pre_all_[q][w + 1].end());
                through_pre[w + 1] = static_cast<int64_t>(out.size());
            }
            out.insert(out.end(), post_all_[q][w].begin(), post_all_[q][w].end());
        }
        int64_t waited = 0;
        for (int w = 0; w < num_windows; ++w) {
            const int s0 = plan.window_first_step[w];
            if (s0 == plan.window_first_step[w + 1]) continue;
            if (through_pre[w] > waited) {
                plan.steps[s0].wait_local[q] = static_cast<int>(through_pre[w]);
                waited = through_pre[w];
            }
        }
    }
}

}  // namespace eplb::transfer_detail
