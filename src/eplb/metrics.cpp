// Balance metrics and the lower bound, computed in double from float32 loads.
#include "eplb/metrics.h"

#include <algorithm>
#include <numeric>
#include <queue>

#include "eplb/error.h"

namespace eplb {

double min_max_replica_load(const float* load, int num_experts, int num_slots) {
    // Greedy: give each extra slot to the expert with the largest load per replica. Exchange
    // argument: any count vector with a smaller maximum would need more than num_slots replicas.
    struct Item {
        double ratio;
        int expert;
        bool operator<(const Item& o) const { return ratio != o.ratio ? ratio < o.ratio : expert > o.expert; }
    };
    std::vector<int> count(num_experts, 1);
    std::priority_queue<Item> heap;
    for (int e = 0; e < num_experts; ++e) heap.push({load[e], e});
    for (int i = num_experts; i < num_slots; ++i) {
        Item top = heap.top();
        heap.pop();
        ++count[top.expert];
        heap.push({static_cast<double>(load[top.expert]) / count[top.expert], top.expert});
    }
    return heap.empty() ? 0.0 : heap.top().ratio;
}

double lower_bound(const float* load, int num_experts, int num_slots, int num_gpus) {
    double total = 0;
    for (int e = 0; e < num_experts; ++e) total += load[e];
    return std::max(total / num_gpus, min_max_replica_load(load, num_experts, num_slots));
}

IndexMatrix count_replicas(const IndexMatrix& phy2log, int num_experts) {
    IndexMatrix cnt = IndexMatrix::Zero(phy2log.rows(), num_experts);
    for (Eigen::Index l = 0; l < phy2log.rows(); ++l) {
        for (Eigen::Index s = 0; s < phy2log.cols(); ++s) {
            const int x = phy2log(l, s);
            if (x >= 0) ++cnt(l, x);
        }
    }
    return cnt;
}

Metrics evaluate(const IndexMatrix& phy2log, const LoadMatrix& load, const ParallelConfig& c) {
    const int num_layers = static_cast<int>(phy2log.rows());
    const int e = c.num_logical_experts, r = c.num_physical_experts, p = c.num_gpus, n = c.num_nodes;
    EPLB_CHECK(load.rows() == num_layers && load.cols() == e,
               "load is " << load.rows() << "x" << load.cols() << " but the placement needs " << num_layers
                          << "x" << e << " (layers x experts)");
    EPLB_CHECK(phy2log.cols() == r, "placement has " << phy2log.cols() << " slots, config says " << r);
    const int slots_per_gpu = r / p, gpus_per_node = p / n;
    const IndexMatrix cnt = count_replicas(phy2log, e);
    Metrics m;
    m.layers.resize(num_layers);
    m.gpu_loads = DoubleMatrix::Zero(num_layers, p);
    m.node_loads = DoubleMatrix::Zero(num_layers, n);
    double sum_mean = 0, sum_max = 0, sum_lb = 0, sum_bal = 0, sum_gap = 0;
    std::vector<int> held;
    for (int l = 0; l < num_layers; ++l) {
        LayerMetrics& lm = m.layers[l];
        for (int x = 0; x < e; ++x) {
            EPLB_CHECK(cnt(l, x) > 0 || load(l, x) == 0.0f,
                       "layer " << l << ": expert " << x << " has load " << load(l, x) << " but no replica");
        }
        for (int q = 0; q < p; ++q) {
            double gpu = 0;
            held.clear();
            for (int s = q * slots_per_gpu; s < (q + 1) * slots_per_gpu; ++s) {
                const int x = phy2log(l, s);
                if (x < 0) continue;
                gpu += static_cast<double>(load(l, x)) / cnt(l, x);
                held.push_back(x);
            }
            std::sort(held.begin(), held.end());
            if (std::adjacent_find(held.begin(), held.end()) != held.end()) ++lm.duplicate_gpus;
            m.gpu_loads(l, q) = gpu;
            m.node_loads(l, q / gpus_per_node) += gpu;
            if (gpu > lm.max_gpu_load) {
                lm.max_gpu_load = gpu;
                lm.max_gpu = q;
            }
        }
        lm.total_load = 0;
        for (int x = 0; x < e; ++x) lm.total_load += load(l, x);
        lm.mean_gpu_load = lm.total_load / p;
        lm.balancedness = lm.max_gpu_load > 0 ? lm.mean_gpu_load / lm.max_gpu_load : 1.0;
        lm.imbalance = lm.mean_gpu_load > 0 ? lm.max_gpu_load / lm.mean_gpu_load - 1.0 : 0.0;
        lm.lower_bound = lower_bound(load.row(l).data(), e, r, p);
        lm.gap = lm.lower_bound > 0 ? lm.max_gpu_load / lm.lower_bound - 1.0 : 0.0;
        sum_mean += lm.mean_gpu_load;
        sum_max += lm.max_gpu_load;
        sum_lb += lm.lower_bound;
        sum_bal += lm.balancedness;
        sum_gap += lm.gap;
        m.max_gap = std::max(m.max_gap, lm.gap);
        m.duplicate_pairs += lm.duplicate_gpus;
        if (lm.balancedness < m.layers[m.worst_layer].balancedness) m.worst_layer = l;
    }
    if (num_layers > 0) {
        m.balancedness = sum_max > 0 ? sum_mean / sum_max : 1.0;
        m.mean_layer_balancedness = sum_bal / num_layers;
        m.imbalance = sum_mean > 0 ? sum_max / sum_mean - 1.0 : 0.0;
        m.gap = sum_lb > 0 ? sum_max / sum_lb - 1.0 : 0.0;
        m.mean_gap = sum_gap / num_layers;
    }
    return m;
}

}  // namespace eplb
