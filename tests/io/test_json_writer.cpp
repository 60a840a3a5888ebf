// The streaming JSON writer against nlohmann's DOM dump: the same bytes for numbers, strings and
// whole placement, evaluation and trace documents (the writers used a DOM before they streamed).
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "eplb/gen_trace.h"
#include "eplb/metrics.h"
#include "eplb/migration.h"
#include "eplb/policy.h"
#include "eplb_config.h"
#include "io/json_writer.h"
#include "io/placement_io.h"
#include "io/trace_io.h"
#include "tests/test_util.h"

using namespace eplb;
using namespace eplb::io;
using ojson = nlohmann::ordered_json;

namespace {

template <typename F>
std::string written(F&& f) {
    std::ostringstream out;
    JsonWriter w(out);
    f(w);
    w.finish();
    return out.str();
}

// The DOM writers as they were before streaming: the reference the bytes must match.
ojson reference_rows(const IndexMatrix& m) {
    ojson rows = ojson::array();
    for (Eigen::Index r = 0; r < m.rows(); ++r) {
        rows.push_back(std::vector<int32_t>(m.row(r).data(), m.row(r).data() + m.cols()));
    }
    return rows;
}

ojson reference_metrics(const Metrics& m, const std::vector<int>& layer_ids) {
    ojson j;
    j["balancedness"] = m.balancedness;
    j["mean_layer_balancedness"] = m.mean_layer_balancedness;
    j["imbalance"] = m.imbalance;
    j["gap"] = m.gap;
    j["mean_gap"] = m.mean_gap;
    j["max_gap"] = m.max_gap;
    j["worst_layer"] = layer_ids.empty() ? m.worst_layer : layer_ids[m.worst_layer];
    j["duplicate_pairs"] = m.duplicate_pairs;
    ojson layers = ojson::array();
    for (size_t l = 0; l < m.layers.size(); ++l) {
        const LayerMetrics& lm = m.layers[l];
        ojson o;
        o["layer"] = layer_ids.empty() ? static_cast<int>(l) : layer_ids[l];
        o["total_load"] = lm.total_load;
        o["mean_gpu_load"] = lm.mean_gpu_load;
        o["max_gpu_load"] = lm.max_gpu_load;
        o["max_gpu"] = lm.max_gpu;
        o["balancedness"] = lm.balancedness;
        o["imbalance"] = lm.imbalance;
        o["lower_bound"] = lm.lower_bound;
        o["gap"] = lm.gap;
        o["duplicate_gpus"] = lm.duplicate_gpus;
        o["gpu_loads"] =
            std::vector<double>(m.gpu_loads.row(l).data(), m.gpu_loads.row(l).data() + m.gpu_loads.cols());
        o["node_loads"] =
            std::vector<double>(m.node_loads.row(l).data(), m.node_loads.row(l).data() + m.node_loads.cols());
        layers.push_back(std::move(o));
    }
    j["per_layer"] = std::move(layers);
    return j;
}

std::string reference_placement(const PlacementDoc& d, const Metrics* metrics,
                                const MigrationStats* migration) {
    ojson j;
    j["schema"] = "eplb.placement/v1";
    j["tool"] = {{"name", "eplb"}, {"version", EPLB_VERSION}};
    ojson inputs = ojson::object();
    if (!d.trace_source.empty()) inputs["trace"] = d.trace_source;
    if (!d.config_source.empty()) inputs["config"] = d.config_source;
    if (!d.backend.empty()) inputs["backend"] = d.backend;
    j["inputs"] = inputs;
    if (!d.model.empty()) j["model"] = d.model;
    const ParallelConfig& c = d.config;
    j["config"] = {{"num_logical_experts", c.num_logical_experts},
                   {"num_physical_experts", c.num_physical_experts},
                   {"num_redundant_experts", c.num_redundant_experts()},
                   {"num_groups", c.num_groups},
                   {"num_nodes", c.num_nodes},
                   {"num_gpus", c.num_gpus}};
    if (d.expert_bytes > 0) j["config"]["expert_bytes"] = d.expert_bytes;
    j["policy"] = d.policy;
    j["policy_taken"] = c.hierarchical() ? "hierarchical" : "global";
    j["layers"] = d.layer_ids;
    j["phy2log"] = reference_rows(d.placement.phy2log);
    const int w = d.placement.max_replicas();
    const IndexMatrix l2p = d.placement.log2phy();
    ojson log2phy = ojson::array();
    for (int l = 0; l < d.placement.num_layers(); ++l) {
        ojson layer = ojson::array();
        for (int e = 0; e < d.placement.num_experts(); ++e) {
            const int32_t* p = l2p.row(l).data() + static_cast<size_t>(e) * w;
            layer.push_back(std::vector<int32_t>(p, p + w));
        }
        log2phy.push_back(std::move(layer));
    }
    j["log2phy"] = std::move(log2phy);
    j["logcnt"] = reference_rows(d.placement.logcnt);
    if (metrics) j["metrics"] = reference_metrics(*metrics, d.layer_ids);
    if (migration) {
        j["migration"] = {{"experts_moved", migration->experts_moved},
                          {"intra_node", migration->intra_node},
                          {"inter_node", migration->inter_node},
                          {"bytes_moved", migration->bytes_moved},
                          {"intra_node_bytes", migration->intra_node_bytes},
                          {"inter_node_bytes", migration->inter_node_bytes},
                          {"received_per_gpu", migration->received_per_gpu},
                          {"moved_per_layer", migration->moved_per_layer}};
    }
    return j.dump() + "\n";
}

}  // namespace

