// Replica counts, greedy packing and the local search of the `balanced` policy (see
// replica_packing.h). All arithmetic in double: this policy promises balance, not bit-exactness.
#include "eplb/replica_packing.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

namespace eplb {

double min_max_replica_load_capped(const double* w, int n, int num_slots, int cap, int* count) {
    std::vector<int> local;
    int* cnt = count;
    if (!cnt) {
        local.resize(n);
        cnt = local.data();
    }
    std::fill(cnt, cnt + n, 1);
    const int extra = std::max(0, num_slots - n);
    // Max-heap keyed (w/count, -index): the top is the argmax with ties to the lowest index.
    std::vector<std::pair<double, int>> heap;
    double fixed_max = 0;  // experts outside the heap: at the cap, or never in the running
    if (cap == 1 || extra == 0) {
        for (int e = 0; e < n; ++e) fixed_max = std::max(fixed_max, w[e]);
        return fixed_max;
    }
    if (extra + 1 < n) {
        // Only the extra + 1 first experts in (load descending, index ascending) order can win a
        // pick: before pick j at least extra + 1 - j >= 2 of them still have one replica, and
        // each beats any later expert on load or, at equal load, on index. Same counts, fewer
        // heap steps when few slots are extra (DeepSeek-V3: 32 extra for 256 experts).
        std::vector<int> order(n);
        std::iota(order.begin(), order.end(), 0);
        std::nth_element(order.begin(), order.begin() + extra, order.end(),
                         [&](int a, int b) { return w[a] != w[b] ? w[a] > w[b] : a < b; });
        for (int i = 0; i <= extra; ++i) heap.emplace_back(w[order[i]], -order[i]);
        for (int i = extra + 1; i < n; ++i) fixed_max = std::max(fixed_max, w[order[i]]);
    } else {
        for (int e = 0; e < n; ++e) heap.emplace_back(w[e], -e);
    }
    std::make_heap(heap.begin(), heap.end());
    for (int i = 0; i < extra && !heap.empty(); ++i) {
        std::pop_heap(heap.begin(), heap.end());
        const int e = -heap.back().second;
        const int c = ++cnt[e];
        const double ratio = w[e] / c;
        if (cap <= 0 || c < cap) {
            heap.back().first = ratio;
            std::push_heap(heap.begin(), heap.end());
        } else {
            fixed_max = std::max(fixed_max, ratio);
            heap.pop_back();
        }
    }
    return std::max(fixed_max, heap.empty() ? 0.0 : heap.front().first);
}

void ReplicaPacker::reset(const double* w, int n, int m, int k) {
    n_ = n;
    m_ = m;
    k_ = k;
    w_.assign(w, w + n);
    size_.resize(n);
    cnt_.resize(n);
    slot_.assign(static_cast<size_t>(m) * k, 0);
    pos_size_.assign(static_cast<size_t>(m) * k, 0.0);
    has_.assign(static_cast<size_t>(m) * n, 0);
    origin_.assign(static_cast<size_t>(m) * n, 0);
    moves_ = 0;
    load_.assign(m, 0.0);
    order_.resize(m);
    std::iota(order_.begin(), order_.end(), 0);
    // No bin needs two replicas of one expert iff every count can stay <= m, i.e. n·m >= m·k.
    cap_ = n >= k ? m : 0;
    const double total = std::accumulate(w_.begin(), w_.end(), 0.0);
    tol_ = 1e-12 * total / std::max(1, m);
}

double ReplicaPacker::max_load() const { return m_ ? *std::max_element(load_.begin(), load_.end()) : 0.0; }

int ReplicaPacker::max_bin() const {
    return static_cast<int>(std::max_element(load_.begin(), load_.end()) - load_.begin());
}

int ReplicaPacker::duplicate_bins() const {
    int dup = 0;
    for (int b = 0; b < m_; ++b) {
        for (int x = 0; x < n_; ++x) {
            if (has_[at(b, x)] > 1) {
                ++dup;
                break;
            }
        }
    }
    return dup;
}

void ReplicaPacker::recompute_bin(int bin) {
    double sum = 0;
    for (int j = bin * k_; j < (bin + 1) * k_; ++j) {
        pos_size_[j] = size_[slot_[j]];
        sum += pos_size_[j];
    }
    load_[bin] = sum;
}

int ReplicaPacker::move_delta(int c, int add, int rem) const {
    int delta = 0;
    if (has_[at(c, rem)] == 1 && !origin_[at(c, rem)]) --delta;  // its last copy leaves: no longer a move
    if (has_[at(c, add)] == 0 && !origin_[at(c, add)]) ++delta;  // a new expert for this bin
    return delta;
}

void ReplicaPacker::apply_swap(int i, int j) {
    const int b = i / k_, c = j / k_, x = slot_[i], y = slot_[j];
    moves_ += move_delta(b, y, x) + move_delta(c, x, y);
    exchange_slots(slot_, has_, n_, k_, i, j);
    recompute_bin(b);
    recompute_bin(c);
}

void ReplicaPacker::apply_slot_move(int position, int add) {
    const int c = position / k_, rem = slot_[position];
    moves_ += move_delta(c, add, rem);
    slot_[position] = add;
    --has_[at(c, rem)];
    ++has_[at(c, add)];
    ++cnt_[add];
    --cnt_[rem];
    size_[add] = w_[add] / cnt_[add];
    size_[rem] = w_[rem] / cnt_[rem];
    // Every bin holding add or rem changed; slot moves are rare, so recompute all.
    for (int b = 0; b < m_; ++b) recompute_bin(b);
}

void ReplicaPacker::greedy_counts() {
    min_max_replica_load_capped(w_.data(), n_, m_ * k_, cap_, cnt_.data());
    for (int x = 0; x < n_; ++x) size_[x] = w_[x] / cnt_[x];
}

namespace {

// Order-preserving 32-bit image of a float >= 0: larger float, larger bits. The greedy packing
// orders and compares in float precision (it is a starting point for the local search), which
// lets a key and an index share one integer: one integer minimum instead of a branchy argmin.
uint64_t float_bits(double x) {
    const float f = static_cast<float>(x);
    uint32_t bits;
    std::memcpy(&bits, &f, sizeof bits);
    return bits == 0x80000000u ? 0u : bits;
}

// Minimum of n >= 1 keys with four independent chains (a single chain of compare-and-move is
// latency bound).
uint64_t min_key(const uint64_t* key, int n) {
    uint64_t m0 = key[0], m1 = key[0], m2 = key[0], m3 = key[0];
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        m0 = std::min(m0, key[i]);
        m1 = std::min(m1, key[i + 1]);
        m2 = std::min(m2, key[i + 2]);
        m3 = std::min(m3, key[i + 3]);
    }
    for (; i < n; ++i) m0 = std::min(m0, key[i]);
    return std::min(std::min(m0, m1), std::min(m2, m3));
}

}  // namespace

