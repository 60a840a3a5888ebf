// Every trace reader, round trips through every writer, and the error paths with their messages.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>

#include "eplb/error.h"
#include "eplb/gen_trace.h"
#include "io/file_util.h"
#include "io/npy.h"
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
    CHECK(a.has_layer_ids);  // SGLang writes a row per model layer
    LoadTrace b = parse_trace_json(R"({"logical_count": [[[1, 2]], [[3, 4]], [[5, 6]]]})", "b.json");
    CHECK(b.num_steps == 3);
    CHECK(b.num_layers == 1);
    CHECK(b.sum_steps(0, 3)(0, 1) == 12.0f);
}

TEST_CASE("the eplb load-history JSON and the native format") {
    LoadTrace v = parse_trace_json(
        R"({"load_history": [{"logical_expert_load": [[1, 2], [3, 4]]}, {"logical_expert_load": [[5, 6], [7, 8]]}]})",
        "v.json");
    CHECK(v.num_steps == 2);
    CHECK(v.step(1)(1, 0) == 7.0f);
    CHECK_FALSE(v.has_layer_ids);  // MoE layers in order, numbered 0..L-1
    CHECK(v.layer_ids == std::vector<int>{0, 1});
    LoadTrace n = parse_trace_json(
        R"({"schema": "eplb.trace/v1", "model": "m", "layers": [3, 4], "load": [[[1, 2], [3, 4]]]})",
        "n.json");
    CHECK(n.layer_ids == std::vector<int>{3, 4});
    CHECK(n.has_layer_ids);
    CHECK(n.model == "m");
    // Without "layers" the native format has no ids either, and its writer keeps it that way.
    const LoadTrace bare = parse_trace_json(R"({"schema": "eplb.trace/v1", "load": [[[1, 2]]]})", "b.json");
    CHECK_FALSE(bare.has_layer_ids);
    CHECK(trace_to_json(bare).find("\"layers\"") == std::string::npos);
    CHECK_FALSE(parse_trace_json(trace_to_json(bare), "b2.json").has_layer_ids);
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
    CHECK(j.has_layer_ids);
    CHECK(c.has_layer_ids);
    CHECK_FALSE(n.has_layer_ids);  // .npy holds no layer ids
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
          "n.csv: line 1: load nan must be finite and >= 0, at most 3.40282e+38 (float32)");
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

namespace {
// A .npy file with the given header dict text and data bytes (version 1).
std::string npy_bytes(const std::string& dict, const std::string& data) { return npy_preamble(dict) + data; }
}  // namespace

TEST_CASE(".npy: malformed headers and values are invalid input, never another exception") {
    const std::string two_floats("\x00\x00\x80\x3f\x00\x00\x00\x40", 8);  // 1.0f, 2.0f
    // std::stoll used to throw std::invalid_argument here: an "internal error", exit 4.
    CHECK(error_of([&] {
              parse_trace_npy(
                  npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (a, 2), }", two_floats),
                  "s.npy");
          }) == "s.npy: .npy shape has a dimension 'a', expected an integer");
    CHECK(error_of([&] {
              parse_trace_npy(
                  npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999, 2), }",
                            two_floats),
                  "o.npy");
          }) == "o.npy: .npy shape has a dimension '99999999999999999999', expected an integer");
    // A version-2 header needs 4 length bytes: 10 bytes in all is cut short.
    CHECK(error_of([] { parse_trace_npy(std::string("\x93NUMPY\x02\x00\x10\x00", 10), "v2.npy"); }) ==
          "v2.npy: truncated .npy header");
    // float64 beyond float32's range becomes inf (converting it would be undefined) and is refused.
    const double big[2] = {1.0, 1e300};
    CHECK(error_of([&] {
              parse_trace_npy(npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }",
                                        std::string(reinterpret_cast<const char*>(big), 16)),
                              "b.npy");
          }) == "b.npy: load at step 0, layer 0, expert 1 is inf: loads must be finite and >= 0");
    // A control character in the dtype is escaped: the message stays on one line.
    CHECK(error_of([&] {
              parse_trace_npy(
                  npy_bytes("{'descr': '<f\n4', 'fortran_order': False, 'shape': (1, 2), }", two_floats),
                  "d.npy");
          }) ==
          "d.npy: .npy dtype '<f\\x0a4' is not supported (int32, int64, float32, float64, little-endian)");
}

TEST_CASE("CSV: sparse ids cannot make the reader allocate more than the rows justify; BOM accepted") {
    CHECK(error_of([] {
              parse_trace_csv("0,0,0,1\n60,0,16000000,1\n", "s.csv");
          }).rfind("s.csv: the trace would be 61 steps x 1 layers x 16000001 experts from only 2 rows", 0) ==
          0);
    // Up to 2^20 values whatever the row count, so small sparse files keep working.
    const LoadTrace t = parse_trace_csv("0,0,0,1\n0,0,99999,2\n", "ok.csv");
    CHECK(t.num_experts == 100000);
    CHECK(t.values[99999] == 2.0f);
    const LoadTrace b = parse_trace_csv("\xEF\xBB\xBFstep,layer,expert,load\n0,0,0,3\n", "bom.csv");
    CHECK(b.values == std::vector<float>{3});
    CHECK(error_of([] { parse_trace_csv("0,0,0,1\x1b[31m\n", "c.csv"); }) ==
          "c.csv: line 1: load '1\\x1b[31m' is not a number");
}

