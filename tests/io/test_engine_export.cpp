// Every placement format by name: exports read back to the same placement, formats detected from the
// file (the formats themselves: test_sglang_placement, test_trtllm_placement, test_vllm_placement).
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "eplb/error.h"
#include "io/engine_export.h"
#include "io/file_util.h"
#include "tests/io/readme_placement.h"
#include "tests/test_util.h"

using namespace eplb;
using namespace eplb::io;
using eplb::test::error_of;
using eplb::test::readme_doc;
using eplb::test::row_of;

TEST_CASE("every export reads back to the same placement; formats are detected from the file") {
    const PlacementDoc d = readme_doc();
    const auto dir = std::filesystem::temp_directory_path();
    PlacementImportOptions opts;
    opts.num_gpus = 8;
    opts.num_nodes = 2;
    opts.num_groups = 4;
    for (PlacementFormat f : {PlacementFormat::kEplb, PlacementFormat::kSglang, PlacementFormat::kTrtllm,
                              PlacementFormat::kVllm}) {
        CAPTURE(placement_format_name(f));
        const std::string path = (dir / (std::string("eplb_export_rt.") + placement_format_name(f) +
                                         (f == PlacementFormat::kTrtllm ? ".yaml" : ".json")))
                                     .string();
        write_file_atomic(path, export_placement(d, f));
        CHECK(is_placement_file(path));
        PlacementFormat detected = PlacementFormat::kEplb;
        PlacementDoc back = read_any_placement(path, opts, &detected);
        CHECK(detected == f);
        if (f == PlacementFormat::kSglang) back = select_placement_layers(back, Range{3, 5});
        CHECK(back.layer_ids == d.layer_ids);
        CHECK(back.placement.phy2log == d.placement.phy2log);
        CHECK(back.placement.logcnt == d.placement.logcnt);
        CHECK(back.config.num_gpus == 8);
        if (f == PlacementFormat::kEplb || f == PlacementFormat::kVllm) {
            CHECK(back.placement.phyrank == d.placement.phyrank);  // these carry replica ranks
        }
        std::filesystem::remove(path);
    }
    CHECK(parse_placement_format("SGLang") == PlacementFormat::kSglang);
    CHECK(error_of([] { parse_placement_format("deepspeed"); }) ==
          "placement format: 'deepspeed' is not one of eplb, sglang, trtllm, vllm");
}

TEST_CASE("engine placements: a file holding no placement is invalid input") {
    CHECK(error_of([] {
              detect_placement_format("t.json", R"({"logical_count": [[1]]})");
          }).find("t.json: no placement found") == 0);
}
