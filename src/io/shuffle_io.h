// Inputs and reports of `eplb shuffle`: the baseline's probe placements format, and the text and
// JSON renderings of a transfer plan with (optionally) its measured run on the GPUs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "eplb/shuffle_run.h"
#include "eplb/transfer_plan.h"
#include "eplb/types.h"

namespace eplb::io {

// Two phy2log of one model: old and new worlds (equal unless a rank mapping joins them).
struct ShufflePlacements {
    IndexMatrix old_phy2log, new_phy2log;  // [L][old P·k], [L][new P·k]; -1: empty slot
    int old_num_gpus = 0, new_num_gpus = 0;
    int old_num_nodes = 1, new_num_nodes = 1;
    int num_experts = 0;
    std::vector<int> layer_ids;  // model layer of each row
    int64_t expert_bytes = 0;    // what the inputs say (0: nothing)
    std::string old_source, new_source;
};

// shared/baselines/probe_placements.json: {"layers": [...], "num_replicas": R, "num_gpus": P,
// "num_nodes": N, "old": [L][R], "new": [L][R]} (num_logical_experts optional: else the largest
// entry + 1). Invalid input naming the file and the key.
ShufflePlacements read_probe_placements(const std::string& path);
ShufflePlacements parse_probe_placements(const std::string& text, const std::string& source);

// Everything a shuffle report shows; `run` is null for --dry-run.
struct ShuffleReport {
    std::string title;
    std::string old_source, new_source;
    std::vector<int> layer_ids;
    const TransferPlan* plan = nullptr;
    std::vector<int> rank_mapping;  // empty: same world
    bool old_ranks = true;          // GPUs are numbered as the old world's ranks
    double link_gbps = 0;           // GB/s per GPU and direction assumed for the bound (dry run)
    double inter_node_gbps = 0;     // ... between GPUs of different nodes; 0: link_gbps for every link
    bool host_checked = false;      // order checked and run on host buffers
    int64_t host_wrong = 0;
    std::string host_note;  // why the host check was skipped
    std::string transport = "nccl";
    int group_size = 8;
    const ShuffleRunResult* run = nullptr;
    bool full_plan = false;  // JSON: list every transfer and local copy
};

std::string render_shuffle_report(const ShuffleReport& report);
// Schema eplb.shuffle/v1.
std::string shuffle_report_json(const ShuffleReport& report);

// The achieved rate of a pass: bytes received by the busiest GPU over the pass time (bytes/s).
double busiest_rate(const TransferPlan& plan, double seconds);

}  // namespace eplb::io
