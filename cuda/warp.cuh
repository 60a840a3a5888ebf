// The warp operations the planner kernels are written against, and exact float helpers. The row
// algorithms (deepseek_row.cuh, metrics_row.cuh) take the warp as a template parameter so that
// the same code runs on the GPU (DeviceWarp) and, in tests, on 32 host threads.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define EPLB_HD __host__ __device__
#define EPLB_HD_INLINE __host__ __device__ __forceinline__
#else
#define EPLB_HD
#define EPLB_HD_INLINE inline
#endif
// Only the device pass understands the unroll pragma; the host compiler would warn about it.
#if defined(__CUDA_ARCH__)
#define EPLB_UNROLL _Pragma("unroll")
#else
#define EPLB_UNROLL
#endif

namespace eplb::cuda {

constexpr int kWarpSize = 32;
constexpr uint32_t kFullMask = 0xffffffffu;

// The warp of the device kernels: every call is made by all 32 lanes (full masks).
#if defined(__CUDACC__)
struct DeviceWarp {
    __device__ __forceinline__ int lane() const { return static_cast<int>(threadIdx.x) & (kWarpSize - 1); }
    __device__ __forceinline__ uint32_t ballot(bool pred) { return __ballot_sync(kFullMask, pred); }
    __device__ __forceinline__ uint32_t shfl_xor(uint32_t v, int lane_mask) {
        return __shfl_xor_sync(kFullMask, v, lane_mask);
    }
    __device__ __forceinline__ uint32_t shfl(uint32_t v, int src_lane) {
        return __shfl_sync(kFullMask, v, src_lane);
    }
    // Minimum / maximum / sum of v over the whole warp (redux.sync, sm_80 and newer).
    __device__ __forceinline__ uint32_t reduce_min(uint32_t v) { return __reduce_min_sync(kFullMask, v); }
    __device__ __forceinline__ uint32_t reduce_max(uint32_t v) { return __reduce_max_sync(kFullMask, v); }
    __device__ __forceinline__ uint32_t reduce_add(uint32_t v) { return __reduce_add_sync(kFullMask, v); }
    // Orders the lanes' shared-memory writes before the reads that follow (shuffles do not).
    __device__ __forceinline__ void sync() { __syncwarp(kFullMask); }
    __device__ __forceinline__ void atomic_add(int* p, int v) { atomicAdd(p, v); }
    __device__ __forceinline__ void atomic_min(int* p, int v) { atomicMin(p, v); }
};
#endif

// IEEE float32 operations with round-to-nearest and no contraction into FMA, exactly what the
// CPU reference computes (the build also passes -fmad=false for these files).
EPLB_HD_INLINE float fadd_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
    return __fadd_rn(a, b);
#else
    return a + b;
#endif
}
EPLB_HD_INLINE float fdiv_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
    return __fdiv_rn(a, b);
#else
    return a / b;
#endif
}
EPLB_HD_INLINE double dadd_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
    return __dadd_rn(a, b);
#else
    return a + b;
#endif
}
EPLB_HD_INLINE double ddiv_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
    return __ddiv_rn(a, b);
#else
    return a / b;
#endif
}

EPLB_HD_INLINE uint32_t float_bits(float x) {
#if defined(__CUDA_ARCH__)
    return __float_as_uint(x);
#else
    return __builtin_bit_cast(uint32_t, x);
#endif
}
EPLB_HD_INLINE float bits_float(uint32_t x) {
#if defined(__CUDA_ARCH__)
    return __uint_as_float(x);
#else
    return __builtin_bit_cast(float, x);
#endif
}
EPLB_HD_INLINE uint64_t double_bits(double x) {
#if defined(__CUDA_ARCH__)
    return static_cast<uint64_t>(__double_as_longlong(x));
#else
    return __builtin_bit_cast(uint64_t, x);
#endif
}
EPLB_HD_INLINE double bits_double(uint64_t x) {
#if defined(__CUDA_ARCH__)
    return __longlong_as_double(static_cast<long long>(x));
#else
    return __builtin_bit_cast(double, x);
#endif
}

// Order-preserving keys of the values the planner compares. Every value is >= 0 or -0 (loads are
// finite and >= 0; sums, quotients and +inf from overflow stay so), and for such values the IEEE
// bit pattern with the sign cleared orders exactly like the float: -0 and +0 get the same key, as
// they compare equal on the CPU. Keys compare as integers, which the warp reduces in one step.
EPLB_HD_INLINE uint32_t float_key(float x) { return float_bits(x) & 0x7fffffffu; }
EPLB_HD_INLINE uint64_t double_key(double x) { return double_bits(x) & 0x7fffffffffffffffull; }

// Index of the lowest set bit (x != 0).
EPLB_HD_INLINE int lowest_bit(uint32_t x) {
#if defined(__CUDA_ARCH__)
    return __ffs(static_cast<int>(x)) - 1;
#else
    return __builtin_ctz(x);
#endif
}

// The lanes [seg_first, seg_first + seg_width) of a warp as a bit mask.
EPLB_HD_INLINE uint32_t segment_mask(int seg_first, int seg_width) {
    return (seg_width == kWarpSize ? kFullMask : ((1u << seg_width) - 1u)) << seg_first;
}

// Minimum / maximum of v over each aligned segment of seg_width lanes (a power of two), every
// lane of the warp taking part.
template <class Warp>
EPLB_HD_INLINE uint32_t segment_min(Warp& w, uint32_t v, int seg_width) {
    if (seg_width == kWarpSize) return w.reduce_min(v);
    for (int offset = seg_width >> 1; offset > 0; offset >>= 1) {
        const uint32_t o = w.shfl_xor(v, offset);
        v = o < v ? o : v;
    }
    return v;
}
template <class Warp>
EPLB_HD_INLINE uint32_t segment_max(Warp& w, uint32_t v, int seg_width) {
    if (seg_width == kWarpSize) return w.reduce_max(v);
    for (int offset = seg_width >> 1; offset > 0; offset >>= 1) {
        const uint32_t o = w.shfl_xor(v, offset);
        v = o > v ? o : v;
    }
    return v;
}

// Maximum of a 64-bit value over the whole warp.
template <class Warp>
EPLB_HD_INLINE uint64_t warp_max_u64(Warp& w, uint64_t v) {
    for (int offset = kWarpSize >> 1; offset > 0; offset >>= 1) {
        const uint64_t o = (static_cast<uint64_t>(w.shfl_xor(static_cast<uint32_t>(v >> 32), offset)) << 32) |
                           w.shfl_xor(static_cast<uint32_t>(v), offset);
        v = o > v ? o : v;
    }
    return v;
}

EPLB_HD_INLINE int ceil_div(int a, int b) { return (a + b - 1) / b; }

}  // namespace eplb::cuda
