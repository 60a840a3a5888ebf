// The streamed trace writers (a chunk of steps at a time) against the whole-document writers they
// replaced, kept here as references: the same bytes for every format on multi-step traces, the
// generator written in chunks equals the trace generated whole, and a failed write leaves nothing.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "eplb/gen_trace.h"
#include "eplb/step_source.h"
#include "io/npy.h"
#include "io/trace_io.h"
#include "io/trtllm_stats.h"
#include "tests/test_util.h"

using namespace eplb;
using namespace eplb::io;
using eplb::test::error_of;
using nlohmann::json;

namespace {

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// The writers as they were before streaming: nlohmann documents and whole strings.
std::string reference_eplb_json(const LoadTrace& t) {
    nlohmann::ordered_json j;
    j["schema"] = "eplb.trace/v1";
    if (!t.model.empty()) j["model"] = t.model;
    j["layers"] = t.layer_ids;
    json load = json::array();
    for (int s = 0; s < t.num_steps; ++s) {
        json step = json::array();
        for (int l = 0; l < t.num_layers; ++l) {
            const float* row = t.step_data(s) + static_cast<size_t>(l) * t.num_experts;
            step.push_back(std::vector<float>(row, row + t.num_experts));
        }
        load.push_back(std::move(step));
    }
    j["load"] = std::move(load);
    return j.dump() + "\n";
}

std::string reference_sglang_json(const LoadTrace& t, int num_model_layers) {
    const int rows = std::max(num_model_layers, t.layer_ids.back() + 1);
    std::vector<int> row_of_id(static_cast<size_t>(rows), -1);
    for (int l = 0; l < t.num_layers; ++l) row_of_id[t.layer_ids[l]] = l;
    const std::vector<float> zeros(static_cast<size_t>(t.num_experts), 0.0f);
    json steps = json::array();
    for (int s = 0; s < t.num_steps; ++s) {
        json step = json::array();
        for (int id = 0; id < rows; ++id) {
            if (row_of_id[id] < 0) {
                step.push_back(zeros);
                continue;
            }
            const float* row = t.step_data(s) + static_cast<size_t>(row_of_id[id]) * t.num_experts;
            step.push_back(std::vector<float>(row, row + t.num_experts));
        }
        steps.push_back(std::move(step));
    }
    json j;
    j["logical_count"] = std::move(steps);
    return j.dump() + "\n";
}

std::string reference_vllm_json(const LoadTrace& t) {
    json history = json::array();
    for (int s = 0; s < t.num_steps; ++s) {
        json step = json::array();
        for (int l = 0; l < t.num_layers; ++l) {
            const float* row = t.step_data(s) + static_cast<size_t>(l) * t.num_experts;
            step.push_back(std::vector<float>(row, row + t.num_experts));
        }
        history.push_back(json{{"logical_expert_load", std::move(step)}});
    }
    json j;
    j["load_history"] = std::move(history);
    return j.dump() + "\n";
}

std::string reference_csv(const LoadTrace& t) {
    std::string out = "step,layer,expert,load\n";
    char buf[64];
    for (int s = 0; s < t.num_steps; ++s) {
        for (int l = 0; l < t.num_layers; ++l) {
            for (int e = 0; e < t.num_experts; ++e) {
                const float v = t.step_data(s)[static_cast<size_t>(l) * t.num_experts + e];
                out.append(buf, std::snprintf(buf, sizeof buf, "%d,%d,%d,%.9g\n", s, t.layer_ids[l], e, v));
            }
        }
    }
    return out;
}

std::string reference_npy(const LoadTrace& t) {
    std::string out =
        npy_preamble("{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(t.num_steps) +
                     ", " + std::to_string(t.num_layers) + ", " + std::to_string(t.num_experts) + "), }");
    out.append(reinterpret_cast<const char*>(t.values.data()), t.values.size() * sizeof(float));
    return out;
}

std::string reference_safetensors(const LoadTrace& t) {
    SafeTensors tensors;
    for (int s = 0; s < t.num_steps; ++s) {
        for (int l = 0; l < t.num_layers; ++l) {
            const float* row = t.step_data(s) + static_cast<size_t>(l) * t.num_experts;
            std::vector<int64_t> counts(row, row + t.num_experts);
            tensors[std::to_string(s) + "_" + std::to_string(t.layer_ids[l])] = int64_tensor(counts);
        }
    }
    return to_safetensors(tensors);
}

// 12 steps ("10" and "11" sort before "2" as keys) of layers 3, 5 and 10 ("10" sorts first), with
// fractions and a model name.
LoadTrace multi_step_trace() {
    GenTraceOptions g;
    g.num_layers = 3;
    g.layer_ids = {3, 5, 10};
    g.num_experts = 9;
    g.top_k = 2;
    g.num_steps = 12;
    g.drift = 0.3;
    g.switch_every = 5;
    LoadTrace t = generate_trace(g);
    t.model = "multi";
    return t;
}

std::string streamed(TraceFormat format, const LoadTrace& t, int num_model_layers = 0) {
    TraceStepSource source(t);
    std::ostringstream out;
    int last_done = 0, calls = 0;
    write_trace_steps(out, format, source, TraceInfo{t.layer_ids, t.model, num_model_layers},
                      [&](int done, int total) {
                          CHECK(total == t.num_steps);
                          CHECK(done > last_done);
                          last_done = done;
                          ++calls;
                      });
    CHECK(last_done == t.num_steps);
    CHECK(calls >= 1);
    return out.str();
}

}  // namespace

