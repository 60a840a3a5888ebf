// The streaming .npy reader: every dtype, layer and step ranges, 2-D arrays, and the errors (bad
// values name the step, layer and expert; truncated files; bad headers) against the whole-file parser.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "eplb/error.h"
#include "eplb/gen_trace.h"
#include "io/npy.h"
#include "io/trace_io.h"
#include "tests/test_util.h"

using namespace eplb;
using namespace eplb::io;
using eplb::test::error_of;

namespace {

std::string temp_path(const std::string& name) {
    const auto dir = std::filesystem::temp_directory_path() / "eplb_test_npy";
    std::filesystem::create_directories(dir);
    return (dir / name).string();
}

void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A .npy file of `descr` with the given shape and values (converted to the dtype).
template <typename T>
std::string npy_of(const std::string& descr, const std::string& shape, const std::vector<double>& values) {
    std::string out =
        npy_preamble("{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + shape + "), }");
    for (double v : values) {
        const T x = static_cast<T>(v);
        out.append(reinterpret_cast<const char*>(&x), sizeof x);
    }
    return out;
}

}  // namespace

TEST_CASE("float32 [T][L][E]: each step as the whole-file parser reads it; layer and step ranges") {
    GenTraceOptions g;
    g.num_layers = 5;
    g.num_experts = 8;
    g.num_steps = 7;
    g.top_k = 2;
    g.drift = 0.1;
    const LoadTrace t = generate_trace(g);
    const std::string path = temp_path("series.npy");
    write_trace(t, path);
    NpyStepReader all(path);
    CHECK(all.num_steps() == 7);
    CHECK(all.num_layers() == 5);
    CHECK(all.num_experts() == 8);
    CHECK(all.layer_ids() == std::vector<int>{0, 1, 2, 3, 4});
    std::vector<float> step(5 * 8);
    for (int s = 0; s < 7; ++s) {
        all.load_step(s, step.data());
        CHECK(std::equal(step.begin(), step.end(), t.step_data(s)));
    }
    NpyStepReader part(path, Range{1, 4}, Range{2, 6});
    CHECK(part.num_steps() == 4);
    CHECK(part.num_layers() == 3);
    CHECK(part.first_step() == 2);
    CHECK(part.layer_ids() == std::vector<int>{1, 2, 3});
    std::vector<float> rows(3 * 8);
    part.load_step(1, rows.data());  // file step 3, layers 1..3
    CHECK(std::equal(rows.begin(), rows.end(), t.step_data(3) + 8));
    CHECK(error_of([&] {
              NpyStepReader(path, Range{2, 9});
          }) == path + ": --layers 2:9 is outside the trace's layers 0:5");
    CHECK(error_of([&] {
              NpyStepReader(path, Range{}, Range{5, 9});
          }) == path + ": --steps 5:9 is outside the trace's 7 steps [0, 7)");
}

TEST_CASE("int32, int64 and float64 arrays; a 2-D array is one step") {
    const std::vector<double> values = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    struct Case {
        std::string name, bytes;
    };
    const Case cases[] = {{"i4.npy", npy_of<int32_t>("<i4", "2, 2, 3", values)},
                          {"i8.npy", npy_of<int64_t>("<i8", "2, 2, 3", values)},
                          {"f8.npy", npy_of<double>("<f8", "2, 2, 3", values)}};
    for (const Case& c : cases) {
        CAPTURE(c.name);
        const std::string path = temp_path(c.name);
        write_bytes(path, c.bytes);
        NpyStepReader r(path);
        REQUIRE(r.num_steps() == 2);
        std::vector<float> step(6);
        r.load_step(1, step.data());
        CHECK(step == std::vector<float>{6, 7, 8, 9, 10, 11});
        CHECK(parse_trace_npy(c.bytes, c.name).values == std::vector<float>(values.begin(), values.end()));
    }
    const std::string flat = temp_path("flat.npy");
    write_bytes(flat, npy_of<float>("<f4", "2, 3", {1, 2, 3, 4, 5, 6}));
    NpyStepReader r(flat);
    CHECK(r.num_steps() == 1);
    CHECK(r.num_layers() == 2);
    std::vector<float> step(6);
    r.load_step(0, step.data());
    CHECK(step == std::vector<float>{1, 2, 3, 4, 5, 6});
}

TEST_CASE("errors name the file, and bad values their step, layer and expert") {
    const std::string bad = temp_path("bad.npy");
    write_bytes(bad, npy_of<int32_t>("<i4", "3, 2, 2", {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, -11, 12}));
    NpyStepReader r(bad);
    std::vector<float> step(4);
    r.load_step(1, step.data());  // fine
    CHECK(error_of([&] { r.load_step(2, step.data()); }) ==
          bad + ": load at step 2, layer 1, expert 0 is -11: loads must be finite and >= 0");
    NpyStepReader late(bad, Range{}, Range{1, 3});  // step numbers stay the file's
    CHECK(error_of([&] { late.load_step(1, step.data()); }).find("at step 2, layer 1, expert 0") !=
          std::string::npos);

    const std::string nan = temp_path("nan.npy");
    write_bytes(nan, npy_of<float>("<f4", "1, 1, 2", {1, std::nan("")}));
    NpyStepReader n(nan);
    CHECK(error_of([&] { n.load_step(0, step.data()); }) ==
          nan + ": load at step 0, layer 0, expert 1 is nan: loads must be finite and >= 0");

    const std::string cut = temp_path("cut.npy");
    const std::string full = npy_of<float>("<f4", "2, 1, 2", {1, 2, 3, 4});
    write_bytes(cut, full.substr(0, full.size() - 1));
    CHECK(error_of([&] { NpyStepReader x(cut); }) == cut + ": .npy data is 15 bytes, the header promises 16");

    const std::string odd = temp_path("odd.npy");
    write_bytes(odd, npy_of<int16_t>("<i2", "1, 1, 2", {1, 2}));
    CHECK(error_of([&] { NpyStepReader x(odd); }) ==
          odd + ": .npy dtype '<i2' is not supported (int32, int64, float32, float64, little-endian)");
    const std::string four = temp_path("four.npy");
    write_bytes(four, npy_of<float>("<f4", "1, 1, 1, 2", {1, 2}));
    CHECK(error_of([&] { NpyStepReader x(four); }).find("4 dimensions") != std::string::npos);
    const std::string text = temp_path("text.npy");
    write_bytes(text, "hello, world");
    CHECK(error_of([&] { NpyStepReader x(text); }) == text + ": not a .npy file (bad magic)");
    CHECK(error_of([] { NpyStepReader x("/nonexistent/t.npy"); }) == "/nonexistent/t.npy: no such file");
}
