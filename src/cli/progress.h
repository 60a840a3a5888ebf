// A progress bar on stderr for the long subcommands (simulate, gen-trace, convert): shown only when
// stderr is a terminal and a run has taken a second (EPLB_PROGRESS_AFTER seconds when set), so that
// logs and pipes get nothing.
#pragma once

#include <chrono>

namespace eplb::cli {

// Whether a bar would be drawn: stderr is a terminal.
bool stderr_is_terminal();

class ProgressBar {
  public:
    ProgressBar();
    ~ProgressBar() { clear(); }
    ProgressBar(const ProgressBar&) = delete;
    ProgressBar& operator=(const ProgressBar&) = delete;
    // `done` of `total` steps; redraws the line (after the first second, until done).
    void update(int done, int total);
    // Erases the bar, before the command prints its result.
    void clear();

  private:
    bool enabled_, shown_ = false;
    double delay_seconds_;
    std::chrono::steady_clock::time_point start_;
};

}  // namespace eplb::cli
