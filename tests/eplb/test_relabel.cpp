// Relabelling against a previous placement and migration-aware planning: the assignment solver
// against brute force, load multisets kept, moves never up, budgets and prices respected.
#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "eplb/balanced.h"
#include "eplb/error.h"
#include "eplb/metrics.h"
#include "eplb/migration.h"
#include "eplb/migration_aware.h"
#include "eplb/policy.h"
#include "eplb/relabel.h"
#include "tests/test_util.h"

using namespace eplb;

namespace {

// Sorted GPU loads of each layer: what relabelling must keep.
std::vector<std::vector<double>> sorted_gpu_loads(const Metrics& m) {
    std::vector<std::vector<double>> out;
    for (Eigen::Index l = 0; l < m.gpu_loads.rows(); ++l) {
        std::vector<double> row(m.gpu_loads.row(l).data(), m.gpu_loads.row(l).data() + m.gpu_loads.cols());
        std::sort(row.begin(), row.end());
        out.push_back(row);
    }
    return out;
}

// Each GPU's sorted experts, the GPUs of a node sorted, per node: a node's content as a set.
std::vector<std::vector<std::vector<int>>> node_contents(const IndexMatrix& phy2log, int l,
                                                         const ParallelConfig& c) {
    const int k = c.slots_per_gpu(), gpn = c.gpus_per_node();
    std::vector<std::vector<std::vector<int>>> nodes(c.num_nodes);
    for (int q = 0; q < c.num_gpus; ++q) {
        std::vector<int> gpu(phy2log.row(l).data() + q * k, phy2log.row(l).data() + (q + 1) * k);
        std::sort(gpu.begin(), gpu.end());
        nodes[q / gpn].push_back(gpu);
    }
    for (auto& n : nodes) std::sort(n.begin(), n.end());
    std::sort(nodes.begin(), nodes.end());
    return nodes;
}

}  // namespace

TEST_CASE("max_weight_assignment matches brute force") {
    Rng rng(17);
    for (int n = 1; n <= 6; ++n) {
        for (int trial = 0; trial < 30; ++trial) {
            std::vector<int64_t> w(n * n);
            for (auto& x : w) x = static_cast<int64_t>(rng.next() % 20);  // many ties
            const std::vector<int> col = max_weight_assignment(w, n);
            std::vector<int> seen(n, 0);
            int64_t got = 0;
            for (int i = 0; i < n; ++i) {
                REQUIRE(col[i] >= 0);
                REQUIRE(col[i] < n);
                ++seen[col[i]];
                got += w[i * n + col[i]];
            }
            CHECK(std::count(seen.begin(), seen.end(), 1) == n);
            std::vector<int> perm(n);
            std::iota(perm.begin(), perm.end(), 0);
            int64_t best = 0;
            do {
                int64_t total = 0;
                for (int i = 0; i < n; ++i) total += w[i * n + perm[i]];
                best = std::max(best, total);
            } while (std::next_permutation(perm.begin(), perm.end()));
            CHECK(got == best);
        }
    }
}

TEST_CASE("relabelling restores a shuffled copy of the previous placement exactly") {
    // The new plan is the previous one with its GPUs permuted and slots shuffled inside each GPU:
    // relabelling must find the way back (every expert stays, no move).
    Rng rng(23);
    ParallelConfig c{64, 80, 1, 2, 8};  // global: any GPU may go anywhere
    const LoadMatrix load = test::random_loads(rng, 4, 64);
    const Placement previous = plan_balanced(load, c);
    Placement shuffled = previous;
    const int k = c.slots_per_gpu();
    for (int l = 0; l < previous.num_layers(); ++l) {
        std::vector<int> gpus(c.num_gpus);
        std::iota(gpus.begin(), gpus.end(), 0);
        for (int i = c.num_gpus - 1; i > 0; --i) std::swap(gpus[i], gpus[rng.next() % (i + 1)]);
        for (int q = 0; q < c.num_gpus; ++q) {
            std::vector<int> slots(k);
            std::iota(slots.begin(), slots.end(), 0);
            std::reverse(slots.begin(), slots.end());
            for (int t = 0; t < k; ++t) {
                shuffled.phy2log(l, gpus[q] * k + t) = previous.phy2log(l, q * k + slots[t]);
                shuffled.phyrank(l, gpus[q] * k + t) = previous.phyrank(l, q * k + slots[t]);
            }
        }
    }
    REQUIRE(count_migration(previous.phy2log, shuffled.phy2log, c, 1).experts_moved > 0);
    const Placement back = relabel_to_previous(shuffled, previous.phy2log, c);
    CHECK(back.phy2log == previous.phy2log);
    CHECK(back.phyrank == previous.phyrank);
    CHECK(count_migration(previous.phy2log, back.phy2log, c, 1).experts_moved == 0);
}

