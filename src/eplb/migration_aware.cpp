// Migration-aware planning (see migration_aware.h): relabelling, descent paths from the previous
// placement, and the per-layer choice under a move budget or price.
#include "eplb/migration_aware.h"

#include <algorithm>
#include <queue>

#include "eplb/error.h"
#include "eplb/metrics.h"
#include "eplb/migration.h"
#include "eplb/relabel.h"
#include "eplb/replica_packing.h"

namespace eplb {

const char* layer_source_name(LayerSource source) {
    switch (source) {
        case LayerSource::kPlan:
            return "plan";
        case LayerSource::kPrevious:
            return "previous";
        case LayerSource::kRepaired:
            return "repaired";
    }
    return "?";
}

namespace {

// Max GPU load of one layer (each expert's load split evenly over its replicas in `row`).
double layer_max_load(const float* load, const int* row, const ParallelConfig& c, std::vector<int>& cnt) {
    cnt.assign(c.num_logical_experts, 0);
    for (int s = 0; s < c.num_physical_experts; ++s) ++cnt[row[s]];
    const int k = c.slots_per_gpu();
    double worst = 0;
    for (int q = 0; q < c.num_gpus; ++q) {
        double sum = 0;
        for (int s = q * k; s < (q + 1) * k; ++s) sum += static_cast<double>(load[row[s]]) / cnt[row[s]];
        worst = std::max(worst, sum);
    }
    return worst;
}

struct PathPoint {
    int64_t moves;
    double max_load;
    size_t edits_end;  // edits [0, edits_end) lead from the previous placement to this point
};

// The descent from a previous layer toward balance, on one flat instance per node (hierarchical
// config) or one for the whole layer. Nodes step in turn: always the node of the most loaded GPU.
class Descent {
  public:
    explicit Descent(const ParallelConfig& c)
        : c_(c), nodes_(c.hierarchical() ? c.num_nodes : 1), packers_(nodes_), experts_(nodes_) {}

    // Whether `prev` can be kept or repaired under this config: every expert held and, when
    // hierarchical, every group on one node.
    bool usable(const int* prev) {
        const int e = c_.num_logical_experts;
        node_of_.assign(e, -1);
        const int slots_per_node = c_.num_physical_experts / nodes_;
        for (int s = 0; s < c_.num_physical_experts; ++s) {
            const int x = prev[s], node = s / slots_per_node;
            if (x < 0) return false;
            if (node_of_[x] >= 0 && node_of_[x] != node) return false;
            node_of_[x] = node;
        }
        const int group_size = e / (nodes_ > 1 ? c_.num_groups : 1);
        for (int x = 0; x < e; ++x) {
            if (node_of_[x] < 0 || node_of_[x] != node_of_[x - x % group_size]) return false;
        }
        return true;
    }

    // Runs the descent until it stops lowering the max, its max reaches stop_max, or its moves
    // pass stop_moves. path[0] is the previous placement itself. Requires usable(prev).
    void run(const float* load, const int* prev, double stop_max, int64_t stop_moves,
             std::vector<PathPoint>& path, std::vector<std::pair<int, int>>& edits) {
        const int slots_per_node = c_.num_physical_experts / nodes_, k = c_.slots_per_gpu();
        std::vector<int> local(c_.num_logical_experts), positions(slots_per_node);
        for (int node = 0; node < nodes_; ++node) {
            auto& ex = experts_[node];
            ex.clear();
            for (int x = 0; x < c_.num_logical_experts; ++x) {
                if (node_of_[x] == node) {
                    local[x] = static_cast<int>(ex.size());
                    ex.push_back(x);
                }
            }
            weight_.resize(ex.size());
            for (size_t i = 0; i < ex.size(); ++i) weight_[i] = load[ex[i]];
            for (int p = 0; p < slots_per_node; ++p) positions[p] = local[prev[node * slots_per_node + p]];
            packers_[node].reset(weight_.data(), static_cast<int>(ex.size()), slots_per_node / k, k);
            packers_[node].assign_origin(positions.data());
        }
        path.clear();
        edits.clear();
        path.push_back({0, max_load(), 0});
        std::vector<std::pair<int, int>> step_edits;
        // A repaired layer first drops its duplicate replicas (slots that only waste room).
        int deduplicated = 0;
        for (int node = 0; node < nodes_; ++node) {
            step_edits.clear();
            deduplicated += packers_[node].remove_duplicates(step_edits);
            for (auto [position, x] : step_edits)
                edits.emplace_back(node * slots_per_node + position, experts_[node][x]);
        }
        if (deduplicated > 0) path.push_back({total_moves(), max_load(), edits.size()});
        for (int step = 0; step < 8 * c_.num_physical_experts; ++step) {
            if (path.back().max_load <= stop_max || path.back().moves > stop_moves) break;
            int node = 0;
            for (int n = 1; n < nodes_; ++n) {
                if (packers_[n].max_load() > packers_[node].max_load()) node = n;
            }
            step_edits.clear();
            if (!packers_[node].descend_step(step_edits)) break;
            for (auto [position, x] : step_edits)
                edits.emplace_back(node * slots_per_node + position, experts_[node][x]);
            path.push_back({total_moves(), max_load(), edits.size()});
        }
    }

  private:
    int64_t total_moves() const {
        int64_t moves = 0;
        for (const auto& p : packers_) moves += p.moves();
        return moves;
    }
    double max_load() const {
        double worst = 0;
        for (const auto& p : packers_) worst = std::max(worst, p.max_load());
        return worst;
    }

