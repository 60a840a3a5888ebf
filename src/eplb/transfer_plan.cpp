// The shuffle's transfer plan: sender choice, step schedule (Birkhoff-von Neumann over the
// GPU-to-GPU matrix of each window), landing buffers and the ordered local copies.
#include "eplb/transfer_plan.h"

#include <algorithm>
#include <numeric>
#include <tuple>

#include "eplb/error.h"
#include "eplb/migration.h"
#include "eplb/transfer_plan_detail.h"

namespace eplb {

AlignedPlacements align_placements(const IndexMatrix& old_phy2log, int old_num_gpus,
                                   const IndexMatrix& new_phy2log, int new_num_gpus,
                                   const std::vector<int>& rank_mapping) {
    EPLB_CHECK(old_num_gpus >= 1 && new_num_gpus >= 1,
               "GPU counts must be at least 1 (old " << old_num_gpus << ", new " << new_num_gpus << ")");
    EPLB_CHECK(old_phy2log.rows() == new_phy2log.rows(),
               "old placement has " << old_phy2log.rows() << " layers, new placement " << new_phy2log.rows());
    EPLB_CHECK(old_phy2log.cols() % old_num_gpus == 0,
               "old placement has " << old_phy2log.cols() << " slots, not a multiple of its " << old_num_gpus
                                    << " GPUs");
    EPLB_CHECK(new_phy2log.cols() % new_num_gpus == 0,
               "new placement has " << new_phy2log.cols() << " slots, not a multiple of its " << new_num_gpus
                                    << " GPUs");
    const int k = static_cast<int>(old_phy2log.cols() / old_num_gpus);
    EPLB_CHECK(new_phy2log.cols() / new_num_gpus == k,
               "slots per GPU differ: old " << k << ", new " << new_phy2log.cols() / new_num_gpus);
    if (rank_mapping.empty()) {
        EPLB_CHECK(old_num_gpus == new_num_gpus, "the world changes from "
                                                     << old_num_gpus << " to " << new_num_gpus
                                                     << " GPUs: a rank mapping is needed");
        return {old_phy2log, new_phy2log, old_num_gpus, true};
    }
    EPLB_CHECK(static_cast<int>(rank_mapping.size()) == old_num_gpus,
               "rank mapping has " << rank_mapping.size() << " entries for " << old_num_gpus << " old ranks");
    std::vector<int> source_of(new_num_gpus, -1);
    for (int q = 0; q < old_num_gpus; ++q) {
        const int r = rank_mapping[q];
        EPLB_CHECK(r >= -1 && r < new_num_gpus, "rank mapping sends old rank "
                                                    << q << " to " << r << ", outside [-1, " << new_num_gpus
                                                    << ")");
        if (r < 0) continue;
        EPLB_CHECK(source_of[r] < 0, "rank mapping sends old ranks " << source_of[r] << " and " << q
                                                                     << " to the same new rank " << r);
        source_of[r] = q;
    }
    const Eigen::Index rows = old_phy2log.rows();
    if (new_num_gpus <= old_num_gpus) {
        // The old ranks take part; each keeps the slots of the new rank it becomes.
        for (int r = 0; r < new_num_gpus; ++r) {
            EPLB_CHECK(source_of[r] >= 0, "new rank " << r << " is no old rank's image in the rank mapping");
        }
        IndexMatrix aligned = IndexMatrix::Constant(rows, old_phy2log.cols(), -1);
        for (int q = 0; q < old_num_gpus; ++q) {
            if (rank_mapping[q] >= 0)
                aligned.middleCols(q * k, k) = new_phy2log.middleCols(rank_mapping[q] * k, k);
        }
        return {old_phy2log, aligned, old_num_gpus, true};
    }
    // The world grows: the new ranks take part; a joining rank starts empty.
    IndexMatrix aligned = IndexMatrix::Constant(rows, new_phy2log.cols(), -1);
    for (int q = 0; q < old_num_gpus; ++q) {
        if (rank_mapping[q] >= 0)
            aligned.middleCols(rank_mapping[q] * k, k) = old_phy2log.middleCols(q * k, k);
    }
    return {aligned, new_phy2log, new_num_gpus, false};
}

double TransferStats::bound_seconds(double bytes_per_second) const {
    return static_cast<double>(std::max(max_received, max_sent)) * static_cast<double>(expert_bytes) /
           bytes_per_second;
}

double TransferStats::schedule_seconds(double bytes_per_second) const {
    return static_cast<double>(schedule_length) * static_cast<double>(expert_bytes) / bytes_per_second;
}

namespace transfer_detail {

SlotMaps::SlotMaps(const IndexMatrix& old_phy2log, const IndexMatrix& new_phy2log, int num_gpus,
                   int num_experts)
    : p(num_gpus),
      k(static_cast<int>(old_phy2log.cols()) / num_gpus),
      e(num_experts),
      old_(old_phy2log),
      new_(new_phy2log),
      read_slot_(static_cast<size_t>(old_phy2log.rows()) * num_gpus * num_experts, -1) {
    auto rs = [&](int l, int q, int x) -> int& {
        return read_slot_[(static_cast<size_t>(l) * p + q) * e + x];
    };
    for (int l = 0; l < old_phy2log.rows(); ++l) {
        for (int q = 0; q < p; ++q) {
            for (int t = 0; t < k; ++t) {
                if (stable(l, q, t) && rs(l, q, old_at(l, q, t)) < 0) rs(l, q, old_at(l, q, t)) = t;
            }
            for (int t = 0; t < k; ++t) {
                const int x = old_at(l, q, t);
                if (x >= 0 && rs(l, q, x) < 0) rs(l, q, x) = t;
            }
        }
    }
}

}  // namespace transfer_detail

namespace {

using namespace transfer_detail;

void check_plan_inputs(const IndexMatrix& old_phy2log, const IndexMatrix& new_phy2log,
                       const ParallelConfig& c, const TransferPlanOptions& opt) {
    const int e = c.num_logical_experts, r = c.num_physical_experts, p = c.num_gpus, nn = c.num_nodes;
    EPLB_CHECK(e >= 1, "num_logical_experts (" << e << ") must be at least 1");
    EPLB_CHECK(p >= 1, "num_gpus (" << p << ") must be at least 1");
    EPLB_CHECK(nn >= 1 && p % nn == 0,
               "num_gpus (" << p << ") must be a multiple of num_nodes (" << nn << ")");
    EPLB_CHECK(r >= 1 && r % p == 0,
               "num_physical_experts (" << r << ") must be a positive multiple of num_gpus (" << p << ")");
    EPLB_CHECK(opt.expert_bytes >= 1, "expert_bytes (" << opt.expert_bytes << ") must be at least 1");
    EPLB_CHECK(opt.layers_in_flight >= 1,
               "layers_in_flight (" << opt.layers_in_flight << ") must be at least 1");
    EPLB_CHECK(opt.step_experts >= 0, "step_experts (" << opt.step_experts << ") must be at least 0");
    EPLB_CHECK(old_phy2log.rows() == new_phy2log.rows() && old_phy2log.cols() == new_phy2log.cols(),
               "old placement is " << old_phy2log.rows() << "x" << old_phy2log.cols()
                                   << " but new placement is " << new_phy2log.rows() << "x"
                                   << new_phy2log.cols() << " (layers x slots)");
    EPLB_CHECK(old_phy2log.cols() == r,
               "placements have " << old_phy2log.cols() << " slots, config says " << r);
    for (int which = 0; which < 2; ++which) {
        const IndexMatrix& m = which == 0 ? old_phy2log : new_phy2log;
        for (Eigen::Index l = 0; l < m.rows(); ++l) {
            for (Eigen::Index s = 0; s < m.cols(); ++s) {
                EPLB_CHECK(m(l, s) >= -1 && m(l, s) < e, (which == 0 ? "old" : "new")
                                                             << " phy2log[" << l << "][" << s << "] is "
                                                             << m(l, s) << ", outside [-1, " << e << ")");
            }
        }
    }
}

// build_transfer_plan in its steps; the numbers follow the order the plan is built in.
class PlanBuilder {
  public:
    PlanBuilder(const IndexMatrix& old_phy2log, const IndexMatrix& new_phy2log, const ParallelConfig& c,
                const TransferPlanOptions& opt)
        : maps_(old_phy2log, new_phy2log, c.num_gpus, c.num_logical_experts),
          opt_(opt),
          p_(c.num_gpus),
          k_(c.num_physical_experts / c.num_gpus),
          gpn_(c.num_gpus / c.num_nodes),
          num_layers_(static_cast<int>(old_phy2log.rows())),
          needs_(needed_experts(old_phy2log, new_phy2log, c)),
          sent_total_(p_, 0),
          local_(maps_, plan_.stats.gpus) {
        pool_size_[0].assign(p_, 0);
        pool_size_[1].assign(p_, 0);
        start_plan(old_phy2log, new_phy2log, c.num_nodes);
    }

