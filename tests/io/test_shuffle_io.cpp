// The shuffle's I/O on a plan small enough to work out by hand (2 layers, 2 GPUs on 2 nodes, 2 slots
// each): the probe reader and its messages, the text report line by line and the eplb.shuffle/v1
// JSON, for a dry run and for a measured run.
#include <doctest/doctest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "eplb/transfer_plan.h"
#include "io/shuffle_io.h"
#include "tests/test_util.h"

using namespace eplb;
using namespace eplb::io;
using nlohmann::json;

namespace {

// Layer 3: GPU 0 needs expert 2 (held by GPU 1); GPU 1 keeps expert 0 and copies it into slot 0.
// Layer 4: GPU 0 needs 0 from GPU 1 and moves its 1 to slot 1; GPU 1 needs 2 from GPU 0, twice.
// So GPU 0 receives 2 experts, GPU 1 one; GPU 1 sends 2, GPU 0 one; every transfer is inter-node.
const char* kProbe = R"({"layers": [3, 4], "num_replicas": 4, "num_gpus": 2, "num_nodes": 2,
    "expert_bytes": 1000000, "old": [[0, 1, 2, 0], [1, 2, 0, 1]], "new": [[2, 1, 0, 0], [0, 1, 2, 2]]})";

// Experts of 250 MB (as `--expert-bytes` gives them) make round gigabytes below.
constexpr int64_t kExpertBytes = 250000000;

struct Fixture {
    ShufflePlacements placements = parse_probe_placements(kProbe, "probe.json");
    TransferPlan plan;
    ShuffleReport report;

    Fixture() {
        const ParallelConfig c{3, 4, 1, 2, 2};  // 3 experts, 4 slots, 1 group, 2 nodes, 2 GPUs
        TransferPlanOptions o;
        o.expert_bytes = kExpertBytes;
        plan = build_transfer_plan(placements.old_phy2log, placements.new_phy2log, c, o);
        report.title = "eplb shuffle: test";
        report.old_source = report.new_source = "probe.json";
        report.layer_ids = placements.layer_ids;
        report.plan = &plan;
        report.host_checked = true;
        report.link_gbps = 100;
    }
};

// A measured run as the device executor reports it: copy engines on 2 devices, a 100 GB/s ring,
// passes of 10, 8 and 12.5 ms after a 20 ms warm-up, 3 wrong bytes on GPU 1.
ShuffleRunResult measured_run() {
    ShuffleRunResult run;
    run.transport = ShuffleTransport::kCopyEngine;
    run.nccl_p2p_chunk = "65536";
    run.device_name = "Test GPU";
    run.nccl_version = 22803;
    run.devices = {0, 1};
    run.warmup_seconds = 0.020;
    run.pass_seconds = {0.010, 0.008, 0.0125};
    run.ring_peak = 100e9;
    run.ring_chunked = 80e9;
    run.ce_peak = 120e9;
    run.wrong = {{0, 0}, {1, 2}};
    run.wrong_total = 3;
    return run;
}

bool contains_line(const std::string& text, const std::string& line) {
    return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

}  // namespace

