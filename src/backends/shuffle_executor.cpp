// make_shuffle_executor: the device executor where NCCL was built, else an error that says how to
// rebuild.
#include "backends/shuffle_executor.h"

#include "eplb/error.h"
#include "eplb_config.h"
#if EPLB_HAVE_NCCL
#include "cuda/device_shuffle.h"
#endif

namespace eplb {

ShuffleExecutor make_shuffle_executor() {
#if EPLB_HAVE_NCCL
    return run_shuffle_on_devices;
#else
    EPLB_FAIL_KIND(
        ErrorKind::kDevice,
        "this eplb was built without CUDA and NCCL: `eplb shuffle --dry-run` plans without GPUs; "
        "to run the shuffle rebuild with `meson setup build -Dcuda=enabled` where nvcc and NCCL are");
#endif
}

}  // namespace eplb
