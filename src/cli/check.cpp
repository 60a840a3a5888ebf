// `eplb check`: gate CI on balance. Runs the cases of a check file (or one case given with the input
// flags of `plan`), plans all cases of one config in one planner call, scores each against its
// thresholds, prints one PASS/FAIL line per case and optionally JUnit XML; exit 1 when a case fails.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <tuple>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/input_options.h"
#include "cli/option_types.h"
#include "eplb/batch.h"
#include "eplb/error.h"
#include "eplb/metrics.h"
#include "eplb/migration.h"
#include "io/check_file.h"
#include "io/file_util.h"
#include "io/junit.h"
#include "io/report.h"

namespace eplb::cli {

struct CheckOptions {
    InputOptions input;
    std::string file, junit, baseline;
    bool json = false;
    double min_balancedness = 0, max_gap = 0, max_layer_gap = 0, max_regression = 0;
    int64_t max_moved_experts = 0;
    bool allow_other_trace = false;
    CLI::Option *min_balancedness_opt = nullptr, *max_gap_opt = nullptr, *max_layer_gap_opt = nullptr,
                *max_regression_opt = nullptr, *max_moved_opt = nullptr, *baseline_opt = nullptr;
};

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

// One case, resolved: its load and config, what it is checked against, and (once planned) its
// placement.
struct CaseRun {
    std::string name;
    std::string description;  // trace, config, policy: for the JUnit output
    ResolvedInput in;
    io::CheckThresholds thresholds;
    std::string baseline_path;
    bool allow_other_trace = false;  // a recorded baseline's load_digest may differ from the case's
    io::Baseline baseline;
    IndexMatrix baseline_phy2log;  // the baseline's rows for this case's layers (placement baselines)
    Placement placement;
    Metrics metrics;  // of the placement on the case's load
    double seconds = 0;
};

// One threshold tested: what was measured, against what, and the line it prints.
struct Measure {
    std::string name;  // balancedness, gap, worst_layer_gap, moved_experts, regression, baseline_load_digest
    double value = 0, threshold = 0;
    std::string value_text, threshold_text;  // instead of the numbers, for a digest
    std::string op;                          // the comparison that passes: ">=", "<=" or "=="
    bool pass = true;
    std::string text;
};

struct CaseResult {
    std::vector<Measure> measures;
    std::string summary;
    std::optional<int64_t> experts_moved;  // from the baseline placement, when counted
    bool pass = true;
};

// Prefixes errors with the case they belong to, keeping their kind (exit code).
template <typename F>
auto in_case(const std::string& name, F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const Error& e) {
        throw Error(e.kind(), "case \"" + printable(name) + "\": " + e.what());
    }
}

std::string stem(const std::string& path) { return std::filesystem::path(path).stem().string(); }

// "value op threshold" with enough digits that the comparison shows (4 decimals unless they tie).
std::string compare(const char* what, double value, bool pass, const char* pass_op, const char* fail_op,
                    double threshold) {
    std::string v = io::format("%.4f", value), t = io::format("%.4f", threshold);
    if (v == t && value != threshold) {
        v = io::format("%.8f", value);
        t = io::format("%.8f", threshold);
    }
    return std::string(what) + " " + v + " " + (pass ? pass_op : fail_op) + " " + t;
}

// The measure of `value` against `threshold`: passes with pass_op (">=" or "<="), else fail_op.
Measure measure(const char* name, const char* what, double value, bool pass, const char* pass_op,
                const char* fail_op, double threshold) {
    Measure m;
    m.name = name;
    m.value = value;
    m.threshold = threshold;
    m.op = pass_op;
    m.pass = pass;
    m.text = compare(what, value, pass, pass_op, fail_op, threshold);
    return m;
}

// Baseline placement rows matching the case's layers by model layer id.
IndexMatrix baseline_rows(const io::PlacementDoc& base, const CaseRun& run) {
    const ParallelConfig& c = run.in.config;
    EPLB_CHECK(base.config.num_physical_experts == c.num_physical_experts &&
                   base.config.num_logical_experts == c.num_logical_experts,
               "baseline " << run.baseline_path << " places " << base.config.num_logical_experts
                           << " experts on " << base.config.num_physical_experts << " slots, the case "
                           << c.num_logical_experts << " on " << c.num_physical_experts);
    const std::vector<int>& ids = run.in.trace.layer_ids;
    IndexMatrix rows(static_cast<Eigen::Index>(ids.size()), c.num_physical_experts);
    for (size_t i = 0; i < ids.size(); ++i) {
        const auto it = std::find(base.layer_ids.begin(), base.layer_ids.end(), ids[i]);
        EPLB_CHECK(it != base.layer_ids.end(),
                   "baseline " << run.baseline_path << " has no layer " << ids[i]);
        rows.row(static_cast<Eigen::Index>(i)) = base.placement.phy2log.row(it - base.layer_ids.begin());
    }
    return rows;
}

