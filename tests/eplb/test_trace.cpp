// LoadTrace helpers: ranges, layer selection, step sums, validation.
#include <doctest/doctest.h>

#include <cmath>
#include <optional>

#include "eplb/error.h"
#include "eplb/trace.h"

using namespace eplb;

namespace {
LoadTrace small_trace() {
    LoadTrace t;
    t.num_steps = 3;
    t.num_layers = 4;
    t.num_experts = 2;
    t.layer_ids = {3, 4, 5, 6};
    for (int i = 0; i < 24; ++i) t.values.push_back(static_cast<float>(i));
    return t;
}
}  // namespace

TEST_CASE("parse_range") {
    CHECK(parse_range("3:61", "--layers").first == 3);
    CHECK(parse_range("3:61", "--layers").end == 61);
    CHECK(parse_range(":5", "--layers").first == 0);
    CHECK(parse_range("2:", "--layers").end == -1);
    CHECK_THROWS_WITH_AS(parse_range("5:5", "--layers"), "--layers '5:5' is empty: A must be below B", Error);
    CHECK_THROWS_AS(parse_range("x:3", "--layers"), Error);
    CHECK_THROWS_AS(parse_range("7", "--steps"), Error);
    CHECK_THROWS_AS(parse_range("-1:3", "--steps"), Error);
}

TEST_CASE("select_layers by model layer id") {
    const LoadTrace t = small_trace();
    const LoadTrace s = select_layers(t, {4, 6});
    CHECK(s.num_layers == 2);
    CHECK(s.layer_ids == std::vector<int>{4, 5});
    CHECK(s.step(1)(0, 0) == 10.0f);  // step 1, layer id 4 (row 1), expert 0
    CHECK_THROWS_WITH_AS(select_layers(t, {0, 9}), "--layers 0:9 is outside the trace's layers 3:7", Error);
    CHECK_THROWS_AS(select_layers(t, {10, -1}), Error);
}

TEST_CASE("the layer-id rule: --first-layer, else moe_layers by row count, else none") {
    LoadTrace idless = small_trace();
    idless.layer_ids = {0, 1, 2, 3};
    idless.has_layer_ids = false;
    const std::optional<Range> deepseek_like = Range{3, 7};  // 4 MoE layers after 3 dense ones
    {
        LoadTrace t = idless;  // row count = the MoE layers: ids first..end-1, with a note
        const std::string note = resolve_layer_ids(t, std::nullopt, deepseek_like, "t.npy");
        CHECK(t.layer_ids == std::vector<int>{3, 4, 5, 6});
        CHECK(t.has_layer_ids);
        CHECK(note ==
              "note: t.npy has no layer ids: its 4 rows are taken as the MoE layers 3..6 of moe_layers (pass "
              "--first-layer N to say otherwise)");
    }
    {
        LoadTrace t = idless;  // row count = end: a row per model layer, ids 0..end-1
        const std::string note = resolve_layer_ids(t, std::nullopt, Range{2, 4}, "t.npy");
        CHECK(t.layer_ids == std::vector<int>{0, 1, 2, 3});
        CHECK(t.has_layer_ids);
        CHECK(note.find("rows are taken as model layers 0..3") != std::string::npos);
    }
    {
        LoadTrace t = idless;  // --first-layer wins over the config, without a note
        CHECK(resolve_layer_ids(t, 10, deepseek_like, "t.npy").empty());
        CHECK(t.layer_ids == std::vector<int>{10, 11, 12, 13});
        CHECK(t.has_layer_ids);
    }
    {
        LoadTrace t = idless;  // nothing matches: rows stay 0..L-1, without ids
        CHECK(resolve_layer_ids(t, std::nullopt, Range{3, 61}, "t.npy").empty());
        CHECK(t.layer_ids == std::vector<int>{0, 1, 2, 3});
        CHECK_FALSE(t.has_layer_ids);
        CHECK(resolve_layer_ids(t, std::nullopt, std::nullopt, "t.npy").empty());
        CHECK_FALSE(t.has_layer_ids);
        // ...so what needs model layers is a usage error naming the flag, and --layers names rows.
        try {
            require_model_layer_ids(t, "t.npy", "--export sglang");
            FAIL("no error");
        } catch (const Error& e) {
            CHECK(e.kind() == ErrorKind::kUsage);
            CHECK(e.exit_code() == 2);
            CHECK(std::string(e.what()).find("t.npy: --export sglang needs model layer ids") == 0);
            CHECK(std::string(e.what()).find("pass --first-layer N") != std::string::npos);
        }
        CHECK(select_layers(t, {1, 3}).layer_ids == std::vector<int>{1, 2});
        CHECK_FALSE(select_layers(t, {1, 3}).has_layer_ids);
        CHECK_THROWS_WITH_AS(select_layers(t, {3, 61}),
                             "--layers 3:61 is outside the trace's layers 0:4 (it has no layer ids, so its "
                             "rows are numbered from 0: pass --first-layer N to number them from model "
                             "layer N)",
                             Error);
    }
    {
        LoadTrace t = small_trace();  // a trace with ids keeps them; --first-layer on it is refused
        CHECK(resolve_layer_ids(t, std::nullopt, Range{0, 4}, "t.csv").empty());
        CHECK(t.layer_ids == std::vector<int>{3, 4, 5, 6});
        CHECK_NOTHROW(require_model_layer_ids(t, "t.csv", "--export trtllm"));
        try {
            resolve_layer_ids(t, 0, std::nullopt, "t.csv");
            FAIL("no error");
        } catch (const Error& e) {
            CHECK(e.kind() == ErrorKind::kUsage);
            CHECK(std::string(e.what()) ==
                  "t.csv: --first-layer is for traces without layer ids, but this one names its layers "
                  "(3..6): drop --first-layer");
        }
    }
}

