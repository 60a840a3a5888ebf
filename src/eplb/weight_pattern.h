// The synthetic expert weights of `eplb shuffle`: byte i of logical expert x in layer l is a hash of
// (l, x, i / 8), so a receiver checks every byte without a copy of the source. Shared by the host
// executor and the CUDA fill/verify kernels (plain C++, usable from .cu files).
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define EPLB_HOST_DEVICE __host__ __device__
#else
#define EPLB_HOST_DEVICE
#endif

namespace eplb {

// splitmix64's finaliser: every input bit flips about half of the output bits.
EPLB_HOST_DEVICE inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// Key of one (layer, expert): folded into every word of that expert's pattern.
EPLB_HOST_DEVICE inline uint64_t pattern_key(int layer, int expert) {
    return mix64((static_cast<uint64_t>(static_cast<uint32_t>(layer)) << 32) ^ static_cast<uint32_t>(expert) ^
                 0x5eed5eed00000000ULL);
}

// The 8 bytes [8·word, 8·word + 8) of an expert whose key is `key`, little-endian.
EPLB_HOST_DEVICE inline uint64_t pattern_word(uint64_t key, uint64_t word) {
    return mix64(key + (word + 1) * 0x9e3779b97f4a7c15ULL);
}

// Byte `index` of logical expert `expert` of layer `layer`.
EPLB_HOST_DEVICE inline uint8_t pattern_byte(int layer, int expert, uint64_t index) {
    return static_cast<uint8_t>(pattern_word(pattern_key(layer, expert), index / 8) >> (8 * (index % 8)));
}

}  // namespace eplb