CaseResult score(const CaseRun& run) {
    const ParallelConfig& c = run.in.config;
    const Metrics& m = run.metrics;
    const io::CheckThresholds& t = run.thresholds;
    CaseResult r;
    auto add = [&](Measure measure) {
        r.pass = r.pass && measure.pass;
        r.measures.push_back(std::move(measure));
    };
    if (t.min_balancedness) {
        const bool pass = m.balancedness >= *t.min_balancedness;
        add(measure("balancedness", "balancedness", m.balancedness, pass, ">=", "<", *t.min_balancedness));
    }
    if (t.max_gap) {
        const bool pass = m.gap <= *t.max_gap;
        add(measure("gap", "gap", m.gap, pass, "<=", ">", *t.max_gap));
    }
    if (t.max_layer_gap) {
        const bool pass = m.max_gap <= *t.max_layer_gap;
        add(measure("worst_layer_gap", "worst layer gap", m.max_gap, pass, "<=", ">", *t.max_layer_gap));
    }
    std::string baseline_note;
    if (t.max_moved_experts) {
        const MigrationStats moved =
            count_migration(run.baseline_phy2log, run.placement.phy2log, c, run.in.expert_bytes);
        const bool pass = moved.experts_moved <= *t.max_moved_experts;
        r.experts_moved = moved.experts_moved;
        Measure moved_measure = measure("moved_experts", "", static_cast<double>(moved.experts_moved), pass,
                                        "<=", ">", static_cast<double>(*t.max_moved_experts));
        moved_measure.text = "moved experts " + std::to_string(moved.experts_moved) +
                             (pass ? " <= " : " > ") + std::to_string(*t.max_moved_experts);
        add(std::move(moved_measure));
        baseline_note += io::format(", %lld experts moved from the baseline (%.1f GB)",
                                    static_cast<long long>(moved.experts_moved), moved.bytes_moved / 1e9);
    }
    if (t.max_regression && !run.baseline.placement) {
        // A recorded balancedness compares only with a score of the same load.
        const std::string digest = load_digest(run.in.load, run.in.trace.layer_ids);
        if (run.baseline.load_digest.empty()) {
            std::cerr
                << "warning: case \"" << printable(run.name) << "\": baseline " << run.baseline_path
                << " records no load_digest (an older eplb wrote it): whether it was scored on this "
                   "case's trace, layers and steps is not checked; rewrite it with `eplb evaluate --json`\n";
        } else if (run.baseline.load_digest != digest) {
            Measure same_load;
            same_load.name = "baseline_load_digest";
            same_load.op = "==";
            same_load.value_text = digest;
            same_load.threshold_text = run.baseline.load_digest;
            same_load.pass = run.allow_other_trace;
            same_load.text =
                "baseline " + run.baseline_path + " was scored on another load (load_digest " +
                run.baseline.load_digest + ", this case " + digest + ")" +
                (run.allow_other_trace ? ", allowed" : "; pass --allow-other-trace to compare anyway");
            add(std::move(same_load));
        }
    }
    if (t.max_regression) {
        const double base = *run.baseline.balancedness;  // recorded, or the placement scored here
        const double regression = base - m.balancedness;
        const bool pass = regression <= *t.max_regression;
        Measure mr = measure("regression", "regression", regression, pass, "<=", ">", *t.max_regression);
        mr.text += io::format(" (baseline %.4f)", base);
        add(std::move(mr));
        baseline_note += io::format(", baseline balancedness %.4f", base);
    }
    r.summary =
        run.description +
        io::format(
            ": %d layers x %d experts -> %d slots on %d GPUs; balancedness %.4f (mean of layers "
            "%.4f), gap %.4f (worst layer %.4f), duplicates %d",
            static_cast<int>(m.layers.size()), c.num_logical_experts, c.num_physical_experts, c.num_gpus,
            m.balancedness, m.mean_layer_balancedness, m.gap, m.max_gap, m.duplicate_pairs) +
        baseline_note;
    return r;
}

