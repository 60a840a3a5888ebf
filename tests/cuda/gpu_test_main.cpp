// The doctest main of the GPU tests: exit 77 (meson: skipped) when no usable CUDA device is here.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include "cuda/cuda_planner.h"

int main(int argc, char** argv) {
    std::string why;
    if (!eplb::cuda_device_available(&why)) {
        std::printf("skipped: %s\n", why.c_str());
        return 77;
    }
    doctest::Context context(argc, argv);
    return context.run();
}
