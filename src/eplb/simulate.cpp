// The simulation loop (see simulate.h). Steps are processed in chunks: a first pass over a chunk
// updates the windows and collects the rearrangements of fixed-interval lanes (their inputs do not
// depend on any placement), which are then planned in one backend call per policy together with
// the oracle's per-step plans; a second pass scores every step lane by lane and applies the
// placements in step order. Threshold lanes decide from the placement in force, so they plan one
// at a time in the second pass. The next chunk is read on a second thread meanwhile.
#include "eplb/simulate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <future>
#include <limits>
#include <map>
#include <sstream>

#include "eplb/error.h"
#include "eplb/metrics.h"
#include "eplb/migration.h"
#include "eplb/relabel.h"
#include "eplb/robust.h"

namespace eplb {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string format_threshold(double t) {
    if (t <= 0) return "off";
    std::ostringstream s;
    s << t;
    return s.str();
}

}  // namespace

std::vector<LaneSpec> make_lanes(const std::vector<Policy>& policies, const std::vector<int>& window_sizes,
                                 const std::vector<int>& step_intervals,
                                 const std::vector<double>& thresholds, bool oracle,
                                 const std::vector<bool>& relabel) {
    EPLB_CHECK(!policies.empty(), "no policy to simulate");
    const std::vector<int> windows = window_sizes.empty() ? std::vector<int>{1000} : window_sizes;
    const std::vector<int> intervals = step_intervals.empty() ? std::vector<int>{3000} : step_intervals;
    const std::vector<double> thres = thresholds.empty() ? std::vector<double>{0.0} : thresholds;
    const std::vector<bool> relabels = relabel.empty() ? std::vector<bool>{false} : relabel;
    std::vector<LaneSpec> lanes;
    for (Policy policy : policies) {
        for (int w : windows) {
            for (int i : intervals) {
                for (double t : thres) {
                    for (bool relabelled : relabels) {
                        LaneSpec lane;
                        lane.policy = policy;
                        lane.window_size = w;
                        lane.step_interval = i;
                        lane.threshold = t;
                        lane.relabel = relabelled;
                        lane.label = policy_name(policy);
                        if (windows.size() > 1) lane.label += " w=" + std::to_string(w);
                        if (intervals.size() > 1) lane.label += " i=" + std::to_string(i);
                        if (thres.size() > 1 || t > 0) lane.label += " t=" + format_threshold(t);
                        if (relabelled) lane.label += " relabel";
                        lanes.push_back(lane);
                    }
                }
            }
        }
    }
    if (oracle) {
        for (Policy policy : policies) {
            LaneSpec lane;
            lane.policy = policy;
            lane.oracle = true;
            lane.label = std::string(policy_name(policy)) + " oracle";
            lanes.push_back(lane);
        }
    }
    return lanes;
}

StepScorer::StepScorer(const int32_t* phy2log, const int32_t* logcnt, int num_layers, const ParallelConfig& c)
    : num_layers_(num_layers),
      num_experts_(c.num_logical_experts),
      num_slots_(c.num_physical_experts),
      num_gpus_(c.num_gpus),
      expert_(phy2log, phy2log + static_cast<size_t>(num_layers) * c.num_physical_experts) {
    shared_begin_.push_back(0);
    for (int l = 0; l < num_layers_; ++l) {
        for (int s = 0; s < num_slots_; ++s) {
            const int x = expert_[static_cast<size_t>(l) * num_slots_ + s];
            EPLB_CHECK(x >= 0 && x < num_experts_, "phy2log[" << l << "][" << s << "] is " << x
                                                              << ", outside [0, " << num_experts_ << ")");
            const int replicas = logcnt[static_cast<size_t>(l) * num_experts_ + x];
            if (replicas != 1) {
                shared_.push_back(s);
                shared_replicas_.push_back(replicas);
            }
        }
        shared_begin_.push_back(static_cast<int32_t>(shared_.size()));
    }
}

StepScorer::StepScorer(const Placement& p, const ParallelConfig& c)
    : StepScorer(p.phy2log.data(), p.logcnt.data(), p.num_layers(), c) {
    EPLB_CHECK(p.phy2log.cols() == c.num_physical_experts && p.logcnt.cols() == c.num_logical_experts,
               "placement is " << p.phy2log.cols() << " slots x " << p.logcnt.cols()
                               << " experts, config says " << c.num_physical_experts << " x "
                               << c.num_logical_experts);
}