    TransferPlan build() {
        for (int first = 0, w = 0; first < num_layers_; first += opt_.layers_in_flight, ++w) {
            Window win;
            win.w = w;
            win.first = first;
            win.end = std::min(num_layers_, first + opt_.layers_in_flight);
            win.k = k_;
            win.pool = w % 2;
            win.staged.assign(p_, 0);
            win.step0 = static_cast<int>(plan_.steps.size());
            collect_items(win);
            choose_senders(win);
            count_slot_facts(win);
            schedule_steps(win);
            local_.order_window(win);
            count_window_stats(win);
            for (int q = 0; q < p_; ++q)
                pool_size_[win.pool][q] = std::max(pool_size_[win.pool][q], win.staged[q]);
            plan_.window_first_layer.push_back(win.end);
            plan_.window_first_step.push_back(win.step_end);
        }
        local_.chain(plan_);
        fix_staging_indices();
        sum_stats();
        return std::move(plan_);
    }

  private:
    int new_at(int l, int q, int t) const { return maps_.new_at(l, q, t); }
    int rs(int l, int q, int x) const { return maps_.read_slot(l, q, x); }

    void start_plan(const IndexMatrix& old_phy2log, const IndexMatrix& new_phy2log, int num_nodes) {
        plan_.num_layers = num_layers_;
        plan_.num_gpus = p_;
        plan_.slots_per_gpu = k_;
        plan_.num_nodes = num_nodes;
        plan_.expert_bytes = opt_.expert_bytes;
        plan_.layers_in_flight = opt_.layers_in_flight;
        plan_.step_experts = opt_.step_experts;
        plan_.old_phy2log = old_phy2log;
        plan_.new_phy2log = new_phy2log;
        plan_.local.assign(p_, {});
        plan_.stats.expert_bytes = opt_.expert_bytes;
        plan_.stats.gpus.assign(p_, {});
        plan_.stats.link_experts = IndexMatrix::Zero(p_, p_);
        plan_.window_first_layer.push_back(0);
        plan_.window_first_step.push_back(0);
    }

