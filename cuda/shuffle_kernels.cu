// Fill and verify kernels of the shuffle's synthetic weights: one block row per slot, 8-byte words.
#include "cuda/shuffle_kernels.h"

#include "eplb/weight_pattern.h"

namespace eplb {

namespace {

constexpr int kThreads = 256;
constexpr int kBlocksPerSlot = 32;
constexpr uint64_t kFiller = 0xa5a5a5a5a5a5a5a5ULL;

__global__ void fill_pattern_kernel(uint8_t* base, int64_t stride, int64_t expert_bytes,
                                    const int32_t* experts, int slots_per_layer, int first_layer) {
    const int slot = blockIdx.y;
    const int expert = experts[slot];
    const uint64_t key = pattern_key(first_layer + slot / slots_per_layer, expert);
    uint64_t* words = reinterpret_cast<uint64_t*>(base + slot * stride);
    const int64_t full = expert_bytes / 8;
    for (int64_t w = blockIdx.x * kThreads + threadIdx.x; w < full; w += int64_t{gridDim.x} * kThreads) {
        words[w] = expert < 0 ? kFiller : pattern_word(key, w);
    }
    if (blockIdx.x == 0 && threadIdx.x < expert_bytes % 8) {
        const int64_t i = full * 8 + threadIdx.x;
        base[slot * stride + i] =
            expert < 0 ? 0xa5 : pattern_byte(first_layer + slot / slots_per_layer, expert, i);
    }
}

__global__ void count_wrong_kernel(const uint8_t* base, int64_t stride, int64_t expert_bytes,
                                   const int32_t* experts, int slots_per_layer, int first_layer,
                                   unsigned long long* wrong) {
    const int slot = blockIdx.y;
    const int expert = experts[slot];
    if (expert < 0) return;
    const int layer = first_layer + slot / slots_per_layer;
    const uint64_t key = pattern_key(layer, expert);
    const uint64_t* words = reinterpret_cast<const uint64_t*>(base + slot * stride);
    const int64_t full = expert_bytes / 8;
    unsigned long long bad = 0;
    for (int64_t w = blockIdx.x * kThreads + threadIdx.x; w < full; w += int64_t{gridDim.x} * kThreads) {
        const uint64_t diff = words[w] ^ pattern_word(key, w);
        if (diff != 0) {
            for (int b = 0; b < 8; ++b) bad += ((diff >> (8 * b)) & 0xff) != 0;
        }
    }
    if (blockIdx.x == 0 && threadIdx.x < expert_bytes % 8) {
        const int64_t i = full * 8 + threadIdx.x;
        bad += base[slot * stride + i] != pattern_byte(layer, expert, i);
    }
    __shared__ unsigned long long sum[kThreads];
    sum[threadIdx.x] = bad;
    __syncthreads();
    for (int s = kThreads / 2; s > 0; s /= 2) {
        if (threadIdx.x < s) sum[threadIdx.x] += sum[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0 && sum[0] != 0) atomicAdd(&wrong[slot / slots_per_layer], sum[0]);
}

}  // namespace

void launch_fill_pattern(uint8_t* base, int64_t stride, int64_t expert_bytes, const int32_t* experts,
                         int num_slots, int slots_per_layer, int first_layer, cudaStream_t stream) {
    if (num_slots == 0) return;
    fill_pattern_kernel<<<dim3(kBlocksPerSlot, num_slots), kThreads, 0, stream>>>(
        base, stride, expert_bytes, experts, slots_per_layer, first_layer);
}

void launch_count_wrong(const uint8_t* base, int64_t stride, int64_t expert_bytes, const int32_t* experts,
                        int num_slots, int slots_per_layer, int first_layer, unsigned long long* wrong,
                        cudaStream_t stream) {
    if (num_slots == 0) return;
    count_wrong_kernel<<<dim3(kBlocksPerSlot, num_slots), kThreads, 0, stream>>>(
        base, stride, expert_bytes, experts, slots_per_layer, first_layer, wrong);
}

}  // namespace eplb
