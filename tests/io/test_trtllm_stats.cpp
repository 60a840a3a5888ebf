// The safetensors container and TensorRT-LLM expert-statistics directories: a file laid out by hand
// byte by byte, round trips, rank summing, and the error paths.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "eplb/error.h"
#include "eplb/gen_trace.h"
#include "io/trace_io.h"
#include "io/trtllm_stats.h"
#include "tests/test_util.h"

using namespace eplb;
using namespace eplb::io;
using eplb::test::error_of;
namespace fs = std::filesystem;

namespace {

// 8-byte little-endian length + header text + data, exactly as the format describes it.
std::string raw_safetensors(const std::string& header, const std::string& data) {
    std::string out(8, '\0');
    const uint64_t n = header.size();
    for (int k = 0; k < 8; ++k) out[k] = static_cast<char>((n >> (8 * k)) & 0xff);
    return out + header + data;
}

std::string int64_bytes(std::initializer_list<int64_t> values) {
    std::string out;
    for (int64_t v : values) {
        for (int k = 0; k < 8; ++k)
            out.push_back(static_cast<char>((static_cast<uint64_t>(v) >> (8 * k)) & 0xff));
    }
    return out;
}

void write_bytes(const fs::path& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
}

fs::path fresh_dir(const std::string& name) {
    const fs::path dir =
        fs::temp_directory_path() / ("eplb_trtllm_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

std::string counts_file(const std::vector<std::pair<std::string, std::vector<int64_t>>>& entries) {
    SafeTensors t;
    for (const auto& [key, values] : entries) t[key] = int64_tensor(values);
    return to_safetensors(t);
}

}  // namespace

TEST_CASE("safetensors: a file laid out by hand parses, metadata skipped, values exact") {
    // What safetensors.torch.save_file({"100_3": tensor([1, 2, 3]), "100_4": ...}) writes: the header
    // padded with spaces to 8 bytes, data_offsets relative to the start of the data.
    std::string header =
        R"({"__metadata__":{"format":"pt"},"100_3":{"dtype":"I64","shape":[3],"data_offsets":[0,24]},)"
        R"("100_4":{"dtype":"I64","shape":[3],"data_offsets":[24,48]}})";
    header.append((8 - header.size() % 8) % 8, ' ');
    const std::string file = raw_safetensors(header, int64_bytes({1, 2, 3, 4000000000, 0, 7}));
    const SafeTensors t = parse_safetensors(file, "rank0.safetensors");
    REQUIRE(t.size() == 2);
    CHECK(t.at("100_3").dtype == "I64");
    CHECK(t.at("100_3").shape == std::vector<int64_t>{3});
    CHECK(tensor_values(t.at("100_3"), "f", "100_3") == std::vector<double>{1, 2, 3});
    CHECK(tensor_values(t.at("100_4"), "f", "100_4") == std::vector<double>{4000000000.0, 0, 7});
}

TEST_CASE("safetensors: the writer's layout (aligned header, contiguous data) and round trip") {
    SafeTensors t;
    t["b"] = int64_tensor({5, 6});
    t["a"] = int64_tensor({-1});
    const std::string bytes = to_safetensors(t);
    uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    CHECK(n % 8 == 0);
    CHECK(bytes[8] == '{');
    CHECK(bytes.size() == 8 + n + 3 * 8);
    CHECK(bytes.substr(8, n).find(R"("a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]})") !=
          std::string::npos);
    CHECK(bytes.substr(8, n).find(R"("b":{"dtype":"I64","shape":[2],"data_offsets":[8,24]})") !=
          std::string::npos);
    const SafeTensors back = parse_safetensors(bytes, "x");
    CHECK(tensor_values(back.at("a"), "x", "a") == std::vector<double>{-1});
    CHECK(tensor_values(back.at("b"), "x", "b") == std::vector<double>{5, 6});
    // Other dtypes a dump could use.
    SafeTensor f32{"F32", {2}, std::string(8, '\0')};
    const float two[2] = {1.5f, 2.0f};
    std::memcpy(f32.data.data(), two, 8);
    CHECK(tensor_values(f32, "x", "f") == std::vector<double>{1.5, 2.0});
    SafeTensor i32{"I32", {1}, std::string("\x07\x00\x00\x00", 4)};
    CHECK(tensor_values(i32, "x", "i") == std::vector<double>{7});
}

