// `eplb shuffle --dry-run` on 2 nodes x 2 GPUs through the binary: the bound and the model with
// --link-gbps (NVLink) and --inter-node-gbps (the network), --gpus-per-node, and single-node output
// without the new lines.
#include <doctest/doctest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_runner.h"

using namespace eplb::test;
using nlohmann::json;

namespace {

// Probe placements of 4 GPUs with one slot each: layer 0 crosses nodes (GPU q receives the expert
// of GPU q ^ 2), layers 1-3 swap within the node (q ^ 1). `nodes` 0: the key left out (one node).
std::string mixed_probe(int nodes, const std::string& tag) {
    json old_map = json::array(), new_map = json::array();
    for (int l = 0; l < 4; ++l) {
        const int flip = l == 0 ? 2 : 1;
        old_map.push_back({0, 1, 2, 3});
        new_map.push_back({flip, 1 ^ flip, 2 ^ flip, 3 ^ flip});
    }
    json j = {
        {"layers", {3, 4, 5, 6}}, {"num_replicas", 4}, {"num_gpus", 4}, {"old", old_map}, {"new", new_map}};
    if (nodes > 0) j["num_nodes"] = nodes;
    const std::string path = temp_dir() + "/probe_" + tag + ".json";
    write_text(path, j.dump());
    return path;
}

// One expert = 1 GB: 5 ms over NVLink at 200 GB/s, 20 ms over the network at 50 GB/s.
const std::string kSpeeds =
    " --layers-in-flight 4 --step-experts 0 --expert-bytes 1000000000 --link-gbps 200";

json run_json(const std::string& args) {
    const CliResult r = run_eplb(args);
    REQUIRE(r.exit_code == 0);
    return json::parse(r.out);
}

}  // namespace

TEST_CASE("shuffle --dry-run on 2 nodes: NVLink and the network bound together, split per pass") {
    const std::string probe = " --probe " + mixed_probe(2, "two_nodes");
    const CliResult text = run_eplb("shuffle --dry-run" + probe + kSpeeds + " --inter-node-gbps 50");
    REQUIRE(text.exit_code == 0);
    // Per GPU 3 GB over NVLink (15 ms) and 1 GB over the network (20 ms) at once: 20 ms. The two
    // steps (the swaps, then the crossing) one after the other: 15 + 20 ms.
    CHECK(text.out.find("bound     20.00 ms at 200 GB/s intra-node and 50 GB/s inter-node per GPU and "
                        "direction, NVLink and NICs at once (the schedule at those speeds: 35.00 ms, 1 of 2 "
                        "steps bound by inter-node links; every link at 200 GB/s: 20.00 ms)\n") !=
          std::string::npos);
    CHECK(text.out.find("links     per pass 12.00 GB intra-node, 4.00 GB inter-node; the bound: GPU 0's "
                        "inter-node receives, 1 expert = 1.00 GB\n") != std::string::npos);

    const json j = run_json("shuffle --dry-run --json" + probe + kSpeeds);  // --inter-node-gbps 50: default
    const json& links = j["plan"]["link_classes"];
    CHECK(j["plan"]["bound_ms"].get<double>() == doctest::Approx(20.0));  // every link at 200 GB/s
    CHECK(links["intra_node_gbps"] == 200.0);
    CHECK(links["inter_node_gbps"] == 50.0);
    CHECK(links["bytes_intra"] == 12000000000);
    CHECK(links["bytes_inter"] == 4000000000);
    CHECK(links["bound_ms"].get<double>() == doctest::Approx(20.0));
    CHECK(links["schedule_ms"].get<double>() == doctest::Approx(35.0));
    CHECK(links["steps_inter_node_bound"] == 1);
    CHECK(links["bound_by"] == json::parse(R"({"gpu": 0, "direction": "receive", "link": "inter-node",
                                               "experts": 1, "bytes": 1000000000})"));

    // Faster NICs: NVLink bounds.
    const json fast = run_json("shuffle --dry-run --json --inter-node-gbps 500" + probe + kSpeeds);
    CHECK(fast["plan"]["link_classes"]["bound_ms"].get<double>() == doctest::Approx(15.0));
    CHECK(fast["plan"]["link_classes"]["bound_by"]["link"] == "intra-node");
    CHECK(fast["plan"]["link_classes"]["schedule_ms"].get<double>() == doctest::Approx(17.0));
}