std::string describe_case(const ResolvedInput& in) {
    return "trace " + in.trace_source + (in.config_source.empty() ? "" : ", config " + in.config_source) +
           ", policy " + policy_name(in.policy) +
           (in.config.hierarchical() ? " (hierarchical)" : " (global)");
}

void load_baseline(CaseRun& run) {
    if (run.baseline_path.empty()) return;
    const ParallelConfig& c = run.in.config;
    io::PlacementImportOptions import;
    import.num_logical_experts = c.num_logical_experts;
    import.num_groups = c.num_groups;
    import.num_nodes = c.num_nodes;
    import.num_gpus = c.num_gpus;
    run.baseline = io::read_baseline(run.baseline_path, import);
    if (run.baseline.placement) {
        // SGLang's and TensorRT-LLM's rows are model layers: row numbers would match the wrong ones.
        if (run.baseline.format == io::PlacementFormat::kSglang ||
            run.baseline.format == io::PlacementFormat::kTrtllm) {
            require_model_layer_ids(
                run.in.trace, run.in.trace_source,
                std::string("a ") + io::placement_format_name(run.baseline.format) + " baseline placement");
        }
        run.baseline_phy2log = baseline_rows(*run.baseline.placement, run);
    } else {
        EPLB_CHECK(!run.thresholds.max_moved_experts, "max_moved_experts needs a baseline placement, but "
                                                          << run.baseline_path << " is an evaluation");
    }
}

std::vector<CaseRun> prepare_file_cases(const std::string& path, std::string* suite_name) {
    const io::CheckFile file = io::read_check_file(path);
    *suite_name = file.name;
    std::vector<CaseRun> runs;
    for (const io::CheckCase& k : file.cases) {
        const auto t0 = Clock::now();
        CaseRun run;
        run.name = k.name;
        run.thresholds = k.thresholds;
        run.baseline_path = k.baseline;
        run.allow_other_trace = k.allow_other_trace;
        in_case(k.name, [&] {
            InputOptions o;
            o.trace_path = k.trace;
            o.config_path = k.config;
            o.layers = k.layers;
            o.first_layer = k.first_layer;
            o.steps = k.steps;
            io::ConfigFile overrides = k.overrides;
            if (overrides.policy) overrides.policy = policy_name(parse_policy(*overrides.policy, "policy"));
            run.in = resolve_input(o, overrides);
            load_baseline(run);
            return 0;
        });
        run.description = describe_case(run.in);
        run.seconds = seconds_since(t0);
        runs.push_back(std::move(run));
    }
    return runs;
}

[[noreturn]] void usage_error(const std::string& message) {
    EPLB_FAIL_KIND(ErrorKind::kUsage, message << " (see eplb check --help)");
}

// The --json document (schema eplb.check_result/v1): every case with its measured values, its
// thresholds and whether it passed.
std::string check_result_json(const std::string& file, const std::string& backend,
                              const std::vector<CaseRun>& runs, const std::vector<CaseResult>& results) {
    nlohmann::ordered_json j;
    j["schema"] = "eplb.check_result/v1";
    j["file"] = file.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(file);
    j["backend"] = backend;
    j["cases"] = nlohmann::ordered_json::array();
    int failed = 0;
    for (size_t i = 0; i < runs.size(); ++i) {
        const CaseRun& run = runs[i];
        const CaseResult& r = results[i];
        const Metrics& m = run.metrics;
        const ParallelConfig& c = run.in.config;
        failed += r.pass ? 0 : 1;
        nlohmann::ordered_json k;
        k["name"] = run.name;
        k["pass"] = r.pass;
        k["description"] = run.description;
        k["checks"] = nlohmann::ordered_json::array();
        for (const Measure& measure : r.measures) {
            const auto number_or_text = [](double number, const std::string& text) {
                return text.empty() ? nlohmann::ordered_json(number) : nlohmann::ordered_json(text);
            };
            k["checks"].push_back({{"name", measure.name},
                                   {"value", number_or_text(measure.value, measure.value_text)},
                                   {"op", measure.op},
                                   {"threshold", number_or_text(measure.threshold, measure.threshold_text)},
                                   {"pass", measure.pass}});
        }
        k["metrics"] = {{"balancedness", m.balancedness},
                        {"mean_layer_balancedness", m.mean_layer_balancedness},
                        {"gap", m.gap},
                        {"worst_layer_gap", m.max_gap},
                        {"duplicate_pairs", m.duplicate_pairs}};
        k["layers"] = m.layers.size();
        k["experts"] = c.num_logical_experts;
        k["slots"] = c.num_physical_experts;
        k["gpus"] = c.num_gpus;
        if (!run.baseline_path.empty()) {
            k["baseline"] = {{"path", run.baseline_path}};
            if (run.baseline.balancedness) k["baseline"]["balancedness"] = *run.baseline.balancedness;
            if (r.experts_moved) k["baseline"]["experts_moved"] = *r.experts_moved;
        }
        k["seconds"] = run.seconds;
        j["cases"].push_back(std::move(k));
    }
    j["passed"] = static_cast<int>(runs.size()) - failed;
    j["failed"] = failed;
    return j.dump() + "\n";
}

