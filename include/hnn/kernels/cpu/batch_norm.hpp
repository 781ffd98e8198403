// CPU batch-norm kernels: per-channel statistics, normalisation, running-statistic update and backward,
// for contiguous (N, C, S) float/double data. A thin dispatcher over the two layouts, as ATen's CPU
// batch-norm kernel is organised: planar (S > 1, kernels/cpu/batch_norm_planar.hpp) and rows ((N, C),
// S = 1, kernels/cpu/batch_norm_rows.hpp); the derivation of the sums is in batch_norm_common.hpp and the
// per-channel formulas in kernels/batch_norm_math.hpp. Depends on those headers.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "hnn/kernels/batch_norm_math.hpp"
#include "hnn/kernels/cpu/batch_norm_common.hpp"
#include "hnn/kernels/cpu/batch_norm_planar.hpp"
#include "hnn/kernels/cpu/batch_norm_rows.hpp"
#include "hnn/kernels/kernel_traits.hpp"

namespace hnn::kernels::cpu {

namespace detail {

/// y = (x - pivot[c]) * alpha[c] + beta[c] over the whole tensor, in the layout's streaming pass.
template <class T>
void bn_affine_all(const T* x, T* y, int64_t N, int64_t C, int64_t S, const T* pivot, const T* alpha,
                   const T* beta) {
  if (S == 1)
    rows_affine_all(x, y, N, C, pivot, alpha, beta);
  else
    planar_affine_all(x, y, N, C, S, pivot, alpha, beta);
}

}  // namespace detail

/// The CPU batch-norm kernels, one static function per pass, as BatchNormKernels<CPU> (which is this
/// struct) exposes them to the op and to SyncBatchNorm. Each dispatches on the layout: planar (S > 1,
/// kernels/cpu/batch_norm_planar.hpp) or rows (S == 1, kernels/cpu/batch_norm_rows.hpp).
struct BatchNorm {
  /// Per-channel mean and M2 = sum (x - mean)^2 of x (N, C, S), count = N*S: chunked two-pass sums about a
  /// pivot (in T within a chunk), merged in double by Chan's update. mean and m2 have length C. With
  /// N*S == 0 both are 0.
  template <class T>
  static void stats(const T* x, int64_t N, int64_t C, int64_t S, double* mean, double* m2) {
    static_assert(std::is_floating_point_v<T>, "batch norm kernels take float or double");
    if (C <= 0) return;
    if (N * S <= 0) {
      std::fill(mean, mean + C, 0.0);
      std::fill(m2, m2 + C, 0.0);
      return;
    }
    if (S > 1)
      detail::planar_stats(x, N, C, S, mean, m2);
    else
      detail::rows_stats(x, N, C, mean, m2);
  }

  /// y = (x - mean[c]) * invstd[c] * weight[c] + bias[c]; weight/bias may be null (1 and 0). x may equal y.
  template <class T>
  static void elemt(const T* x, T* y, int64_t N, int64_t C, int64_t S, const double* mean,
                    const double* invstd, const T* weight, const T* bias) {
    static_assert(std::is_floating_point_v<T>, "batch norm kernels take float or double");
    if (C <= 0 || N * S <= 0) return;
    std::vector<T> pivot(static_cast<size_t>(C)), alpha(static_cast<size_t>(C)), beta(static_cast<size_t>(C));
    for (int64_t c = 0; c < C; ++c) {
      const auto k = detail::bn_affine(mean[c], invstd[c], weight, bias, c);
      pivot[static_cast<size_t>(c)] = k.pivot;
      alpha[static_cast<size_t>(c)] = k.alpha;
      beta[static_cast<size_t>(c)] = k.beta;
    }
    detail::bn_affine_all(x, y, N, C, S, pivot.data(), alpha.data(), beta.data());
  }