TEST_CASE("safetensors: malformed files are invalid input naming the file and tensor") {
    CHECK(error_of([] { parse_safetensors("abc", "s.st"); }).find("s.st: not a safetensors file") == 0);
    CHECK(error_of([] {
              parse_safetensors(raw_safetensors("{}", "").substr(0, 9), "s.st");
          }).find("s.st: not a safetensors file (header length 2") == 0);
    CHECK(error_of([] {
              parse_safetensors(raw_safetensors("{nope}", ""), "s.st");
          }).find("s.st: safetensors header is not valid JSON") == 0);
    const std::string h = R"({"0_1":{"dtype":"I64","shape":[3],"data_offsets":[0,24]}})";
    CHECK(error_of([&] {
              parse_safetensors(raw_safetensors(h, int64_bytes({1, 2})), "s.st");
          }) == "s.st: tensor \"0_1\": data_offsets [0,24] lie outside the 16 data bytes (truncated file?)");
    const std::string h2 = R"({"0_1":{"dtype":"I64","shape":[3],"data_offsets":[0,16]}})";
    CHECK(error_of([&] {
              parse_safetensors(raw_safetensors(h2, int64_bytes({1, 2})), "s.st");
          }) == "s.st: tensor \"0_1\": 16 data bytes for 3 elements of I64");
    SafeTensor f16{"F16", {1}, std::string(2, '\0')};
    CHECK(error_of([&] { tensor_values(f16, "s.st", "k"); }).find("s.st: tensor \"k\" has dtype F16") == 0);
}

TEST_CASE(
    "statistics directory: ranks summed, iterations become steps, layer ids kept, other files ignored") {
    const fs::path dir = fresh_dir("sum");
    write_bytes(dir / "meta_info.json", R"({"num_experts": 4, "num_experts_per_token": 2})");
    // Two ranks, iterations 100..102, MoE layers 3 and 5 (keys are {iter}_{layer}).
    write_bytes(dir / "rank0.safetensors", counts_file({{"100_3", {1, 2, 3, 4}},
                                                        {"100_5", {0, 0, 0, 8}},
                                                        {"101_3", {4, 4, 0, 0}},
                                                        {"101_5", {1, 1, 1, 1}},
                                                        {"102_3", {0, 0, 0, 0}},
                                                        {"102_5", {2, 0, 2, 0}}}));
    write_bytes(dir / "rank1.safetensors", counts_file({{"100_3", {10, 0, 0, 0}},
                                                        {"100_5", {0, 0, 0, 8}},
                                                        {"101_3", {0, 0, 4, 4}},
                                                        {"101_5", {1, 1, 1, 1}},
                                                        {"102_3", {1, 1, 1, 1}},
                                                        {"102_5", {0, 2, 0, 2}}}));
    // Written by TensorRT-LLM next to the counts, not counts themselves.
    write_bytes(dir / "cooccurrence_rank0.safetensors", counts_file({{"100_3", {99, 99, 99, 99}}}));
    write_bytes(dir / "rank0_numtokens.json", R"({"100_3": 5})");
    const LoadTrace t = read_trace(dir.string());
    CHECK(t.num_steps == 3);
    CHECK(t.num_layers == 2);
    CHECK(t.num_experts == 4);
    CHECK(t.layer_ids == std::vector<int>{3, 5});
    CHECK(t.values == std::vector<float>{11, 2, 3, 4, 0, 0, 0, 16,  //
                                         4,  4, 4, 4, 2, 2, 2, 2,   //
                                         1,  1, 1, 1, 2, 2, 2, 2});
    fs::remove_all(dir);
}

