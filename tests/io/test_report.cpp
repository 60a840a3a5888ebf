// The text renderings of report.h on inputs small enough to check by hand: the aligned table, join,
// format, the load strip, and the plan/evaluate report line by line (ASCII or UTF-8 glyphs as the
// locale says).
#include <doctest/doctest.h>

#include <string>

#include "eplb/metrics.h"
#include "eplb/migration.h"
#include "io/report.h"
#include "io/terminal.h"

using namespace eplb;
using namespace eplb::io;

namespace {

// 4 experts on 2 GPUs of 2 nodes, one slot each expert, model layer 3: GPU 0 carries 10 + 20 = 30
// tokens, GPU 1 30 + 40 = 70. Mean 50, max 70 (balancedness 5/7), bound max(100 / 2, 40) = 50.
struct SmallPlacement {
    PlacementDoc doc;
    Metrics metrics;

    SmallPlacement() {
        doc.config = ParallelConfig{4, 4, 2, 2, 2};
        doc.layer_ids = {3};
        doc.backend = "cpu";
        doc.placement.phy2log = IndexMatrix(1, 4);
        doc.placement.phy2log << 0, 1, 2, 3;
        LoadMatrix load(1, 4);
        load << 10, 20, 30, 40;
        metrics = evaluate(doc.placement.phy2log, load, doc.config);
    }
};

std::string line_of(const std::string& text, int n) {
    size_t at = 0;
    for (int i = 0; i < n; ++i) at = text.find('\n', at) + 1;
    return text.substr(at, text.find('\n', at) - at);
}

}  // namespace

TEST_CASE("TextTable: first column left, the others right, two spaces apart, no trailing blanks") {
    TextTable t({"name", "value", "note"});
    t.add_row({"a", "1", "x"});
    t.add_row({"longer", "12345", ""});
    t.add_row({"short"});  // missing cells are empty
    CHECK(t.render() ==
          "name    value  note\n"
          "a           1     x\n"
          "longer  12345\n"
          "short\n");
    // Width counts UTF-8 code points, not bytes: "▁▂" is two columns.
    TextTable u({"k", "strip"});
    u.add_row({"▁▂", "▃"});
    CHECK(u.render() ==
          "k   strip\n"
          "▁▂      ▃\n");
}

TEST_CASE("join and format") {
    CHECK(join({}) == "");
    CHECK(join({"a"}) == "a");
    CHECK(join({"a", "b", "c"}) == "a, b, c");
    CHECK(format("%d GPU%s, %.2f GB", 4, "s", 1.005) == "4 GPUs, 1.00 GB");
    CHECK(format("%s|", std::string(300, 'x').c_str()) == std::string(300, 'x') + "|");
    // Past the stack buffer (512 bytes): the whole line, not its first 511 bytes.
    const std::string long_path = "/very/long/" + std::string(2000, 'p') + ".json";
    CHECK(format("previous: %s (%d moves)", long_path.c_str(), 7) == "previous: " + long_path + " (7 moves)");
    CHECK(format("%s", std::string(511, 'y').c_str()) == std::string(511, 'y'));
    CHECK(format("%s", std::string(512, 'z').c_str()) == std::string(512, 'z'));
    CHECK(format("%s", "") == "");
}

TEST_CASE("load_strip: one character per GPU from the layer's min to its max") {
    const bool utf8 = utf8_output();
    const double loads[] = {0, 7, 3.5, 7, 0.9};
    // (load - min) / (max - min) x 8 levels, the max in the top one.
    CHECK(load_strip(loads, 5) == (utf8 ? "▁█▅█▂" : "_#=#."));
    const double flat[] = {2, 2, 2};
    CHECK(load_strip(flat, 3) == (utf8 ? "▁▁▁" : "___"));
    CHECK(load_strip(loads, 0) == "");
}

TEST_CASE("placement report: config, policy, layers, the metrics, the layer table and the worst layer") {
    const SmallPlacement s;
    const bool utf8 = utf8_output();
    const std::string text = render_placement_report("eplb plan: test", s.doc, s.metrics, nullptr);
    CHECK(text ==
          std::string("eplb plan: test\n"
                      "config    4 experts -> 4 slots (0 redundant), 2 groups, 2 nodes x 1 GPUs, 2 slots "
                      "per GPU\n"
                      "policy    deepseek, hierarchical (2 groups packed onto 2 nodes, then GPUs)\n"
                      "layers    1 (model layers 3..3), backend cpu\n"
                      "\n"
                      "balancedness  0.7143  (sum of mean GPU load / sum of max GPU load over layers)\n"
                      "              0.7143  (mean of per-layer balancedness)\n"
                      "imbalance     40.00%  (max / mean - 1)\n"
                      "gap to bound  40.000%  (mean 40.000%, worst 40.000%)\n"
                      "duplicates    0 (layer, GPU) pairs hold two replicas of one expert\n"
                      "\n"
                      "layer  load  mean GPU  max GPU     bal  bound   gap %  dup\n"
                      "3       100      50.0     70.0  0.7143   50.0  40.000    0\n"
                      "\n"
                      "worst layer 3: one character a GPU, nodes apart (") +
              (utf8 ? "▁" : "_") + " = min 30.0, " + (utf8 ? "█" : "#") +
              " = max 70.0 on GPU 1; mean 50.0)\n" + "  " + (utf8 ? "▁ █" : "_ #") + "\n");
}

TEST_CASE("placement report: global policy, rows without ids, migration, node bounds, --previous") {
    SmallPlacement s;
    s.doc.config.num_groups = 3;  // 3 groups do not divide over 2 nodes: global
    s.doc.policy = "balanced";
    s.doc.has_layer_ids = false;
    s.doc.layer_ids = {0};
    s.doc.backend = "";
    s.doc.node_bounds = {60.0};
    s.doc.previous_source = "prev.json";
    s.doc.layer_sources = {"repaired"};
    MigrationStats moved;
    moved.experts_moved = 5;
    moved.intra_node = 3;
    moved.inter_node = 2;
    moved.bytes_moved = 5000000000;
    const std::string text = render_placement_report("title", s.doc, s.metrics, &moved);
    CHECK(line_of(text, 2) ==
          "policy    balanced, global (num_groups 3 % num_nodes 2 != 0: one group, one node)");
    CHECK(line_of(text, 3) == "layers    1 (rows without layer ids 0..0)");
    CHECK(line_of(text, 10) == "moved         5 experts (3 intra-node, 2 inter-node), 5.00 GB");
    // Node bound 60 over the bound 50, and the max GPU 70 over the node bound 60.
    CHECK(line_of(text, 11) ==
          "hierarchy     groups on nodes cost 20.000% (node bound / bound - 1), packing 16.667% (max GPU / "
          "node "
          "bound - 1), means over layers");
    CHECK(line_of(text, 12) ==
          "previous      prev.json: 0 layers from the plan (relabelled), 1 repaired, 0 kept as they were");
    CHECK(line_of(text, 15) == "0       100      50.0     70.0  0.7143   50.0  40.000    0");
}
