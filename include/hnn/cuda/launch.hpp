// Host entry points of the CUDA kernels: plain C++ declarations over raw device pointers, defined in
// include/hnn/cuda/kernels.cu (compiled once into the hnn_cuda library). No CUDA header is needed to
// include this file, and no Eigen type crosses it. Depends on kernels/elementwise_types.hpp.
#pragma once

#include <cstdint>

#include "hnn/kernels/elementwise_types.hpp"

namespace hnn::cuda::launch {

using kernels::BinaryOp;
using kernels::max_dims;
using kernels::ScalarOp;
using kernels::StridedGeometry;

/// dst[i] = value for i < n (dst contiguous).
template <class T>
void fill(T* dst, int64_t n, T value);

/// dst = TOut(src) over n elements. geometry == nullptr: both contiguous; otherwise dst and src are
/// addressed with out_strides and a_strides (src may broadcast).
template <class TOut, class TIn>
void copy(TOut* dst, const TIn* src, int64_t n, const StridedGeometry* geometry);

/// out = a op b, out contiguous. geometry == nullptr: a and b contiguous of n elements each; otherwise
/// a and b are read through a_strides / b_strides over geometry->sizes (broadcasting).
template <class T>
void binary(BinaryOp op, T* out, const T* a, const T* b, int64_t n, const StridedGeometry* geometry);

/// out = op(a, s) over n contiguous elements.
template <class T>
void scalar(ScalarOp op, T* out, const T* a, int64_t n, T s);

/// out[o] = sum_j in[o * inner + j] for a contiguous (outer, inner) matrix, accumulated in double
/// (int64 for int64 tensors).
template <class T>
void sum_rows(T* out, const T* in, int64_t outer, int64_t inner);

// ---- batch norm (include/hnn/kernels/cuda/batch_norm.cuh) ---------------------------------------------
// x, y, dy, dx: contiguous (N, C, S); per-channel arrays have C elements; everything lives on the device.
// The signatures match hnn::kernels::cpu so BatchNormKernels<CUDA> forwards like BatchNormKernels<CPU>.

/// Batch statistics (Welford per thread, Chan merges across threads and blocks), y, save_mean,
/// save_invstd = 1/sqrt(var + eps), and when running_mean/var are non-null the running update
/// running = (1 - momentum) * running + momentum * batch with the unbiased variance.
template <class T>
void batch_norm_forward_train(const T* x, T* y, int64_t N, int64_t C, int64_t S, const T* weight,
                              const T* bias, double eps, double momentum, T* running_mean, T* running_var,
                              double* save_mean, double* save_invstd);

/// y = (x - running_mean) / sqrt(running_var + eps) * weight + bias.
template <class T>
void batch_norm_forward_eval(const T* x, T* y, int64_t N, int64_t C, int64_t S, const T* running_mean,
                             const T* running_var, const T* weight, const T* bias, double eps);

/// dx, grad_weight = sum dy * xhat, grad_bias = sum dy (each may be null). training: full gradient
/// through the batch statistics; otherwise dx = dy * weight * invstd.
template <class T>
void batch_norm_backward(const T* dy, const T* x, int64_t N, int64_t C, int64_t S, const T* weight,
                         const double* save_mean, const double* save_invstd, bool training, T* dx,
                         T* grad_weight, T* grad_bias);

// The passes SyncBatchNorm composes (and the eval statistics the op saves for backward), with the
// signatures of their namesakes in hnn::kernels::cpu.

/// Per channel mean and M2 = sum (x - mean)^2 over the N*S values (0 and 0 when N*S == 0).
template <class T>
void batch_norm_stats(const T* x, int64_t N, int64_t C, int64_t S, double* mean, double* m2);

/// y = (x - mean) * invstd * weight + bias with given per-channel mean and invstd (weight/bias may be null).
template <class T>
void batch_norm_elemt(const T* x, T* y, int64_t N, int64_t C, int64_t S, const double* mean,
                      const double* invstd, const T* weight, const T* bias);

/// running = (1 - momentum) * running + momentum * batch, running_var with m2 / (count - 1); either may
/// be null.
template <class T>
void batch_norm_update_running(T* running_mean, T* running_var, const double* mean, const double* m2,
                               int64_t C, int64_t count, double momentum);

/// mean = running_mean, invstd = 1/sqrt(running_var + eps), in double: what an eval backward uses.
template <class T>
void batch_norm_eval_statistics(const T* running_mean, const T* running_var, int64_t C, double eps,
                                double* mean, double* invstd);

/// sum_dy[c] = sum dy, sum_dy_xmu[c] = sum dy * (x - mean[c]).
template <class T>
void batch_norm_backward_reduce(const T* dy, const T* x, int64_t N, int64_t C, int64_t S, const double* mean,
                                double* sum_dy, double* sum_dy_xmu);

/// Training dx from sums over `count` values per channel (global for SyncBatchNorm); weight may be null.
template <class T>
void batch_norm_backward_elemt(const T* dy, const T* x, T* dx, int64_t N, int64_t C, int64_t S,
                               const double* mean, const double* invstd, const T* weight,
                               const double* sum_dy, const double* sum_dy_xmu, int64_t count);

/// The number of streaming multiprocessors of the current device (cached per device).
int multiprocessor_count();

}  // namespace hnn::cuda::launch
