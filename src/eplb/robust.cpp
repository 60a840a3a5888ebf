// The `robust` policy (see robust.h): groups to nodes for the worst workload, then a packer whose
// GPU loads are vectors over the workloads and whose objective is their largest entry.
#include "eplb/robust.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <utility>
#include <vector>

#include "eplb/balanced.h"
#include "eplb/error.h"
#include "eplb/replica_packing.h"

namespace eplb {

namespace {

// Standard deviations over the workloads added to each GPU's mean load in the evening swaps (see
// polish()).
constexpr double kRiskSigmas = 9;

// A GPU's risk in the evening swaps, from the sums of its loads (s1) and their squares (s2) over
// the w workloads: (mean + kRiskSigmas·sd)².
double squared_risk(double s1, double s2, int w) {
    const double mean = s1 / w;
    const double r = mean + kRiskSigmas * std::sqrt(std::max(0.0, s2 / w - mean * mean));
    return r * r;
}

// splitmix64: a fixed, platform-independent stream for the restarts' perturbations.
uint64_t mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

// One flat instance: n experts with loads w [n][W] (one row per expert), m bins of k slots each.
// Each expert's load in every workload is split evenly over its replicas.
class RobustPacker {
  public:
    void reset(const double* w, int n, int num_workloads, int m, int k) {
        n_ = n;
        nw_ = num_workloads;
        m_ = m;
        k_ = k;
        w_.assign(w, w + static_cast<size_t>(n) * nw_);
        emax_.assign(n, 0.0);
        for (int x = 0; x < n; ++x) emax_[x] = *std::max_element(&w_[row(x)], &w_[row(x)] + nw_);
        cnt_.assign(n, 1);
        size_.assign(w_.size(), 0.0);
        slot_.assign(static_cast<size_t>(m) * k, 0);
        has_.assign(static_cast<size_t>(m) * n, 0);
        load_.assign(static_cast<size_t>(m) * nw_, 0.0);
        bmax_.assign(m, 0.0);
        where_.assign(n, {});
        // No bin needs two replicas of one expert iff every count can stay <= m, i.e. n·m >= m·k.
        cap_ = n >= k ? m : 0;
        double total = 0;
        for (int x = 0; x < n; ++x) total += emax_[x];
        tol_ = 1e-12 * total / std::max(1, m);
    }

    // Construction, local search, then `restarts` more from perturbed orders; keeps the best.
    void solve(const RobustOptions& options) {
        counts();
        const std::vector<int> counts0 = cnt_;
        best_slot_.clear();
        double best = std::numeric_limits<double>::infinity();
        for (int attempt = 0; attempt <= std::max(0, options.restarts); ++attempt) {
            if (attempt > 0 && !options.local_search) break;
            if (attempt > 0) {
                cnt_ = counts0;  // the previous attempt's slot moves changed them
                resize_all();
            }
            pack(static_cast<uint64_t>(attempt));
            if (options.local_search) {
                improve();
                // Evening swaps move the search off the plateau where only the top bin counts;
                // repeat while a round lowers F (at most options.rounds rounds).
                for (int round = 0; round < options.rounds; ++round) {
                    const double before = max_load();
                    polish();
                    improve();
                    if (max_load() >= before - tol_) break;
                }
            }
            const double f = max_load();
            if (f < best - tol_) {
                best = f;
                best_slot_ = slot_;
            }
            if (best <= lower_bound_ + tol_) break;  // nothing can beat it
        }
    }

    int expert_at(int position) const { return best_slot_[position]; }

  private:
    size_t row(int x) const { return static_cast<size_t>(x) * nw_; }
    size_t at(int bin, int expert) const { return static_cast<size_t>(bin) * n_ + expert; }
    bool has(int bin, int expert) const { return has_[at(bin, expert)] != 0; }
    double max_load() const { return *std::max_element(bmax_.begin(), bmax_.end()); }

