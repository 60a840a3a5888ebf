// libFuzzer harness: the engines' placement formats (SGLang JSON, TensorRT-LLM YAML, vLLM JSON).
// Byte 0 picks the reader, bytes 1-2 the GPUs and nodes the formats do not record; the rest is
// the file. Accepted placements must be valid and survive their own format's round trip.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "eplb/placement.h"
#include "io/engine_export.h"
#include "io/placement_io.h"
#include "io/sglang_placement.h"
#include "io/trtllm_placement.h"
#include "io/vllm_placement.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace eplb;
    if (size < 3) return 0;
    const std::string text(reinterpret_cast<const char*>(data) + 3, size - 3);
    io::PlacementImportOptions options;
    options.num_nodes = 1 + data[2] % 2;
    options.num_gpus = options.num_nodes * (1 + data[1] % 4);
    const int reader = data[0] % 3;
    const auto parse = [&](const std::string& t, io::PlacementDoc& doc) {
        switch (reader) {
            case 0:
                doc = io::parse_sglang_placement(t, fuzz::kSource, options);
                break;
            case 1:
                doc = io::parse_trtllm_yaml(t, fuzz::kSource, options);
                break;
            default:
                doc = io::parse_vllm_placement(t, fuzz::kSource, options);
        }
    };
    io::PlacementDoc doc;
    if (!fuzz::accepts([&] { parse(text, doc); })) return 0;
    FUZZ_CHECK(fuzz::accepts([&] { validate_placement(doc.placement, doc.config); }, ""),
               "accepted an invalid placement");
    FUZZ_CHECK(doc.layer_ids.size() == static_cast<size_t>(doc.placement.num_layers()),
               "layer ids do not match the rows");
    if (static_cast<double>(doc.placement.num_layers()) * doc.placement.num_slots() *
            (doc.layer_ids.empty() ? 1 : doc.layer_ids.back() + 1) >
        1e7) {
        return 0;  // the SGLang export writes a row per model layer up to the last id: bound the work
    }
    const io::PlacementFormat format = reader == 0   ? io::PlacementFormat::kSglang
                                       : reader == 1 ? io::PlacementFormat::kTrtllm
                                                     : io::PlacementFormat::kVllm;
    io::PlacementDoc back;
    FUZZ_CHECK(fuzz::accepts([&] { parse(io::export_placement(doc, format), back); }), "own export refused");
    // SGLang's file has a row for every model layer up to the last id: match rows by layer id.
    for (int l = 0; l < doc.placement.num_layers(); ++l) {
        const auto it = std::find(back.layer_ids.begin(), back.layer_ids.end(), doc.layer_ids[l]);
        FUZZ_CHECK(it != back.layer_ids.end(), "round trip lost layer " + std::to_string(doc.layer_ids[l]));
        FUZZ_CHECK(back.placement.phy2log.row(it - back.layer_ids.begin()) == doc.placement.phy2log.row(l),
                   "round trip changed layer " + std::to_string(doc.layer_ids[l]));
    }
    return 0;
}
