// The synthetic trace generator: deterministic, exact row sums, skew, validation.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

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
    CHECK_THROWS_WITH_AS(generate_trace(o), "--tokens (4611686018427387904) must be in [0, 2^40]", Error);
}

TEST_CASE("streamed step by step equals the materialised trace; skipped steps are generated") {
    GenTraceOptions o;
    o.num_layers = 4;
    o.num_experts = 32;
    o.num_steps = 12;
    o.drift = 0.05;
    o.switch_every = 5;
    const LoadTrace whole = generate_trace(o);
    TraceGenerator g(o);
    CHECK(g.num_steps() == 12);
    CHECK(g.layer_ids() == std::vector<int>{0, 1, 2, 3});
    std::vector<float> step(4 * 32);
    g.load_step(0, step.data());
    CHECK(std::equal(step.begin(), step.end(), whole.step_data(0)));
    g.load_step(7, step.data());  // steps 1..6 generated and dropped
    CHECK(std::equal(step.begin(), step.end(), whole.step_data(7)));
    CHECK_THROWS_AS(g.load_step(3, step.data()), Error);  // no going back
}

TEST_CASE("a layer's rows depend on its model layer id, not on the other layers generated") {
    GenTraceOptions all;
    all.num_layers = 10;
    all.num_experts = 16;
    all.num_steps = 4;
    all.drift = 0.1;
    GenTraceOptions some = all;
    some.layer_ids = {3, 4, 5};
    some.num_layers = 3;
    const LoadTrace a = generate_trace(all), b = generate_trace(some);
    CHECK(b.layer_ids == std::vector<int>{3, 4, 5});
    for (int t = 0; t < 4; ++t) {
        CHECK(std::equal(b.step_data(t), b.step_data(t) + 3 * 16, a.step_data(t) + 3 * 16));
    }
}

namespace {
// The `count` experts with the most load in steps [first, end) of layer 0, sorted.
std::vector<int> hottest(const LoadTrace& t, int first, int end, int count) {
    std::vector<double> sum(t.num_experts, 0.0);
    for (int s = first; s < end; ++s) {
        for (int e = 0; e < t.num_experts; ++e) sum[e] += t.step_data(s)[e];
    }
    std::vector<int> order(t.num_experts);
    for (int e = 0; e < t.num_experts; ++e) order[e] = e;
    std::sort(order.begin(), order.end(), [&](int x, int y) { return sum[x] > sum[y]; });
    order.resize(count);
    std::sort(order.begin(), order.end());
    return order;
}
}  // namespace

TEST_CASE("regime switches reshuffle the hot experts every K steps; fraction 0 changes nothing") {
    GenTraceOptions o;
    o.num_layers = 1;
    o.num_experts = 64;
    o.num_steps = 30;
    o.skew = 1.5;
    o.tokens_per_step = 1 << 16;
    const LoadTrace steady = generate_trace(o);
    CHECK(hottest(steady, 0, 10, 4) == hottest(steady, 10, 20, 4));
    o.switch_every = 10;
    o.switch_fraction = 1.0;
    const LoadTrace switching = generate_trace(o);
    // Before the first switch the series is the steady one.
    CHECK(std::equal(switching.step_data(0), switching.step_data(10), steady.step_data(0)));
    CHECK(hottest(switching, 0, 10, 4) != hottest(switching, 10, 20, 4));
    CHECK(hottest(switching, 10, 20, 4) != hottest(switching, 20, 30, 4));
    for (int t = 0; t < 30; ++t) {
        const LoadMatrix m = switching.step(t);
        CHECK(m.cast<double>().sum() == 8.0 * (1 << 16));
    }
    o.switch_fraction = 0.0;
    CHECK(generate_trace(o).values == steady.values);
}