    void counts() {
        // The worst workload's heaviest replica is max_x emax_x / r_x: the same greedy as `balanced`.
        const double t = min_max_replica_load_capped(emax_.data(), n_, m_ * k_, cap_, cnt_.data());
        resize_all();
        // No placement's worst bin is below the heaviest replica or any workload's mean bin.
        lower_bound_ = t;
        for (int v = 0; v < nw_; ++v) {
            double sum = 0;
            for (int x = 0; x < n_; ++x) sum += w_[row(x) + v];
            lower_bound_ = std::max(lower_bound_, sum / m_);
        }
    }

    void resize_all() {
        for (int x = 0; x < n_; ++x) {
            for (int v = 0; v < nw_; ++v) size_[row(x) + v] = w_[row(x) + v] / cnt_[x];
        }
    }

    void recompute_bin(int b) {
        double* l = &load_[static_cast<size_t>(b) * nw_];
        std::fill(l, l + nw_, 0.0);
        for (int j = b * k_; j < (b + 1) * k_; ++j) {
            const double* s = &size_[row(slot_[j])];
            for (int v = 0; v < nw_; ++v) l[v] += s[v];
        }
        bmax_[b] = *std::max_element(l, l + nw_);
    }

    void build_where() {
        for (auto& v : where_) v.clear();
        for (int i = 0; i < m_ * k_; ++i) where_[slot_[i]].push_back(i / k_);
    }

    // Exchanges the replicas in slots i and j (of bins b and c) and brings the bins up to date.
    void swap_slots(int i, int j) {
        const int b = i / k_, c = j / k_, x = slot_[i], y = slot_[j];
        std::swap(slot_[i], slot_[j]);
        --has_[at(b, x)];
        ++has_[at(b, y)];
        --has_[at(c, y)];
        ++has_[at(c, x)];
        recompute_bin(b);
        recompute_bin(c);
    }

    // Experts by largest replica (perturbed by up to 30% for seed > 0), descending; each replica
    // onto the bin with room, lacking the expert, whose worst workload ends lowest (ties: lower
    // current worst, then lower index); forced duplicates only when every bin with room holds it.
    void pack(uint64_t seed) {
        std::vector<std::pair<double, int>> order(n_);
        for (int x = 0; x < n_; ++x) {
            double key = emax_[x] / cnt_[x];
            if (seed > 0) {
                const double u =
                    static_cast<double>(mix(seed * 0x100000001b3ull ^ static_cast<uint64_t>(x)) >> 11) *
                    0x1p-53;
                key *= 1.0 + 0.3 * u;
            }
            order[x] = {-key, x};
        }
        std::sort(order.begin(), order.end());
        std::vector<int> fill(m_, 0);
        std::fill(has_.begin(), has_.end(), 0);
        std::fill(load_.begin(), load_.end(), 0.0);
        std::fill(bmax_.begin(), bmax_.end(), 0.0);
        for (const auto& [key, x] : order) {
            const double* s = &size_[row(x)];
            for (int r = 0; r < cnt_[x]; ++r) {
                int best = -1;
                double best_cost = 0;
                for (int pass = 0; pass < 2 && best < 0; ++pass) {
                    for (int b = 0; b < m_; ++b) {
                        if (fill[b] >= k_ || (pass == 0 && has(b, x))) continue;
                        const double* l = &load_[static_cast<size_t>(b) * nw_];
                        double cost = 0;
                        for (int v = 0; v < nw_; ++v) cost = std::max(cost, l[v] + s[v]);
                        if (best < 0 || cost < best_cost || (cost == best_cost && bmax_[b] < bmax_[best])) {
                            best = b;
                            best_cost = cost;
                        }
                    }
                }
                slot_[best * k_ + fill[best]++] = x;
                ++has_[at(best, x)];
                double* l = &load_[static_cast<size_t>(best) * nw_];
                for (int v = 0; v < nw_; ++v) l[v] += s[v];
                bmax_[best] = best_cost;
            }
        }
        for (int b = 0; b < m_; ++b) recompute_bin(b);
    }