    const ParallelConfig& c_;
    int nodes_;
    std::vector<ReplicaPacker> packers_;
    std::vector<std::vector<int>> experts_;  // global id of each node's local experts
    std::vector<int> node_of_;
    std::vector<double> weight_;
};

struct Candidate {
    int64_t moves;
    double value;  // gap + move_cost · moves
    int step;      // -1: the fresh plan; t >= 0: point t of the descent path
};

// Per layer, the candidates on the lower convex hull of (moves, value), moves ascending, value
// strictly descending.
std::vector<Candidate> convex_hull(std::vector<Candidate> cands) {
    std::sort(cands.begin(), cands.end(), [](const Candidate& a, const Candidate& b) {
        return a.moves != b.moves ? a.moves < b.moves : a.value < b.value;
    });
    std::vector<Candidate> hull;
    for (const Candidate& c : cands) {
        if (!hull.empty() && c.value >= hull.back().value) continue;  // dominated
        while (hull.size() >= 2) {
            const Candidate& a = hull[hull.size() - 2];
            const Candidate& b = hull.back();
            // Drop b when it lies on or above the segment a -> c.
            const double cross = (b.value - a.value) * static_cast<double>(c.moves - a.moves) -
                                 (c.value - a.value) * static_cast<double>(b.moves - a.moves);
            if (cross < 0) break;
            hull.pop_back();
        }
        hull.push_back(c);
    }
    return hull;
}

}  // namespace

MigrationAwarePlan plan_migration_aware(const LoadMatrix& load, const Placement& plan,
                                        const IndexMatrix& previous, const ParallelConfig& config,
                                        const MigrationOptions& options) {
    EPLB_CHECK(load.rows() == plan.num_layers() && load.cols() == config.num_logical_experts,
               "load is " << load.rows() << "x" << load.cols() << " but the plan has " << plan.num_layers()
                          << " layers of " << config.num_logical_experts << " experts");
    EPLB_CHECK(options.max_moves >= -1, "max_moves (" << options.max_moves << ") must be >= 0");
    EPLB_CHECK(options.move_cost >= 0, "move_cost (" << options.move_cost << ") must be >= 0");
    MigrationAwarePlan out;
    out.placement = relabel_to_previous(plan, previous, config);
    const int num_layers = plan.num_layers();
    out.source.assign(num_layers, LayerSource::kPlan);
    if (!options.trade()) return out;

    const MigrationStats fresh = count_migration(previous, out.placement.phy2log, config, 0);
    Descent descent(config);
    std::vector<int> cnt;
    std::vector<std::vector<Candidate>> hulls(num_layers);
    std::vector<std::vector<PathPoint>> paths(num_layers);
    std::vector<std::vector<std::pair<int, int>>> edits(num_layers);
    for (int l = 0; l < num_layers; ++l) {
        const float* row = load.row(l).data();
        const double lb =
            lower_bound(row, config.num_logical_experts, config.num_physical_experts, config.num_gpus);
        auto value = [&](double max_load, int64_t moves) {
            return (lb > 0 ? max_load / lb - 1.0 : 0.0) + options.move_cost * static_cast<double>(moves);
        };
        const double fresh_max = layer_max_load(row, out.placement.phy2log.row(l).data(), config, cnt);
        const int64_t fresh_moves = fresh.moved_per_layer[l];
        std::vector<Candidate> cands = {{fresh_moves, value(fresh_max, fresh_moves), -1}};
        if (descent.usable(previous.row(l).data())) {
            descent.run(row, previous.row(l).data(), fresh_max, fresh_moves, paths[l], edits[l]);
            for (size_t t = 0; t < paths[l].size(); ++t) {
                cands.push_back(
                    {paths[l][t].moves, value(paths[l][t].max_load, paths[l][t].moves), static_cast<int>(t)});
            }
        }
        hulls[l] = convex_hull(std::move(cands));
    }

    // Start every layer at its cheapest hull point, then take the steepest hull segments while
    // they fit the budget (the Lagrangian greedy of the multiple-choice knapsack).
    std::vector<size_t> at(num_layers, 0);
    int64_t total = 0;
    for (int l = 0; l < num_layers; ++l) total += hulls[l][0].moves;
    const bool bounded = options.max_moves >= 0;
    out.budget_met = !bounded || total <= options.max_moves;
    if (out.budget_met) {
        using Entry = std::pair<double, int>;  // (slope, layer): most negative slope first, then lowest layer
        std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> queue;
        auto push_next = [&](int l) {
            if (at[l] + 1 >= hulls[l].size()) return;
            const Candidate &a = hulls[l][at[l]], &b = hulls[l][at[l] + 1];
            queue.push(
                {(b.value - a.value) / static_cast<double>(std::max<int64_t>(1, b.moves - a.moves)), l});
        };
        for (int l = 0; l < num_layers; ++l) push_next(l);
        while (!queue.empty()) {
            const int l = queue.top().second;
            queue.pop();
            const int64_t extra = hulls[l][at[l] + 1].moves - hulls[l][at[l]].moves;
            if (bounded && total + extra > options.max_moves) continue;  // this layer stays where it is
            total += extra;
            ++at[l];
            push_next(l);
        }
    }

    // Materialise the choices: descent points are replayed from the previous placement.
    for (int l = 0; l < num_layers; ++l) {
        const Candidate& chosen = hulls[l][at[l]];
        if (chosen.step < 0) continue;
        out.source[l] = chosen.step == 0 ? LayerSource::kPrevious : LayerSource::kRepaired;
        auto row = out.placement.phy2log.row(l);
        row = previous.row(l);
        const size_t end = paths[l][chosen.step].edits_end;
        for (size_t i = 0; i < end; ++i) row(edits[l][i].first) = edits[l][i].second;
        number_replicas(row.data(), config.num_physical_experts, config.num_logical_experts,
                        out.placement.phyrank.row(l).data(), out.placement.logcnt.row(l).data());
    }
    return out;
}

}  // namespace eplb