std::string utc_timestamp() {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    return buf;
}

// The one case of the input and threshold flags, named trace/config/policy.
CaseRun prepare_flag_case(const CheckOptions& o, Clock::time_point t_start) {
    const InputOptions& in = o.input;
    CaseRun run;
    run.thresholds.min_balancedness =
        o.min_balancedness_opt->count() ? std::optional<double>(o.min_balancedness) : std::nullopt;
    run.thresholds.max_gap = o.max_gap_opt->count() ? std::optional<double>(o.max_gap) : std::nullopt;
    run.thresholds.max_layer_gap =
        o.max_layer_gap_opt->count() ? std::optional<double>(o.max_layer_gap) : std::nullopt;
    run.thresholds.max_regression =
        o.max_regression_opt->count() ? std::optional<double>(o.max_regression) : std::nullopt;
    run.thresholds.max_moved_experts =
        o.max_moved_opt->count() ? std::optional<int64_t>(o.max_moved_experts) : std::nullopt;
    run.baseline_path = o.baseline;
    run.allow_other_trace = o.allow_other_trace;
    io::validate_thresholds(run.thresholds, !o.baseline.empty(), "eplb check");
    run.in = resolve_input(in);
    run.name = (in.trace_path.empty() ? std::string("synthetic") : stem(in.trace_path)) +
               (in.config_path.empty() ? "" : "/" + stem(in.config_path)) + "/" + policy_name(run.in.policy);
    load_baseline(run);
    run.description = describe_case(run.in);
    run.seconds = seconds_since(t_start);
    return run;
}

// The cases of the check FILE, or the one of the flags (which a FILE excludes).
std::vector<CaseRun> prepare_cases(const CheckOptions& o, Clock::time_point t_start,
                                   std::string* suite_name) {
    const InputOptions& in = o.input;
    const bool threshold_flags = o.min_balancedness_opt->count() || o.max_gap_opt->count() ||
                                 o.max_layer_gap_opt->count() || o.max_regression_opt->count() ||
                                 o.max_moved_opt->count() || o.baseline_opt->count();
    if (o.json && io::is_stdout_path(o.junit)) {
        usage_error("--json and --junit - would both print on stdout: write the JUnit XML to a file");
    }
    if (!o.file.empty()) {
        const bool input_flags =
            !in.trace_path.empty() || !in.config_path.empty() || !in.layers.empty() || !in.steps.empty() ||
            in.first_layer >= 0 || !in.physical_map.empty() || in.num_groups_opt->count() ||
            in.num_nodes_opt->count() || in.num_gpus_opt->count() || in.num_redundant_opt->count() ||
            in.num_physical_opt->count() || in.policy_opt->count() || o.allow_other_trace;
        if (input_flags || threshold_flags) {
            usage_error(
                "a check FILE brings its own inputs and thresholds: give either FILE or the "
                "input and threshold flags of one case");
        }
        return prepare_file_cases(o.file, suite_name);
    }
    if (!threshold_flags) {
        usage_error(
            "give a check FILE, or thresholds for one case (--min-balancedness, --max-gap, "
            "--max-layer-gap, --max-moved-experts or --max-regression with --baseline)");
    }
    *suite_name = "eplb check";
    std::vector<CaseRun> runs;
    runs.push_back(prepare_flag_case(o, t_start));
    return runs;
}