    // Local search on the bin of F = max load (ties: lowest index) until no step lowers it: a step
    // leaves every bin it touches below the old F, so the sorted bin maxima drop and it ends.
    void improve() {
        if (m_ < 2) return;
        build_where();
        const int max_steps = 64 * m_ * k_;
        for (int step = 0; step < max_steps; ++step) {
            const int b = static_cast<int>(std::max_element(bmax_.begin(), bmax_.end()) - bmax_.begin());
            if (try_swap(b) || try_slot_move(b) || try_pair_swap(b)) continue;
            break;
        }
    }

    // Swaps that even out every workload on every bin, not only the worst one's top bin, while no
    // touched bin exceeds the current max: first improvement, in position order, until a pass
    // finds none. The objective is Σ over bins of (mean + kRiskSigmas·sd)², mean and standard
    // deviation over the workloads: a bin whose load differs between workloads is what a new
    // workload, beyond the planned ones (often far outside their hull, measured), overloads.
    // Measured leave-one-out on the 12 real workloads (mean over all folds): 9 sigmas (3..15 all
    // close) beat W·mean² + 30·Σ_v (load_v - mean)² by +0.0003 at EP32 and +0.0010 at EP72.
    void polish() {
        if (m_ < 2) return;
        const double f = max_load();
        // Each candidate's new sums of loads and squares from cached dot products: O(W) only for
        // the one product sx·sy and for the max check of an accepted improvement.
        risk_.resize(m_);
        bin_s1_.resize(m_);
        bin_s2_.resize(m_);
        for (int b = 0; b < m_; ++b) bin_sums(b);
        sig1_.resize(n_);
        sig2_.resize(n_);
        for (int x = 0; x < n_; ++x) {
            const double* sx = &size_[row(x)];
            sig1_[x] = sig2_[x] = 0;
            for (int v = 0; v < nw_; ++v) {
                sig1_[x] += sx[v];
                sig2_[x] += sx[v] * sx[v];
            }
        }
        for (int pass = 0; pass < 64; ++pass) {
            bool changed = false;
            for (int i = 0; i < m_ * k_; ++i) {
                const int b = i / k_;
                for (int j = (b + 1) * k_; j < m_ * k_; ++j) {
                    const int c = j / k_, x = slot_[i], y = slot_[j];
                    if (x == y || (cap_ != 0 && (has(c, x) || has(b, y)))) continue;
                    const double* sx = &size_[row(x)];
                    const double* sy = &size_[row(y)];
                    double xy = 0;
                    for (int v = 0; v < nw_; ++v) xy += sx[v] * sy[v];
                    // With d = sx - sy: Σ(l_b - d)² = S2_b - 2 l_b·d + d·d, Σ(l_c + d)² likewise.
                    const double dd = sig2_[x] + sig2_[y] - 2 * xy, ds = sig1_[x] - sig1_[y];
                    const double* db = &dot_[static_cast<size_t>(b) * n_];
                    const double* dc = &dot_[static_cast<size_t>(c) * n_];
                    const double nb2 = bin_s2_[b] - 2 * (db[x] - db[y]) + dd;
                    const double nc2 = bin_s2_[c] + 2 * (dc[x] - dc[y]) + dd;
                    const double delta = squared_risk(bin_s1_[b] - ds, nb2, nw_) +
                                         squared_risk(bin_s1_[c] + ds, nc2, nw_) - risk_[b] - risk_[c];
                    if (delta >= -1e-12 * f * f) continue;
                    const double* lb = &load_[static_cast<size_t>(b) * nw_];
                    const double* lc = &load_[static_cast<size_t>(c) * nw_];
                    double worst = 0;
                    for (int v = 0; v < nw_; ++v) {
                        const double d = sx[v] - sy[v];
                        worst = std::max(worst, std::max(lb[v] - d, lc[v] + d));
                    }
                    if (worst > f) continue;
                    swap_slots(i, j);
                    bin_sums(b);
                    bin_sums(c);
                    changed = true;
                }
            }
            if (!changed) break;
        }
        build_where();
    }

