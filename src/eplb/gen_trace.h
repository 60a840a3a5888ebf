// Deterministic synthetic expert-load traces: Zipf-like skew over a per-layer permutation of hot
// experts (or a mixture of measured workloads), multinomial token counts per step, drift of the
// expert popularity and regime switches over steps. Generated step by step (a StepSource).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "eplb/step_source.h"
#include "eplb/trace.h"
#include "eplb/types.h"

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
    // Regime switches at steps K, 2K, ... (0: never). Zipf mode: the popularity ranks of a random
    // switch_fraction of each layer's experts are shuffled among them. Mixture mode: the next
    // workload takes over (in order, or drawn among the others when switch_random).
    int switch_every = 0;
    double switch_fraction = 0.25;
    bool switch_random = false;
    // Mixture mode (non-empty): per-workload expert distributions [L][E] (e.g. the aggregate loads
    // of measured traces); each step samples its tokens from the current workload's rows. They give
    // the shape: num_layers and num_experts are taken from them, skew is not used.
    std::vector<LoadMatrix> workloads;
    std::vector<int> layer_ids;  // model layer id of each row (empty: first_layer_id, +1, ...)
    // How options are named in messages: "--" for gen-trace, "--gen-" for simulate.
    std::string flag_prefix = "--";
};

// Produces the trace of `options` one step at a time (validated on construction: invalid input
// naming the option). Layers draw from their own random streams, keyed by model layer id, so that
// a layer's rows do not depend on which other layers are generated.
class TraceGenerator final : public StepSource {
  public:
    explicit TraceGenerator(GenTraceOptions options);
    ~TraceGenerator() override;
    int num_steps() const override;
    int num_layers() const override;
    int num_experts() const override;
    // Steps must be asked for in increasing order; skipped steps are generated and dropped.
    void load_step(int t, float* out) override;
    // Several steps at once, the layers spread over the cores (the result does not depend on it).
    void load_steps(int first, int count, float* out) override;
    const std::vector<int>& layer_ids() const;
    // Mixture mode: the workload of the step generated last (0 before the first).
    int current_workload() const;

  private:
    struct State;
    std::unique_ptr<State> state_;
};

// Invalid input when the generator's trace would exceed 2e9 values (8 GB as float32): the bound
// of generate_trace and of `gen-trace`, which writes step by step.
void check_generated_size(const TraceGenerator& generator);

// Validates the options and generates [steps][layers][experts] in memory.
LoadTrace generate_trace(const GenTraceOptions& options);

// The PRNG of the generator (xoshiro256**, seeded by splitmix64): fixed across platforms and
// compilers, unlike the std:: distributions.
class Rng {
  public:
    explicit Rng(uint64_t seed);
    uint64_t next();
    double uniform();  // [0, 1)
    double normal();   // standard normal: inverse CDF from a table, one draw of next() per value
    // Binomial(n, p): exact (inversion) for n·p < 20, else the rounded normal approximation.
    int64_t binomial(int64_t n, double p);

  private:
    uint64_t s_[4];
};

}  // namespace eplb
