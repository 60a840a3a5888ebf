// Helpers shared by the tests: random loads with ties and zeros, the shared traces directory.
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "eplb/config.h"
#include "eplb/error.h"
#include "eplb/gen_trace.h"
#include "eplb/types.h"
#include "tests/shared_traces.h"

namespace eplb::test {

// A planning shape: logical experts, physical slots (replicas), groups, nodes, GPUs.
struct Shape {
    int e, r, g, n, p;
};

// Random loads [rows][cols]: a mix of small integers (many ties), zeros, and floats.
inline LoadMatrix random_loads(Rng& rng, int rows, int cols) {
    LoadMatrix w(rows, cols);
    const int mode = static_cast<int>(rng.next() % 4);
    for (int r = 0; r < rows; ++r) {
        for (int c = 0; c < cols; ++c) {
            const double u = rng.uniform();
            switch (mode) {
                case 0:  // ties everywhere
                    w(r, c) = static_cast<float>(rng.next() % 4);
                    break;
                case 1:  // sparse
                    w(r, c) = u < 0.5 ? 0.0f : static_cast<float>(rng.next() % 1000);
                    break;
                case 2:  // floats
                    w(r, c) = static_cast<float>(u * 1000.0);
                    break;
                default:  // heavy-tailed integers
                    w(r, c) = static_cast<float>(std::floor(std::exp(u * 12.0)));
                    break;
            }
        }
    }
    return w;
}

// A phy2log [layers][slots]: every expert at least once, then random extras, shuffled; then each
// slot set to -1 with probability `empty` where its expert keeps another replica in the layer.
inline IndexMatrix random_phy2log(Rng& rng, int layers, int experts, int slots, double empty = 0.0) {
    IndexMatrix m(layers, slots);
    for (int l = 0; l < layers; ++l) {
        std::vector<int> row(slots);
        for (int s = 0; s < slots; ++s) row[s] = s < experts ? s : static_cast<int>(rng.next() % experts);
        for (int s = slots - 1; s > 0; --s) std::swap(row[s], row[rng.next() % (s + 1)]);
        std::vector<int> count(experts, 0);
        for (int x : row) ++count[x];
        for (int s = 0; s < slots; ++s) {
            if (rng.uniform() < empty && count[row[s]] > 1) {
                --count[row[s]];
                row[s] = -1;
            }
        }
        for (int s = 0; s < slots; ++s) m(l, s) = row[s];
    }
    return m;
}

// A shuffle's config: E experts on R slots, N nodes, P GPUs (groups unused).
inline ParallelConfig shuffle_config(int experts, int slots, int nodes, int gpus) {
    ParallelConfig c;
    c.num_logical_experts = experts;
    c.num_physical_experts = slots;
    c.num_nodes = nodes;
    c.num_gpus = gpus;
    return c;
}

// The bytes of tests/fuzz/corpus/<harness>/<name> (via EPLB_SOURCE_ROOT): fuzz crash regressions
// live in the corpus, which suite unit replays, and a named test checks each one's message.
inline std::string fuzz_corpus_file(const std::string& harness, const std::string& name) {
    const char* root = std::getenv("EPLB_SOURCE_ROOT");
    REQUIRE(root);
    std::ifstream in(std::filesystem::path(root) / "tests" / "fuzz" / "corpus" / harness / name,
                     std::ios::binary);
    REQUIRE(in);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The message of the invalid-input eplb::Error that f throws ("" when it throws none).
inline std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        CHECK(e.exit_code() == 3);
        return e.what();
    }
    return "";
}

}  // namespace eplb::test
