// Every trace reader, round trips through every writer, and the error paths with their messages.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "eplb/error.h"
#include "eplb/gen_trace.h"
#include "io/trace_io.h"
#include "tests/test_util.h"

using namespace eplb;
using namespace eplb::io;
using eplb::test::error_of;

TEST_CASE("SGLang logical_count [L][E] and [T][L][E]") {
    LoadTrace a = parse_trace_json(R"({"logical_count": [[1, 2.5, 0], [4, 5, 6]]})", "a.json");
    CHECK(a.num_steps == 1);
    CHECK(a.num_layers == 2);
    CHECK(a.num_experts == 3);
    CHECK(a.values == std::vector<float>{1, 2.5f, 0, 4, 5, 6});
    CHECK(a.layer_ids == std::vector<int>{0, 1});
    LoadTrace b = parse_trace_json(R"({"logical_count": [[[1, 2]], [[3, 4]], [[5, 6]]]})", "b.json");
    CHECK(b.num_steps == 3);
    CHECK(b.num_layers == 1);
    CHECK(b.sum_steps(0, 3)(0, 1) == 12.0f);
}

TEST_CASE("vLLM load_history and the native format") {
    LoadTrace v = parse_trace_json(
        R"({"load_history": [{"logical_expert_load": [[1, 2], [3, 4]]}, {"logical_expert_load": [[5, 6], [7, 8]]}]})",
        "v.json");
    CHECK(v.num_steps == 2);
    CHECK(v.step(1)(1, 0) == 7.0f);
    LoadTrace n = parse_trace_json(
        R"({"schema": "eplb.trace/v1", "model": "m", "layers": [3, 4], "load": [[[1, 2], [3, 4]]]})",
        "n.json");
    CHECK(n.layer_ids == std::vector<int>{3, 4});
    CHECK(n.model == "m");
}

TEST_CASE("round trips: JSON, CSV and .npy give back the same trace") {
    GenTraceOptions g;
    g.num_layers = 3;
    g.first_layer_id = 5;
    g.num_experts = 7;
    g.top_k = 2;
    g.num_steps = 4;
    g.drift = 0.2;
    LoadTrace t = generate_trace(g);
    t.values[3] = 0.25f;  // a fraction survives every format
    t.model = "gen";
    const LoadTrace j = parse_trace_json(trace_to_json(t), "t.json");
    CHECK(j.values == t.values);
    CHECK(j.layer_ids == t.layer_ids);
    CHECK(j.model == "gen");
    const LoadTrace c = parse_trace_csv(trace_to_csv(t), "t.csv");
    CHECK(c.values == t.values);
    CHECK(c.layer_ids == t.layer_ids);
    const LoadTrace n = parse_trace_npy(trace_to_npy(t), "t.npy");
    CHECK(n.values == t.values);
    CHECK(n.num_steps == 4);
    CHECK(n.num_layers == 3);
}

TEST_CASE("files: write_trace by extension, read_trace back") {
    const auto dir = std::filesystem::temp_directory_path() / "eplb_test_trace_io";
    std::filesystem::create_directories(dir);
    GenTraceOptions g;
    g.num_layers = 2;
    g.num_experts = 4;
    g.top_k = 2;
    const LoadTrace t = generate_trace(g);
    for (const char* ext : {"json", "csv", "npy"}) {
        const std::string path = (dir / (std::string("t.") + ext)).string();
        write_trace(t, path);
        CHECK(read_trace(path).values == t.values);
    }
    CHECK(error_of([&] { write_trace(t, (dir / "t.txt").string()); }).find("unknown trace format '.txt'") !=
          std::string::npos);
    CHECK(!std::filesystem::exists(dir / "t.txt"));
    std::filesystem::remove_all(dir);
}