TEST_CASE("fold_physical_slots: each slot's load to the expert it holds, rows by position or id") {
    LoadTrace phys;  // 2 steps x 2 layers x 3 slots (2 experts, expert 0 or 1 replicated)
    phys.num_steps = 2;
    phys.num_layers = 2;
    phys.num_experts = 3;
    phys.layer_ids = {0, 1};
    phys.has_layer_ids = false;
    phys.values = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048};
    IndexMatrix map(2, 3);
    map << 0, 1, 0,  //
        1, 0, 1;
    const LoadTrace logical = fold_physical_slots(phys, map, {3, 4}, 2, "m.json");
    CHECK(logical.num_experts == 2);
    CHECK(logical.values == std::vector<float>{5, 2, 16, 40, 320, 128, 1024, 2560});
    CHECK_FALSE(logical.has_layer_ids);
    CHECK(logical.layer_ids == std::vector<int>{0, 1});
    // A map of other layers matches a trace with ids by id; without ids it cannot.
    IndexMatrix three(3, 3);
    three << 1, 1, 0,  //
        0, 1, 0,       //
        1, 0, 1;
    LoadTrace with_ids = phys;
    with_ids.layer_ids = {3, 4};
    with_ids.has_layer_ids = true;
    const LoadTrace by_id = fold_physical_slots(with_ids, three, {2, 3, 4}, 2, "m.json");
    CHECK(by_id.values == fold_physical_slots(phys, map, {}, 2, "m.json").values);
    CHECK_THROWS_WITH_AS(fold_physical_slots(phys, three, {2, 3, 4}, 2, "m.json"),
                         "m.json: the map has 3 layers but the trace 2 rows without layer ids: rows are "
                         "matched by position only when the counts are equal",
                         Error);
    CHECK_THROWS_WITH_AS(fold_physical_slots(phys, IndexMatrix::Zero(2, 4), {}, 2, "m.json"),
                         "m.json: the map has 4 physical slots but the trace has 3 columns (a physical-slot "
                         "trace has one per slot)",
                         Error);
}

