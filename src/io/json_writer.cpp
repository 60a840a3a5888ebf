// Streaming JSON writer (see json_writer.h). Numbers go through nlohmann's own formatting
// (detail::to_chars is what json::dump() calls for doubles), so the bytes match a DOM dump exactly;
// tests/io/test_json_writer.cpp compares the two on random documents.
#include "io/json_writer.h"

#include <array>
#include <charconv>
#include <cmath>

#include <nlohmann/json.hpp>

namespace eplb::io {

void JsonWriter::separate() {
    if (after_key_) {
        after_key_ = false;
        return;
    }
    if (!has_items_.empty()) {
        if (has_items_.back()) put(',');
        has_items_.back() = true;
    }
}

void JsonWriter::begin_object() {
    separate();
    put('{');
    has_items_.push_back(false);
}

void JsonWriter::end_object() {
    has_items_.pop_back();
    put('}');
}

void JsonWriter::begin_array() {
    separate();
    put('[');
    has_items_.push_back(false);
}

void JsonWriter::end_array() {
    has_items_.pop_back();
    put(']');
}

void JsonWriter::key(std::string_view name) {
    value(name);
    put(':');
    after_key_ = true;
}

void JsonWriter::write_int(int64_t v) {
    separate();
    std::array<char, 24> b;
    const auto r = std::to_chars(b.data(), b.data() + b.size(), v);
    put(std::string_view(b.data(), static_cast<size_t>(r.ptr - b.data())));
}

void JsonWriter::write_uint(uint64_t v) {
    separate();
    std::array<char, 24> b;
    const auto r = std::to_chars(b.data(), b.data() + b.size(), v);
    put(std::string_view(b.data(), static_cast<size_t>(r.ptr - b.data())));
}

void JsonWriter::value(double v) {
    separate();
    if (!std::isfinite(v)) {
        put("null");
        return;
    }
    std::array<char, 64> b;  // nlohmann's serializer uses the same size
    const char* end = nlohmann::detail::to_chars(b.data(), b.data() + b.size(), v);
    put(std::string_view(b.data(), static_cast<size_t>(end - b.data())));
}

void JsonWriter::value(std::nullptr_t) {
    separate();
    put("null");
}

void JsonWriter::value(bool v) {
    separate();
    put(v ? "true" : "false");
}

void JsonWriter::value(std::string_view v) {
    separate();
    // Strings are few and short (names, paths): nlohmann escapes them; `replace` turns invalid
    // UTF-8 (a path from argv can hold any bytes) into U+FFFD instead of throwing.
    put(nlohmann::json(std::string(v)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void JsonWriter::flush() {
    out_.write(buf_.data(), static_cast<std::streamsize>(buf_.size()));
    buf_.clear();
}

void JsonWriter::finish() {
    put('\n');
    flush();
    out_.flush();
}

}  // namespace eplb::io
