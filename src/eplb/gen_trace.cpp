// Synthetic trace generator (see gen_trace.h).
#include "eplb/gen_trace.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "eplb/error.h"

namespace eplb {

namespace {
uint64_t splitmix64(uint64_t& x) {
    uint64_t z = (x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

Rng::Rng(uint64_t seed) {
    for (auto& s : s_) s = splitmix64(seed);
}

uint64_t Rng::next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9, t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
}

double Rng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

double Rng::normal() {
    const double u1 = 1.0 - uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

int64_t Rng::binomial(int64_t n, double p) {
    if (n <= 0 || p <= 0.0) return 0;
    if (p >= 1.0) return n;
    if (p > 0.5) return n - binomial(n, 1.0 - p);
    if (static_cast<double>(n) * p < 20.0) {
        // Inversion by geometric waiting times: exact, O(n·p) draws.
        const double log_q = std::log1p(-p);
        int64_t k = 0, i = 0;
        while (true) {
            i += static_cast<int64_t>(std::floor(std::log(1.0 - uniform()) / log_q)) + 1;
            if (i > n) return k;
            ++k;
        }
    }
    // Normal approximation (n·p >= 20): close enough for synthetic load, rounded and clamped.
    const double mean = static_cast<double>(n) * p, sd = std::sqrt(mean * (1.0 - p));
    const double x = std::round(mean + sd * normal());
    return std::clamp<int64_t>(static_cast<int64_t>(x), 0, n);
}

LoadTrace generate_trace(const GenTraceOptions& o) {
    EPLB_CHECK(o.num_layers >= 1 && o.num_layers <= 100000,
               "--num-layers (" << o.num_layers << ") must be 1..100000");
    EPLB_CHECK(o.first_layer_id >= 0 && o.first_layer_id <= (1 << 30) - o.num_layers,
               "--first-layer (" << o.first_layer_id << ") must be 0..2^30 - num_layers");
    EPLB_CHECK(o.num_experts >= 1 && o.num_experts <= 1 << 20,
               "--num-experts (" << o.num_experts << ") must be 1..2^20");
    EPLB_CHECK(o.num_steps >= 1, "--num-steps (" << o.num_steps << ") must be at least 1");
    EPLB_CHECK(static_cast<double>(o.num_steps) * o.num_layers * o.num_experts <= 2e9,
               "the trace (" << o.num_steps << " x " << o.num_layers << " x " << o.num_experts
                             << ") would exceed 2e9 values");
    // tokens x top_k (the draws per layer and step) must stay far inside int64.
    EPLB_CHECK(o.tokens_per_step >= 0 && o.tokens_per_step <= (int64_t{1} << 40),
               "--tokens (" << o.tokens_per_step << ") must be 0..2^40");
    EPLB_CHECK(
        o.top_k >= 1 && o.top_k <= o.num_experts,
        "--top-k (" << o.top_k << ") must be between 1 and the number of experts (" << o.num_experts << ")");
    EPLB_CHECK(std::isfinite(o.skew) && o.skew >= 0.0 && o.skew <= 10.0,
               "--skew (" << o.skew << ") must be in [0, 10]");
    EPLB_CHECK(std::isfinite(o.drift) && o.drift >= 0.0 && o.drift <= 10.0,
               "--drift (" << o.drift << ") must be in [0, 10]");
    LoadTrace trace;
    trace.num_steps = o.num_steps;
    trace.num_layers = o.num_layers;
    trace.num_experts = o.num_experts;
    trace.layer_ids.resize(o.num_layers);
    std::iota(trace.layer_ids.begin(), trace.layer_ids.end(), o.first_layer_id);
    trace.values.resize(static_cast<size_t>(o.num_steps) * o.num_layers * o.num_experts);

    Rng rng(o.seed);
    const int e = o.num_experts;
    // Per layer: a random permutation decides which expert gets which popularity rank.
    std::vector<double> base(static_cast<size_t>(o.num_layers) * e);
    std::vector<int> perm(e);
    for (int l = 0; l < o.num_layers; ++l) {
        std::iota(perm.begin(), perm.end(), 0);
        for (int i = e - 1; i > 0; --i) std::swap(perm[i], perm[rng.next() % (i + 1)]);
        for (int i = 0; i < e; ++i)
            base[static_cast<size_t>(l) * e + perm[i]] = std::log(std::pow(i + 1.0, -o.skew));
    }
    std::vector<double> offset(base.size(), 0.0), prob(e);
    constexpr double kReversion = 0.001;  // the popularity walk forgets its offset over ~1000 steps
    const int64_t draws = o.tokens_per_step * o.top_k;
    for (int t = 0; t < o.num_steps; ++t) {
        for (int l = 0; l < o.num_layers; ++l) {
            double* off = offset.data() + static_cast<size_t>(l) * e;
            const double* b = base.data() + static_cast<size_t>(l) * e;
            double total = 0;
            for (int x = 0; x < e; ++x) {
                if (t > 0 && o.drift > 0) off[x] = (1.0 - kReversion) * off[x] + o.drift * rng.normal();
                prob[x] = std::exp(b[x] + off[x]);
                total += prob[x];
            }
            // Multinomial by conditional binomials: the row sums to tokens·top_k exactly.
            float* out = trace.values.data() + (static_cast<size_t>(t) * o.num_layers + l) * e;
            int64_t left = draws;
            double mass = 1.0;
            for (int x = 0; x < e; ++x) {
                const double px = prob[x] / total;
                const int64_t k =
                    x == e - 1 ? left : rng.binomial(left, mass > 0 ? std::min(1.0, px / mass) : 0.0);
                out[x] = static_cast<float>(k);
                left -= k;
                mass -= px;
            }
        }
    }
    return trace;
}

}  // namespace eplb