// Plans the cases `members` (one config and policy) in one batch of windows and scores the plans,
// and the placement baselines a regression compares against, on their loads in one call as well.
void plan_group(Planner& planner, std::vector<CaseRun>& runs, const std::vector<size_t>& members) {
    const ParallelConfig& config = runs[members.front()].in.config;
    std::vector<LoadMatrix> windows;
    Eigen::Index rows = 0;
    for (size_t i : members) {
        windows.push_back(runs[i].in.load);
        rows += runs[i].in.load.rows();
    }
    const auto t0 = Clock::now();
    const std::vector<Placement> plans =
        plan_windows(planner, windows, config, runs[members.front()].in.policy);
    std::vector<IndexMatrix> maps;
    std::vector<LoadMatrix> loads;
    std::vector<size_t> baseline_of;  // case index of each baseline map after the plans
    for (size_t k = 0; k < members.size(); ++k) {
        maps.push_back(plans[k].phy2log);
        loads.push_back(windows[k]);
    }
    for (size_t i : members) {
        if (runs[i].thresholds.max_regression && runs[i].baseline.placement) {
            maps.push_back(runs[i].baseline_phy2log);
            loads.push_back(runs[i].in.load);
            baseline_of.push_back(i);
        }
    }
    const std::vector<Metrics> metrics = evaluate_windows(planner, maps, loads, config);
    const double seconds = seconds_since(t0);
    for (size_t k = 0; k < members.size(); ++k) {
        CaseRun& run = runs[members[k]];
        run.placement = plans[k];
        run.metrics = metrics[k];
        run.seconds += seconds * static_cast<double>(run.in.load.rows()) / static_cast<double>(rows);
    }
    for (size_t b = 0; b < baseline_of.size(); ++b) {
        runs[baseline_of[b]].baseline.balancedness = metrics[members.size() + b].balancedness;
    }
}

// The cases that share a config and policy go to the planner as one batch of windows (plan_windows:
// one stacked call, on the GPU backend one launch for all of them).
void plan_cases(Planner& planner, std::vector<CaseRun>& runs) {
    using Key = std::tuple<int, int, int, int, int, int>;
    std::map<Key, std::vector<size_t>> groups;
    for (size_t i = 0; i < runs.size(); ++i) {
        const ParallelConfig& c = runs[i].in.config;
        groups[Key{c.num_logical_experts, c.num_physical_experts, c.num_groups, c.num_nodes, c.num_gpus,
                   static_cast<int>(runs[i].in.policy)}]
            .push_back(i);
    }
    for (const auto& [key, members] : groups) plan_group(planner, runs, members);
}

// Where the plans ran: one backend, or per policy where a device backend handed some to the CPU.
std::string describe_backends(const Planner& planner, const std::vector<CaseRun>& runs) {
    std::vector<std::string> backends;
    for (const CaseRun& run : runs) {
        const std::string entry = std::string(policy_name(run.in.policy)) + " " +
                                  planner.plan_backend(run.in.config, run.in.policy);
        if (std::find(backends.begin(), backends.end(), entry) == backends.end()) backends.push_back(entry);
    }
    std::string backend;
    for (const std::string& entry : backends) {
        const std::string where = entry.substr(entry.find(' ') + 1);
        backend = backend.empty() || backend == where ? where : "";
        if (backend.empty()) break;
    }
    if (backend.empty()) {
        for (const std::string& entry : backends) backend += (backend.empty() ? "" : ", ") + entry;
    }
    return backend;
}

// The PASS/FAIL table (the head line, one line per case, the count) and the JUnit suite of the same
// results; returns how many cases failed.
int render_results(const CheckOptions& o, const std::string& backend, const std::vector<CaseRun>& runs,
                   const std::vector<CaseResult>& results, std::ostringstream& table, io::JunitSuite& suite) {
    size_t name_width = 0;
    for (const CaseRun& run : runs) name_width = std::max(name_width, run.name.size());
    int failed = 0;
    table << "eplb check: " << (o.file.empty() ? runs.front().description : o.file) << " (" << runs.size()
          << " case" << (runs.size() == 1 ? "" : "s") << ", " << backend << " backend)\n";
    for (size_t i = 0; i < runs.size(); ++i) {
        const CaseResult& r = results[i];
        failed += r.pass ? 0 : 1;
        std::string checks, failures;
        for (const Measure& m : r.measures) {
            checks += (checks.empty() ? "" : ", ") + m.text;
            if (!m.pass) failures += (failures.empty() ? "" : ", ") + m.text;
        }
        table << (r.pass ? "PASS  " : "FAIL  ") << runs[i].name
              << std::string(name_width - runs[i].name.size(), ' ') << "  " << checks << "\n";
        io::JunitCase jc;
        jc.name = runs[i].name;
        jc.classname = "eplb.check." + suite.name;
        jc.seconds = runs[i].seconds;
        jc.failed = !r.pass;
        jc.failure_message = failures;
        jc.failure_text = checks + "\n" + r.summary;
        jc.system_out = r.summary;
        suite.cases.push_back(std::move(jc));
    }
    table << runs.size() << " case" << (runs.size() == 1 ? "" : "s") << ": " << runs.size() - failed
          << " passed, " << failed << " failed\n";
    return failed;
}

}  // namespace

