// A streaming JSON writer whose bytes equal nlohmann::json::dump() of the same document (compact,
// numbers and strings formatted by nlohmann's own routines), so that large placements and traces
// are written without building a DOM: memory stays at the size of the data, not 10-20x more.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace eplb::io {

class JsonWriter {
  public:
    // Writes to `out` through an internal buffer; call finish() at the end (it also flushes).
    explicit JsonWriter(std::ostream& out) : out_(out) {}
    JsonWriter(const JsonWriter&) = delete;
    JsonWriter& operator=(const JsonWriter&) = delete;

    void begin_object();
    void end_object();
    void begin_array();
    void end_array();
    // The key of the next value inside an object.
    void key(std::string_view name);

    template <std::integral T>
    requires(!std::same_as<T, bool>) void value(T v) {
        if constexpr (std::is_signed_v<T>) {
            write_int(static_cast<int64_t>(v));
        } else {
            write_uint(static_cast<uint64_t>(v));
        }
    }
    void value(double v);  // non-finite values are written as null, as nlohmann does
    void value(bool v);
    void value(std::nullptr_t);      // null
    void value(std::string_view v);  // escaped like nlohmann; invalid UTF-8 becomes U+FFFD
    void value(const char* v) { value(std::string_view(v)); }
    void value(const std::string& v) { value(std::string_view(v)); }

    // [v0,v1,...] of n values.
    template <typename T>
    void array(const T* values, size_t n) {
        begin_array();
        for (size_t i = 0; i < n; ++i) value(values[i]);
        end_array();
    }
    template <typename T>
    void array(const std::vector<T>& values) {
        array(values.data(), values.size());
    }

    // Ends the document with a newline and flushes; the owner of the stream checks its state.
    void finish();

  private:
    void separate();  // the comma before a value or key, where one is due
    void write_int(int64_t v);
    void write_uint(uint64_t v);
    void put(char c) {
        buf_.push_back(c);
        if (buf_.size() >= kFlushAt) flush();
    }
    void put(std::string_view s) {
        buf_.append(s);
        if (buf_.size() >= kFlushAt) flush();
    }
    void flush();

    static constexpr size_t kFlushAt = 1 << 16;
    std::ostream& out_;
    std::string buf_;
    std::vector<bool> has_items_;  // per open container: whether it already holds an item
    bool after_key_ = false;
};

}  // namespace eplb::io
