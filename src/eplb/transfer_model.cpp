// The alpha-beta model of a transfer plan's run (see transfer_model.h): a timeline of each GPU's
// network and local streams with the device executor's waits, and the sweep over schedules.
#include "eplb/transfer_model.h"

#include <algorithm>
#include <cmath>

#include "eplb/error.h"

namespace eplb {

TransferModelParams fitted_model_params(bool copy_engines) {
    TransferModelParams m;
    m.copy_engines = copy_engines;
    m.ring_gbps = 350;   // NCCL ring on 2 and 4 x H200 (NV18): 345.6-358.2 GB/s measured
    m.copy_gbps = 1600;  // device-local copies of an expert, fitted to the ce runs (H200)
    if (copy_engines) {
        m.link_factor = 1.1;  // copy-engine ring 384-391 GB/s against the NCCL ring's ~350 (4 x H200)
        m.op_us = 0;
        m.group_us = 10;       // a step's barrier of events over all GPUs, fitted
        m.interference = 0.1;  // fitted
    } else {
        // An expert-sized NCCL ring in groups of 8 without local copies reached 327 of 355 GB/s
        // (2 x H200): group_us + 8 · op_us = 85 us; the split between them is not identified.
        m.op_us = 8;
        m.group_us = 21;
        m.interference = 0.5;  // fitted: the nccl runs lose ~25% once local copies overlap them
    }
    return m;
}

namespace {

// One GPU's local stream as the model runs it: the copies' [start, end) in order.
struct LocalStream {
    std::vector<double> start, end;
    size_t next = 0;  // the next copy of plan.local[q] to place

    double free() const { return end.empty() ? 0.0 : end.back(); }

    // Seconds of [a, b) during which this stream copies.
    double overlap(double a, double b) const {
        auto it = std::upper_bound(end.begin(), end.end(), a);
        double busy = 0;
        for (size_t i = static_cast<size_t>(it - end.begin()); i < end.size() && start[i] < b; ++i)
            busy += std::min(b, end[i]) - std::max(a, start[i]);
        return busy;
    }
};

class TimelineModel {
  public:
    TimelineModel(const TransferPlan& plan, const TransferModelParams& m)
        : plan_(plan),
          m_(m),
          p_(plan.num_gpus),
          wire_s_(static_cast<double>(plan.expert_bytes) / (m.ring_gbps * m.link_factor * 1e9)),
          inter_wire_s_(static_cast<double>(plan.expert_bytes) / (m.inter_node_gbps * 1e9)),
          copy_s_(static_cast<double>(plan.expert_bytes) / (m.copy_gbps * 1e9)),
          net_free_(p_, 0.0),
          local_(p_),
          step_done_(plan.steps.size(), std::vector<double>(p_, 0.0)),
          step_all_done_(plan.steps.size(), 0.0) {}

    TransferModelResult run() {
        TransferModelResult r;
        r.params = m_;
        const int num_steps = static_cast<int>(plan_.steps.size());
        for (int s = 0; s < num_steps; ++s) {
            for (int q = 0; q < p_; ++q) place_local(q, s);
            ModelStep row = m_.copy_engines ? copy_engine_step(s) : nccl_step(s);
            step_all_done_[s] = *std::max_element(step_done_[s].begin(), step_done_[s].end());
            r.groups += m_.copy_engines ? 0 : row.groups;
            r.max_ops_per_group =
                std::max<int64_t>(r.max_ops_per_group, m_.copy_engines ? 0 : row.ops_per_group);
            r.steps.push_back(row);
        }
        for (int q = 0; q < p_; ++q) {
            place_local(q, num_steps + 1);
            r.network_seconds = std::max(r.network_seconds, net_free_[q]);
            r.seconds = std::max({r.seconds, net_free_[q], local_[q].free()});
            r.local_copies = std::max<int64_t>(r.local_copies, static_cast<int64_t>(plan_.local[q].size()));
        }
        r.local_tail_seconds = r.seconds - r.network_seconds;
        r.ring_seconds = static_cast<double>(plan_.stats.max_received) *
                         static_cast<double>(plan_.expert_bytes) / (m_.ring_gbps * 1e9);
        r.links = link_bound(plan_, LinkSpeeds{m_.ring_gbps * m_.link_factor, m_.inter_node_gbps});
        return r;
    }

