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
  template <class T>
  static void eval_statistics(const T* running_mean, const T* running_var, int64_t C, double eps,
                              double* mean, double* invstd) {
    cuda::launch::batch_norm_eval_statistics(running_mean, running_var, C, eps, mean, invstd);
  }
  template <class T>
  static void stats(const T* x, int64_t N, int64_t C, int64_t S, double* mean, double* m2) {
    cuda::launch::batch_norm_stats(x, N, C, S, mean, m2);
  }
  template <class T>
  static void elemt(const T* x, T* y, int64_t N, int64_t C, int64_t S, const double* mean,
                    const double* invstd, const T* weight, const T* bias) {
    cuda::launch::batch_norm_elemt(x, y, N, C, S, mean, invstd, weight, bias);
  }
  template <class T>
  static void update_running(T* running_mean, T* running_var, const double* mean, const double* m2, int64_t C,
                             int64_t count, double momentum) {
    cuda::launch::batch_norm_update_running(running_mean, running_var, mean, m2, C, count, momentum);
  }
  template <class T>
  static void backward_reduce(const T* dy, const T* x, int64_t N, int64_t C, int64_t S, const double* mean,
                              double* sum_dy, double* sum_dy_xmu) {
    cuda::launch::batch_norm_backward_reduce(dy, x, N, C, S, mean, sum_dy, sum_dy_xmu);
  }
  template <class T>
  static void backward_elemt(const T* dy, const T* x, T* dx, int64_t N, int64_t C, int64_t S,
                             const double* mean, const double* invstd, const T* weight, const double* sum_dy,
                             const double* sum_dy_xmu, int64_t count) {
    cuda::launch::batch_norm_backward_elemt(dy, x, dx, N, C, S, mean, invstd, weight, sum_dy, sum_dy_xmu,
                                            count);
  }
};

}  // namespace hnn