TEST_CASE("probe placements: the maps, layer ids, nodes and expert bytes as the file gives them") {
    const ShufflePlacements p = parse_probe_placements(kProbe, "probe.json");
    CHECK(p.old_num_gpus == 2);
    CHECK(p.new_num_gpus == 2);
    CHECK(p.old_num_nodes == 2);
    CHECK(p.num_experts == 3);
    CHECK(p.layer_ids == std::vector<int>{3, 4});
    CHECK(p.expert_bytes == 1000000);
    CHECK(p.old_source == "probe.json");
    REQUIRE(p.old_phy2log.rows() == 2);
    REQUIRE(p.old_phy2log.cols() == 4);
    CHECK(p.old_phy2log(1, 1) == 2);
    CHECK(p.new_phy2log(0, 0) == 2);
    CHECK(p.new_phy2log(1, 3) == 2);
    // Optional keys: layers 0.., one node, no expert bytes; num_logical_experts widens the experts.
    const ShufflePlacements q = parse_probe_placements(
        R"({"num_replicas": 2, "num_gpus": 1, "num_logical_experts": 5, "old": [[0, 1]], "new": [[1, -1]]})",
        "q");
    CHECK(q.layer_ids == std::vector<int>{0});
    CHECK(q.old_num_nodes == 1);
    CHECK(q.expert_bytes == 0);
    CHECK(q.num_experts == 5);
    CHECK(q.new_phy2log(0, 1) == -1);
    // A real expert: DeepSeek-V3's FP8 expert (44,040,192 bytes, over the 2^24 bound of counts).
    const ShufflePlacements ds = parse_probe_placements(
        R"({"num_replicas": 2, "num_gpus": 1, "expert_bytes": 44040192, "old": [[0, 1]], "new": [[1, 0]]})",
        "ds");
    CHECK(ds.expert_bytes == 44040192);
}

TEST_CASE("probe placements: bad files name the file, the key and the value") {
    using test::error_of;
    CHECK(error_of([] { parse_probe_placements(R"({"old": []})", "p.json"); }) ==
          "p.json: not a probe placements file (expected keys \"old\", \"new\", \"num_replicas\", "
          "\"num_gpus\")");
    CHECK(error_of([] {
              parse_probe_placements(R"({"num_gpus": 2, "old": [[0]], "new": [[0]]})", "p.json");
          }) == "p.json: missing key \"num_replicas\"");
    CHECK(error_of([] {
              parse_probe_placements(R"({"num_replicas": 3, "num_gpus": 2, "old": [[0]], "new": [[0]]})",
                                     "p.json");
          }) == "p.json: num_replicas (3) must be a multiple of num_gpus (2)");
    CHECK(error_of([] {
              parse_probe_placements(R"({"num_replicas": 2, "num_gpus": 0, "old": [[0]], "new": [[0]]})",
                                     "p.json");
          }) == "p.json: num_gpus is 0, expected an integer in [1, 16777216]");
    CHECK(
        error_of([] {
            parse_probe_placements(
                R"({"num_replicas": 2, "num_gpus": 1, "expert_bytes": 0, "old": [[0, 1]], "new": [[0, 1]]})",
                "p.json");
        }) == "p.json: expert_bytes is 0, expected an integer in [1, 1099511627776]");
    CHECK(error_of([] {
              parse_probe_placements(
                  R"({"num_replicas": 2, "num_gpus": 1, "old": [[0, 1], [0]], "new": [[0, 1]]})", "p.json");
          }) == "p.json: old[1] has 1 entries, expected num_replicas = 2");
    CHECK(error_of([] {
              parse_probe_placements(
                  R"({"num_replicas": 2, "num_gpus": 1, "old": [[0, 1]], "new": [[0, "x"]]})", "p.json");
          }) == "p.json: new[0][1] is \"x\", expected an expert id >= 0 or -1 (empty)");
    CHECK(error_of([] {
              parse_probe_placements(R"({"num_replicas": 2, "num_gpus": 1, "old": [[0, 1]], "new": []})",
                                     "p.json");
          }) == "p.json: \"new\" must be a non-empty array of layers");
    CHECK(error_of([] {
              parse_probe_placements(
                  R"({"num_replicas": 2, "num_gpus": 1, "old": [[0, 1]], "new": [[0, 1], [1, 0]]})",
                  "p.json");
          }) == "p.json: \"old\" has 1 layers, \"new\" 2");
    CHECK(error_of([] {
              parse_probe_placements(
                  R"({"num_replicas": 2, "num_gpus": 1, "layers": [1, 2], "old": [[0, 1]], "new": [[1, 0]]})",
                  "p.json");
          }) == "p.json: \"layers\" must list one model layer id per row (1)");
    CHECK(
        error_of([] {
            parse_probe_placements(
                R"({"num_replicas": 2, "num_gpus": 1, "num_logical_experts": 1, "old": [[0, 1]], "new": [[1, 0]]})",
                "p.json");
        }) == "p.json: num_logical_experts is 1 but the maps name expert 1");
}

