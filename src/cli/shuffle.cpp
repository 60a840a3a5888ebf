// `eplb shuffle`: plan the expert-weight rearrangement from an old to a new placement, check the
// plan on host buffers, and (unless --dry-run) run it on the local GPUs with NCCL or copy engines,
// verifying every byte and measuring the point-to-point peak in the same run.
#include <cstdlib>
#include <iostream>
#include <memory>
#include <sstream>

#include "backends/shuffle_executor.h"
#include "cli/commands.h"
#include "cli/input_options.h"
#include "cli/option_types.h"
#include "cli/shuffle_model.h"
#include "eplb/error.h"
#include "eplb/link_classes.h"
#include "eplb/shuffle_run.h"
#include "eplb/transfer_exec.h"
#include "eplb/transfer_plan.h"
#include "io/placement_io.h"
#include "io/shuffle_io.h"

namespace eplb::cli {

struct ShuffleOptions {
    std::string old_path, new_path, probe_path, trace_old, trace_new, config_path;
    std::string layers;
    int first_layer = -1;
    EnginePlacementOptions engine;
    Policy policy = Policy::kDeepseek;
    CLI::Option* policy_opt = nullptr;
    int64_t expert_bytes = 44040192;
    CLI::Option* expert_bytes_opt = nullptr;
    std::vector<int> gpus;
    int layers_in_flight = 4;
    int step_experts = TransferPlanOptions{}.step_experts;
    bool dry_run = false;
    bool json = false;
    std::string rank_mapping;
    ShuffleTransport transport = ShuffleTransport::kAuto;
    int64_t nccl_p2p_chunk = -1;
    int group_size = 8;
    int repeat = 3;
    double timeout = 300;
    int64_t peak_bytes = int64_t{1} << 30;
    double link_gbps = 300;
    double inter_node_gbps = LinkSpeeds{}.inter_gbps;
    int gpus_per_node = 0;  // 0: num_gpus / num_nodes of the inputs
    std::string id_file;
    int rank = -1, world_size = -1, device = -1;
    ShuffleModelOptions model;  // --model, --sweep
};

namespace {

std::vector<int> parse_int_list(const std::string& text, const char* what) {
    std::vector<int> out;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) {
        char* end = nullptr;
        const long v = std::strtol(item.c_str(), &end, 10);
        EPLB_CHECK(!item.empty() && end && *end == '\0', what << ": \"" << item << "\" is not an integer");
        out.push_back(static_cast<int>(v));
    }
    EPLB_CHECK(!out.empty(), what << " is empty");
    return out;
}

// The first environment variable of `names` that is set, as an integer; -1 when none is.
int env_int(std::initializer_list<const char*> names) {
    for (const char* name : names) {
        if (const char* v = std::getenv(name)) {
            char* end = nullptr;
            const long x = std::strtol(v, &end, 10);
            EPLB_CHECK(*v && end && *end == '\0',
                       "environment variable " << name << "=\"" << printable(v) << "\" is not an integer");
            return static_cast<int>(x);
        }
    }
    return -1;
}

// Keeps the rows whose model layer id lies in --layers A:B.
void select_rows(io::ShufflePlacements& p, const std::string& layers) {
    if (layers.empty()) return;
    const Range r = parse_range(layers, "--layers");
    std::vector<int> keep;
    for (size_t l = 0; l < p.layer_ids.size(); ++l) {
        if (p.layer_ids[l] >= r.first && (r.end < 0 || p.layer_ids[l] < r.end))
            keep.push_back(static_cast<int>(l));
    }
    EPLB_CHECK(!keep.empty(), "--layers " << layers << " selects none of the model layers "
                                          << p.layer_ids.front() << ".." << p.layer_ids.back()
                                          << " of the placements");
    IndexMatrix o(keep.size(), p.old_phy2log.cols()), n(keep.size(), p.new_phy2log.cols());
    std::vector<int> ids;
    for (size_t i = 0; i < keep.size(); ++i) {
        o.row(i) = p.old_phy2log.row(keep[i]);
        n.row(i) = p.new_phy2log.row(keep[i]);
        ids.push_back(p.layer_ids[keep[i]]);
    }
    p.old_phy2log = o;
    p.new_phy2log = n;
    p.layer_ids = ids;
}

// Plans a trace with the chosen policy on the CPU (--trace-old/--trace-new).
Placement plan_trace(const ShuffleOptions& o, const std::string& trace, ResolvedInput* resolved) {
    InputOptions in;
    in.trace_path = trace;
    in.config_path = o.config_path;
    in.layers = o.layers;
    in.first_layer = o.first_layer;
    in.policy = o.policy;
    in.policy_opt = o.policy_opt;
    *resolved = resolve_input(in);
    return make_cpu_planner()->plan(resolved->load, resolved->config, resolved->policy);
}

io::ShufflePlacements load_placements(const ShuffleOptions& o) {
    const int modes = (!o.old_path.empty() || !o.new_path.empty()) + !o.probe_path.empty() +
                      (!o.trace_old.empty() || !o.trace_new.empty());
    if (modes != 1) {  // more than one is refused by the parser already
        EPLB_FAIL_KIND(ErrorKind::kUsage,
                       "give the placements one way: --old F --new F, or --probe F, or "
                       "--trace-old F --trace-new F --config F");
    }
    io::ShufflePlacements p;
    if (!o.probe_path.empty()) {
        p = io::read_probe_placements(o.probe_path);
        p.old_source = o.probe_path + " [old]";
        p.new_source = o.probe_path + " [new]";
        select_rows(p, o.layers);
        return p;
    }
    if (!o.trace_old.empty() || !o.trace_new.empty()) {
        ResolvedInput a, b;
        const Placement old_p = plan_trace(o, o.trace_old, &a);
        const Placement new_p = plan_trace(o, o.trace_new, &b);
        EPLB_CHECK(a.trace.layer_ids == b.trace.layer_ids &&
                       a.config.num_logical_experts == b.config.num_logical_experts,
                   "--trace-old and --trace-new must cover the same layers and experts");
        p.old_phy2log = old_p.phy2log;
        p.new_phy2log = new_p.phy2log;
        p.old_num_gpus = p.new_num_gpus = a.config.num_gpus;
        p.old_num_nodes = p.new_num_nodes = a.config.num_nodes;
        p.num_experts = a.config.num_logical_experts;
        p.layer_ids = a.trace.layer_ids;
        p.expert_bytes = a.expert_bytes;
        p.old_source = o.trace_old + " (" + policy_name(a.policy) + " policy)";
        p.new_source = o.trace_new + " (" + policy_name(b.policy) + " policy)";
        return p;
    }
    const io::PlacementDoc a = read_placement_flag(o.old_path, "--old", o.engine, 0);
    const io::PlacementDoc b = read_placement_flag(o.new_path, "--new", o.engine, 0);
    EPLB_CHECK(a.config.num_logical_experts == b.config.num_logical_experts,
               o.old_path << " has " << a.config.num_logical_experts << " experts but " << o.new_path
                          << " has " << b.config.num_logical_experts);
    EPLB_CHECK(a.layer_ids == b.layer_ids,
               o.old_path << " and " << o.new_path << " cover different model layers");
    p.old_phy2log = a.placement.phy2log;
    p.new_phy2log = b.placement.phy2log;
    p.old_num_gpus = a.config.num_gpus;
    p.new_num_gpus = b.config.num_gpus;
    p.old_num_nodes = a.config.num_nodes;
    p.new_num_nodes = b.config.num_nodes;
    p.num_experts = a.config.num_logical_experts;
    p.layer_ids = a.layer_ids;
    p.expert_bytes = a.expert_bytes > 0 ? a.expert_bytes : b.expert_bytes;
    p.old_source = o.old_path;
    p.new_source = o.new_path;
    select_rows(p, o.layers);
    return p;
}

// Checks the plan's order and runs it on small host buffers: the structure does not depend on the
// expert size. Always runs (vector clocks: 0.1 s for a 58-layer EP32 shuffle of 55k operations).
void host_check(const TransferPlan& plan, io::ShuffleReport& report) {
    TransferPlan small = plan;
    small.expert_bytes = 64;
    small.stats.expert_bytes = 64;
    check_transfer_order(small);
    HostShuffleState state = make_host_state(small);
    execute_on_host(small, state);
    report.host_checked = true;
    for (const auto& row : count_wrong_bytes(small, state)) {
        for (int64_t w : row) report.host_wrong += w;
    }
}

// The link speeds of the --dry-run bound and model, and which GPUs share a node.
void add_link_options(CLI::App& app, ShuffleOptions& o) {
    app.add_option("--link-gbps", o.link_gbps,
                   "GB/s per GPU and direction for the --dry-run bound (between GPUs of one node)")
        ->capture_default_str()
        ->check(in_range(1e-3, 1e9));
    app.add_option("--inter-node-gbps", o.inter_node_gbps,
                   "GB/s per GPU and direction between GPUs of different nodes, for the --dry-run bound and "
                   "--model (8 x 400 Gb/s InfiniBand per 8-GPU node: 50)")
        ->capture_default_str()
        ->check(in_range(1e-3, 1e9));
    app.add_option("--gpus-per-node", o.gpus_per_node,
                   "GPUs per node of the shuffle (default: num_gpus / num_nodes of the inputs); 1 makes "
                   "every pair inter-node, as a one-host run with NCCL_P2P_DISABLE=1 NCCL_SHM_DISABLE=1")
        ->check(in_range(1, kMaxConfigCount));
}

}  // namespace