StepScore StepScorer::score(const float* load, const double* layer_totals) const {
    const int slots_per_gpu = num_slots_ / num_gpus_;
    // Replica loads of a layer first: load / logcnt, where only experts with several replicas need
    // the division (x / 1.0 is x); then each GPU's sum in slot order, as evaluate() adds them.
    thread_local std::vector<double> replica_load;
    replica_load.resize(num_slots_);
    double* v = replica_load.data();
    StepScore out;
    for (int l = 0; l < num_layers_; ++l) {
        const float* row = load + static_cast<size_t>(l) * num_experts_;
        const int32_t* expert = expert_.data() + static_cast<size_t>(l) * num_slots_;
        for (int s = 0; s < num_slots_; ++s) v[s] = row[expert[s]];
        for (int i = shared_begin_[l]; i < shared_begin_[l + 1]; ++i) v[shared_[i]] /= shared_replicas_[i];
        double max = 0;
        for (int q = 0, s = 0; q < num_gpus_; ++q) {
            double gpu = 0;
            for (const int end = s + slots_per_gpu; s < end; ++s) gpu += v[s];
            if (gpu > max) max = gpu;
        }
        double total;
        if (layer_totals) {
            total = layer_totals[l];
        } else {
            total = 0;
            for (int x = 0; x < num_experts_; ++x) total += row[x];
        }
        out.mean_gpu_load += total / num_gpus_;
        out.max_gpu_load += max;
    }
    return out;
}

IndexMatrix start_placement(int num_layers, const ParallelConfig& c) {
    IndexMatrix p(num_layers, c.num_physical_experts);
    for (int l = 0; l < num_layers; ++l) {
        for (int s = 0; s < c.num_physical_experts; ++s) p(l, s) = s % c.num_logical_experts;
    }
    return p;
}

namespace {

// A running sum of the last `size` steps, [L][E] in double (exact for integer loads).
struct Window {
    int size = 0;
    std::vector<double> sum;
};

// A plan input taken at one step of the chunk: the window's sum rounded to float32 once.
struct Snapshot {
    LoadMatrix load;
    std::vector<double> layer_totals;  // for threshold checks
};

struct Request {
    int step = 0;                    // index in the chunk
    int snapshot = 0;                // index into the chunk's snapshots
    int batch_row = -1;              // first row of its plan in the policy's batch (interval lanes)
    std::vector<LoadMatrix> chunks;  // robust lanes: the window's chunks, oldest first
};

struct LaneState {
    int window = 0;  // index into the windows
    // Robust lanes: the windows of the chunk boundaries, round(j·W/K) for j = 1..K (the last is
    // `window`); chunk j is window j+1 minus window j, i.e. the steps between the boundaries.
    std::vector<int> chunk_windows;
    int counter = 0;  // the rearrangement counter
    IndexMatrix phy2log;
    StepScorer scorer;
    std::vector<Request> requests;  // this chunk's checks, in step order
};

// One backend call's worth of plans for a policy.
struct Batch {
    std::vector<const float*> parts;  // [L][E] blocks to stack, in order
    std::vector<int> part_lane;       // the lane each block belongs to
    int oracle_lane = -1;             // the chunk's steps follow the parts when >= 0
    int oracle_first_row = 0;
    Placement* result = nullptr;  // the policy's output, reused from chunk to chunk
};

void check_lanes(const std::vector<LaneSpec>& lanes) {
    EPLB_CHECK(!lanes.empty(), "no lane to simulate");
    for (const LaneSpec& lane : lanes) {
        if (lane.oracle) continue;
        EPLB_CHECK(lane.window_size >= 1, "window_size (" << lane.window_size << ") must be at least 1");
        EPLB_CHECK(lane.step_interval >= 1,
                   "step_interval (" << lane.step_interval << ") must be at least 1");
        EPLB_CHECK(std::isfinite(lane.threshold) && lane.threshold >= 0 && lane.threshold <= 1,
                   "threshold (" << lane.threshold << ") must be in (0, 1], or 0 for none");
        EPLB_CHECK(lane.policy != Policy::kRobust ||
                       (lane.robust_chunks >= 1 && lane.robust_chunks <= lane.window_size),
                   "robust_chunks (" << lane.robust_chunks << ") must be 1..window_size (" << lane.window_size
                                     << ")");
    }
}

void check_step(const float* load, size_t n, int num_experts, int t) {
    constexpr float kMax = std::numeric_limits<float>::max();
    int bad = 0;  // no early exit, so that the common case vectorises
    for (size_t i = 0; i < n; ++i)
        bad |= static_cast<int>(!(load[i] >= 0.0f)) | static_cast<int>(load[i] > kMax);
    if (bad == 0) return;
    for (size_t i = 0; i < n; ++i) {
        const float v = load[i];
        if (!(v >= 0.0f && v <= kMax)) {
            EPLB_FAIL("step " << t << ", layer row " << i / num_experts << ", expert " << i % num_experts
                              << ": load " << v << " must be finite and >= 0");
        }
    }
}

// Σ_x row[x] of kGroup layers in expert order (evaluate()'s order), their chains interleaved.
template <int kGroup>
void group_totals(const float* rows, int e, double* totals) {
    double acc[kGroup] = {};
    for (int x = 0; x < e; ++x) {
        for (int j = 0; j < kGroup; ++j) acc[j] += rows[static_cast<size_t>(j) * e + x];
    }
    for (int j = 0; j < kGroup; ++j) totals[j] = acc[j];
}

void layer_totals(const float* step, int num_layers, int e, double* totals) {
    int l = 0;
    for (; l + 8 <= num_layers; l += 8) group_totals<8>(step + static_cast<size_t>(l) * e, e, totals + l);
    for (; l < num_layers; ++l) group_totals<1>(step + static_cast<size_t>(l) * e, e, totals + l);
}

}  // namespace

