// In-memory step source (see step_source.h).
#include "eplb/step_source.h"

#include <algorithm>

#include "eplb/error.h"

namespace eplb {

TraceStepSource::TraceStepSource(const LoadTrace& trace, int first, int end)
    : trace_(trace), first_(first), end_(end == -1 ? trace.num_steps : end) {
    EPLB_CHECK(first_ >= 0 && first_ < end_ && end_ <= trace.num_steps,
               "--steps " << first << ":" << end_ << " is outside the trace's " << trace.num_steps
                          << " steps [0, " << trace.num_steps << ")");
}

void TraceStepSource::load_step(int t, float* out) {
    EPLB_CHECK(t >= 0 && t < num_steps(), "step " << t << " is outside [0, " << num_steps() << ")");
    const size_t n = static_cast<size_t>(trace_.num_layers) * trace_.num_experts;
    std::copy_n(trace_.step_data(first_ + t), n, out);
}

StepRangeSource::StepRangeSource(StepSource& inner, int first, int end)
    : inner_(inner), first_(first), end_(end == -1 ? inner.num_steps() : end) {
    EPLB_CHECK(first_ >= 0 && first_ < end_ && end_ <= inner.num_steps(),
               "--steps " << first << ":" << end_ << " is outside the series' " << inner.num_steps()
                          << " steps [0, " << inner.num_steps() << ")");
}

}  // namespace eplb
