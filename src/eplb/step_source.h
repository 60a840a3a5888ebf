// A load time series read one step at a time, so that the simulator never needs [T][L][E] in
// memory: .npy files are streamed from disk and synthetic traces generated step by step.
#pragma once

#include "eplb/trace.h"

namespace eplb {

class StepSource {
  public:
    virtual ~StepSource() = default;
    virtual int num_steps() const = 0;
    virtual int num_layers() const = 0;
    virtual int num_experts() const = 0;
    // Writes step t's load, [num_layers][num_experts] row-major, to `out`. Callers ask for the steps
    // in increasing order (generators rely on it; files and memory do not care).
    virtual void load_step(int t, float* out) = 0;
    // Steps [first, first + count) one after the other at out; sources that can do better (the
    // generator: layers in parallel) override it.
    virtual void load_steps(int first, int count, float* out) {
        const size_t step_size = static_cast<size_t>(num_layers()) * num_experts();
        for (int i = 0; i < count; ++i) load_step(first + i, out + i * step_size);
    }
};

// Steps [first, end) of an in-memory trace (end = -1: to the end); step 0 of the source is step
// `first` of the trace. The trace must outlive the source.
class TraceStepSource final : public StepSource {
  public:
    explicit TraceStepSource(const LoadTrace& trace, int first = 0, int end = -1);
    int num_steps() const override { return end_ - first_; }
    int num_layers() const override { return trace_.num_layers; }
    int num_experts() const override { return trace_.num_experts; }
    void load_step(int t, float* out) override;

  private:
    const LoadTrace& trace_;
    int first_, end_;
};

// Steps [first, end) of another source (end = -1: to its end); step 0 is the inner step `first`.
class StepRangeSource final : public StepSource {
  public:
    StepRangeSource(StepSource& inner, int first, int end = -1);
    int num_steps() const override { return end_ - first_; }
    int num_layers() const override { return inner_.num_layers(); }
    int num_experts() const override { return inner_.num_experts(); }
    void load_step(int t, float* out) override { inner_.load_step(first_ + t, out); }
    void load_steps(int first, int count, float* out) override {
        inner_.load_steps(first_ + first, count, out);
    }

  private:
    StepSource& inner_;
    int first_, end_;
};

}  // namespace eplb
