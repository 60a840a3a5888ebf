// libFuzzer harness: the safetensors container of TensorRT-LLM's expert statistics on arbitrary
// bytes. Accepted files must give every tensor's values and survive writing and reading back.
#include <cstddef>
#include <cstdint>
#include <string>

#include "io/trtllm_stats.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace eplb;
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    io::SafeTensors tensors;
    if (!fuzz::accepts([&] { tensors = io::parse_safetensors(bytes, fuzz::kSource); })) return 0;
    for (const auto& entry : tensors) {  // (clang 14 cannot capture structured bindings)
        const std::string& key = entry.first;
        const io::SafeTensor& tensor = entry.second;
        std::vector<double> values;
        if (fuzz::accepts([&] { values = io::tensor_values(tensor, fuzz::kSource, key); })) {
            int64_t count = 1;
            for (int64_t d : tensor.shape) count *= d;
            FUZZ_CHECK(static_cast<int64_t>(values.size()) == count,
                       "tensor \"" + key + "\": values do not match the shape");
        }
    }
    io::SafeTensors back;
    FUZZ_CHECK(
        fuzz::accepts([&] { back = io::parse_safetensors(io::to_safetensors(tensors), fuzz::kSource); }),
        "own safetensors refused");
    FUZZ_CHECK(back.size() == tensors.size(), "round trip changed the number of tensors");
    for (const auto& [key, tensor] : tensors) {
        const auto it = back.find(key);
        FUZZ_CHECK(it != back.end() && it->second.dtype == tensor.dtype && it->second.shape == tensor.shape &&
                       it->second.data == tensor.data,
                   "round trip changed tensor \"" + key + "\"");
    }
    return 0;
}