TEST_CASE("statistics directory: missing pieces and mismatches are named") {
    const fs::path dir = fresh_dir("errors");
    CHECK(error_of([&] { read_trtllm_stats(dir.string()); }).find("has no meta_info.json") !=
          std::string::npos);
    write_bytes(dir / "meta_info.json", R"({"num_experts": 4, "num_experts_per_token": 2})");
    CHECK(error_of([&] { read_trtllm_stats(dir.string()); }) ==
          dir.string() + ": no rank*.safetensors files next to meta_info.json");
    write_bytes(dir / "rank0.safetensors",
                counts_file({{"0_3", {1, 2, 3, 4}}, {"0_4", {1, 2, 3, 4}}, {"1_3", {1, 1, 1, 1}}}));
    CHECK(error_of([&] { read_trtllm_stats(dir.string()); }) ==
          dir.string() +
              ": no counts for iteration 1, layer 4 (key \"1_4\"), which the other iterations and layers "
              "imply");
    write_bytes(dir / "rank0.safetensors", counts_file({{"0_3", {1, 2, 3}}}));
    CHECK(error_of([&] { read_trtllm_stats(dir.string()); })
              .find("rank0.safetensors: tensor \"0_3\" has 3 counts, expected 4 (num_experts of "
                    "meta_info.json)") != std::string::npos);
    write_bytes(dir / "rank0.safetensors", counts_file({{"layer3", {1, 2, 3, 4}}}));
    CHECK(error_of([&] {
              read_trtllm_stats(dir.string());
          }).find("rank0.safetensors: key \"layer3\" is not {iteration}_{layer}") != std::string::npos);
    write_bytes(dir / "rank0.safetensors", counts_file({{"0_3", {1, 2, 3, 4}}}));
    write_bytes(dir / "meta_info.json", R"({"num_experts": 4, "num_experts_per_token": 2, "ep_size": 2})");
    CHECK(error_of([&] { read_trtllm_stats(dir.string()); }).find("ep_size is 2 but the directory holds 1") !=
          std::string::npos);
    fs::remove_all(dir);
}

TEST_CASE("statistics directory: write then read gives the trace back; integer counts only; no stale ranks") {
    GenTraceOptions g;
    g.num_layers = 3;
    g.first_layer_id = 3;
    g.num_experts = 16;
    g.num_steps = 4;
    g.top_k = 4;
    g.drift = 0.2;
    const LoadTrace trace = generate_trace(g);
    const fs::path dir = fs::temp_directory_path() / ("eplb_trtllm_rt_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    write_trtllm_stats(trace, dir.string(), 4);
    const LoadTrace back = read_trace(dir.string());
    CHECK(back.num_steps == 4);
    CHECK(back.layer_ids == std::vector<int>{3, 4, 5});
    CHECK(back.values == trace.values);
    std::ifstream meta(dir / "meta_info.json");
    std::string meta_text((std::istreambuf_iterator<char>(meta)), std::istreambuf_iterator<char>());
    CHECK(meta_text == "{\"num_experts\":16,\"num_experts_per_token\":4}\n");
    // Writing again over its own output is fine; a directory with other rank files is refused.
    write_trtllm_stats(trace, dir.string(), 4);
    write_bytes(dir / "rank1.safetensors", "x");
    CHECK(error_of([&] { write_trtllm_stats(trace, dir.string(), 4); }) ==
          dir.string() +
              ": already holds rank1.safetensors; write the statistics to a new directory (readers sum "
              "every rank file)");
    fs::remove_all(dir);
    LoadTrace fractional = trace;
    fractional.values[5] = 2.5f;
    CHECK(error_of([&] { write_trtllm_stats(fractional, dir.string(), 4); }) ==
          "step 0, layer 3, expert 5 has load 2.5: TensorRT-LLM statistics hold integer token counts");
    CHECK_FALSE(fs::exists(dir));  // nothing written on failure
    CHECK(error_of([&] {
              write_trtllm_stats(trace, dir.string(), 0);
          }).find("top_k (0) must be in [1, 16]") == 0);
}

TEST_CASE("fuzz regression regress-number-overflow (safetensors): a number beyond double is invalid input") {
    // nlohmann throws out_of_range (not parse_error) for 191e396 in the header: it reached main as
    // an internal error (exit 4) instead of invalid input.
    const std::string bytes = test::fuzz_corpus_file("safetensors", "regress-number-overflow");
    REQUIRE(bytes.size() > 8);
    try {
        parse_safetensors(bytes, "r.safetensors");
        FAIL("accepted");
    } catch (const Error& e) {
        CHECK(e.exit_code() == 3);
        CHECK(std::string(e.what()).rfind("r.safetensors: safetensors header is not valid JSON: "
                                          "[json.exception.out_of_range.406] number "
                                          "overflow parsing '191e396'",
                                          0) == 0);
    }
}
