// The robust policy's packer (robust_packer.h): counts, construction, local search on the worst
// workload's top bin, and the evening swaps that spread every workload's load.
#include "eplb/robust_packer.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <utility>
#include <vector>

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

}  // namespace

void RobustPacker::reset(const double* w, int n, int num_workloads, int m, int k) {
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

void RobustPacker::solve(const RobustOptions& options) {
    counts();
    const std::vector<int> counts0 = cnt_;
    best_slot_.clear();
    double best = std::numeric_limits<double>::infinity(), best_f = best;
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
        const double score = selection_score();
        best_f = std::min(best_f, max_load());
        if (score < best - tol_) {
            best = score;
            best_slot_ = slot_;
        }
        if (best_f <= lower_bound_ + tol_) break;  // F at its bound: what restarts mainly lower
    }
}

double RobustPacker::selection_score() const {
    // The 32-norm by squarings and square roots: IEEE-exact, the same bytes on every platform.
    const double f = max_load();
    if (f <= 0) return 0;
    double sum = 0;
    for (double x : bmax_) {
        double y = x / f;
        for (int i = 0; i < 5; ++i) y *= y;
        sum += y;
    }
    for (int i = 0; i < 5; ++i) sum = std::sqrt(sum);
    return f * sum;
}

void RobustPacker::counts() {
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

void RobustPacker::resize_all() {
    for (int x = 0; x < n_; ++x) {
        for (int v = 0; v < nw_; ++v) size_[row(x) + v] = w_[row(x) + v] / cnt_[x];
    }
}

void RobustPacker::recompute_bin(int b) {
    double* l = &load_[static_cast<size_t>(b) * nw_];
    std::fill(l, l + nw_, 0.0);
    for (int j = b * k_; j < (b + 1) * k_; ++j) {
        const double* s = &size_[row(slot_[j])];
        for (int v = 0; v < nw_; ++v) l[v] += s[v];
    }
    bmax_[b] = *std::max_element(l, l + nw_);
}

void RobustPacker::build_where() {
    for (auto& v : where_) v.clear();
    for (int i = 0; i < m_ * k_; ++i) where_[slot_[i]].push_back(i / k_);
}

void RobustPacker::swap_slots(int i, int j) {
    exchange_slots(slot_, has_, n_, k_, i, j);
    recompute_bin(i / k_);
    recompute_bin(j / k_);
}

void RobustPacker::pack(uint64_t seed) {
    std::vector<std::pair<double, int>> order(n_);
    for (int x = 0; x < n_; ++x) {
        double key = emax_[x] / cnt_[x];
        if (seed > 0) {
            const double u =
                static_cast<double>(mix(seed * 0x100000001b3ull ^ static_cast<uint64_t>(x)) >> 11) * 0x1p-53;
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

void RobustPacker::improve() {
    if (m_ < 2) return;
    build_where();
    const int max_steps = 64 * m_ * k_;
    for (int step = 0; step < max_steps; ++step) {
        const int b = static_cast<int>(std::max_element(bmax_.begin(), bmax_.end()) - bmax_.begin());
        if (try_swap(b) || try_slot_move(b) || try_pair_swap(b)) continue;
        break;
    }
}

void RobustPacker::polish() {
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
    gram_.resize(static_cast<size_t>(n_) * n_);
    for (int x = 0; x < n_; ++x) {
        for (int y = 0; y < n_; ++y) {
            double xy = 0;
            for (int v = 0; v < nw_; ++v) xy += size_[row(x) + v] * size_[row(y) + v];
            gram_[static_cast<size_t>(x) * n_ + y] = xy;
        }
    }
    // A slot and a bin scanned without a step stay so while neither bin changes: skipped (the
    // same steps in the same order, fewer evaluations).
    int64_t clock = 0;
    changed_at_.assign(m_, 0);
    scanned_at_.assign(static_cast<size_t>(m_) * k_ * m_, -1);
    for (int pass = 0; pass < 64; ++pass) {
        bool changed = false;
        for (int i = 0; i < m_ * k_; ++i) {
            const int b = i / k_;
            for (int c = b + 1; c < m_; ++c) {
                int64_t& scanned = scanned_at_[static_cast<size_t>(i) * m_ + c];
                if (scanned >= changed_at_[b] && scanned >= changed_at_[c]) continue;
                bool stepped = false;
                for (int j = c * k_; j < (c + 1) * k_; ++j) {
                    if (!try_polish_swap(i, j, f)) continue;
                    changed = stepped = true;
                    changed_at_[b] = changed_at_[c] = ++clock;
                }
                if (!stepped) scanned = clock;
            }
        }
        if (!changed) break;
    }
    build_where();
}

bool RobustPacker::try_polish_swap(int i, int j, double f) {
    const int b = i / k_, c = j / k_, x = slot_[i], y = slot_[j];
    if (x == y || (cap_ != 0 && (has(c, x) || has(b, y)))) return false;
    // With d = sx - sy: Σ(l_b - d)² = S2_b - 2 l_b·d + d·d, Σ(l_c + d)² likewise.
    const double dd = sig2_[x] + sig2_[y] - 2 * gram_[static_cast<size_t>(x) * n_ + y];
    const double ds = sig1_[x] - sig1_[y];
    const double* db = &dot_[static_cast<size_t>(b) * n_];
    const double* dc = &dot_[static_cast<size_t>(c) * n_];
    const double nb2 = bin_s2_[b] - 2 * (db[x] - db[y]) + dd;
    const double nc2 = bin_s2_[c] + 2 * (dc[x] - dc[y]) + dd;
    const double delta = squared_risk(bin_s1_[b] - ds, nb2, nw_) + squared_risk(bin_s1_[c] + ds, nc2, nw_) -
                         risk_[b] - risk_[c];
    if (delta >= -1e-12 * f * f) return false;
    const double* sx = &size_[row(x)];
    const double* sy = &size_[row(y)];
    const double* lb = &load_[static_cast<size_t>(b) * nw_];
    const double* lc = &load_[static_cast<size_t>(c) * nw_];
    double worst = 0;
    for (int v = 0; v < nw_; ++v) {
        const double d = sx[v] - sy[v];
        worst = std::max(worst, std::max(lb[v] - d, lc[v] + d));
    }
    if (worst > f) return false;
    swap_slots(i, j);
    bin_sums(b);
    bin_sums(c);
    return true;
}

void RobustPacker::bin_sums(int b) {
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

double RobustPacker::bin_risk(int b) const {
    const double* l = &load_[static_cast<size_t>(b) * nw_];
    double s1 = 0, s2 = 0;
    for (int v = 0; v < nw_; ++v) {
        s1 += l[v];
        s2 += l[v] * l[v];
    }
    return squared_risk(s1, s2, nw_);
}

bool RobustPacker::try_swap(int b) {
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
                const double d_top = sx[top] - sy[top];  // the top workload first: most fail on it
                if (lb[top] - d_top >= best || lc[top] + d_top >= best) continue;
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

bool RobustPacker::try_pair_swap(int b) {
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

double RobustPacker::slot_move_worst(int add, int rem, int c, const double* na, const double* nr,
                                     double limit) {
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

bool RobustPacker::try_slot_move(int b) {
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

}  // namespace eplb
