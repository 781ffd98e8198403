// CUDA batch-norm benchmark: hnn's kernels (hnn/cuda/launch.hpp) against cuDNN's batch norm
// (cudnnBatchNormalizationForwardTraining / ForwardInference / BackwardEx) and a device-to-device copy
// of the same bytes, float32, on the CPU benchmark's shapes plus (256,256,56,56). CUDA events, median of
// many launches; inputs rotate over >= 256 MiB so no shape is L2-resident (H100 L2: 50 MB).
// Traffic model (x of B bytes): forward-train 3B, eval 2B, backward 5B, copy 2B.
// Usage: cuda_batch_norm_bench [--reps N] [--markdown]. Built by cmake/HnnCuda.cmake with cuDNN.
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "hnn/cuda/error.hpp"
#include "hnn/cuda/launch.hpp"

#define BENCH_CUDNN_CHECK(call)                                                                        \
  do {                                                                                                 \
    const cudnnStatus_t bench_status_ = (call);                                                        \
    if (bench_status_ != CUDNN_STATUS_SUCCESS)                                                         \
      throw std::runtime_error(std::string(#call) + " failed: " + cudnnGetErrorString(bench_status_) + \
                               " at " + __FILE__ + ":" + std::to_string(__LINE__));                    \
  } while (0)

namespace {

struct BenchShape {
  std::vector<int64_t> dims;  // (N, C) or (N, C, H, W)
  int64_t N() const { return dims[0]; }
  int64_t C() const { return dims[1]; }
  int64_t S() const {
    int64_t s = 1;
    for (size_t i = 2; i < dims.size(); ++i) s *= dims[i];
    return s;
  }
  int64_t numel() const { return N() * C() * S(); }
  std::string str() const {
    std::string out = "(";
    for (size_t i = 0; i < dims.size(); ++i) out += (i ? "," : "") + std::to_string(dims[i]);
    return out + ")";
  }
};

/// Deterministic pseudo-random values in [-2, 2) + offset (a hash of the index, no curand dependency).
__global__ void fill_random(float* p, int64_t n, uint32_t seed, float offset) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    uint32_t h = static_cast<uint32_t>(i) * 2654435761u ^ seed;
    h ^= h >> 15, h *= 2246822519u, h ^= h >> 13, h *= 3266489917u, h ^= h >> 16;
    p[i] = offset + 4.0f * (static_cast<float>(h >> 8) * (1.0f / 16777216.0f)) - 2.0f;
  }
}

float* device_floats(int64_t n, uint32_t seed, float offset) {
  float* p = nullptr;
  HNN_CUDA_CHECK(cudaMalloc(&p, static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(float)));
  fill_random<<<1024, 256>>>(p, n, seed, offset);
  HNN_CUDA_CHECK(cudaGetLastError());
  return p;
}

/// Median milliseconds of `reps` timed calls of f(rep) (after 3 untimed warm-up calls).
double median_ms(int reps, const std::function<void(int)>& f) {
  cudaEvent_t start, stop;
  HNN_CUDA_CHECK(cudaEventCreate(&start));
  HNN_CUDA_CHECK(cudaEventCreate(&stop));
  for (int i = 0; i < 3; ++i) f(i);
  std::vector<float> times;
  for (int r = 0; r < reps; ++r) {
    HNN_CUDA_CHECK(cudaEventRecord(start, 0));
    f(r);
    HNN_CUDA_CHECK(cudaEventRecord(stop, 0));
    HNN_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    HNN_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    times.push_back(ms);
  }
  HNN_CUDA_CHECK(cudaEventDestroy(start));
  HNN_CUDA_CHECK(cudaEventDestroy(stop));
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

struct Row {
  std::string shape, op;
  double hnn_ms, cudnn_ms, copy_ms, traffic_factor, bytes;
};

}  // namespace

