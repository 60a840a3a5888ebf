// The step shapes of a transfer plan: Birkhoff-von Neumann decomposition of a window's
// GPU-to-GPU transfer counts into permutations, and their cut into steps of bounded length.
#include "eplb/transfer_plan_detail.h"

#include <algorithm>

#include "eplb/error.h"

namespace eplb::transfer_detail {

namespace {

// A perfect matching of the positive entries of an n x n matrix whose rows and columns all have
// the same sum (Birkhoff: one exists), rebuilt incrementally: rows keep their match while its
// entry stays positive; new matches prefer large entries.
class Matcher {
  public:
    explicit Matcher(int n) : n_(n), row_(n, -1), col_(n, -1) {}

    const std::vector<int>& match(const std::vector<std::vector<int64_t>>& m) {
        for (int i = 0; i < n_; ++i) {
            if (row_[i] >= 0 && m[i][row_[i]] <= 0) {
                col_[row_[i]] = -1;
                row_[i] = -1;
            }
        }
        for (int i = 0; i < n_; ++i) {
            if (row_[i] >= 0) continue;
            std::vector<char> seen(n_, 0);
            const bool ok = augment(m, i, seen);
            EPLB_CHECK(ok, "internal: no perfect matching in the transfer matrix");
        }
        return row_;
    }

  private:
    bool augment(const std::vector<std::vector<int64_t>>& m, int i, std::vector<char>& seen) {
        std::vector<int> cols;
        for (int j = 0; j < n_; ++j) {
            if (m[i][j] > 0 && !seen[j]) cols.push_back(j);
        }
        std::stable_sort(cols.begin(), cols.end(), [&](int a, int b) { return m[i][a] > m[i][b]; });
        for (int j : cols) {
            if (seen[j]) continue;
            seen[j] = 1;
            if (col_[j] < 0 || augment(m, col_[j], seen)) {
                row_[i] = j;
                col_[j] = i;
                return true;
            }
        }
        return false;
    }

    int n_;
    std::vector<int> row_, col_;
};

}  // namespace

std::vector<StepShape> decompose(const std::vector<std::vector<int64_t>>& c) {
    const int n = static_cast<int>(c.size());
    std::vector<int64_t> row(n, 0), col(n, 0);
    for (int a = 0; a < n; ++a) {
        for (int b = 0; b < n; ++b) {
            row[a] += c[a][b];
            col[b] += c[a][b];
        }
    }
    const int64_t t =
        std::max(*std::max_element(row.begin(), row.end()), *std::max_element(col.begin(), col.end()));
    std::vector<StepShape> steps;
    if (t == 0) return steps;
    std::vector<std::vector<int64_t>> m = c, real = c;
    std::vector<int64_t> rdef(n), cdef(n);
    for (int i = 0; i < n; ++i) {
        rdef[i] = t - row[i];
        cdef[i] = t - col[i];
    }
    // Padding on the diagonal first (a GPU idle in both directions), then anywhere.
    for (int i = 0; i < n; ++i) {
        const int64_t a = std::min(rdef[i], cdef[i]);
        m[i][i] += a;
        rdef[i] -= a;
        cdef[i] -= a;
    }
    for (int i = 0; i < n; ++i) {
        for (int j = 0; j < n && rdef[i] > 0; ++j) {
            const int64_t a = std::min(rdef[i], cdef[j]);
            m[i][j] += a;
            rdef[i] -= a;
            cdef[j] -= a;
        }
    }
    Matcher matcher(n);
    int64_t left = t;
    while (left > 0) {
        const std::vector<int>& sigma = matcher.match(m);
        int64_t d = left;
        for (int i = 0; i < n; ++i) d = std::min(d, m[i][sigma[i]]);
        StepShape s{sigma, d, std::vector<int64_t>(n, 0)};
        for (int i = 0; i < n; ++i) {
            const int j = sigma[i];
            m[i][j] -= d;
            if (i != j) {
                s.count[i] = std::min(d, real[i][j]);
                real[i][j] -= s.count[i];
            }
        }
        left -= d;
        steps.push_back(std::move(s));
    }
    for (int a = 0; a < n; ++a) {
        for (int b = 0; b < n; ++b)
            EPLB_CHECK(real[a][b] == 0, "internal: transfers left after decomposition");
    }
    return steps;
}

// Each permutation cut into steps of at most `cap` experts per pair (0: no cut), a pair's real
// transfers first; a step's length is its busiest pair's count, and steps with none are dropped
// (the idle padding at a permutation's end).
std::vector<StepShape> split_steps(const std::vector<StepShape>& whole, int64_t cap) {
    if (cap <= 0) return whole;
    std::vector<StepShape> out;
    for (const StepShape& w : whole) {
        for (int64_t done = 0; done < w.length; done += cap) {
            StepShape s{w.peer, 0, std::vector<int64_t>(w.count.size(), 0)};
            for (size_t a = 0; a < w.count.size(); ++a) {
                s.count[a] = std::clamp<int64_t>(w.count[a] - done, 0, cap);
                s.length = std::max(s.length, s.count[a]);
            }
            if (s.length > 0) out.push_back(std::move(s));
        }
    }
    return out;
}

}  // namespace eplb::transfer_detail