    // 1a. The window's items: each expert a GPU lacks, with the slots it fills.
    void collect_items(Window& win) {
        for (; next_need_ < needs_.size() && needs_[next_need_].layer < win.end; ++next_need_) {
            const NeededExpert& need = needs_[next_need_];
            Item it;
            it.layer = need.layer;
            it.expert = need.expert;
            it.dst_gpu = need.gpu;
            it.intra = need.intra_node;
            for (int t = 0; t < k_; ++t) {
                if (new_at(it.layer, it.dst_gpu, t) == it.expert) it.targets.push_back(t);
            }
            win.items.push_back(std::move(it));
        }
    }

    // 1b. Senders: the receiver's node first, then the least loaded holder (this window, then
    // overall), forced choices before free ones.
    void choose_senders(Window& win) {
        std::vector<Item>& items = win.items;
        std::vector<std::vector<int>> candidates(items.size());
        for (size_t i = 0; i < items.size(); ++i) {
            const Item& it = items[i];
            const int node = it.dst_gpu / gpn_;
            std::vector<int> all, same;
            for (int q = 0; q < p_; ++q) {
                if (rs(it.layer, q, it.expert) < 0) continue;
                all.push_back(q);
                if (q / gpn_ == node) same.push_back(q);
            }
            EPLB_CHECK(!all.empty(), "layer " << it.layer << ": GPU " << it.dst_gpu << " needs expert "
                                              << it.expert << " but no GPU holds it in the old placement");
            candidates[i] = same.empty() ? all : same;
        }
        std::vector<int64_t> sent_win(p_, 0);
        win.count.assign(p_, std::vector<int64_t>(p_, 0));
        auto assign = [&](size_t i, int a) {
            items[i].src_gpu = a;
            items[i].src_slot = rs(items[i].layer, a, items[i].expert);
            ++sent_win[a];
            ++sent_total_[a];
            ++win.count[a][items[i].dst_gpu];
        };
        for (size_t i = 0; i < items.size(); ++i) {
            if (candidates[i].size() == 1) assign(i, candidates[i][0]);
        }
        for (size_t i = 0; i < items.size(); ++i) {
            if (candidates[i].size() == 1) continue;
            const int b = items[i].dst_gpu;
            int best = candidates[i][0];
            for (int a : candidates[i]) {
                if (std::tie(sent_win[a], sent_total_[a], win.count[a][b]) <
                    std::tie(sent_win[best], sent_total_[best], win.count[best][b])) {
                    best = a;
                }
            }
            assign(i, best);
        }
    }

