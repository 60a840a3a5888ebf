// LoadTrace helpers: step sums, layer selection, ranges and validation.
#include "eplb/trace.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "eplb/error.h"

namespace eplb {

LoadMatrix LoadTrace::step(int t) const {
    return Eigen::Map<const LoadMatrix>(step_data(t), num_layers, num_experts);
}

LoadMatrix LoadTrace::sum_steps(int first, int end) const {
    EPLB_CHECK(first >= 0 && first < end && end <= num_steps,
               "--steps " << first << ":" << end << " is outside the trace's " << num_steps << " steps [0, "
                          << num_steps << ")");
    DoubleMatrix sum = DoubleMatrix::Zero(num_layers, num_experts);
    for (int t = first; t < end; ++t) {
        sum += Eigen::Map<const LoadMatrix>(step_data(t), num_layers, num_experts).cast<double>();
    }
    // The planners accumulate a layer's loads in float32: a layer whose total passes float32's
    // range would plan on infinities (and a single sum beyond it cannot even be converted).
    for (int l = 0; l < num_layers; ++l) {
        const double total = sum.row(l).sum();
        const int id = l < static_cast<int>(layer_ids.size()) ? layer_ids[l] : l;
        EPLB_CHECK(total <= kMaxLoad, "layer " << id << " has a total load of " << total << " over steps "
                                               << first << ":" << end << ", more than float32 holds ("
                                               << kMaxLoad << "): scale the loads down");
    }
    return sum.cast<float>();
}

Range parse_range(const std::string& text, const char* what) {
    const auto colon = text.find(':');
    auto parse_int = [&](const std::string& s, int fallback) {
        if (s.empty()) return fallback;
        char* end = nullptr;
        errno = 0;
        const long v = std::strtol(s.c_str(), &end, 10);
        EPLB_CHECK(end && *end == '\0' && errno == 0 && v >= 0 && v <= 1 << 30,
                   what << " '" << printable(text) << "' is not a range A:B of non-negative integers");
        return static_cast<int>(v);
    };
    EPLB_CHECK(colon != std::string::npos,
               what << " '" << printable(text) << "' is not a range A:B (e.g. 3:61)");
    Range r{parse_int(text.substr(0, colon), 0), parse_int(text.substr(colon + 1), -1)};
    EPLB_CHECK(r.end == -1 || r.first < r.end,
               what << " '" << printable(text) << "' is empty: A must be below B");
    return r;
}

LoadTrace select_layers(const LoadTrace& trace, Range layers, const char* what) {
    LoadTrace out;
    out.model = trace.model;
    out.has_layer_ids = trace.has_layer_ids;
    out.num_steps = trace.num_steps;
    out.num_experts = trace.num_experts;
    std::vector<int> rows;
    const int last_id = trace.layer_ids.empty() ? -1 : trace.layer_ids.back();
    for (int l = 0; l < trace.num_layers; ++l) {
        const int id = trace.layer_ids[l];
        if (id >= layers.first && (layers.end == -1 || id < layers.end)) rows.push_back(l);
    }
    const bool past_end = layers.end != -1 && layers.end > last_id + 1;
    EPLB_CHECK(!rows.empty() && !past_end,
               what << " " << layers.first << ":"
                    << (layers.end == -1 ? std::string() : std::to_string(layers.end))
                    << " is outside the trace's layers "
                    << (trace.layer_ids.empty() ? 0 : trace.layer_ids.front()) << ":" << last_id + 1
                    << (trace.has_layer_ids ? ""
                                            : " (it has no layer ids, so its rows are numbered from 0: pass "
                                              "--first-layer N to number them from model layer N)"));
    out.num_layers = static_cast<int>(rows.size());
    for (int l : rows) out.layer_ids.push_back(trace.layer_ids[l]);
    out.values.resize(static_cast<size_t>(out.num_steps) * out.num_layers * out.num_experts);
    for (int t = 0; t < out.num_steps; ++t) {
        for (int i = 0; i < out.num_layers; ++i) {
            const float* src = trace.step_data(t) + static_cast<size_t>(rows[i]) * trace.num_experts;
            std::copy(src, src + trace.num_experts,
                      out.values.begin() + (static_cast<size_t>(t) * out.num_layers + i) * out.num_experts);
        }
    }
    return out;
}

std::optional<int> infer_first_layer_id(int num_rows, const std::optional<int>& first_layer,
                                        const std::optional<Range>& moe_layers, const std::string& source,
                                        std::string* note, const std::string& moe_what) {
    if (first_layer) {
        EPLB_CHECK(*first_layer >= 0 && *first_layer <= (1 << 30) - num_rows,
                   "--first-layer " << *first_layer << " must be 0.." << (1 << 30) - num_rows);
        return *first_layer;
    }
    if (!moe_layers || moe_layers->end < 0) return std::nullopt;
    const int first = moe_layers->first, end = moe_layers->end;
    if (num_rows == end - first) {
        if (note) {
            *note = "note: " + source + " has no layer ids: its " + std::to_string(num_rows) +
                    " rows are taken as the MoE layers " + std::to_string(first) + ".." +
                    std::to_string(end - 1) + " of " + moe_what + " (pass --first-layer N to say otherwise)";
        }
        return first;
    }
    if (num_rows == end) {
        if (note) {
            *note = "note: " + source + " has no layer ids: its " + std::to_string(num_rows) +
                    " rows are taken as model layers 0.." + std::to_string(end - 1) +
                    " (a row per model layer, as SGLang writes them; pass --first-layer N to say otherwise)";
        }
        return 0;
    }
    return std::nullopt;
}

std::string resolve_layer_ids(LoadTrace& trace, const std::optional<int>& first_layer,
                              const std::optional<Range>& moe_layers, const std::string& source,
                              const std::string& moe_what) {
    if (trace.has_layer_ids) {
        if (first_layer) {
            EPLB_FAIL_KIND(
                ErrorKind::kUsage,
                source << ": --first-layer is for traces without layer ids, but this one names its "
                          "layers ("
                       << trace.layer_ids.front() << ".." << trace.layer_ids.back()
                       << "): drop --first-layer");
        }
        return "";
    }
    std::string note;
    const std::optional<int> first =
        infer_first_layer_id(trace.num_layers, first_layer, moe_layers, source, &note, moe_what);
    if (!first) return "";
    for (int l = 0; l < trace.num_layers; ++l) trace.layer_ids[l] = *first + l;
    trace.has_layer_ids = true;
    return note;
}

void require_model_layer_ids(const LoadTrace& trace, const std::string& source, const std::string& what) {
    require_model_layer_ids(trace.has_layer_ids, trace.num_layers, source, what);
}

void require_model_layer_ids(bool has_layer_ids, int num_rows, const std::string& source,
                             const std::string& what) {
    if (has_layer_ids) return;
    EPLB_FAIL_KIND(ErrorKind::kUsage,
                   source << ": " << what << " needs model layer ids, but the trace has none (its "
                          << num_rows << " rows are numbered from 0) and no config moe_layers has as many layers: pass "
                             "--first-layer N, the model layer of its first row (3 for DeepSeek-V3's MoE "
                             "layers)");
}

LoadTrace fold_physical_slots(const LoadTrace& trace, const IndexMatrix& phy2log,
                              const std::vector<int>& map_layer_ids, int num_experts,
                              const std::string& map_source) {
    const int slots = static_cast<int>(phy2log.cols());
    EPLB_CHECK(trace.num_experts == slots, map_source << ": the map has " << slots
                                                      << " physical slots but the "
                                                      << "trace has " << trace.num_experts
                                                      << " columns (a physical-slot trace has one per slot)");
    std::vector<Eigen::Index> map_row(static_cast<size_t>(trace.num_layers));
    const bool by_position = phy2log.rows() == trace.num_layers;
    for (int l = 0; l < trace.num_layers; ++l) {
        if (by_position) {
            map_row[l] = l;
            continue;
        }
        EPLB_CHECK(trace.has_layer_ids, map_source << ": the map has " << phy2log.rows()
                                                   << " layers but the trace " << trace.num_layers
                                                   << " rows without layer ids: rows are matched by position "
                                                      "only when the counts are equal");
        const auto it = std::find(map_layer_ids.begin(), map_layer_ids.end(), trace.layer_ids[l]);
        EPLB_CHECK(it != map_layer_ids.end(), map_source << ": the map has no layer " << trace.layer_ids[l]
                                                         << " (the trace's layer ids run "
                                                         << trace.layer_ids.front() << ".."
                                                         << trace.layer_ids.back() << ")");
        map_row[l] = it - map_layer_ids.begin();
    }
    LoadTrace out;
    out.num_steps = trace.num_steps;
    out.num_layers = trace.num_layers;
    out.num_experts = num_experts;
    out.layer_ids = trace.layer_ids;
    out.has_layer_ids = trace.has_layer_ids;
    out.model = trace.model;
    out.values.assign(static_cast<size_t>(out.num_steps) * out.num_layers * num_experts, 0.0f);
    std::vector<double> sum(static_cast<size_t>(num_experts));
    for (int t = 0; t < trace.num_steps; ++t) {
        for (int l = 0; l < trace.num_layers; ++l) {
            std::fill(sum.begin(), sum.end(), 0.0);
            const float* row = trace.step_data(t) + static_cast<size_t>(l) * slots;
            for (int s = 0; s < slots; ++s) {
                const int e = phy2log(map_row[l], s);
                EPLB_CHECK(e >= 0 && e < num_experts, map_source << ": slot " << s << " of layer row "
                                                                 << map_row[l] << " holds expert " << e
                                                                 << ", outside 0.." << num_experts - 1);
                sum[e] += row[s];
            }
            float* dst = out.values.data() + (static_cast<size_t>(t) * out.num_layers + l) * num_experts;
            for (int e = 0; e < num_experts; ++e) {
                EPLB_CHECK(sum[e] <= kMaxLoad, map_source << ": expert " << e << " of layer "
                                                          << trace.layer_ids[l] << " sums to " << sum[e]
                                                          << " at step " << t << ", more than float32 holds");
                dst[e] = static_cast<float>(sum[e]);
            }
        }
    }
    return out;
}

void validate_trace(const LoadTrace& trace, const std::string& source) {
    EPLB_CHECK(trace.num_steps >= 1 && trace.num_layers >= 1 && trace.num_experts >= 1,
               source << ": empty trace (" << trace.num_steps << " steps, " << trace.num_layers << " layers, "
                      << trace.num_experts << " experts)");
    EPLB_CHECK(
        trace.values.size() == static_cast<size_t>(trace.num_steps) * trace.num_layers * trace.num_experts &&
            trace.layer_ids.size() == static_cast<size_t>(trace.num_layers),
        source << ": inconsistent trace shape");
    const size_t per_step = static_cast<size_t>(trace.num_layers) * trace.num_experts;
    for (size_t i = 0; i < trace.values.size(); ++i) {
        const float v = trace.values[i];
        if (!std::isfinite(v) || v < 0.0f) {
            const size_t t = i / per_step, l = i % per_step / trace.num_experts, e = i % trace.num_experts;
            EPLB_FAIL(source << ": load at step " << t << ", layer " << trace.layer_ids[l] << ", expert " << e
                             << " is " << v << ": loads must be finite and >= 0");
        }
    }
}

std::string load_digest(const LoadMatrix& load, const std::vector<int>& layer_ids) {
    EPLB_CHECK(static_cast<size_t>(load.rows()) == layer_ids.size(),
               "load_digest: " << load.rows() << " rows but " << layer_ids.size() << " layer ids");
    uint64_t h = 14695981039346656037ull;
    const auto mix = [&h](uint32_t word) {
        for (int b = 0; b < 4; ++b) {
            h ^= (word >> (8 * b)) & 0xffu;
            h *= 1099511628211ull;
        }
    };
    mix(static_cast<uint32_t>(load.rows()));
    mix(static_cast<uint32_t>(load.cols()));
    std::vector<size_t> order(layer_ids.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return layer_ids[a] < layer_ids[b]; });
    for (size_t row : order) {
        mix(static_cast<uint32_t>(layer_ids[row]));
        for (Eigen::Index e = 0; e < load.cols(); ++e) {
            uint32_t bits = 0;
            const float v = load(static_cast<Eigen::Index>(row), e);
            std::memcpy(&bits, &v, sizeof bits);
            mix(bits);
        }
    }
    char text[32];
    std::snprintf(text, sizeof text, "fnv1a64:%016llx", static_cast<unsigned long long>(h));
    return text;
}

}  // namespace eplb