  /// running_mean = (1 - momentum) * running_mean + momentum * mean,
  /// running_var = (1 - momentum) * running_var + momentum * m2 / (count - 1). Either pointer may be null.
  /// count is the number of values per channel (N*S, or the global count for SyncBatchNorm); it must be
  /// > 1 for running_var (PyTorch refuses one value per channel in training before getting here).
  template <class T>
  static void update_running(T* running_mean, T* running_var, const double* mean, const double* m2, int64_t C,
                             int64_t count, double momentum) {
    for (int64_t c = 0; c < C; ++c)
      detail::bn_update_running_one(running_mean, running_var, c, mean[c], m2[c], count, momentum);
  }

  /// The constants an eval forward normalises with, as the backward needs them: mean[c] = running_mean[c]
  /// and invstd[c] = 1/sqrt(running_var[c] + eps), in double.
  template <class T>
  static void eval_statistics(const T* running_mean, const T* running_var, int64_t C, double eps,
                              double* mean, double* invstd) {
    for (int64_t c = 0; c < C; ++c) {
      mean[c] = static_cast<double>(running_mean[c]);
      invstd[c] = batch_norm_math::invstd_from_var(static_cast<double>(running_var[c]), eps);
    }
  }

  /// Training forward in one call: per-channel statistics, save_mean[c] = mean,
  /// save_invstd[c] = 1/sqrt(M2/(N*S) + eps), y = (x - mean) * save_invstd * weight + bias, and the
  /// running-statistic update (skipped for a null running_mean / running_var). weight/bias may be null.
  /// Each channel (or, when S = 1, each thread's block of rows) is normalised right after its statistics,
  /// while it is still in cache. save_mean/save_invstd may not be null.
  template <class T>
  static void forward_train(const T* x, T* y, int64_t N, int64_t C, int64_t S, const T* weight, const T* bias,
                            double eps, double momentum, T* running_mean, T* running_var, double* save_mean,
                            double* save_invstd) {
    static_assert(std::is_floating_point_v<T>, "batch norm kernels take float or double");
    if (C <= 0) return;
    if (N * S <= 0) {
      std::fill(save_mean, save_mean + C, 0.0);
      std::fill(save_invstd, save_invstd + C, 0.0);
      return;
    }
    if (S > 1)
      detail::planar_forward_train(x, y, N, C, S, weight, bias, eps, momentum, running_mean, running_var,
                                   save_mean, save_invstd);
    else
      detail::rows_forward_train(x, y, N, C, weight, bias, eps, momentum, running_mean, running_var,
                                 save_mean, save_invstd);
  }

  /// Eval forward, one streaming pass: y = (x - running_mean[c]) * weight[c] / sqrt(running_var[c] + eps) +
  /// bias[c]. weight/bias may be null. The subtraction comes before the scaling (pivot = running_mean,
  /// already a T; see batch_norm_math.hpp).
  template <class T>
  static void forward_eval(const T* x, T* y, int64_t N, int64_t C, int64_t S, const T* running_mean,
                           const T* running_var, const T* weight, const T* bias, double eps) {
    static_assert(std::is_floating_point_v<T>, "batch norm kernels take float or double");
    if (C <= 0 || N * S <= 0) return;
    std::vector<T> pivot(static_cast<size_t>(C)), alpha(static_cast<size_t>(C)), beta(static_cast<size_t>(C));
    for (int64_t c = 0; c < C; ++c) {
      const auto k = detail::bn_affine(
          static_cast<double>(running_mean[c]),
          batch_norm_math::invstd_from_var(static_cast<double>(running_var[c]), eps), weight, bias, c);
      pivot[static_cast<size_t>(c)] = k.pivot;
      alpha[static_cast<size_t>(c)] = k.alpha;
      beta[static_cast<size_t>(c)] = k.beta;
    }
    detail::bn_affine_all(x, y, N, C, S, pivot.data(), alpha.data(), beta.data());
  }

