// Text rendering of reports (see report.h).
#include "io/report.h"

#include <algorithm>
#include <cstdarg>

#include "io/terminal.h"

namespace eplb::io {

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
    return out;
}

std::string format(const char* fmt, ...) {
    va_list args;
    va_start(args, fmt);
    va_list again;
    va_copy(again, args);
    // Most lines fit the stack buffer; a longer one (a long path in a report line) is formatted
    // again at its full length instead of being cut.
    char buf[512];
    const int n = std::vsnprintf(buf, sizeof buf, fmt, args);
    va_end(args);
    std::string out;
    if (n > 0 && static_cast<size_t>(n) < sizeof buf) {
        out.assign(buf, static_cast<size_t>(n));
    } else if (n > 0) {
        out.resize(static_cast<size_t>(n));
        std::vsnprintf(out.data(), out.size() + 1, fmt, again);
    }
    va_end(again);
    return out;
}

namespace {
// Display width of UTF-8 text (code points; the table holds no wide characters).
size_t width(const std::string& s) {
    return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}
}  // namespace

std::string TextTable::render() const {
    std::vector<size_t> w(header_.size(), 0);
    for (size_t c = 0; c < header_.size(); ++c) w[c] = width(header_[c]);
    for (const auto& row : rows_) {
        for (size_t c = 0; c < row.size() && c < w.size(); ++c) w[c] = std::max(w[c], width(row[c]));
    }
    std::string out;
    auto line = [&](const std::vector<std::string>& cells) {
        std::string s;
        for (size_t c = 0; c < w.size(); ++c) {
            const std::string cell = c < cells.size() ? cells[c] : "";
            const std::string pad(w[c] - width(cell), ' ');
            if (c > 0) s += "  ";
            s += c == 0 ? cell + pad : pad + cell;
        }
        while (!s.empty() && s.back() == ' ') s.pop_back();
        out += s + "\n";
    };
    line(header_);
    for (const auto& row : rows_) line(row);
    return out;
}