void ReplicaPacker::pack_greedy() {
    // Experts by replica size, descending (ties: lower index first); each replica goes to the
    // least-loaded bin with room that does not hold the expert yet (ties: lowest index), or, when
    // every bin with room holds it (forced duplicates), to the least-loaded bin with room.
    by_size_.resize(n_);
    for (int x = 0; x < n_; ++x)
        by_size_[x] = (~float_bits(size_[x]) & 0xffffffffu) << 32 | static_cast<uint32_t>(x);
    std::sort(by_size_.begin(), by_size_.end());
    constexpr uint64_t kClosed = std::numeric_limits<uint64_t>::max();
    fill_.assign(m_, 0);
    std::fill(has_.begin(), has_.end(), 0);
    std::fill(load_.begin(), load_.end(), 0.0);
    // key_[b] = float bits of the load << 32 | b, or kClosed for bins full or holding the expert.
    key_.resize(m_);
    for (int b = 0; b < m_; ++b) key_[b] = static_cast<uint64_t>(b);
    auto open_key = [&](int b) {
        return fill_[b] < k_ ? float_bits(load_[b]) << 32 | static_cast<uint64_t>(b) : kClosed;
    };
    for (const uint64_t item : by_size_) {
        const int x = static_cast<int>(item & 0xffffffffu);
        chosen_.clear();
        for (int r = 0; r < cnt_[x]; ++r) {
            uint64_t best = min_key(key_.data(), m_);
            if (best == kClosed) {
                // Forced duplicate: reopen the chosen bins that still have room.
                for (int c : chosen_) key_[c] = open_key(c);
                best = min_key(key_.data(), m_);
            }
            const int b = static_cast<int>(best & 0xffffffffu);
            slot_[b * k_ + fill_[b]++] = x;
            ++has_[at(b, x)];
            load_[b] += size_[x];
            key_[b] = kClosed;
            chosen_.push_back(b);
        }
        for (int c : chosen_) key_[c] = open_key(c);
    }
    for (int b = 0; b < m_; ++b) recompute_bin(b);
}

