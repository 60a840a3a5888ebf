// Generator flags (see gen_options.h).
#include "cli/gen_options.h"

#include "cli/option_types.h"
#include "eplb/error.h"
#include "io/report.h"
#include "io/trace_io.h"

namespace eplb::cli {

void add_gen_options(CLI::App& app, GenCliOptions& o, const std::string& prefix, const std::string& group) {
    o.prefix = prefix;
    o.gen.flag_prefix = "--" + prefix;
    GenTraceOptions& g = o.gen;
    auto add = [&](const std::string& name, auto& value, const std::string& help) {
        CLI::Option* opt =
            app.add_option("--" + prefix + name, value, help)->capture_default_str()->group(group);
        o.options.push_back(opt);
        return opt;
    };
    o.num_layers_opt = add("num-layers", g.num_layers, "MoE layers")->check(in_range(1, 100000));
    o.first_layer_opt = add("first-layer", g.first_layer_id, "Model layer id of the first MoE layer")
                            ->check(in_range(0, 1 << 30));
    o.num_experts_opt =
        add("num-experts", g.num_experts, "Logical experts per layer")->check(in_range(1, 1 << 20));
    add("num-steps", g.num_steps, "Steps (rows of the time series)")->check(at_least(1));
    add("tokens", g.tokens_per_step, "Tokens per step and layer")
        ->check(in_range(0, double(int64_t{1} << 40)));
    o.top_k_opt = add("top-k", g.top_k, "Experts per token")->check(at_least(1));
    CLI::Option* skew =
        add("skew", g.skew, "Zipf exponent: the expert of popularity rank i gets weight (i+1)^-skew")
            ->check(in_range(0, 10));
    add("drift", g.drift, "Per-step std of each expert's log-popularity (mean-reverting walk)")
        ->check(in_range(0, 10));
    add("seed", g.seed, "Random seed");
    add("switch-every", g.switch_every,
        "A regime switch every K steps (0: never): a new hot-expert order, or the next workload of --" +
            prefix + "from-traces")
        ->check(at_least(0));
    CLI::Option* fraction = add("switch-fraction", g.switch_fraction,
                                "Share of each layer's experts whose popularity ranks a switch shuffles")
                                ->check(in_range(0, 1));
    o.from_traces_opt =
        app.add_option("--" + prefix + "from-traces", o.from_traces,
                       "Aggregate traces A,B,... (any trace format): each step samples its tokens from "
                       "the current one's expert distribution (the shape comes from them)")
            ->delimiter(',')
            ->group(group);
    o.options.push_back(o.from_traces_opt);
    CLI::Option* random = app.add_flag("--" + prefix + "switch-random", g.switch_random,
                                       "At a switch draw the next workload at random (default: in order)")
                              ->group(group);
    o.options.push_back(random);
    random->needs(o.from_traces_opt);
    for (CLI::Option* shape : {o.num_layers_opt, o.first_layer_opt, o.num_experts_opt, skew, fraction}) {
        o.from_traces_opt->excludes(shape);
    }
}

bool any_gen_option(const GenCliOptions& o) {
    for (const CLI::Option* opt : o.options) {
        if (opt->count() > 0) return true;
    }
    return false;
}

GenTraceOptions resolve_gen_options(const GenCliOptions& o) {
    GenTraceOptions g = o.gen;
    if (o.from_traces.empty()) return g;
    g.workloads.clear();
    std::vector<int> layer_ids;
    for (size_t i = 0; i < o.from_traces.size(); ++i) {
        const std::string& path = o.from_traces[i];
        const LoadTrace t = io::read_trace(path);
        if (i == 0) {
            layer_ids = t.layer_ids;
        } else {
            const LoadMatrix& first = g.workloads.front();
            EPLB_CHECK(
                t.num_layers == first.rows() && t.num_experts == first.cols() && t.layer_ids == layer_ids,
                path << ": " << t.num_layers << " layers x " << t.num_experts << " experts, but "
                     << o.from_traces.front() << " has " << first.rows() << " x " << first.cols()
                     << " (the --" << o.prefix << "from-traces files must have the same layers and experts)");
        }
        g.workloads.push_back(t.sum_steps(0, t.num_steps));
    }
    g.layer_ids = layer_ids;
    return g;
}

std::string describe_gen_options(const GenCliOptions& o) {
    const GenTraceOptions& g = o.gen;
    std::string s;
    if (o.from_traces.empty()) {
        s = io::format("Zipf skew %g", g.skew);
    } else {
        s = io::format("mixture of %zu trace%s", o.from_traces.size(), o.from_traces.size() == 1 ? "" : "s");
    }
    s += io::format(", %lld tokens x top-%d per step", static_cast<long long>(g.tokens_per_step), g.top_k);
    if (g.drift > 0) s += io::format(", drift %g", g.drift);
    if (g.switch_every > 0) {
        s += io::format(", switch every %d steps", g.switch_every);
        if (o.from_traces.empty()) {
            s += io::format(" (%g of the experts)", g.switch_fraction);
        } else if (g.switch_random) {
            s += " (random order)";
        }
    }
    s += io::format(", seed %llu", static_cast<unsigned long long>(g.seed));
    return s;
}

}  // namespace eplb::cli