TEST_CASE("JSON errors name the file and the key or row") {
    CHECK(error_of([] { parse_trace_json("{\"logical_count\": [[1, 2], [3]]}", "r.json"); }) ==
          "r.json: logical_count[1] has 1 entries, expected 2 (rows must all have the same length)");
    CHECK(error_of([] { parse_trace_json("{\"logical_count\": [[1, -2]]}", "n.json"); }) ==
          "n.json: logical_count[0][1] is -2: loads must be finite and >= 0");
    CHECK(error_of([] { parse_trace_json("{\"logical_count\": [[1, \"x\"]]}", "s.json"); }) ==
          "s.json: logical_count[0][1] is \"x\", expected a number");
    CHECK(error_of([] { parse_trace_json("{\"counts\": [[1]]}", "k.json"); }) ==
          "k.json: no trace found: expected key \"logical_count\", \"load_history\" or \"schema\", found "
          "{counts}");
    CHECK(error_of([] {
              parse_trace_json("{\"logical_count\": [[1, 2]", "t.json");
          }).rfind("t.json: not valid JSON", 0) == 0);
    CHECK(error_of([] {
              parse_trace_json("{\"logical_count\": []}", "e.json");
          }).find("e.json: logical_count") == 0);
    CHECK(error_of([] { parse_trace_json("{\"logical_count\": [[1e39]]}", "h.json"); }).find("too large") !=
          std::string::npos);
    CHECK(error_of([] { parse_trace_json("[1, 2]", "a.json"); }).rfind("a.json: expected a JSON object", 0) ==
          0);
    CHECK(error_of([] { parse_trace_json(R"({"schema": "other/v1", "load": []})", "o.json"); }) ==
          "o.json: schema is \"other/v1\", expected \"eplb.trace/v1\"");
}

TEST_CASE("CSV and .npy errors") {
    CHECK(error_of([] { parse_trace_csv("step,layer,expert,load\n0,0,0,1\n0,0,0,2\n", "d.csv"); }) ==
          "d.csv: step 0, layer 0, expert 0 appears twice");
    CHECK(error_of([] { parse_trace_csv("step,layer,expert,load\n0,0,x,1\n", "x.csv"); }) ==
          "x.csv: line 2: expert 'x' is not an integer in [0, 2^24)");
    CHECK(error_of([] { parse_trace_csv("0,0,0,nan\n", "n.csv"); }) ==
          "n.csv: line 1: load nan must be finite and >= 0");
    CHECK(error_of([] { parse_trace_csv("0,0,1\n", "f.csv"); }) ==
          "f.csv: line 1: expected 4 fields step,layer,expert,load, got 3");
    CHECK(error_of([] { parse_trace_csv("", "e.csv"); }) ==
          "e.csv: no rows (expected step,layer,expert,load lines)");
    CHECK(error_of([] { parse_trace_npy("not numpy", "a.npy"); }) == "a.npy: not a .npy file (bad magic)");
    LoadTrace t;
    t.num_steps = 1;
    t.num_layers = 1;
    t.num_experts = 2;
    t.values = {1, 2};
    t.layer_ids = {0};
    std::string bytes = trace_to_npy(t);
    CHECK(error_of([&] {
              parse_trace_npy(bytes.substr(0, bytes.size() - 1), "cut.npy");
          }).find("cut.npy: .npy data is 7 bytes, the header promises 8") == 0);
}

TEST_CASE("read_trace: missing file, directory, empty file") {
    CHECK(error_of([] { read_trace("/nonexistent/x.json"); }) == "/nonexistent/x.json: no such file");
    const auto dir = std::filesystem::temp_directory_path();
    // A directory is read as TensorRT-LLM statistics; one without meta_info.json says what it lacks.
    CHECK(error_of([&] { read_trace(dir.string()); }) ==
          dir.string() +
              ": a directory trace must be a TensorRT-LLM expert-statistics dump (meta_info.json + "
              "rank*.safetensors), but it has no meta_info.json");
    const auto empty = dir / "eplb_empty_trace.json";
    std::ofstream(empty).close();
    CHECK(error_of([&] { read_trace(empty.string()); }) == empty.string() + ": empty file");
    std::filesystem::remove(empty);
}

TEST_CASE("real SGLang traces parse with 61 layers x 256 experts") {
    const std::string dir = test::shared_traces_dir();
    if (dir.empty()) {
        MESSAGE("../shared/traces absent: skipped");
        return;
    }
    int files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().extension() != ".json") continue;
        const LoadTrace t = read_trace(entry.path().string());
        CHECK(t.num_layers == 61);
        CHECK(t.num_experts == 256);
        CHECK(t.step(0).row(0).sum() == 0.0f);  // dense layer
        CHECK(t.step(0).row(3).sum() > 0.0f);
        ++files;
    }
    CHECK(files == 12);
}
