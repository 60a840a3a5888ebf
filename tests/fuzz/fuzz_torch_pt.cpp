// libFuzzer harness: torch.save (.pt) reading on arbitrary bytes. Input starting with a zip header
// goes through the whole SGLang dump reader (libzip, the restricted unpickler, tensor views); any
// other input is a data.pkl for the unpickler alone, where mutations reach the opcodes (in an archive
// they mostly break the CRC). Accepted traces must be valid and survive every writer; refusals
// must be clean (fuzz_util.h).
#include <cstddef>
#include <cstdint>
#include <string>

#include "io/pickle.h"
#include "io/sglang_pt.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace eplb;
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    if (bytes.rfind("PK", 0) == 0) {
        LoadTrace trace;
        if (fuzz::accepts([&] { trace = io::parse_sglang_pt(bytes, fuzz::kSource); }))
            fuzz::check_trace(trace);
        return 0;
    }
    io::Pickle pickle;
    if (!fuzz::accepts([&] { pickle = io::parse_torch_pickle(bytes, fuzz::kSource); })) return 0;
    FUZZ_CHECK(pickle.root >= 0 && pickle.root < static_cast<int>(pickle.values.size()), "root out of range");
    for (size_t i = 0; i < pickle.values.size(); ++i) {
        const io::PickleValue& v = pickle.values[i];
        for (int item : v.items)
            FUZZ_CHECK(item >= 0 && item < static_cast<int>(pickle.values.size()), "element id out of range");
        (void)io::describe_pickle_value(pickle, static_cast<int>(i));
    }
    for (const io::TorchTensor& t : pickle.tensors) {
        FUZZ_CHECK(t.storage >= 0 && t.storage < static_cast<int>(pickle.storages.size()),
                   "storage out of range");
        FUZZ_CHECK(t.sizes.size() == t.strides.size(), "sizes and strides differ in length");
    }
    return 0;
}
