// Text and JSON renderings of the dry run's transfer model (`eplb shuffle --dry-run --model`) and
// of its schedule sweep (`--sweep`).
#pragma once

#include <string>
#include <vector>

#include "eplb/transfer_model.h"
#include "eplb/transfer_plan.h"

namespace eplb::io {

// The model's summary, its parameters and a per-step table (the first `max_steps` steps; JSON: all);
// on several nodes also the link classes (bytes, bound, which link bounds) and inter-node pairs per step.
std::string render_transfer_model(const TransferPlan& plan, const TransferModelResult& model, int max_steps);
// Schema eplb.shuffle_model/v1.
std::string transfer_model_json(const TransferPlan& plan, const TransferModelResult& model);

// The ranked schedules (the first `top`), each with the flags that run it; on several nodes the
// inter-node speed the model used.
std::string render_schedule_sweep(const std::vector<SweepRow>& rows, const ScheduleGrid& grid, int top,
                                  int num_nodes);
// Schema eplb.shuffle_sweep/v1 (every row).
std::string schedule_sweep_json(const std::vector<SweepRow>& rows, const ScheduleGrid& grid, int num_nodes);

// The `eplb shuffle` flags of a candidate: "--transport nccl --group-size 8 --step-experts 16 ...".
std::string candidate_flags(const ScheduleCandidate& c);

}  // namespace eplb::io
