// Balance metrics and the lower bound, computed in double from float32 loads.
#include "eplb/metrics.h"

#include <algorithm>
#include <numeric>
#include <queue>
#include <sstream>

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

RowScores::RowScores(int rows, int num_gpus)
    : gpu_loads(DoubleMatrix::Zero(rows, num_gpus)),
      total_load(rows, 0.0),
      max_gpu_load(rows, 0.0),
      max_gpu(rows, 0),
      lower_bound(rows, 0.0),
      duplicate_gpus(rows, 0) {}

void check_score_inputs(const IndexMatrix& phy2log, const LoadMatrix& load, const ParallelConfig& c) {
    EPLB_CHECK(load.rows() == phy2log.rows() && load.cols() == c.num_logical_experts,
               "load is " << load.rows() << "x" << load.cols() << " but the placement needs "
                          << phy2log.rows() << "x" << c.num_logical_experts << " (layers x experts)");
    EPLB_CHECK(phy2log.cols() == c.num_physical_experts,
               "placement has " << phy2log.cols() << " slots, config says " << c.num_physical_experts);
}

Error missing_replica_error(int row, int expert, float load) {
    std::ostringstream msg;
    msg << "layer " << row << ": expert " << expert << " has load " << load << " but no replica";
    return Error(ErrorKind::kInvalidInput, msg.str());
}

RowScores score_rows(const IndexMatrix& phy2log, const LoadMatrix& load, const ParallelConfig& c) {
    check_score_inputs(phy2log, load, c);
    const int num_rows = static_cast<int>(phy2log.rows());
    const int e = c.num_logical_experts, r = c.num_physical_experts, p = c.num_gpus;
    const int slots_per_gpu = r / p;
    const IndexMatrix cnt = count_replicas(phy2log, e);
    RowScores s(num_rows, p);
    std::vector<int> held;
    for (int l = 0; l < num_rows; ++l) {
        for (int x = 0; x < e; ++x) {
            if (cnt(l, x) == 0 && load(l, x) != 0.0f) throw missing_replica_error(l, x, load(l, x));
        }
        for (int q = 0; q < p; ++q) {
            double gpu = 0;
            held.clear();
            for (int slot = q * slots_per_gpu; slot < (q + 1) * slots_per_gpu; ++slot) {
                const int x = phy2log(l, slot);
                if (x < 0) continue;
                gpu += static_cast<double>(load(l, x)) / cnt(l, x);
                held.push_back(x);
            }
            std::sort(held.begin(), held.end());
            if (std::adjacent_find(held.begin(), held.end()) != held.end()) ++s.duplicate_gpus[l];
            s.gpu_loads(l, q) = gpu;
            if (gpu > s.max_gpu_load[l]) {
                s.max_gpu_load[l] = gpu;
                s.max_gpu[l] = q;
            }
        }
        for (int x = 0; x < e; ++x) s.total_load[l] += load(l, x);
        s.lower_bound[l] = lower_bound(load.row(l).data(), e, r, p);
    }
    return s;
}

Metrics summarize_rows(const RowScores& s, const ParallelConfig& c, int first, int count) {
    EPLB_CHECK(
        first >= 0 && count >= 0 && first + count <= s.num_rows(),
        "rows [" << first << ", " << first + count << ") are outside the " << s.num_rows() << " scored rows");
    const int p = c.num_gpus, n = c.num_nodes, gpus_per_node = p / n;
    EPLB_CHECK(s.gpu_loads.cols() == p, "scores have " << s.gpu_loads.cols() << " GPUs, config says " << p);
    Metrics m;
    m.layers.resize(count);
    m.gpu_loads = s.gpu_loads.middleRows(first, count);
    m.node_loads = DoubleMatrix::Zero(count, n);
    double sum_mean = 0, sum_max = 0, sum_lb = 0, sum_bal = 0, sum_gap = 0;
    for (int l = 0; l < count; ++l) {
        const int row = first + l;
        LayerMetrics& lm = m.layers[l];
        for (int q = 0; q < p; ++q) m.node_loads(l, q / gpus_per_node) += m.gpu_loads(l, q);
        lm.max_gpu_load = s.max_gpu_load[row];
        lm.max_gpu = s.max_gpu[row];
        lm.duplicate_gpus = s.duplicate_gpus[row];
        lm.total_load = s.total_load[row];
        lm.mean_gpu_load = lm.total_load / p;
        lm.balancedness = lm.max_gpu_load > 0 ? lm.mean_gpu_load / lm.max_gpu_load : 1.0;
        lm.imbalance = lm.mean_gpu_load > 0 ? lm.max_gpu_load / lm.mean_gpu_load - 1.0 : 0.0;
        lm.lower_bound = s.lower_bound[row];
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
    if (count > 0) {
        m.balancedness = sum_max > 0 ? sum_mean / sum_max : 1.0;
        m.mean_layer_balancedness = sum_bal / count;
        m.imbalance = sum_mean > 0 ? sum_max / sum_mean - 1.0 : 0.0;
        m.gap = sum_lb > 0 ? sum_max / sum_lb - 1.0 : 0.0;
        m.mean_gap = sum_gap / count;
    }
    return m;
}

Metrics evaluate(const IndexMatrix& phy2log, const LoadMatrix& load, const ParallelConfig& c) {
    const RowScores s = score_rows(phy2log, load, c);
    return summarize_rows(s, c, 0, s.num_rows());
}

}  // namespace eplb
