// Migration counting between placements.
#include <doctest/doctest.h>

#include "eplb/error.h"
#include "eplb/migration.h"

using namespace eplb;

TEST_CASE("experts each GPU must receive, split by node") {
    // 2 nodes x 2 GPUs x 2 slots, 4 experts.
    ParallelConfig c{4, 8, 1, 2, 4};
    IndexMatrix old_map(1, 8), new_map(1, 8);
    old_map << 0, 1, 2, 3, 0, 1, 2, 3;
    new_map << 1, 0, 0, 0, 3, 3, 2, 1;
    // GPU0 {0,1} -> {1,0}: nothing. GPU1 {2,3} -> {0,0}: receives 0 once (node 0 holds it: intra).
    // GPU2 {0,1} -> {3,3}: receives 3 (node 1 holds 3 on GPU3: intra). GPU3 {2,3} -> {2,1}: 1 (intra).
    const MigrationStats st = count_migration(old_map, new_map, c, 100);
    CHECK(st.experts_moved == 3);
    CHECK(st.intra_node == 3);
    CHECK(st.inter_node == 0);
    CHECK(st.bytes_moved == 300);
    CHECK(st.received_per_gpu == std::vector<int64_t>{0, 1, 1, 1});
}

TEST_CASE("inter-node when no holder on the receiver's node; -1 slots hold and need nothing") {
    ParallelConfig c{4, 4, 1, 2, 2};
    IndexMatrix old_map(1, 4), new_map(1, 4);
    old_map << 0, 1, 2, -1;
    new_map << 2, -1, 3, 0;
    // GPU0 {0,1} -> {2,-1}: 2 lives on node 1 only: inter. GPU1 {2,-1} -> {3,0}: 3 is held by no
    // one (counted as inter-node), 0 from node 0: inter.
    const MigrationStats st = count_migration(old_map, new_map, c, 1);
    CHECK(st.experts_moved == 3);
    CHECK(st.inter_node == 3);
}

TEST_CASE("no change moves nothing; shape mismatch is invalid input") {
    ParallelConfig c{4, 4, 1, 1, 2};
    IndexMatrix m(2, 4);
    m << 0, 1, 2, 3, 3, 2, 1, 0;
    CHECK(count_migration(m, m, c, 10).experts_moved == 0);
    CHECK_THROWS_AS(count_migration(m, m.topRows(1), c, 10), Error);
}