TEST_CASE("relabelling keeps every GPU's loads and never moves more (global and hierarchical)") {
    Rng rng(31);
    for (const ParallelConfig& c : {ParallelConfig{256, 288, 1, 1, 32}, ParallelConfig{256, 288, 8, 4, 32},
                                    ParallelConfig{256, 288, 8, 9, 72}, ParallelConfig{24, 32, 4, 2, 8}}) {
        for (int trial = 0; trial < 3; ++trial) {
            const LoadMatrix old_load = test::random_loads(rng, 4, c.num_logical_experts);
            const LoadMatrix new_load = test::random_loads(rng, 4, c.num_logical_experts);
            const IndexMatrix previous = plan_deepseek(old_load, c).phy2log;
            for (const Placement& plan : {plan_deepseek(new_load, c), plan_balanced(new_load, c)}) {
                const Placement rel = relabel_to_previous(plan, previous, c);
                validate_placement(rel, c);
                CHECK(rel.logcnt == plan.logcnt);
                const Metrics a = evaluate(plan.phy2log, new_load, c), b = evaluate(rel.phy2log, new_load, c);
                // Same GPU contents, so the same loads (up to the order of summation within a GPU).
                for (int l = 0; l < plan.num_layers(); ++l) {
                    ParallelConfig one_node = c;
                    one_node.num_nodes = 1;
                    CHECK(node_contents(rel.phy2log, l, one_node) ==
                          node_contents(plan.phy2log, l, one_node));
                }
                const auto la = sorted_gpu_loads(a), lb = sorted_gpu_loads(b);
                for (size_t l = 0; l < la.size(); ++l) {
                    for (size_t q = 0; q < la[l].size(); ++q)
                        CHECK(lb[l][q] == doctest::Approx(la[l][q]).epsilon(1e-12));
                }
                CHECK(b.balancedness == doctest::Approx(a.balancedness).epsilon(1e-12));
                CHECK(a.duplicate_pairs == b.duplicate_pairs);
                CHECK(count_migration(previous, rel.phy2log, c, 1).experts_moved <=
                      count_migration(previous, plan.phy2log, c, 1).experts_moved);
                if (c.hierarchical()) {
                    // Whole nodes move: every node's content (its GPUs' replicas) is a node of the plan.
                    for (int l = 0; l < plan.num_layers(); ++l) {
                        CHECK(node_contents(rel.phy2log, l, c) == node_contents(plan.phy2log, l, c));
                    }
                }
            }
        }
    }
}

TEST_CASE("relabelling: an expert that stays on its GPU keeps its slot") {
    // 1 layer, 2 GPUs x 3 slots. previous: GPU0 {0,1,2}, GPU1 {3,4,5}. plan: GPU0 {5,3,1}, GPU1
    // {2,0,4}: GPU1 of the plan keeps 0 and 2 on old GPU0 (0 at slot 0, 2 at slot 2); 4 fills slot 1.
    ParallelConfig c{6, 6, 1, 1, 2};
    IndexMatrix previous(1, 6), plan_map(1, 6);
    previous << 0, 1, 2, 3, 4, 5;
    plan_map << 5, 3, 1, 2, 0, 4;
    const Placement rel = relabel_to_previous(placement_from_phy2log(plan_map, 6), previous, c);
    IndexMatrix expected(1, 6);
    expected << 0, 4, 2, 3, 1, 5;
    CHECK(rel.phy2log == expected);
    CHECK(count_migration(previous, rel.phy2log, c, 1).experts_moved == 2);
}

