// CUDA_CHECK: turns a failed CUDA runtime call into an eplb::Error of kind kDevice (exit 4) that
// carries the statement, file:line and CUDA's own message.
#pragma once

#include <cuda_runtime_api.h>

#include "eplb/error.h"

#define CUDA_CHECK(stmt)                                                                           \
    do {                                                                                           \
        const cudaError_t eplb_cuda_err_ = (stmt);                                                 \
        if (eplb_cuda_err_ != cudaSuccess) {                                                       \
            EPLB_FAIL_KIND(::eplb::ErrorKind::kDevice, "CUDA error: " #stmt " failed at "          \
                                                           << __FILE__ << ":" << __LINE__ << ": "  \
                                                           << cudaGetErrorString(eplb_cuda_err_)); \
        }                                                                                          \
    } while (0)