SimulationResult simulate(StepSource& source, const SimulationOptions& options, Planner& planner,
                          const SimulationProgress& progress) {
    const auto start = Clock::now();
    const ParallelConfig& c = options.config;
    c.validate();
    check_lanes(options.lanes);
    const int num_steps = source.num_steps(), num_layers = source.num_layers(), e = source.num_experts();
    EPLB_CHECK(num_steps >= 1 && num_layers >= 1,
               "the load series is empty (" << num_steps << " steps, " << num_layers << " layers)");
    EPLB_CHECK(e == c.num_logical_experts,
               "the load series has " << e << " experts, the config " << c.num_logical_experts);
    const int r = c.num_physical_experts;
    const size_t step_size = static_cast<size_t>(num_layers) * e;
    const int num_lanes = static_cast<int>(options.lanes.size());

    SimulationResult result;
    result.num_steps = num_steps;
    result.num_layers = num_layers;
    result.backend.clear();
    result.mean_gpu_load.resize(num_steps);
    result.lanes.resize(num_lanes);

    // Windows: one running sum per distinct size; a ring of the last steps gives each the step it
    // drops.
    std::vector<Window> windows;
    std::vector<LaneState> lanes(num_lanes);
    const IndexMatrix start_map = start_placement(num_layers, c);
    const IndexMatrix start_cnt = count_replicas(start_map, e);
    int ring_len = 0;  // the longest window that ever drops a step (W < T): the ring must hold W steps
    for (int k = 0; k < num_lanes; ++k) {
        const LaneSpec& spec = options.lanes[k];
        LaneResult& res = result.lanes[k];
        res.spec = spec;
        res.backend = planner.plan_backend(c, spec.policy);
        res.max_gpu_load.resize(num_steps);
        LaneState& st = lanes[k];
        st.phy2log = start_map;
        st.scorer = StepScorer(start_map.data(), start_cnt.data(), num_layers, c);
        if (spec.oracle) continue;
        st.counter = spec.step_interval - spec.step_interval / 4;
        auto window_of = [&](int size) {
            auto it =
                std::find_if(windows.begin(), windows.end(), [&](const Window& w) { return w.size == size; });
            if (it == windows.end()) {
                windows.push_back({size, std::vector<double>(step_size, 0.0)});
                it = windows.end() - 1;
            }
            if (size < num_steps) ring_len = std::max(ring_len, size);
            return static_cast<int>(it - windows.begin());
        };
        if (spec.policy == Policy::kRobust) {
            const int k_chunks = spec.robust_chunks;
            for (int j = 1; j <= k_chunks; ++j) {
                const int size =
                    static_cast<int>((static_cast<int64_t>(spec.window_size) * j + k_chunks / 2) / k_chunks);
                st.chunk_windows.push_back(window_of(std::max(1, size)));
            }
        }
        st.window = window_of(spec.window_size);
    }
    std::vector<float> ring(static_cast<size_t>(ring_len) * step_size, 0.0f);
    // One backend for all lanes, or where each policy's plans ran.
    std::vector<std::string> per_policy;
    bool one_backend = true;
    for (const LaneResult& res : result.lanes) {
        one_backend = one_backend && res.backend == result.lanes.front().backend;
        const std::string entry = std::string(policy_name(res.spec.policy)) + " " + res.backend;
        if (std::find(per_policy.begin(), per_policy.end(), entry) == per_policy.end())
            per_policy.push_back(entry);
    }
    if (num_lanes > 0 && one_backend) {
        result.backend = result.lanes.front().backend;
    } else {
        for (const std::string& entry : per_policy)
            result.backend += (result.backend.empty() ? "" : ", ") + entry;
    }

    // Chunk length: at most 1024 steps and about 128 MB of chunk, snapshot and placement buffers.
    int chunk = options.chunk_steps;
    if (chunk <= 0) {
        double per_step = 2.0 * step_size * sizeof(float);  // the chunk and the one read ahead
        const double plan_bytes = static_cast<double>(num_layers) * (2.0 * r + e) * sizeof(int32_t);
        for (const LaneSpec& spec : options.lanes) {
            per_step += spec.oracle ? plan_bytes + step_size * sizeof(float)
                                    : (plan_bytes + 2.0 * step_size * sizeof(float)) / spec.step_interval;
        }
        chunk = static_cast<int>(std::clamp(128e6 / per_step, 1.0, 1024.0));
    }
    chunk = std::min(chunk, num_steps);

    // The chunk being processed and the one being read.
    LoadMatrix buffers[2] = {
        LoadMatrix(static_cast<Eigen::Index>(chunk) * num_layers, e),
        LoadMatrix(num_steps > chunk ? static_cast<Eigen::Index>(chunk) * num_layers : 0, e)};
    auto read_chunk = [&source, step_size, e](LoadMatrix& buf, int first, int n) {
        source.load_steps(first, n, buf.data());
        for (int i = 0; i < n; ++i)
            check_step(buf.data() + static_cast<size_t>(i) * step_size, step_size, e, first + i);
    };
    read_chunk(buffers[0], 0, chunk);

    std::vector<double> totals(static_cast<size_t>(chunk) * num_layers);
    std::vector<Snapshot> snapshots;
    std::map<std::pair<int, int>, int> snapshot_of;  // (window, step in chunk) -> snapshot
    double sum_mean_all = 0;
    // Batched plans land in one Placement per policy, reused: a backend writes into matrices of
    // the right shape instead of allocating and first-touching hundreds of MB per batch.
    std::map<Policy, Placement> batch_results;
    for (int first = 0, which = 0; first < num_steps; first += chunk, which ^= 1) {
        const int n = std::min(chunk, num_steps - first);
        LoadMatrix& buf = buffers[which];
        // Read the next chunk while this one is processed (the source is touched by one thread).
        std::future<void> next;
        if (first + n < num_steps) {
            const int next_n = std::min(chunk, num_steps - first - n);
            next =
                std::async(std::launch::async, read_chunk, std::ref(buffers[which ^ 1]), first + n, next_n);
        }
        struct JoinOnExit {  // an exception here must not leave the reader running
            std::future<void>& f;
            ~JoinOnExit() {
                if (f.valid()) f.wait();
            }
        } join_on_exit{next};

        // Pass 1: layer totals, windows, checks.
        snapshots.clear();
        snapshot_of.clear();
        for (LaneState& st : lanes) st.requests.clear();
        for (int i = 0; i < n; ++i) {
            const int t = first + i;
            const float* step = buf.data() + static_cast<size_t>(i) * step_size;
            double* step_totals = totals.data() + static_cast<size_t>(i) * num_layers;
            layer_totals(step, num_layers, e, step_totals);
            double mean = 0;
            for (int l = 0; l < num_layers; ++l) mean += step_totals[l] / c.num_gpus;
            result.mean_gpu_load[t] = mean;
            sum_mean_all += mean;
            // Add the new step and drop the one W steps back in one pass: exact for integer loads
            // (token counts), and the ring slot is read before it is overwritten.
            for (Window& w : windows) {
                double* sum = w.sum.data();
                if (t < w.size) {
                    for (size_t j = 0; j < step_size; ++j) sum[j] += step[j];
                } else {
                    const float* old = ring.data() + static_cast<size_t>((t - w.size) % ring_len) * step_size;
                    for (size_t j = 0; j < step_size; ++j) {
                        sum[j] += static_cast<double>(step[j]) - static_cast<double>(old[j]);
                    }
                }
            }
            if (ring_len > 0)
                std::copy_n(step, step_size, ring.data() + static_cast<size_t>(t % ring_len) * step_size);
            for (int k = 0; k < num_lanes; ++k) {
                const LaneSpec& spec = options.lanes[k];
                LaneState& st = lanes[k];
                if (spec.oracle || ++st.counter < spec.step_interval) continue;
                st.counter = 0;
                auto [it, inserted] =
                    snapshot_of.try_emplace({st.window, i}, static_cast<int>(snapshots.size()));
                if (inserted) {
                    const Window& w = windows[st.window];
                    Snapshot snap;
                    snap.load.resize(num_layers, e);
                    for (size_t j = 0; j < step_size; ++j) snap.load.data()[j] = static_cast<float>(w.sum[j]);
                    snap.layer_totals.resize(num_layers);
                    layer_totals(snap.load.data(), num_layers, e, snap.layer_totals.data());
                    snapshots.push_back(std::move(snap));
                }
                st.requests.push_back({i, it->second, -1, {}});
                if (spec.policy == Policy::kRobust) {
                    // The window's chunks, oldest first: the difference of consecutive boundaries.
                    std::vector<LoadMatrix>& chunks = st.requests.back().chunks;
                    const int k_chunks = static_cast<int>(st.chunk_windows.size());
                    for (int j = k_chunks - 1; j >= 0; --j) {
                        const double* outer = windows[st.chunk_windows[j]].sum.data();
                        const double* inner = j > 0 ? windows[st.chunk_windows[j - 1]].sum.data() : nullptr;
                        LoadMatrix m(num_layers, e);
                        for (size_t x = 0; x < step_size; ++x)
                            m.data()[x] =
                                static_cast<float>(std::max(0.0, outer[x] - (inner ? inner[x] : 0.0)));
                        chunks.push_back(std::move(m));
                    }
                }
            }
        }

        // Batched plans, one backend call per policy: fixed-interval rearrangements, then the
        // oracle's plans of every step of the chunk.
        std::map<Policy, Batch> batches;
        for (int k = 0; k < num_lanes; ++k) {
            const LaneSpec& spec = options.lanes[k];
            if (spec.oracle) {
                Batch& b = batches[spec.policy];
                if (b.oracle_lane < 0) b.oracle_lane = k;
                continue;
            }
            if (spec.threshold > 0 || spec.policy == Policy::kRobust) continue;  // planned one by one
            Batch& b = batches[spec.policy];
            for (Request& req : lanes[k].requests) {
                req.batch_row = static_cast<int>(b.parts.size()) * num_layers;
                b.parts.push_back(snapshots[req.snapshot].load.data());
                b.part_lane.push_back(k);
            }
        }
        for (auto& [policy, b] : batches) {
            const int oracle_rows = b.oracle_lane >= 0 ? n * num_layers : 0;
            const int rows = static_cast<int>(b.parts.size()) * num_layers + oracle_rows;
            if (rows == 0) continue;
            LoadMatrix stacked(rows, e);
            for (size_t p = 0; p < b.parts.size(); ++p) {
                std::copy_n(b.parts[p], step_size, stacked.data() + p * step_size);
            }
            b.oracle_first_row = static_cast<int>(b.parts.size()) * num_layers;
            if (oracle_rows > 0) {
                std::copy_n(buf.data(), static_cast<size_t>(n) * step_size,
                            stacked.data() + static_cast<size_t>(b.oracle_first_row) * e);
            }
            const auto t0 = Clock::now();
            b.result = &batch_results[policy];
            planner.plan_into(stacked, c, policy, *b.result);
            const double spent = seconds_since(t0);
            // Each lane's share of the call, by rows.
            for (int lane : b.part_lane) {
                result.lanes[lane].plan_seconds += spent * num_layers / rows;
                ++result.lanes[lane].plans;
            }
            if (oracle_rows > 0) {
                result.lanes[b.oracle_lane].plan_seconds += spent * oracle_rows / rows;
                result.lanes[b.oracle_lane].plans += n;
            }
        }

        // Pass 2: lane by lane, score each step and apply the rearrangements in step order.
        for (int k = 0; k < num_lanes; ++k) {
            const LaneSpec& spec = options.lanes[k];
            LaneState& st = lanes[k];
            LaneResult& res = result.lanes[k];
            // Puts rows [row0, row0 + L) of `p` in force after step t (relabelled first where the
            // lane says) and counts what the GPUs must receive.
            auto apply = [&](const Placement& p, size_t row0, int t) {
                const int32_t* phy2log = p.phy2log.data() + row0 * r;
                const int32_t* logcnt = p.logcnt.data() + row0 * e;
                Placement relabelled;
                if (spec.relabel) {
                    const Placement fresh{p.phy2log.middleRows(row0, num_layers),
                                          p.phyrank.middleRows(row0, num_layers),
                                          p.logcnt.middleRows(row0, num_layers)};
                    const auto t0 = Clock::now();
                    relabelled = relabel_to_previous(fresh, st.phy2log, c);
                    res.plan_seconds += seconds_since(t0);
                    phy2log = relabelled.phy2log.data();
                    logcnt = relabelled.logcnt.data();
                }
                const IndexMatrix next = Eigen::Map<const IndexMatrix>(phy2log, num_layers, r);
                const MigrationStats m = count_migration(st.phy2log, next, c, options.expert_bytes);
                st.phy2log = next;
                st.scorer = StepScorer(phy2log, logcnt, num_layers, c);
                res.rearranged_at.push_back(t);
                res.moved_at.push_back(m.experts_moved);
                ++res.rearrangements;
                res.experts_moved += m.experts_moved;
                res.intra_node += m.intra_node;
                res.inter_node += m.inter_node;
                res.bytes_moved += m.bytes_moved;
            };
            if (spec.oracle) {
                const Placement& p = *batches.at(spec.policy).result;
                const int row0 = batches.at(spec.policy).oracle_first_row;
                for (int i = 0; i < n; ++i) {
                    const size_t row = static_cast<size_t>(row0 + i * num_layers);
                    apply(p, row, first + i);
                    res.max_gpu_load[first + i] =
                        st.scorer
                            .score(buf.data() + i * step_size,
                                   totals.data() + static_cast<size_t>(i) * num_layers)
                            .max_gpu_load;
                }
                continue;
            }
            size_t next_req = 0;
            for (int i = 0; i < n; ++i) {
                const int t = first + i;
                res.max_gpu_load[t] = st.scorer
                                          .score(buf.data() + i * step_size,
                                                 totals.data() + static_cast<size_t>(i) * num_layers)
                                          .max_gpu_load;
                if (next_req == st.requests.size() || st.requests[next_req].step != i) continue;
                const Request& req = st.requests[next_req++];
                ++res.checks;
                if (spec.threshold > 0) {
                    const Snapshot& snap = snapshots[req.snapshot];
                    if (st.scorer.score(snap.load.data(), snap.layer_totals.data()).balancedness() >=
                        spec.threshold) {
                        continue;
                    }
                    const auto t0 = Clock::now();
                    const Placement p = spec.policy == Policy::kRobust
                                            ? plan_robust(req.chunks, c)
                                            : planner.plan(snap.load, c, spec.policy);
                    res.plan_seconds += seconds_since(t0);
                    ++res.plans;
                    apply(p, 0, t);
                } else if (spec.policy == Policy::kRobust) {
                    // The CPU plans robust lanes whatever the backend: no device has a robust planner.
                    const auto t0 = Clock::now();
                    const Placement p = plan_robust(req.chunks, c);
                    res.plan_seconds += seconds_since(t0);
                    ++res.plans;
                    apply(p, 0, t);
                } else {
                    const Placement& p = *batches.at(spec.policy).result;
                    apply(p, static_cast<size_t>(req.batch_row), t);
                }
            }
        }
        if (next.valid()) next.get();  // rethrows a read error
        if (progress) progress(first + n, num_steps);
    }

    // Summaries.
    for (int k = 0; k < num_lanes; ++k) {
        LaneResult& res = result.lanes[k];
        double sum_max = 0, sum_bal = 0;
        res.worst_step_balancedness = 2;
        for (int t = 0; t < num_steps; ++t) {
            const double max = res.max_gpu_load[t];
            const double bal = max > 0 ? result.mean_gpu_load[t] / max : 1.0;
            sum_max += max;
            sum_bal += bal;
            if (bal < res.worst_step_balancedness) {
                res.worst_step_balancedness = bal;
                res.worst_step = t;
            }
        }
        res.balancedness = sum_max > 0 ? sum_mean_all / sum_max : 1.0;
        res.mean_step_balancedness = sum_bal / num_steps;
        res.final_phy2log = lanes[k].phy2log;
    }
    result.seconds = seconds_since(start);
    return result;
}

}  // namespace eplb