void ReplicaPacker::repair_duplicates() {
    if (cap_ == 0) return;  // duplicates are forced
    for (int c = 0; c < m_; ++c) {
        for (int i = c * k_; i < (c + 1) * k_; ++i) {
            const int x = slot_[i];
            if (has_[at(c, x)] < 2) continue;
            // Swap this replica of x with a replica y of another bin d that holds no x, while c
            // holds no y; pick the swap that keeps the larger of the two loads smallest.
            int best_j = -1;
            double best_max = 0;
            for (int d = 0; d < m_; ++d) {
                if (d == c || has(d, x)) continue;
                for (int j = d * k_; j < (d + 1) * k_; ++j) {
                    if (has(c, slot_[j])) continue;
                    const double delta = size_[x] - pos_size_[j];
                    const double worst = std::max(load_[c] - delta, load_[d] + delta);
                    if (best_j < 0 || worst < best_max) {
                        best_j = j;
                        best_max = worst;
                    }
                }
            }
            if (best_j >= 0) apply_swap(i, best_j);
        }
    }
}

void ReplicaPacker::sort_bins() {
    // Insertion sort: after a step only a few bins moved, so the order is nearly sorted.
    auto lighter = [&](int p, int q) { return load_[p] != load_[q] ? load_[p] < load_[q] : p < q; };
    for (size_t i = 1; i < order_.size(); ++i) {
        const int b = order_[i];
        size_t j = i;
        for (; j > 0 && lighter(b, order_[j - 1]); --j) order_[j] = order_[j - 1];
        order_[j] = b;
    }
}

bool ReplicaPacker::try_swap(int b) {
    // The lightest bin that admits an improving swap, and the best swap with it: scanning from
    // the lightest bin makes the most room, and stopping at the first bin keeps steps cheap.
    const double lb = load_[b];
    double best = lb - tol_;
    int best_i = -1, best_j = -1;
    for (int c : order_) {
        if (c == b) continue;
        const double lc = load_[c];
        if (best_i >= 0 || (lb + lc) * 0.5 >= best) break;
        // Moving d = s_x - s_y from b to c leaves max(lb - d, lc + d) = mid + |d - half|.
        const double half = 0.5 * (lb - lc), mid = 0.5 * (lb + lc);
        const double* sc = pos_size_.data() + c * k_;
        for (int i = b * k_; i < (b + 1) * k_; ++i) {
            const double sx_half = pos_size_[i] - half;
            for (int j = 0; j < k_; ++j) {
                const double worst = mid + std::abs(sx_half - sc[j]);
                if (worst < best && !has(c, slot_[i]) && !has(b, slot_[c * k_ + j])) {
                    best = worst;
                    best_i = i;
                    best_j = c * k_ + j;
                }
            }
        }
    }
    if (best_i < 0) return false;
    apply_swap(best_i, best_j);
    return true;
}

double ReplicaPacker::slot_move_load(int bin, int add, int rem, int c) const {
    const double sa = w_[add] / (cnt_[add] + 1), sr = w_[rem] / (cnt_[rem] - 1);
    const int ha = has_[at(bin, add)], hr = has_[at(bin, rem)], moved = bin == c ? 1 : 0;
    return load_[bin] - ha * size_[add] + (ha + moved) * sa - hr * size_[rem] + (hr - moved) * sr;
}

double ReplicaPacker::slot_move_worst(int add, int rem, int c, double limit) const {
    double worst = slot_move_load(c, add, rem, c);
    if (worst >= limit) return worst;
    for (int bin : where_[add]) {
        worst = std::max(worst, slot_move_load(bin, add, rem, c));
        if (worst >= limit) return worst;
    }
    for (int bin : where_[rem]) {
        worst = std::max(worst, slot_move_load(bin, add, rem, c));
        if (worst >= limit) return worst;
    }
    return worst;
}

void ReplicaPacker::build_where() {
    where_.resize(n_);
    for (auto& v : where_) v.clear();
    for (int i = 0; i < m_ * k_; ++i) where_[slot_[i]].push_back(i / k_);
}