TEST_CASE("a mixture of workloads: each step samples the current one, switching in order or at random") {
    GenTraceOptions o;
    o.num_steps = 12;
    o.tokens_per_step = 100;
    o.top_k = 1;
    o.switch_every = 3;
    LoadMatrix a(2, 4), b(2, 4), c(2, 4);
    a << 5, 0, 0, 0, 0, 0, 0, 0;  // layer 1 has no load (a dense layer)
    b << 0, 0, 0, 2, 0, 0, 0, 0;
    c << 0, 1, 1, 0, 0, 0, 0, 0;
    o.workloads = {a, b, c};
    o.layer_ids = {3, 4};
    const LoadTrace t = generate_trace(o);
    CHECK(t.num_layers == 2);
    CHECK(t.num_experts == 4);
    CHECK(t.layer_ids == std::vector<int>{3, 4});
    const int expected_workload[12] = {0, 0, 0, 1, 1, 1, 2, 2, 2, 0, 0, 0};
    for (int s = 0; s < 12; ++s) {
        CAPTURE(s);
        const LoadMatrix m = t.step(s);
        CHECK(m.row(1).sum() == 0.0f);
        CHECK(m.row(0).sum() == 100.0f);
        switch (expected_workload[s]) {
            case 0:
                CHECK(m(0, 0) == 100.0f);
                break;
            case 1:
                CHECK(m(0, 3) == 100.0f);
                break;
            default:
                CHECK(m(0, 1) + m(0, 2) == 100.0f);
                CHECK(m(0, 1) > 20.0f);
                CHECK(m(0, 2) > 20.0f);
        }
    }
    // Random order: a switch always moves to another workload.
    o.switch_random = true;
    o.num_steps = 300;
    TraceGenerator g(o);
    std::vector<float> step(8);
    int previous = -1, switches = 0;
    for (int s = 0; s < 300; ++s) {
        g.load_step(s, step.data());
        if (s % 3 == 0 && s > 0) {
            CHECK(g.current_workload() != previous);
            ++switches;
        }
        previous = g.current_workload();
    }
    CHECK(switches == 99);
}

TEST_CASE("mixture rows must agree in shape; new options are checked") {
    GenTraceOptions o;
    o.workloads = {LoadMatrix::Ones(2, 4), LoadMatrix::Ones(3, 4)};
    CHECK_THROWS_WITH_AS(generate_trace(o), "workload 1 is 3x4 but workload 0 is 2x4 (layers x experts)",
                         Error);
    o = {};
    o.switch_fraction = 2;
    CHECK_THROWS_WITH_AS(generate_trace(o), "--switch-fraction (2) must be in [0, 1]", Error);
    o = {};
    o.flag_prefix = "--gen-";
    o.num_steps = 0;
    CHECK_THROWS_WITH_AS(generate_trace(o), "--gen-num-steps (0) must be at least 1", Error);
}

TEST_CASE("the samplers: standard normal moments, exact small binomials") {
    Rng rng(3);
    double sum = 0, sq = 0;
    const int n = 1 << 20;
    for (int i = 0; i < n; ++i) {
        const double z = rng.normal();
        sum += z;
        sq += z * z;
    }
    CHECK(std::abs(sum / n) < 0.005);
    CHECK(std::abs(sq / n - 1.0) < 0.01);
    double total = 0;
    for (int i = 0; i < 100000; ++i) {
        const int64_t k = rng.binomial(50, 0.1);  // mean 5: the exact inversion
        CHECK(k >= 0);
        CHECK(k <= 50);
        total += static_cast<double>(k);
    }
    CHECK(std::abs(total / 100000 - 5.0) < 0.05);
    CHECK(rng.binomial(10, 0.0) == 0);
    CHECK(rng.binomial(10, 1.0) == 10);
}

TEST_CASE("many steps at once (layers spread over the cores) equal one step at a time") {
    GenTraceOptions o;  // 58 x 256: big enough for the threaded path
    o.num_steps = 9;
    o.drift = 0.05;
    o.switch_every = 4;
    const LoadTrace whole = generate_trace(o);  // one load_steps call
    TraceGenerator g(o);
    std::vector<float> step(58 * 256);
    for (int t = 0; t < 9; ++t) {
        g.load_step(t, step.data());
        CHECK(std::equal(step.begin(), step.end(), whole.step_data(t)));
    }
    TraceGenerator skip(o);
    std::vector<float> tail(3 * 58 * 256);
    skip.load_steps(6, 3, tail.data());  // steps 0..5 dropped on the way
    CHECK(std::equal(tail.begin(), tail.end(), whole.step_data(6)));
}
