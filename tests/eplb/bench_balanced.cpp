// The targets of the `balanced` policy and of migration-aware planning, measured on the 12 real
// DeepSeek-V3 traces (EPLB_SHARED, MoE layers 3:61): gap to the lower bound, duplicates and CPU
// time per plan against `deepseek`, then experts moved from a plan of workload A to workload B.
// Run: meson test -C build --benchmark --suite bench -v   (exit 77 when the traces are absent)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <numeric>
#include <string>
#include <vector>

#include "eplb/balanced.h"
#include "eplb/metrics.h"
#include "eplb/migration.h"
#include "eplb/migration_aware.h"
#include "eplb/policy.h"
#include "eplb/relabel.h"
#include "eplb/replica_packing.h"
#include "io/trace_io.h"
#include "tests/eplb/real_workloads.h"

using namespace eplb;
using test::shared_traces_dir;
using test::Workload;

namespace {

// CPU milliseconds per call (process time, so that other jobs on the machine count less), over
// enough calls to run ~0.3 s.
template <class F>
double cpu_ms_per_call(F&& f) {
    for (int reps = 1;; reps *= 2) {
        const std::clock_t t0 = std::clock();
        for (int i = 0; i < reps; ++i) f();
        const double ms = 1e3 * static_cast<double>(std::clock() - t0) / CLOCKS_PER_SEC;
        if (ms > 300 || reps >= 1 << 14) return ms / reps;
    }
}

// The best any placement keeping its node expert sets can do on layer l: max over nodes of
// max(node load / (P/N), node T*). For hierarchical plans, the gap to it is the packing's share.
double node_bound(const Placement& p, const LoadMatrix& load, int l, const ParallelConfig& c) {
    const int slots_per_node = c.num_physical_experts / c.num_nodes, gpn = c.gpus_per_node();
    double worst = 0;
    for (int node = 0; node < c.num_nodes; ++node) {
        std::vector<double> w;
        std::vector<char> seen(c.num_logical_experts, 0);
        for (int s = node * slots_per_node; s < (node + 1) * slots_per_node; ++s) {
            const int x = p.phy2log(l, s);
            if (!seen[x]++) w.push_back(load(l, x));
        }
        const double total = std::accumulate(w.begin(), w.end(), 0.0);
        const double t = min_max_replica_load_capped(w.data(), static_cast<int>(w.size()), slots_per_node, 0);
        worst = std::max({worst, total / gpn, t});
    }
    return worst;
}

const char* verdict(bool ok) { return ok ? "MET" : "MISSED"; }

void gap_table(const char* name, const ParallelConfig& c, const std::vector<Workload>& workloads,
               double mean_target, double max_target) {
    const bool nodes = c.hierarchical() && c.num_nodes > 1;  // one node: hierarchical is global
    std::printf("\n== %s: %s, %s ==\n", name, describe(c).c_str(), nodes ? "hierarchical" : "global");
    std::printf("%-22s | %8s %8s %4s %8s | %8s %8s %4s %8s %10s%s\n", "trace", "ds mean%", "ds max%", "dup",
                "ds ms", "bal mean%", "bal max%", "dup", "bal ms", "bal bal.",
                nodes ? "  node-bound gap%" : "");
    double sum_ds = 0, sum_bal = 0, worst_bal = 0, worst_trace_mean = 0;
    int dup = 0;
    for (const Workload& w : workloads) {
        const Placement ds = plan_deepseek(w.load, c), bal = plan_balanced(w.load, c);
        validate_placement(bal, c);
        const Metrics md = evaluate(ds.phy2log, w.load, c), mb = evaluate(bal.phy2log, w.load, c);
        const double ds_ms = cpu_ms_per_call([&] { plan_deepseek(w.load, c); });
        const double bal_ms = cpu_ms_per_call([&] { plan_balanced(w.load, c); });
        std::printf("%-22s | %8.4f %8.4f %4d %8.3f | %8.4f %8.4f %4d %8.3f %10.6f", w.name.c_str(),
                    100 * md.mean_gap, 100 * md.max_gap, md.duplicate_pairs, ds_ms, 100 * mb.mean_gap,
                    100 * mb.max_gap, mb.duplicate_pairs, bal_ms, mb.balancedness);
        if (nodes) {
            double sum = 0;
            for (int l = 0; l < bal.num_layers(); ++l) {
                sum += mb.layers[l].max_gpu_load / node_bound(bal, w.load, l, c) - 1;
            }
            std::printf("  %8.4f", 100 * sum / bal.num_layers());
        }
        std::printf("\n");
        sum_ds += md.mean_gap;
        sum_bal += mb.mean_gap;
        worst_bal = std::max(worst_bal, mb.max_gap);
        worst_trace_mean = std::max(worst_trace_mean, mb.mean_gap);
        dup += mb.duplicate_pairs;
    }
    const double n = static_cast<double>(workloads.size());
    std::printf(
        "mean gap over traces: deepseek %.4f%%, balanced %.4f%% (worst trace %.4f%%, worst layer %.4f%%), "
        "balanced duplicates %d\n",
        100 * sum_ds / n, 100 * sum_bal / n, 100 * worst_trace_mean, 100 * worst_bal, dup);
    if (mean_target > 0) {
        std::printf("target: every trace's mean gap <= %.2f%%: %s", 100 * mean_target,
                    verdict(worst_trace_mean <= mean_target));
        if (max_target > 0)
            std::printf("; no layer above %.2f%%: %s", 100 * max_target, verdict(worst_bal <= max_target));
        std::printf("; zero duplicates: %s\n", verdict(dup == 0));
    }
}

// Workload A planned by `previous_policy`, then workload B: deepseek from scratch, both policies
// relabelled, and balanced under a move budget of half (and an eighth) of deepseek's moves.
void migration_table(const char* name, const ParallelConfig& c, const std::vector<Workload>& workloads,
                     Policy previous_policy) {
    std::printf("\n== migration, %s: previous = %s plan of A; moves = experts moved over 58 layers ==\n",
                name, policy_name(previous_policy));
    std::printf("%-21s %-21s | %6s %8s | %6s %6s %8s | %6s %8s | %6s %8s | %7s\n", "A", "B", "ds", "ds bal.",
                "ds rel", "bal rel", "bal bal.", "<=1/2", "bal.", "<=1/8", "bal.", "ms");
    bool met = true;
    for (size_t i = 0; i < workloads.size(); ++i) {
        const Workload& a = workloads[i];
        const Workload& b = workloads[(i + 1) % workloads.size()];
        const IndexMatrix prev = previous_policy == Policy::kDeepseek ? plan_deepseek(a.load, c).phy2log
                                                                      : plan_balanced(a.load, c).phy2log;
        const Placement ds = plan_deepseek(b.load, c), bal = plan_balanced(b.load, c);
        auto moves = [&](const IndexMatrix& m) { return count_migration(prev, m, c, 1).experts_moved; };
        auto balancedness = [&](const IndexMatrix& m) { return evaluate(m, b.load, c).balancedness; };
        const int64_t ds_moves = moves(ds.phy2log);
        const double ds_bal = balancedness(ds.phy2log);
        const int64_t ds_rel = moves(relabel_to_previous(ds, prev, c).phy2log);
        const int64_t bal_rel = moves(relabel_to_previous(bal, prev, c).phy2log);
        MigrationOptions half, eighth;
        half.max_moves = ds_moves / 2;
        eighth.max_moves = ds_moves / 8;
        const MigrationAwarePlan th = plan_migration_aware(b.load, bal, prev, c, half);
        const MigrationAwarePlan te = plan_migration_aware(b.load, bal, prev, c, eighth);
        validate_placement(th.placement, c);
        validate_placement(te.placement, c);
        const double ms = cpu_ms_per_call([&] { plan_migration_aware(b.load, bal, prev, c, half); });
        const int64_t mh = moves(th.placement.phy2log), me = moves(te.placement.phy2log);
        const double bh = balancedness(th.placement.phy2log), be = balancedness(te.placement.phy2log);
        const bool ok = mh <= ds_moves / 2 && bh >= ds_bal;
        met = met && ok;
        std::printf("%-21s %-21s | %6lld %8.5f | %6lld %6lld %8.5f | %6lld %8.5f | %6lld %8.5f | %7.1f%s\n",
                    a.name.c_str(), b.name.c_str(), static_cast<long long>(ds_moves), ds_bal,
                    static_cast<long long>(ds_rel), static_cast<long long>(bal_rel),
                    balancedness(bal.phy2log), static_cast<long long>(mh), bh, static_cast<long long>(me), be,
                    ms, ok ? "" : "  MISSED");
    }
    std::printf("target: moves <= 1/2 of deepseek's at a balancedness >= deepseek's, every pair: %s\n",
                verdict(met));
}

}  // namespace

