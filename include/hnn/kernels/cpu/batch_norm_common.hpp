// Shared by the two layouts of the CPU batch-norm kernels (batch_norm_planar.hpp, batch_norm_rows.hpp):
// the derivation of how the sums are taken, chunk sizes, the scheduling of work groups over a thread team,
// per-channel constants and the streaming split. Depends on core/parallel.hpp, kernels/batch_norm_math.hpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>

#include "hnn/core/parallel.hpp"
#include "hnn/kernels/batch_norm_math.hpp"

/*
 * Batch norm, the formulas and how they are computed
 * ==================================================
 * Layout: x is contiguous (N, C, S), S = product of the spatial sizes (1 for an (N, C) input). Channel c
 * holds m = N*S values x[n, c, s]; every per-channel array has length C.
 *
 * Statistics. mean = (1/m) sum x,  M2 = sum (x - mean)^2,  biased var = M2/m,  unbiased var = M2/(m-1),
 * invstd = 1/sqrt(M2/m + eps). E[x^2] - E[x]^2 is never used: with mean 1e3 and unit variance it
 * cancels six digits in double and everything in float. Instead the values of a channel are cut into
 * chunks (64 values per SIMD lane or 64 rows of one channel, up to 64 rows of an (N, C) input); a chunk is
 * summed to a pivot p = T(chunk mean), then re-read from cache to sum d = x - p and d^2, giving the chunk's
 *     mean = p + sum d / n,   M2 = sum d^2 - (sum d)^2 / n     (sum d is tiny: nothing cancels),
 * and chunks are combined in double with Chan's pairwise update
 *     n = n_a + n_b,  delta = mean_b - mean_a,
 *     mean = mean_a + delta * n_b/n,   M2 = M2_a + M2_b + delta^2 * n_a*n_b/n,
 * which is also how partial statistics of one channel computed by different threads are merged.
 * Within a chunk the sums run in T: for float input, float vectors of twice the width of double
 * ones and no conversions. x - p is exact for x within a factor 2 of p (Sterbenz), so a mean of 1e3
 * costs nothing, and each float accumulator adds at most 64 terms of the size of the spread before
 * it is widened, so mean and M2 carry a relative error of a few 1e-7 (double input: a few 1e-16).
 * The backward sums are taken the same way: sum dy and sum dy * (x - p) per chunk in T, widened, and
 *     sum dy * (x - mean) = sum dy * (x - p) - (mean - p) * sum dy.
 *
 * Forward. y = (x - mean) * invstd * weight + bias = x * alpha + beta with alpha = weight * invstd,
 * beta = bias - mean * alpha. In float, x * alpha + beta loses |mean * alpha| * 2^-24 (6e-5 absolute for
 * mean 1e3) when beta cancels x * alpha, so the subtraction comes first:
 *     y = (x - p) * alpha + (bias - delta * alpha),   p = T(mean), delta = mean - p,
 * one subtract and one fused multiply-add per element, with both constants rounded to T once.
 * x - p is exact when x lies within a factor 2 of p (Sterbenz), which is where the cancellation was.
 * Eval mode uses p = running_mean (already a T, delta = 0) and invstd = 1/sqrt(running_var + eps).
 *
 * Running statistics (PyTorch's convention; momentum = None is the caller passing 1/num_batches_tracked):
 *     running_mean = (1 - momentum) * running_mean + momentum * mean
 *     running_var  = (1 - momentum) * running_var  + momentum * M2/(m - 1)          (unbiased)
 *
 * Backward, training (batch statistics; xhat = (x - mean) * invstd, m = count):
 *     y = weight * xhat + bias,  d mean/dx = 1/m,  d invstd/dx = -invstd^3 (x - mean)/m, so
 *     dx = weight * invstd * (dy - sum(dy)/m - (x - mean) * invstd^2 * sum(dy * (x - mean))/m)
 *     grad_weight = sum dy * xhat = invstd * sum(dy * (x - mean)),   grad_bias = sum dy.
 * One pass reduces sum_dy and sum_dy_xmu = sum dy * (x - mean); a second writes dx as
 *     dx = k_dy * dy + k_x * (x - p) + k_c,    k_dy = weight * invstd,
 *     k_x = -weight * invstd^3 * sum_dy_xmu/m,  k_c = -k_dy * sum_dy/m - k_x * delta,
 * with the same p = T(mean), delta = mean - p as the forward. The count m is an argument of the elementwise
 * pass so SyncBatchNorm can pass the global count with globally reduced sums.
 * Backward, eval (mean and invstd are constants): dx = dy * weight * invstd, one pass that also reduces
 * grad_weight and grad_bias when they are wanted.
 *
 * Work layout and memory traffic (x of B bytes). Planar inputs (S > 1) take one of two paths:
 *  - Long planes (2 KB or more, bn_planar_streams): each thread streams a contiguous range of the tensor
 *    in memory order and keeps sums per channel of its own; after a barrier each thread merges a block
 *    of channels over all threads' sums, and y or dx is a second streaming pass: 3B for forward-train,
 *    5B for backward, every byte read at the speed of a contiguous stream. Walking a channel at a time
 *    instead meets a new run every S values, N times per channel, and reads at half that speed (measured
 *    on 64x64x56x56: a plain sum took 2.0 ms by channel against 0.94 ms in memory order, one thread).
 *    A thread's sums for a channel are shifted by a pivot: its first run's own mean, then, after every
 *    flush of the float lanes to double (at most 32 terms per lane), the channel's mean so far; so
 *    the lanes hold deviations from a nearby mean and the error stays that of the two-pass sums.
 *  - Short planes: a work group is one channel, whose rows are contiguous runs of S values. A channel's
 *    values are reduced and then, by the same thread and while they are still in its L2, re-read to
 *    write y or dx, so forward-train moves about 2B to and from memory rather than 3B, and backward 3B
 *    rather than 5B, when a channel fits in the cache. Groups are shared among threads; when there are
 *    too few groups to keep every thread equally busy (C = 1 or 3 on two threads, C = 6 on four) each
 *    group is split into parts over N (or S) whose partial statistics are merged with Chan's update,
 *    after a barrier, by every thread that owns a part of that group.
 * With S = 1 ("rows") each thread takes a block of whole rows and accumulates every channel in
 * per-channel arrays while streaming its rows in memory order; after a barrier each thread merges a block
 * of channels over all threads' partials, and after a second barrier normalises (or writes dx for) its
 * own rows, which it read last, four rows per load of the per-channel constants. Planar sums run in
 * four SIMD registers per sum (Eigen packets: 64 lanes with AVX-512, 32 with AVX2, 16 with SSE2), in a
 * fixed order for a given instruction set; the chunk rules above bound the terms per lane either way.
 */