int run_shuffle(const ShuffleOptions& o) {
    io::ShufflePlacements in = load_placements(o);
    const int64_t expert_bytes = (o.expert_bytes_opt && o.expert_bytes_opt->count()) || in.expert_bytes <= 0
                                     ? o.expert_bytes
                                     : in.expert_bytes;
    std::vector<int> mapping;
    if (!o.rank_mapping.empty()) mapping = parse_int_list(o.rank_mapping, "--rank-mapping");
    const AlignedPlacements al =
        align_placements(in.old_phy2log, in.old_num_gpus, in.new_phy2log, in.new_num_gpus, mapping);
    ParallelConfig c;
    c.num_logical_experts = in.num_experts;
    c.num_physical_experts = static_cast<int>(al.old_phy2log.cols());
    c.num_gpus = al.num_gpus;
    c.num_nodes = al.old_ranks ? in.old_num_nodes : in.new_num_nodes;
    if (o.gpus_per_node > 0) {
        EPLB_CHECK(c.num_gpus % o.gpus_per_node == 0, "--gpus-per-node (" << o.gpus_per_node
                                                                          << ") must divide the shuffle's "
                                                                          << c.num_gpus << " GPUs");
        c.num_nodes = c.num_gpus / o.gpus_per_node;
    }
    TransferPlan plan;
    try {
        plan = build_transfer_plan(al.old_phy2log, al.new_phy2log, c,
                                   TransferPlanOptions{expert_bytes, o.layers_in_flight, o.step_experts});
    } catch (const Error& e) {
        // Name the placements the error is about (a needed expert no old slot holds, ...).
        if (e.kind() != ErrorKind::kInvalidInput) throw;
        EPLB_FAIL("old " << in.old_source << ", new " << in.new_source << ": " << e.what());
    }

    io::ShuffleReport report;
    report.old_source = in.old_source;
    report.new_source = in.new_source;
    report.title =
        "eplb shuffle: old " + in.old_source + ", new " + in.new_source + (o.dry_run ? " (dry run)" : "");
    report.layer_ids = in.layer_ids;
    report.plan = &plan;
    report.rank_mapping = mapping;
    report.old_ranks = al.old_ranks;
    report.transport = transport_name(o.transport);
    report.group_size = o.group_size;
    host_check(plan, report);
    EPLB_CHECK(report.host_wrong == 0,
               "internal: the plan leaves " << report.host_wrong << " wrong bytes on host buffers");
    if (o.dry_run) {
        report.link_gbps = o.link_gbps;
        report.inter_node_gbps = o.inter_node_gbps;
        report.full_plan = o.json;
        if (o.model.wanted()) {
            const std::optional<bool> ce =
                o.transport == ShuffleTransport::kAuto
                    ? std::nullopt
                    : std::optional<bool>(o.transport == ShuffleTransport::kCopyEngine);
            return run_shuffle_model(o.model, {&plan, &al.old_phy2log, &al.new_phy2log, c, ce, o.group_size,
                                               o.inter_node_gbps, &report, o.json});
        }
        std::cout << (o.json ? io::shuffle_report_json(report) : io::render_shuffle_report(report));
        return 0;
    }
    const ShuffleExecutor run_on_devices = make_shuffle_executor();  // kDevice without NCCL
    ShuffleRunOptions run;
    run.transport = o.transport;
    run.nccl_p2p_chunk = o.nccl_p2p_chunk;
    run.group_size = o.group_size;
    run.repeat = o.repeat;
    run.timeout_s = o.timeout;
    run.peak_bytes = o.peak_bytes;
    run.devices = o.gpus;
    if (!o.id_file.empty()) {
        run.id_file = o.id_file;
        run.rank = o.rank >= 0 ? o.rank : env_int({"RANK", "OMPI_COMM_WORLD_RANK", "SLURM_PROCID"});
        run.world_size = o.world_size >= 0 ? o.world_size
                                           : env_int({"WORLD_SIZE", "OMPI_COMM_WORLD_SIZE", "SLURM_NTASKS"});
        run.device =
            o.device >= 0 ? o.device : env_int({"LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID"});
        EPLB_CHECK(
            run.rank >= 0 && run.world_size >= 1,
            "one process per GPU (--id-file) needs --rank and --world-size, or RANK and WORLD_SIZE in the "
            "environment");
        EPLB_CHECK(o.gpus.empty(),
                   "--gpus is for one process driving every GPU; use --device with --id-file");
    } else {
        EPLB_CHECK(o.rank < 0 && o.world_size < 0 && o.device < 0,
                   "--rank, --world-size and --device need --id-file (one process per GPU)");
    }
    const ShuffleRunResult result = run_on_devices(plan, run);
    report.run = &result;
    if (run.world_size > 0 && run.rank != 0) return result.wrong_total == 0 ? 0 : 4;
    std::cout << (o.json ? io::shuffle_report_json(report) : io::render_shuffle_report(report));
    if (result.wrong_total != 0) {
        std::cerr << "eplb shuffle: error: " << result.wrong_total << " wrong bytes after the shuffle\n";
        return static_cast<int>(ErrorKind::kDevice);
    }
    return 0;
}

