// libFuzzer harness: the check-file reader of `eplb check` on arbitrary bytes. Accepted files must
// hold named cases with valid thresholds.
#include <cstddef>
#include <cstdint>
#include <string>

#include "io/check_file.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace eplb;
    const std::string text(reinterpret_cast<const char*>(data), size);
    io::CheckFile file;
    if (!fuzz::accepts([&] { file = io::parse_check_file(text, fuzz::kSource); })) return 0;
    FUZZ_CHECK(!file.cases.empty(), "a check file without cases accepted");
    for (const io::CheckCase& c : file.cases) {
        FUZZ_CHECK(!c.name.empty(), "a case without a name accepted");
        FUZZ_CHECK(!c.thresholds.empty(), "case \"" + c.name + "\" has no threshold");
        FUZZ_CHECK(
            fuzz::accepts([&] { io::validate_thresholds(c.thresholds, !c.baseline.empty(), "x"); }, ""),
            "case \"" + c.name + "\" has invalid thresholds");
    }
    return 0;
}
