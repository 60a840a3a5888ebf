// .npy arrays: the header (shared by the whole-file parser of trace_io) and a streaming reader
// that serves a [T][L][E] time series one step at a time with pread(2), so that 20,000 steps of
// DeepSeek-V3 (1.2 GB as float32) never sit in memory at once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "eplb/step_source.h"
#include "eplb/trace.h"

namespace eplb::io {

enum class NpyType { kInt32, kInt64, kFloat32, kFloat64 };

struct NpyHeader {
    NpyType type = NpyType::kFloat32;
    size_t item_size = 4;
    std::vector<int64_t> shape;  // [L][E] or [T][L][E]
    int64_t count = 0;           // product of the shape
    size_t data_offset = 0;      // where the array starts
};

// Parses and checks the header at the start of `bytes` (which must hold the whole header; more is
// fine): magic, version, little-endian int32/int64/float32/float64, C order, 2 or 3 dimensions.
// Invalid input naming `source`.
NpyHeader parse_npy_header(const std::string& bytes, const std::string& source);

// Magic, version 1.0, length and `dict` (the header's Python dict text) padded with spaces and a
// final newline so that the array starts at a multiple of 64 bytes, as numpy writes it.
std::string npy_preamble(const std::string& dict);

// Converts `count` items of `type` at `data` to float32; returns the index of the first value that
// is not finite and >= 0, or -1 when all are.
int64_t npy_to_float(const char* data, NpyType type, int64_t count, float* out);

// Steps of a .npy file, read on demand. A .npy has no layer ids: row r gets id first_layer_id + r
// (given by the layer-id rule of eplb/trace.h, else 0); `layers` keeps the rows whose id lies in
// [first, end), `steps` the steps [first, end) (end -1: to the end; a 2-D array is one step).
// Errors name the file, and for bad values the step, layer and expert; a layer range outside the
// file is named `layers_what` (the flag or key).
class NpyStepReader final : public StepSource {
  public:
    NpyStepReader(const std::string& path, Range layers = {}, Range steps = {},
                  const std::string& layers_what = "--layers", int first_layer_id = 0);
    ~NpyStepReader() override;
    NpyStepReader(const NpyStepReader&) = delete;
    NpyStepReader& operator=(const NpyStepReader&) = delete;

    int num_steps() const override { return end_step_ - first_step_; }
    int num_layers() const override { return num_rows_; }
    int num_experts() const override { return file_experts_; }
    void load_step(int t, float* out) override;

    std::vector<int> layer_ids() const;  // model layer ids of the rows served
    int first_step() const { return first_step_; }
    int file_steps() const { return file_steps_; }
    int file_layers() const { return file_layers_; }

  private:
    std::string path_;
    int fd_ = -1;
    NpyHeader header_;
    int file_steps_ = 1, file_layers_ = 0, file_experts_ = 0;
    int first_id_ = 0, first_row_ = 0, num_rows_ = 0, first_step_ = 0, end_step_ = 0;
    std::vector<char> bytes_;  // one step's selected rows, as stored
};

}  // namespace eplb::io