int main(int argc, char** argv) {
  int reps = 50;
  bool markdown = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
      reps = std::atoi(argv[++i]);
    else if (std::strcmp(argv[i], "--markdown") == 0)
      markdown = true;
  }
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("no CUDA device: nothing to measure\n");
    return 0;
  }
  try {
    cudaDeviceProp prop{};
    HNN_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    std::printf("device: %s, %d SMs, L2 %d MiB; float32, median of %d, inputs rotated over >= 256 MiB\n",
                prop.name, prop.multiProcessorCount, prop.l2CacheSize >> 20, reps);
    cudnnHandle_t handle;
    BENCH_CUDNN_CHECK(cudnnCreate(&handle));
    std::printf("cuDNN %zu\n", cudnnGetVersion());

    const std::vector<BenchShape> shapes = {{{256, 1024}},      {{4096, 1024}},       {{64, 256}},
                                            {{64, 64, 56, 56}}, {{128, 256, 14, 14}}, {{256, 6, 24, 24}},
                                            {{256, 16, 8, 8}},  {{256, 256, 56, 56}}};
    std::vector<Row> rows;
    for (const auto& shape : shapes) {
      const int64_t N = shape.N(), C = shape.C(), S = shape.S(), n = shape.numel();
      const double bytes = static_cast<double>(n) * sizeof(float);
      // Rotation: enough copies that consecutive calls never find their inputs in L2.
      const int copies = static_cast<int>(std::clamp<double>(std::ceil(256.0 * (1 << 20) / bytes), 1, 16));
      std::vector<float*> x(copies), y(copies), dy(copies), dx(copies);
      for (int k = 0; k < copies; ++k) {
        x[k] = device_floats(n, 11u + k, 0.5f);
        y[k] = device_floats(n, 101u + k, 0.0f);
        dy[k] = device_floats(n, 1001u + k, 0.0f);
        dx[k] = device_floats(n, 10001u + k, 0.0f);
      }
      float* weight = device_floats(C, 7u, 1.0f);
      float* bias = device_floats(C, 8u, 0.0f);
      float* rmean = device_floats(C, 9u, 0.0f);
      float* rvar = device_floats(C, 10u, 2.5f);  // in [0.5, 4.5)
      float *gw = device_floats(C, 12u, 0.0f), *gb = device_floats(C, 13u, 0.0f);
      double *save_mean = nullptr, *save_invstd = nullptr;
      HNN_CUDA_CHECK(cudaMalloc(&save_mean, C * sizeof(double)));
      HNN_CUDA_CHECK(cudaMalloc(&save_invstd, C * sizeof(double)));
      float *cmean = device_floats(C, 14u, 0.0f), *cinvvar = device_floats(C, 15u, 1.0f);

      cudnnTensorDescriptor_t xdesc, bndesc;
      BENCH_CUDNN_CHECK(cudnnCreateTensorDescriptor(&xdesc));
      BENCH_CUDNN_CHECK(cudnnCreateTensorDescriptor(&bndesc));
      const int H = shape.dims.size() > 2 ? static_cast<int>(shape.dims[2]) : 1;
      const int W = shape.dims.size() > 3 ? static_cast<int>(shape.dims[3]) : 1;
      BENCH_CUDNN_CHECK(cudnnSetTensor4dDescriptor(xdesc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT,
                                                   static_cast<int>(N), static_cast<int>(C), H, W));
      const cudnnBatchNormMode_t mode = CUDNN_BATCHNORM_SPATIAL;  // PyTorch's mode for NCHW
      BENCH_CUDNN_CHECK(cudnnDeriveBNTensorDescriptor(bndesc, xdesc, mode));
      size_t ws_bytes = 0, reserve_bytes = 0;
      BENCH_CUDNN_CHECK(cudnnGetBatchNormalizationBackwardExWorkspaceSize(
          handle, mode, CUDNN_BATCHNORM_OPS_BN, xdesc, nullptr, xdesc, nullptr, xdesc, bndesc, nullptr,
          &ws_bytes));
      BENCH_CUDNN_CHECK(cudnnGetBatchNormalizationTrainingExReserveSpaceSize(
          handle, mode, CUDNN_BATCHNORM_OPS_BN, nullptr, xdesc, &reserve_bytes));
      void *ws = nullptr, *reserve = nullptr;
      if (ws_bytes) HNN_CUDA_CHECK(cudaMalloc(&ws, ws_bytes));
      if (reserve_bytes) HNN_CUDA_CHECK(cudaMalloc(&reserve, reserve_bytes));
      const float one = 1.0f, zero = 0.0f;
      const double eps = 1e-5, momentum = 0.1;

      const double copy_ms = median_ms(reps, [&](int r) {
        HNN_CUDA_CHECK(cudaMemcpyAsync(y[r % copies], x[r % copies], static_cast<size_t>(bytes),
                                       cudaMemcpyDeviceToDevice, 0));
      });
      const double hnn_train = median_ms(reps, [&](int r) {
        hnn::cuda::launch::batch_norm_forward_train(x[r % copies], y[r % copies], N, C, S, weight, bias, eps,
                                                    momentum, rmean, rvar, save_mean, save_invstd);
      });
      const double cudnn_train = median_ms(reps, [&](int r) {
        BENCH_CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(
            handle, mode, &one, &zero, xdesc, x[r % copies], xdesc, y[r % copies], bndesc, weight, bias,
            momentum, rmean, rvar, eps, cmean, cinvvar));
      });
      const double hnn_eval = median_ms(reps, [&](int r) {
        hnn::cuda::launch::batch_norm_forward_eval(x[r % copies], y[r % copies], N, C, S, rmean, rvar, weight,
                                                   bias, eps);
      });
      const double cudnn_eval = median_ms(reps, [&](int r) {
        BENCH_CUDNN_CHECK(cudnnBatchNormalizationForwardInference(handle, mode, &one, &zero, xdesc,
                                                                  x[r % copies], xdesc, y[r % copies], bndesc,
                                                                  weight, bias, rmean, rvar, eps));
      });
      const double hnn_back = median_ms(reps, [&](int r) {
        hnn::cuda::launch::batch_norm_backward(dy[r % copies], x[r % copies], N, C, S, weight, save_mean,
                                               save_invstd, true, dx[r % copies], gw, gb);
      });
      const double cudnn_back = median_ms(reps, [&](int r) {
        BENCH_CUDNN_CHECK(cudnnBatchNormalizationBackwardEx(
            handle, mode, CUDNN_BATCHNORM_OPS_BN, &one, &zero, &one, &zero, xdesc, x[r % copies], nullptr,
            nullptr, xdesc, dy[r % copies], nullptr, nullptr, xdesc, dx[r % copies], bndesc, weight, nullptr,
            gw, gb, eps, cmean, cinvvar, nullptr, ws, ws_bytes, reserve, reserve_bytes));
      });
      rows.push_back({shape.str(), "forward-train", hnn_train, cudnn_train, copy_ms, 3, bytes});
      rows.push_back({shape.str(), "forward-eval", hnn_eval, cudnn_eval, copy_ms, 2, bytes});
      rows.push_back({shape.str(), "backward", hnn_back, cudnn_back, copy_ms, 5, bytes});

      for (int k = 0; k < copies; ++k) {
        HNN_CUDA_CHECK(cudaFree(x[k]));
        HNN_CUDA_CHECK(cudaFree(y[k]));
        HNN_CUDA_CHECK(cudaFree(dy[k]));
        HNN_CUDA_CHECK(cudaFree(dx[k]));
      }
      for (void* p : {static_cast<void*>(weight), static_cast<void*>(bias), static_cast<void*>(rmean),
                      static_cast<void*>(rvar), static_cast<void*>(gw), static_cast<void*>(gb),
                      static_cast<void*>(save_mean), static_cast<void*>(save_invstd),
                      static_cast<void*>(cmean), static_cast<void*>(cinvvar), ws, reserve})
        if (p) HNN_CUDA_CHECK(cudaFree(p));
      BENCH_CUDNN_CHECK(cudnnDestroyTensorDescriptor(xdesc));
      BENCH_CUDNN_CHECK(cudnnDestroyTensorDescriptor(bndesc));
    }
    BENCH_CUDNN_CHECK(cudnnDestroy(handle));

    // % copy: achieved GB/s under the traffic model over the copy's GB/s (2B moved) in the same run.
    const char* header =
        markdown ? "| shape | op | hnn ms | hnn GB/s | %% copy BW | cuDNN ms | hnn speedup vs cuDNN |\n"
                   "| --- | --- | ---: | ---: | ---: | ---: | ---: |\n"
                 : "%-20s %-14s %10s %10s %10s %10s %10s\n";
    if (markdown)
      std::printf(header);
    else
      std::printf(header, "shape", "op", "hnn ms", "hnn GB/s", "% copy", "cuDNN ms", "vs cuDNN");
    for (const auto& r : rows) {
      const double gbs = r.traffic_factor * r.bytes / (r.hnn_ms * 1e6);
      const double copy_gbs = 2.0 * r.bytes / (r.copy_ms * 1e6);
      if (markdown)
        std::printf("| %s | %s | %.4f | %.0f | %.0f %% | %.4f | %.2fx |\n", r.shape.c_str(), r.op.c_str(),
                    r.hnn_ms, gbs, 100.0 * gbs / copy_gbs, r.cudnn_ms, r.cudnn_ms / r.hnn_ms);
      else
        std::printf("%-20s %-14s %10.4f %10.0f %9.0f%% %10.4f %9.2fx\n", r.shape.c_str(), r.op.c_str(),
                    r.hnn_ms, gbs, 100.0 * gbs / copy_gbs, r.cudnn_ms, r.cudnn_ms / r.hnn_ms);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cuda_batch_norm_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
