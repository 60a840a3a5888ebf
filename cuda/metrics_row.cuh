// Per-row balance scores of a placement on one warp: GPU loads, the busiest GPU, total load, the
// lower bound and duplicate GPUs, computed in double with the operations of eplb::evaluate in the
// same order (src/eplb/metrics.cpp), so the values match it.
#pragma once

#include <cstdint>

#include "cuda/warp.cuh"

namespace eplb::cuda {

// Byte offsets of one warp's scratch: load f32[E], cnt i32[E], cnt2 i32[E], slots i32[R],
// ratio f64[E], flags i32[2] (first bad slot, first expert with load and no replica).
struct ScoreRowLayout {
    int num_experts, num_slots, num_gpus, slots_per_gpu;
    int load, cnt, cnt2, slots, ratio, flags;
    int warp_bytes;
};

EPLB_HD_INLINE ScoreRowLayout make_score_layout(int num_experts, int num_slots, int num_gpus) {
    ScoreRowLayout l{};
    l.num_experts = num_experts;
    l.num_slots = num_slots;
    l.num_gpus = num_gpus;
    l.slots_per_gpu = num_slots / num_gpus;
    int at = 0;
    l.ratio = at;  // first: 8-byte aligned
    at += 8 * num_experts;
    l.load = at;
    at += 4 * num_experts;
    l.cnt = at;
    at += 4 * num_experts;
    l.cnt2 = at;
    at += 4 * num_experts;
    l.slots = at;
    at += 4 * num_slots;
    l.flags = at;
    at += 8;
    l.warp_bytes = (at + 15) & ~15;
    return l;
}

// Outputs of a batch of rows; row `row` writes element `row` (gpu_loads: row·P + q).
struct ScoreOutputs {
    double* gpu_loads;        // [rows][P]
    double* total_load;       // [rows]
    double* max_gpu_load;     // [rows]
    double* lower_bound;      // [rows]
    int32_t* max_gpu;         // [rows] lowest GPU index among the busiest
    int32_t* duplicate_gpus;  // [rows]
    int32_t* bad_slot;        // [rows] first slot whose entry is outside [-1, E), or -1
    int32_t* missing_expert;  // [rows] first expert with load > 0 and no replica, or -1
};

constexpr int kNoIndex = 0x7fffffff;

// Scores one row. All 32 lanes call it; `smem` is this warp's scratch of l.warp_bytes.
template <class Warp>
EPLB_HD_INLINE void score_row(Warp& w, const ScoreRowLayout& l, unsigned char* smem, const float* load_row,
                              const int32_t* phy2log_row, int64_t row, const ScoreOutputs& out) {
    const int lane = w.lane(), e_n = l.num_experts, r_n = l.num_slots, p_n = l.num_gpus,
              spg = l.slots_per_gpu;
    float* load = reinterpret_cast<float*>(smem + l.load);
    int* cnt = reinterpret_cast<int*>(smem + l.cnt);
    int* cnt2 = reinterpret_cast<int*>(smem + l.cnt2);
    int* slots = reinterpret_cast<int*>(smem + l.slots);
    double* ratio = reinterpret_cast<double*>(smem + l.ratio);
    int* flags = reinterpret_cast<int*>(smem + l.flags);
    for (int e = lane; e < e_n; e += kWarpSize) {
        load[e] = load_row[e];
        cnt[e] = 0;
    }
    if (lane == 0) flags[0] = flags[1] = kNoIndex;
    w.sync();
    // Replica counts; an entry outside [-1, E) is reported and counts as an empty slot.
    for (int s = lane; s < r_n; s += kWarpSize) {
        int x = phy2log_row[s];
        if (x < -1 || x >= e_n) {
            w.atomic_min(&flags[0], s);
            x = -1;
        }
        slots[s] = x;
        if (x >= 0) w.atomic_add(&cnt[x], 1);
    }
    w.sync();
    for (int e = lane; e < e_n; e += kWarpSize) {
        if (cnt[e] == 0 && load[e] != 0.0f) w.atomic_min(&flags[1], e);
    }

    // GPU loads, each summed over its slots in slot order; each lane owns a contiguous block of
    // GPUs so that the lowest lane holding the maximum holds the lowest GPU index.
    const int per_lane = ceil_div(p_n, kWarpSize);
    const int q0 = lane * per_lane, q1 = q0 + per_lane < p_n ? q0 + per_lane : p_n;
    bool has = false;
    uint64_t best = 0;
    int best_q = 0;
    uint32_t dups = 0;
    for (int q = q0; q < q1; ++q) {
        double gpu = 0.0;
        bool dup = false;
        for (int s = q * spg; s < (q + 1) * spg; ++s) {
            const int x = slots[s];
            if (x < 0) continue;
            gpu = dadd_rn(gpu, ddiv_rn(static_cast<double>(load[x]), static_cast<double>(cnt[x])));
            for (int s2 = q * spg; s2 < s; ++s2) dup |= slots[s2] == x;
        }
        dups += dup;
        out.gpu_loads[row * p_n + q] = gpu;
        const uint64_t k = double_key(gpu);
        if (!has || k > best) {
            best = k;
            best_q = q;
            has = true;
        }
    }
    const uint64_t max_key = warp_max_u64(w, has ? best : 0);
    const int winner = lowest_bit(w.ballot(has && best == max_key));
    const int max_gpu = static_cast<int>(w.shfl(static_cast<uint32_t>(best_q), winner));
    const uint32_t duplicate_gpus = w.reduce_add(dups);

    // T* = min over replica counts of max load / count: the greedy of replicate_experts in double.
    const int per_lane_e = ceil_div(e_n, kWarpSize);
    const int e0 = lane * per_lane_e, e1 = e0 + per_lane_e < e_n ? e0 + per_lane_e : e_n;
    has = false;
    best = 0;
    int best_e = e0;
    for (int e = e0; e < e1; ++e) {
        ratio[e] = static_cast<double>(load[e]);
        cnt2[e] = 1;
        const uint64_t k = double_key(ratio[e]);
        if (!has || k > best) {
            best = k;
            best_e = e;
            has = true;
        }
    }
    for (int i = e_n; i < r_n; ++i) {
        const uint64_t most = warp_max_u64(w, has ? best : 0);
        if (lane == lowest_bit(w.ballot(has && best == most))) {
            const int e = best_e;
            cnt2[e] += 1;
            ratio[e] = ddiv_rn(static_cast<double>(load[e]), static_cast<double>(cnt2[e]));
            has = false;
            for (int j = e0; j < e1; ++j) {
                const uint64_t k = double_key(ratio[j]);
                if (!has || k > best) {
                    best = k;
                    best_e = j;
                    has = true;
                }
            }
        }
    }
    const double t_star = bits_double(warp_max_u64(w, has ? best : 0));
    w.sync();  // flags

    if (lane == 0) {
        double total = 0.0;  // in expert order, as the CPU sums it
        for (int e = 0; e < e_n; ++e) total = dadd_rn(total, static_cast<double>(load[e]));
        const double mean = ddiv_rn(total, static_cast<double>(p_n));
        out.total_load[row] = total;
        out.max_gpu_load[row] = bits_double(max_key);
        out.max_gpu[row] = max_gpu;
        out.lower_bound[row] = mean < t_star ? t_star : mean;
        out.duplicate_gpus[row] = static_cast<int32_t>(duplicate_gpus);
        out.bad_slot[row] = flags[0] == kNoIndex ? -1 : flags[0];
        out.missing_expert[row] = flags[1] == kNoIndex ? -1 : flags[1];
    }
}

}  // namespace eplb::cuda
