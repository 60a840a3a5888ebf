// JSON parsing with messages that name the source; for src/io .cpp files only (keeps
// nlohmann/json out of widely included headers).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "eplb/error.h"

namespace eplb::io {

// A JSON value for an error message, on one line and short: scalars as JSON (long strings cut),
// arrays and objects by their size only. Never recursive: dump() of a value nested 100,000 deep
// (a 200 kB file) would overflow the stack.
inline std::string describe_value(const nlohmann::json& v) {
    if (v.is_array()) return v.empty() ? "[]" : "an array of " + std::to_string(v.size());
    if (v.is_object()) return v.empty() ? "{}" : "an object of " + std::to_string(v.size()) + " keys";
    if (v.is_null()) return "null";
    std::string text = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (text.size() > 60) text = text.substr(0, 56) + "...\"";
    return text;
}

// A parse callback keeping the root's keys and scalar values but nothing inside its arrays and
// objects (they stay, empty): enough to tell a format by its keys without building the DOM of a
// 300 MB file.
inline bool top_level_only(int depth, nlohmann::json::parse_event_t /*event*/, nlohmann::json& /*parsed*/) {
    return depth <= 1;
}

// Parses `text`; invalid input "SOURCE: empty file" or "SOURCE: not valid JSON (byte N): ...",
// whatever nlohmann throws. `callback` may filter or transform values as they are parsed.
inline nlohmann::json parse_json(const std::string& text, const std::string& source,
                                 const nlohmann::json::parser_callback_t& callback = nullptr) {
    EPLB_CHECK(text.find_first_not_of(" \t\r\n") != std::string::npos, source << ": empty file");
    try {
        return nlohmann::json::parse(text, callback);
    } catch (const nlohmann::json::parse_error& e) {
        EPLB_FAIL(source << ": not valid JSON (byte " << e.byte << "): " << e.what());
    } catch (const nlohmann::json::exception& e) {
        // A number beyond double's range (1e400) is out_of_range 406, not a parse_error: still
        // invalid input, not an internal error (found by tests/fuzz, corpus regress-number-overflow).
        EPLB_FAIL(source << ": not valid JSON: " << e.what());
    }
}

}  // namespace eplb::io
