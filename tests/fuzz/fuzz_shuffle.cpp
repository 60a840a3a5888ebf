// libFuzzer harness: `eplb shuffle` without GPUs. The probe-placements reader on arbitrary bytes;
// for accepted old/new maps the transfer plan is built, its order checked, and it is run on host
// buffers: every slot must end with the bytes of its new expert, or the plan must refuse cleanly
// (e.g. a needed expert that no old slot holds).
#include <cstddef>
#include <cstdint>
#include <string>

#include "eplb/transfer_exec.h"
#include "eplb/transfer_plan.h"
#include "io/shuffle_io.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace eplb;
    const std::string text(reinterpret_cast<const char*>(data), size);
    io::ShufflePlacements p;
    if (!fuzz::accepts([&] { p = io::parse_probe_placements(text, fuzz::kSource); })) return 0;
    FUZZ_CHECK(p.old_phy2log.rows() == p.new_phy2log.rows(), "old and new have different layers");
    FUZZ_CHECK(p.layer_ids.size() == static_cast<size_t>(p.old_phy2log.rows()),
               "layer ids do not match the rows");
    if (p.old_num_gpus != p.new_num_gpus || p.old_phy2log.size() > 4096) return 0;  // bound the work
    ParallelConfig c;
    c.num_logical_experts = p.num_experts;
    c.num_physical_experts = static_cast<int>(p.old_phy2log.cols());
    c.num_gpus = p.old_num_gpus;
    c.num_nodes = p.old_num_nodes;
    TransferPlanOptions options;
    options.expert_bytes = 64;  // the pattern check needs bytes, not many
    options.layers_in_flight = 2;
    options.step_experts = static_cast<int>(size % 4);  // whole permutations and short steps
    TransferPlan plan;
    // The plan's refusals (an expert nobody holds, bad shapes) name no file: any clean refusal is fine.
    if (!fuzz::accepts([&] { plan = build_transfer_plan(p.old_phy2log, p.new_phy2log, c, options); }, "")) {
        return 0;
    }
    FUZZ_CHECK(fuzz::accepts([&] { check_transfer_order(plan); }, ""), "the plan's order is unsafe");
    HostShuffleState state = make_host_state(plan);
    execute_on_host(plan, state);
    for (const auto& gpu : count_wrong_bytes(plan, state)) {
        for (int64_t wrong : gpu) FUZZ_CHECK(wrong == 0, "the shuffle leaves wrong bytes");
    }
    return 0;
}
