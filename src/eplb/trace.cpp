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
                    << (trace.layer_ids.empty() ? 0 : trace.layer_ids.front()) << ":" << last_id + 1);
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
