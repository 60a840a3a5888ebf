// The CUDA planner backend: moves Eigen matrices to and from the device and runs the kernels of
// deepseek_kernels.h and metrics_kernels.h; delegates what they do not cover to the CPU planner.
#include "cuda/cuda_planner.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <sstream>
#include <utility>
#include <vector>

#include <cuda_runtime_api.h>

#include "cuda/cuda_check.h"
#include "cuda/deepseek_kernels.h"
#include "cuda/metrics_kernels.h"
#include "eplb/error.h"
#include "eplb/metrics.h"

namespace eplb {

bool cuda_device_available(std::string* why) {
    int count = 0;
    const cudaError_t err = cudaGetDeviceCount(&count);
    std::ostringstream msg;
    if (err != cudaSuccess) {
        msg << "no usable CUDA driver or device (cudaGetDeviceCount: " << cudaGetErrorString(err) << ")";
    } else if (count == 0) {
        msg << "no CUDA device found";
    } else {
        int device = 0, major = 0, minor = 0;
        if (cudaGetDevice(&device) == cudaSuccess &&
            cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) == cudaSuccess &&
            cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) == cudaSuccess &&
            major >= 9) {
            return true;
        }
        msg << "CUDA device " << device << " has compute capability " << major << "." << minor
            << "; this build carries code for sm_90 (Hopper) and newer";
    }
    if (why) *why = msg.str();
    return false;
}

std::string cuda_build_description() {
    const auto version = [](int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); };
    std::ostringstream out;
    out << "CUDA: built with " << version(CUDART_VERSION);
    int runtime = 0, driver = 0;
    if (cudaRuntimeGetVersion(&runtime) == cudaSuccess) out << ", runtime " << version(runtime);
    if (cudaDriverGetVersion(&driver) == cudaSuccess && driver > 0) {
        out << ", driver " << version(driver);
    } else {
        out << ", no driver";
    }
    std::string why;
    if (cuda_device_available(&why)) {
        int device = 0;
        cudaDeviceProp prop{};
        if (cudaGetDevice(&device) == cudaSuccess && cudaGetDeviceProperties(&prop, device) == cudaSuccess) {
            out << "; device " << device << ": " << prop.name;
        }
    } else {
        out << "; " << why << " (--backend auto plans on the CPU)";
    }
    return out.str();
}

namespace {

// A device allocation that only grows.
class DeviceBuffer {
  public:
    DeviceBuffer() = default;
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
    ~DeviceBuffer() {
        if (ptr_) cudaFree(ptr_);  // no throwing from a destructor
    }
    template <class T>
    T* get(size_t count) {
        const size_t bytes = count * sizeof(T);
        if (bytes > bytes_) {
            if (ptr_) CUDA_CHECK(cudaFree(ptr_));
            ptr_ = nullptr;
            bytes_ = 0;
            CUDA_CHECK(cudaMalloc(&ptr_, bytes));
            bytes_ = bytes;
        }
        return static_cast<T*>(ptr_);
    }

  private:
    void* ptr_ = nullptr;
    size_t bytes_ = 0;
};

cuda::DeepseekShape deepseek_shape(const ParallelConfig& c) {
    const bool hierarchical = c.hierarchical();
    cuda::DeepseekShape s;
    s.num_experts = c.num_logical_experts;
    s.num_slots = c.num_physical_experts;
    s.num_groups = hierarchical ? c.num_groups : 1;
    s.num_nodes = hierarchical ? c.num_nodes : 1;
    s.num_gpus = c.num_gpus;
    return s;
}

// Page-locked host memory that only grows: the device copies into it at full speed.
class PinnedBuffer {
  public:
    PinnedBuffer() = default;
    PinnedBuffer(const PinnedBuffer&) = delete;
    PinnedBuffer& operator=(const PinnedBuffer&) = delete;
    ~PinnedBuffer() {
        if (ptr_) cudaFreeHost(ptr_);
    }
    unsigned char* get(size_t bytes) {
        if (bytes > bytes_) {
            if (ptr_) CUDA_CHECK(cudaFreeHost(ptr_));
            ptr_ = nullptr;
            bytes_ = 0;
            CUDA_CHECK(cudaHostAlloc(&ptr_, bytes, cudaHostAllocDefault));
            bytes_ = bytes;
        }
        return static_cast<unsigned char*>(ptr_);
    }

