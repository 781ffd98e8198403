// Batch norm's per-channel arithmetic, written once for every caller: Chan's merge of (count, mean, M2),
// invstd, the running-statistic update, the alpha/beta constants of the normalising pass and the
// constants of the backward pass. Host/device functions (HNN_HOST_DEVICE) used by the CPU kernels, the
// CUDA kernels, the batch-norm op, SyncBatchNorm and batch-norm folding. Depends on core/config.hpp.
#pragma once

#include <cmath>

#include "hnn/core/config.hpp"

/*
 * The formulas (kernels/cpu/batch_norm_common.hpp derives how the kernels take the sums):
 *
 * Chan's pairwise update of two summaries (n_a, mean_a, M2_a) and (n_b, mean_b, M2_b), M2 = sum (x - mean)^2:
 *     n = n_a + n_b,  delta = mean_b - mean_a,
 *     mean = mean_a + delta * n_b/n,   M2 = M2_a + M2_b + delta^2 * n_a*n_b/n.
 * Exact in real arithmetic for any split of the values, and it never forms E[x^2] - E[x]^2, which cancels
 * every digit of a float when the mean is large against the spread.
 *
 * Normalisation: biased var = M2/m over the m values of a channel, invstd = 1/sqrt(var + eps), and
 *     y = (x - mean) * invstd * weight + bias = x * alpha + beta,  alpha = weight * invstd,
 *     beta = bias - mean * alpha                                                          (ATen's form).
 * In T (float) x * alpha + beta loses |mean * alpha| * 2^-24 when beta cancels x * alpha, so the kernels
 * subtract a pivot p = T(mean) first:
 *     y = (x - p) * alpha + (bias - delta * alpha),   delta = mean - p,
 * where x - p is exact for x within a factor 2 of p (Sterbenz) and delta is below one ulp of the mean.
 *
 * Running statistics (PyTorch's convention, momentum = None being the caller passing 1/num_batches_tracked):
 *     running = (1 - momentum) * running + momentum * batch,  with the unbiased variance M2/(m - 1).
 *
 * Backward with batch statistics (xhat = (x - mean) * invstd; d mean/dx = 1/m, d invstd/dx =
 * -invstd^3 (x - mean)/m):
 *     dx = weight * invstd * (dy - sum(dy)/m - (x - mean) * invstd^2 * sum(dy * (x - mean))/m)
 *        = k_dy * dy + k_x * (x - p) + k_c,   k_dy = weight * invstd,
 *          k_x = -k_dy * invstd^2 * sum(dy (x - mean))/m,   k_c = -k_dy * sum(dy)/m - k_x * delta,
 *     grad_weight = sum dy * xhat = invstd * sum(dy (x - mean)),   grad_bias = sum dy.
 * With running statistics (eval) mean and invstd are constants and dx = dy * weight * invstd.
 */

namespace hnn::kernels::batch_norm_math {

/// The weights of Chan's update: n_b/n and n_a*n_b/n. Split out so a loop over many channels with the
/// same two counts (an (N, C) chunk) computes them once.
struct ChanWeights {
  double of_mean;  // n_b / n
  double of_m2;    // n_a * n_b / n
};

HNN_HOST_DEVICE inline ChanWeights chan_weights(double count_a, double count_b) {
  const double total = count_a + count_b;
  return {count_b / total, count_a * count_b / total};
}

/// mean_a, M2_a become the merged summary, given weights = chan_weights(n_a, n_b) (both counts non-zero).
HNN_HOST_DEVICE inline void chan_merge_weighted(double& mean, double& m2, double mean_b, double m2_b,
                                                ChanWeights weights) {
  const double delta = mean_b - mean;
  mean += delta * weights.of_mean;
  m2 += m2_b + delta * delta * weights.of_m2;
}

/// (count, mean, m2) becomes the merge of itself and (count_b, mean_b, m2_b); an empty side is skipped.
HNN_HOST_DEVICE inline void chan_merge(double& count, double& mean, double& m2, double count_b, double mean_b,
                                       double m2_b) {
  if (count_b == 0) return;
  if (count == 0) {
    count = count_b;
    mean = mean_b;
    m2 = m2_b;
    return;
  }
  chan_merge_weighted(mean, m2, mean_b, m2_b, chan_weights(count, count_b));
  count += count_b;
}

/// 1/sqrt(var + eps).
HNN_HOST_DEVICE inline double invstd_from_var(double var, double eps) { return 1.0 / std::sqrt(var + eps); }

/// 1/sqrt(M2/count + eps): the biased variance, as the forward normalises with.
HNN_HOST_DEVICE inline double invstd(double m2, double count, double eps) {
  return invstd_from_var(m2 / count, eps);
}

/// M2/(count - 1): the variance the running statistics take (count > 1).
HNN_HOST_DEVICE inline double unbiased_var(double m2, double count) { return m2 / (count - 1.0); }

/// (1 - momentum) * running + momentum * batch.
HNN_HOST_DEVICE inline double running_update(double running, double batch, double momentum) {
  return momentum * batch + (1.0 - momentum) * running;
}

/// ATen's alpha = weight * invstd, beta = bias - mean * alpha, in double (what folding writes into a
/// neighbouring layer).
struct AlphaBeta {
  double alpha, beta;
};

HNN_HOST_DEVICE inline AlphaBeta alpha_beta(double mean, double invstd, double weight, double bias) {
  const double alpha = weight * invstd;
  return {alpha, bias - mean * alpha};
}

/// The normalising pass y = (x - pivot) * alpha + beta in T, pivot = T(mean), both constants rounded once.
template <class T>
struct Affine {
  T pivot, alpha, beta;
};

template <class T>
HNN_HOST_DEVICE inline Affine<T> affine(double mean, double invstd, double weight, double bias) {
  const T pivot = static_cast<T>(mean);
  const double delta = mean - static_cast<double>(pivot);
  const double alpha = weight * invstd;
  const double beta = bias - delta * alpha;
  return {pivot, static_cast<T>(alpha), static_cast<T>(beta)};
}

/// The training backward dx = k_dy * dy + k_x * (x - pivot) + k_c in T, from sums over `count` values.
template <class T>
struct DxConstants {
  T pivot, k_dy, k_x, k_c;
};

template <class T>
HNN_HOST_DEVICE inline DxConstants<T> dx_constants(double mean, double invstd, double weight, double sum_dy,
                                                   double sum_dy_xmu, double count) {
  const T pivot = static_cast<T>(mean);
  const double delta = mean - static_cast<double>(pivot);
  const double k_dy = weight * invstd;
  const double inv_count = 1.0 / count;
  const double k_x = -k_dy * invstd * invstd * sum_dy_xmu * inv_count;
  const double k_c = -k_dy * sum_dy * inv_count - k_x * delta;
  return {pivot, static_cast<T>(k_dy), static_cast<T>(k_x), static_cast<T>(k_c)};
}

/// grad_weight = invstd * sum(dy (x - mean)).
HNN_HOST_DEVICE inline double grad_weight(double sum_dy_xmu, double invstd) { return sum_dy_xmu * invstd; }

}  // namespace hnn::kernels::batch_norm_math