    // 2. Slot facts of the window, per GPU: which old slots local copies read (those are written
    // by the local stream only, never received into), sends left per slot.
    void count_slot_facts(Window& win) {
        const size_t ns = static_cast<size_t>(win.end - win.first) * k_;
        win.loc_readers.assign(p_, std::vector<int>(ns, 0));
        win.sends_left.assign(p_, std::vector<int>(ns, 0));
        win.last_send.assign(p_, std::vector<int>(ns, -1));
        win.written.assign(p_, std::vector<char>(ns, 0));
        for (int l = win.first; l < win.end; ++l) {
            for (int q = 0; q < p_; ++q) {
                for (int t = 0; t < k_; ++t) {
                    const int y = new_at(l, q, t);
                    if (y < 0 || y == maps_.old_at(l, q, t)) continue;
                    const int src = rs(l, q, y);
                    if (src >= 0 && !maps_.stable(l, q, src)) ++win.loc_readers[q][win.idx(l, src)];
                }
            }
        }
        for (const Item& it : win.items) ++win.sends_left[it.src_gpu][win.idx(it.layer, it.src_slot)];
        // Queues per pair, and the receives still to be scheduled into each slot (freeing a slot
        // pays only while one is to come).
        win.queue.assign(p_, std::vector<std::vector<size_t>>(p_));
        for (size_t i = 0; i < win.items.size(); ++i)
            win.queue[win.items[i].src_gpu][win.items[i].dst_gpu].push_back(i);
        win.incoming_left.assign(p_, std::vector<int>(ns, 0));
        for (const Item& it : win.items) {
            for (int t : it.targets) ++win.incoming_left[it.dst_gpu][win.idx(it.layer, t)];
        }
    }

    // 3. Steps, and which items each pair moves in each.
    void schedule_steps(Window& win) {
        for (const StepShape& shape : split_steps(decompose(win.count), opt_.step_experts)) {
            const int sidx = static_cast<int>(plan_.steps.size());
            Step step;
            step.window = win.w;
            step.length = static_cast<int>(shape.length);
            step.send_peer.assign(p_, -1);
            step.recv_peer.assign(p_, -1);
            step.sends.assign(p_, {});
            step.wait_local.assign(p_, 0);
            std::vector<size_t> chosen;
            for (int a = 0; a < p_; ++a) {
                const int b = shape.peer[a];
                if (b == a || shape.count[a] == 0) continue;
                step.send_peer[a] = b;
                step.recv_peer[b] = a;
                take_pair_items(win, a, b, shape.count[a], chosen);
            }
            land_items(win, chosen, sidx);
            for (size_t i : chosen) {
                const Item& it = win.items[i];
                const size_t s = win.idx(it.layer, it.src_slot);
                --win.sends_left[it.src_gpu][s];
                win.last_send[it.src_gpu][s] = sidx;
                step.sends[it.src_gpu].push_back(Transfer{it.layer, it.expert, it.src_slot, it.landing});
            }
            plan_.steps.push_back(std::move(step));
        }
        win.step_end = static_cast<int>(plan_.steps.size());
        for (int a = 0; a < p_; ++a) {
            for (int b = 0; b < p_; ++b)
                EPLB_CHECK(win.queue[a][b].empty(), "internal: unscheduled transfers");
        }
    }

    // 3a. The `n` items pair a -> b moves in this step: receives that can land in their slot now go
    // first, then receives that never can (their slot is read by a local copy), then the rest;
    // ties by the sender freeing a slot that a receive still to be scheduled will land in
    // (directly, a step later), then layer.
    void take_pair_items(Window& win, int a, int b, int64_t n, std::vector<size_t>& chosen) {
        std::vector<size_t>& qu = win.queue[a][b];
        auto score = [&](size_t i) {
            const Item& it = win.items[i];
            int sc = 0;
            if (win.free_target(it) >= 0) {
                sc += 4;
            } else {
                bool never = true;
                for (int t : it.targets)
                    never = never && win.loc_readers[it.dst_gpu][win.idx(it.layer, t)] > 0;
                if (never) sc += 2;
            }
            const size_t s = win.idx(it.layer, it.src_slot);
            if (win.sends_left[a][s] == 1 && win.incoming_left[a][s] > 0 && win.loc_readers[a][s] == 0)
                sc += 1;
            return sc;
        };
        std::vector<std::pair<int, size_t>> ranked;
        for (size_t pos = 0; pos < qu.size(); ++pos) ranked.push_back({-score(qu[pos]), pos});
        std::stable_sort(ranked.begin(), ranked.end(),
                         [](const auto& x, const auto& y) { return x.first < y.first; });
        std::vector<char> take(qu.size(), 0);
        for (int64_t j = 0; j < n; ++j) take[ranked[j].second] = 1;
        std::vector<size_t> rest;
        for (size_t pos = 0; pos < qu.size(); ++pos) {
            if (take[pos]) {
                chosen.push_back(qu[pos]);
                const Item& it = win.items[qu[pos]];
                for (int t : it.targets) --win.incoming_left[it.dst_gpu][win.idx(it.layer, t)];
            } else {
                rest.push_back(qu[pos]);
            }
        }
        qu.swap(rest);
    }

