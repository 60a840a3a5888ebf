// SGLang's expert-distribution dumps (ExpertDistributionRecorder, torch.save .pt files):
// `stat` / `stat_approx` mode: {"rank", "logical_count": [T][L][E], "average_utilization_rate_over_window"};
// `per_pass` / `per_token` mode: one file per rank, {"records": [{"forward_pass_id", "rank",
// "gatherer_key", "global_physical_count": [L][P]}, ...], "last_physical_to_logical_map": [L][P]}.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "eplb/step_source.h"
#include "eplb/trace.h"

namespace eplb::io {

// Whether `dir` holds SGLang dumps rather than TensorRT-LLM statistics: no meta_info.json and at
// least one file named as SGLang names them (expert_distribution_recorder_*.pt).
bool is_sglang_dump_dir(const std::string& dir);

// Reads a dump into a trace whose rows are the model layers 0..L-1 (dense layers are rows of
// zeros). A file: stat mode gives its T steps; per-pass mode its records. A directory: the
// per-pass files of all ranks (every *.pt in it), summed per forward pass. Per-pass counts are folded from
// physical slots to logical experts with each file's last_physical_to_logical_map (E = its largest
// entry + 1), and forward passes become steps in increasing id order. Invalid input naming the
// file and the key on anything else.
LoadTrace read_sglang_pt(const std::string& path);

// The same for one file held in memory (tests, fuzzing); `source` names it in messages.
LoadTrace parse_sglang_pt(std::string bytes, const std::string& source);

class TorchArchive;

// Steps of a stat-mode dump read on demand from the archive, as NpyStepReader serves a .npy (the
// simulator's long series never sit in memory whole). Rows are model layers 0..L-1; `layers` keeps
// the rows in [first, end), `steps` the steps [first, end) (end -1: to the end).
class SglangStepReader final : public StepSource {
  public:
    // A reader of `path` when it is a stat-mode file whose logical_count is contiguous (as SGLang
    // writes it), else nullptr (a directory or a per-pass file: read the trace whole). Invalid input naming
    // the file as read_sglang_pt.
    static std::unique_ptr<SglangStepReader> open(const std::string& path, Range layers = {},
                                                  Range steps = {});
    ~SglangStepReader() override;

    int num_steps() const override { return end_step_ - first_step_; }
    int num_layers() const override { return num_rows_; }
    int num_experts() const override { return file_experts_; }
    void load_step(int t, float* out) override;
    std::vector<int> layer_ids() const;  // model layer ids of the rows served

  private:
    SglangStepReader(std::unique_ptr<TorchArchive> archive, int tensor, Range layers, Range steps);
    std::unique_ptr<TorchArchive> archive_;
    int tensor_ = 0;
    int file_steps_ = 1, file_layers_ = 0, file_experts_ = 0;
    int first_row_ = 0, num_rows_ = 0, first_step_ = 0, end_step_ = 0;
};

}  // namespace eplb::io