TEST_CASE("busiest_rate: the busiest receiver's bytes over the time; 0 for no time") {
    const Fixture f;
    CHECK(f.plan.stats.max_received == 2);
    CHECK(busiest_rate(f.plan, 0.5) == doctest::Approx(1e9));  // 2 x 250 MB in 0.5 s
    CHECK(busiest_rate(f.plan, 0.0) == 0.0);
}

TEST_CASE("dry-run report: the plan's totals, the bound, the host check and the per-GPU tables") {
    const Fixture f;
    const std::string text = render_shuffle_report(f.report);
    CHECK(text.rfind("eplb shuffle: test\n", 0) == 0);
    CHECK(contains_line(
        text,
        "layers    2 (model layers 3..4), 2 slots per GPU on 2 GPUs (2 nodes), expert 250000000 bytes"));
    CHECK(contains_line(
        text,
        "plan      3 experts received = 0.75 GB (0 intra-node, 3 inter-node); busiest GPU receives 2 "
        "(0.50 GB), busiest sender sends 2"));
    // max(2 received, 2 sent) x 250 MB at 100 GB/s; the schedule is as long as that bound.
    CHECK(contains_line(
        text, "bound     5.00 ms at 100 GB/s per GPU and direction (the schedule at that speed: 5.00 ms)"));
    CHECK(contains_line(text, "host      order checked and run on host buffers: 0 wrong bytes"));
    // The transfers form one permutation (0 <-> 1) of at most 2 experts per pair: one step. GPU 0 must
    // stage expert 0 of layer 4 (its slot 0 still holds the 1 that moves to slot 1): one buffer.
    CHECK(contains_line(
        text,
        "schedule  4 layers in flight: 1 window, 1 steps of <= 16 experts per pair (each GPU sends "
        "to one peer and receives from one), 2 experts long (busiest GPU: 2); with --transport nccl "
        "1 groups of <= 8 sends + 8 receives"));
    CHECK(contains_line(text, "staging   at most 1 buffers per GPU = 0.25 GB"));
    // GPU 0 receives 2 (one straight into its slot, one staged), sends 1; GPU 1 receives 1, sends 2.
    CHECK(
        text.find("GPU  received  intra  inter  sent  direct  staged  local  landing  saves  staging GB\n"
                  "0           2      0      2     1       1       1      1        1      0        0.25\n"
                  "1           1      0      1     2       1       0      1        1      0        0.00\n") !=
        std::string::npos);
    CHECK(text.find("  wrong") == std::string::npos);
    // Who sends to whom, and what each GPU receives per model layer.
    CHECK(text.find("experts sent (row: from GPU, column: to GPU)\n"
                    "from  0  1\n"
                    "0     -  1\n"
                    "1     2  -\n") != std::string::npos);
    CHECK(text.find("experts received per layer\n"
                    "layer  GPU0  GPU1\n"
                    "3         1     0\n"
                    "4         1     1\n") != std::string::npos);
    const std::string last_row = "4         1     1\n";  // a dry run ends with the tables
    CHECK(text.substr(text.size() - last_row.size()) == last_row);
}