namespace hnn::kernels::cpu::detail {

/// Rows per chunk at most, when rows are shorter than a chunk (bn_chunk_elems,
/// kernels/cpu/batch_norm_planar.hpp): each run's last values that fill no whole packet go to scalar tail
/// lanes, which so also add at most 64 terms.
inline constexpr int64_t bn_chunk_rows = 64;
// Threading (core/parallel.hpp): one parallel_team per call, a static partition computed by hand
// (deterministic for a given thread count), and barriers only inside a team of more than one thread.

/// Parts per group so that groups * parts is a multiple of the thread count (every thread gets the
/// same number of parts), unless the groups alone already balance well.
inline int64_t bn_parts_per_group(int64_t groups, int64_t nthreads) {
  if (nthreads <= 1 || groups % nthreads == 0 || groups >= 8 * nthreads) return 1;
  return nthreads / std::gcd(groups, nthreads);
}

/// Calls reduce(group, part, parts) on every part of every group, then finish(group, part, parts) on the
/// same thread once all parts of that group are reduced. With one part per group no barrier is needed;
/// otherwise the groups are handled in rounds of nthreads parts (nthreads / parts whole groups).
template <class Reduce, class Finish>
void bn_for_group_parts(int64_t tid, int64_t nthreads, int64_t groups, Reduce&& reduce, Finish&& finish) {
  const int64_t parts = bn_parts_per_group(groups, nthreads);
  if (parts == 1) {
    for (int64_t g = split_range(groups, nthreads, tid), end = split_range(groups, nthreads, tid + 1);
         g < end; ++g) {
      reduce(g, int64_t{0}, int64_t{1});
      finish(g, int64_t{0}, int64_t{1});
    }
    return;
  }
  const int64_t rounds = groups * parts / nthreads;
  for (int64_t r = 0; r < rounds; ++r) {
    const int64_t item = r * nthreads + tid;
    reduce(item / parts, item % parts, parts);
    team_barrier(nthreads);
    finish(item / parts, item % parts, parts);
  }
}

/// Upper bound of groups * parts over all thread counts up to nthreads: the size of partial buffers.
inline int64_t bn_max_items(int64_t groups, int64_t nthreads) {
  return groups * std::max<int64_t>(nthreads, 1);
}

// ---------------------------------------------------------------------------------------------
// Per-channel arithmetic (kernels/batch_norm_math.hpp) over the kernels' nullable per-channel pointers,
// shared by the fused and the composed paths so both round identically.

/// weight[c], or 1 when there is no weight (affine = false).
template <class T>
inline double bn_weight_or_one(const T* weight, int64_t c) {
  return weight ? static_cast<double>(weight[c]) : 1.0;
}

/// bias[c], or 0 when there is no bias.
template <class T>
inline double bn_bias_or_zero(const T* bias, int64_t c) {
  return bias ? static_cast<double>(bias[c]) : 0.0;
}

/// Normalisation y = (x - pivot) * alpha + beta for mean/invstd given in double.
template <class T>
inline batch_norm_math::Affine<T> bn_affine(double mean, double invstd, const T* weight, const T* bias,
                                            int64_t c) {
  return batch_norm_math::affine<T>(mean, invstd, bn_weight_or_one(weight, c), bn_bias_or_zero(bias, c));
}

/// Training backward dx = k_dy * dy + k_x * (x - pivot) + k_c (see batch_norm_math.hpp).
template <class T>
using BnDx = batch_norm_math::DxConstants<T>;

template <class T>
inline BnDx<T> bn_dx_constants(double mean, double invstd, const T* weight, int64_t c, double sum_dy,
                               double sum_dy_xmu, int64_t count) {
  return batch_norm_math::dx_constants<T>(mean, invstd, bn_weight_or_one(weight, c), sum_dy, sum_dy_xmu,
                                          static_cast<double>(count));
}

template <class T>
inline void bn_update_running_one(T* running_mean, T* running_var, int64_t c, double mean, double m2,
                                  int64_t count, double momentum) {
  if (running_mean)
    running_mean[c] =
        static_cast<T>(batch_norm_math::running_update(static_cast<double>(running_mean[c]), mean, momentum));
  if (running_var)
    running_var[c] = static_cast<T>(batch_norm_math::running_update(
        static_cast<double>(running_var[c]), batch_norm_math::unbiased_var(m2, static_cast<double>(count)),
        momentum));
}

// ---------------------------------------------------------------------------------------------
// Streaming elementwise passes (no reduction): split over all N*C*S elements, contiguous per thread.

/// Splits [0, total) among the threads at multiples of 64 elements (whole cache lines for float).
template <class F>
inline void bn_stream(int64_t total, F&& f) {
  parallel_team(total, [&](int64_t tid, int64_t nthreads) {
    const int64_t blocks = (total + 63) / 64;
    const int64_t begin = std::min(total, split_range(blocks, nthreads, tid) * 64);
    const int64_t end = std::min(total, split_range(blocks, nthreads, tid + 1) * 64);
    if (begin < end) f(begin, end);
  });
}

}  // namespace hnn::kernels::cpu::detail