std::string load_strip(const double* loads, int n) {
    static const char* const kBlocks[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
    static const char* const kAscii[] = {"_", ".", ":", "-", "=", "+", "*", "#"};
    const char* const* levels = utf8_output() ? kBlocks : kAscii;
    if (n == 0) return "";
    const double lo = *std::min_element(loads, loads + n), hi = *std::max_element(loads, loads + n);
    std::string s;
    for (int i = 0; i < n; ++i) {
        const int level = hi > lo ? std::clamp(static_cast<int>((loads[i] - lo) / (hi - lo) * 8.0), 0, 7) : 0;
        s += levels[level];
    }
    return s;
}

std::string render_placement_report(const std::string& title, const PlacementDoc& doc, const Metrics& m,
                                    const MigrationStats* migration) {
    const ParallelConfig& c = doc.config;
    std::string out = title + "\n";
    out += format(
        "config    %d experts -> %d slots (%d redundant), %d group%s, %d node%s x %d GPUs, %d slots per "
        "GPU\n",
        c.num_logical_experts, c.num_physical_experts, c.num_redundant_experts(), c.num_groups,
        c.num_groups == 1 ? "" : "s", c.num_nodes, c.num_nodes == 1 ? "" : "s", c.gpus_per_node(),
        c.slots_per_gpu());
    if (c.hierarchical()) {
        out += format("policy    %s, hierarchical (%d group%s packed onto %d node%s, then GPUs)\n",
                      doc.policy.c_str(), c.num_groups, c.num_groups == 1 ? "" : "s", c.num_nodes,
                      c.num_nodes == 1 ? "" : "s");
    } else {
        out += format("policy    %s, global (num_groups %d %% num_nodes %d != 0: one group, one node)\n",
                      doc.policy.c_str(), c.num_groups, c.num_nodes);
    }
    const int first = doc.layer_ids.empty() ? 0 : doc.layer_ids.front();
    const int last = doc.layer_ids.empty() ? 0 : doc.layer_ids.back();
    out += format("layers    %zu (%s %d..%d)%s%s\n", m.layers.size(),
                  doc.has_layer_ids ? "model layers" : "rows without layer ids", first, last,
                  doc.backend.empty() ? "" : ", backend ", doc.backend.c_str());
    out += "\n";
    out += format("balancedness  %.4f  (sum of mean GPU load / sum of max GPU load over layers)\n",
                  m.balancedness);
    out += format("              %.4f  (mean of per-layer balancedness)\n", m.mean_layer_balancedness);
    out += format("imbalance     %.2f%%  (max / mean - 1)\n", 100.0 * m.imbalance);
    out += format("gap to bound  %.3f%%  (mean %.3f%%, worst %.3f%%)\n", 100.0 * m.gap, 100.0 * m.mean_gap,
                  100.0 * m.max_gap);
    out += format("duplicates    %d (layer, GPU) pairs hold two replicas of one expert\n", m.duplicate_pairs);
    if (migration) {
        out += format("moved         %lld experts (%lld intra-node, %lld inter-node), %.2f GB\n",
                      static_cast<long long>(migration->experts_moved),
                      static_cast<long long>(migration->intra_node),
                      static_cast<long long>(migration->inter_node), migration->bytes_moved / 1e9);
    }
    if (!doc.node_bounds.empty() && doc.node_bounds.size() == m.layers.size()) {
        // The gap splits into the hierarchy's share (node bound over LB) and the packing's (max GPU
        // load over the node bound).
        double over = 0, under = 0;
        for (size_t l = 0; l < m.layers.size(); ++l) {
            const double nb = doc.node_bounds[l], lb = m.layers[l].lower_bound;
            over += lb > 0 ? nb / lb - 1 : 0;
            under += nb > 0 ? m.layers[l].max_gpu_load / nb - 1 : 0;
        }
        const double n = static_cast<double>(m.layers.size());
        out += format(
            "hierarchy     groups on nodes cost %.3f%% (node bound / bound - 1), packing %.3f%% (max GPU / "
            "node bound - 1), means over layers\n",
            100.0 * over / n, 100.0 * under / n);
    }
    if (!doc.previous_source.empty()) {
        int plan = 0, repaired = 0, kept = 0;
        for (const std::string& s : doc.layer_sources) {
            plan += s == "plan";
            repaired += s == "repaired";
            kept += s == "previous";
        }
        out += format(
            "previous      %s: %d layer%s from the plan (relabelled), %d repaired, %d kept as they were\n",
            doc.previous_source.c_str(), plan, plan == 1 ? "" : "s", repaired, kept);
    }
    out += "\n";
    TextTable t({"layer", "load", "mean GPU", "max GPU", "bal", "bound", "gap %", "dup"});
    for (size_t l = 0; l < m.layers.size(); ++l) {
        const LayerMetrics& lm = m.layers[l];
        t.add_row({std::to_string(doc.layer_ids.empty() ? static_cast<int>(l) : doc.layer_ids[l]),
                   format("%.0f", lm.total_load), format("%.1f", lm.mean_gpu_load),
                   format("%.1f", lm.max_gpu_load), format("%.4f", lm.balancedness),
                   format("%.1f", lm.lower_bound), format("%.3f", 100.0 * lm.gap),
                   std::to_string(lm.duplicate_gpus)});
    }
    out += t.render();
    if (!m.layers.empty()) {
        const int w = m.worst_layer;
        const LayerMetrics& lm = m.layers[w];
        const double* loads = m.gpu_loads.row(w).data();
        out += format(
            "\nworst layer %d: one character a GPU, nodes apart (%s = min %.1f, %s = max %.1f on GPU %d; "
            "mean %.1f)\n",
            doc.layer_ids.empty() ? w : doc.layer_ids[w], glyph("▁", "_"),
            *std::min_element(loads, loads + c.num_gpus), glyph("█", "#"), lm.max_gpu_load, lm.max_gpu,
            lm.mean_gpu_load);
        const int gpn = c.gpus_per_node();
        std::string strip;
        const std::string all = load_strip(m.gpu_loads.row(w).data(), c.num_gpus);
        // Split the strip per node so that a node's GPUs read as one block.
        size_t pos = 0;
        for (int q = 0; q < c.num_gpus; ++q) {
            if (q > 0 && q % gpn == 0) strip += ' ';
            const size_t len = all.size() / c.num_gpus;  // bytes of one character: 3 in UTF-8, 1 in ASCII
            strip += all.substr(pos, len);
            pos += len;
        }
        out += "  " + strip + "\n";
    }
    return out;
}

}  // namespace eplb::io