    // Bin b's sums of loads and squares over the workloads, its risk and its dot products with
    // every expert's replica size, for polish().
    void bin_sums(int b) {
        const double* l = &load_[static_cast<size_t>(b) * nw_];
        double s1 = 0, s2 = 0;
        for (int v = 0; v < nw_; ++v) {
            s1 += l[v];
            s2 += l[v] * l[v];
        }
        bin_s1_[b] = s1;
        bin_s2_[b] = s2;
        risk_[b] = squared_risk(s1, s2, nw_);
        dot_.resize(static_cast<size_t>(m_) * n_);
        for (int x = 0; x < n_; ++x) {
            const double* sx = &size_[row(x)];
            double sum = 0;
            for (int v = 0; v < nw_; ++v) sum += l[v] * sx[v];
            dot_[static_cast<size_t>(b) * n_ + x] = sum;
        }
    }

    double bin_risk(int b) const {
        const double* l = &load_[static_cast<size_t>(b) * nw_];
        double s1 = 0, s2 = 0;
        for (int v = 0; v < nw_; ++v) {
            s1 += l[v];
            s2 += l[v] * l[v];
        }
        return squared_risk(s1, s2, nw_);
    }

    bool try_swap(int b) {
        const double* lb = &load_[static_cast<size_t>(b) * nw_];
        const int top = static_cast<int>(std::max_element(lb, lb + nw_) - lb);
        double best = bmax_[b] - tol_;
        int best_i = -1, best_j = -1;
        for (int i = b * k_; i < (b + 1) * k_; ++i) {
            const int x = slot_[i];
            const double* sx = &size_[row(x)];
            for (int c = 0; c < m_; ++c) {
                if (c == b || (cap_ != 0 && has(c, x))) continue;
                const double* lc = &load_[static_cast<size_t>(c) * nw_];
                for (int j = c * k_; j < (c + 1) * k_; ++j) {
                    const int y = slot_[j];
                    if (y == x || (cap_ != 0 && has(b, y))) continue;
                    const double* sy = &size_[row(y)];
                    if (lb[top] - sx[top] + sy[top] >= best) continue;
                    double worst = 0;
                    for (int v = 0; v < nw_ && worst < best; ++v) {
                        const double d = sx[v] - sy[v];
                        worst = std::max(worst, std::max(lb[v] - d, lc[v] + d));
                    }
                    if (worst < best) {
                        best = worst;
                        best_i = i;
                        best_j = j;
                    }
                }
            }
        }
        if (best_i < 0) return false;
        swap_slots(best_i, best_j);
        build_where();
        return true;
    }

