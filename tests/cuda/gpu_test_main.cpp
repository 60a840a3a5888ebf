// The doctest main of the GPU tests: exit 77 (meson: skipped) when no usable CUDA device is here.
#define DOCTEST_CONFIG_IMPLEMENT
#include <cstdio>
#include <string>

#include "cuda/cuda_planner.h"
#include "tests/doctest_run.h"

int main(int argc, char** argv) {
    std::string why;
    if (!eplb::cuda_device_available(&why)) {
        std::printf("skipped: %s\n", why.c_str());
        return 77;
    }
    return eplb::test::run_doctest(argc, argv);
}