TEST_CASE("dry-run report on 2 nodes with an inter-node speed: both speeds, the split, which link bounds") {
    Fixture f;
    f.report.inter_node_gbps = 50;
    const std::string text = render_shuffle_report(f.report);
    // Every transfer crosses: GPU 0 receives 2 x 250 MB at 50 GB/s (GPU 1's 2 sends tie; receives
    // come first); the one step is as long.
    CHECK(contains_line(
        text,
        "bound     10.00 ms at 100 GB/s intra-node and 50 GB/s inter-node per GPU and direction, "
        "NVLink and NICs at once (the schedule at those speeds: 10.00 ms, 1 of 1 steps bound by "
        "inter-node links; every link at 100 GB/s: 5.00 ms)"));
    CHECK(contains_line(text,
                        "links     per pass 0.00 GB intra-node, 0.75 GB inter-node; the bound: GPU 0's "
                        "inter-node receives, 2 experts = 0.50 GB"));
    const json p = json::parse(shuffle_report_json(f.report))["plan"];
    CHECK(p["bound_ms"].get<double>() == doctest::Approx(5.0));  // every link at 100 GB/s, as before
    const json& links = p["link_classes"];
    CHECK(links["bytes_intra"] == 0);
    CHECK(links["bytes_inter"] == 750000000);
    CHECK(links["bound_ms"].get<double>() == doctest::Approx(10.0));
    CHECK(links["schedule_ms"].get<double>() == doctest::Approx(10.0));
    CHECK(links["bound_by"]["gpu"] == 0);
    CHECK(links["bound_by"]["direction"] == "receive");
    CHECK(links["bound_by"]["link"] == "inter-node");
}

TEST_CASE("dry-run report: the host check's note, a rank mapping, no bound without a link speed") {
    Fixture f;
    f.report.host_checked = false;
    f.report.host_note = "skipped: too large";
    f.report.link_gbps = 0;
    f.report.rank_mapping = {1, 0};
    f.report.old_ranks = false;
    const std::string text = render_shuffle_report(f.report);
    CHECK(contains_line(text, "host      skipped: too large"));
    CHECK(contains_line(text, "mapping   old rank -> new rank 1,0; GPUs numbered as the new world's ranks"));
    CHECK(text.find("\nbound ") == std::string::npos);
}

TEST_CASE("run report: device, peaks, one row per pass, the best pass against the ring, wrong bytes") {
    Fixture f;
    const ShuffleRunResult run = measured_run();
    f.report.run = &run;
    const std::string text = render_shuffle_report(f.report);
    CHECK(contains_line(text,
                        "device    Test GPU x 2 (CUDA devices 0,1), NCCL 2.28.3 (NCCL_P2P_NVL_CHUNKSIZE "
                        "65536), transport ce"));
    CHECK(contains_line(text,
                        "peak      NCCL ring 100.0 GB/s per GPU and direction (one op per GPU each way); in "
                        "250000000-byte ops, 8 per group: 80.0 GB/s; copy-engine ring 120.0 GB/s"));
    // 500 MB (the busiest GPU's 2 experts) per pass.
    CHECK(text.find("pass        ms  GB/s  of peak\n"
                    "warm-up  20.00  25.0    25.0%\n"
                    "1        10.00  50.0    50.0%\n"
                    "2         8.00  62.5    62.5%\n"
                    "3        12.50  40.0    40.0%\n") != std::string::npos);
    CHECK(contains_line(
        text,
        "result    best 8.00 ms (median 10.00 ms): the busiest GPU receives 0.50 GB at 62.5 GB/s = "
        "62.5% of the NCCL ring peak (bound 5.00 ms)"));
    CHECK(contains_line(
        text,
        "wrong     3 bytes (every slot of 2 GPUs x 2 layers x 2 slots checked after each of 4 passes)"));
    // The GPU table gains the wrong bytes of each GPU (summed over its layers): 0 and 3.
    const size_t table = text.find("staging GB  wrong\n");
    REQUIRE(table != std::string::npos);
    const std::string gpu0 = text.substr(table + 18, text.find('\n', table + 18) - table - 18);
    const size_t gpu1_at = table + 18 + gpu0.size() + 1;
    const std::string gpu1 = text.substr(gpu1_at, text.find('\n', gpu1_at) - gpu1_at);
    CHECK(gpu0.rfind("0  ", 0) == 0);
    CHECK(gpu0.substr(gpu0.size() - 3) == "  0");
    CHECK(gpu1.rfind("1  ", 0) == 0);
    CHECK(gpu1.substr(gpu1.size() - 3) == "  3");
}

