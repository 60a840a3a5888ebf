// The simulation loop (see simulate.h). Steps are processed in chunks: a first pass over a chunk
// (collect_checks) updates the windows and collects the rearrangements of fixed-interval lanes (their
// inputs do not depend on any placement), which plan_batches stacks (batch.h) into one backend call
// per policy together with the oracle's per-step plans; a second pass (replay_lane) scores every step
// lane by lane and applies the placements in step order. Threshold lanes decide from the placement in
// force and robust lanes plan on the CPU, so both plan one at a time there. The next chunk is read on
// a second thread meanwhile.
#include "eplb/simulate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <future>
#include <limits>
#include <map>

#include "eplb/batch.h"
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
    std::vector<LoadRows> parts;  // [L][E] windows to stack, in order (then the oracle's steps)
    std::vector<int> part_lane;   // the lane each window belongs to
    int oracle_lane = -1;         // the chunk's steps follow the windows when >= 0
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

// The chunk length: options.chunk_steps, or at most 1024 steps and about 128 MB of chunk, snapshot
// and placement buffers; never more than the series.
int chunk_length(const SimulationOptions& options, int num_steps, int num_layers, int e) {
    const size_t step_size = static_cast<size_t>(num_layers) * e;
    const int r = options.config.num_physical_experts;
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
    return std::min(chunk, num_steps);
}

// Where the plans ran: the lanes' one backend, or per policy "deepseek cuda, robust cpu".
std::string describe_backends(const std::vector<LaneResult>& lanes) {
    std::vector<std::string> per_policy;
    bool one_backend = true;
    for (const LaneResult& res : lanes) {
        one_backend = one_backend && res.backend == lanes.front().backend;
        const std::string entry = std::string(policy_name(res.spec.policy)) + " " + res.backend;
        if (std::find(per_policy.begin(), per_policy.end(), entry) == per_policy.end())
            per_policy.push_back(entry);
    }
    if (!lanes.empty() && one_backend) return lanes.front().backend;
    std::string out;
    for (const std::string& entry : per_policy) out += (out.empty() ? "" : ", ") + entry;
    return out;
}

// One run of simulate(): the lanes' windows, counters and placements in force, carried from chunk
// to chunk. Each chunk goes through collect_checks (pass 1), plan_batches, then replay_lane for
// every lane (pass 2).
class Simulation {
  public:
    Simulation(StepSource& source, const SimulationOptions& options, Planner& planner);
    SimulationResult run(const SimulationProgress& progress);

  private:
    void set_up_lanes();
    int window_of(int size);
    void read_chunk(LoadMatrix& buf, int first, int n) const;
    // Pass 1 over steps [first, first + n): layer totals, windows, checks (and their plan inputs).
    void collect_checks(const LoadMatrix& buf, int first, int n);
    void advance_windows(const float* step, int t);
    void count_check(int k, int i);
    int snapshot_at(int window, int i);
    std::vector<LoadMatrix> window_chunks(const LaneState& st) const;
    // One backend call per policy: fixed-interval rearrangements, then the oracle's steps.
    void plan_batches(const LoadMatrix& buf, int n);
    void plan_batch(Policy policy, Batch& b, const LoadMatrix& buf, int n);
    // Pass 2: lane k scores each step and applies its rearrangements in step order.
    void replay_lane(int k, const LoadMatrix& buf, int first, int n);
    void replay_oracle_lane(int k, const LoadMatrix& buf, int first, int n);
    void rearrange(int k, const Request& req, int t);
    void apply(int k, const Placement& p, size_t row0, int t);
    double max_gpu_load(const LaneState& st, const LoadMatrix& buf, int i) const;
    void summarize();

