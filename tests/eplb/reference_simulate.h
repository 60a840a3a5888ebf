// DESIGN.md "Simulation semantics" written as plainly as it reads: one lane, one step at a time,
// the window kept as its list of steps and summed afresh at each check; the oracle of simulate().
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "eplb/config.h"
#include "eplb/placement.h"
#include "eplb/simulate.h"
#include "eplb/trace.h"
#include "eplb/types.h"

namespace eplb::reference {

// The planner of a lane: a placement for load [L][E].
using PlanFunction = std::function<Placement(const LoadMatrix& load)>;

// What simulate() reports for one lane, computed the slow way.
struct LaneRun {
    std::vector<double> mean_gpu_load;  // [T] Σ over layers of evaluate()'s mean GPU load
    std::vector<double> max_gpu_load;   // [T] Σ over layers of evaluate()'s max GPU load
    std::vector<int> rearranged_at;     // steps after which (oracle: at which) a new placement took over
    std::vector<int64_t> moved_at;      // experts moved at each of them
    int checks = 0;                     // times the counter reached I
    int64_t experts_moved = 0, intra_node = 0, inter_node = 0, bytes_moved = 0;
    double balancedness = 1;  // Σ_t mean / Σ_t max
    IndexMatrix final_phy2log;
};

// Replays `series` through one lane: start placement (slot s holds s for s < E, else (s - E) mod E);
// per step: score it with evaluate(), append it to the window (its last W steps), advance the
// counter (from I - floor(I/4)); at I: reset, and unless the window's balancedness under the
// placement in force is >= the threshold, plan on the window's sum (double, rounded once to
// float32), relabel if the lane says, count the experts each GPU receives. The oracle plans every
// step on its own load and scores the step with that plan. Equal to simulate() bit for bit where
// the window sums are exact in double (integer loads: token counts).
LaneRun simulate_lane(const LoadTrace& series, const ParallelConfig& config, const LaneSpec& lane,
                      int64_t expert_bytes, const PlanFunction& plan);

// Experts each GPU must receive between two placements [L][R], counted per (layer, GPU) once per
// distinct expert; intra_node when some old holder is on the receiver's node.
struct Moved {
    int64_t experts = 0, intra_node = 0, inter_node = 0;
};
Moved count_moved(const IndexMatrix& old_phy2log, const IndexMatrix& new_phy2log,
                  const ParallelConfig& config);

}  // namespace eplb::reference
