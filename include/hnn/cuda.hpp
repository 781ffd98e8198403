// The CUDA backend in one include: Tensor<T, hnn::CUDA> storage and caching allocator, to<CUDA>() /
// to<CPU>(), device arithmetic, reductions and batch norm (kernels in include/hnn/kernels/cuda/*.cuh,
// compiled into the hnn_cuda library). Only for builds with HNN_WITH_CUDA; depends on cuda/*.hpp.
#pragma once

#ifndef HNN_WITH_CUDA
#error "hnn/cuda.hpp needs a CUDA build: configure with -DHNN_WITH_CUDA=ON (defines HNN_WITH_CUDA)"
#endif

#include <cuda_runtime_api.h>

#include "hnn/cuda/batch_norm.hpp"
#include "hnn/cuda/error.hpp"
#include "hnn/cuda/launch.hpp"
#include "hnn/cuda/storage.hpp"
#include "hnn/cuda/tensor_ops.hpp"

namespace hnn::cuda {

/// The number of CUDA devices; 0 when there is none or no driver (cudaGetDeviceCount then fails with
/// cudaErrorNoDevice or cudaErrorInsufficientDriver and leaves the count untouched).
inline int device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return count;
}

/// True when a CUDA device can run hnn's kernels.
inline bool is_available() { return device_count() > 0; }

/// Waits for every queued kernel and copy (torch.cuda.synchronize()).
inline void synchronize() { HNN_CUDA_CHECK(cudaDeviceSynchronize()); }

}  // namespace hnn::cuda
