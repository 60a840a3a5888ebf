// Simulation renderings (see simulation_io.h). nlohmann/json stays inside this file.
#include "io/simulation_io.h"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "eplb_config.h"
#include "io/report.h"
#include "io/svg_plot.h"

namespace eplb::io {

using ojson = nlohmann::ordered_json;

namespace {

double step_balancedness(const SimulationResult& r, const LaneResult& lane, int t) {
    const double max = lane.max_gpu_load[t];
    return max > 0 ? r.mean_gpu_load[t] / max : 1.0;
}

std::string threshold_text(double t) { return t > 0 ? format("%g", t) : "off"; }

// The loop parameters shared by every non-oracle lane, or -1 where they differ.
struct SharedLoop {
    int window = -1, interval = -1;
    bool any_threshold = false, any_loop = false;
};

SharedLoop shared_loop(const SimulationResult& r) {
    SharedLoop s;
    std::set<int> windows, intervals;
    for (const LaneResult& lane : r.lanes) {
        if (lane.spec.oracle) continue;
        s.any_loop = true;
        windows.insert(lane.spec.window_size);
        intervals.insert(lane.spec.step_interval);
        s.any_threshold |= lane.spec.threshold > 0;
    }
    if (windows.size() == 1) s.window = *windows.begin();
    if (intervals.size() == 1) s.interval = *intervals.begin();
    return s;
}

}  // namespace

std::string simulation_to_csv(const SimulationDoc& doc, const SimulationResult& r) {
    std::string out = "step,policy,balancedness,max_gpu_load,mean_gpu_load,rearranged,experts_moved\n";
    out.reserve(out.size() + r.lanes.size() * static_cast<size_t>(r.num_steps) * 64);
    char buf[256];
    for (const LaneResult& lane : r.lanes) {
        size_t next = 0;
        for (int t = 0; t < r.num_steps; ++t) {
            const bool rearranged = next < lane.rearranged_at.size() && lane.rearranged_at[next] == t;
            const long long moved = rearranged ? static_cast<long long>(lane.moved_at[next++]) : 0;
            const int n = std::snprintf(buf, sizeof buf, "%d,%s,%.6f,%.9g,%.9g,%d,%lld\n", doc.first_step + t,
                                        lane.spec.label.c_str(), step_balancedness(r, lane, t),
                                        lane.max_gpu_load[t], r.mean_gpu_load[t], rearranged ? 1 : 0, moved);
            out.append(buf, static_cast<size_t>(std::min<int>(n, sizeof buf - 1)));
        }
    }
    return out;
}

std::string no_rearrangement_reason(const SimulationDoc& doc, const SimulationResult& r,
                                    const LaneResult& lane) {
    if (lane.spec.oracle || lane.checks > 0) return "";
    const int first_check = doc.first_step + std::max(1, lane.spec.step_interval / 4) - 1;
    const int last = doc.first_step + r.num_steps - 1;
    return format(
        "no rearrangement could happen: the first check would be after step %d (step interval %d), past the "
        "series' last step %d (%d step%s); lower --step-interval or give more steps",
        first_check, lane.spec.step_interval, last, r.num_steps, r.num_steps == 1 ? "" : "s");
}

std::string simulation_to_json(const SimulationDoc& doc, const SimulationResult& r) {
    ojson j;
    j["schema"] = "eplb.simulation/v1";
    j["tool"] = {{"name", "eplb"}, {"version", EPLB_VERSION}};
    ojson inputs = ojson::object();
    if (!doc.trace_source.empty()) inputs["trace"] = doc.trace_source;
    if (!doc.generator.empty()) inputs["generator"] = doc.generator;
    if (!doc.config_source.empty()) inputs["config"] = doc.config_source;
    inputs["backend"] = r.backend;
    j["inputs"] = inputs;
    if (!doc.model.empty()) j["model"] = doc.model;
    const ParallelConfig& c = doc.config;
    j["config"] = {{"num_logical_experts", c.num_logical_experts},
                   {"num_physical_experts", c.num_physical_experts},
                   {"num_redundant_experts", c.num_redundant_experts()},
                   {"num_groups", c.num_groups},
                   {"num_nodes", c.num_nodes},
                   {"num_gpus", c.num_gpus},
                   {"expert_bytes", doc.expert_bytes}};
    j["layers"] = doc.layer_ids;
    j["first_step"] = doc.first_step;
    j["num_steps"] = r.num_steps;
    j["start_placement"] = "vllm: slot s holds expert s mod num_logical_experts";
    j["seconds"] = r.seconds;
    j["mean_gpu_load"] = r.mean_gpu_load;
    ojson lanes = ojson::array();
    for (const LaneResult& lane : r.lanes) {
        ojson l;
        l["label"] = lane.spec.label;
        l["policy"] = policy_name(lane.spec.policy);
        l["oracle"] = lane.spec.oracle;
        l["backend"] = lane.backend;
        const std::string none = no_rearrangement_reason(doc, r, lane);
        l["no_rearrangement"] = none.empty() ? ojson(nullptr) : ojson(none);
        if (!lane.spec.oracle) {
            l["window_size"] = lane.spec.window_size;
            l["step_interval"] = lane.spec.step_interval;
            l["threshold"] = lane.spec.threshold > 0 ? ojson(lane.spec.threshold) : ojson(nullptr);
            l["relabel"] = lane.spec.relabel;
        }
        l["summary"] = {{"balancedness", lane.balancedness},
                        {"mean_step_balancedness", lane.mean_step_balancedness},
                        {"worst_step_balancedness", lane.worst_step_balancedness},
                        {"worst_step", doc.first_step + lane.worst_step},
                        {"checks", lane.checks},
                        {"rearrangements", lane.rearrangements},
                        {"experts_moved", lane.experts_moved},
                        {"intra_node", lane.intra_node},
                        {"inter_node", lane.inter_node},
                        {"bytes_moved", lane.bytes_moved},
                        {"plans", lane.plans},
                        {"plan_seconds", lane.plan_seconds}};
        std::vector<int> at(lane.rearranged_at);
        for (int& t : at) t += doc.first_step;
        l["rearranged_at"] = at;
        l["experts_moved_at"] = lane.moved_at;
        std::vector<double> bal(r.num_steps);
        for (int t = 0; t < r.num_steps; ++t) bal[t] = step_balancedness(r, lane, t);
        l["balancedness"] = bal;
        l["max_gpu_load"] = lane.max_gpu_load;
        lanes.push_back(std::move(l));
    }
    j["lanes"] = std::move(lanes);
    return j.dump() + "\n";
}

std::string simulation_to_svg(const SimulationDoc& doc, const SimulationResult& r) {
    LinePlot plot;
    plot.title = "eplb simulate: balancedness per step (mean / max GPU load)";
    const ParallelConfig& c = doc.config;
    plot.subtitle = format("%d experts -> %d slots on %d GPUs (%d node%s), %d steps x %d layers",
                           c.num_logical_experts, c.num_physical_experts, c.num_gpus, c.num_nodes,
                           c.num_nodes == 1 ? "" : "s", r.num_steps, r.num_layers);
    const SharedLoop loop = shared_loop(r);
    if (loop.window > 0) plot.subtitle += format(", window %d", loop.window);
    if (loop.interval > 0) plot.subtitle += format(", interval %d", loop.interval);
    plot.x_label = "step";
    plot.y_label = "balancedness";
    plot.event_label = "rearrangements (ticks under the plot)";
    plot.x0 = doc.first_step;
    const int bucket = (r.num_steps + plot.max_points - 1) / plot.max_points;
    if (bucket > 1) plot.subtitle += format("; each point is the mean of %d steps", bucket);
    for (const LaneResult& lane : r.lanes) {
        PlotSeries s;
        s.label = format("%s (%.4f)", lane.spec.label.c_str(), lane.balancedness);
        s.y.resize(r.num_steps);
        for (int t = 0; t < r.num_steps; ++t) s.y[t] = step_balancedness(r, lane, t);
        // The oracle rearranges every step: marks would only paint its row solid.
        if (!lane.spec.oracle) s.events = lane.rearranged_at;
        plot.series.push_back(std::move(s));
    }
    return render_line_plot_svg(plot);
}

std::string render_simulation_report(const SimulationDoc& doc, const SimulationResult& r) {
    const ParallelConfig& c = doc.config;
    std::string out = "eplb simulate: " + doc.title + "\n";
    out += format(
        "config    %d experts -> %d slots (%d redundant), %d group%s, %d node%s x %d GPUs, %d slots per "
        "GPU, %s\n",
        c.num_logical_experts, c.num_physical_experts, c.num_redundant_experts(), c.num_groups,
        c.num_groups == 1 ? "" : "s", c.num_nodes, c.num_nodes == 1 ? "" : "s", c.gpus_per_node(),
        c.slots_per_gpu(), c.hierarchical() ? "hierarchical" : "global");
    const int first_id = doc.layer_ids.empty() ? 0 : doc.layer_ids.front();
    const int last_id = doc.layer_ids.empty() ? 0 : doc.layer_ids.back();
    out += format("series    %d steps (%d..%d) x %d layers (model layers %d..%d)\n", r.num_steps,
                  doc.first_step, doc.first_step + r.num_steps - 1, r.num_layers, first_id, last_id);
    const SharedLoop loop = shared_loop(r);
    if (loop.any_loop) {
        std::string text = "loop      ";
        text += loop.window > 0 ? format("window %d steps, ", loop.window) : "windows of the sweep, ";
        if (loop.interval > 0) {
            text += format("a check every %d steps (the first after step %d)", loop.interval,
                           doc.first_step + std::max(1, loop.interval / 4) - 1);
        } else {
            text += "checks at the intervals of the sweep";
        }
        text += loop.any_threshold ? ", rearranging where the lane's threshold says"
                                   : ", each one a rearrangement";
        out += text + "\n";
    }
    out += format("start     vLLM's placement (slot s holds expert s mod %d)\n", c.num_logical_experts);
    out += format("backend   %s, %.2f s\n\n", r.backend.c_str(), r.seconds);

    std::set<int> windows, intervals;
    for (const LaneResult& lane : r.lanes) {
        if (lane.spec.oracle) continue;
        windows.insert(lane.spec.window_size);
        intervals.insert(lane.spec.step_interval);
    }
    const bool window_col = windows.size() > 1, interval_col = intervals.size() > 1;
    std::vector<std::string> header = {"policy"};
    if (window_col) header.push_back("window");
    if (interval_col) header.push_back("interval");
    if (loop.any_threshold) header.push_back("threshold");
    for (const char* h : {"balancedness", "mean step", "worst step", "at step"}) header.push_back(h);
    if (loop.any_threshold) header.push_back("checks");
    for (const char* h : {"rearrangements", "experts moved", "GB moved", "plan ms"}) header.push_back(h);
    TextTable table(header);
    for (const LaneResult& lane : r.lanes) {
        const LaneSpec& s = lane.spec;
        std::vector<std::string> row;
        // With sweep columns the first column names the policy alone.
        row.push_back(window_col || interval_col || loop.any_threshold
                          ? std::string(policy_name(s.policy)) + (s.oracle ? " oracle" : "") +
                                (s.relabel ? " relabel" : "")
                          : s.label);
        if (window_col) row.push_back(s.oracle ? "-" : std::to_string(s.window_size));
        if (interval_col) row.push_back(s.oracle ? "-" : std::to_string(s.step_interval));
        if (loop.any_threshold) row.push_back(s.oracle ? "-" : threshold_text(s.threshold));
        row.push_back(format("%.4f", lane.balancedness));
        row.push_back(format("%.4f", lane.mean_step_balancedness));
        row.push_back(format("%.4f", lane.worst_step_balancedness));
        row.push_back(std::to_string(doc.first_step + lane.worst_step));
        if (loop.any_threshold) row.push_back(s.oracle ? "-" : std::to_string(lane.checks));
        row.push_back(std::to_string(lane.rearrangements));
        row.push_back(std::to_string(lane.experts_moved));
        row.push_back(format("%.2f", static_cast<double>(lane.bytes_moved) / 1e9));
        row.push_back(format("%.1f", lane.plan_seconds * 1e3));
        table.add_row(std::move(row));
    }
    out += table.render();
    for (const LaneResult& lane : r.lanes) {
        const std::string none = no_rearrangement_reason(doc, r, lane);
        if (!none.empty()) out += "note: " + lane.spec.label + ": " + none + "\n";
    }
    out +=
        "\nbalancedness = sum of mean GPU load / sum of max GPU load over all steps and layers; mean step =\n"
        "the mean of the steps' balancedness; moved = experts each GPU must receive, summed over\n"
        "rearrangements; plan ms = time spent planning (its share of batched calls).\n";
    return out;
}

}  // namespace eplb::io