TEST_CASE("JSON: schema, config, the plan's totals, per GPU, links, per layer, host check") {
    const Fixture f;
    const json j = json::parse(shuffle_report_json(f.report));
    CHECK(j["schema"] == "eplb.shuffle/v1");
    CHECK(j["tool"]["name"] == "eplb");
    CHECK(j["inputs"] == json::parse(R"({"old": "probe.json", "new": "probe.json"})"));
    CHECK(j["layers"] == json::parse("[3, 4]"));
    const json& c = j["config"];
    CHECK(c["num_gpus"] == 2);
    CHECK(c["num_nodes"] == 2);
    CHECK(c["slots_per_gpu"] == 2);
    CHECK(c["num_layers"] == 2);
    CHECK(c["expert_bytes"] == 250000000);
    CHECK(c["layers_in_flight"] == 4);
    CHECK(c["step_experts"] == 16);
    CHECK(c["group_size"] == 8);
    CHECK(c["transport"] == "nccl");
    CHECK_FALSE(c.contains("rank_mapping"));
    const json& p = j["plan"];
    CHECK(p["received"] == 3);
    CHECK(p["received_bytes"] == 750000000);
    CHECK(p["received_intra"] == 0);
    CHECK(p["received_inter"] == 3);
    CHECK(p["max_received"] == 2);
    CHECK(p["max_received_bytes"] == 500000000);
    CHECK(p["max_sent"] == 2);
    CHECK(p["windows"] == 1);
    CHECK(p["schedule_length"] == 2);
    CHECK(p["link_gbps"] == 100.0);
    CHECK(p["bound_ms"].get<double>() == doctest::Approx(5.0));
    CHECK(p["schedule_ms"].get<double>() == doctest::Approx(5.0));
    CHECK(p["links"] == json::parse("[[0, 1], [2, 0]]"));
    CHECK(p["per_layer"] ==
          json::parse(R"([{"layer": 3, "received": [1, 0]}, {"layer": 4, "received": [1, 1]}])"));
    REQUIRE(p["per_gpu"].size() == 2);
    for (int q = 0; q < 2; ++q) {
        const json& g = p["per_gpu"][q];
        CHECK(g["gpu"] == q);
        CHECK(g["received"] == 2 - q);
        CHECK(g["received_intra"] == 0);
        CHECK(g["received_inter"] == 2 - q);
        CHECK(g["received_bytes"] == (2 - q) * 250000000LL);
        CHECK(g["sent"] == 1 + q);
        CHECK(g["sent_intra"] == 0);
        CHECK(g["sent_bytes"] == (1 + q) * 250000000LL);
        CHECK(g["direct"] == 1);
        CHECK(g["staged"] == 1 - q);  // GPU 0's expert 0 of layer 4 (see the full plan below)
        CHECK(g["local_copies"] == 1);
        CHECK(g["landing_copies"] == 1);
        CHECK(g["saves"] == 0);
        CHECK(g["staging_buffers"] == 1 - q);
        CHECK(g["staging_bytes"] == (1 - q) * 250000000LL);
    }
    CHECK(j["host_check"] == json::parse(R"({"done": true, "wrong_bytes": 0})"));
    CHECK_FALSE(j.contains("run"));
    CHECK_FALSE(j.contains("steps"));  // only with full_plan
    // Not checked: wrong_bytes is null, never a reassuring 0; the note says why.
    Fixture unchecked;
    unchecked.report.host_checked = false;
    unchecked.report.host_note = "skipped";
    unchecked.report.link_gbps = 0;
    const json u = json::parse(shuffle_report_json(unchecked.report));
    CHECK(u["host_check"] == json::parse(R"({"done": false, "wrong_bytes": null, "note": "skipped"})"));
    CHECK_FALSE(u["plan"].contains("bound_ms"));
}