TEST_CASE("shuffle --dry-run --gpus-per-node 1: every transfer crosses, as a one-host socket run") {
    const std::string probe = " --probe " + mixed_probe(0, "one_node");
    const CliResult one = run_eplb("shuffle --dry-run" + probe + kSpeeds);
    REQUIRE(one.exit_code == 0);
    CHECK(one.out.find("bound     20.00 ms at 200 GB/s per GPU and direction (the schedule at that speed: "
                       "20.00 ms)\n") != std::string::npos);
    CHECK(one.out.find("links     ") == std::string::npos);
    CHECK_FALSE(run_json("shuffle --dry-run --json" + probe + kSpeeds)["plan"].contains("link_classes"));

    // 4 experts per GPU each way over the network: 80 ms, both steps network-bound (60 + 20 ms).
    const json j = run_json("shuffle --dry-run --json --gpus-per-node 1" + probe + kSpeeds);
    CHECK(j["config"]["num_nodes"] == 4);
    const json& links = j["plan"]["link_classes"];
    CHECK(links["bytes_intra"] == 0);
    CHECK(links["bytes_inter"] == 16000000000);
    CHECK(links["bound_ms"].get<double>() == doctest::Approx(80.0));
    CHECK(links["schedule_ms"].get<double>() == doctest::Approx(80.0));
    CHECK(links["steps_inter_node_bound"] == 2);

    const CliResult bad = run_eplb("shuffle --dry-run --gpus-per-node 3" + probe);
    CHECK(bad.exit_code == 3);
    CHECK(bad.err.find("--gpus-per-node (3) must divide the shuffle's 4 GPUs") != std::string::npos);
}

TEST_CASE("shuffle --dry-run --model on 2 nodes: inter-node pairs at --inter-node-gbps") {
    const std::string probe = " --probe " + mixed_probe(2, "model");
    // Only the wires count: no latency, no interference, near-free local copies.
    const std::string wires =
        " --model --transport nccl --model-ring-gbps 200 --model-op-us 0 --model-group-us 0 "
        "--model-interference 0 --model-copy-gbps 1e9";
    const json j = run_json("shuffle --dry-run --json" + wires + probe + kSpeeds);
    CHECK(j["link_classes"]["inter_node_gbps"] == 50.0);
    CHECK(j["link_classes"]["bound_ms"].get<double>() == doctest::Approx(20.0));
    REQUIRE(j["steps"].size() == 2);
    CHECK(j["steps"][0]["inter_pairs"].get<int>() + j["steps"][1]["inter_pairs"].get<int>() == 4);
    CHECK(j["predicted"]["network_seconds"].get<double>() == doctest::Approx(0.035).epsilon(1e-4));
    const json slow = run_json("shuffle --dry-run --json --inter-node-gbps 25" + wires + probe + kSpeeds);
    CHECK(slow["predicted"]["network_seconds"].get<double>() == doctest::Approx(0.055).epsilon(1e-4));

    const CliResult text = run_eplb("shuffle --dry-run" + wires + probe + kSpeeds);
    REQUIRE(text.exit_code == 0);
    CHECK(text.out.find("links     intra-node 200 GB/s (wire), inter-node 50 GB/s per GPU and direction, "
                        "NVLink and NICs at once: bound 20.00 ms, the steps at those speeds 35.00 ms (1 of 2 "
                        "bound by inter-node links); per pass 12.00 GB intra-node") != std::string::npos);
    CHECK(text.out.find("step  window  pairs  inter-node  experts") != std::string::npos);
    const CliResult sweep = run_eplb("shuffle --dry-run --sweep --sweep-layers-in-flight 4" + probe);
    REQUIRE(sweep.exit_code == 0);
    CHECK(sweep.out.find("links     2 nodes: inter-node 50 GB/s per GPU and direction") != std::string::npos);
}