TEST_CASE("numbers: the digits nlohmann's dump() gives, for every kind of double and integer") {
    Rng rng(11);
    std::vector<double> values = {0.0,
                                  -0.0,
                                  1.0,
                                  -1.5,
                                  0.1,
                                  1e-5,
                                  1e-4,
                                  123456789012345.0,
                                  1234567890123456.0,
                                  1e16,
                                  1e22,
                                  5e-324,
                                  std::numeric_limits<double>::max(),
                                  std::numeric_limits<double>::min(),
                                  static_cast<double>(3.4028235e38f),
                                  static_cast<double>(0.1f)};
    for (int i = 0; i < 20000; ++i) {
        uint64_t bits = rng.next();
        double d;
        std::memcpy(&d, &bits, sizeof d);
        if (std::isfinite(d)) values.push_back(d);
        values.push_back(rng.uniform() * std::pow(10.0, static_cast<int>(rng.next() % 40) - 20));
        values.push_back(static_cast<double>(static_cast<float>(rng.uniform() * 1e6)));
    }
    for (double v : values) {
        INFO("value bits of " << v);
        CHECK(written([&](JsonWriter& w) { w.value(v); }) == nlohmann::json(v).dump() + "\n");
    }
    // Non-finite doubles are null, as in dump().
    CHECK(written([](JsonWriter& w) { w.value(std::nan("")); }) == "null\n");
    CHECK(written([](JsonWriter& w) { w.value(-std::numeric_limits<double>::infinity()); }) == "null\n");
    for (int64_t v : {int64_t{0}, int64_t{-1}, std::numeric_limits<int64_t>::min(),
                      std::numeric_limits<int64_t>::max()}) {
        CHECK(written([&](JsonWriter& w) { w.value(v); }) == nlohmann::json(v).dump() + "\n");
    }
    CHECK(written([](JsonWriter& w) { w.value(std::numeric_limits<uint64_t>::max()); }) ==
          "18446744073709551615\n");
}

TEST_CASE("strings and nesting: escapes, invalid UTF-8 replaced instead of throwing") {
    const std::string text = "a\"b\\c\n\t\x01 é €";
    CHECK(written([&](JsonWriter& w) { w.value(text); }) == nlohmann::json(text).dump() + "\n");
    // dump() would throw on these bytes (a path from argv can hold any): U+FFFD instead.
    CHECK(written([](JsonWriter& w) { w.value(std::string("x\xff")); }) == "\"x\xef\xbf\xbd\"\n");
    const std::string doc = written([](JsonWriter& w) {
        w.begin_object();
        w.key("a");
        w.begin_array();
        w.begin_array();
        w.end_array();
        w.begin_object();
        w.end_object();
        w.value(true);
        w.end_array();
        w.key("b\"");
        w.begin_object();
        w.key("c");
        w.value(2);
        w.key("d");
        w.array(std::vector<int>{1, 2, 3});
        w.end_object();
        w.end_object();
    });
    CHECK(doc == R"({"a":[[],{},true],"b\"":{"c":2,"d":[1,2,3]}})"
                 "\n");
}

