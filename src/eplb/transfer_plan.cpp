// The shuffle's transfer plan: sender choice, step schedule (Birkhoff-von Neumann over the
// GPU-to-GPU matrix of each window), landing buffers and the ordered local copies.
#include "eplb/transfer_plan.h"

#include <algorithm>
#include <numeric>

#include "eplb/error.h"
#include "eplb/migration.h"

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

namespace {

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
int encode_staging(int pool, int i) { return -(2 + 2 * i + pool); }

// A perfect matching of the positive entries of an n x n matrix whose rows and columns all have
// the same sum (Birkhoff: one exists), rebuilt incrementally: rows keep their match while its
// entry stays positive; new matches prefer large entries.
class Matcher {
  public:
    explicit Matcher(int n) : n_(n), row_(n, -1), col_(n, -1) {}

    const std::vector<int>& match(const std::vector<std::vector<int64_t>>& m) {
        for (int i = 0; i < n_; ++i) {
            if (row_[i] >= 0 && m[i][row_[i]] <= 0) {
                col_[row_[i]] = -1;
                row_[i] = -1;
            }
        }
        for (int i = 0; i < n_; ++i) {
            if (row_[i] >= 0) continue;
            std::vector<char> seen(n_, 0);
            const bool ok = augment(m, i, seen);
            EPLB_CHECK(ok, "internal: no perfect matching in the transfer matrix");
        }
        return row_;
    }

  private:
    bool augment(const std::vector<std::vector<int64_t>>& m, int i, std::vector<char>& seen) {
        std::vector<int> cols;
        for (int j = 0; j < n_; ++j) {
            if (m[i][j] > 0 && !seen[j]) cols.push_back(j);
        }
        std::stable_sort(cols.begin(), cols.end(), [&](int a, int b) { return m[i][a] > m[i][b]; });
        for (int j : cols) {
            if (seen[j]) continue;
            seen[j] = 1;
            if (col_[j] < 0 || augment(m, col_[j], seen)) {
                row_[i] = j;
                col_[j] = i;
                return true;
            }
        }
        return false;
    }