  private:
    // GPU q's copies that the executor enqueues before step s (those after steps before s).
    void place_local(int q, int s) {
        const std::vector<LocalCopy>& ops = plan_.local[q];
        LocalStream& ls = local_[q];
        for (; ls.next < ops.size() && ops[ls.next].after_step < s; ++ls.next) {
            const int after = ops[ls.next].after_step;
            // Copy engines: a receive is pushed by its sender, so a copy waits for every GPU's step.
            const double dep = after < 0         ? 0.0
                               : m_.copy_engines ? step_all_done_[after]
                                                 : step_done_[after][q];
            const double start = std::max(ls.free(), dep);
            ls.start.push_back(start);
            ls.end.push_back(start + copy_s_);
        }
    }

    // When GPU q's network stream may start step s: after its previous step and its wait_local copies.
    double ready(int q, int s) const {
        const int n = plan_.steps[s].wait_local[q];
        return n > 0 ? std::max(net_free_[q], local_[q].end[n - 1]) : net_free_[q];
    }

    // Seconds per expert between GPUs a and b: NVLink within a node, the network between nodes.
    double wire(int a, int b) const { return same_node(plan_, a, b) ? wire_s_ : inter_wire_s_; }

    // A transfer of `work` seconds from `start` between GPUs a and b, slowed while either copies.
    double finish(int a, int b, double start, double work) const {
        double end = start + work;
        if (m_.interference <= 0) return end;
        for (int i = 0; i < 3; ++i) {
            const double busy = std::max(local_[a].overlap(start, end), local_[b].overlap(start, end));
            end = start + work + m_.interference * busy;
        }
        return end;
    }

    ModelStep copy_engine_step(int s) {
        const Step& st = plan_.steps[s];
        ModelStep row{st.window, 0, st.length, 1, 0, 0, 0, 0};
        double barrier = 0;
        for (int q = 0; q < p_; ++q) barrier = std::max(barrier, ready(q, s));
        barrier += m_.group_us * 1e-6;
        row.start_ms = row.end_ms = barrier * 1e3;
        for (int a = 0; a < p_; ++a) {
            double done = barrier;
            const int b = st.send_peer[a];
            if (b >= 0) {
                const int n = static_cast<int>(st.sends[a].size());
                const double work = n * (m_.op_us * 1e-6 + wire(a, b));
                done = finish(a, b, barrier, work);
                ++row.pairs;
                row.inter_pairs += same_node(plan_, a, b) ? 0 : 1;
                row.ops_per_group = std::max(row.ops_per_group, n);
                row.delay_ms = std::max(row.delay_ms, (done - barrier - work) * 1e3);
            }
            step_done_[s][a] = net_free_[a] = done;
            row.end_ms = std::max(row.end_ms, done * 1e3);
        }
        return row;
    }

    ModelStep nccl_step(int s) {
        const Step& st = plan_.steps[s];
        const int g = std::max(1, m_.group_size);
        ModelStep row{st.window, 0, st.length, (st.length + g - 1) / g, 2 * std::min(st.length, g), 0, 0, 0};
        for (int q = 0; q < p_; ++q) {
            net_free_[q] = ready(q, s);
            if (st.send_peer[q] < 0) continue;
            ++row.pairs;
            row.inter_pairs += same_node(plan_, q, st.send_peer[q]) ? 0 : 1;
        }
        row.start_ms = 1e300;
        for (int c = 0; c < st.length; c += g) {
            // A group starts on each GPU when its stream is free; a pair moves once both ends run.
            std::vector<double> done = net_free_;
            for (int a = 0; a < p_; ++a) {
                const int b = st.send_peer[a];
                const int n = std::clamp(static_cast<int>(st.sends[a].size()) - c, 0, g);
                if (b < 0 || n == 0) continue;
                const double start = std::max(net_free_[a], net_free_[b]);
                const double work = m_.group_us * 1e-6 + n * (m_.op_us * 1e-6 + wire(a, b));
                const double end = finish(a, b, start, work);
                done[a] = std::max(done[a], end);
                done[b] = std::max(done[b], end);
                row.start_ms = std::min(row.start_ms, start * 1e3);
                row.end_ms = std::max(row.end_ms, end * 1e3);
                row.delay_ms = std::max(row.delay_ms, (end - start - work) * 1e3);
            }
            net_free_ = done;
        }
        if (row.start_ms > row.end_ms) row.start_ms = row.end_ms;
        step_done_[s] = net_free_;
        return row;
    }

