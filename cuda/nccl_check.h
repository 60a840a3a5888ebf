// NCCL_CHECK: a failed NCCL call throws eplb::Error of kind kDevice (exit code 4) with the
// statement, file:line and NCCL's message; CUDA_CHECK comes from the same generator.
#pragma once

#include <nccl.h>

#include "cuda/cuda_check.h"

#define NCCL_CHECK(stmt) EPLB_DEVICE_CALL("NCCL", stmt, ncclResult_t, ncclSuccess, ncclGetErrorString)
