// The one exception type of eplb and the checks that throw it. `main` maps its kind to the exit
// codes of DESIGN.md: usage 2, invalid input 3, device/runtime 4.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace eplb {

enum class ErrorKind {
    kUsage = 2,         // the command line cannot be right whatever the files hold (found after parsing)
    kInvalidInput = 3,  // a file, format, shape or config the user gave is wrong
    kDevice = 4,        // CUDA, NCCL, not enough GPUs, out of memory
};

class Error : public std::runtime_error {
  public:
    Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
    ErrorKind kind() const { return kind_; }
    int exit_code() const { return static_cast<int>(kind_); }

  private:
    ErrorKind kind_;
};

// `text` made safe to quote in a one-line error message: control bytes become \xNN, and text
// longer than max_chars is cut with "...". For what a file or an argument holds.
inline std::string printable(const std::string& text, size_t max_chars = 40) {
    static const char kHex[] = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < text.size() && i < max_chars; ++i) {
        const unsigned char c = static_cast<unsigned char>(text[i]);
        if (c < 0x20 || c == 0x7f) {
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    if (text.size() > max_chars) out += "...";
    return out;
}

}  // namespace eplb

// EPLB_CHECK(cond, "num_gpus (" << p << ") must be ...") throws an invalid-input eplb::Error.
#define EPLB_FAIL_KIND(kind, stream_expr)             \
    do {                                              \
        std::ostringstream eplb_msg_;                 \
        eplb_msg_ << stream_expr;                     \
        throw ::eplb::Error((kind), eplb_msg_.str()); \
    } while (0)

#define EPLB_FAIL(stream_expr) EPLB_FAIL_KIND(::eplb::ErrorKind::kInvalidInput, stream_expr)

#define EPLB_CHECK_KIND(kind, cond, stream_expr) \
    do {                                         \
        if (!(cond)) {                           \
            EPLB_FAIL_KIND(kind, stream_expr);   \
        }                                        \
    } while (0)

#define EPLB_CHECK(cond, stream_expr) \
    do {                              \
        if (!(cond)) {                \
            EPLB_FAIL(stream_expr);   \
        }                             \
    } while (0)
