// The dry run's transfer model and schedule sweep (see shuffle_model.h).
#include "cli/shuffle_model.h"

#include <iostream>

#include "cli/option_types.h"
#include "io/transfer_model_io.h"

namespace eplb::cli {

namespace {

// The fitted parameters of a transport with the user's overrides.
TransferModelParams model_params(const ShuffleModelOptions& o, const ShuffleModelInput& in,
                                 bool copy_engines) {
    TransferModelParams m = fitted_model_params(copy_engines);
    m.group_size = in.group_size;
    m.inter_node_gbps = in.inter_node_gbps;
    m.ring_gbps = o.ring_gbps;
    for (auto [value, field] : {std::pair{o.link_factor, &m.link_factor},
                                {o.op_us, &m.op_us},
                                {o.group_us, &m.group_us},
                                {o.copy_gbps, &m.copy_gbps},
                                {o.interference, &m.interference}}) {
        if (value >= 0) *field = value;
    }
    return m;
}

constexpr int kModelStepsShown = 40;

}  // namespace

void add_shuffle_model_options(CLI::App& app, ShuffleModelOptions& o, CLI::Option* dry_run) {
    app.add_flag("--model", o.model,
                 "With --dry-run: predict the run's time with an alpha-beta model fitted to H200 runs "
                 "(--transport auto: ce on one node, else nccl), per step and in all; --json prints the "
                 "model (eplb.shuffle_model/v1)")
        ->needs(dry_run);
    app.add_flag("--sweep", o.sweep,
                 "With --dry-run: plan and model every schedule of the sweep grid (--transport auto: nccl, "
                 "and ce on one node), fastest first, so that a device run measures only the best few")
        ->needs(dry_run);
    app.add_option("--model-ring-gbps", o.ring_gbps,
                   "Model: NCCL ring peak, GB/s per GPU and direction (2 and 4 x H200: 345.6-358.2 measured)")
        ->capture_default_str()
        ->check(in_range(1e-3, 1e9));
    const char* const kFitted = "[default: fitted for the transport, README \"Shuffle model\"]";
    app.add_option("--model-link-factor", o.link_factor,
                   std::string("Model: the transport's wire rate over the NCCL ring's ") + kFitted)
        ->check(in_range(1e-3, 1e3));
    app.add_option("--model-op-us", o.op_us, std::string("Model: microseconds per operation ") + kFitted)
        ->check(in_range(0, 1e6));
    app.add_option("--model-group-us", o.group_us,
                   std::string("Model: microseconds per NCCL group or copy-engine step barrier ") + kFitted)
        ->check(in_range(0, 1e6));
    app.add_option("--model-copy-gbps", o.copy_gbps,
                   std::string("Model: GB/s of one GPU's local copies ") + kFitted)
        ->check(in_range(1e-3, 1e9));
    app.add_option(
           "--model-interference", o.interference,
           std::string("Model: seconds a transfer is delayed per second its GPUs copy locally ") + kFitted)
        ->check(in_range(0, 100));
    app.add_option("--sweep-top", o.sweep_top, "Sweep: rows printed")
        ->capture_default_str()
        ->check(at_least(1));
    app.add_option("--sweep-group-sizes", o.grid.group_sizes, "Sweep: nccl group sizes")
        ->delimiter(',')
        ->default_str("4,8,16,32")
        ->check(at_least(1));
    app.add_option("--sweep-step-experts", o.grid.step_experts, "Sweep: --step-experts values")
        ->delimiter(',')
        ->default_str("0,4,8,16,32")
        ->check(at_least(0));
    app.add_option("--sweep-layers-in-flight", o.grid.layers_in_flight, "Sweep: --layers-in-flight values")
        ->delimiter(',')
        ->default_str("1,2,4,8")
        ->check(at_least(1));
}

int run_shuffle_model(const ShuffleModelOptions& o, const ShuffleModelInput& in) {
    // --transport auto: copy engines only where one process can drive every GPU (one node).
    const bool one_node = in.config.num_nodes == 1;
    if (o.sweep) {
        ScheduleGrid grid = o.grid;
        for (bool ce : {false, true}) {
            if (in.copy_engines ? *in.copy_engines == ce : !ce || one_node)
                grid.transports.push_back(model_params(o, in, ce));
        }
        const std::vector<SweepRow> rows =
            sweep_schedules(*in.old_phy2log, *in.new_phy2log, in.config, in.plan->expert_bytes, grid);
        std::cout << (in.json ? io::schedule_sweep_json(rows, grid, in.config.num_nodes)
                              : io::render_schedule_sweep(rows, grid, o.sweep_top, in.config.num_nodes));
        return 0;
    }
    const TransferModelParams m = model_params(o, in, in.copy_engines.value_or(one_node));
    const TransferModelResult r = model_transfer_plan(*in.plan, m);
    if (in.json) {
        std::cout << io::transfer_model_json(*in.plan, r);
    } else {
        std::cout << io::render_shuffle_report(*in.report)
                  << io::render_transfer_model(*in.plan, r, kModelStepsShown);
    }
    return 0;
}

}  // namespace eplb::cli
