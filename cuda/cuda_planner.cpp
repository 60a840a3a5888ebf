// The CUDA planner backend: moves Eigen matrices to and from the device and runs the kernels of
// deepseek_kernels.h and metrics_kernels.h; delegates what they do not cover to the CPU planner.
#include "cuda/cuda_planner.h"

#include <chrono>
#include <sstream>

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

class CudaPlanner final : public Planner {
  public:
    CudaPlanner() : cpu_(make_cpu_planner()) {
        CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    }
    ~CudaPlanner() override {
        if (stream_) cudaStreamDestroy(stream_);
    }

    const char* name() const override { return "cuda"; }

    Placement plan(const LoadMatrix& load, const ParallelConfig& config, Policy policy) override {
        if (policy != Policy::kDeepseek) return cpu_->plan(load, config, policy);
        EPLB_CHECK(load.cols() == config.num_logical_experts,
                   "load has " << load.cols() << " experts but num_logical_experts is "
                               << config.num_logical_experts);
        const cuda::DeepseekShape shape = deepseek_shape(config);
        // Shapes past the kernel's 16-bit indices or shared memory: the CPU gives the same answer.
        if (!cuda::deepseek_shape_supported(shape, nullptr)) return cpu_->plan(load, config, policy);
        const int64_t rows = load.rows();
        Placement out{IndexMatrix(rows, config.num_physical_experts),
                      IndexMatrix(rows, config.num_physical_experts),
                      IndexMatrix(rows, config.num_logical_experts)};
        if (rows == 0) return out;
        const size_t e = config.num_logical_experts, r = config.num_physical_experts;
        float* d_load = upload(load);
        int32_t* d_phy2log = phy2log_.get<int32_t>(rows * r);
        int32_t* d_phyrank = phyrank_.get<int32_t>(rows * r);
        int32_t* d_logcnt = logcnt_.get<int32_t>(rows * e);
        cuda::launch_plan_deepseek(d_load, rows, shape, d_phy2log, d_phyrank, d_logcnt, stream_);
        download(out.phy2log.data(), d_phy2log, rows * r);
        download(out.phyrank.data(), d_phyrank, rows * r);
        download(out.logcnt.data(), d_logcnt, rows * e);
        CUDA_CHECK(cudaStreamSynchronize(stream_));
        return out;
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
        download(s.gpu_loads.data(), b.gpu_loads, static_cast<size_t>(rows) * p);
        download(s.total_load.data(), b.total_load, rows);
        download(s.max_gpu_load.data(), b.max_gpu_load, rows);
        download(s.lower_bound.data(), b.lower_bound, rows);
        download(s.max_gpu.data(), b.max_gpu, rows);
        download(s.duplicate_gpus.data(), b.duplicate_gpus, rows);
        download(bad_slot.data(), b.bad_slot, rows);
        download(missing.data(), b.missing_expert, rows);
        CUDA_CHECK(cudaStreamSynchronize(stream_));
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

    // Times of the copies (once) and of the kernel (mean over repeats) of one plan, CUDA events.
    CudaPlanTiming profile_plan(const LoadMatrix& load, const ParallelConfig& config, int repeats) {
        const cuda::DeepseekShape shape = deepseek_shape(config);
        std::string why;
        if (!cuda::deepseek_shape_supported(shape, &why)) EPLB_FAIL_KIND(ErrorKind::kDevice, why);
        const int64_t rows = load.rows();
        const size_t e = config.num_logical_experts, r = config.num_physical_experts;
        Placement out{IndexMatrix(rows, r), IndexMatrix(rows, r), IndexMatrix(rows, e)};
        int32_t* d_phy2log = phy2log_.get<int32_t>(rows * r);
        int32_t* d_phyrank = phyrank_.get<int32_t>(rows * r);
        int32_t* d_logcnt = logcnt_.get<int32_t>(rows * e);
        cudaEvent_t ev[4] = {};
        for (cudaEvent_t& x : ev) CUDA_CHECK(cudaEventCreate(&x));
        float* d_load = upload(load);  // warm-up: allocations, first launch
        cuda::launch_plan_deepseek(d_load, rows, shape, d_phy2log, d_phyrank, d_logcnt, stream_);
        CUDA_CHECK(cudaEventRecord(ev[0], stream_));
        d_load = upload(load);
        CUDA_CHECK(cudaEventRecord(ev[1], stream_));
        for (int i = 0; i < repeats; ++i) {
            cuda::launch_plan_deepseek(d_load, rows, shape, d_phy2log, d_phyrank, d_logcnt, stream_);
        }
        CUDA_CHECK(cudaEventRecord(ev[2], stream_));
        download(out.phy2log.data(), d_phy2log, rows * r);
        download(out.phyrank.data(), d_phyrank, rows * r);
        download(out.logcnt.data(), d_logcnt, rows * e);
        CUDA_CHECK(cudaEventRecord(ev[3], stream_));
        CUDA_CHECK(cudaEventSynchronize(ev[3]));
        float ms[3] = {};
        for (int i = 0; i < 3; ++i) CUDA_CHECK(cudaEventElapsedTime(&ms[i], ev[i], ev[i + 1]));
        for (cudaEvent_t& x : ev) cudaEventDestroy(x);
        CudaPlanTiming t;
        t.h2d_ms = ms[0];
        t.device_ms = ms[1] / repeats;
        t.d2h_ms = ms[2];
        t.repeats = repeats;
        return t;
    }

  private:
    float* upload(const LoadMatrix& load) {
        const size_t count = static_cast<size_t>(load.rows()) * load.cols();
        float* d = load_.get<float>(count);
        CUDA_CHECK(cudaMemcpyAsync(d, load.data(), sizeof(float) * count, cudaMemcpyHostToDevice, stream_));
        return d;
    }
    template <class T>
    void download(T* host, const T* device, size_t count) {
        CUDA_CHECK(cudaMemcpyAsync(host, device, sizeof(T) * count, cudaMemcpyDeviceToHost, stream_));
    }

    std::unique_ptr<Planner> cpu_;
    cudaStream_t stream_ = nullptr;
    DeviceBuffer load_, phy2log_, phyrank_, logcnt_, scores_;
};

}  // namespace

std::unique_ptr<Planner> make_cuda_planner() { return std::make_unique<CudaPlanner>(); }

CudaPlanTiming time_cuda_plan(const LoadMatrix& load, const ParallelConfig& config, int repeats) {
    EPLB_CHECK(repeats >= 1, "repeats (" << repeats << ") must be at least 1");
    CudaPlanner planner;
    CudaPlanTiming t = planner.profile_plan(load, config, repeats);
    planner.plan(load, config, Policy::kDeepseek);  // warm-up
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < repeats; ++i) planner.plan(load, config, Policy::kDeepseek);
    t.end_to_end_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / repeats;
    return t;
}

}  // namespace eplb