  private:
    void* ptr_ = nullptr;
    size_t bytes_ = 0;
};

// One row-major device array to bring back into host memory.
struct RowTransfer {
    void* host;
    const void* device;
    size_t row_bytes;
};

class CudaPlanner final : public Planner {
  public:
    CudaPlanner() : cpu_(make_cpu_planner()) {
        CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
        for (cudaEvent_t& e : staged_) CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    }
    ~CudaPlanner() override {
        for (cudaEvent_t e : staged_) {
            if (e) cudaEventDestroy(e);
        }
        if (stream_) cudaStreamDestroy(stream_);
    }

    const char* name() const override { return "cuda"; }

    const char* plan_backend(const ParallelConfig& config, Policy policy) const override {
        return policy == Policy::kDeepseek && cuda::deepseek_shape_supported(deepseek_shape(config), nullptr)
                   ? "cuda"
                   : "cpu";
    }

    Placement plan(const LoadMatrix& load, const ParallelConfig& config, Policy policy) override {
        Placement out;
        plan_into(load, config, policy, out);
        return out;
    }

    void plan_into(const LoadMatrix& load, const ParallelConfig& config, Policy policy,
                   Placement& out) override {
        if (policy != Policy::kDeepseek) {
            out = cpu_->plan(load, config, policy);
            return;
        }
        EPLB_CHECK(load.cols() == config.num_logical_experts,
                   "load has " << load.cols() << " experts but num_logical_experts is "
                               << config.num_logical_experts);
        const cuda::DeepseekShape shape = deepseek_shape(config);
        // Shapes past the kernel's 16-bit indices or shared memory: the CPU gives the same answer.
        if (!cuda::deepseek_shape_supported(shape, nullptr)) {
            out = cpu_->plan(load, config, policy);
            return;
        }
        const int64_t rows = load.rows();
        const size_t e = config.num_logical_experts, r = config.num_physical_experts;
        out.phy2log.resize(rows, r);  // no-ops when the shapes match
        out.phyrank.resize(rows, r);
        out.logcnt.resize(rows, e);
        if (rows == 0) return;
        const DevicePlan d = launch_plan(load, shape);
        download_rows({{out.phy2log.data(), d.phy2log, sizeof(int32_t) * r},
                       {out.phyrank.data(), d.phyrank, sizeof(int32_t) * r},
                       {out.logcnt.data(), d.logcnt, sizeof(int32_t) * e}},
                      rows);
    }

    RowScores score(const IndexMatrix& phy2log, const LoadMatrix& load,
                    const ParallelConfig& config) override {
        check_score_inputs(phy2log, load, config);
        const int e = config.num_logical_experts, r = config.num_physical_experts, p = config.num_gpus;
        if (!cuda::score_shape_supported(e, r, p, nullptr)) return cpu_->score(phy2log, load, config);
        const int rows = static_cast<int>(load.rows());
        RowScores s(rows, p);
        if (rows == 0) return s;
        float* d_load = upload(load);
        int32_t* d_phy2log = phy2log_.get<int32_t>(static_cast<size_t>(rows) * r);
        CUDA_CHECK(cudaMemcpyAsync(d_phy2log, phy2log.data(), sizeof(int32_t) * rows * r,
                                   cudaMemcpyHostToDevice, stream_));
        // One allocation: [rows][P] GPU loads, then 3 double and 4 int columns.
        double* d = scores_.get<double>(static_cast<size_t>(rows) * (p + 3) + static_cast<size_t>(rows) * 2);
        cuda::ScoreBuffers b;
        b.gpu_loads = d;
        b.total_load = d + static_cast<size_t>(rows) * p;
        b.max_gpu_load = b.total_load + rows;
        b.lower_bound = b.max_gpu_load + rows;
        int32_t* ints = reinterpret_cast<int32_t*>(b.lower_bound + rows);
        b.max_gpu = ints;
        b.duplicate_gpus = ints + rows;
        b.bad_slot = ints + 2 * rows;
        b.missing_expert = ints + 3 * rows;
        cuda::launch_score_rows(d_phy2log, d_load, rows, e, r, p, b, stream_);
        std::vector<int32_t> bad_slot(rows), missing(rows);
        download_rows({{s.gpu_loads.data(), b.gpu_loads, sizeof(double) * p},
                       {s.total_load.data(), b.total_load, sizeof(double)},
                       {s.max_gpu_load.data(), b.max_gpu_load, sizeof(double)},
                       {s.lower_bound.data(), b.lower_bound, sizeof(double)},
                       {s.max_gpu.data(), b.max_gpu, sizeof(int32_t)},
                       {s.duplicate_gpus.data(), b.duplicate_gpus, sizeof(int32_t)},
                       {bad_slot.data(), b.bad_slot, sizeof(int32_t)},
                       {missing.data(), b.missing_expert, sizeof(int32_t)}},
                      rows);
        for (int row = 0; row < rows; ++row) {
            if (bad_slot[row] >= 0) {
                const int slot = bad_slot[row];
                EPLB_FAIL("phy2log[" << row << "][" << slot << "] is " << phy2log(row, slot)
                                     << ", outside [-1, " << e << ")");
            }
            if (missing[row] >= 0) throw missing_replica_error(row, missing[row], load(row, missing[row]));
        }
        return s;
    }