Command setup_shuffle(CLI::App& parent) {
    auto o = std::make_shared<ShuffleOptions>();
    CLI::App* app = parent.add_subcommand(
        "shuffle",
        "Plan and run the expert-weight rearrangement from an old to a new placement on the local GPUs "
        "(NCCL), verify every byte, report time and bandwidth against the measured point-to-point peak");
    const char* const kPlacementFormats = "eplb JSON, SGLang or vLLM JSON, TensorRT-LLM YAML";
    CLI::Option* old_opt =
        app->add_option("--old", o->old_path, std::string("Old placement: ") + kPlacementFormats);
    CLI::Option* new_opt =
        app->add_option("--new", o->new_path, std::string("New placement: ") + kPlacementFormats);
    CLI::Option* probe =
        app->add_option("--probe", o->probe_path,
                        "Old and new phy2log in one file, the baselines' format (keys old, new, "
                        "num_gpus, num_replicas, layers)");
    CLI::Option* trace_old = app->add_option("--trace-old", o->trace_old,
                                             "Plan the old placement from this trace (needs --config)");
    CLI::Option* trace_new = app->add_option("--trace-new", o->trace_new,
                                             "Plan the new placement from this trace (needs --config)");
    CLI::Option* config =
        app->add_option("--config", o->config_path, "Parallel config JSON for --trace-old/--trace-new");
    // The three ways to give the placements exclude each other; each one's flags go together.
    old_opt->needs(new_opt);
    new_opt->needs(old_opt);
    trace_old->needs(trace_new)->needs(config);
    trace_new->needs(trace_old)->needs(config);
    for (CLI::Option* a : {old_opt, new_opt}) a->excludes(probe)->excludes(trace_old)->excludes(trace_new);
    for (CLI::Option* t : {trace_old, trace_new}) t->excludes(probe);
    add_engine_placement_options(*app, o->engine);
    o->policy_opt = add_enum_option<Policy>(*app, "--policy", o->policy, kPolicyNames,
                                            "Placement policy for --trace-old/--trace-new")
                        ->default_str(policy_name(Policy::kDeepseek));
    app->add_option("--layers", o->layers, "Model layers A:B to shuffle, [A, B) (default: all)")
        ->check(range_syntax());
    add_first_layer_option(*app, o->first_layer)->needs(trace_old);
    o->expert_bytes_opt =
        app->add_option(
               "--expert-bytes", o->expert_bytes,
               "Bytes of one expert's weights (default: the inputs' expert_bytes, else the DeepSeek-V3 "
               "FP8 expert)")
            ->default_str("44040192")
            ->check(at_least(1));
    app->add_option("--layers-in-flight", o->layers_in_flight,
                    "Layers scheduled together: more balances the links better, staging grows with it")
        ->capture_default_str()
        ->check(at_least(1));
    app->add_option("--step-experts", o->step_experts,
                    "Experts one GPU pair moves in one step at most: shorter steps overlap the local copies "
                    "with the next step's transfers and land more receives in their slot directly; 0: "
                    "whole permutations")
        ->capture_default_str()
        ->check(at_least(0));
    app->add_option("--rank-mapping", o->rank_mapping,
                    "Elastic EP: new rank of each old rank, -1 for a rank that leaves (e.g. 0,-1,1,2)")
        ->check(CLI::Validator(
            [](std::string& text) {
                try {
                    parse_int_list(text, "value");
                } catch (const Error& e) {
                    return std::string(e.what());
                }
                return std::string();
            },
            ""));
    CLI::Option* dry_run =
        app->add_flag("--dry-run", o->dry_run, "Print the plan and its statistics; no GPU needed");
    app->add_flag("--json", o->json,
                  "Print the report as JSON (eplb.shuffle/v1; with --dry-run every transfer)");
    add_link_options(*app, *o);
    app->add_option("--gpus", o->gpus, "CUDA devices of plan GPUs 0, 1, ... (default: 0..P-1)")
        ->delimiter(',');
    add_enum_option<ShuffleTransport>(*app, "--transport", o->transport, kTransportNames,
                                      "nccl: ncclSend/ncclRecv; ce: copy-engine peer copies (one process "
                                      "driving every GPU); auto: ce where "
                                      "one process drives GPUs with peer access between all, else nccl")
        ->default_str("auto");
    app->add_option(
           "--nccl-p2p-chunk", o->nccl_p2p_chunk,
           "NCCL_P2P_NVL_CHUNKSIZE for the nccl transport unless the environment sets it (smaller chunks "
           "spread an operation over more NCCL channels); 0: NCCL's default [default: 65536]")
        ->check(at_least(0));
    app->add_option("--group-size", o->group_size,
                    "At most this many sends and receives per GPU in one NCCL group")
        ->capture_default_str()
        ->check(at_least(1));
    app->add_option("--repeat", o->repeat, "Timed passes after one warm-up pass")
        ->capture_default_str()
        ->check(at_least(1));
    app->add_option("--timeout", o->timeout,
                    "Seconds a phase (init, peak, one pass) may take before the communicators are aborted "
                    "(exit 4); 0: wait forever")
        ->capture_default_str()
        ->check(at_least(0));
    app->add_option("--peak-bytes", o->peak_bytes,
                    "Bytes per GPU and direction of the point-to-point peak measurement; 0: skip it")
        ->capture_default_str()
        ->check(at_least(0));
    app->add_option("--id-file", o->id_file,
                    "One process per GPU: rank 0 writes NCCL's unique id here, the others read it (a path "
                    "every process sees; removed once all have joined)");
    app->add_option("--rank", o->rank,
                    "This process's rank (default: RANK, OMPI_COMM_WORLD_RANK, SLURM_PROCID)");
    app->add_option("--world-size", o->world_size,
                    "Processes, one per GPU (default: WORLD_SIZE, OMPI_COMM_WORLD_SIZE, SLURM_NTASKS)");
    app->add_option(
        "--device", o->device,
        "CUDA device of this process (default: LOCAL_RANK, OMPI_COMM_WORLD_LOCAL_RANK, SLURM_LOCALID, "
        "else rank modulo the visible devices)");
    add_shuffle_model_options(*app, o->model, dry_run);
    return {app, [o] { return run_shuffle(*o); }};
}

}  // namespace eplb::cli