    const TransferPlan& plan_;
    const TransferModelParams& m_;
    const int p_;
    const double wire_s_, inter_wire_s_,
        copy_s_;                    // seconds per expert on NVLink, between nodes, per local copy
    std::vector<double> net_free_;  // [P] when each network stream is free
    std::vector<LocalStream> local_;
    std::vector<std::vector<double>> step_done_;  // [S][P]
    std::vector<double> step_all_done_;           // [S] the last GPU's
};

void check_model_params(const TransferModelParams& m) {
    EPLB_CHECK(m.ring_gbps > 0 && m.link_factor > 0 && m.copy_gbps > 0 && m.inter_node_gbps > 0 &&
                   std::isfinite(m.inter_node_gbps),
               "model bandwidths must be positive (ring "
                   << m.ring_gbps << " GB/s, link factor " << m.link_factor << ", copies " << m.copy_gbps
                   << " GB/s, inter-node " << m.inter_node_gbps << " GB/s)");
    EPLB_CHECK(m.op_us >= 0 && m.group_us >= 0 && m.interference >= 0,
               "model latencies and interference must be at least 0 (op "
                   << m.op_us << " us, group " << m.group_us << " us, interference " << m.interference
                   << ")");
    EPLB_CHECK(m.group_size >= 1, "model group size (" << m.group_size << ") must be at least 1");
}

}  // namespace

TransferModelResult model_transfer_plan(const TransferPlan& plan, const TransferModelParams& params) {
    check_model_params(params);
    return TimelineModel(plan, params).run();
}

std::vector<SweepRow> sweep_schedules(const IndexMatrix& old_phy2log, const IndexMatrix& new_phy2log,
                                      const ParallelConfig& config, int64_t expert_bytes,
                                      const ScheduleGrid& grid) {
    const int num_layers = static_cast<int>(old_phy2log.rows());
    std::vector<int> lifs = grid.layers_in_flight;
    std::sort(lifs.begin(), lifs.end());
    lifs.erase(std::unique(lifs.begin(), lifs.end()), lifs.end());
    // Values past the layer count all plan one window: keep the first.
    auto past = std::find_if(lifs.begin(), lifs.end(), [&](int v) { return v >= num_layers; });
    if (past != lifs.end()) lifs.erase(past + 1, lifs.end());
    std::vector<SweepRow> rows;
    for (int lif : lifs) {
        for (int se : grid.step_experts) {
            const TransferPlan plan = build_transfer_plan(old_phy2log, new_phy2log, config,
                                                          TransferPlanOptions{expert_bytes, lif, se});
            for (const TransferModelParams& base : grid.transports) {
                const std::vector<int> sizes = base.copy_engines ? std::vector<int>{0} : grid.group_sizes;
                for (int g : sizes) {
                    TransferModelParams m = base;
                    if (!m.copy_engines) m.group_size = g;
                    const TransferModelResult r = model_transfer_plan(plan, m);
                    rows.push_back(SweepRow{{m.copy_engines, g, se, lif},
                                            static_cast<int64_t>(plan.steps.size()),
                                            r.groups,
                                            plan.stats.max_staging_buffers,
                                            r.seconds,
                                            r.of_ring()});
                }
            }
        }
    }
    std::stable_sort(rows.begin(), rows.end(),
                     [](const SweepRow& a, const SweepRow& b) { return a.seconds < b.seconds; });
    return rows;
}

}  // namespace eplb