    // time_on_device() for this planner.
    std::optional<DevicePlanTiming> time_stages(const LoadMatrix& load, const ParallelConfig& config,
                                                Policy policy, int repeats) {
        EPLB_CHECK(repeats >= 1, "repeats (" << repeats << ") must be at least 1");
        const cuda::DeepseekShape shape = deepseek_shape(config);
        // Policies and shapes that run on the CPU planner have no device breakdown.
        if (policy != Policy::kDeepseek || !cuda::deepseek_shape_supported(shape, nullptr))
            return std::nullopt;
        const int64_t rows = load.rows();
        const size_t e = config.num_logical_experts, r = config.num_physical_experts;
        cudaEvent_t ev[3] = {};
        for (cudaEvent_t& x : ev) CUDA_CHECK(cudaEventCreate(&x));
        DevicePlan d = launch_plan(load, shape);  // warm-up: allocations, first launch, staging
        IndexMatrix first_row(1, r);
        download_rows({{first_row.data(), d.phy2log, sizeof(int32_t) * r}}, 1);
        CUDA_CHECK(cudaEventRecord(ev[0], stream_));
        upload(load);
        CUDA_CHECK(cudaEventRecord(ev[1], stream_));
        for (int i = 0; i < repeats; ++i) {
            cuda::launch_plan_deepseek(d.load, rows, shape, d.phy2log, d.phyrank, d.logcnt, stream_);
        }
        CUDA_CHECK(cudaEventRecord(ev[2], stream_));
        CUDA_CHECK(cudaEventSynchronize(ev[2]));
        float upload_ms = 0, kernel_ms = 0;
        CUDA_CHECK(cudaEventElapsedTime(&upload_ms, ev[0], ev[1]));
        CUDA_CHECK(cudaEventElapsedTime(&kernel_ms, ev[1], ev[2]));
        for (cudaEvent_t& x : ev) cudaEventDestroy(x);
        const auto start = std::chrono::steady_clock::now();
        Placement out{IndexMatrix(rows, r), IndexMatrix(rows, r), IndexMatrix(rows, e)};
        download_rows({{out.phy2log.data(), d.phy2log, sizeof(int32_t) * r},
                       {out.phyrank.data(), d.phyrank, sizeof(int32_t) * r},
                       {out.logcnt.data(), d.logcnt, sizeof(int32_t) * e}},
                      rows);
        DevicePlanTiming t;
        t.h2d_ms = upload_ms;
        t.kernel_ms = kernel_ms / repeats;
        t.d2h_ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
        return t;
    }

  private:
    struct DevicePlan {
        float* load;
        int32_t* phy2log;
        int32_t* phyrank;
        int32_t* logcnt;
    };