  /// sum_dy[c] = sum dy, sum_dy_xmu[c] = sum dy * (x - mean[c]), one pass over dy and x (chunks summed in T
  /// about p = T(mean), results in double).
  template <class T>
  static void backward_reduce(const T* dy, const T* x, int64_t N, int64_t C, int64_t S, const double* mean,
                              double* sum_dy, double* sum_dy_xmu) {
    static_assert(std::is_floating_point_v<T>, "batch norm kernels take float or double");
    if (C <= 0) return;
    std::fill(sum_dy, sum_dy + C, 0.0);
    std::fill(sum_dy_xmu, sum_dy_xmu + C, 0.0);
    if (N * S <= 0) return;
    if (S > 1)
      detail::planar_backward_reduce(dy, x, N, C, S, mean, sum_dy, sum_dy_xmu);
    else
      detail::rows_backward_reduce(dy, x, N, C, mean, sum_dy, sum_dy_xmu);
  }

  /// Training dx from reduced sums: dx = weight * invstd * (dy - sum_dy/count - (x - mean) * invstd^2 *
  /// sum_dy_xmu/count). weight may be null. count is the number of values per channel the sums were taken
  /// over (global for SyncBatchNorm).
  template <class T>
  static void backward_elemt(const T* dy, const T* x, T* dx, int64_t N, int64_t C, int64_t S,
                             const double* mean, const double* invstd, const T* weight, const double* sum_dy,
                             const double* sum_dy_xmu, int64_t count) {
    static_assert(std::is_floating_point_v<T>, "batch norm kernels take float or double");
    if (C <= 0 || N * S <= 0) return;
    std::vector<detail::BnDx<T>> k(static_cast<size_t>(C));
    for (int64_t c = 0; c < C; ++c)
      k[static_cast<size_t>(c)] =
          detail::bn_dx_constants(mean[c], invstd[c], weight, c, sum_dy[c], sum_dy_xmu[c], count);
    if (S == 1)
      detail::rows_backward_elemt(dy, x, dx, N, C, k.data());
    else
      detail::planar_backward_elemt(dy, x, dx, N, C, S, k.data());
  }

  /// Fused backward. training = true: save_mean/save_invstd are the batch statistics from
  /// forward_train and dx is the full training gradient (one reduction pass, then dx from
  /// cache). training = false: save_mean/save_invstd are the constants the forward used (running_mean and
  /// 1/sqrt(running_var + eps)) and dx = dy * weight * invstd, written in the same pass as the reduction.
  /// grad_weight[c] = sum dy * (x - mean) * invstd, grad_bias[c] = sum dy. weight may be null (1);
  /// dx, grad_weight and grad_bias may each be null (not computed).
  template <class T>
  static void backward(const T* dy, const T* x, int64_t N, int64_t C, int64_t S, const T* weight,
                       const double* save_mean, const double* save_invstd, bool training, T* dx,
                       T* grad_weight, T* grad_bias) {
    static_assert(std::is_floating_point_v<T>, "batch norm kernels take float or double");
    if (C <= 0) return;
    if (N * S <= 0) {
      if (grad_weight) std::fill(grad_weight, grad_weight + C, T(0));
      if (grad_bias) std::fill(grad_bias, grad_bias + C, T(0));
      return;
    }
    const bool need_sums = grad_weight || grad_bias || (training && dx);
    if (!need_sums) {
      if (!dx) return;
      // Eval-mode dx only: dx = dy * weight * invstd.
      std::vector<T> zero(static_cast<size_t>(C), T(0)), scale(static_cast<size_t>(C));
      for (int64_t c = 0; c < C; ++c)
        scale[static_cast<size_t>(c)] = static_cast<T>(detail::bn_weight_or_one(weight, c) * save_invstd[c]);
      detail::bn_affine_all(dy, dx, N, C, S, zero.data(), scale.data(), zero.data());
      return;
    }
    if (S > 1)
      detail::planar_backward(dy, x, N, C, S, weight, save_mean, save_invstd, training, dx, grad_weight,
                              grad_bias);
    else
      detail::rows_backward(dy, x, N, C, weight, save_mean, save_invstd, training, dx, grad_weight,
                            grad_bias);
  }
};

}  // namespace hnn::kernels::cpu

namespace hnn {

/// The CPU batch-norm kernels of this file are the trait itself: no forwarding layer.
template <>
struct BatchNormKernels<CPU> : kernels::cpu::BatchNorm {};

}  // namespace hnn