    int n_;
    std::vector<int> row_, col_;
};

struct StepShape {
    std::vector<int> peer;       // [P] receiver of each sender (itself: idle)
    int64_t length = 0;          // experts
    std::vector<int64_t> count;  // [P] real experts the sender moves
};

// Cuts the transfer counts c[a][b] into steps, each a permutation, so that the steps' lengths sum
// to T = max(row sums, column sums): pad to a matrix whose rows and columns all sum to T (padding is
// idle time), peel permutations off it, and spend each pair's real transfers first.
std::vector<StepShape> decompose(const std::vector<std::vector<int64_t>>& c) {
    const int n = static_cast<int>(c.size());
    std::vector<int64_t> row(n, 0), col(n, 0);
    for (int a = 0; a < n; ++a) {
        for (int b = 0; b < n; ++b) {
            row[a] += c[a][b];
            col[b] += c[a][b];
        }
    }
    const int64_t t =
        std::max(*std::max_element(row.begin(), row.end()), *std::max_element(col.begin(), col.end()));
    std::vector<StepShape> steps;
    if (t == 0) return steps;
    std::vector<std::vector<int64_t>> m = c, real = c;
    std::vector<int64_t> rdef(n), cdef(n);
    for (int i = 0; i < n; ++i) {
        rdef[i] = t - row[i];
        cdef[i] = t - col[i];
    }
    // Padding on the diagonal first (a GPU idle in both directions), then anywhere.
    for (int i = 0; i < n; ++i) {
        const int64_t a = std::min(rdef[i], cdef[i]);
        m[i][i] += a;
        rdef[i] -= a;
        cdef[i] -= a;
    }
    for (int i = 0; i < n; ++i) {
        for (int j = 0; j < n && rdef[i] > 0; ++j) {
            const int64_t a = std::min(rdef[i], cdef[j]);
            m[i][j] += a;
            rdef[i] -= a;
            cdef[j] -= a;
        }
    }
    Matcher matcher(n);
    int64_t left = t;
    while (left > 0) {
        const std::vector<int>& sigma = matcher.match(m);
        int64_t d = left;
        for (int i = 0; i < n; ++i) d = std::min(d, m[i][sigma[i]]);
        StepShape s{sigma, d, std::vector<int64_t>(n, 0)};
        for (int i = 0; i < n; ++i) {
            const int j = sigma[i];
            m[i][j] -= d;
            if (i != j) {
                s.count[i] = std::min(d, real[i][j]);
                real[i][j] -= s.count[i];
            }
        }
        left -= d;
        steps.push_back(std::move(s));
    }
    for (int a = 0; a < n; ++a) {
        for (int b = 0; b < n; ++b)
            EPLB_CHECK(real[a][b] == 0, "internal: transfers left after decomposition");
    }
    return steps;
}

// Each permutation cut into steps of at most `cap` experts per pair (0: no cut), a pair's real
// transfers first; a step's length is its busiest pair's count, and steps with none are dropped
// (the idle padding at a permutation's end).
std::vector<StepShape> split_steps(const std::vector<StepShape>& whole, int64_t cap) {
    if (cap <= 0) return whole;
    std::vector<StepShape> out;
    for (const StepShape& w : whole) {
        for (int64_t done = 0; done < w.length; done += cap) {
            StepShape s{w.peer, 0, std::vector<int64_t>(w.count.size(), 0)};
            for (size_t a = 0; a < w.count.size(); ++a) {
                s.count[a] = std::clamp<int64_t>(w.count[a] - done, 0, cap);
                s.length = std::max(s.length, s.count[a]);
            }
            if (s.length > 0) out.push_back(std::move(s));
        }
    }
    return out;
}

// A write of one slot by the local stream, waiting to be ordered.
struct PendingWrite {
    int layer = 0;
    int slot = 0;
    BufferRef src;
    CopyKind kind = CopyKind::kLocal;
    int earliest = -1;     // step after which it may run (-1: any time)
    int src_tracked = -1;  // index of the old slot it reads, when that slot is itself written
};

}  // namespace

