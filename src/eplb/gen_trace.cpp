// Synthetic trace generator (see gen_trace.h). One step of DeepSeek-V3 shapes is 58 x 256 token
// counts; the simulator asks for 20,000 of them, so the sampler is built to cost a few ns a count:
// one 64-bit draw per count, a table for the normal quantile, no transcendental in the inner loop.
#include "eplb/gen_trace.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <numeric>
#include <thread>

#include "eplb/error.h"

namespace eplb {

namespace {

uint64_t splitmix64(uint64_t& x) {
    uint64_t z = (x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// A stateless 64-bit mixer (splitmix64's finaliser), to derive independent seeds.
uint64_t mix64(uint64_t x) {
    uint64_t state = x;
    return splitmix64(state);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// Acklam's rational approximation of the standard normal quantile (relative error < 1.2e-9).
double normal_quantile(double p) {
    static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,  -2.759285104469687e+02,
                                   1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
    static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                                   6.680131188771972e+01, -1.328068155288572e+01};
    static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                                   -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
    static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                                   3.754408661907416e+00};
    constexpr double kLow = 0.02425;
    p = std::clamp(p, 0x1.0p-64, 1.0 - 0x1.0p-53);
    if (p < kLow || p > 1.0 - kLow) {
        const double q = std::sqrt(-2.0 * std::log(p < kLow ? p : 1.0 - p));
        const double x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
                         ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
        return p < kLow ? x : -x;
    }
    const double q = p - 0.5, r = q * q;
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
           (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
}

// The quantile at i / 4096 for i = 1..4095; draws interpolate linearly inside a bin, the two end
// bins (1/2048 of the draws) use the quantile function itself so that the tails stay unbounded.
constexpr int kQuantileBits = 12;
constexpr int kQuantileBins = 1 << kQuantileBits;

const std::array<double, kQuantileBins + 1>& quantile_table() {
    static const std::array<double, kQuantileBins + 1> table = [] {
        std::array<double, kQuantileBins + 1> t{};
        for (int i = 1; i < kQuantileBins; ++i)
            t[i] = normal_quantile(static_cast<double>(i) / kQuantileBins);
        return t;
    }();
    return table;
}

// A standard normal from 32 random bits: the top 12 pick the bin, the other 20 the point inside it.
inline double normal_from_bits(uint32_t r) {
    static const auto& table = quantile_table();
    const int bin = static_cast<int>(r >> (32 - kQuantileBits));
    const double frac = static_cast<double>(r & ((1u << (32 - kQuantileBits)) - 1)) * 0x1.0p-20;
    if (bin == 0 || bin == kQuantileBins - 1) [[unlikely]] {
        return normal_quantile((bin + frac) / kQuantileBins);
    }
    return table[bin] + frac * (table[bin + 1] - table[bin]);
}

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

double Rng::normal() { return normal_from_bits(static_cast<uint32_t>(next() >> 32)); }

int64_t Rng::binomial(int64_t n, double p) {
    if (n <= 0 || p <= 0.0) return 0;
    if (p >= 1.0) return n;
    if (p > 0.5) return n - binomial(n, 1.0 - p);
    const double mean = static_cast<double>(n) * p;
    if (mean >= 20.0) {
        // Rounded normal approximation: close enough for synthetic load, clamped to [0, n].
        const double x = std::round(mean + std::sqrt(mean * (1.0 - p)) * normal());
        return std::clamp<int64_t>(static_cast<int64_t>(x), 0, n);
    }
    // Inversion by sequential search over the pmf (exact): P(0) = q^n, P(k)/P(k-1) = a/k - s.
    const double s = p / (1.0 - p), a = (static_cast<double>(n) + 1.0) * s;
    double r = std::exp(static_cast<double>(n) * std::log1p(-p)), u = uniform();
    int64_t k = 0;
    while (u > r && k < n) {
        u -= r;
        ++k;
        r *= a / static_cast<double>(k) - s;
    }
    return k;
}

namespace {

// exp(x) in plain double arithmetic: 2^k · e^r with |r| <= ln2/2 and a degree-7 Taylor
// polynomial (relative error < 1e-8: weights need no more), 0 below -708. Branch-free so that the weight loop
// vectorises; several times cheaper than libm's, and the same on every x86-64 compiler.
inline double fast_exp(double x) {
    const double y = std::min(std::max(x, -708.0), 709.0);
    constexpr double kInvLn2 = 1.4426950408889634, kLn2Hi = 0.6931471803691238,
                     kLn2Lo = 1.9082149292705877e-10;
    constexpr double kRound = 0x1.8p52;  // adding it rounds to an integer held in the low mantissa bits
    const double kd = y * kInvLn2 + kRound;
    const double k = kd - kRound;
    const double r = y - k * kLn2Hi - k * kLn2Lo;
    double p = 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    // The low bits of kd hold k in two's complement: adding the bias and shifting builds 2^k.
    const double scale = std::bit_cast<double>((std::bit_cast<uint64_t>(kd) + 1023) << 52);
    return x > -708.0 ? p * scale : 0.0;
}

// n standard normals, two from each draw of the generator.
void fill_normals(Rng& rng, double* out, int n) {
    int i = 0;
    for (; i + 1 < n; i += 2) {
        const uint64_t r = rng.next();
        out[i] = normal_from_bits(static_cast<uint32_t>(r >> 32));
        out[i + 1] = normal_from_bits(static_cast<uint32_t>(r));
    }
    if (i < n) out[i] = normal_from_bits(static_cast<uint32_t>(rng.next() >> 32));
}

struct LayerState {
    Rng rng{0};
    std::vector<double> base;    // log weight of each expert (-inf: never chosen)
    std::vector<double> offset;  // drift of the log weight
    // The prepared chain: count_x ~ Binomial(left, cond_x), left = draws not yet assigned; sd_x
    // is its standard deviation and mean_x its mean at the expected left (small means: exact).
    std::vector<double> cond, sd, mean;
    bool dirty = true;
};

}  // namespace

struct TraceGenerator::State {
    GenTraceOptions o;
    int num_layers = 0, num_experts = 0;
    int64_t draws = 0;  // tokens·top_k per row
    std::vector<LayerState> layers;
    std::vector<std::vector<double>> workload_log;  // [M][L·E] log of normalised rows (-inf for 0)
    Rng switch_rng{0};
    int workload = 0;
    int next_step = 0;
    int threads = 1;
};

namespace {

constexpr double kReversion = 0.001;  // the popularity walk forgets its offset over ~1000 steps
constexpr double kNormalMinMean = 20.0;
constexpr int kLockstepLayers = 8;  // independent chains interleaved to hide their latency

void check_options(const GenTraceOptions& o) {
    const std::string& f = o.flag_prefix;
    EPLB_CHECK(o.num_steps >= 1, f << "num-steps (" << o.num_steps << ") must be at least 1");
    EPLB_CHECK(o.tokens_per_step >= 0 && o.tokens_per_step <= (int64_t{1} << 40),
               f << "tokens (" << o.tokens_per_step << ") must be in [0, 2^40]");
    EPLB_CHECK(std::isfinite(o.drift) && o.drift >= 0.0 && o.drift <= 10.0,
               f << "drift (" << o.drift << ") must be in [0, 10]");
    EPLB_CHECK(o.switch_every >= 0, f << "switch-every (" << o.switch_every << ") must be >= 0 (0: never)");
    EPLB_CHECK(std::isfinite(o.switch_fraction) && o.switch_fraction >= 0.0 && o.switch_fraction <= 1.0,
               f << "switch-fraction (" << o.switch_fraction << ") must be in [0, 1]");
    if (o.workloads.empty()) {
        EPLB_CHECK(o.num_layers >= 1 && o.num_layers <= 100000,
                   f << "num-layers (" << o.num_layers << ") must be 1..100000");
        EPLB_CHECK(o.num_experts >= 1 && o.num_experts <= 1 << 20,
                   f << "num-experts (" << o.num_experts << ") must be 1..2^20");
        EPLB_CHECK(std::isfinite(o.skew) && o.skew >= 0.0 && o.skew <= 10.0,
                   f << "skew (" << o.skew << ") must be in [0, 10]");
        // The generator keeps five doubles per (layer, expert): 2^27 of them is 5 GB already.
        EPLB_CHECK(static_cast<int64_t>(o.num_layers) * o.num_experts <= (int64_t{1} << 27),
                   f << "num-layers x " << f << "num-experts (" << o.num_layers << " x " << o.num_experts
                     << ") must be at most 2^27");
    } else {
        const LoadMatrix& first = o.workloads.front();
        EPLB_CHECK(first.rows() >= 1 && first.cols() >= 1, "workload 0 is empty");
        for (size_t m = 0; m < o.workloads.size(); ++m) {
            const LoadMatrix& w = o.workloads[m];
            EPLB_CHECK(w.rows() == first.rows() && w.cols() == first.cols(),
                       "workload " << m << " is " << w.rows() << "x" << w.cols() << " but workload 0 is "
                                   << first.rows() << "x" << first.cols() << " (layers x experts)");
            for (Eigen::Index i = 0; i < w.size(); ++i) {
                const float v = w.data()[i];
                EPLB_CHECK(std::isfinite(v) && v >= 0.0f, "workload " << m << ": load " << v << " at row "
                                                                      << i / w.cols() << ", expert "
                                                                      << i % w.cols() << " is not >= 0");
            }
        }
    }
    const int num_experts = o.workloads.empty() ? o.num_experts : static_cast<int>(o.workloads[0].cols());
    const int num_layers = o.workloads.empty() ? o.num_layers : static_cast<int>(o.workloads[0].rows());
    EPLB_CHECK(o.top_k >= 1 && o.top_k <= num_experts, f << "top-k (" << o.top_k
                                                         << ") must be between 1 and the number of experts ("
                                                         << num_experts << ")");
    // Layer ids count up from it: keep them in the range every reader accepts (< 2^30).
    EPLB_CHECK(!o.layer_ids.empty() || (o.first_layer_id >= 0 && o.first_layer_id <= (1 << 30) - num_layers),
               f << "first-layer (" << o.first_layer_id << ") must be in [0, 2^30 - num_layers]");
    EPLB_CHECK(o.layer_ids.empty() || static_cast<int>(o.layer_ids.size()) == num_layers,
               "layer_ids has " << o.layer_ids.size() << " entries for " << num_layers << " layers");
}

// Prepares the chain of a row from its weights: cond_x = w_x / Σ_{y>=x} w_y, and the standard
// deviation of count_x at the expected number of draws left (so that the chain itself carries no
// square root); the last expert with weight gets cond 1 and takes what is left.
void prepare_row(LayerState& s, const double* weight, double* tail, int e, int64_t draws) {
    // Suffix sums in four independent blocks (four add chains in flight), then the blocks' offsets.
    const int block = (e + 3) / 4;
    double block_sum[4] = {0, 0, 0, 0};
    for (int i = block - 1; i >= 0; --i) {
        for (int b = 0; b < 4; ++b) {
            const int x = b * block + i;
            if (x < e) {
                block_sum[b] += weight[x];
                tail[x] = block_sum[b];
            }
        }
    }
    double above = 0;
    for (int b = 3; b >= 0; --b) {
        for (int x = b * block; x < std::min(e, (b + 1) * block); ++x) tail[x] += above;
        above += block_sum[b];
    }
    const double sum = above;
    const double n = static_cast<double>(draws), inv_total = sum > 0 ? 1.0 / sum : 0.0;
    double* cond = s.cond.data();
    double* sd = s.sd.data();
    double* mean = s.mean.data();
    for (int x = 0; x < e; ++x) {
        // tail_x >= w_x > 0 wherever w_x > 0; elsewhere cond is 0 (the max keeps the division finite).
        const double w = weight[x], c = w / std::max(tail[x], 1e-300);
        const double expected_left = n * tail[x] * inv_total, v = expected_left * c * std::max(0.0, 1.0 - c);
        cond[x] = c;
        sd[x] = std::sqrt(v);
        mean[x] = n * w * inv_total;
    }
}

// Multinomial rows of `draws` tokens by conditional binomials, so that every row sums to draws
// exactly. count = round(left·cond + sd·z), clamped to [0, left], with z drawn beforehand; the
// rows of kLockstepLayers layers advance together because each chain waits on its own `left`.
void sample_rows(LayerState* const* layers, const double* const* noise, float* const* out, int g, int e,
                 int64_t draws) {
    // `left` is kept in double (integers below 2^53, exact) so that the chain has no int/float
    // conversions; adding and subtracting 2^52 rounds a value in [0, 2^51) to the nearest integer.
    constexpr double kRound = 0x1.0p52;
    double left[kLockstepLayers];
    for (int j = 0; j < g; ++j) left[j] = static_cast<double>(draws);
    for (int x = 0; x < e; ++x) {
        for (int j = 0; j < g; ++j) {
            LayerState& s = *layers[j];
            double k;
            if (s.mean[x] < kNormalMinMean) [[unlikely]] {
                // Also experts without weight (cond 0: no draw) and the last one (cond 1: the rest).
                k = static_cast<double>(s.rng.binomial(static_cast<int64_t>(left[j]), s.cond[x]));
            } else {
                const double v = std::max(0.0, left[j] * s.cond[x] + noise[j][x]);
                k = std::min((v + kRound) - kRound, left[j]);
            }
            out[j][x] = static_cast<float>(k);
            left[j] -= k;
        }
    }
}

}  // namespace

TraceGenerator::TraceGenerator(GenTraceOptions options) : state_(std::make_unique<State>()) {
    check_options(options);
    State& st = *state_;
    st.o = std::move(options);
    const GenTraceOptions& o = st.o;
    const bool mixture = !o.workloads.empty();
    st.num_layers = mixture ? static_cast<int>(o.workloads[0].rows()) : o.num_layers;
    st.num_experts = mixture ? static_cast<int>(o.workloads[0].cols()) : o.num_experts;
    if (st.o.layer_ids.empty()) {
        st.o.layer_ids.resize(st.num_layers);
        std::iota(st.o.layer_ids.begin(), st.o.layer_ids.end(), o.first_layer_id);
    }
    st.draws = o.tokens_per_step * o.top_k;
    const int e = st.num_experts;
    st.threads = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 8u));
    std::vector<int> index(e);
    st.switch_rng = Rng(mix64(o.seed ^ 0xD1B54A32D192ED03ull));
    st.layers.resize(st.num_layers);
    for (int l = 0; l < st.num_layers; ++l) {
        LayerState& s = st.layers[l];
        s.rng = Rng(mix64(o.seed ^ mix64(static_cast<uint64_t>(st.o.layer_ids[l]) + 0x632BE59BD9B4E019ull)));
        s.base.assign(e, 0.0);
        s.offset.assign(e, 0.0);
        s.cond.assign(e, 0.0);
        s.sd.assign(e, 0.0);
        s.mean.assign(e, 0.0);
        if (!mixture) {
            // A random permutation decides which expert gets which popularity rank.
            std::iota(index.begin(), index.end(), 0);
            for (int i = e - 1; i > 0; --i) std::swap(index[i], index[s.rng.next() % (i + 1)]);
            for (int i = 0; i < e; ++i) s.base[index[i]] = -o.skew * std::log(i + 1.0);
        }
    }
    if (mixture) {
        for (const LoadMatrix& w : o.workloads) {
            std::vector<double> logs(static_cast<size_t>(st.num_layers) * e);
            for (int l = 0; l < st.num_layers; ++l) {
                const double total = w.row(l).cast<double>().sum();
                for (int x = 0; x < e; ++x) {
                    const double v = w(l, x);
                    logs[static_cast<size_t>(l) * e + x] =
                        v > 0 && total > 0 ? std::log(v / total) : -std::numeric_limits<double>::infinity();
                }
            }
            st.workload_log.push_back(std::move(logs));
        }
        for (int l = 0; l < st.num_layers; ++l) {
            std::copy_n(st.workload_log[0].begin() + static_cast<ptrdiff_t>(l) * e, e,
                        st.layers[l].base.begin());
        }
    }
}

TraceGenerator::~TraceGenerator() = default;

int TraceGenerator::num_steps() const { return state_->o.num_steps; }
int TraceGenerator::num_layers() const { return state_->num_layers; }
int TraceGenerator::num_experts() const { return state_->num_experts; }
const std::vector<int>& TraceGenerator::layer_ids() const { return state_->o.layer_ids; }
int TraceGenerator::current_workload() const { return state_->workload; }

namespace {

// Per-thread scratch of the layer work.
struct Scratch {
    std::vector<double> weight, tail, noise;  // [E], [E], [kLockstepLayers][E]
    std::vector<int> index;                   // [E]
};

// Steps [first, first + count) of the layers [l_begin, l_end), written to out (step i of the range
// at out + i·step_size; null: generated and dropped). workloads[i] is the workload of step
// first + i, or -1 where it did not change. Layers only touch their own state and random stream,
// so disjoint layer ranges may run on different threads.
void generate_layers(const GenTraceOptions& o, std::vector<LayerState>& layers,
                     const std::vector<std::vector<double>>& workload_log, int e, int64_t draws, int first,
                     int count, const std::vector<int>& workloads, int l_begin, int l_end, float* out,
                     size_t step_size) {
    Scratch sc;
    sc.weight.resize(e);
    sc.tail.resize(e);
    sc.noise.resize(static_cast<size_t>(kLockstepLayers) * e);
    sc.index.resize(e);
    std::vector<float> dropped(out ? 0 : static_cast<size_t>(kLockstepLayers) * e);
    for (int i = 0; i < count; ++i) {
        const int step = first + i;
        const bool switching = step > 0 && o.switch_every > 0 && step % o.switch_every == 0;
        for (int l0 = l_begin; l0 < l_end; l0 += kLockstepLayers) {
            const int g = std::min(kLockstepLayers, l_end - l0);
            LayerState* group[kLockstepLayers];
            const double* noise[kLockstepLayers];
            float* rows[kLockstepLayers];
            for (int j = 0; j < g; ++j) {
                const int l = l0 + j;
                LayerState& s = layers[l];
                if (workloads[i] >= 0) {
                    std::copy_n(workload_log[workloads[i]].begin() + static_cast<ptrdiff_t>(l) * e, e,
                                s.base.begin());
                    s.dirty = true;
                }
                if (switching && o.workloads.empty()) {
                    // Shuffle the popularity of a random subset of experts among themselves.
                    const int k = static_cast<int>(std::llround(o.switch_fraction * e));
                    if (k >= 2) {
                        std::iota(sc.index.begin(), sc.index.end(), 0);
                        for (int a = 0; a < k; ++a)
                            std::swap(sc.index[a], sc.index[a + s.rng.next() % (e - a)]);
                        for (int a = k - 1; a > 0; --a) {
                            std::swap(s.base[sc.index[a]], s.base[sc.index[s.rng.next() % (a + 1)]]);
                        }
                        s.dirty = true;
                    }
                }
                if (step > 0 && o.drift > 0) {
                    double* z = sc.weight.data();
                    fill_normals(s.rng, z, e);
                    for (int x = 0; x < e; ++x)
                        s.offset[x] = (1.0 - kReversion) * s.offset[x] + o.drift * z[x];
                    s.dirty = true;
                }
                if (s.dirty) {
                    for (int x = 0; x < e; ++x) sc.weight[x] = fast_exp(s.base[x] + s.offset[x]);
                    prepare_row(s, sc.weight.data(), sc.tail.data(), e, draws);
                    s.dirty = false;
                }
                double* z = sc.noise.data() + static_cast<size_t>(j) * e;
                fill_normals(s.rng, z, e);
                for (int x = 0; x < e; ++x) z[x] *= s.sd[x];
                group[j] = &s;
                noise[j] = z;
                rows[j] = out ? out + static_cast<size_t>(i) * step_size + static_cast<size_t>(l) * e
                              : dropped.data() + static_cast<size_t>(j) * e;
            }
            sample_rows(group, noise, rows, g, e, draws);
        }
    }
}

}  // namespace

void TraceGenerator::load_step(int t, float* out) { load_steps(t, 1, out); }

void TraceGenerator::load_steps(int first, int count, float* out) {
    State& st = *state_;
    const GenTraceOptions& o = st.o;
    EPLB_CHECK(first >= st.next_step && count >= 1 && first + count <= o.num_steps,
               "generated trace: steps " << first << ".." << first + count - 1 << " asked after step "
                                         << st.next_step - 1 << " (of " << o.num_steps
                                         << "): steps come in increasing order");
    const int e = st.num_experts;
    const size_t step_size = static_cast<size_t>(st.num_layers) * e;
    // Steps before `first` are generated and dropped; then the asked ones. The workload sequence
    // is drawn here, in step order, so that the layers can then run in parallel.
    for (const bool keep : {false, true}) {
        const int begin = keep ? first : st.next_step, n = keep ? count : first - st.next_step;
        if (n <= 0) continue;
        std::vector<int> workloads(n, -1);
        for (int i = 0; i < n; ++i) {
            const int step = begin + i;
            const int m = static_cast<int>(o.workloads.size());
            if (step > 0 && o.switch_every > 0 && step % o.switch_every == 0 && m > 0) {
                if (m > 1) {
                    st.workload =
                        o.switch_random
                            ? (st.workload + 1 + static_cast<int>(st.switch_rng.next() % (m - 1))) % m
                            : (st.workload + 1) % m;
                }
                workloads[i] = st.workload;
            }
        }
        float* dst = keep ? out : nullptr;
        // Layers split over threads in whole lockstep groups; one thread for a single step or
        // few layers, where starting threads would cost more than it saves.
        const int groups = (st.num_layers + kLockstepLayers - 1) / kLockstepLayers;
        const int threads = n * step_size < (1u << 16) ? 1 : std::min(st.threads, groups);
        std::vector<std::thread> pool;
        std::vector<std::exception_ptr> errors(threads);
        for (int w = 0; w < threads; ++w) {
            const int l_begin = std::min(st.num_layers, groups * w / threads * kLockstepLayers);
            const int l_end = std::min(st.num_layers, groups * (w + 1) / threads * kLockstepLayers);
            auto work = [&, l_begin, l_end, w] {
                try {
                    generate_layers(o, st.layers, st.workload_log, e, st.draws, begin, n, workloads, l_begin,
                                    l_end, dst, step_size);
                } catch (...) {
                    errors[w] = std::current_exception();
                }
            };
            if (w + 1 == threads) {
                work();
            } else {
                pool.emplace_back(work);
            }
        }
        for (std::thread& t : pool) t.join();
        for (const std::exception_ptr& error : errors) {
            if (error) std::rethrow_exception(error);
        }
        st.next_step = begin + n;
    }
}

void check_generated_size(const TraceGenerator& gen) {
    EPLB_CHECK(static_cast<double>(gen.num_steps()) * gen.num_layers() * gen.num_experts() <= 2e9,
               "the trace (" << gen.num_steps() << " x " << gen.num_layers() << " x " << gen.num_experts()
                             << ") would exceed 2e9 values");
}

LoadTrace generate_trace(const GenTraceOptions& options) {
    TraceGenerator gen(options);
    check_generated_size(gen);
    LoadTrace trace;
    trace.num_steps = gen.num_steps();
    trace.num_layers = gen.num_layers();
    trace.num_experts = gen.num_experts();
    trace.layer_ids = gen.layer_ids();
    trace.values.resize(static_cast<size_t>(trace.num_steps) * trace.num_layers * trace.num_experts);
    gen.load_steps(0, trace.num_steps, trace.values.data());
    return trace;
}

}  // namespace eplb
