// The `deepseek` policy for one row on one warp: the same float32 operations in the same order as
// the CPU reference (src/eplb/deepseek.cpp), so the maps are bit-identical, ties included.
// Written against a Warp template (warp.cuh) so that tests can run it on host threads too.
#pragma once

#include <cstdint>

#include "cuda/warp.cuh"

namespace eplb::cuda {

// Byte offsets of one warp's shared-memory scratch for one row, and the derived sizes. The nodes
// are planned by segments of seg_width lanes (a power of two), num_segs per warp at once: a small
// segment keeps the per-step warp reductions short when a node has few GPUs (8 lanes and 3
// shuffle steps for DeepSeek-V3's 8 GPUs per node, 4 nodes side by side).
struct DeepseekRowLayout {
    int num_experts, num_slots, num_groups, num_nodes, num_gpus;  // E, R, G, N, P (effective)
    int group_size, groups_per_node, experts_per_node, slots_per_node, gpus_per_node, slots_per_gpu;
    int seg_width, num_segs;
    // Row scratch: weight f32[E]; group_key u32[G]; group_order, group_inv u16[G];
    // group_pack_w f32[N]; group_pack_c u16[N].
    int weight, group_key, group_order, group_inv, group_pack_w, group_pack_c;
    // Segment scratch, num_segs regions of seg_bytes from seg_base: node_log, cnt u16[n];
    // ratio f32[n]; phy2mlog, phyrank, order u16[r]; key u32[r]; pack_w f32[m]; pack_c u16[m]
    // (n experts, r slots and m GPUs per node).
    int seg_base, seg_bytes;
    int node_log, cnt, ratio, phy2mlog, phyrank, order, key, pack_w, pack_c;
    int warp_bytes;
};

EPLB_HD_INLINE int next_pow2(int x) {
    int p = 1;
    while (p < x) p <<= 1;
    return p;
}

// The effective shape (global policy: pass num_groups = num_nodes = 1). Indices are stored as
// uint16: callers must keep E and R at most 65535.
EPLB_HD_INLINE DeepseekRowLayout make_deepseek_layout(int num_experts, int num_slots, int num_groups,
                                                      int num_nodes, int num_gpus) {
    DeepseekRowLayout l{};
    l.num_experts = num_experts;
    l.num_slots = num_slots;
    l.num_groups = num_groups;
    l.num_nodes = num_nodes;
    l.num_gpus = num_gpus;
    l.group_size = num_experts / num_groups;
    l.groups_per_node = num_groups / num_nodes;
    l.experts_per_node = num_experts / num_nodes;
    l.slots_per_node = num_slots / num_nodes;
    l.gpus_per_node = num_gpus / num_nodes;
    l.slots_per_gpu = num_slots / num_gpus;
    const int pack_lanes = next_pow2(l.gpus_per_node) < kWarpSize ? next_pow2(l.gpus_per_node) : kWarpSize;
    l.num_segs =
        kWarpSize / pack_lanes < next_pow2(num_nodes) ? kWarpSize / pack_lanes : next_pow2(num_nodes);
    l.seg_width = kWarpSize / l.num_segs;

    auto take = [](int& at, int bytes) {
        const int offset = at;
        at += (bytes + 3) & ~3;  // every array 4-byte aligned
        return offset;
    };
    int at = 0;
    l.weight = take(at, 4 * num_experts);
    l.group_key = take(at, 4 * num_groups);
    l.group_order = take(at, 2 * num_groups);
    l.group_inv = take(at, 2 * num_groups);
    l.group_pack_w = take(at, 4 * num_nodes);
    l.group_pack_c = take(at, 2 * num_nodes);
    l.seg_base = at;
    const int n = l.experts_per_node, r = l.slots_per_node, m = l.gpus_per_node;
    int s = 0;
    l.node_log = take(s, 2 * n);
    l.cnt = take(s, 2 * n);
    l.ratio = take(s, 4 * n);
    l.phy2mlog = take(s, 2 * r);
    l.phyrank = take(s, 2 * r);
    l.order = take(s, 2 * r);
    l.key = take(s, 4 * r);
    l.pack_w = take(s, 4 * m);
    l.pack_c = take(s, 2 * m);
    // An odd number of words per segment puts the segments' broadcast reads (key[j] in the rank
    // loop) in different banks.
    if ((s / 4) % 2 == 0) s += 4;
    l.seg_bytes = s;
    l.warp_bytes = (at + l.num_segs * s + 15) & ~15;
    return l;
}

// balanced_packing of one row's items within a segment of seg_width lanes starting at lane
// seg_first: items by key descending (equal keys: lower index first), each to the non-full pack
// of least accumulated weight (ties: lowest pack index), weights accumulated in float32 in pick
// order. Calls assign(item, pack, rank_in_pack) on the lane that decides it. key[i] is the
// float_key of item i's weight, which is also that weight (with -0 read as +0, an equal value).
// Every lane of the warp must call this with the same num_items (the loop holds warp reductions).
template <class Warp, class Assign>
EPLB_HD_INLINE void pack_items(Warp& w, int seg_width, int seg_first, int num_items, const uint32_t* key,
                               uint16_t* order, int num_packs, float* pack_w, uint16_t* pack_c,
                               Assign&& assign) {
    const int lane = w.lane(), seg_lane = lane - seg_first;
    const int per_pack = num_items / num_packs;
    if (per_pack == 1) {  // one item per pack: item i -> pack i, no sorting
        for (int i = seg_lane; i < num_items; i += seg_width) assign(i, i, 0);
        return;
    }
    // Stable descending order by rank: the items with a larger key, or an equal key and a lower
    // index, come first. (kj + (j < i)) > ki is kj >= ki for j < i and kj > ki after; keys are at
    // most 0x7f800000 (+inf), so the +1 cannot wrap. Four items per pass share each read of key[j].
    constexpr int kBatch = 4;
    for (int first = seg_lane; first < num_items; first += kBatch * seg_width) {
        int item[kBatch], rank[kBatch];
        uint32_t k[kBatch];
        EPLB_UNROLL
        for (int u = 0; u < kBatch; ++u) {
            item[u] = first + u * seg_width;
            k[u] = item[u] < num_items ? key[item[u]] : 0u;
            rank[u] = 0;
        }
        for (int j = 0; j < num_items; ++j) {
            const uint32_t kj = key[j];
            EPLB_UNROLL
            for (int u = 0; u < kBatch; ++u) rank[u] += (kj + static_cast<uint32_t>(j < item[u])) > k[u];
        }
        EPLB_UNROLL
        for (int u = 0; u < kBatch; ++u) {
            if (item[u] < num_items) order[rank[u]] = static_cast<uint16_t>(item[u]);
        }
    }
    // Each lane owns a contiguous block of packs, so that the lowest lane holding the minimum
    // holds the lowest pack index among equal weights.
    const int packs_per_lane = ceil_div(num_packs, seg_width);
    const int p0 = seg_lane * packs_per_lane;
    const int p1 = p0 + packs_per_lane < num_packs ? p0 + packs_per_lane : num_packs;
    for (int p = p0; p < p1; ++p) {
        pack_w[p] = 0.0f;
        pack_c[p] = 0;
    }
    bool has = p0 < p1;  // this lane's best non-full pack: all empty, so its first
    uint32_t best = 0;
    int best_p = p0;
    const uint32_t seg_bits = segment_mask(seg_first, seg_width);
    w.sync();  // order[] was written by other lanes
    for (int t = 0; t < num_items; ++t) {
        const uint32_t v = has ? best : 0xffffffffu;
        const uint32_t least = segment_min(w, v, seg_width);
        const uint32_t ties = w.ballot(has && v == least) & seg_bits;
        if (lane == lowest_bit(ties)) {
            const int item = order[t];
            const int p = best_p;
            const int rank = pack_c[p];
            pack_w[p] = fadd_rn(pack_w[p], bits_float(key[item]));
            pack_c[p] = static_cast<uint16_t>(rank + 1);
            assign(item, p, rank);
            has = false;
            for (int q = p0; q < p1; ++q) {
                if (pack_c[q] >= per_pack) continue;
                const uint32_t kq = float_key(pack_w[q]);
                if (!has || kq < best) {
                    best = kq;
                    best_p = q;
                    has = true;
                }
            }
        }
    }
}

// replicate_experts of one node's n experts onto r slots within a segment: each extra slot goes
// to the expert of largest weight / count (float32 division; ties: lowest index). Expert j's
// weight is weight[node_log[j]]. Fills cnt[n], ratio[n] (= weight / cnt), phy2mlog[r], phyrank[r].
template <class Warp>
EPLB_HD_INLINE void replicate_node(Warp& w, int seg_width, int seg_first, int n, int r, const float* weight,
                                   const uint16_t* node_log, float* ratio, uint16_t* cnt, uint16_t* phy2mlog,
                                   uint16_t* phyrank) {
    const int lane = w.lane(), seg_lane = lane - seg_first;
    const int per_lane = ceil_div(n, seg_width);
    const int j0 = seg_lane * per_lane;
    const int j1 = j0 + per_lane < n ? j0 + per_lane : n;
    bool has = false;  // this lane's argmax over its contiguous block of experts
    uint32_t best = 0;
    int best_j = j0;
    for (int j = j0; j < j1; ++j) {
        const float wj = weight[node_log[j]];
        ratio[j] = wj;
        cnt[j] = 1;
        phy2mlog[j] = static_cast<uint16_t>(j);
        phyrank[j] = 0;
        const uint32_t kj = float_key(wj);
        if (!has || kj > best) {
            best = kj;
            best_j = j;
            has = true;
        }
    }
    const uint32_t seg_bits = segment_mask(seg_first, seg_width);
    for (int i = n; i < r; ++i) {
        const uint32_t v = has ? best : 0u;
        const uint32_t most = segment_max(w, v, seg_width);
        const uint32_t ties = w.ballot(has && v == most) & seg_bits;
        if (lane == lowest_bit(ties)) {
            const int e = best_j;
            const int c = cnt[e];
            phy2mlog[i] = static_cast<uint16_t>(e);
            phyrank[i] = static_cast<uint16_t>(c);
            cnt[e] = static_cast<uint16_t>(c + 1);
            ratio[e] = fdiv_rn(weight[node_log[e]], static_cast<float>(c + 1));
            has = false;
            for (int j = j0; j < j1; ++j) {
                const uint32_t kj = float_key(ratio[j]);
                if (!has || kj > best) {
                    best = kj;
                    best_j = j;
                    has = true;
                }
            }
        }
    }
}

// Plans one row: load_row [E] -> phy2log_row, phyrank_row [R], logcnt_row [E]. `smem` is this
// warp's scratch of l.warp_bytes (4-byte aligned). All 32 lanes call it.
template <class Warp>
EPLB_HD_INLINE void plan_deepseek_row(Warp& w, const DeepseekRowLayout& l, unsigned char* smem,
                                      const float* load_row, int32_t* phy2log_row, int32_t* phyrank_row,
                                      int32_t* logcnt_row) {
    const int lane = w.lane();
    float* weight = reinterpret_cast<float*>(smem + l.weight);
    uint16_t* group_inv = reinterpret_cast<uint16_t*>(smem + l.group_inv);
    for (int e = lane; e < l.num_experts; e += kWarpSize) weight[e] = load_row[e];
    w.sync();

    // 1. Groups to nodes by their float32 sums in index order; group_inv[node·G/N + rank] = group.
    const int gpn = l.groups_per_node, gs = l.group_size;
    if (gpn == 1) {
        for (int g = lane; g < l.num_groups; g += kWarpSize) group_inv[g] = static_cast<uint16_t>(g);
    } else {
        uint32_t* group_key = reinterpret_cast<uint32_t*>(smem + l.group_key);
        for (int g = lane; g < l.num_groups; g += kWarpSize) {
            float sum = 0.0f;
            for (int i = 0; i < gs; ++i) sum = fadd_rn(sum, weight[g * gs + i]);
            group_key[g] = float_key(sum);
        }
        w.sync();
        pack_items(w, kWarpSize, 0, l.num_groups, group_key,
                   reinterpret_cast<uint16_t*>(smem + l.group_order), l.num_nodes,
                   reinterpret_cast<float*>(smem + l.group_pack_w),
                   reinterpret_cast<uint16_t*>(smem + l.group_pack_c), [&](int group, int node, int rank) {
                       group_inv[node * gpn + rank] = static_cast<uint16_t>(group);
                   });
    }
    w.sync();

    // 2. The nodes, num_segs at a time. A segment past the last node redoes the last node in its
    // own scratch without writing, so every lane runs the same reductions.
    const int n = l.experts_per_node, r = l.slots_per_node, sw = l.seg_width;
    const int seg = lane / sw, seg_first = seg * sw, seg_lane = lane - seg_first;
    unsigned char* s = smem + l.seg_base + seg * l.seg_bytes;
    uint16_t* node_log = reinterpret_cast<uint16_t*>(s + l.node_log);
    uint16_t* cnt = reinterpret_cast<uint16_t*>(s + l.cnt);
    float* ratio = reinterpret_cast<float*>(s + l.ratio);
    uint16_t* phy2mlog = reinterpret_cast<uint16_t*>(s + l.phy2mlog);
    uint16_t* phyrank = reinterpret_cast<uint16_t*>(s + l.phyrank);
    uint32_t* key = reinterpret_cast<uint32_t*>(s + l.key);
    for (int first = 0; first < l.num_nodes; first += l.num_segs) {
        const bool active = first + seg < l.num_nodes;
        const int node = active ? first + seg : l.num_nodes - 1;
        // Node-local expert j: whole groups in the order they were packed onto the node.
        // (replicate_node reads node_log only in this lane's own block, written here.)
        const int per_lane = ceil_div(n, sw);
        for (int j = seg_lane * per_lane; j < (seg_lane + 1) * per_lane && j < n; ++j) {
            node_log[j] = static_cast<uint16_t>(group_inv[node * gpn + j / gs] * gs + j % gs);
        }
        // 3. Replicate within the node.
        replicate_node(w, sw, seg_first, n, r, weight, node_log, ratio, cnt, phy2mlog, phyrank);
        w.sync();
        // 4. Pack the node's replicas, weight = expert weight / its count (that is ratio[] now),
        // onto its GPUs; slot = node·R/N + gpu_in_node·(R/P) + rank_in_gpu.
        for (int i = seg_lane; i < r; i += sw) key[i] = float_key(ratio[phy2mlog[i]]);
        if (active) {
            for (int j = seg_lane; j < n; j += sw) logcnt_row[node_log[j]] = cnt[j];
        }
        w.sync();
        const int slot0 = node * r, spg = l.slots_per_gpu;
        pack_items(w, sw, seg_first, r, key, reinterpret_cast<uint16_t*>(s + l.order), l.gpus_per_node,
                   reinterpret_cast<float*>(s + l.pack_w), reinterpret_cast<uint16_t*>(s + l.pack_c),
                   [&](int item, int gpu, int rank) {
                       if (!active) return;
                       const int slot = slot0 + gpu * spg + rank;
                       phy2log_row[slot] = node_log[phy2mlog[item]];
                       phyrank_row[slot] = phyrank[item];
                   });
        w.sync();  // the next pass rewrites this scratch
    }
}

}  // namespace eplb::cuda
