// The one exception type of eplb and the checks that throw it. `main` maps its kind to the exit
// codes of DESIGN.md: invalid input 3, device/runtime 4.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace eplb {

enum class ErrorKind {
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

}  // namespace eplb

// EPLB_CHECK(cond, "num_gpus (" << p << ") must be ...") throws an invalid-input eplb::Error.
#define EPLB_FAIL_KIND(kind, stream_expr)             \
    do {                                              \
        std::ostringstream eplb_msg_;                 \
        eplb_msg_ << stream_expr;                     \
        throw ::eplb::Error((kind), eplb_msg_.str()); \
    } while (0)

#define EPLB_FAIL(stream_expr) EPLB_FAIL_KIND(::eplb::ErrorKind::kInvalidInput, stream_expr)

#define EPLB_CHECK(cond, stream_expr) \
    do {                              \
        if (!(cond)) {                \
            EPLB_FAIL(stream_expr);   \
        }                             \
    } while (0)
