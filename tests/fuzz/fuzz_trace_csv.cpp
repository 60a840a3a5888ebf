// libFuzzer harness: the CSV trace reader on arbitrary bytes. Accepted traces must be valid and
// survive every writer and reader unchanged; refusals must be clean (fuzz_util.h).
#include <cstddef>
#include <cstdint>
#include <string>

#include "io/trace_io.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace eplb;
    const std::string text(reinterpret_cast<const char*>(data), size);
    LoadTrace trace;
    if (fuzz::accepts([&] { trace = io::parse_trace_csv(text, fuzz::kSource); })) fuzz::check_trace(trace);
    return 0;
}