int run_check(const CheckOptions& o) {
    const auto t_start = Clock::now();
    if (!o.junit.empty()) io::check_outputs({{"--junit", o.junit}});
    io::JunitSuite suite;
    std::vector<CaseRun> runs = prepare_cases(o, t_start, &suite.name);
    const auto planner = make_cli_planner(o.input);
    plan_cases(*planner, runs);
    std::vector<CaseResult> results;
    for (CaseRun& run : runs) {
        const auto t0 = Clock::now();
        results.push_back(in_case(run.name, [&] { return score(run); }));
        run.seconds += seconds_since(t0);
    }
    const std::string backend = describe_backends(*planner, runs);
    // The table goes to the report stream, unless --json puts the document on stdout; JUnit XML on
    // stdout (--junit -) sends the report to stderr.
    std::ostream& report = io::is_stdout_path(o.junit) ? std::cerr : std::cout;
    std::ostringstream table;
    suite.timestamp = utc_timestamp();
    const int failed = render_results(o, backend, runs, results, table, suite);
    suite.seconds = seconds_since(t_start);
    if (o.json) {
        io::write_file_atomic("-", check_result_json(o.file, backend, runs, results));
    } else {
        report << table.str();
    }
    if (!o.junit.empty()) {
        io::write_file_atomic(o.junit, io::junit_xml(suite));
        if (!io::is_stdout_path(o.junit))
            (o.json ? std::cerr : report) << "JUnit XML written to " << o.junit << "\n";
    }
    return failed ? 1 : 0;
}

Command setup_check(CLI::App& parent) {
    auto o = std::make_shared<CheckOptions>();
    CLI::App* app = parent.add_subcommand(
        "check",
        "Gate CI on balance: plan the cases of a check file (or one case) and test thresholds; exit 1 "
        "when a case fails");
    app->add_option("file", o->file,
                    "Check file (JSON, schema eplb.check/v1); without it, one case from the flags");
    add_input_options(*app, o->input, true);
    o->min_balancedness_opt =
        app->add_option("--min-balancedness", o->min_balancedness,
                        "Pass iff balancedness (sum of mean / sum of max GPU load) >= this")
            ->check(in_range(0, 1));
    o->max_gap_opt = app->add_option("--max-gap", o->max_gap, "Pass iff the gap to the lower bound <= this")
                         ->check(at_least(0));
    o->max_layer_gap_opt =
        app->add_option("--max-layer-gap", o->max_layer_gap, "Pass iff the worst layer's gap <= this")
            ->check(at_least(0));
    o->baseline_opt = app->add_option("--baseline", o->baseline,
                                      "Baseline: a placement (eplb JSON, SGLang or vLLM JSON, TensorRT-LLM "
                                      "YAML) or an `evaluate --json` document");
    o->max_moved_opt = app->add_option("--max-moved-experts", o->max_moved_experts,
                                       "Pass iff the GPUs receive at most this many experts coming from the "
                                       "baseline placement")
                           ->check(at_least(0));
    o->max_regression_opt = app->add_option("--max-regression", o->max_regression,
                                            "Pass iff balancedness >= the baseline's minus this")
                                ->check(in_range(0, 1));
    app->add_flag("--allow-other-trace", o->allow_other_trace,
                  "With an `evaluate --json` baseline: compare even when it was scored on another load (its "
                  "load_digest differs from the case's)")
        ->needs(o->baseline_opt);
    app->add_option("--junit", o->junit,
                    "Write JUnit XML of the results to this file (-: stdout, the report goes to stderr)");
    app->add_flag("--json", o->json,
                  "Print the results as JSON (schema eplb.check_result/v1: each case's measured values, "
                  "thresholds and pass/fail) instead of the table");
    return {app, [o] { return run_check(*o); }};
}

}  // namespace eplb::cli
