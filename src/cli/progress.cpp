// The stderr progress bar (see progress.h).
#include "cli/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <string>

#include "io/report.h"

namespace eplb::cli {

bool stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }

namespace {

// Seconds before the bar appears: EPLB_PROGRESS_AFTER when it is a number >= 0 (the tests use 0 so
// that a short run draws it), else 1.
double seconds_before_bar() {
    constexpr double kDefault = 1.0;
    const char* text = std::getenv("EPLB_PROGRESS_AFTER");
    if (text == nullptr) return kDefault;
    char* end = nullptr;
    const double seconds = std::strtod(text, &end);
    if (end == text || *end != '\0' || !(seconds >= 0.0)) {
        std::cerr << "eplb: EPLB_PROGRESS_AFTER='" << text << "' is not a number of seconds >= 0; using "
                  << kDefault << "\n";
        return kDefault;
    }
    return seconds;
}

}  // namespace

ProgressBar::ProgressBar()
    : enabled_(stderr_is_terminal()),
      delay_seconds_(enabled_ ? seconds_before_bar() : 0.0),
      start_(std::chrono::steady_clock::now()) {}

void ProgressBar::update(int done, int total) {
    if (!enabled_) return;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    if (elapsed < delay_seconds_ || done >= total) return;
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(static_cast<double>(done) / total * kWidth);
    const double left = elapsed * (total - done) / std::max(1, done);
    std::cerr << "\r[" << std::string(filled, '#') << std::string(kWidth - filled, '.') << "] "
              << io::format("%3d%%  step %d of %d  %.1f s, about %.0f s left ", 100 * done / total, done,
                            total, elapsed, std::ceil(left))
              << std::flush;
    shown_ = true;
}

void ProgressBar::clear() {
    if (!shown_) return;
    std::cerr << "\r" << std::string(80, ' ') << "\r" << std::flush;
    shown_ = false;
}

}  // namespace eplb::cli
