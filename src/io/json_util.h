// JSON parsing with messages that name the source; for src/io .cpp files only (keeps
// nlohmann/json out of widely included headers).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "eplb/error.h"

namespace eplb::io {

// Parses `text`; invalid input "SOURCE: empty file" or "SOURCE: not valid JSON (byte N): ...".
inline nlohmann::json parse_json(const std::string& text, const std::string& source) {
    EPLB_CHECK(text.find_first_not_of(" \t\r\n") != std::string::npos, source << ": empty file");
    try {
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        EPLB_FAIL(source << ": not valid JSON (byte " << e.byte << "): " << e.what());
    }
}

}  // namespace eplb::io