TEST_CASE("streamed writers: the bytes of the whole-document writers, every format, 12 steps") {
    const LoadTrace t = multi_step_trace();
    CHECK(streamed(TraceFormat::kEplb, t) == reference_eplb_json(t));
    CHECK(streamed(TraceFormat::kSglang, t) == reference_sglang_json(t, 0));
    CHECK(streamed(TraceFormat::kSglang, t, 14) == reference_sglang_json(t, 14));
    CHECK(streamed(TraceFormat::kVllm, t) == reference_vllm_json(t));
    CHECK(streamed(TraceFormat::kCsv, t) == reference_csv(t));
    CHECK(streamed(TraceFormat::kNpy, t) == reference_npy(t));
    // The whole-trace functions are the streamed writers of the trace.
    CHECK(trace_to_json(t) == reference_eplb_json(t));
    CHECK(trace_to_sglang_json(t, 12) == reference_sglang_json(t, 12));
    CHECK(trace_to_vllm_json(t) == reference_vllm_json(t));
    CHECK(trace_to_csv(t) == reference_csv(t));
    CHECK(trace_to_npy(t) == reference_npy(t));
    // SGLang rows below the last layer id are refused before anything is written.
    TraceStepSource source(t);
    std::ostringstream out;
    CHECK(error_of([&] {
              write_trace_steps(out, TraceFormat::kSglang, source, TraceInfo{t.layer_ids, "", 5});
          }) == "num_model_layers (5) is below the trace's last layer id + 1 (11)");
    CHECK(out.str().empty());
}

TEST_CASE("streamed writers: TensorRT-LLM statistics equal the whole-document writer, steps in key order") {
    const LoadTrace t = multi_step_trace();
    const auto dir = std::filesystem::temp_directory_path() / "eplb_test_trace_streaming";
    std::filesystem::remove_all(dir);
    TraceStepSource source(t);
    std::vector<int> progress;
    write_trtllm_stats(source, t.layer_ids, dir.string(), 2,
                       [&](int done, int) { progress.push_back(done); });
    CHECK(slurp((dir / "rank0.safetensors").string()) == reference_safetensors(t));
    CHECK(progress.size() == 12);
    CHECK(progress.back() == 12);
    const LoadTrace back = read_trtllm_stats(dir.string());
    CHECK(back.values == t.values);
    CHECK(back.layer_ids == t.layer_ids);
    std::filesystem::remove_all(dir);

    // A fractional load found part way: no directory, no file is left.
    LoadTrace f = t;
    f.values.back() = 0.5f;
    TraceStepSource fractional(f);
    CHECK(error_of([&] { write_trtllm_stats(fractional, f.layer_ids, dir.string(), 2); }) ==
          "step 11, layer 10, expert 8 has load 0.5: TensorRT-LLM statistics hold integer token counts");
    CHECK(!std::filesystem::exists(dir));
}

TEST_CASE("streamed writers: the generator written in chunks equals the trace generated whole") {
    // 131,072 values a step: chunks of 32 steps, so 70 steps take three chunks (the last partial).
    GenTraceOptions g;
    g.num_layers = 4;
    g.num_experts = 32768;
    g.top_k = 8;
    g.num_steps = 70;
    g.drift = 0.05;
    g.switch_every = 31;
    const LoadTrace whole = generate_trace(g);
    TraceGenerator generator(g);
    std::ostringstream out;
    std::vector<int> progress;
    write_trace_steps(out, TraceFormat::kNpy, generator, TraceInfo{generator.layer_ids(), "", 0},
                      [&](int done, int) { progress.push_back(done); });
    CHECK(progress == std::vector<int>{32, 64, 70});
    CHECK(out.str() == reference_npy(whole));
}

TEST_CASE("streamed writers: a .npy read step by step converts to the same bytes as the trace in memory") {
    const LoadTrace t = multi_step_trace();
    const auto path = (std::filesystem::temp_directory_path() / "eplb_test_trace_streaming.npy").string();
    write_trace(t, path);
    for (TraceFormat f : {TraceFormat::kEplb, TraceFormat::kVllm, TraceFormat::kCsv, TraceFormat::kNpy}) {
        NpyStepReader r(path, Range{}, Range{2, 9});
        std::ostringstream a, b;
        // .npy rows are layers 0..L-1, so the in-memory trace is written with the same ids.
        write_trace_steps(a, f, r, TraceInfo{r.layer_ids(), "", 0});
        TraceStepSource m(t, 2, 9);
        write_trace_steps(b, f, m, TraceInfo{r.layer_ids(), "", 0});
        CHECK(r.num_steps() == 7);
        CHECK(a.str() == b.str());
    }
    std::remove(path.c_str());
}