int main() {
    const std::string dir = shared_traces_dir();
    if (dir.empty()) {
        std::printf("EPLB_SHARED traces not found: skipped\n");
        return 77;
    }
    const std::vector<Workload> workloads = test::read_real_workloads(dir);
    std::printf("eplb balanced-policy targets on %zu real DeepSeek-V3 traces, layers 3:61 (58 MoE layers)\n",
                workloads.size());
    std::printf("gap = max GPU load / max(W/P, T*) - 1; ms = CPU time per 58-layer plan, one thread\n");
    gap_table("EP32 global (one node)", ParallelConfig{256, 288, 1, 1, 32}, workloads, 0.0005, 0.002);
    gap_table("EP72 global (9 nodes; 8 groups % 9 nodes != 0)", ParallelConfig{256, 288, 8, 9, 72}, workloads,
              0.003, 0);
    gap_table("EP32 hierarchical (DeepSeek-V3 EP32: 8 groups on 4 nodes)", ParallelConfig{256, 288, 8, 4, 32},
              workloads, 0, 0);
    for (Policy previous : {Policy::kDeepseek, Policy::kBalanced}) {
        migration_table("EP32 global", ParallelConfig{256, 288, 1, 1, 32}, workloads, previous);
        migration_table("EP72 global", ParallelConfig{256, 288, 8, 9, 72}, workloads, previous);
    }
    return 0;
}
