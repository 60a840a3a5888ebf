// CUDA_CHECK and the one generator of device status checks: a failed call throws eplb::Error of
// kind kDevice (exit code 4) with the statement, file:line and the library's own message.
// nccl_check.h adds NCCL_CHECK from the same generator.
#pragma once

#include <cuda_runtime_api.h>

#include "eplb/error.h"

// `ok` tells success, `describe` gives the library's message for the status.
#define EPLB_DEVICE_CALL(lib, stmt, status_type, ok, describe)                                             \
    do {                                                                                                   \
        const status_type eplb_status_ = (stmt);                                                           \
        if (eplb_status_ != (ok)) {                                                                        \
            EPLB_FAIL_KIND(::eplb::ErrorKind::kDevice, lib " error '" << describe(eplb_status_) << "' in " \
                                                                      << #stmt << " (" << __FILE__ << ":"  \
                                                                      << __LINE__ << ")");                 \
        }                                                                                                  \
    } while (0)

#define CUDA_CHECK(stmt) EPLB_DEVICE_CALL("CUDA", stmt, cudaError_t, cudaSuccess, cudaGetErrorString)