TEST_CASE("JSON: a measured run's times, rates against the ring peak and wrong bytes") {
    Fixture f;
    const ShuffleRunResult run = measured_run();
    f.report.run = &run;
    f.report.rank_mapping = {0, 1};
    const json j = json::parse(shuffle_report_json(f.report));
    CHECK(j["config"]["rank_mapping"] == json::parse("[0, 1]"));
    CHECK(j["config"]["gpus_are"] == "old ranks");
    const json& r = j["run"];
    CHECK(r["transport"] == "ce");
    CHECK(r["nccl_p2p_chunk"] == "65536");
    CHECK(r["device"] == "Test GPU");
    CHECK(r["cuda_devices"] == json::parse("[0, 1]"));
    CHECK(r["nccl_version"] == 22803);
    CHECK(r["ring_peak_gbps"].get<double>() == doctest::Approx(100.0));
    CHECK(r["ring_chunked_gbps"].get<double>() == doctest::Approx(80.0));
    CHECK(r["ce_peak_gbps"].get<double>() == doctest::Approx(120.0));
    CHECK(r["warmup_ms"].get<double>() == doctest::Approx(20.0));
    REQUIRE(r["pass_ms"].size() == 3);
    CHECK(r["pass_ms"][2].get<double>() == doctest::Approx(12.5));
    CHECK(r["min_ms"].get<double>() == doctest::Approx(8.0));
    CHECK(r["median_ms"].get<double>() == doctest::Approx(10.0));
    CHECK(r["busiest_gbps"].get<double>() == doctest::Approx(62.5));
    CHECK(r["fraction_of_ring_peak"].get<double>() == doctest::Approx(0.625));
    CHECK(r["bound_ms_at_ring_peak"].get<double>() == doctest::Approx(5.0));
    CHECK(r["wrong_bytes"] == 3);
    CHECK(r["wrong_per_gpu_layer"] == json::parse("[[0, 0], [1, 2]]"));
}

TEST_CASE("JSON with the full plan: every transfer by model layer, every local copy by kind") {
    Fixture f;
    f.report.full_plan = true;
    const json j = json::parse(shuffle_report_json(f.report));
    // One step: GPU 0 sends expert 2 of layer 4 straight into GPU 1's slot 1 (its old 1 is not
    // needed); GPU 1 sends expert 2 of layer 3 into GPU 0's slot 0 and expert 0 of layer 4 into
    // staging (GPU 0's slot 0 of layer 4 still holds the 1 its slot 1 needs).
    CHECK(j["steps"] == json::parse(R"([{"window": 0, "length": 2, "wait_local": [0, 0], "pairs": [
        {"from": 0, "to": 1, "transfers": [{"layer": 4, "expert": 2, "from_slot": 1, "to": {"layer": 4, "slot": 1}}]},
        {"from": 1, "to": 0, "transfers": [{"layer": 3, "expert": 2, "from_slot": 0, "to": {"layer": 3, "slot": 0}},
                                           {"layer": 4, "expert": 0, "from_slot": 0, "to": {"staging": 0}}]}]}])"));
    // After the step: GPU 0 moves its 1 to slot 1, then lands the staged 0 in slot 0; GPU 1 copies
    // its 0 of layer 3 into slot 0, and the received 2 of layer 4 from slot 1 into slot 0.
    CHECK(j["local_copies"] == json::parse(R"([
        {"gpu": 0, "copies": [
            {"after_step": 0, "kind": "local", "src": {"layer": 4, "slot": 0}, "dst": {"layer": 4, "slot": 1}},
            {"after_step": 0, "kind": "landing", "src": {"staging": 0}, "dst": {"layer": 4, "slot": 0}}]},
        {"gpu": 1, "copies": [
            {"after_step": 0, "kind": "local", "src": {"layer": 3, "slot": 1}, "dst": {"layer": 3, "slot": 0}},
            {"after_step": 0, "kind": "landing", "src": {"layer": 4, "slot": 1}, "dst": {"layer": 4, "slot": 0}}]}])"));
}