    // Two replicas of bin b for two of another bin (when no single swap or slot move helps): the
    // best exchange that lowers b's worst workload and keeps both bins below it.
    bool try_pair_swap(int b) {
        if (k_ < 2) return false;
        const double* lb = &load_[static_cast<size_t>(b) * nw_];
        const int top = static_cast<int>(std::max_element(lb, lb + nw_) - lb);
        // Each slot's replica size on the top workload, contiguous: most candidates fail on it.
        top_size_.resize(static_cast<size_t>(m_) * k_);
        for (int j = 0; j < m_ * k_; ++j) top_size_[j] = size_[row(slot_[j]) + top];
        double best = bmax_[b] - tol_;
        int bi1 = -1, bi2 = -1, bj1 = -1, bj2 = -1;
        for (int i1 = b * k_; i1 < (b + 1) * k_; ++i1) {
            for (int i2 = i1 + 1; i2 < (b + 1) * k_; ++i2) {
                const int x1 = slot_[i1], x2 = slot_[i2];
                const double* s1 = &size_[row(x1)];
                const double* s2 = &size_[row(x2)];
                const double out = top_size_[i1] + top_size_[i2];
                for (int c = 0; c < m_; ++c) {
                    if (c == b) continue;
                    const double* lc = &load_[static_cast<size_t>(c) * nw_];
                    // The pair taken in, t, must satisfy lb - out + t < best and lc + out - t < best.
                    const double t_max = best - lb[top] + out, t_min = lc[top] + out - best;
                    if (t_min >= t_max) continue;
                    for (int j1 = c * k_; j1 < (c + 1) * k_; ++j1) {
                        for (int j2 = j1 + 1; j2 < (c + 1) * k_; ++j2) {
                            const double t = top_size_[j1] + top_size_[j2];
                            if (t >= t_max || t <= t_min) continue;
                            const int y1 = slot_[j1], y2 = slot_[j2];
                            if (cap_ != 0 && (has(c, x1) || has(c, x2) || has(b, y1) || has(b, y2))) continue;
                            const double* t1 = &size_[row(y1)];
                            const double* t2 = &size_[row(y2)];
                            double worst = 0;
                            for (int v = 0; v < nw_ && worst < best; ++v) {
                                const double d = s1[v] + s2[v] - t1[v] - t2[v];
                                worst = std::max(worst, std::max(lb[v] - d, lc[v] + d));
                            }
                            if (worst < best) {
                                best = worst;
                                bi1 = i1;
                                bi2 = i2;
                                bj1 = j1;
                                bj2 = j2;
                            }
                        }
                    }
                }
            }
        }
        if (bi1 < 0) return false;
        swap_slots(bi1, bj1);
        swap_slots(bi2, bj2);
        build_where();
        return true;
    }

    // Worst new load over the bins touched when, at bin c, a replica of `rem` becomes one of `add`
    // (new replica sizes na, nr); stops once it reaches `limit`.
    double slot_move_worst(int add, int rem, int c, const double* na, const double* nr, double limit) {
        double worst = 0;
        auto bin_worst = [&](int d) {
            const double ha = has_[at(d, add)], hr = has_[at(d, rem)];
            const double ha2 = ha + (d == c ? 1 : 0), hr2 = hr - (d == c ? 1 : 0);
            const double* l = &load_[static_cast<size_t>(d) * nw_];
            const double* sa = &size_[row(add)];
            const double* sr = &size_[row(rem)];
            for (int v = 0; v < nw_; ++v) {
                const double nl = l[v] - ha * sa[v] + ha2 * na[v] - hr * sr[v] + hr2 * nr[v];
                if (nl > worst) {
                    worst = nl;
                    if (worst >= limit) return;
                }
            }
        };
        bin_worst(c);
        if (worst >= limit) return worst;
        for (int d : where_[add]) {
            bin_worst(d);
            if (worst >= limit) return worst;
        }
        for (int d : where_[rem]) {
            bin_worst(d);
            if (worst >= limit) return worst;
        }
        return worst;
    }

