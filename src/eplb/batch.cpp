// Stacking and splitting of window batches around one Planner call.
#include "eplb/batch.h"

#include "eplb/error.h"

namespace eplb {

namespace {

template <class Matrix, class Part>
Matrix stack(const std::vector<Part>& parts) {
    Eigen::Index rows = 0, cols = parts.empty() ? 0 : parts[0].cols();
    for (size_t b = 0; b < parts.size(); ++b) {
        EPLB_CHECK(parts[b].cols() == cols,
                   "window " << b << " has " << parts[b].cols() << " columns, window 0 has " << cols);
        rows += parts[b].rows();
    }
    Matrix out(rows, cols);
    Eigen::Index at = 0;
    for (const Part& m : parts) {
        out.middleRows(at, m.rows()) = m;
        at += m.rows();
    }
    return out;
}

}  // namespace

LoadMatrix stack_rows(const std::vector<LoadMatrix>& parts) { return stack<LoadMatrix>(parts); }
IndexMatrix stack_rows(const std::vector<IndexMatrix>& parts) { return stack<IndexMatrix>(parts); }
LoadMatrix stack_rows(const std::vector<LoadRows>& parts) { return stack<LoadMatrix>(parts); }

std::vector<Placement> plan_windows(Planner& planner, const std::vector<LoadMatrix>& windows,
                                    const ParallelConfig& config, Policy policy) {
    if (windows.empty()) return {};
    const Placement all = planner.plan(stack_rows(windows), config, policy);
    std::vector<Placement> out;
    out.reserve(windows.size());
    int first = 0;
    for (const LoadMatrix& w : windows) {
        const int rows = static_cast<int>(w.rows());
        out.push_back(slice_layers(all, first, first + rows));
        first += rows;
    }
    return out;
}

std::vector<Metrics> evaluate_windows(Planner& planner, const std::vector<IndexMatrix>& phy2log,
                                      const std::vector<LoadMatrix>& loads, const ParallelConfig& config) {
    EPLB_CHECK(phy2log.size() == loads.size(),
               phy2log.size() << " placements but " << loads.size() << " load windows to score them on");
    for (size_t b = 0; b < loads.size(); ++b) {
        EPLB_CHECK(phy2log[b].rows() == loads[b].rows(),
                   "window " << b << ": placement has " << phy2log[b].rows() << " layers but the load has "
                             << loads[b].rows());
    }
    if (loads.empty()) return {};
    const RowScores scores = planner.score(stack_rows(phy2log), stack_rows(loads), config);
    std::vector<Metrics> out;
    out.reserve(loads.size());
    int first = 0;
    for (const LoadMatrix& w : loads) {
        const int rows = static_cast<int>(w.rows());
        out.push_back(summarize_rows(scores, config, first, rows));
        first += rows;
    }
    return out;
}

}  // namespace eplb