TEST_CASE("JSON: deeply nested values are described, not dumped (dump() recurses)") {
    const std::string deep = "{\"schema\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
    CHECK(error_of([&] { parse_trace_json(deep, "d.json"); }) ==
          "d.json: schema is an array of 1, expected \"eplb.trace/v1\"");
    const std::string deep_load =
        "{\"logical_count\": [[[1, " + std::string(50000, '[') + std::string(50000, ']') + "]]]}";
    CHECK(error_of([&] { parse_trace_json(deep_load, "l.json"); }) ==
          "l.json: logical_count[0][0][1] is an array of 1, expected a number");
}

TEST_CASE("read_text_file: FIFOs without a writer, devices and read errors") {
    const auto dir = std::filesystem::temp_directory_path() / "eplb_test_special_files";
    std::filesystem::create_directories(dir);
    const std::string fifo = (dir / "f.json").string();
    std::filesystem::remove(fifo);
    REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
    // Opening a FIFO nobody writes to would block forever: it reads as empty instead.
    CHECK(read_text_file(fifo).empty());
    CHECK(error_of([&] { read_trace(fifo); }) == fifo + ": empty file");
    CHECK(error_of([] { read_text_file("/dev/zero"); }) == "/dev/zero: is not a regular file");
    // A read that fails part way is an error, not a short file (the old stream copy ignored it).
    CHECK(error_of([] { read_text_file("/proc/self/mem"); }) ==
          "/proc/self/mem: cannot read: Input/output error");
    CHECK(error_of([] { read_text_file("/nonexistent/dir/x.json"); }) ==
          "/nonexistent/dir/x.json: no such file");
    std::filesystem::remove_all(dir);
}

TEST_CASE("fuzz regression regress-number-overflow: a number beyond double is invalid input") {
    // nlohmann throws out_of_range (not parse_error) for 1e3990: it reached main as an internal error.
    CHECK(error_of([] {
              parse_trace_json(test::fuzz_corpus_file("trace_json", "regress-number-overflow"), "o.json");
          }) ==
          "o.json: not valid JSON: [json.exception.out_of_range.406] number overflow parsing '1321e3961'");
    CHECK(error_of([] { parse_trace_json("{\"logical_count\": [[1e400]]}", "o.json"); }) ==
          "o.json: not valid JSON: [json.exception.out_of_range.406] number overflow parsing '1e400'");
}

TEST_CASE("fuzz regression regress-float32-max (npy): a load near float32's largest survives every writer") {
    // 3.4027975e38 is a float32 (below 3.4028235e38); the JSON and CSV readers refused it above a
    // rounded 3.4e38, so a trace read from .npy could not be read back from our own JSON.
    const LoadTrace t = parse_trace_npy(test::fuzz_corpus_file("trace_npy", "regress-float32-max"), "m.npy");
    REQUIRE(t.values.size() == 16);
    CHECK(t.values[0] == 3.4027975e38f);
    CHECK(parse_trace_json(trace_to_json(t), "m.json").values == t.values);
    CHECK(parse_trace_csv(trace_to_csv(t), "m.csv").values == t.values);
    const float largest = std::numeric_limits<float>::max();
    CHECK(parse_trace_json("{\"logical_count\": [[3.4028234663852886e38]]}", "m.json").values[0] == largest);
    CHECK(error_of([] { parse_trace_json("{\"logical_count\": [[3.41e38]]}", "m.json"); }) ==
          "m.json: logical_count[0][0] is 3.41e+38: too large for float32");
    CHECK(error_of([] { parse_trace_csv("0,0,0,3.41e38\n", "m.csv"); }) ==
          "m.csv: line 1: load 3.41e38 must be finite and >= 0, at most 3.40282e+38 (float32)");
}

TEST_CASE("fuzz regression regress-float32-max-csv (npy): float32's largest load survives the CSV writer") {
    // The CSV writer prints nine digits: float32's largest is 3.40282347e+38, a little above it as
    // a double, and the CSV reader refused it; every reader now takes what rounds to a finite float.
    const LoadTrace t =
        parse_trace_npy(test::fuzz_corpus_file("trace_npy", "regress-float32-max-csv"), "m.npy");
    const float largest = std::numeric_limits<float>::max();
    REQUIRE(std::count(t.values.begin(), t.values.end(), largest) >= 1);
    CHECK(parse_trace_csv(trace_to_csv(t), "m.csv").values == t.values);
    CHECK(parse_trace_json(trace_to_json(t), "m.json").values == t.values);
    CHECK(parse_trace_csv("0,0,0,3.40282347e+38\n", "m.csv").values[0] == largest);
    CHECK(parse_trace_json("{\"logical_count\": [[3.40282347e+38]]}", "m.json").values[0] == largest);
    // Half a last place above it rounds to infinity: refused.
    CHECK(error_of([] {
              parse_trace_json("{\"logical_count\": [[3.4028235677973366e38]]}", "m.json");
          }).find("too large for float32") != std::string::npos);
}

TEST_CASE("fuzz regression regress-slow-800k-values (csv): one line may name a large, mostly empty trace") {
    // Slow under ASan only in the harness's round trips (now skipped for big traces); the reader
    // itself fills the 800,004 values in well under a second.
    const LoadTrace t =
        parse_trace_csv(test::fuzz_corpus_file("trace_csv", "regress-slow-800k-values"), "s.csv");
    CHECK(t.num_steps == 4);
    CHECK(t.num_layers == 1);
    CHECK(t.num_experts == 200001);
    CHECK(t.values[3 * 200001 + 200000] == 700000.0f);
    CHECK(std::count(t.values.begin(), t.values.end(), 0.0f) == 4 * 200001 - 1);
}
