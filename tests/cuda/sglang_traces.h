// The real DeepSeek-V3 traces of ../shared (SGLang `logical_count` JSON, [61][256]) as load
// matrices, read directly with nlohmann/json so that the CUDA tests need nothing from src/io.
#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "eplb/types.h"
#include "tests/test_util.h"

namespace eplb::test {

// (file name, [61][256] loads) of every trace, sorted by name; empty when the traces are absent.
inline std::vector<std::pair<std::string, LoadMatrix>> sglang_traces() {
    std::vector<std::pair<std::string, LoadMatrix>> out;
    const std::string dir = shared_traces_dir();
    if (dir.empty()) return out;
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().extension() == ".json") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& path : files) {
        std::ifstream in(path);
        const nlohmann::json doc = nlohmann::json::parse(in);
        const auto& rows = doc.at("logical_count");
        LoadMatrix load(rows.size(), rows.at(0).size());
        for (size_t l = 0; l < rows.size(); ++l) {
            for (size_t e = 0; e < rows[l].size(); ++e) load(l, e) = rows[l][e].get<float>();
        }
        out.emplace_back(path.filename().string(), std::move(load));
    }
    return out;
}

}  // namespace eplb::test
