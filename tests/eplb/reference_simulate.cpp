// The simulation loop in its plainest form: no chunks, no running sums, no fast scorer, no batched
// plans. Scores come from the core's evaluate(); the experts moved are counted here with sets.
#include "tests/eplb/reference_simulate.h"

#include <deque>
#include <set>

#include "eplb/metrics.h"
#include "eplb/relabel.h"

namespace eplb::reference {

Moved count_moved(const IndexMatrix& old_phy2log, const IndexMatrix& new_phy2log, const ParallelConfig& c) {
    const int slots_per_gpu = c.num_physical_experts / c.num_gpus;
    const int gpus_per_node = c.num_gpus / c.num_nodes;
    Moved moved;
    for (Eigen::Index l = 0; l < new_phy2log.rows(); ++l) {
        for (int gpu = 0; gpu < c.num_gpus; ++gpu) {
            std::set<int> held, wanted;
            for (int s = gpu * slots_per_gpu; s < (gpu + 1) * slots_per_gpu; ++s) {
                held.insert(old_phy2log(l, s));
                wanted.insert(new_phy2log(l, s));
            }
            for (int x : wanted) {
                if (held.count(x)) continue;
                ++moved.experts;
                bool on_node = false;
                for (int s = 0; s < c.num_physical_experts; ++s) {
                    const int holder = s / slots_per_gpu;
                    if (old_phy2log(l, s) == x && holder / gpus_per_node == gpu / gpus_per_node)
                        on_node = true;
                }
                ++(on_node ? moved.intra_node : moved.inter_node);
            }
        }
    }
    return moved;
}

LaneRun simulate_lane(const LoadTrace& series, const ParallelConfig& c, const LaneSpec& lane,
                      int64_t expert_bytes, const PlanFunction& plan) {
    const int num_layers = series.num_layers, e = series.num_experts, r = c.num_physical_experts;
    LaneRun run;
    // Start placement: slot s holds expert s for s < E, then (s - E) mod E.
    IndexMatrix placement(num_layers, r);
    for (int l = 0; l < num_layers; ++l) {
        for (int s = 0; s < r; ++s) placement(l, s) = s < e ? s : (s - e) % e;
    }
    auto put_in_force = [&](const Placement& planned, int t) {
        const IndexMatrix next =
            lane.relabel ? relabel_to_previous(planned, placement, c).phy2log : planned.phy2log;
        const Moved moved = count_moved(placement, next, c);
        placement = next;
        run.rearranged_at.push_back(t);
        run.moved_at.push_back(moved.experts);
        run.experts_moved += moved.experts;
        run.intra_node += moved.intra_node;
        run.inter_node += moved.inter_node;
        run.bytes_moved += moved.experts * expert_bytes;
    };

    std::deque<LoadMatrix> window;  // the last W steps, oldest first
    int counter = lane.step_interval - lane.step_interval / 4;
    double sum_mean = 0, sum_max = 0;
    for (int t = 0; t < series.num_steps; ++t) {
        const LoadMatrix step = series.step(t);
        if (lane.oracle) put_in_force(plan(step), t);
        // 1. Score step t with the placement in force.
        const Metrics m = evaluate(placement, step, c);
        double mean = 0, max = 0;
        for (const LayerMetrics& layer : m.layers) {
            mean += layer.mean_gpu_load;
            max += layer.max_gpu_load;
        }
        run.mean_gpu_load.push_back(mean);
        run.max_gpu_load.push_back(max);
        sum_mean += mean;
        sum_max += max;
        if (lane.oracle) continue;
        // 2. The window of the last W steps.
        window.push_back(step);
        if (static_cast<int>(window.size()) > lane.window_size) window.pop_front();
        // 3. The counter; at I, plan on the window's sum.
        counter += 1;
        if (counter < lane.step_interval) continue;
        counter = 0;
        ++run.checks;
        LoadMatrix window_sum(num_layers, e);
        for (int l = 0; l < num_layers; ++l) {
            for (int x = 0; x < e; ++x) {
                double sum = 0;
                for (const LoadMatrix& w : window) sum += w(l, x);
                window_sum(l, x) = static_cast<float>(sum);
            }
        }
        if (lane.threshold > 0 && evaluate(placement, window_sum, c).balancedness >= lane.threshold) continue;
        put_in_force(plan(window_sum), t);
    }
    run.balancedness = sum_max > 0 ? sum_mean / sum_max : 1.0;
    run.final_phy2log = placement;
    return run;
}

}  // namespace eplb::reference