bool ReplicaPacker::try_slot_move(int b) {
    const double lb = load_[b], min_load = *std::min_element(load_.begin(), load_.end());
    double best = lb - tol_;
    // Each other replica of rem grows by w/(r-1) - w/r; a bin holding one ends at >= min_load +
    // that growth, so a rem whose growth reaches `best` from the lightest bin cannot give a slot
    // (this prunes nearly all candidates once the bins are close).
    auto growth = [&](int rem) { return w_[rem] / (cnt_[rem] - 1) - size_[rem]; };
    bool where_ready = false;
    int best_pos = -1, best_add = -1;
    for (int i = b * k_; i < (b + 1) * k_; ++i) {
        const int x = slot_[i];
        // Up: x gets another replica in place of one of y's on another bin.
        if (cap_ == 0 || cnt_[x] < cap_) {
            for (int y = 0; y < n_; ++y) {
                if (y == x || cnt_[y] < 2 || min_load + growth(y) >= best) continue;
                if (!where_ready) {
                    build_where();
                    where_ready = true;
                }
                for (int c : where_[y]) {
                    if (c == b || has(c, x)) continue;
                    const double worst = slot_move_worst(x, y, c, best);
                    if (worst >= best) continue;
                    best = worst;
                    best_add = x;
                    for (int j = c * k_; j < (c + 1) * k_; ++j) {
                        if (slot_[j] == y) {
                            best_pos = j;
                            break;
                        }
                    }
                }
            }
        }
        // Down: this slot of b goes to a new replica of some y that b does not hold.
        if (cnt_[x] >= 2 && min_load + growth(x) < best) {
            if (!where_ready) {
                build_where();
                where_ready = true;
            }
            for (int y = 0; y < n_; ++y) {
                if (y == x || has(b, y) || (cap_ != 0 && cnt_[y] >= cap_)) continue;
                const double worst = slot_move_worst(y, x, b, best);
                if (worst >= best) continue;
                best = worst;
                best_add = y;
                best_pos = i;
            }
        }
    }
    if (best_pos < 0) return false;
    apply_slot_move(best_pos, best_add);
    return true;
}

bool ReplicaPacker::try_pair_swap(int b) {
    // Two replicas of b for two of c: pair sums are far denser than single sizes, which frees
    // the most loaded bin when no single swap fits between it and any other bin.
    const double lb = load_[b];
    double best = lb - tol_;
    pairs_.clear();
    for (int i1 = b * k_; i1 < (b + 1) * k_; ++i1) {
        for (int i2 = i1 + 1; i2 < (b + 1) * k_; ++i2)
            pairs_.push_back({pos_size_[i1] + pos_size_[i2], i1, i2});
    }
    int bi1 = -1, bi2 = -1, bj1 = -1, bj2 = -1;
    for (int c : order_) {
        if (c == b) continue;
        const double lc = load_[c];
        if (bi1 >= 0 || (lb + lc) * 0.5 >= best) break;
        const double half = 0.5 * (lb - lc), mid = 0.5 * (lb + lc);
        for (int j1 = c * k_; j1 < (c + 1) * k_; ++j1) {
            for (int j2 = j1 + 1; j2 < (c + 1) * k_; ++j2) {
                const double sc = pos_size_[j1] + pos_size_[j2];
                for (const Pair& pb : pairs_) {
                    const double worst = mid + std::abs(pb.sum - half - sc);
                    if (worst < best && !has(c, slot_[pb.i1]) && !has(c, slot_[pb.i2]) &&
                        !has(b, slot_[j1]) && !has(b, slot_[j2]) && slot_[pb.i1] != slot_[pb.i2] &&
                        slot_[j1] != slot_[j2]) {
                        best = worst;
                        bi1 = pb.i1;
                        bi2 = pb.i2;
                        bj1 = j1;
                        bj2 = j2;
                    }
                }
            }
        }
    }
    if (bi1 < 0) return false;
    apply_swap(bi1, bj1);
    apply_swap(bi2, bj2);
    return true;
}

void ReplicaPacker::improve() {
    if (m_ < 2) return;
    std::iota(order_.begin(), order_.end(), 0);
    // Each step lowers the sorted loads lexicographically; the cap only bounds pathological
    // inputs (long runs of near-ties) so that planning time stays predictable.
    const int max_steps = 64 * m_ * k_;
    for (int step = 0; step < max_steps; ++step) {
        sort_bins();
        const int b = order_.back();
        if (try_swap(b) || try_slot_move(b) || (k_ <= kMaxPairSwapSlots && try_pair_swap(b))) continue;
        break;
    }
}

void ReplicaPacker::solve() {
    greedy_counts();
    pack_greedy();
    repair_duplicates();
    improve();
}

