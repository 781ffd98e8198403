// BatchNormKernels<CUDA>: the batch-norm kernels of include/hnn/kernels/cuda/batch_norm.cuh (through the host
// entry points of cuda/launch.hpp) behind the trait ops/batch_norm.hpp calls, with BatchNormKernels<CPU>'s
// signatures. Depends on ops/batch_norm.hpp, cuda/launch.hpp (CUDA builds only).
#pragma once

#ifndef HNN_WITH_CUDA
#error "hnn/cuda/batch_norm.hpp is part of the CUDA backend: build with HNN_WITH_CUDA"
#endif

#include <cstdint>

#include "hnn/cuda/launch.hpp"
#include "hnn/ops/batch_norm.hpp"

namespace hnn {

/// The CUDA batch-norm kernels (include/hnn/kernels/cuda/batch_norm.cuh through hnn/cuda/launch.hpp), with
/// the signatures of BatchNormKernels<CPU>. All pointers are device pointers.
template <>
struct BatchNormKernels<CUDA> {
  template <class T>
  static void forward_train(const T* x, T* y, int64_t N, int64_t C, int64_t S, const T* weight, const T* bias,
                            double eps, double momentum, T* running_mean, T* running_var, double* save_mean,
                            double* save_invstd) {
    cuda::launch::batch_norm_forward_train(x, y, N, C, S, weight, bias, eps, momentum, running_mean,
                                           running_var, save_mean, save_invstd);
  }
  template <class T>
  static void forward_eval(const T* x, T* y, int64_t N, int64_t C, int64_t S, const T* running_mean,
                           const T* running_var, const T* weight, const T* bias, double eps) {
    cuda::launch::batch_norm_forward_eval(x, y, N, C, S, running_mean, running_var, weight, bias, eps);
  }
  template <class T>
  static void backward(const T* dy, const T* x, int64_t N, int64_t C, int64_t S, const T* weight,
                       const double* save_mean, const double* save_invstd, bool training, T* dx,
                       T* grad_weight, T* grad_bias) {
    cuda::launch::batch_norm_backward(dy, x, N, C, S, weight, save_mean, save_invstd, training, dx,
                                      grad_weight, grad_bias);
  }
};

}  // namespace hnn