TEST_CASE("sum_steps") {
    const LoadTrace t = small_trace();
    const LoadMatrix s = t.sum_steps(0, 3);
    CHECK(s(0, 0) == 0.0f + 8 + 16);
    CHECK(s(3, 1) == 7.0f + 15 + 23);
    CHECK_THROWS_AS(t.sum_steps(2, 4), Error);
}

TEST_CASE("sum_steps refuses a layer total beyond float32 (the planners accumulate in float32)") {
    LoadTrace t;
    t.num_steps = 2;
    t.num_layers = 2;
    t.num_experts = 2;
    t.layer_ids = {7, 8};
    // [step][layer][expert]: step 0 = {1, 2}, {3, 4}; step 1 = {3e38, 1}, {3e38, 1}.
    t.values = {1, 2, 3, 4, 3e38f, 1, 3e38f, 1};
    CHECK(t.sum_steps(0, 1)(1, 1) == 4.0f);
    CHECK(t.sum_steps(1, 2)(0, 0) == 3e38f);
    t.values = {3e38f, 0, 1, 1, 3e38f, 0, 1, 1};  // layer 7, expert 0: 3e38 twice
    CHECK_THROWS_WITH_AS(
        t.sum_steps(0, 2),
        "layer 7 has a total load of 6e+38 over steps 0:2, more than float32 holds (3.40282e+38): "
        "scale the loads down",
        Error);
    t.values = {2e38f, 2e38f, 1, 1, 0, 0, 1, 1};  // one step, but layer 7 sums to 4e38
    CHECK_THROWS_WITH_AS(
        t.sum_steps(0, 1),
        "layer 7 has a total load of 4e+38 over steps 0:1, more than float32 holds (3.40282e+38): "
        "scale the loads down",
        Error);
}

TEST_CASE("messages quote arguments on one line") {
    CHECK(printable("a\nb\x1b") == "a\\x0ab\\x1b");
    CHECK(printable(std::string(50, 'x'), 10) == "xxxxxxxxxx...");
    CHECK_THROWS_WITH_AS(parse_range("1\n2", "--layers"), "--layers '1\\x0a2' is not a range A:B (e.g. 3:61)",
                         Error);
    // The range's name comes from the caller: a config's moe_layers is not a flag.
    CHECK_THROWS_WITH_AS(select_layers(small_trace(), {0, 9}, "moe_layers of c.json"),
                         "moe_layers of c.json 0:9 is outside the trace's layers 3:7", Error);
}

TEST_CASE("validate_trace names the step, layer and expert") {
    LoadTrace t = small_trace();
    t.values[8 + 3] = -2;  // step 1, row 1 (layer id 4), expert 1
    CHECK_THROWS_WITH_AS(validate_trace(t, "x.json"),
                         "x.json: load at step 1, layer 4, expert 1 is -2: loads must be finite and >= 0",
                         Error);
    t.values[8 + 3] = std::numeric_limits<float>::infinity();
    CHECK_THROWS_AS(validate_trace(t, "x.json"), Error);
}

TEST_CASE("load_digest: the same load gives the same digest whatever the row order; any change another") {
    LoadMatrix load(2, 3);
    load << 1, 2, 3, 4, 5, 6;
    const std::string d = load_digest(load, {3, 4});
    CHECK(d.rfind("fnv1a64:", 0) == 0);
    CHECK(d.size() == 8 + 16);
    CHECK(load_digest(load, {3, 4}) == d);
    LoadMatrix swapped(2, 3);
    swapped << 4, 5, 6, 1, 2, 3;
    CHECK(load_digest(swapped, {4, 3}) == d);  // rows matched by layer id
    CHECK(load_digest(load, {3, 5}) != d);     // other layers
    LoadMatrix other = load;
    other(1, 2) = std::nextafter(6.0f, 7.0f);  // one float32 bit
    CHECK(load_digest(other, {3, 4}) != d);
    CHECK(load_digest(load.topRows(1), {3}) != d);
    // Pinned (computed independently in Python: FNV-1a 64 over the little-endian u32 shape, ids and
    // float32 bits): a baseline written by one build must match on another.
    CHECK(d == "fnv1a64:9ddf267531655f32");
}
