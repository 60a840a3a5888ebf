// Replica counts and their packing onto GPUs for one flat instance (a node, or the whole cluster),
// improved by local search; shared by the `balanced` policy and migration-aware planning.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace eplb {

// Min over counts r_e in [1, cap] with Σ r_e = num_slots of max_e w_e / r_e (the greedy: each extra
// slot to the expert of largest w/r; ties lowest index). cap <= 0 means no cap. Writes the counts
// to `count` when it is not null.
double min_max_replica_load_capped(const double* w, int n, int num_slots, int cap, int* count = nullptr);

// Swaps the experts of positions i and j (bins i / k and j / k; slot[position] = expert) and
// moves their replica counts with them (has[bin · n + expert]); the caller updates the bins' loads.
inline void exchange_slots(std::vector<int>& slot, std::vector<uint16_t>& has, int n, int k, int i, int j) {
    const size_t b = static_cast<size_t>(i / k) * n, c = static_cast<size_t>(j / k) * n;
    const int x = slot[i], y = slot[j];
    std::swap(slot[i], slot[j]);
    --has[b + x];
    ++has[b + y];
    --has[c + y];
    ++has[c + x];
}

// One instance: n experts with loads w (>= 0), m bins (GPUs) of k slots each. Each expert's load
// is split evenly over its replicas. Slot j of bin b is position b·k + j.
class ReplicaPacker {
  public:
    // Pair swaps cost O(k^4) per pair of bins: tried only up to this many slots per bin.
    static constexpr int kMaxPairSwapSlots = 6;

    // Loads the instance; the weights are copied. Scratch is reused across calls.
    void reset(const double* w, int n, int m, int k);

    // From scratch: counts minimising the max replica load (at most m replicas per expert when
    // n >= k, so that no bin needs two replicas of one expert), largest replica first into the
    // least-loaded bin with room that does not hold that expert, then improve().
    void solve();

    // Local search on the most loaded bin until no step lowers it: a swap of one replica with the
    // lightest bin that admits one, else a move of one slot from one expert to another, else (k <=
    // kMaxPairSwapSlots) a swap of two replicas for two. A step lowers the most loaded bin and
    // leaves every bin it touches below the old maximum: the sorted loads drop lexicographically,
    // so the search ends.
    void improve();

    // Migration-aware planning: replaces the state by `experts` (the expert of each position, every
    // expert at least once; counts follow) and makes it the origin that moves count against: a
    // bin needs a move for each expert it holds and did not hold at the origin.
    void assign_origin(const int* experts);
    // One step from the current state toward balance: among the steps improve() may take on the
    // most loaded bin (single swaps with any bin, slot moves), the one with the largest drop of
    // that bin per extra move (steps that add no move first). Appends (position, new expert) of
    // every changed position to `edits`. False when no step lowers the most loaded bin.
    bool descend_step(std::vector<std::pair<int, int>>& edits);
    // Where counts allow it (n >= k), turns every second replica of an expert on one bin into a
    // replica of the expert that keeps the touched bins lowest (one move each): a duplicate only
    // wastes a slot. Appends the edits; returns how many slots changed.
    int remove_duplicates(std::vector<std::pair<int, int>>& edits);
    int64_t moves() const { return moves_; }

    int num_experts() const { return n_; }
    int num_bins() const { return m_; }
    int slots_per_bin() const { return k_; }
    int expert_at(int position) const { return slot_[position]; }
    int count(int expert) const { return cnt_[expert]; }
    double bin_load(int bin) const { return load_[bin]; }
    double max_load() const;
    int max_bin() const;  // lowest index among the most loaded
    // Bins holding two or more replicas of one expert.
    int duplicate_bins() const;

  private:
    size_t at(int bin, int expert) const { return static_cast<size_t>(bin) * n_ + expert; }
    bool has(int bin, int expert) const { return has_[at(bin, expert)] != 0; }
    // Moves added when bin c gives up one replica of `rem` for one of `add`.
    int move_delta(int c, int add, int rem) const;
    // New load of `bin` when, at bin c, a replica of `rem` becomes a new replica of `add`.
    double slot_move_load(int bin, int add, int rem, int c) const;
    // Max new load over the bins a slot move touches, stopping early once it reaches `limit`.
    double slot_move_worst(int add, int rem, int c, double limit) const;
    void build_where();
    void recompute_bin(int bin);
    void greedy_counts();
    void pack_greedy();
    void repair_duplicates();
    void sort_bins();
    void apply_swap(int i, int j);
    void apply_slot_move(int position, int add);
    bool try_swap(int bin);
    bool try_slot_move(int bin);
    bool try_pair_swap(int bin);

    int n_ = 0, m_ = 0, k_ = 0, cap_ = 0;
    double tol_ = 0;                       // loads closer than this count as equal (no cycling on rounding)
    std::vector<double> w_, size_;         // [n] expert load, replica load w/count
    std::vector<int> cnt_;                 // [n]
    std::vector<int> slot_;                // [m·k] expert at each position
    std::vector<double> pos_size_;         // [m·k] replica load at each position
    std::vector<uint16_t> has_;            // [m·n] replicas of each expert in each bin
    std::vector<uint8_t> origin_;          // [m·n] whether the bin held the expert at the origin
    int64_t moves_ = 0;                    // moves against the origin
    std::vector<double> load_;             // [m]
    std::vector<int> order_;               // bins by load, ascending (ties: lower index first)
    std::vector<std::vector<int>> where_;  // bins of each expert's replicas (slot moves only)
    // Scratch of pack_greedy and try_pair_swap.
    std::vector<int> fill_, chosen_;
    std::vector<uint64_t> key_, by_size_;
    struct Pair {
        double sum;
        int i1, i2;
    };
    std::vector<Pair> pairs_;
};

}  // namespace eplb