TransferPlan build_transfer_plan(const IndexMatrix& old_phy2log, const IndexMatrix& new_phy2log,
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
    const int num_layers = static_cast<int>(old_phy2log.rows()), k = r / p;
    const int gpn = p / nn;
    TransferPlan plan;
    plan.num_layers = num_layers;
    plan.num_gpus = p;
    plan.slots_per_gpu = k;
    plan.num_nodes = nn;
    plan.expert_bytes = opt.expert_bytes;
    plan.layers_in_flight = opt.layers_in_flight;
    plan.step_experts = opt.step_experts;
    plan.old_phy2log = old_phy2log;
    plan.new_phy2log = new_phy2log;
    plan.local.assign(p, {});
    TransferStats& st = plan.stats;
    st.expert_bytes = opt.expert_bytes;
    st.gpus.assign(p, {});
    st.link_experts = IndexMatrix::Zero(p, p);

    auto old_at = [&](int l, int q, int t) { return old_phy2log(l, q * k + t); };
    auto new_at = [&](int l, int q, int t) { return new_phy2log(l, q * k + t); };
    auto stable = [&](int l, int q, int t) {
        return old_at(l, q, t) >= 0 && old_at(l, q, t) == new_at(l, q, t);
    };

    // read_slot[(l·P + q)·E + x]: the slot of GPU q that sends or copies x's old content: a slot
    // that keeps x when there is one (never written), else the first slot holding it.
    std::vector<int> read_slot(static_cast<size_t>(num_layers) * p * e, -1);
    auto rs = [&](int l, int q, int x) -> int& {
        return read_slot[(static_cast<size_t>(l) * p + q) * e + x];
    };
    for (int l = 0; l < num_layers; ++l) {
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

    const std::vector<NeededExpert> needs = needed_experts(old_phy2log, new_phy2log, c);
    std::vector<int64_t> sent_total(p, 0);
    std::vector<int> pool_size[2] = {std::vector<int>(p, 0), std::vector<int>(p, 0)};
    size_t next_need = 0;
    plan.window_first_layer.push_back(0);
    plan.window_first_step.push_back(0);
    // Per GPU and window: local copies before the window's network (PRE) and after its steps (POST).
    std::vector<std::vector<std::vector<LocalCopy>>> pre_all(p), post_all(p);

    for (int first = 0, w = 0; first < num_layers; first += opt.layers_in_flight, ++w) {
        const int end = std::min(num_layers, first + opt.layers_in_flight), nl = end - first;
        const int pool = w % 2;
        std::vector<int> staged(p, 0);  // buffers of this window's pool handed out so far, per GPU
        const int step0 = static_cast<int>(plan.steps.size());

        // 1. Items of the window and their senders: the receiver's node first, then the least
        // loaded holder (this window, then overall), forced choices before free ones.
        std::vector<Item> items;
        for (; next_need < needs.size() && needs[next_need].layer < end; ++next_need) {
            const NeededExpert& need = needs[next_need];
            Item it;
            it.layer = need.layer;
            it.expert = need.expert;
            it.dst_gpu = need.gpu;
            it.intra = need.intra_node;
            for (int t = 0; t < k; ++t) {
                if (new_at(it.layer, it.dst_gpu, t) == it.expert) it.targets.push_back(t);
            }
            items.push_back(std::move(it));
        }
        std::vector<std::vector<int>> candidates(items.size());
        for (size_t i = 0; i < items.size(); ++i) {
            const Item& it = items[i];
            const int node = it.dst_gpu / gpn;
            std::vector<int> all, same;
            for (int q = 0; q < p; ++q) {
                if (rs(it.layer, q, it.expert) < 0) continue;
                all.push_back(q);
                if (q / gpn == node) same.push_back(q);
            }
            EPLB_CHECK(!all.empty(), "layer " << it.layer << ": GPU " << it.dst_gpu << " needs expert "
                                              << it.expert << " but no GPU holds it in the old placement");
            candidates[i] = same.empty() ? all : same;
        }
        std::vector<int64_t> sent_win(p, 0);
        std::vector<std::vector<int64_t>> count(p, std::vector<int64_t>(p, 0));
        auto assign = [&](size_t i, int a) {
            items[i].src_gpu = a;
            items[i].src_slot = rs(items[i].layer, a, items[i].expert);
            ++sent_win[a];
            ++sent_total[a];
            ++count[a][items[i].dst_gpu];
        };
        for (size_t i = 0; i < items.size(); ++i) {
            if (candidates[i].size() == 1) assign(i, candidates[i][0]);
        }
        for (size_t i = 0; i < items.size(); ++i) {
            if (candidates[i].size() == 1) continue;
            const int b = items[i].dst_gpu;
            int best = candidates[i][0];
            for (int a : candidates[i]) {
                if (std::tie(sent_win[a], sent_total[a], count[a][b]) <
                    std::tie(sent_win[best], sent_total[best], count[best][b])) {
                    best = a;
                }
            }
            assign(i, best);
        }

        // 2. Slot facts of the window, per GPU: which old slots local copies read (those are
        // written by the local stream only, never received into), sends left per slot.
        const size_t ns = static_cast<size_t>(nl) * k;
        std::vector<std::vector<int>> loc_readers(p, std::vector<int>(ns, 0)),
            sends_left(p, std::vector<int>(ns, 0)), last_send(p, std::vector<int>(ns, -1));
        std::vector<std::vector<char>> written(p, std::vector<char>(ns, 0));
        auto idx = [&](int l, int t) { return static_cast<size_t>(l - first) * k + t; };
        for (int l = first; l < end; ++l) {
            for (int q = 0; q < p; ++q) {
                for (int t = 0; t < k; ++t) {
                    const int y = new_at(l, q, t);
                    if (y < 0 || y == old_at(l, q, t)) continue;
                    const int src = rs(l, q, y);
                    if (src >= 0 && !stable(l, q, src)) ++loc_readers[q][idx(l, src)];
                }
            }
        }
        for (const Item& it : items) ++sends_left[it.src_gpu][idx(it.layer, it.src_slot)];

        // 3. Steps, and which items each pair moves in each: receives that can land in their slot
        // now go first, then receives that never can (their slot is read by a local copy), then
        // the rest; ties by the sender freeing a slot that a receive still to be scheduled will
        // land in (directly, a step later), then layer.
        std::vector<std::vector<std::vector<size_t>>> queue(p, std::vector<std::vector<size_t>>(p));
        for (size_t i = 0; i < items.size(); ++i) queue[items[i].src_gpu][items[i].dst_gpu].push_back(i);
        // Receives not yet scheduled into each slot: freeing a slot pays only while one is to come.
        std::vector<std::vector<int>> incoming_left(p, std::vector<int>(ns, 0));
        for (const Item& it : items) {
            for (int t : it.targets) ++incoming_left[it.dst_gpu][idx(it.layer, t)];
        }
        auto free_target = [&](const Item& it) {
            for (int t : it.targets) {
                const size_t s = idx(it.layer, t);
                if (loc_readers[it.dst_gpu][s] == 0 && sends_left[it.dst_gpu][s] == 0 &&
                    !written[it.dst_gpu][s])
                    return t;
            }
            return -1;
        };
        for (const StepShape& shape : split_steps(decompose(count), opt.step_experts)) {
            const int sidx = static_cast<int>(plan.steps.size());
            Step step;
            step.window = w;
            step.length = static_cast<int>(shape.length);
            step.send_peer.assign(p, -1);
            step.recv_peer.assign(p, -1);
            step.sends.assign(p, {});
            step.wait_local.assign(p, 0);
            std::vector<size_t> chosen;
            for (int a = 0; a < p; ++a) {
                const int b = shape.peer[a];
                if (b == a || shape.count[a] == 0) continue;
                step.send_peer[a] = b;
                step.recv_peer[b] = a;
                std::vector<size_t>& qu = queue[a][b];
                auto score = [&](size_t i) {
                    const Item& it = items[i];
                    int sc = 0;
                    if (free_target(it) >= 0) {
                        sc += 4;
                    } else {
                        bool never = true;
                        for (int t : it.targets)
                            never = never && loc_readers[it.dst_gpu][idx(it.layer, t)] > 0;
                        if (never) sc += 2;
                    }
                    const size_t s = idx(it.layer, it.src_slot);
                    if (sends_left[a][s] == 1 && incoming_left[a][s] > 0 && loc_readers[a][s] == 0) sc += 1;
                    return sc;
                };
                std::vector<std::pair<int, size_t>> ranked;
                for (size_t pos = 0; pos < qu.size(); ++pos) ranked.push_back({-score(qu[pos]), pos});
                std::stable_sort(ranked.begin(), ranked.end(),
                                 [](const auto& x, const auto& y) { return x.first < y.first; });
                std::vector<char> take(qu.size(), 0);
                for (int64_t j = 0; j < shape.count[a]; ++j) take[ranked[j].second] = 1;
                std::vector<size_t> rest;
                for (size_t pos = 0; pos < qu.size(); ++pos) {
                    if (take[pos]) {
                        chosen.push_back(qu[pos]);
                        const Item& it = items[qu[pos]];
                        for (int t : it.targets) --incoming_left[it.dst_gpu][idx(it.layer, t)];
                    } else {
                        rest.push_back(qu[pos]);
                    }
                }
                qu.swap(rest);
            }
            // Landing: the item's own slot when its old content has been sent in earlier steps
            // and no local copy reads it, else a staging buffer of this window's pool.
            for (size_t i : chosen) {
                Item& it = items[i];
                it.step = sidx;
                const int t = free_target(it);
                if (t >= 0) {
                    it.landing = BufferRef{it.layer, t};
                    written[it.dst_gpu][idx(it.layer, t)] = 1;
                    ++st.gpus[it.dst_gpu].direct;
                } else {
                    it.landing = BufferRef{-1, encode_staging(pool, staged[it.dst_gpu]++)};
                    ++st.gpus[it.dst_gpu].staged;
                }
            }
            for (size_t i : chosen) {
                const Item& it = items[i];
                const size_t s = idx(it.layer, it.src_slot);
                --sends_left[it.src_gpu][s];
                last_send[it.src_gpu][s] = sidx;
                step.sends[it.src_gpu].push_back(Transfer{it.layer, it.expert, it.src_slot, it.landing});
            }
            plan.steps.push_back(std::move(step));
        }
        const int step_end = static_cast<int>(plan.steps.size());
        for (int a = 0; a < p; ++a) {
            for (int b = 0; b < p; ++b) EPLB_CHECK(queue[a][b].empty(), "internal: unscheduled transfers");
        }

        // 4. Local copies per GPU: every slot write after the sends of its old content and after
        // the local copies that read it, swept step by step; a cycle of local copies is broken by
        // saving one old content to staging.
        std::vector<std::vector<int>> item_of(p, std::vector<int>(ns, -1));  // received item per target slot
        for (size_t i = 0; i < items.size(); ++i) {
            for (int t : items[i].targets)
                item_of[items[i].dst_gpu][idx(items[i].layer, t)] = static_cast<int>(i);
        }
        for (int q = 0; q < p; ++q) {
            std::vector<PendingWrite> pending;
            for (int l = first; l < end; ++l) {
                for (int t = 0; t < k; ++t) {
                    const int y = new_at(l, q, t);
                    if (y < 0 || y == old_at(l, q, t)) continue;
                    const size_t s = idx(l, t);
                    PendingWrite pw;
                    pw.layer = l;
                    pw.slot = t;
                    pw.earliest = last_send[q][s];
                    const int src = rs(l, q, y);
                    if (src >= 0) {
                        pw.src = BufferRef{l, src};
                        pw.kind = CopyKind::kLocal;
                        if (!stable(l, q, src)) pw.src_tracked = static_cast<int>(idx(l, src));
                        ++st.gpus[q].local_copies;
                    } else {
                        const Item& it = items[item_of[q][s]];
                        if (it.landing == BufferRef{l, t}) continue;  // received straight into it
                        pw.src = it.landing;
                        pw.kind = CopyKind::kLanding;
                        pw.earliest = std::max(pw.earliest, it.step);
                        ++st.gpus[q].landing_copies;
                    }
                    pending.push_back(pw);
                }
            }
            std::vector<int>& readers = loc_readers[q];
            std::vector<LocalCopy> pre, post;
            std::vector<int> positions = {-1};
            for (int s = step0; s < step_end; ++s) positions.push_back(s);
            if (step0 == step_end) positions.push_back(-2);  // no network: one unconstrained position
            for (int pos : positions) {
                const int after = std::max(pos, -1);
                const bool is_pre = pos == -1;
                std::vector<LocalCopy>& out = is_pre ? pre : post;
                for (;;) {
                    bool progress = false;
                    for (size_t i = 0; i < pending.size();) {
                        PendingWrite& pw = pending[i];
                        if (pw.earliest <= after && readers[idx(pw.layer, pw.slot)] == 0) {
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
                    // Stuck: save a slot whose every pending reader could run now.
                    int victim = -1;
                    for (const PendingWrite& pw : pending) {
                        if (pw.earliest > after) continue;
                        const int s = static_cast<int>(idx(pw.layer, pw.slot));
                        bool all_ready = true;
                        for (const PendingWrite& rd : pending) {
                            if (rd.src_tracked == s && rd.earliest > after) all_ready = false;
                        }
                        if (all_ready) {
                            victim = s;
                            break;
                        }
                    }
                    if (victim < 0) break;
                    const BufferRef temp{-1, encode_staging(pool, staged[q]++)};
                    const BufferRef old_slot{first + victim / k, victim % k};
                    out.push_back(LocalCopy{after, old_slot, temp, CopyKind::kSave});
                    ++st.gpus[q].saves;
                    for (PendingWrite& rd : pending) {
                        if (rd.src_tracked == victim) {
                            rd.src = temp;
                            rd.src_tracked = -1;
                        }
                    }
                    readers[victim] = 0;
                }
            }
            EPLB_CHECK(pending.empty(), "internal: local copies left unordered on GPU " << q);
            pre_all[q].push_back(std::move(pre));
            post_all[q].push_back(std::move(post));
        }

        for (const Item& it : items) {
            GpuTransferStats& rx = st.gpus[it.dst_gpu];
            GpuTransferStats& tx = st.gpus[it.src_gpu];
            ++rx.received;
            ++tx.sent;
            const bool same_node = it.src_gpu / gpn == it.dst_gpu / gpn;
            EPLB_CHECK(same_node == it.intra, "internal: sender node disagrees with the migration count");
            if (same_node) {
                ++rx.received_intra;
                ++tx.sent_intra;
            }
            ++st.link_experts(it.src_gpu, it.dst_gpu);
        }
        for (int q = 0; q < p; ++q) pool_size[pool][q] = std::max(pool_size[pool][q], staged[q]);
        plan.window_first_layer.push_back(end);
        plan.window_first_step.push_back(step_end);
    }

    // 5. Each GPU's local stream: PRE(0), then per window w: PRE(w+1), POST(w). The first step of
    // window w waits for everything through PRE(w), which includes POST(w-2): the last users of the
    // staging pool that window w uses again.
    const int num_windows = plan.num_windows();
    for (int q = 0; q < p; ++q) {
        std::vector<LocalCopy>& out = plan.local[q];
        std::vector<int64_t> through_pre(num_windows, 0);
        if (num_windows > 0) {
            out.insert(out.end(), pre_all[q][0].begin(), pre_all[q][0].end());
            through_pre[0] = static_cast<int64_t>(out.size());
        }
        for (int w = 0; w < num_windows; ++w) {
            if (w + 1 < num_windows) {
                out.insert(out.end(), pre_all[q][w + 1].begin(), pre_all[q][w + 1].end());
                through_pre[w + 1] = static_cast<int64_t>(out.size());
            }
            out.insert(out.end(), post_all[q][w].begin(), post_all[q][w].end());
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

    // 6. Final staging indices: pool 0 first, then pool 1.
    for (int q = 0; q < p; ++q) {
        st.gpus[q].staging_buffers = pool_size[0][q] + pool_size[1][q];
        st.max_staging_buffers = std::max(st.max_staging_buffers, st.gpus[q].staging_buffers);
    }
    auto fix = [&](BufferRef& b, int q) {
        if (!b.staging() || b.index >= 0) return;
        const int code = -b.index - 2;
        b.index = (code % 2 == 0 ? 0 : pool_size[0][q]) + code / 2;
    };
    for (Step& step : plan.steps) {
        for (int a = 0; a < p; ++a) {
            for (Transfer& tr : step.sends[a]) fix(tr.dst, step.send_peer[a]);
        }
    }
    for (int q = 0; q < p; ++q) {
        for (LocalCopy& lc : plan.local[q]) {
            fix(lc.src, q);
            fix(lc.dst, q);
        }
    }

    for (int q = 0; q < p; ++q) {
        st.received += st.gpus[q].received;
        st.received_intra += st.gpus[q].received_intra;
        st.max_received = std::max(st.max_received, st.gpus[q].received);
        st.max_sent = std::max(st.max_sent, st.gpus[q].sent);
    }
    for (const Step& step : plan.steps) st.schedule_length += step.length;
    return plan;
}

}  // namespace eplb