TEST_CASE("migration-aware: no trade is relabelling only") {
    Rng rng(41);
    ParallelConfig c{64, 72, 8, 4, 8};
    const LoadMatrix a = test::random_loads(rng, 5, 64), b = test::random_loads(rng, 5, 64);
    const IndexMatrix previous = plan_balanced(a, c).phy2log;
    const Placement plan = plan_balanced(b, c);
    const MigrationAwarePlan out = plan_migration_aware(b, plan, previous, c, MigrationOptions{});
    CHECK(out.placement.phy2log == relabel_to_previous(plan, previous, c).phy2log);
    CHECK(out.budget_met);
    for (LayerSource s : out.source) CHECK(s == LayerSource::kPlan);
}

TEST_CASE("migration-aware: max_moves is respected and buys balance monotonically") {
    Rng rng(43);
    for (const ParallelConfig& c : {ParallelConfig{256, 288, 1, 1, 32}, ParallelConfig{256, 288, 8, 4, 32},
                                    ParallelConfig{64, 80, 3, 2, 16}}) {
        const LoadMatrix a = test::random_loads(rng, 6, c.num_logical_experts);
        const LoadMatrix b = test::random_loads(rng, 6, c.num_logical_experts);
        const IndexMatrix previous = plan_balanced(a, c).phy2log;
        const Placement plan = plan_balanced(b, c);
        const int64_t full =
            count_migration(previous, relabel_to_previous(plan, previous, c).phy2log, c, 1).experts_moved;
        double last_gap = 1e30;
        for (int64_t budget : {int64_t{0}, full / 8, full / 4, full / 2, full}) {
            MigrationOptions o;
            o.max_moves = budget;
            const MigrationAwarePlan out = plan_migration_aware(b, plan, previous, c, o);
            CAPTURE(c.num_gpus);
            CAPTURE(budget);
            validate_placement(out.placement, c);
            CHECK(out.budget_met);
            const int64_t moved = count_migration(previous, out.placement.phy2log, c, 1).experts_moved;
            CHECK(moved <= budget);
            const Metrics m = evaluate(out.placement.phy2log, b, c);
            CHECK(m.gap >= 0);
            // The objective is the sum of per-layer gaps: a larger budget never makes it worse.
            const double sum_gap = m.mean_gap * m.layers.size();
            CHECK(sum_gap <= last_gap + 1e-12);
            last_gap = sum_gap;
            if (budget == 0) {
                CHECK(out.placement.phy2log == previous);
                for (LayerSource s : out.source) CHECK(s == LayerSource::kPrevious);
            }
            if (c.hierarchical()) {
                // Repaired layers stay hierarchical: each group's replicas on one node.
                const int group_size = c.num_logical_experts / c.num_groups;
                const int slots_per_node = c.num_physical_experts / c.num_nodes;
                for (int l = 0; l < out.placement.num_layers(); ++l) {
                    std::vector<int> node_of_group(c.num_groups, -1);
                    for (int s = 0; s < c.num_physical_experts; ++s) {
                        const int g = out.placement.phy2log(l, s) / group_size;
                        if (node_of_group[g] < 0) node_of_group[g] = s / slots_per_node;
                        CHECK(node_of_group[g] == s / slots_per_node);
                    }
                }
            }
        }
        // With the full budget, every layer is at least as balanced as the relabelled plan.
        MigrationOptions o;
        o.max_moves = full;
        const Metrics fresh = evaluate(plan.phy2log, b, c);
        const Metrics out = evaluate(plan_migration_aware(b, plan, previous, c, o).placement.phy2log, b, c);
        for (size_t l = 0; l < fresh.layers.size(); ++l) {
            CHECK(out.layers[l].max_gpu_load <= fresh.layers[l].max_gpu_load * (1 + 1e-12));
        }
    }
}