    // Uploads the loads and launches the kernel on stream_ (nothing waits).
    DevicePlan launch_plan(const LoadMatrix& load, const cuda::DeepseekShape& shape) {
        const int64_t rows = load.rows();
        const size_t e = shape.num_experts, r = shape.num_slots;
        DevicePlan d{upload(load), phy2log_.get<int32_t>(rows * r), phyrank_.get<int32_t>(rows * r),
                     logcnt_.get<int32_t>(rows * e)};
        cuda::launch_plan_deepseek(d.load, rows, shape, d.phy2log, d.phyrank, d.logcnt, stream_);
        return d;
    }

    float* upload(const LoadMatrix& load) {
        const size_t count = static_cast<size_t>(load.rows()) * load.cols();
        float* d = load_.get<float>(count);
        CUDA_CHECK(cudaMemcpyAsync(d, load.data(), sizeof(float) * count, cudaMemcpyHostToDevice, stream_));
        return d;
    }

    // Brings rows [0, rows) of device arrays back (after the work queued on stream_), through two
    // pinned staging halves of about kChunkBytes: the device copies chunk c into one half while
    // the host copies chunk c - 1 out of the other. On the H100 machine, copying 198 MB of maps
    // straight into pageable memory ran at 1.4 GB/s; staged, a 1024 x 58 batch into an output
    // that is reused takes 34 ms end to end (into a new one, the host's first touch adds ~80 ms).
    void download_rows(std::initializer_list<RowTransfer> arrays, int64_t rows) {
        constexpr size_t kChunkBytes = size_t{4} << 20;
        size_t row_bytes = 0;
        for (const RowTransfer& a : arrays) row_bytes += a.row_bytes;
        const int64_t chunk_rows = std::max<int64_t>(1, static_cast<int64_t>(kChunkBytes / row_bytes));
        const size_t half = chunk_rows * row_bytes;
        unsigned char* stage = staging_.get(2 * half);
        const int64_t chunks = (rows + chunk_rows - 1) / chunk_rows;
        auto extent = [&](int64_t c) {
            const int64_t first = c * chunk_rows;
            return std::pair<int64_t, int64_t>(first, std::min(chunk_rows, rows - first));
        };
        auto enqueue = [&](int64_t c) {
            const auto [first, n] = extent(c);
            unsigned char* dst = stage + (c % 2) * half;
            for (const RowTransfer& a : arrays) {
                CUDA_CHECK(cudaMemcpyAsync(dst,
                                           static_cast<const unsigned char*>(a.device) + first * a.row_bytes,
                                           n * a.row_bytes, cudaMemcpyDeviceToHost, stream_));
                dst += n * a.row_bytes;
            }
            CUDA_CHECK(cudaEventRecord(staged_[c % 2], stream_));
        };
        auto drain = [&](int64_t c) {
            const auto [first, n] = extent(c);
            CUDA_CHECK(cudaEventSynchronize(staged_[c % 2]));
            const unsigned char* src = stage + (c % 2) * half;
            for (const RowTransfer& a : arrays) {
                std::memcpy(static_cast<unsigned char*>(a.host) + first * a.row_bytes, src, n * a.row_bytes);
                src += n * a.row_bytes;
            }
        };
        enqueue(0);
        for (int64_t c = 1; c < chunks; ++c) {
            enqueue(c);  // its half was drained in the previous iteration
            drain(c - 1);
        }
        drain(chunks - 1);
    }

    std::unique_ptr<Planner> cpu_;
    cudaStream_t stream_ = nullptr;
    cudaEvent_t staged_[2] = {};
    DeviceBuffer load_, phy2log_, phyrank_, logcnt_, scores_;
    PinnedBuffer staging_;
};

}  // namespace

std::unique_ptr<Planner> make_cuda_planner() { return std::make_unique<CudaPlanner>(); }

std::optional<DevicePlanTiming> time_on_device(Planner& planner, const LoadMatrix& load,
                                               const ParallelConfig& config, Policy policy, int repeats) {
    auto* cuda = dynamic_cast<CudaPlanner*>(&planner);
    if (!cuda) return std::nullopt;
    return cuda->time_stages(load, config, policy, repeats);
}

}  // namespace eplb
