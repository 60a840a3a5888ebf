// A warp emulated by 32 host threads, for running the kernels' row code (cuda/*_row.cuh) on the
// CPU in tests: every collective is a barrier, so lanes see each other exactly as the code asks.
#pragma once

#include <barrier>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

#include "cuda/warp.cuh"

namespace eplb::test {

class WarpEmulator {
  public:
    // Runs body(warp) on 32 threads, one per lane, and waits for them.
    template <class Body>
    void run(Body body) {
        std::vector<std::thread> lanes;
        for (int lane = 0; lane < cuda::kWarpSize; ++lane) {
            lanes.emplace_back([this, lane, &body] {
                Lane w(this, lane);
                body(w);
            });
        }
        for (std::thread& t : lanes) t.join();
    }

    // The Warp interface of warp.cuh for one lane.
    class Lane {
      public:
        Lane(WarpEmulator* emu, int lane) : emu_(emu), lane_(lane) {}
        int lane() const { return lane_; }
        uint32_t ballot(bool pred) {
            return exchange(pred, [](const uint32_t* v, int) {
                uint32_t bits = 0;
                for (int i = 0; i < cuda::kWarpSize; ++i) bits |= (v[i] != 0 ? 1u : 0u) << i;
                return bits;
            });
        }
        uint32_t shfl_xor(uint32_t x, int lane_mask) {
            return exchange(x, [lane_mask](const uint32_t* v, int self) { return v[self ^ lane_mask]; });
        }
        uint32_t shfl(uint32_t x, int src) {
            return exchange(x, [src](const uint32_t* v, int) { return v[src]; });
        }
        uint32_t reduce_min(uint32_t x) {
            return exchange(x, [](const uint32_t* v, int) {
                uint32_t m = v[0];
                for (int i = 1; i < cuda::kWarpSize; ++i) m = v[i] < m ? v[i] : m;
                return m;
            });
        }
        uint32_t reduce_max(uint32_t x) {
            return exchange(x, [](const uint32_t* v, int) {
                uint32_t m = v[0];
                for (int i = 1; i < cuda::kWarpSize; ++i) m = v[i] > m ? v[i] : m;
                return m;
            });
        }
        uint32_t reduce_add(uint32_t x) {
            return exchange(x, [](const uint32_t* v, int) {
                uint32_t s = 0;
                for (int i = 0; i < cuda::kWarpSize; ++i) s += v[i];
                return s;
            });
        }
        void sync() { emu_->barrier_.arrive_and_wait(); }
        void atomic_add(int* p, int v) { __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
        void atomic_min(int* p, int v) {
            int cur = __atomic_load_n(p, __ATOMIC_RELAXED);
            while (v < cur &&
                   !__atomic_compare_exchange_n(p, &cur, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
            }
        }

      private:
        // Every lane posts x, all meet at the barrier, each reads what it needs. Two buffers in
        // turn: a lane can only post again into a buffer once everyone passed the next barrier,
        // that is, once everyone finished reading it.
        template <class Combine>
        uint32_t exchange(uint32_t x, Combine combine) {
            uint32_t* buf = emu_->slots_[parity_];
            parity_ ^= 1;
            buf[lane_] = x;
            emu_->barrier_.arrive_and_wait();
            return combine(buf, lane_);
        }

        WarpEmulator* emu_;
        int lane_;
        int parity_ = 0;
    };

  private:
    std::barrier<> barrier_{cuda::kWarpSize};
    uint32_t slots_[2][cuda::kWarpSize] = {};
};

}  // namespace eplb::test