    bool try_slot_move(int b) {
        double best = bmax_[b] - tol_;
        int best_pos = -1, best_add = -1;
        na_.resize(nw_);
        nr_.resize(nw_);
        auto new_sizes = [&](int add, int rem) {
            for (int v = 0; v < nw_; ++v) {
                na_[v] = w_[row(add) + v] / (cnt_[add] + 1);
                nr_[v] = w_[row(rem) + v] / (cnt_[rem] - 1);
            }
        };
        for (int i = b * k_; i < (b + 1) * k_; ++i) {
            const int x = slot_[i];
            // Up: x gets another replica in place of one of y's on another bin.
            if (cap_ == 0 || cnt_[x] < cap_) {
                for (int y = 0; y < n_; ++y) {
                    if (y == x || cnt_[y] < 2) continue;
                    bool sized = false;
                    for (int c : where_[y]) {
                        if (c == b || (cap_ != 0 && has(c, x))) continue;
                        if (!sized) {
                            new_sizes(x, y);
                            sized = true;
                        }
                        const double worst = slot_move_worst(x, y, c, na_.data(), nr_.data(), best);
                        if (worst >= best) continue;
                        best = worst;
                        best_add = x;
                        best_pos = c * k_;
                        while (slot_[best_pos] != y) ++best_pos;
                    }
                }
            }
            // Down: this slot of b becomes a new replica of some y.
            if (cnt_[x] >= 2) {
                for (int y = 0; y < n_; ++y) {
                    if (y == x || (cap_ != 0 && (has(b, y) || cnt_[y] >= cap_))) continue;
                    new_sizes(y, x);
                    const double worst = slot_move_worst(y, x, b, na_.data(), nr_.data(), best);
                    if (worst >= best) continue;
                    best = worst;
                    best_add = y;
                    best_pos = i;
                }
            }
        }
        if (best_pos < 0) return false;
        const int c = best_pos / k_, rem = slot_[best_pos];
        slot_[best_pos] = best_add;
        --has_[at(c, rem)];
        ++has_[at(c, best_add)];
        ++cnt_[best_add];
        --cnt_[rem];
        for (int v = 0; v < nw_; ++v) {
            size_[row(best_add) + v] = w_[row(best_add) + v] / cnt_[best_add];
            size_[row(rem) + v] = w_[row(rem) + v] / cnt_[rem];
        }
        for (int d = 0; d < m_; ++d) recompute_bin(d);
        build_where();
        return true;
    }

    int n_ = 0, nw_ = 1, m_ = 0, k_ = 0, cap_ = 0;
    double tol_ = 0, lower_bound_ = 0;
    std::vector<double> w_, emax_, size_;                      // [n][W], [n], [n][W]
    std::vector<int> cnt_;                                     // [n]
    std::vector<int> slot_, best_slot_;                        // [m·k]
    std::vector<uint16_t> has_;                                // [m·n]
    std::vector<double> load_, bmax_;                          // [m][W], [m]
    std::vector<std::vector<int>> where_;                      // bins of each expert's replicas
    std::vector<double> na_, nr_;                              // scratch of try_slot_move
    std::vector<double> risk_;                                 // [m] squared_risk of each bin, in polish()
    std::vector<double> bin_s1_, bin_s2_, sig1_, sig2_, dot_;  // [m], [m], [n], [n], [m][n]: polish()
    std::vector<double> top_size_;                             // [m·k] scratch of try_pair_swap
};

class RobustPlanner {
  public:
    RobustPlanner(const ParallelConfig& c, int num_workloads, const RobustOptions& options)
        : e_(c.num_logical_experts),
          r_(c.num_physical_experts),
          p_(c.num_gpus),
          g_(c.hierarchical() ? c.num_groups : 1),
          n_(c.hierarchical() ? c.num_nodes : 1),
          nw_(num_workloads),
          options_(options) {}

    // w: [E][W] this layer's loads, each workload scaled to total 1 (or all zero).
    void plan_row(const std::vector<double>& w, int* phy2log, int* phyrank, int* logcnt) {
        w_ = &w;
        const int groups_per_node = g_ / n_, group_size = e_ / g_;
        const int gpus_per_node = p_ / n_, slots_per_node = r_ / n_, slots_per_gpu = r_ / p_;
        if (n_ == 1) {
            node_groups_.assign(g_, 0);
            std::iota(node_groups_.begin(), node_groups_.end(), 0);
        } else {
            group_load_.assign(static_cast<size_t>(g_) * nw_, 0.0);
            for (int x = 0; x < e_; ++x) {
                for (int v = 0; v < nw_; ++v)
                    group_load_[static_cast<size_t>(x / group_size) * nw_ + v] += w[x * nw_ + v];
            }
            bound_cache_.clear();
            assign_groups_to_nodes(
                group_load_, nw_, n_, [this](const int* groups) { return node_bound(groups); }, node_groups_);
        }
        for (int node = 0; node < n_; ++node) {
            int* groups = node_groups_.data() + node * groups_per_node;
            std::sort(groups, groups + groups_per_node);
            experts_.clear();
            for (int i = 0; i < groups_per_node; ++i) {
                for (int j = 0; j < group_size; ++j) experts_.push_back(groups[i] * group_size + j);
            }
            weight_.clear();
            for (int x : experts_) weight_.insert(weight_.end(), &w[x * nw_], &w[x * nw_] + nw_);
            packer_.reset(weight_.data(), static_cast<int>(experts_.size()), nw_, gpus_per_node,
                          slots_per_gpu);
            packer_.solve(options_);
            for (int s = 0; s < slots_per_node; ++s)
                phy2log[node * slots_per_node + s] = experts_[packer_.expert_at(s)];
        }
        std::fill(logcnt, logcnt + e_, 0);
        for (int s = 0; s < r_; ++s) phyrank[s] = logcnt[phy2log[s]]++;
    }