    // 3b. Landing: the item's own slot when its old content has been sent in earlier steps and no
    // local copy reads it, else a staging buffer of this window's pool.
    void land_items(Window& win, const std::vector<size_t>& chosen, int sidx) {
        for (size_t i : chosen) {
            Item& it = win.items[i];
            it.step = sidx;
            const int t = win.free_target(it);
            if (t >= 0) {
                it.landing = BufferRef{it.layer, t};
                win.written[it.dst_gpu][win.idx(it.layer, t)] = 1;
                ++plan_.stats.gpus[it.dst_gpu].direct;
            } else {
                it.landing = BufferRef{-1, encode_staging(win.pool, win.staged[it.dst_gpu]++)};
                ++plan_.stats.gpus[it.dst_gpu].staged;
            }
        }
    }

    // Receives and sends per GPU, intra-node and per link.
    void count_window_stats(const Window& win) {
        TransferStats& st = plan_.stats;
        for (const Item& it : win.items) {
            GpuTransferStats& rx = st.gpus[it.dst_gpu];
            GpuTransferStats& tx = st.gpus[it.src_gpu];
            ++rx.received;
            ++tx.sent;
            const bool same_node = it.src_gpu / gpn_ == it.dst_gpu / gpn_;
            EPLB_CHECK(same_node == it.intra, "internal: sender node disagrees with the migration count");
            if (same_node) {
                ++rx.received_intra;
                ++tx.sent_intra;
            }
            ++st.link_experts(it.src_gpu, it.dst_gpu);
        }
    }

    // 6. Final staging indices: pool 0 first, then pool 1.
    void fix_staging_indices() {
        TransferStats& st = plan_.stats;
        for (int q = 0; q < p_; ++q) {
            st.gpus[q].staging_buffers = pool_size_[0][q] + pool_size_[1][q];
            st.max_staging_buffers = std::max(st.max_staging_buffers, st.gpus[q].staging_buffers);
        }
        auto fix = [&](BufferRef& b, int q) {
            if (!b.staging() || b.index >= 0) return;
            const int code = -b.index - 2;
            b.index = (code % 2 == 0 ? 0 : pool_size_[0][q]) + code / 2;
        };
        for (Step& step : plan_.steps) {
            for (int a = 0; a < p_; ++a) {
                for (Transfer& tr : step.sends[a]) fix(tr.dst, step.send_peer[a]);
            }
        }
        for (int q = 0; q < p_; ++q) {
            for (LocalCopy& lc : plan_.local[q]) {
                fix(lc.src, q);
                fix(lc.dst, q);
            }
        }
    }

    void sum_stats() {
        TransferStats& st = plan_.stats;
        for (int q = 0; q < p_; ++q) {
            st.received += st.gpus[q].received;
            st.received_intra += st.gpus[q].received_intra;
            st.max_received = std::max(st.max_received, st.gpus[q].received);
            st.max_sent = std::max(st.max_sent, st.gpus[q].sent);
        }
        for (const Step& step : plan_.steps) st.schedule_length += step.length;
    }

    const SlotMaps maps_;
    const TransferPlanOptions& opt_;
    const int p_, k_, gpn_, num_layers_;
    const std::vector<NeededExpert> needs_;
    size_t next_need_ = 0;
    std::vector<int64_t> sent_total_;
    std::vector<int> pool_size_[2];
    TransferPlan plan_;
    LocalCopyOrder local_;
};

}  // namespace

TransferPlan build_transfer_plan(const IndexMatrix& old_phy2log, const IndexMatrix& new_phy2log,
                                 const ParallelConfig& c, const TransferPlanOptions& opt) {
    check_plan_inputs(old_phy2log, new_phy2log, c, opt);
    return PlanBuilder(old_phy2log, new_phy2log, c, opt).build();
}

}  // namespace eplb