    const Clock::time_point start_ = Clock::now();
    StepSource& source_;
    const SimulationOptions& options_;
    const ParallelConfig& c_;
    Planner& planner_;
    int num_steps_ = 0, num_layers_ = 0, e_ = 0, num_lanes_ = 0;
    size_t step_size_ = 0;  // L·E: one step's loads
    SimulationResult result_;
    // Windows: one running sum per distinct size; a ring of the last steps gives each the step it
    // drops.
    std::vector<Window> windows_;
    std::vector<LaneState> lanes_;
    int ring_len_ = 0;  // the longest window that ever drops a step (W < T): the ring must hold W steps
    std::vector<float> ring_;
    int chunk_ = 0;
    std::vector<double> totals_;  // [chunk][L] layer totals of the chunk's steps
    std::vector<Snapshot> snapshots_;
    std::map<std::pair<int, int>, int> snapshot_of_;  // (window, step in chunk) -> snapshot
    double sum_mean_all_ = 0;
    std::map<Policy, Batch> batches_;  // this chunk's
    // Batched plans land in one Placement per policy, reused: a backend writes into matrices of
    // the right shape instead of allocating and first-touching hundreds of MB per batch.
    std::map<Policy, Placement> batch_results_;
};

Simulation::Simulation(StepSource& source, const SimulationOptions& options, Planner& planner)
    : source_(source), options_(options), c_(options.config), planner_(planner) {
    c_.validate();
    check_lanes(options.lanes);
    num_steps_ = source.num_steps();
    num_layers_ = source.num_layers();
    e_ = source.num_experts();
    EPLB_CHECK(num_steps_ >= 1 && num_layers_ >= 1,
               "the load series is empty (" << num_steps_ << " steps, " << num_layers_ << " layers)");
    EPLB_CHECK(e_ == c_.num_logical_experts,
               "the load series has " << e_ << " experts, the config " << c_.num_logical_experts);
    step_size_ = static_cast<size_t>(num_layers_) * e_;
    num_lanes_ = static_cast<int>(options.lanes.size());
    result_.num_steps = num_steps_;
    result_.num_layers = num_layers_;
    result_.mean_gpu_load.resize(num_steps_);
    result_.lanes.resize(num_lanes_);
    set_up_lanes();
    ring_.assign(static_cast<size_t>(ring_len_) * step_size_, 0.0f);
    result_.backend = describe_backends(result_.lanes);
    chunk_ = chunk_length(options, num_steps_, num_layers_, e_);
    totals_.resize(static_cast<size_t>(chunk_) * num_layers_);
}

