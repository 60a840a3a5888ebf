// Shared by the fuzz harnesses: what counts as a correct refusal, and checks that abort (so that
// libFuzzer records the input) when a reader misbehaves.
#pragma once

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "eplb/error.h"
#include "eplb/trace.h"
#include "io/trace_io.h"

namespace eplb::fuzz {

// The name every harness passes as the source of its input; error messages must start with it.
inline const std::string kSource = "fuzz-input";

[[noreturn]] inline void fail(const char* what, const std::string& detail) {
    std::fprintf(stderr, "FUZZ FAILURE: %s: %s\n", what, detail.c_str());
    std::abort();
}

#define FUZZ_CHECK(cond, detail)                          \
    do {                                                  \
        if (!(cond)) ::eplb::fuzz::fail(#cond, (detail)); \
    } while (0)

// Runs a reader call. Returns true when it accepted the input, false when it refused it the way
// the CLI expects (eplb::Error, invalid input, a one-line message starting with `prefix`: the
// source name, so exit 3 and a message naming the file). Anything else aborts: another exception type would
// reach main as an "internal error" (exit 4) instead of exit 3.
template <typename F>
bool accepts(F&& read, const std::string& prefix = kSource + ": ") {
    try {
        read();
        return true;
    } catch (const Error& e) {
        const std::string message = e.what();
        FUZZ_CHECK(e.kind() == ErrorKind::kInvalidInput,
                   "error of kind " + std::to_string(e.exit_code()) + ": " + message);
        FUZZ_CHECK(message.find('\n') == std::string::npos, "message on several lines: " + message);
        FUZZ_CHECK(message.rfind(prefix, 0) == 0, "message does not start with '" + prefix + "': " + message);
        return false;
    } catch (const std::exception& e) {
        fail("unexpected exception (main would exit 4, not 3)", e.what());
    }
}

// A trace a reader accepted is valid and survives every writer and its reader unchanged.
inline void check_trace(const LoadTrace& t) {
    FUZZ_CHECK(t.num_steps >= 1 && t.num_layers >= 1 && t.num_experts >= 1, "empty trace accepted");
    FUZZ_CHECK(t.values.size() == static_cast<size_t>(t.num_steps) * t.num_layers * t.num_experts,
               "values do not match the shape");
    FUZZ_CHECK(t.layer_ids.size() == static_cast<size_t>(t.num_layers), "layer ids do not match the shape");
    for (size_t l = 1; l < t.layer_ids.size(); ++l)
        FUZZ_CHECK(t.layer_ids[l] > t.layer_ids[l - 1], "layer ids not increasing");
    for (float v : t.values)
        FUZZ_CHECK(std::isfinite(v) && v >= 0.0f, "bad load accepted: " + std::to_string(v));
    // The round trips below cost ~5 us per value under ASan: the one CSV line "3,0,200000,700000"
    // is a trace of 800,000 values (mostly zeros, within the reader's bound) and took 14 s while
    // fuzzing. The writers and readers run the same code at any size, so big traces skip them.
    if (t.values.size() > (size_t{1} << 16)) return;
    const auto same = [&](const LoadTrace& r, const char* format) {
        FUZZ_CHECK(
            r.num_steps == t.num_steps && r.num_layers == t.num_layers && r.num_experts == t.num_experts,
            std::string(format) + " round trip changed the shape");
        FUZZ_CHECK(r.values == t.values, std::string(format) + " round trip changed a value");
    };
    LoadTrace r;
    FUZZ_CHECK(accepts([&] { r = io::parse_trace_json(io::trace_to_json(t), kSource); }), "own JSON refused");
    same(r, "JSON");
    FUZZ_CHECK(r.layer_ids == t.layer_ids, "JSON round trip changed the layer ids");
    FUZZ_CHECK(accepts([&] { r = io::parse_trace_csv(io::trace_to_csv(t), kSource); }), "own CSV refused");
    same(r, "CSV");
    FUZZ_CHECK(r.layer_ids == t.layer_ids, "CSV round trip changed the layer ids");
    FUZZ_CHECK(accepts([&] { r = io::parse_trace_npy(io::trace_to_npy(t), kSource); }), "own .npy refused");
    same(r, ".npy");
}

}  // namespace eplb::fuzz
