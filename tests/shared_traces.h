// Where the real DeepSeek-V3 traces of ../shared are. Free of doctest, so that benchmark programs
// can include it (tests get it through tests/test_util.h).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace eplb::test {

// ../shared/traces/sglang-deepseek-v3-logical-count (via EPLB_SHARED), or "" when absent.
inline std::string shared_traces_dir() {
    const char* shared = std::getenv("EPLB_SHARED");
    if (!shared) return "";
    const std::filesystem::path dir =
        std::filesystem::path(shared) / "traces" / "sglang-deepseek-v3-logical-count";
    return std::filesystem::is_directory(dir) ? dir.string() : "";
}

}  // namespace eplb::test