TEST_CASE("migration-aware: a move price trades per layer") {
    Rng rng(47);
    ParallelConfig c{64, 72, 1, 1, 8};
    const LoadMatrix a = test::random_loads(rng, 4, 64), b = test::random_loads(rng, 4, 64);
    const IndexMatrix previous = plan_balanced(a, c).phy2log;
    const Placement plan = plan_balanced(b, c);
    MigrationOptions expensive;
    expensive.move_cost = 1e9;  // no balance gain is worth a move
    const MigrationAwarePlan kept = plan_migration_aware(b, plan, previous, c, expensive);
    CHECK(kept.placement.phy2log == previous);
    MigrationOptions cheap;
    cheap.move_cost = 1e-12;  // moves are nearly free: the best balance of each layer
    const MigrationAwarePlan best = plan_migration_aware(b, plan, previous, c, cheap);
    const Metrics fresh = evaluate(plan.phy2log, b, c), m = evaluate(best.placement.phy2log, b, c);
    for (size_t l = 0; l < m.layers.size(); ++l) {
        CHECK(m.layers[l].max_gpu_load <= fresh.layers[l].max_gpu_load * (1 + 1e-12));
    }
    // In between, each layer minimises gap + price x moves: a price of one layer's gap reduction
    // per move is never paid for less.
    MigrationOptions mid;
    mid.move_cost = 1e-4;
    const MigrationAwarePlan mixed = plan_migration_aware(b, plan, previous, c, mid);
    validate_placement(mixed.placement, c);
    const Metrics mm = evaluate(mixed.placement.phy2log, b, c), mp = evaluate(previous, b, c);
    const MigrationStats st = count_migration(previous, mixed.placement.phy2log, c, 1);
    for (size_t l = 0; l < mm.layers.size(); ++l) {
        // Never worse than keeping the layer: gap + price·moves <= the previous layer's gap.
        CHECK(mm.layers[l].gap + mid.move_cost * st.moved_per_layer[l] <= mp.layers[l].gap + 1e-12);
    }
}

TEST_CASE("migration-aware: a previous layer that breaks the hierarchy is not kept") {
    // Hierarchical config, previous placement planned globally (groups spread over nodes): the
    // only choice is the relabelled plan, so a budget of 0 cannot be met.
    Rng rng(53);
    ParallelConfig c{64, 80, 4, 2, 8};
    const LoadMatrix a = test::random_loads(rng, 2, 64), b = test::random_loads(rng, 2, 64);
    ParallelConfig global = c;
    global.num_groups = 1;
    IndexMatrix previous = plan_balanced(a, global).phy2log;
    std::swap(previous(0, 0), previous(0, 79));  // make sure groups straddle nodes
    std::swap(previous(1, 0), previous(1, 79));
    MigrationOptions o;
    o.max_moves = 0;
    const MigrationAwarePlan out = plan_migration_aware(b, plan_balanced(b, c), previous, c, o);
    CHECK_FALSE(out.budget_met);
    for (LayerSource s : out.source) CHECK(s == LayerSource::kPlan);
}

TEST_CASE("bad previous placements are invalid input") {
    ParallelConfig c{4, 4, 1, 1, 2};
    const Placement plan = plan_balanced(LoadMatrix::Ones(1, 4), c);
    CHECK_THROWS_WITH_AS(relabel_to_previous(plan, IndexMatrix::Zero(2, 4), c),
                         "previous placement is 2x4 but the plan is 1x4 (layers x slots)", Error);
    IndexMatrix bad(1, 4);
    bad << 0, 1, 2, 7;
    CHECK_THROWS_WITH_AS(relabel_to_previous(plan, bad, c), "previous phy2log[0][3] is 7, outside [0, 4)",
                         Error);
    MigrationOptions o;
    o.move_cost = -1;
    CHECK_THROWS_AS(plan_migration_aware(LoadMatrix::Ones(1, 4), plan, plan.phy2log, c, o), Error);
}
