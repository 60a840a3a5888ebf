// Probe-placement reader and the shuffle report (see shuffle_io.h).
#include "io/shuffle_io.h"

#include <algorithm>

#include "eplb/error.h"
#include "eplb_config.h"
#include "io/file_util.h"
#include "io/json_util.h"
#include "io/link_classes_io.h"
#include "io/report.h"

namespace eplb::io {

using ojson = nlohmann::ordered_json;
using nlohmann::json;

namespace {

// Counts (GPUs, replicas, experts) stay below 2^24; expert_bytes passes its own bound.
int64_t probe_int(const json& j, const char* key, const std::string& source, int64_t min,
                  int64_t max = int64_t{1} << 24) {
    EPLB_CHECK(j.contains(key), source << ": missing key \"" << key << "\"");
    const json& v = j[key];
    EPLB_CHECK(v.is_number_integer() && v.get<int64_t>() >= min && v.get<int64_t>() <= max,
               source << ": " << key << " is " << describe_value(v) << ", expected an integer in [" << min
                      << ", " << max << "]");
    return v.get<int64_t>();
}

IndexMatrix probe_matrix(const json& j, const char* key, const std::string& source, int cols) {
    EPLB_CHECK(j.contains(key) && j[key].is_array() && !j[key].empty(),
               source << ": \"" << key << "\" must be a non-empty array of layers");
    const json& rows = j[key];
    IndexMatrix m(rows.size(), cols);
    for (size_t r = 0; r < rows.size(); ++r) {
        EPLB_CHECK(rows[r].is_array() && static_cast<int>(rows[r].size()) == cols,
                   source << ": " << key << "[" << r << "] has " << (rows[r].is_array() ? rows[r].size() : 0)
                          << " entries, expected num_replicas = " << cols);
        for (int c = 0; c < cols; ++c) {
            const json& v = rows[r][c];
            EPLB_CHECK(v.is_number_integer() && v.get<int64_t>() >= -1 && v.get<int64_t>() < (1 << 24),
                       source << ": " << key << "[" << r << "][" << c << "] is " << describe_value(v)
                              << ", expected an expert id >= 0 or -1 (empty)");
            m(r, c) = v.get<int32_t>();
        }
    }
    return m;
}

double gb(double bytes) { return bytes / 1e9; }

// Experts each GPU receives per layer [L][P], from the plan's transfers.
std::vector<std::vector<int64_t>> received_per_layer(const TransferPlan& plan) {
    std::vector<std::vector<int64_t>> out(plan.num_layers, std::vector<int64_t>(plan.num_gpus, 0));
    for (const Step& st : plan.steps) {
        for (int a = 0; a < plan.num_gpus; ++a) {
            for (const Transfer& tr : st.sends[a]) ++out[tr.layer][st.send_peer[a]];
        }
    }
    return out;
}

int64_t wrong_of_gpu(const ShuffleRunResult& run, int q) {
    int64_t w = 0;
    for (int64_t x : run.wrong[q]) w += x;
    return w;
}

const char* kind_name(CopyKind kind) {
    switch (kind) {
        case CopyKind::kLocal:
            return "local";
        case CopyKind::kLanding:
            return "landing";
        case CopyKind::kSave:
            return "save";
    }
    return "?";
}

}  // namespace

ShufflePlacements parse_probe_placements(const std::string& text, const std::string& source) {
    const json j = parse_json(text, source);
    EPLB_CHECK(j.is_object() && j.contains("old") && j.contains("new"),
               source << ": not a probe placements file (expected keys \"old\", \"new\", \"num_replicas\", "
                         "\"num_gpus\")");
    ShufflePlacements p;
    const int r = static_cast<int>(probe_int(j, "num_replicas", source, 1));
    p.old_num_gpus = p.new_num_gpus = static_cast<int>(probe_int(j, "num_gpus", source, 1));
    p.old_num_nodes = p.new_num_nodes =
        j.contains("num_nodes") ? static_cast<int>(probe_int(j, "num_nodes", source, 1)) : 1;
    EPLB_CHECK(r % p.old_num_gpus == 0, source << ": num_replicas (" << r
                                               << ") must be a multiple of num_gpus (" << p.old_num_gpus
                                               << ")");
    p.old_phy2log = probe_matrix(j, "old", source, r);
    p.new_phy2log = probe_matrix(j, "new", source, r);
    EPLB_CHECK(
        p.old_phy2log.rows() == p.new_phy2log.rows(),
        source << ": \"old\" has " << p.old_phy2log.rows() << " layers, \"new\" " << p.new_phy2log.rows());
    p.num_experts = std::max(p.old_phy2log.maxCoeff(), p.new_phy2log.maxCoeff()) + 1;
    if (j.contains("num_logical_experts")) {
        const int e = static_cast<int>(probe_int(j, "num_logical_experts", source, 1));
        EPLB_CHECK(e >= p.num_experts, source << ": num_logical_experts is " << e
                                              << " but the maps name expert " << p.num_experts - 1);
        p.num_experts = e;
    }
    if (j.contains("layers")) {
        const json& ids = j["layers"];
        EPLB_CHECK(
            ids.is_array() && ids.size() == static_cast<size_t>(p.old_phy2log.rows()),
            source << ": \"layers\" must list one model layer id per row (" << p.old_phy2log.rows() << ")");
        for (size_t l = 0; l < ids.size(); ++l) {
            EPLB_CHECK(
                ids[l].is_number_integer() && ids[l].get<int64_t>() >= 0 && ids[l].get<int64_t>() < (1 << 30),
                source << ": layers[" << l << "] is " << describe_value(ids[l]));
            p.layer_ids.push_back(ids[l].get<int>());
        }
    } else {
        for (int l = 0; l < p.old_phy2log.rows(); ++l) p.layer_ids.push_back(l);
    }
    // One expert's weights: DeepSeek-V3's FP8 expert is 44,040,192 bytes; 1 TiB bounds typos.
    if (j.contains("expert_bytes"))
        p.expert_bytes = probe_int(j, "expert_bytes", source, 1, int64_t{1} << 40);
    p.old_source = p.new_source = source;
    return p;
}

ShufflePlacements read_probe_placements(const std::string& path) {
    return parse_probe_placements(read_text_file(path), path);
}

double busiest_rate(const TransferPlan& plan, double seconds) {
    return seconds > 0 ? static_cast<double>(plan.stats.max_received * plan.expert_bytes) / seconds : 0.0;
}

namespace {

int layer_id(const ShuffleReport& r, int l) { return r.layer_ids.empty() ? l : r.layer_ids[l]; }

// The plan in lines: layers, mapping, plan, schedule, staging, bound, host.
std::string render_summary(const ShuffleReport& r) {
    const TransferPlan& plan = *r.plan;
    const TransferStats& st = plan.stats;
    const double eb = static_cast<double>(plan.expert_bytes);
    std::string out = r.title + "\n";
    const int first = r.layer_ids.empty() ? 0 : r.layer_ids.front();
    const int last = r.layer_ids.empty() ? 0 : r.layer_ids.back();
    out += format(
        "layers    %d (model layers %d..%d), %d slots per GPU on %d GPUs (%d node%s), expert %lld bytes\n",
        plan.num_layers, first, last, plan.slots_per_gpu, plan.num_gpus, plan.num_nodes,
        plan.num_nodes == 1 ? "" : "s", static_cast<long long>(plan.expert_bytes));
    if (!r.rank_mapping.empty()) {
        std::string m;
        for (size_t q = 0; q < r.rank_mapping.size(); ++q) {
            if (q) m += ",";
            m += std::to_string(r.rank_mapping[q]);
        }
        out += format("mapping   old rank -> new rank %s; GPUs numbered as the %s world's ranks\n", m.c_str(),
                      r.old_ranks ? "old" : "new");
    }
    out += format(
        "plan      %lld experts received = %.2f GB (%lld intra-node, %lld inter-node); busiest GPU "
        "receives %lld (%.2f GB), busiest sender sends %lld\n",
        static_cast<long long>(st.received), gb(st.received * eb), static_cast<long long>(st.received_intra),
        static_cast<long long>(st.received - st.received_intra), static_cast<long long>(st.max_received),
        gb(st.max_received * eb), static_cast<long long>(st.max_sent));
    int64_t groups = 0;
    for (const Step& s : plan.steps) groups += (s.length + r.group_size - 1) / r.group_size;
    out += format(
        "schedule  %d layer%s in flight: %d window%s, %zu steps of <= %s experts per pair (each GPU sends to "
        "one "
        "peer and receives from one), %lld experts long (busiest GPU: %lld); with --transport nccl %lld "
        "groups of <= %d "
        "sends + %d receives\n",
        plan.layers_in_flight, plan.layers_in_flight == 1 ? "" : "s", plan.num_windows(),
        plan.num_windows() == 1 ? "" : "s", plan.steps.size(),
        plan.step_experts > 0 ? std::to_string(plan.step_experts).c_str() : "any",
        static_cast<long long>(st.schedule_length),
        static_cast<long long>(std::max(st.max_received, st.max_sent)), static_cast<long long>(groups),
        r.group_size, r.group_size);
    out += format("staging   at most %lld buffers per GPU = %.2f GB\n",
                  static_cast<long long>(st.max_staging_buffers), gb(st.max_staging_buffers * eb));
    if (r.link_gbps > 0 && r.inter_node_gbps > 0 && plan.num_nodes > 1) {
        const LinkBound links = link_bound(plan, LinkSpeeds{r.link_gbps, r.inter_node_gbps});
        out += format(
            "bound     %.2f ms at %.0f GB/s intra-node and %g GB/s inter-node per GPU and direction, NVLink "
            "and NICs at once (the schedule at those speeds: %.2f ms, %lld of %zu steps bound by "
            "inter-node links; every link at %.0f GB/s: %.2f ms)\n",
            1e3 * links.busiest.seconds, r.link_gbps, r.inter_node_gbps, 1e3 * links.schedule_seconds,
            static_cast<long long>(links.steps_inter_bound), plan.steps.size(), r.link_gbps,
            1e3 * st.bound_seconds(r.link_gbps * 1e9));
        out += "links     " + render_link_split(links, plan.expert_bytes) + "\n";
    } else if (r.link_gbps > 0) {
        out += format(
            "bound     %.2f ms at %.0f GB/s per GPU and direction (the schedule at that speed: %.2f ms)\n",
            1e3 * st.bound_seconds(r.link_gbps * 1e9), r.link_gbps,
            1e3 * st.schedule_seconds(r.link_gbps * 1e9));
    }
    if (r.host_checked) {
        out += format("host      order checked and run on host buffers: %lld wrong bytes\n",
                      static_cast<long long>(r.host_wrong));
    } else if (!r.host_note.empty()) {
        out += "host      " + r.host_note + "\n";
    }
    return out;
}

// One row per GPU: what it receives, sends, copies and stages (and its wrong bytes after a run).
std::string render_gpu_table(const ShuffleReport& r) {
    const TransferStats& st = r.plan->stats;
    const double eb = static_cast<double>(r.plan->expert_bytes);
    std::vector<std::string> head = {"GPU",    "received", "intra",   "inter", "sent",      "direct",
                                     "staged", "local",    "landing", "saves", "staging GB"};
    if (r.run) head.push_back("wrong");
    TextTable t(head);
    for (int q = 0; q < r.plan->num_gpus; ++q) {
        const GpuTransferStats& g = st.gpus[q];
        std::vector<std::string> row = {std::to_string(q),
                                        std::to_string(g.received),
                                        std::to_string(g.received_intra),
                                        std::to_string(g.received - g.received_intra),
                                        std::to_string(g.sent),
                                        std::to_string(g.direct),
                                        std::to_string(g.staged),
                                        std::to_string(g.local_copies),
                                        std::to_string(g.landing_copies),
                                        std::to_string(g.saves),
                                        format("%.2f", gb(g.staging_buffers * eb))};
        if (r.run) row.push_back(std::to_string(wrong_of_gpu(*r.run, q)));
        t.add_row(row);
    }
    return t.render();
}

// Experts per link (from GPU, to GPU) and received per layer and GPU.
std::string render_link_tables(const ShuffleReport& r) {
    const TransferPlan& plan = *r.plan;
    const int p = plan.num_gpus;
    std::string out = "\nexperts sent (row: from GPU, column: to GPU)\n";
    std::vector<std::string> lh = {"from"};
    for (int b = 0; b < p; ++b) lh.push_back(std::to_string(b));
    TextTable links(lh);
    for (int a = 0; a < p; ++a) {
        std::vector<std::string> row = {std::to_string(a)};
        for (int b = 0; b < p; ++b)
            row.push_back(a == b ? "-" : std::to_string(plan.stats.link_experts(a, b)));
        links.add_row(row);
    }
    out += links.render();
    out += "\nexperts received per layer\n";
    std::vector<std::string> ph = {"layer"};
    for (int q = 0; q < p; ++q) ph.push_back("GPU" + std::to_string(q));
    TextTable per_layer(ph);
    const auto rx = received_per_layer(plan);
    for (int l = 0; l < plan.num_layers; ++l) {
        std::vector<std::string> row = {std::to_string(layer_id(r, l))};
        for (int q = 0; q < p; ++q) row.push_back(std::to_string(rx[l][q]));
        per_layer.add_row(row);
    }
    out += per_layer.render();
    return out;
}

// The run's device, NCCL and transport, and the peaks measured.
std::string render_run_device(const ShuffleReport& r) {
    const ShuffleRunResult& run = *r.run;
    std::string devs;
    for (size_t i = 0; i < run.devices.size(); ++i) {
        if (i) devs += ",";
        devs += std::to_string(run.devices[i]);
    }
    std::string out = format(
        "device    %s x %d (CUDA device%s %s), NCCL %d.%d.%d (NCCL_P2P_NVL_CHUNKSIZE %s), transport %s\n",
        run.device_name.c_str(), r.plan->num_gpus, run.devices.size() == 1 ? "" : "s", devs.c_str(),
        run.nccl_version / 10000, (run.nccl_version / 100) % 100, run.nccl_version % 100,
        run.nccl_p2p_chunk.c_str(), transport_name(run.transport));
    if (run.ring_peak > 0) {
        out += format("peak      NCCL ring %.1f GB/s per GPU and direction (one op per GPU each way)",
                      gb(run.ring_peak));
        if (run.ring_chunked > 0)
            out += format("; in %lld-byte ops, %d per group: %.1f GB/s",
                          static_cast<long long>(r.plan->expert_bytes), r.group_size, gb(run.ring_chunked));
        if (run.ce_peak > 0) out += format("; copy-engine ring %.1f GB/s", gb(run.ce_peak));
        out += "\n";
    }
    return out;
}

// The passes' times and rates, the best against the peak, and the wrong bytes.
std::string render_run_passes(const ShuffleReport& r) {
    const TransferPlan& plan = *r.plan;
    const ShuffleRunResult& run = *r.run;
    const double eb = static_cast<double>(plan.expert_bytes);
    TextTable passes({"pass", "ms", "GB/s", "of peak"});
    auto add_pass = [&](const std::string& name, double s) {
        const double rate = busiest_rate(plan, s);
        passes.add_row({name, format("%.2f", 1e3 * s), format("%.1f", gb(rate)),
                        run.ring_peak > 0 ? format("%.1f%%", 100.0 * rate / run.ring_peak) : "-"});
    };
    add_pass("warm-up", run.warmup_seconds);
    for (size_t i = 0; i < run.pass_seconds.size(); ++i) add_pass(std::to_string(i + 1), run.pass_seconds[i]);
    std::string out = passes.render();
    if (!run.pass_seconds.empty()) {
        const double best = run.min_seconds(), rate = busiest_rate(plan, best);
        out +=
            format("result    best %.2f ms (median %.2f ms): the busiest GPU receives %.2f GB at %.1f GB/s",
                   1e3 * best, 1e3 * run.median_seconds(), gb(plan.stats.max_received * eb), gb(rate));
        if (run.ring_peak > 0)
            out += format(" = %.1f%% of the NCCL ring peak (bound %.2f ms)", 100.0 * rate / run.ring_peak,
                          1e3 * plan.stats.bound_seconds(run.ring_peak));
        out += "\n";
    }
    out += format(
        "wrong     %lld bytes (every slot of %d GPUs x %d layers x %d slots checked after each of %zu "
        "passes)\n",
        static_cast<long long>(run.wrong_total), plan.num_gpus, plan.num_layers, plan.slots_per_gpu,
        run.pass_seconds.size() + 1);
    return out;
}

ojson config_json(const ShuffleReport& r) {
    const TransferPlan& plan = *r.plan;
    ojson c = {{"num_gpus", plan.num_gpus},
               {"num_nodes", plan.num_nodes},
               {"slots_per_gpu", plan.slots_per_gpu},
               {"num_layers", plan.num_layers},
               {"expert_bytes", plan.expert_bytes},
               {"layers_in_flight", plan.layers_in_flight},
               {"step_experts", plan.step_experts},
               {"group_size", r.group_size},
               {"transport", r.transport}};
    if (!r.rank_mapping.empty()) {
        c["rank_mapping"] = r.rank_mapping;
        c["gpus_are"] = r.old_ranks ? "old ranks" : "new ranks";
    }
    return c;
}

ojson per_gpu_json(const TransferPlan& plan) {
    const int64_t eb = plan.expert_bytes;
    ojson per_gpu = ojson::array();
    for (int q = 0; q < plan.num_gpus; ++q) {
        const GpuTransferStats& g = plan.stats.gpus[q];
        per_gpu.push_back({{"gpu", q},
                           {"received", g.received},
                           {"received_intra", g.received_intra},
                           {"received_inter", g.received - g.received_intra},
                           {"received_bytes", g.received * eb},
                           {"sent", g.sent},
                           {"sent_intra", g.sent_intra},
                           {"sent_bytes", g.sent * eb},
                           {"direct", g.direct},
                           {"staged", g.staged},
                           {"local_copies", g.local_copies},
                           {"landing_copies", g.landing_copies},
                           {"saves", g.saves},
                           {"staging_buffers", g.staging_buffers},
                           {"staging_bytes", g.staging_buffers * eb}});
    }
    return per_gpu;
}

// Totals, the bound at --link-gbps, per GPU, per link, per layer.
ojson plan_json(const ShuffleReport& r) {
    const TransferPlan& plan = *r.plan;
    const TransferStats& st = plan.stats;
    const int p = plan.num_gpus;
    const int64_t eb = plan.expert_bytes;
    ojson plan_j;
    plan_j["received"] = st.received;
    plan_j["received_bytes"] = st.received * eb;
    plan_j["received_intra"] = st.received_intra;
    plan_j["received_inter"] = st.received - st.received_intra;
    plan_j["max_received"] = st.max_received;
    plan_j["max_received_bytes"] = st.max_received * eb;
    plan_j["max_sent"] = st.max_sent;
    plan_j["windows"] = plan.num_windows();
    plan_j["steps"] = plan.steps.size();
    plan_j["schedule_length"] = st.schedule_length;
    plan_j["max_staging_buffers"] = st.max_staging_buffers;
    plan_j["max_staging_bytes"] = st.max_staging_buffers * eb;
    if (r.link_gbps > 0) {
        plan_j["link_gbps"] = r.link_gbps;
        plan_j["bound_ms"] = 1e3 * st.bound_seconds(r.link_gbps * 1e9);
        plan_j["schedule_ms"] = 1e3 * st.schedule_seconds(r.link_gbps * 1e9);
        if (r.inter_node_gbps > 0 && plan.num_nodes > 1) {
            const LinkSpeeds speeds{r.link_gbps, r.inter_node_gbps};
            plan_j["link_classes"] = link_bound_json(link_bound(plan, speeds), speeds, eb);
        }
    }
    plan_j["per_gpu"] = per_gpu_json(plan);
    ojson links = ojson::array();
    for (int a = 0; a < p; ++a) {
        std::vector<int64_t> row(p);
        for (int b = 0; b < p; ++b) row[b] = st.link_experts(a, b);
        links.push_back(row);
    }
    plan_j["links"] = std::move(links);
    ojson per_layer = ojson::array();
    const auto rx = received_per_layer(plan);
    for (int l = 0; l < plan.num_layers; ++l)
        per_layer.push_back({{"layer", layer_id(r, l)}, {"received", rx[l]}});
    plan_j["per_layer"] = std::move(per_layer);
    return plan_j;
}

// The measured run: transport, device, peaks, passes, rates and wrong bytes.
ojson run_json(const ShuffleReport& r) {
    const TransferPlan& plan = *r.plan;
    const ShuffleRunResult& run = *r.run;
    ojson rj;
    rj["transport"] = transport_name(run.transport);
    rj["nccl_p2p_chunk"] = run.nccl_p2p_chunk;
    rj["device"] = run.device_name;
    rj["cuda_devices"] = run.devices;
    rj["nccl_version"] = run.nccl_version;
    rj["nccl_groups"] = run.nccl_groups;
    rj["max_ops_per_group"] = run.max_ops_per_group;
    rj["ring_peak_gbps"] = run.ring_peak / 1e9;
    rj["ring_chunked_gbps"] = run.ring_chunked / 1e9;
    rj["ce_peak_gbps"] = run.ce_peak / 1e9;
    rj["warmup_ms"] = 1e3 * run.warmup_seconds;
    std::vector<double> ms;
    for (double s : run.pass_seconds) ms.push_back(1e3 * s);
    rj["pass_ms"] = ms;
    rj["min_ms"] = 1e3 * run.min_seconds();
    rj["median_ms"] = 1e3 * run.median_seconds();
    const double rate = busiest_rate(plan, run.min_seconds());
    rj["busiest_gbps"] = rate / 1e9;  // bytes received by the busiest GPU / best pass time
    rj["fraction_of_ring_peak"] = run.ring_peak > 0 ? rate / run.ring_peak : 0.0;
    rj["bound_ms_at_ring_peak"] = run.ring_peak > 0 ? 1e3 * plan.stats.bound_seconds(run.ring_peak) : 0.0;
    rj["wrong_bytes"] = run.wrong_total;
    rj["wrong_per_gpu_layer"] = run.wrong;
    rj["weight_bytes_per_gpu"] = run.weight_bytes_per_gpu;
    rj["staging_bytes"] = run.staging_bytes;
    return rj;
}

ojson buffer_json(const ShuffleReport& r, const BufferRef& b) {
    if (b.staging()) return {{"staging", b.index}};
    return {{"layer", layer_id(r, b.layer)}, {"slot", b.index}};
}

// Every step: its pairs and their transfers in order.
ojson steps_json(const ShuffleReport& r) {
    const TransferPlan& plan = *r.plan;
    ojson steps = ojson::array();
    for (const Step& s : plan.steps) {
        ojson pairs = ojson::array();
        for (int a = 0; a < plan.num_gpus; ++a) {
            if (s.send_peer[a] < 0) continue;
            ojson transfers = ojson::array();
            for (const Transfer& tr : s.sends[a]) {
                transfers.push_back({{"layer", layer_id(r, tr.layer)},
                                     {"expert", tr.expert},
                                     {"from_slot", tr.src_slot},
                                     {"to", buffer_json(r, tr.dst)}});
            }
            pairs.push_back({{"from", a}, {"to", s.send_peer[a]}, {"transfers", std::move(transfers)}});
        }
        steps.push_back({{"window", s.window},
                         {"length", s.length},
                         {"wait_local", s.wait_local},
                         {"pairs", std::move(pairs)}});
    }
    return steps;
}

// Every GPU's local copies in order.
ojson local_copies_json(const ShuffleReport& r) {
    const TransferPlan& plan = *r.plan;
    ojson local = ojson::array();
    for (int q = 0; q < plan.num_gpus; ++q) {
        ojson ops = ojson::array();
        for (const LocalCopy& lc : plan.local[q]) {
            ops.push_back({{"after_step", lc.after_step},
                           {"kind", kind_name(lc.kind)},
                           {"src", buffer_json(r, lc.src)},
                           {"dst", buffer_json(r, lc.dst)}});
        }
        local.push_back({{"gpu", q}, {"copies", std::move(ops)}});
    }
    return local;
}

}  // namespace

std::string render_shuffle_report(const ShuffleReport& r) {
    std::string out = render_summary(r) + "\n" + render_gpu_table(r);
    if (r.plan->num_gpus <= 16) out += render_link_tables(r);
    if (!r.run) return out;
    return out + "\n" + render_run_device(r) + render_run_passes(r);
}

std::string shuffle_report_json(const ShuffleReport& r) {
    ojson j;
    j["schema"] = "eplb.shuffle/v1";
    j["tool"] = {{"name", "eplb"}, {"version", EPLB_VERSION}};
    j["inputs"] = {{"old", r.old_source}, {"new", r.new_source}};
    j["layers"] = r.layer_ids;
    j["config"] = config_json(r);
    j["plan"] = plan_json(r);
    // wrong_bytes only where the check ran: null says "not checked", never a reassuring 0.
    j["host_check"] = {{"done", r.host_checked},
                       {"wrong_bytes", r.host_checked ? ojson(r.host_wrong) : ojson(nullptr)}};
    if (!r.host_note.empty()) j["host_check"]["note"] = r.host_note;
    if (r.run) j["run"] = run_json(r);
    if (r.full_plan) {
        j["steps"] = steps_json(r);
        j["local_copies"] = local_copies_json(r);
    }
    return j.dump() + "\n";
}

}  // namespace eplb::io