// Every lane starts from vLLM's placement; interval lanes get their windows and counters.
void Simulation::set_up_lanes() {
    lanes_.resize(num_lanes_);
    const IndexMatrix start_map = start_placement(num_layers_, c_);
    const IndexMatrix start_cnt = count_replicas(start_map, e_);
    for (int k = 0; k < num_lanes_; ++k) {
        const LaneSpec& spec = options_.lanes[k];
        LaneResult& res = result_.lanes[k];
        res.spec = spec;
        res.backend = planner_.plan_backend(c_, spec.policy);
        res.max_gpu_load.resize(num_steps_);
        LaneState& st = lanes_[k];
        st.phy2log = start_map;
        st.scorer = StepScorer(start_map.data(), start_cnt.data(), num_layers_, c_);
        if (spec.oracle) continue;
        st.counter = spec.step_interval - spec.step_interval / 4;
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
}

// The index of the window of `size` steps, added on first use.
int Simulation::window_of(int size) {
    auto it = std::find_if(windows_.begin(), windows_.end(), [&](const Window& w) { return w.size == size; });
    if (it == windows_.end()) {
        windows_.push_back({size, std::vector<double>(step_size_, 0.0)});
        it = windows_.end() - 1;
    }
    if (size < num_steps_) ring_len_ = std::max(ring_len_, size);
    return static_cast<int>(it - windows_.begin());
}

// Runs on the reader thread: touches only the source and `buf`.
void Simulation::read_chunk(LoadMatrix& buf, int first, int n) const {
    source_.load_steps(first, n, buf.data());
    for (int i = 0; i < n; ++i)
        check_step(buf.data() + static_cast<size_t>(i) * step_size_, step_size_, e_, first + i);
}

SimulationResult Simulation::run(const SimulationProgress& progress) {
    // The chunk being processed and the one being read.
    LoadMatrix buffers[2] = {
        LoadMatrix(static_cast<Eigen::Index>(chunk_) * num_layers_, e_),
        LoadMatrix(num_steps_ > chunk_ ? static_cast<Eigen::Index>(chunk_) * num_layers_ : 0, e_)};
    read_chunk(buffers[0], 0, chunk_);
    for (int first = 0, which = 0; first < num_steps_; first += chunk_, which ^= 1) {
        const int n = std::min(chunk_, num_steps_ - first);
        const LoadMatrix& buf = buffers[which];
        // Read the next chunk while this one is processed (the source is touched by one thread).
        std::future<void> next;
        if (first + n < num_steps_) {
            const int next_n = std::min(chunk_, num_steps_ - first - n);
            next = std::async(std::launch::async, [this, &ahead = buffers[which ^ 1], first, n, next_n] {
                read_chunk(ahead, first + n, next_n);
            });
        }
        struct JoinOnExit {  // an exception here must not leave the reader running
            std::future<void>& f;
            ~JoinOnExit() {
                if (f.valid()) f.wait();
            }
        } join_on_exit{next};
        collect_checks(buf, first, n);
        plan_batches(buf, n);
        for (int k = 0; k < num_lanes_; ++k) replay_lane(k, buf, first, n);
        if (next.valid()) next.get();  // rethrows a read error
        if (progress) progress(first + n, num_steps_);
    }
    summarize();
    result_.seconds = seconds_since(start_);
    return std::move(result_);
}

void Simulation::collect_checks(const LoadMatrix& buf, int first, int n) {
    snapshots_.clear();
    snapshot_of_.clear();
    for (LaneState& st : lanes_) st.requests.clear();
    for (int i = 0; i < n; ++i) {
        const int t = first + i;
        const float* step = buf.data() + static_cast<size_t>(i) * step_size_;
        double* step_totals = totals_.data() + static_cast<size_t>(i) * num_layers_;
        layer_totals(step, num_layers_, e_, step_totals);
        double mean = 0;
        for (int l = 0; l < num_layers_; ++l) mean += step_totals[l] / c_.num_gpus;
        result_.mean_gpu_load[t] = mean;
        sum_mean_all_ += mean;
        advance_windows(step, t);
        for (int k = 0; k < num_lanes_; ++k) count_check(k, i);
    }
}

// Adds the new step and drops the one W steps back in one pass: exact for integer loads (token
// counts), and the ring slot is read before it is overwritten.
void Simulation::advance_windows(const float* step, int t) {
    for (Window& w : windows_) {
        double* sum = w.sum.data();
        if (t < w.size) {
            for (size_t j = 0; j < step_size_; ++j) sum[j] += step[j];
        } else {
            const float* old = ring_.data() + static_cast<size_t>((t - w.size) % ring_len_) * step_size_;
            for (size_t j = 0; j < step_size_; ++j) {
                sum[j] += static_cast<double>(step[j]) - static_cast<double>(old[j]);
            }
        }
    }
    if (ring_len_ > 0)
        std::copy_n(step, step_size_, ring_.data() + static_cast<size_t>(t % ring_len_) * step_size_);
}

// Advances lane k's counter at step i of the chunk; at I, records a check with its plan input.
void Simulation::count_check(int k, int i) {
    const LaneSpec& spec = options_.lanes[k];
    LaneState& st = lanes_[k];
    if (spec.oracle || ++st.counter < spec.step_interval) return;
    st.counter = 0;
    Request req{i, snapshot_at(st.window, i), -1, {}};
    if (spec.policy == Policy::kRobust) req.chunks = window_chunks(st);
    st.requests.push_back(std::move(req));
}

// The snapshot of window `window` at step i of the chunk, taken once however many lanes share it.
int Simulation::snapshot_at(int window, int i) {
    auto [it, inserted] = snapshot_of_.try_emplace({window, i}, static_cast<int>(snapshots_.size()));
    if (inserted) {
        const Window& w = windows_[window];
        Snapshot snap;
        snap.load.resize(num_layers_, e_);
        for (size_t j = 0; j < step_size_; ++j) snap.load.data()[j] = static_cast<float>(w.sum[j]);
        snap.layer_totals.resize(num_layers_);
        layer_totals(snap.load.data(), num_layers_, e_, snap.layer_totals.data());
        snapshots_.push_back(std::move(snap));
    }
    return it->second;
}

// A robust lane's window cut into its chunks, oldest first: the difference of consecutive boundaries.
std::vector<LoadMatrix> Simulation::window_chunks(const LaneState& st) const {
    std::vector<LoadMatrix> chunks;
    const int k_chunks = static_cast<int>(st.chunk_windows.size());
    for (int j = k_chunks - 1; j >= 0; --j) {
        const double* outer = windows_[st.chunk_windows[j]].sum.data();
        const double* inner = j > 0 ? windows_[st.chunk_windows[j - 1]].sum.data() : nullptr;
        LoadMatrix m(num_layers_, e_);
        for (size_t x = 0; x < step_size_; ++x)
            m.data()[x] = static_cast<float>(std::max(0.0, outer[x] - (inner ? inner[x] : 0.0)));
        chunks.push_back(std::move(m));
    }
    return chunks;
}

void Simulation::plan_batches(const LoadMatrix& buf, int n) {
    batches_.clear();
    for (int k = 0; k < num_lanes_; ++k) {
        const LaneSpec& spec = options_.lanes[k];
        if (spec.oracle) {
            Batch& b = batches_[spec.policy];
            if (b.oracle_lane < 0) b.oracle_lane = k;
            continue;
        }
        if (spec.threshold > 0 || spec.policy == Policy::kRobust) continue;  // planned one by one
        Batch& b = batches_[spec.policy];
        for (Request& req : lanes_[k].requests) {
            req.batch_row = static_cast<int>(b.parts.size()) * num_layers_;
            b.parts.emplace_back(snapshots_[req.snapshot].load.data(), num_layers_, e_);
            b.part_lane.push_back(k);
        }
    }
    for (auto& [policy, b] : batches_) plan_batch(policy, b, buf, n);
}

// Plans the batch's windows and, after them, the chunk's steps when an oracle lane wants them; each
// lane is charged its share of the call's time, by rows.
void Simulation::plan_batch(Policy policy, Batch& b, const LoadMatrix& buf, int n) {
    const int window_rows = static_cast<int>(b.parts.size()) * num_layers_;
    const int oracle_rows = b.oracle_lane >= 0 ? n * num_layers_ : 0;
    const int rows = window_rows + oracle_rows;
    if (rows == 0) return;
    b.oracle_first_row = window_rows;
    if (oracle_rows > 0) b.parts.emplace_back(buf.data(), oracle_rows, e_);
    const LoadMatrix stacked = stack_rows(b.parts);
    const auto t0 = Clock::now();
    b.result = &batch_results_[policy];
    planner_.plan_into(stacked, c_, policy, *b.result);
    const double spent = seconds_since(t0);
    for (int lane : b.part_lane) {
        result_.lanes[lane].plan_seconds += spent * num_layers_ / rows;
        ++result_.lanes[lane].plans;
    }
    if (oracle_rows > 0) {
        result_.lanes[b.oracle_lane].plan_seconds += spent * oracle_rows / rows;
        result_.lanes[b.oracle_lane].plans += n;
    }
}

double Simulation::max_gpu_load(const LaneState& st, const LoadMatrix& buf, int i) const {
    return st.scorer.score(buf.data() + i * step_size_, totals_.data() + static_cast<size_t>(i) * num_layers_)
        .max_gpu_load;
}

void Simulation::replay_lane(int k, const LoadMatrix& buf, int first, int n) {
    if (options_.lanes[k].oracle) return replay_oracle_lane(k, buf, first, n);
    LaneState& st = lanes_[k];
    LaneResult& res = result_.lanes[k];
    size_t next_req = 0;
    for (int i = 0; i < n; ++i) {
        const int t = first + i;
        res.max_gpu_load[t] = max_gpu_load(st, buf, i);
        if (next_req == st.requests.size() || st.requests[next_req].step != i) continue;
        const Request& req = st.requests[next_req++];
        ++res.checks;
        rearrange(k, req, t);
    }
}

// The oracle scores each step with the plan of its own load, in force from that step.
void Simulation::replay_oracle_lane(int k, const LoadMatrix& buf, int first, int n) {
    const Batch& b = batches_.at(options_.lanes[k].policy);
    for (int i = 0; i < n; ++i) {
        apply(k, *b.result, static_cast<size_t>(b.oracle_first_row + i * num_layers_), first + i);
        result_.lanes[k].max_gpu_load[first + i] = max_gpu_load(lanes_[k], buf, i);
    }
}

// A check of lane k after step t: threshold lanes first test the window under the placement in
// force; they and robust lanes plan here, one at a time, the others take their batched plan.
void Simulation::rearrange(int k, const Request& req, int t) {
    const LaneSpec& spec = options_.lanes[k];
    LaneResult& res = result_.lanes[k];
    if (spec.threshold > 0) {
        const Snapshot& snap = snapshots_[req.snapshot];
        const StepScore in_force = lanes_[k].scorer.score(snap.load.data(), snap.layer_totals.data());
        if (in_force.balancedness() >= spec.threshold) return;
    }
    if (spec.threshold > 0 || spec.policy == Policy::kRobust) {
        // The CPU plans robust lanes whatever the backend: no device has a robust planner.
        const auto t0 = Clock::now();
        const Placement p = spec.policy == Policy::kRobust
                                ? plan_robust(req.chunks, c_)
                                : planner_.plan(snapshots_[req.snapshot].load, c_, spec.policy);
        res.plan_seconds += seconds_since(t0);
        ++res.plans;
        apply(k, p, 0, t);
    } else {
        apply(k, *batches_.at(spec.policy).result, static_cast<size_t>(req.batch_row), t);
    }
}

// Puts rows [row0, row0 + L) of `p` in force for lane k after step t (relabelled first where the
// lane says) and counts what the GPUs must receive.
void Simulation::apply(int k, const Placement& p, size_t row0, int t) {
    const int r = c_.num_physical_experts;
    LaneState& st = lanes_[k];
    LaneResult& res = result_.lanes[k];
    const int32_t* phy2log = p.phy2log.data() + row0 * r;
    const int32_t* logcnt = p.logcnt.data() + row0 * e_;
    Placement relabelled;
    if (options_.lanes[k].relabel) {
        const Placement fresh{p.phy2log.middleRows(row0, num_layers_),
                              p.phyrank.middleRows(row0, num_layers_),
                              p.logcnt.middleRows(row0, num_layers_)};
        const auto t0 = Clock::now();
        relabelled = relabel_to_previous(fresh, st.phy2log, c_);
        res.plan_seconds += seconds_since(t0);
        phy2log = relabelled.phy2log.data();
        logcnt = relabelled.logcnt.data();
    }
    const IndexMatrix next = Eigen::Map<const IndexMatrix>(phy2log, num_layers_, r);
    const MigrationStats m = count_migration(st.phy2log, next, c_, options_.expert_bytes);
    st.phy2log = next;
    st.scorer = StepScorer(phy2log, logcnt, num_layers_, c_);
    res.rearranged_at.push_back(t);
    res.moved_at.push_back(m.experts_moved);
    ++res.rearrangements;
    res.experts_moved += m.experts_moved;
    res.intra_node += m.intra_node;
    res.inter_node += m.inter_node;
    res.bytes_moved += m.bytes_moved;
}

// Each lane's balancedness over the whole series, its worst step and its final placement.
void Simulation::summarize() {
    for (int k = 0; k < num_lanes_; ++k) {
        LaneResult& res = result_.lanes[k];
        double sum_max = 0, sum_bal = 0;
        res.worst_step_balancedness = 2;
        for (int t = 0; t < num_steps_; ++t) {
            const double max = res.max_gpu_load[t];
            const double bal = max > 0 ? result_.mean_gpu_load[t] / max : 1.0;
            sum_max += max;
            sum_bal += bal;
            if (bal < res.worst_step_balancedness) {
                res.worst_step_balancedness = bal;
                res.worst_step = t;
            }
        }
        res.balancedness = sum_max > 0 ? sum_mean_all_ / sum_max : 1.0;
        res.mean_step_balancedness = sum_bal / num_steps_;
        res.final_phy2log = lanes_[k].phy2log;
    }
}

}  // namespace

IndexMatrix start_placement(int num_layers, const ParallelConfig& c) {
    IndexMatrix p(num_layers, c.num_physical_experts);
    for (int l = 0; l < num_layers; ++l) {
        for (int s = 0; s < c.num_physical_experts; ++s) p(l, s) = s % c.num_logical_experts;
    }
    return p;
}

SimulationResult simulate(StepSource& source, const SimulationOptions& options, Planner& planner,
                          const SimulationProgress& progress) {
    return Simulation(source, options, planner).run(progress);
}

}  // namespace eplb