  private:
    // max(max over workloads of node load / (P/N), node T* on each expert's largest load): no
    // placement keeping these groups on one node has a lower worst workload there.
    double node_bound(const int* groups) {
        const int groups_per_node = g_ / n_, group_size = e_ / g_;
        const int slots_per_node = r_ / n_, gpus_per_node = p_ / n_;
        uint64_t key = 0;
        if (g_ <= 64) {
            for (int i = 0; i < groups_per_node; ++i) key |= uint64_t{1} << groups[i];
            for (const auto& [k, v] : bound_cache_) {
                if (k == key) return v;
            }
        }
        double mean = 0;
        for (int v = 0; v < nw_; ++v) {
            double total = 0;
            for (int i = 0; i < groups_per_node; ++i)
                total += group_load_[static_cast<size_t>(groups[i]) * nw_ + v];
            mean = std::max(mean, total / gpus_per_node);
        }
        bound_weight_.clear();
        for (int i = 0; i < groups_per_node; ++i) {
            for (int j = 0; j < group_size; ++j) {
                const double* row = &(*w_)[static_cast<size_t>(groups[i] * group_size + j) * nw_];
                bound_weight_.push_back(*std::max_element(row, row + nw_));
            }
        }
        const int n = static_cast<int>(bound_weight_.size());
        const int cap = n >= slots_per_node / gpus_per_node ? gpus_per_node : 0;
        const double bound =
            std::max(mean, min_max_replica_load_capped(bound_weight_.data(), n, slots_per_node, cap));
        if (g_ <= 64) bound_cache_.emplace_back(key, bound);
        return bound;
    }

