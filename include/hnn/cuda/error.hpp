// HNN_CUDA_CHECK: every CUDA runtime call goes through it, so a failure throws std::runtime_error naming
// the call, CUDA's description of the error and the place ("cudaMemcpy(...) failed: invalid argument at
// file:line"). Depends on the CUDA runtime API header (CUDA builds only).
#pragma once

#ifndef HNN_WITH_CUDA
#error \
    "hnn/cuda/error.hpp is part of the CUDA backend: build with HNN_WITH_CUDA (CMake option HNN_WITH_CUDA=ON)"
#endif

#include <cuda_runtime_api.h>

#include <stdexcept>
#include <string>

namespace hnn::cuda::detail {

[[noreturn]] inline void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line) {
  // Clear the sticky "last error" of a non-fatal failure so the next call does not report it again.
  (void)cudaGetLastError();
  throw std::runtime_error(std::string(call) + " failed: " + cudaGetErrorString(status) + " (" +
                           cudaGetErrorName(status) + ") at " + file + ":" + std::to_string(line));
}

}  // namespace hnn::cuda::detail

/// Evaluates a CUDA runtime call and throws std::runtime_error naming it when it does not return cudaSuccess.
#define HNN_CUDA_CHECK(call)                                                              \
  do {                                                                                    \
    const cudaError_t hnn_cuda_status_ = (call);                                          \
    if (hnn_cuda_status_ != cudaSuccess)                                                  \
      ::hnn::cuda::detail::throw_cuda_error(hnn_cuda_status_, #call, __FILE__, __LINE__); \
  } while (0)
