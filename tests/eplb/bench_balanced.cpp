// Benchmark and target report of the `balanced` policy on the real DeepSeek-V3 traces (via
// EPLB_SHARED): gap to the lower bound, duplicates and planning time against `deepseek`.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eplb/balanced.h"
#include "eplb/metrics.h"
#include "eplb/migration.h"
#include "eplb/migration_aware.h"
#include "eplb/policy.h"
#include "eplb/relabel.h"
#include "tests/test_util.h"

using namespace eplb;

namespace {

// The SGLang `{"logical_count": [L][E]}` format, MoE layers [3, 61).
LoadMatrix read_logical_count(const std::string& path) {
    std::ifstream in(path);
    const nlohmann::json j = nlohmann::json::parse(in);
    const auto& rows = j.at("logical_count");
    const int first = 3, end = static_cast<int>(rows.size());
    LoadMatrix m(end - first, rows[first].size());
    for (int l = first; l < end; ++l)
        for (size_t e = 0; e < rows[l].size(); ++e) m(l - first, e) = rows[l][e].get<float>();
    return m;
}

template <class F>
double ms_per_call(F&& f) {
    int reps = 1;
    for (;;) {
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < reps; ++i) f();
        const double ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        if (ms > 200 || reps >= 1 << 12) return ms / reps;
        reps *= 4;
    }
}

}  // namespace

int main() {
    const std::string dir = test::shared_traces_dir();
    if (dir.empty()) {
        std::printf("EPLB_SHARED traces not found: skipped\n");
        return 77;
    }
    std::vector<std::string> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir))
        if (entry.path().extension() == ".json") files.push_back(entry.path().string());
    std::sort(files.begin(), files.end());
    struct Setup {
        const char* name;
        ParallelConfig c;
    };
    const std::vector<Setup> setups = {{"EP32 global", {256, 288, 1, 1, 32}},
                                       {"EP72 global (N=9)", {256, 288, 8, 9, 72}},
                                       {"EP32 hier (N=4)", {256, 288, 8, 4, 32}}};
    for (const Setup& s : setups) {
        std::printf("\n%s  %s\n", s.name, describe(s.c).c_str());
        std::printf("%-24s %9s %9s %5s %9s %9s %9s %5s %9s %9s\n", "trace", "ds_mean%", "ds_max%", "dup",
                    "ds_ms", "bal_mean%", "bal_max%", "dup", "bal_ms", "bal_bal");
        double sum_ds = 0, sum_bal = 0, worst_bal = 0;
        for (const std::string& f : files) {
            const LoadMatrix load = read_logical_count(f);
            const Metrics ds = evaluate(plan_deepseek(load, s.c).phy2log, load, s.c);
            const Placement bp = plan_balanced(load, s.c);
            validate_placement(bp, s.c);
            const Metrics bal = evaluate(bp.phy2log, load, s.c);
            const double ds_ms = ms_per_call([&] { plan_deepseek(load, s.c); });
            const double bal_ms = ms_per_call([&] { plan_balanced(load, s.c); });
            std::printf("%-24s %9.4f %9.4f %5d %9.3f %9.4f %9.4f %5d %9.3f %9.6f\n",
                        std::filesystem::path(f).stem().string().c_str(), 100 * ds.mean_gap, 100 * ds.max_gap,
                        ds.duplicate_pairs, ds_ms, 100 * bal.mean_gap, 100 * bal.max_gap, bal.duplicate_pairs,
                        bal_ms, bal.balancedness);
            sum_ds += ds.mean_gap;
            sum_bal += bal.mean_gap;
            worst_bal = std::max(worst_bal, bal.max_gap);
        }
        std::printf("mean gap: deepseek %.4f%%, balanced %.4f%% (worst layer %.4f%%)\n",
                    100 * sum_ds / files.size(), 100 * sum_bal / files.size(), 100 * worst_bal);
    }
    // Migration: plan workload A, then workload B against it.
    for (const Setup& s : {setups[0], setups[1]}) {
        std::printf(
            "\nmigration %s: previous = deepseek plan of A; moves = experts moved (sum over layers)\n",
            s.name);
        std::printf("%-22s %-22s %7s %8s %7s %7s %8s %8s %9s %8s\n", "A", "B", "ds", "ds_bal", "ds_rel",
                    "bal_rel", "bal_bal", "half", "trade_mv", "trade_bal");
        for (size_t i = 0; i < files.size(); ++i) {
            const std::string& fa = files[i];
            const std::string& fb = files[(i + 1) % files.size()];
            const LoadMatrix la = read_logical_count(fa), lb = read_logical_count(fb);
            const IndexMatrix prev = plan_deepseek(la, s.c).phy2log;
            const Placement ds = plan_deepseek(lb, s.c);
            const Placement bal = plan_balanced(lb, s.c);
            const int64_t ds_moves = count_migration(prev, ds.phy2log, s.c, 1).experts_moved;
            const double ds_bal = evaluate(ds.phy2log, lb, s.c).balancedness;
            const int64_t ds_rel =
                count_migration(prev, relabel_to_previous(ds, prev, s.c).phy2log, s.c, 1).experts_moved;
            const Placement bal_rel = relabel_to_previous(bal, prev, s.c);
            const int64_t bal_rel_moves = count_migration(prev, bal_rel.phy2log, s.c, 1).experts_moved;
            MigrationOptions opt;
            opt.max_moves = ds_moves / 2;
            const MigrationAwarePlan trade = plan_migration_aware(lb, bal, prev, s.c, opt);
            validate_placement(trade.placement, s.c);
            const int64_t trade_moves = count_migration(prev, trade.placement.phy2log, s.c, 1).experts_moved;
            const double trade_bal = evaluate(trade.placement.phy2log, lb, s.c).balancedness;
            std::printf("%-22s %-22s %7lld %8.5f %7lld %7lld %8.5f %8lld %9lld %9.5f%s\n",
                        std::filesystem::path(fa).stem().string().c_str(),
                        std::filesystem::path(fb).stem().string().c_str(), static_cast<long long>(ds_moves),
                        ds_bal, static_cast<long long>(ds_rel), static_cast<long long>(bal_rel_moves),
                        evaluate(bal.phy2log, lb, s.c).balancedness, static_cast<long long>(ds_moves / 2),
                        static_cast<long long>(trade_moves), trade_bal,
                        trade_moves <= ds_moves / 2 && trade_bal >= ds_bal ? "" : "  MISSED");
        }
    }
    return 0;
}
