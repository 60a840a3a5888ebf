// The rebalancing loop of an engine replayed over a load time series (DESIGN.md "Simulation
// semantics"): several policies and loop parameters ("lanes") side by side on one pass over the
// steps, with a fast per-step scorer, rearrangements planned in batches, and migration counted.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "eplb/config.h"
#include "eplb/placement.h"
#include "eplb/planner.h"
#include "eplb/policy.h"
#include "eplb/step_scorer.h"
#include "eplb/step_source.h"
#include "eplb/types.h"

namespace eplb {

// One line of the comparison.
struct LaneSpec {
    Policy policy = Policy::kDeepseek;
    // The ceiling: every step is scored with the placement planned on that step's own load (the
    // window, interval and threshold do not apply).
    bool oracle = false;
    int window_size = 1000;    // W: the plan sees the sum of the last W steps
    int step_interval = 3000;  // I: a check every I steps, the first after floor(I/4)
    // 0: rearrange at every check (vLLM). In (0, 1]: rearrange at a check only when the window's
    // balancedness under the placement in force is below it (SGLang's
    // --eplb-min-rebalancing-utilization-threshold, applied to the window's summed load).
    double threshold = 0;
    // Each new placement renumbered against the one in force (relabel_to_previous: GPUs, then
    // slots): the same balance at every step, fewer experts moved.
    bool relabel = false;
    // Policy::kRobust: the window is cut into this many consecutive chunks (sizes round(j·W/K)
    // steps apart) and each rearrangement plans for the worst of them instead of their sum.
    int robust_chunks = 4;
    std::string label;  // how reports name the lane
};

// The grid policies x windows x intervals x thresholds x relabel (in that nesting order), then one
// oracle lane per policy when `oracle`. Labels name the policy, plus each grid dimension that has
// more than one value ("deepseek w=100 i=300"), a threshold, " relabel", or "deepseek oracle".
std::vector<LaneSpec> make_lanes(const std::vector<Policy>& policies, const std::vector<int>& window_sizes,
                                 const std::vector<int>& step_intervals,
                                 const std::vector<double>& thresholds, bool oracle,
                                 const std::vector<bool>& relabel = {false});

struct SimulationOptions {
    ParallelConfig config;  // must be valid; num_logical_experts must match the source
    std::vector<LaneSpec> lanes;
    int64_t expert_bytes = 0;  // bytes of one expert's weights, for the bytes moved
    // Steps read and planned per batch (0: automatic, at most 1024 and ~128 MB of buffers). The
    // results do not depend on it; tests vary it.
    int chunk_steps = 0;
};

// vLLM's start placement for num_layers layers: slot s holds expert s mod E.
IndexMatrix start_placement(int num_layers, const ParallelConfig& config);

struct LaneResult {
    LaneSpec spec;
    std::vector<double> max_gpu_load;   // [T] per step, Σ over layers
    std::vector<int> rearranged_at;     // steps after which a new placement took over (oracle: at which)
    std::vector<int64_t> moved_at;      // experts moved at each of those rearrangements
    double balancedness = 1;            // Σ_t mean / Σ_t max (the summary balancedness)
    double mean_step_balancedness = 1;  // mean over steps of the step's balancedness
    double worst_step_balancedness = 1;
    int worst_step = 0;
    int checks = 0;  // times the counter reached I (threshold lanes: times the trigger was tested)
    int rearrangements = 0;
    int64_t experts_moved = 0, intra_node = 0, inter_node = 0, bytes_moved = 0;
    int plans = 0;              // plans computed for this lane
    double plan_seconds = 0;    // wall time of its planning (its share of batched calls)
    IndexMatrix final_phy2log;  // the placement in force after the last step
    std::string backend;        // where this lane's plans ran (a device backend hands some to the CPU)
};

struct SimulationResult {
    int num_steps = 0, num_layers = 0;
    std::vector<double> mean_gpu_load;  // [T] per step, Σ over layers (the same for every lane)
    std::vector<LaneResult> lanes;
    std::string backend;  // where the plans ran: "cuda", or per policy "deepseek cuda, balanced cpu"
    double seconds = 0;   // wall time of the whole loop
};

// Called after each batch of steps with (steps done, steps in all).
using SimulationProgress = std::function<void(int, int)>;

// Replays every step of `source` through each lane's rebalancing loop. Per step t and lane:
// 1) score step t with the placement in force; 2) add step t to the lane's window (a ring of the
// last W steps, zeros before the first); 3) advance the counter, which starts at I - floor(I/4):
// when it reaches I it is reset to 0 and (threshold permitting) the lane plans on the window's sum
// (in double, rounded once to float32); the new placement is in force from step t + 1 and the
// experts each GPU must receive are counted as moved. Loads must be finite and >= 0.
SimulationResult simulate(StepSource& source, const SimulationOptions& options, Planner& planner,
                          const SimulationProgress& progress = nullptr);

}  // namespace eplb