TEST_CASE("placement documents are byte-identical to the DOM writer's") {
    Rng rng(5);
    for (int trial = 0; trial < 40; ++trial) {
        const int gpus = 1 + static_cast<int>(rng.next() % 8);
        const int nodes = gpus % 2 == 0 && rng.next() % 2 ? 2 : 1;
        const int groups = 1 + static_cast<int>(rng.next() % 4);
        const int experts = groups * (1 + static_cast<int>(rng.next() % 12));
        const int slots = gpus * ((experts + gpus - 1) / gpus + static_cast<int>(rng.next() % 3));
        const int layers = 1 + static_cast<int>(rng.next() % 5);
        PlacementDoc d;
        d.config = ParallelConfig{experts, slots, groups, nodes, gpus};
        const LoadMatrix load = test::random_loads(rng, layers, experts);
        d.placement = plan_deepseek(load, d.config);
        for (int l = 0; l < layers; ++l) d.layer_ids.push_back(3 + 2 * l);
        d.expert_bytes = trial % 3 == 0 ? 0 : 44040192;
        d.backend = trial % 2 ? "cpu" : "";
        d.trace_source = trial % 4 ? "traces/x \"y\".json" : "";
        d.config_source = trial % 5 ? "c.json" : "";
        d.model = trial % 3 ? "DeepSeek-V3" : "";
        const Metrics m = evaluate(d.placement.phy2log, load, d.config);
        const IndexMatrix other = plan_deepseek(test::random_loads(rng, layers, experts), d.config).phy2log;
        const MigrationStats mig = count_migration(other, d.placement.phy2log, d.config, d.expert_bytes);
        INFO("trial " << trial);
        CHECK(placement_to_json(d, nullptr, nullptr) == reference_placement(d, nullptr, nullptr));
        CHECK(placement_to_json(d, &m, nullptr) == reference_placement(d, &m, nullptr));
        CHECK(placement_to_json(d, &m, &mig) == reference_placement(d, &m, &mig));
        ojson e;
        e["schema"] = "eplb.evaluation/v1";
        e["tool"] = {{"name", "eplb"}, {"version", EPLB_VERSION}};
        e["placement"] = "p.json";
        e["trace"] = "t.npy";
        e["metrics"] = reference_metrics(m, d.layer_ids);
        CHECK(evaluation_to_json("p.json", "t.npy", m, d.layer_ids) == e.dump() + "\n");
    }
}

TEST_CASE("trace documents are byte-identical to the DOM writer's") {
    GenTraceOptions g;
    g.num_layers = 3;
    g.first_layer_id = 2;
    g.num_experts = 9;
    g.num_steps = 3;
    g.top_k = 2;
    g.drift = 0.4;
    LoadTrace t = generate_trace(g);
    t.values[4] = 0.1f;
    t.values[5] = 3.4e38f;
    t.values[6] = 1e-30f;
    t.model = "m";
    ojson j;
    j["schema"] = "eplb.trace/v1";
    j["model"] = t.model;
    j["layers"] = t.layer_ids;
    ojson load = ojson::array();
    for (int s = 0; s < t.num_steps; ++s) {
        ojson step = ojson::array();
        for (int l = 0; l < t.num_layers; ++l) {
            const float* row = t.step_data(s) + static_cast<size_t>(l) * t.num_experts;
            step.push_back(std::vector<float>(row, row + t.num_experts));
        }
        load.push_back(std::move(step));
    }
    j["load"] = std::move(load);
    CHECK(trace_to_json(t) == j.dump() + "\n");
}