void ReplicaPacker::assign_origin(const int* experts) {
    std::fill(has_.begin(), has_.end(), 0);
    std::fill(cnt_.begin(), cnt_.end(), 0);
    for (int i = 0; i < m_ * k_; ++i) {
        slot_[i] = experts[i];
        ++cnt_[experts[i]];
        ++has_[at(i / k_, experts[i])];
    }
    for (size_t i = 0; i < has_.size(); ++i) origin_[i] = has_[i] ? 1 : 0;
    moves_ = 0;
    for (int x = 0; x < n_; ++x) size_[x] = cnt_[x] ? w_[x] / cnt_[x] : 0.0;
    for (int b = 0; b < m_; ++b) recompute_bin(b);
}

int ReplicaPacker::remove_duplicates(std::vector<std::pair<int, int>>& edits) {
    if (cap_ == 0) return 0;
    int changed = 0;
    for (int i = 0; i < m_ * k_; ++i) {
        const int c = i / k_, x = slot_[i];
        if (has_[at(c, x)] < 2) continue;
        build_where();
        int best_add = -1;
        double best = std::numeric_limits<double>::infinity();
        for (int y = 0; y < n_; ++y) {
            if (has(c, y) || cnt_[y] >= cap_) continue;
            const double worst = slot_move_worst(y, x, c, best);
            if (worst < best) {
                best = worst;
                best_add = y;
            }
        }
        if (best_add < 0) continue;
        apply_slot_move(i, best_add);
        edits.emplace_back(i, best_add);
        ++changed;
    }
    return changed;
}

bool ReplicaPacker::descend_step(std::vector<std::pair<int, int>>& edits) {
    if (m_ < 2) return false;
    const int b = max_bin();
    const double lb = load_[b], limit = lb - tol_;
    // Drop of the most loaded bin per extra move; steps that add no move count as a quarter move.
    auto score = [&](double worst, int delta) {
        return (lb - worst) / std::max(0.25, static_cast<double>(delta));
    };
    double best_score = 0;
    int kind = 0, best_i = -1, best_j = -1, best_add = -1;
    for (int c = 0; c < m_; ++c) {
        const double lc = load_[c];
        if (c == b || lc >= limit) continue;
        const double half = 0.5 * (lb - lc), mid = 0.5 * (lb + lc);
        for (int i = b * k_; i < (b + 1) * k_; ++i) {
            const int x = slot_[i];
            if (has(c, x)) continue;
            const double sx_half = pos_size_[i] - half;
            for (int j = c * k_; j < (c + 1) * k_; ++j) {
                const double worst = mid + std::abs(sx_half - pos_size_[j]);
                const int y = slot_[j];
                if (worst >= limit || has(b, y)) continue;
                const double s = score(worst, move_delta(b, y, x) + move_delta(c, x, y));
                if (s > best_score) {
                    best_score = s;
                    kind = 1;
                    best_i = i;
                    best_j = j;
                }
            }
        }
    }
    // Slot moves: at bin c a replica of rem becomes one of add (see try_slot_move).
    build_where();
    auto consider = [&](int add, int rem, int c, int position) {
        const double worst = slot_move_worst(add, rem, c, limit);
        if (worst >= limit) return;
        const double s = score(worst, move_delta(c, add, rem));
        if (s > best_score) {
            best_score = s;
            kind = 2;
            best_i = position;
            best_add = add;
        }
    };
    for (int i = b * k_; i < (b + 1) * k_; ++i) {
        const int x = slot_[i];
        if (cap_ == 0 || cnt_[x] < cap_) {
            for (int y = 0; y < n_; ++y) {
                if (y == x || cnt_[y] < 2) continue;
                for (int c : where_[y]) {
                    if (c == b || has(c, x)) continue;
                    int position = c * k_;
                    while (slot_[position] != y) ++position;
                    consider(x, y, c, position);
                }
            }
        }
        if (cnt_[x] >= 2) {
            for (int y = 0; y < n_; ++y) {
                if (y != x && !has(b, y) && (cap_ == 0 || cnt_[y] < cap_)) consider(y, x, b, i);
            }
        }
    }
    if (kind == 0) return false;
    if (kind == 1) {
        const int x = slot_[best_i], y = slot_[best_j];
        apply_swap(best_i, best_j);
        edits.emplace_back(best_i, y);
        edits.emplace_back(best_j, x);
    } else {
        apply_slot_move(best_i, best_add);
        edits.emplace_back(best_i, best_add);
    }
    return true;
}

}  // namespace eplb
