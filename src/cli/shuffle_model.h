// `eplb shuffle --dry-run --model` and `--sweep`: the transfer model's options, and the run that
// prints its prediction for the planned schedule or ranks candidate schedules.
#pragma once

#include <optional>
#include <vector>

#include <CLI/CLI.hpp>

#include "eplb/config.h"
#include "eplb/transfer_model.h"
#include "eplb/transfer_plan.h"
#include "io/shuffle_io.h"

namespace eplb::cli {

struct ShuffleModelOptions {
    bool model = false;
    bool sweep = false;
    double ring_gbps = 350;
    // -1: the transport's fitted value (fitted_model_params).
    double link_factor = -1, op_us = -1, group_us = -1, copy_gbps = -1, interference = -1;
    int sweep_top = 10;
    ScheduleGrid grid;

    bool wanted() const { return model || sweep; }
};

void add_shuffle_model_options(CLI::App& app, ShuffleModelOptions& o, CLI::Option* dry_run);

// What the model needs from the dry run.
struct ShuffleModelInput {
    const TransferPlan* plan = nullptr;
    const IndexMatrix* old_phy2log = nullptr;  // as planned (aligned)
    const IndexMatrix* new_phy2log = nullptr;
    ParallelConfig config;
    std::optional<bool> copy_engines;  // --transport: nullopt for auto
    int group_size = 8;
    double inter_node_gbps = 50;                // --inter-node-gbps
    const io::ShuffleReport* report = nullptr;  // the dry run's report, printed before the model
    bool json = false;
};

// Prints the model (--model) or the sweep (--sweep); returns the exit code.
int run_shuffle_model(const ShuffleModelOptions& o, const ShuffleModelInput& in);

}  // namespace eplb::cli
