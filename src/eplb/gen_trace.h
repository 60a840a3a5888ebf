// Deterministic synthetic expert-load traces: Zipf-like skew over a per-layer permutation of hot
// experts, multinomial token counts per step, optional drift of the expert popularity over steps.
#pragma once

#include <cstdint>

#include "eplb/trace.h"

namespace eplb {

struct GenTraceOptions {
    int num_layers = 58;
    int first_layer_id = 0;  // model layer id of the first row
    int num_experts = 256;
    int num_steps = 1;
    int64_t tokens_per_step = 4096;  // tokens routed per step and layer
    int top_k = 8;                   // each token goes to top_k experts: a row sums to tokens·top_k
    double skew = 0.45;              // expert of popularity rank i gets weight (i+1)^-skew
    double drift = 0.0;              // per-step std of each expert's log-popularity (mean-reverting)
    uint64_t seed = 1;
};

// Validates the options (invalid input naming the option) and generates [steps][layers][experts].
LoadTrace generate_trace(const GenTraceOptions& options);

// The PRNG of the generator (xoshiro256**, seeded by splitmix64): fixed across platforms and
// compilers, unlike the std:: distributions.
class Rng {
  public:
    explicit Rng(uint64_t seed);
    uint64_t next();
    double uniform();  // [0, 1)
    double normal();   // standard normal (Box-Muller)
    int64_t binomial(int64_t n, double p);

  private:
    uint64_t s_[4];
};

}  // namespace eplb
