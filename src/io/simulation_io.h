// Renderings of a simulation: the summary table, CSV (one row per step and lane), JSON (schema
// eplb.simulation/v1, everything) and an SVG plot of balancedness over the steps.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "eplb/config.h"
#include "eplb/simulate.h"

namespace eplb::io {

// What the renderings say about the run besides the result.
struct SimulationDoc {
    std::string title;  // first line of the report: what was replayed
    ParallelConfig config;
    std::vector<int> layer_ids;  // model layer id of each row
    int first_step = 0;          // input step number of the first simulated step (--steps A:)
    int64_t expert_bytes = 0;
    std::string trace_source, config_source, model, backend;
    std::string generator;  // the generator's options when the series was generated, else empty
};

// step,policy,balancedness,max_gpu_load,mean_gpu_load,rearranged,experts_moved: one row per step
// and lane (lane by lane), loads summed over layers, `policy` the lane's label, `rearranged` 1 on
// the step after which a new placement took over (the oracle: every step).
std::string simulation_to_csv(const SimulationDoc& doc, const SimulationResult& result);

// Why a lane could not rearrange at all ("" when it could, or is an oracle): its first check
// would come after the series' last step. Reports and the JSON say so instead of a silent 0.
std::string no_rearrangement_reason(const SimulationDoc& doc, const SimulationResult& result,
                                    const LaneResult& lane);

// The whole run: inputs, config, lanes with their summary and per-step series.
std::string simulation_to_json(const SimulationDoc& doc, const SimulationResult& result);

// Balancedness per step, one line per lane, rearrangements marked under the plot.
std::string simulation_to_svg(const SimulationDoc& doc, const SimulationResult& result);

// The text report: what ran, then one summary row per lane (a sweep is one table).
std::string render_simulation_report(const SimulationDoc& doc, const SimulationResult& result);

}  // namespace eplb::io
