// The synthetic trace generator: deterministic, exact row sums, skew, validation.
#include <doctest/doctest.h>

#include <algorithm>

#include "eplb/error.h"
#include "eplb/gen_trace.h"

using namespace eplb;

TEST_CASE("deterministic for a seed, rows sum to tokens x top_k") {
    GenTraceOptions o;
    o.num_layers = 5;
    o.num_steps = 3;
    o.drift = 0.1;
    const LoadTrace a = generate_trace(o), b = generate_trace(o);
    CHECK(a.values == b.values);
    o.seed = 2;
    CHECK(generate_trace(o).values != a.values);
    for (int t = 0; t < 3; ++t) {
        const LoadMatrix m = a.step(t);
        for (int l = 0; l < 5; ++l) CHECK(m.row(l).cast<double>().sum() == 4096.0 * 8);
    }
}

TEST_CASE("skew makes a hot expert, zero skew is near uniform") {
    GenTraceOptions o;
    o.num_layers = 1;
    o.tokens_per_step = 1 << 20;
    const LoadTrace hot = generate_trace(o);
    const float mean = 8.0f * (1 << 20) / 256;
    const float hot_max = *std::max_element(hot.values.begin(), hot.values.end());
    CHECK(hot_max / mean > 4.0f);
    o.skew = 0.0;
    const LoadTrace flat = generate_trace(o);
    CHECK(*std::max_element(flat.values.begin(), flat.values.end()) / mean < 1.05f);
}

TEST_CASE("invalid options name the option") {
    GenTraceOptions o;
    o.top_k = 300;
    CHECK_THROWS_WITH_AS(generate_trace(o), "--top-k (300) must be between 1 and the number of experts (256)",
                         Error);
    o = {};
    o.skew = -1;
    CHECK_THROWS_AS(generate_trace(o), Error);
    // The messages use the flag names of `eplb gen-trace`.
    o = {};
    o.num_layers = 0;
    CHECK_THROWS_WITH_AS(generate_trace(o), "--num-layers (0) must be 1..100000", Error);
    o = {};
    o.num_experts = 0;
    CHECK_THROWS_WITH_AS(generate_trace(o), "--num-experts (0) must be 1..2^20", Error);
    o = {};
    o.num_steps = 0;
    CHECK_THROWS_WITH_AS(generate_trace(o), "--num-steps (0) must be at least 1", Error);
    // tokens x top_k would overflow int64.
    o = {};
    o.tokens_per_step = int64_t{1} << 62;
    CHECK_THROWS_WITH_AS(generate_trace(o), "--tokens (4611686018427387904) must be 0..2^40", Error);
}