    int e_, r_, p_, g_, n_, nw_;
    RobustOptions options_;
    const std::vector<double>* w_ = nullptr;
    std::vector<int> node_groups_, experts_;
    std::vector<double> group_load_, bound_weight_, weight_;
    std::vector<std::pair<uint64_t, double>> bound_cache_;
    RobustPacker packer_;
};

void check_workloads(const std::vector<LoadMatrix>& workloads, int num_experts) {
    EPLB_CHECK(!workloads.empty(), "robust planning needs at least one workload");
    for (size_t i = 0; i < workloads.size(); ++i) {
        EPLB_CHECK(workloads[i].rows() == workloads[0].rows() && workloads[i].cols() == num_experts,
                   "workload " << i << " is " << workloads[i].rows() << "x" << workloads[i].cols()
                               << " but workload 0 is " << workloads[0].rows() << "x" << workloads[0].cols()
                               << " and num_logical_experts is " << num_experts);
    }
}

// Layer l of every workload, each scaled to total 1, as [E][W].
void scaled_layer(const std::vector<LoadMatrix>& workloads, Eigen::Index l, std::vector<double>& w) {
    const int nw = static_cast<int>(workloads.size());
    const auto e = workloads[0].cols();
    w.assign(static_cast<size_t>(e) * nw, 0.0);
    for (int v = 0; v < nw; ++v) {
        const float* row = workloads[v].row(l).data();
        double total = 0;
        for (Eigen::Index x = 0; x < e; ++x) total += row[x];
        if (total <= 0) continue;
        for (Eigen::Index x = 0; x < e; ++x) w[static_cast<size_t>(x) * nw + v] = row[x] / total;
    }
}

}  // namespace

Placement plan_robust(const std::vector<LoadMatrix>& workloads, const ParallelConfig& config,
                      const RobustOptions& options) {
    check_workloads(workloads, config.num_logical_experts);
    if (workloads.size() == 1) return plan_balanced(workloads[0], config);
    const int nw = static_cast<int>(workloads.size());
    RobustPlanner planner(config, nw, options);
    const auto rows = workloads[0].rows();
    Placement out{IndexMatrix(rows, config.num_physical_experts),
                  IndexMatrix(rows, config.num_physical_experts),
                  IndexMatrix(rows, config.num_logical_experts)};
    std::vector<double> w;
    for (Eigen::Index l = 0; l < rows; ++l) {
        scaled_layer(workloads, l, w);
        planner.plan_row(w, out.phy2log.row(l).data(), out.phyrank.row(l).data(), out.logcnt.row(l).data());
    }
    return out;
}

LoadMatrix robust_blend(const std::vector<LoadMatrix>& workloads) {
    EPLB_CHECK(!workloads.empty(), "robust planning needs at least one workload");
    check_workloads(workloads, static_cast<int>(workloads[0].cols()));
    const int nw = static_cast<int>(workloads.size());
    LoadMatrix out(workloads[0].rows(), workloads[0].cols());
    std::vector<double> w;
    for (Eigen::Index l = 0; l < out.rows(); ++l) {
        scaled_layer(workloads, l, w);
        double total = 0;  // of the plain sum: the blend keeps the sum's scale
        for (int v = 0; v < nw; ++v) total += workloads[v].row(l).cast<double>().sum();
        for (Eigen::Index x = 0; x < out.cols(); ++x) {
            double sum = 0;
            for (int v = 0; v < nw; ++v) sum += w[static_cast<size_t>(x) * nw + v];
            out(l, x) = static_cast<float>(sum * total / nw);
        }
    }
    return out;
}

WorstLoads worst_workload_loads(const IndexMatrix& phy2log, const std::vector<LoadMatrix>& workloads,
                                const ParallelConfig& config) {
    check_workloads(workloads, config.num_logical_experts);
    EPLB_CHECK(phy2log.rows() == workloads[0].rows() && phy2log.cols() == config.num_physical_experts,
               "placement " << phy2log.rows() << "x" << phy2log.cols() << " does not fit "
                            << workloads[0].rows() << " layers of " << describe(config));
    const int nw = static_cast<int>(workloads.size()), e = config.num_logical_experts;
    const int k = config.slots_per_gpu();
    WorstLoads out;
    out.max_gpu_load.assign(phy2log.rows(), 0.0);
    out.lower_bound.assign(phy2log.rows(), 0.0);
    std::vector<double> w, one(e);
    std::vector<int> cnt;
    for (Eigen::Index l = 0; l < phy2log.rows(); ++l) {
        scaled_layer(workloads, l, w);
        cnt.assign(e, 0);
        for (int s = 0; s < config.num_physical_experts; ++s) ++cnt[phy2log(l, s)];
        for (int v = 0; v < nw; ++v) {
            double total = 0;
            for (int x = 0; x < e; ++x) {
                one[x] = w[static_cast<size_t>(x) * nw + v];
                total += one[x];
            }
            for (int q = 0; q < config.num_gpus; ++q) {
                double sum = 0;
                for (int s = q * k; s < (q + 1) * k; ++s) sum += one[phy2log(l, s)] / cnt[phy2log(l, s)];
                out.max_gpu_load[l] = std::max(out.max_gpu_load[l], sum);
            }
            const double t = min_max_replica_load_capped(one.data(), e, config.num_physical_experts, 0);
            out.lower_bound[l] = std::max({out.lower_bound[l], total / config.num_gpus, t});
        }
    }
    return out;
}

}  // namespace eplb
