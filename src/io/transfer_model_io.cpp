// Renderings of the transfer model and the schedule sweep (see transfer_model_io.h).
#include "io/transfer_model_io.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "eplb_config.h"
#include "io/link_classes_io.h"
#include "io/report.h"

namespace eplb::io {

using ojson = nlohmann::ordered_json;

namespace {

const char* transport_of(bool copy_engines) { return copy_engines ? "ce" : "nccl"; }

std::string int_list(const std::vector<int>& v) {
    std::string out;
    for (size_t i = 0; i < v.size(); ++i) {
        if (i) out += ',';
        out += std::to_string(v[i]);
    }
    return out;
}

ojson params_json(const TransferModelParams& m) {
    return {{"transport", transport_of(m.copy_engines)},
            {"group_size", m.copy_engines ? ojson(nullptr) : ojson(m.group_size)},
            {"ring_gbps", m.ring_gbps},
            {"link_factor", m.link_factor},
            {"op_us", m.op_us},
            {"group_us", m.group_us},
            {"copy_gbps", m.copy_gbps},
            {"interference", m.interference}};
}

}  // namespace

std::string candidate_flags(const ScheduleCandidate& c) {
    std::string out = std::string("--transport ") + transport_of(c.copy_engines);
    if (!c.copy_engines) out += " --group-size " + std::to_string(c.group_size);
    return out + " --step-experts " + std::to_string(c.step_experts) + " --layers-in-flight " +
           std::to_string(c.layers_in_flight);
}

std::string render_transfer_model(const TransferPlan& plan, const TransferModelResult& r, int max_steps) {
    const TransferModelParams& m = r.params;
    std::string out = "\n";
    const std::string unit =
        m.copy_engines ? std::string("copy engines")
                       : format("nccl, groups of <= %d sends + %d receives", m.group_size, m.group_size);
    out += format("model     %s: %zu steps, %lld groups per pass, <= %lld operations per group per GPU\n",
                  unit.c_str(), r.steps.size(), static_cast<long long>(r.groups),
                  static_cast<long long>(r.max_ops_per_group));
    out += format(
        "predicted %.2f ms = %.1f%% of a %.0f GB/s ring (the busiest receiver's %lld experts at the ring: "
        "%.2f "
        "ms); the network ends at %.2f ms, local copies run %.2f ms past it (busiest stream: %lld copies)\n",
        r.seconds * 1e3, 100 * r.of_ring(), m.ring_gbps, static_cast<long long>(plan.stats.max_received),
        r.ring_seconds * 1e3, r.network_seconds * 1e3, r.local_tail_seconds * 1e3,
        static_cast<long long>(r.local_copies));
    out += format(
        "params    wire %.0f GB/s x %.2f, %.1f us per operation, %.1f us per %s, local copies %.0f GB/s, "
        "interference %.2f (an alpha-beta model; defaults fitted to 2 and 4 x H200 runs, README \"Shuffle "
        "model\")\n",
        m.ring_gbps, m.link_factor, m.op_us, m.group_us, m.copy_engines ? "step barrier" : "group",
        m.copy_gbps, m.interference);
    const bool nodes = plan.num_nodes > 1;
    if (nodes) {
        out += format(
            "links     intra-node %.0f GB/s (wire), inter-node %g GB/s per GPU and direction, NVLink and "
            "NICs "
            "at once: bound %.2f ms, the steps at those speeds %.2f ms (%lld of %zu bound by inter-node "
            "links); %s\n",
            m.ring_gbps * m.link_factor, m.inter_node_gbps, 1e3 * r.links.busiest.seconds,
            1e3 * r.links.schedule_seconds, static_cast<long long>(r.links.steps_inter_bound), r.steps.size(),
            render_link_split(r.links, plan.expert_bytes).c_str());
    }
    std::vector<std::string> head = {"step",      "window",   "pairs",  "experts", "groups",
                                     "ops/group", "start ms", "end ms", "delay ms"};
    if (nodes) head.insert(head.begin() + 3, "inter-node");
    TextTable t(head);
    const int shown = std::min<int>(max_steps, static_cast<int>(r.steps.size()));
    for (int s = 0; s < shown; ++s) {
        const ModelStep& st = r.steps[s];
        std::vector<std::string> row = {
            std::to_string(s),           std::to_string(st.window), std::to_string(st.pairs),
            std::to_string(st.length),   std::to_string(st.groups), std::to_string(st.ops_per_group),
            format("%.2f", st.start_ms), format("%.2f", st.end_ms), format("%.3f", st.delay_ms)};
        if (nodes) row.insert(row.begin() + 3, std::to_string(st.inter_pairs));
        t.add_row(row);
    }
    out += '\n';
    out += t.render();
    if (shown < static_cast<int>(r.steps.size()))
        out += format("... %zu more steps (--json lists every step)\n", r.steps.size() - shown);
    return out;
}

std::string transfer_model_json(const TransferPlan& plan, const TransferModelResult& r) {
    ojson j;
    j["schema"] = "eplb.shuffle_model/v1";
    j["tool"] = {{"name", "eplb"}, {"version", EPLB_VERSION}};
    j["schedule"] = {{"num_gpus", plan.num_gpus},         {"num_layers", plan.num_layers},
                     {"expert_bytes", plan.expert_bytes}, {"layers_in_flight", plan.layers_in_flight},
                     {"step_experts", plan.step_experts}, {"max_received", plan.stats.max_received}};
    j["params"] = params_json(r.params);
    j["predicted"] = {{"seconds", r.seconds},
                      {"of_ring", r.of_ring()},
                      {"ring_seconds", r.ring_seconds},
                      {"network_seconds", r.network_seconds},
                      {"local_tail_seconds", r.local_tail_seconds},
                      {"groups", r.groups},
                      {"max_ops_per_group", r.max_ops_per_group}};
    const bool nodes = plan.num_nodes > 1;
    if (nodes) {
        const LinkSpeeds speeds{r.params.ring_gbps * r.params.link_factor, r.params.inter_node_gbps};
        j["link_classes"] = link_bound_json(r.links, speeds, plan.expert_bytes);
    }
    ojson steps = ojson::array();
    for (const ModelStep& st : r.steps) {
        ojson step = {{"window", st.window},
                      {"pairs", st.pairs},
                      {"experts", st.length},
                      {"groups", st.groups},
                      {"ops_per_group", st.ops_per_group},
                      {"start_ms", st.start_ms},
                      {"end_ms", st.end_ms},
                      {"delay_ms", st.delay_ms}};
        if (nodes) step["inter_pairs"] = st.inter_pairs;
        steps.push_back(std::move(step));
    }
    j["steps"] = std::move(steps);
    return j.dump() + "\n";
}

std::string render_schedule_sweep(const std::vector<SweepRow>& rows, const ScheduleGrid& grid, int top,
                                  int num_nodes) {
    std::string transports;
    for (const TransferModelParams& m : grid.transports) {
        if (!transports.empty()) transports += ',';
        transports += transport_of(m.copy_engines);
    }
    std::string out = format(
        "sweep     %zu schedules modelled (transport %s; group size %s; step experts %s; layers in flight "
        "%s), "
        "fastest first by the model: measure the first few on the GPUs\n\n",
        rows.size(), transports.c_str(), int_list(grid.group_sizes).c_str(),
        int_list(grid.step_experts).c_str(), int_list(grid.layers_in_flight).c_str());
    if (num_nodes > 1 && !grid.transports.empty()) {
        out.insert(
            out.size() - 1,
            format("links     %d nodes: inter-node %g GB/s per GPU and direction, NVLink and NICs at once\n",
                   num_nodes, grid.transports.front().inter_node_gbps));
    }
    TextTable t({"rank", "transport", "group", "step experts", "in flight", "steps", "groups",
                 "staging buffers", "predicted ms", "of ring"});
    const int shown = std::min<int>(top, static_cast<int>(rows.size()));
    for (int i = 0; i < shown; ++i) {
        const SweepRow& r = rows[i];
        const ScheduleCandidate& c = r.candidate;
        t.add_row({std::to_string(i + 1), transport_of(c.copy_engines),
                   c.copy_engines ? "-" : std::to_string(c.group_size), std::to_string(c.step_experts),
                   std::to_string(c.layers_in_flight), std::to_string(r.steps),
                   c.copy_engines ? "-" : std::to_string(r.groups), std::to_string(r.max_staging_buffers),
                   format("%.2f", r.seconds * 1e3), format("%.1f%%", 100 * r.of_ring)});
    }
    out += t.render();
    for (int i = 0; i < std::min(shown, 3); ++i)
        out += format("#%d: eplb shuffle %s\n", i + 1, candidate_flags(rows[i].candidate).c_str());
    return out;
}

std::string schedule_sweep_json(const std::vector<SweepRow>& rows, const ScheduleGrid& grid, int num_nodes) {
    ojson j;
    j["schema"] = "eplb.shuffle_sweep/v1";
    j["tool"] = {{"name", "eplb"}, {"version", EPLB_VERSION}};
    ojson models = ojson::array();
    for (const TransferModelParams& m : grid.transports) models.push_back(params_json(m));
    j["models"] = std::move(models);
    if (num_nodes > 1 && !grid.transports.empty()) {
        j["num_nodes"] = num_nodes;
        j["inter_node_gbps"] = grid.transports.front().inter_node_gbps;
    }
    ojson out = ojson::array();
    for (const SweepRow& r : rows) {
        const ScheduleCandidate& c = r.candidate;
        out.push_back({{"transport", transport_of(c.copy_engines)},
                       {"group_size", c.copy_engines ? ojson(nullptr) : ojson(c.group_size)},
                       {"step_experts", c.step_experts},
                       {"layers_in_flight", c.layers_in_flight},
                       {"steps", r.steps},
                       {"groups", r.groups},
                       {"max_staging_buffers", r.max_staging_buffers},
                       {"seconds", r.seconds},
                       {"of_ring", r.of_ring},
                       {"flags", candidate_flags(c)}});
    }
    j["rows"] = std::move(out);
    return j.dump() + "\n";
}

}  // namespace eplb::io
