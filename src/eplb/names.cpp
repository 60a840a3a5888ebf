// Edit distance and the "did you mean" suggestion of names.h.
#include "eplb/names.h"

#include <algorithm>
#include <cctype>

namespace eplb {

namespace {

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

}  // namespace

bool equal_ignore_case(std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

int edit_distance(std::string_view a, std::string_view b) {
    // d[i][j] = distance of a[0, i) and b[0, j); a swap of two neighbours costs one edit (optimal
    // string alignment), the commonest typo ("plna").
    const size_t n = a.size(), m = b.size();
    std::vector<std::vector<int>> d(n + 1, std::vector<int>(m + 1));
    for (size_t i = 0; i <= n; ++i) d[i][0] = static_cast<int>(i);
    for (size_t j = 0; j <= m; ++j) d[0][j] = static_cast<int>(j);
    for (size_t i = 1; i <= n; ++i) {
        for (size_t j = 1; j <= m; ++j) {
            const int cost = lower(a[i - 1]) != lower(b[j - 1]);
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) && lower(a[i - 2]) == lower(b[j - 1])) {
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
            }
        }
    }
    return d[n][m];
}

std::string closest_name(std::string_view text, const std::vector<std::string>& candidates) {
    std::string best;
    int best_distance = 0;
    for (const std::string& c : candidates) {
        const int d = edit_distance(text, c);
        const int limit = std::max<int>(1, static_cast<int>(std::max(text.size(), c.size())) / 3);
        if (d <= limit && (best.empty() || d < best_distance)) {
            best = c;
            best_distance = d;
        }
    }
    return best;
}

std::string unknown_name_message(std::string_view text, const std::vector<std::string>& names) {
    std::string list;
    for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
    // Appended piece by piece: GCC 12 warns (-Wrestrict, a false positive) on "'" + std::string&&.
    std::string message = "'";
    message += printable(std::string(text));
    message += "' is not one of ";
    message += list;
    const std::string suggestion = closest_name(text, names);
    if (!suggestion.empty()) message += "; did you mean '" + suggestion + "'?";
    return message;
}

}  // namespace eplb
