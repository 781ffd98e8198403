// CPU batch-norm kernels: per-channel statistics, normalisation, running-statistic update and backward,
// for contiguous (N, C, S) float/double data. Depends on core/parallel.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <type_traits>
#include <vector>

#include "hnn/core/parallel.hpp"

/*
 * Batch norm, the formulas and how they are computed
 * ==================================================
 * Layout: x is contiguous (N, C, S), S = product of the spatial sizes (1 for an (N, C) input). Channel c
 * holds m = N*S values x[n, c, s]; every per-channel array has length C.
 *
 * Statistics. mean = (1/m) sum x,  M2 = sum (x - mean)^2,  biased var = M2/m,  unbiased var = M2/(m-1),
 * invstd = 1/sqrt(M2/m + eps). E[x^2] - E[x]^2 is never used: with mean 1e3 and unit variance it
 * cancels six digits in double and everything in float. Instead the values of a channel are cut into
 * chunks (2048 values of one channel, or up to 64 rows of an (N, C) input); a chunk is summed to a
 * pivot p = T(chunk mean), then re-read from cache to sum d = x - p and d^2, giving the chunk's
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
 * Work layout and memory traffic (x of B bytes). A channel's values are reduced and then, by the same
 * thread and while they are still in its L2, re-read to write y or dx, so forward-train moves
 * about 2B to and from memory rather than 3B, and backward 3B rather than 5B, when a channel fits
 * in the cache. With S > 1 ("planar") a work group is one channel, whose rows are contiguous runs of
 * S values. Groups are shared among threads; when there are too few groups to keep every thread
 * equally busy (C = 1 or 3 on two threads, C = 6 on four) each group is split into parts over N (or
 * S) whose partial statistics are merged with Chan's update, after a barrier, by every thread that
 * owns a part of that group. With S = 1 ("rows") each thread takes a block of whole rows and
 * accumulates every channel in per-channel arrays while streaming its rows in memory order; after a
 * barrier each thread merges a block of channels over all threads' partials, and after a second
 * barrier normalises (or writes dx for) its own rows, which it read last. Planar sums run in 32
 * independent lanes so the compiler vectorises them without reassociating anything.
 */

namespace hnn::kernels::cpu {

namespace detail {

/// Independent double accumulators per reduction: 4 AVX-512 (8 AVX2) registers hide the add latency.
inline constexpr int bn_lanes = 32;
/// Values per chunk of a channel: summed, then re-read from L1 for the deviations. In float each of
/// the bn_lanes lanes adds at most 64 terms before the lanes are reduced in double.
inline constexpr int64_t bn_chunk_elems = 2048;
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
// Chan's merge of (count, mean, M2) summaries.

inline void bn_chan_merge(double& count, double& mean, double& m2, double count_b, double mean_b,
                          double m2_b) {
  if (count_b == 0) return;
  if (count == 0) {
    count = count_b;
    mean = mean_b;
    m2 = m2_b;
    return;
  }
  const double total = count + count_b;
  const double delta = mean_b - mean;
  mean += delta * (count_b / total);
  m2 += m2_b + delta * delta * (count * count_b / total);
  count = total;
}

// ---------------------------------------------------------------------------------------------
// Planar primitives: contiguous runs of one channel. Within a chunk of at most bn_chunk_elems values
// the sums run in T (float for float input) in bn_lanes independent lanes, about a pivot close to
// the chunk's mean, so every lane adds at most bn_chunk_elems / bn_lanes small terms; the lanes are
// then reduced in double and chunks are merged in double (Chan).

/// Sum of the lanes in double, in a fixed tree.
template <class A>
inline double bn_sum_lanes(const A* acc) {
  double partial[8];
  for (int j = 0; j < 8; ++j)
    partial[j] = (static_cast<double>(acc[j]) + static_cast<double>(acc[j + 8])) +
                 (static_cast<double>(acc[j + 16]) + static_cast<double>(acc[j + 24]));
  return ((partial[0] + partial[4]) + (partial[1] + partial[5])) +
         ((partial[2] + partial[6]) + (partial[3] + partial[7]));
}

/// acc += x (lane j takes every bn_lanes-th value).
template <class T>
inline void bn_sum_run(const T* x, int64_t len, T* acc) {
  int64_t i = 0;
  for (; i + bn_lanes <= len; i += bn_lanes)
    for (int j = 0; j < bn_lanes; ++j) acc[j] += x[i + j];
  for (int j = 0; i < len; ++i, ++j) acc[j] += x[i];
}

/// s1 += x - pivot, s2 += (x - pivot)^2. x - pivot is exact when x is within a factor 2 of the pivot.
template <class T>
inline void bn_shifted_run(const T* x, int64_t len, T pivot, T* s1, T* s2) {
  int64_t i = 0;
  for (; i + bn_lanes <= len; i += bn_lanes)
    for (int j = 0; j < bn_lanes; ++j) {
      const T d = x[i + j] - pivot;
      s1[j] += d;
      s2[j] += d * d;
    }
  for (int j = 0; i < len; ++i, ++j) {
    const T d = x[i] - pivot;
    s1[j] += d;
    s2[j] += d * d;
  }
}

/// acc_dy += dy, acc_dyx += dy * (x - pivot).
template <class T>
inline void bn_dy_xmu_run(const T* dy, const T* x, int64_t len, T pivot, T* acc_dy, T* acc_dyx) {
  int64_t i = 0;
  for (; i + bn_lanes <= len; i += bn_lanes)
    for (int j = 0; j < bn_lanes; ++j) {
      acc_dy[j] += dy[i + j];
      acc_dyx[j] += dy[i + j] * (x[i + j] - pivot);
    }
  for (int j = 0; i < len; ++i, ++j) {
    acc_dy[j] += dy[i];
    acc_dyx[j] += dy[i] * (x[i] - pivot);
  }
}

/// y = (x - pivot) * alpha + beta.
template <class T>
inline void bn_affine_run(const T* x, T* y, int64_t len, T pivot, T alpha, T beta) {
  for (int64_t i = 0; i < len; ++i) y[i] = (x[i] - pivot) * alpha + beta;
}

/// dx = k_dy * dy + k_x * (x - pivot) + k_c.
template <class T>
inline void bn_dx_run(const T* dy, const T* x, T* dx, int64_t len, T pivot, T k_dy, T k_x, T k_c) {
  for (int64_t i = 0; i < len; ++i) dx[i] = dy[i] * k_dy + ((x[i] - pivot) * k_x + k_c);
}

/// One part of a planar group (channel c): rows [n0, n1) x columns [s0, s1) of the channel's N x S values.
/// Parts split rows when there are enough of them, else columns.
struct BnRect {
  int64_t n0, n1, s0, s1;
  int64_t count() const { return (n1 - n0) * (s1 - s0); }
};

inline BnRect bn_planar_part(int64_t N, int64_t S, int64_t part, int64_t parts) {
  if (parts == 1) return {0, N, 0, S};
  if (N >= parts) return {split_range(N, parts, part), split_range(N, parts, part + 1), 0, S};
  return {0, N, split_range(S, parts, part), split_range(S, parts, part + 1)};
}

/// Calls f(offset, len) for every contiguous run of rect, in memory order (offset is into the tensor).
template <class F>
inline void bn_for_runs(int64_t C, int64_t S, int64_t c, const BnRect& rect, F&& f) {
  if (rect.s1 <= rect.s0) return;
  for (int64_t n = rect.n0; n < rect.n1; ++n) f((n * C + c) * S + rect.s0, rect.s1 - rect.s0);
}

/// Calls f(piece) for consecutive pieces of rect of at most bn_chunk_elems values: whole rows when a
/// row is shorter than a chunk, else pieces of one row.
template <class F>
inline void bn_for_chunks(const BnRect& rect, F&& f) {
  const int64_t width = rect.s1 - rect.s0;
  if (width <= 0 || rect.n1 <= rect.n0) return;
  if (width >= bn_chunk_elems) {
    const int64_t pieces = (width + bn_chunk_elems - 1) / bn_chunk_elems;
    for (int64_t n = rect.n0; n < rect.n1; ++n)
      for (int64_t k = 0; k < pieces; ++k)
        f(BnRect{n, n + 1, rect.s0 + split_range(width, pieces, k),
                 rect.s0 + split_range(width, pieces, k + 1)});
  } else {
    const int64_t rows = bn_chunk_elems / width;
    for (int64_t n = rect.n0; n < rect.n1; n += rows)
      f(BnRect{n, std::min(n + rows, rect.n1), rect.s0, rect.s1});
  }
}

/// Statistics of rect. Per chunk: a first pass sums it (in T) for a pivot p = T(chunk mean), a second
/// pass, from L1, sums d = x - p and d^2 (in T); then mean = p + sum d / n and M2 = sum d^2 - (sum d)^2 / n
/// in double (sum d is tiny, so nothing cancels), merged over chunks with Chan's update.
template <class T>
void bn_planar_stats(const T* x, int64_t C, int64_t S, int64_t c, const BnRect& rect, double& count,
                     double& mean, double& m2) {
  count = 0;
  mean = 0;
  m2 = 0;
  bn_for_chunks(rect, [&](const BnRect& piece) {
    T acc[bn_lanes] = {};
    bn_for_runs(C, S, c, piece, [&](int64_t offset, int64_t len) { bn_sum_run(x + offset, len, acc); });
    const double piece_count = static_cast<double>(piece.count());
    const T pivot = static_cast<T>(bn_sum_lanes(acc) / piece_count);
    T s1[bn_lanes] = {}, s2[bn_lanes] = {};
    bn_for_runs(C, S, c, piece,
                [&](int64_t offset, int64_t len) { bn_shifted_run(x + offset, len, pivot, s1, s2); });
    const double sum1 = bn_sum_lanes(s1), sum2 = bn_sum_lanes(s2);
    const double piece_mean = static_cast<double>(pivot) + sum1 / piece_count;
    const double piece_m2 = std::max(0.0, sum2 - sum1 * (sum1 / piece_count));
    bn_chan_merge(count, mean, m2, piece_count, piece_mean, piece_m2);
  });
}

/// sum dy and sum dy * (x - mean) over rect: per chunk, in T about p = T(mean), then in double;
/// sum dy * (x - mean) = sum dy * (x - p) - (mean - p) * sum dy.
template <class T>
void bn_planar_dy_xmu(const T* dy, const T* x, int64_t C, int64_t S, int64_t c, const BnRect& rect,
                      double mean, double& sum_dy, double& sum_dy_xmu) {
  const T pivot = static_cast<T>(mean);
  double total_dy = 0, total_dyx = 0;
  bn_for_chunks(rect, [&](const BnRect& piece) {
    T acc_dy[bn_lanes] = {}, acc_dyx[bn_lanes] = {};
    bn_for_runs(C, S, c, piece, [&](int64_t offset, int64_t len) {
      bn_dy_xmu_run(dy + offset, x + offset, len, pivot, acc_dy, acc_dyx);
    });
    total_dy += bn_sum_lanes(acc_dy);
    total_dyx += bn_sum_lanes(acc_dyx);
  });
  sum_dy = total_dy;
  sum_dy_xmu = total_dyx - (mean - static_cast<double>(pivot)) * total_dy;
}

// ---------------------------------------------------------------------------------------------
// Row-major (S = 1) primitives. An (N, C) input is cut into blocks of whole rows, one per thread; the
// inner loops run across the C contiguous channels of a row and accumulate into per-channel double
// arrays, so memory is streamed in order (a strip of channels over all rows would touch a new page
// every row and miss the TLB). Two rows per step halve the loads and stores of the accumulators.

/// Rows per chunk of bn_rows_stats / bn_rows_dy_xmu: about bn_row_chunk_bytes of x (re-read from L2
/// by the deviation pass), at most bn_row_chunk_rows so a float accumulator adds few terms.
inline constexpr int64_t bn_row_chunk_bytes = 128 * 1024;
inline constexpr int64_t bn_row_chunk_rows = 64;

inline int64_t bn_row_chunk(int64_t C, int64_t elem_size) {
  return std::clamp<int64_t>(bn_row_chunk_bytes / (C * elem_size), 2, bn_row_chunk_rows);
}

/// Row kernels of bn_rows_stats / bn_rows_dy_xmu over the C channels of one or two rows (b may be
/// null). __restrict: the accumulators and x share a type, and without it GCC gives up vectorising
/// loops with this many pointers rather than check them all for overlap at run time.
template <class T>
inline void bn_row_sum(const T* __restrict a, const T* __restrict b, int64_t C, T* __restrict sum) {
  if (b)
    for (int64_t j = 0; j < C; ++j) sum[j] += a[j] + b[j];
  else
    for (int64_t j = 0; j < C; ++j) sum[j] += a[j];
}

template <class T>
inline void bn_row_shifted(const T* __restrict a, const T* __restrict b, int64_t C, const T* __restrict pivot,
                           T* __restrict s1, T* __restrict s2) {
  if (b) {
    for (int64_t j = 0; j < C; ++j) {
      const T da = a[j] - pivot[j], db = b[j] - pivot[j];
      s1[j] += da + db;
      s2[j] += da * da + db * db;
    }
  } else {
    for (int64_t j = 0; j < C; ++j) {
      const T d = a[j] - pivot[j];
      s1[j] += d;
      s2[j] += d * d;
    }
  }
}

template <class T>
inline void bn_row_dy_xmu(const T* __restrict ga, const T* __restrict gb, const T* __restrict xa,
                          const T* __restrict xb, int64_t C, const T* __restrict pivot, T* __restrict acc_dy,
                          T* __restrict acc_dyx) {
  if (gb) {
    for (int64_t j = 0; j < C; ++j) {
      acc_dy[j] += ga[j] + gb[j];
      acc_dyx[j] += ga[j] * (xa[j] - pivot[j]) + gb[j] * (xb[j] - pivot[j]);
    }
  } else {
    for (int64_t j = 0; j < C; ++j) {
      acc_dy[j] += ga[j];
      acc_dyx[j] += ga[j] * (xa[j] - pivot[j]);
    }
  }
}

/// Per-channel (count, mean, M2) of rows [n0, n1). Per chunk of rows, as bn_planar_stats does per
/// chunk of a channel: a sum in T for a pivot p = T(chunk mean), then sums of d = x - p and d^2 in T
/// from cache, turned into the chunk's mean and M2 in double and merged channel by channel with Chan's
/// update (every channel of a chunk has the same count). work holds 4 * C values of T.
template <class T>
void bn_rows_stats(const T* x, int64_t C, int64_t n0, int64_t n1, double& count, double* mean, double* m2,
                   T* work) {
  count = 0;
  std::fill(mean, mean + C, 0.0);
  std::fill(m2, m2 + C, 0.0);
  if (n1 <= n0) return;
  T* sum = work;
  T* pivot = work + C;
  T* s1 = work + 2 * C;
  T* s2 = work + 3 * C;
  const int64_t rows = bn_row_chunk(C, static_cast<int64_t>(sizeof(T)));
  for (int64_t n = n0; n < n1; n += rows) {
    const int64_t end = std::min(n + rows, n1);
    const double chunk_count = static_cast<double>(end - n);
    std::fill(sum, sum + C, T(0));
    for (int64_t r = n; r < end; r += 2)
      bn_row_sum(x + r * C, r + 1 < end ? x + (r + 1) * C : nullptr, C, sum);
    for (int64_t j = 0; j < C; ++j) pivot[j] = static_cast<T>(static_cast<double>(sum[j]) / chunk_count);
    std::fill(s1, s1 + C, T(0));
    std::fill(s2, s2 + C, T(0));
    for (int64_t r = n; r < end; r += 2)
      bn_row_shifted(x + r * C, r + 1 < end ? x + (r + 1) * C : nullptr, C, pivot, s1, s2);
    const double total = count + chunk_count;
    const double weight_b = chunk_count / total, weight_ab = count * chunk_count / total;
    for (int64_t j = 0; j < C; ++j) {
      const double d1 = static_cast<double>(s1[j]);
      const double chunk_mean = static_cast<double>(pivot[j]) + d1 / chunk_count;
      const double chunk_m2 = std::max(0.0, static_cast<double>(s2[j]) - d1 * (d1 / chunk_count));
      if (count == 0) {
        mean[j] = chunk_mean;
        m2[j] = chunk_m2;
      } else {
        const double delta = chunk_mean - mean[j];
        mean[j] += delta * weight_b;
        m2[j] += chunk_m2 + delta * delta * weight_ab;
      }
    }
    count = total;
  }
}

/// Per-channel sum dy and sum dy * (x - mean) over rows [n0, n1): per chunk of rows in T about
/// p = T(mean), added to the double results; then sum dy * (x - mean) = sum dy * (x - p) - (mean - p) * sum
/// dy. work holds 3 * C values of T.
template <class T>
void bn_rows_dy_xmu(const T* dy, const T* x, int64_t C, int64_t n0, int64_t n1, const double* mean,
                    double* sum_dy, double* sum_dy_xmu, T* work) {
  std::fill(sum_dy, sum_dy + C, 0.0);
  std::fill(sum_dy_xmu, sum_dy_xmu + C, 0.0);
  if (n1 <= n0) return;
  T* pivot = work;
  T* acc_dy = work + C;
  T* acc_dyx = work + 2 * C;
  for (int64_t j = 0; j < C; ++j) pivot[j] = static_cast<T>(mean[j]);
  const int64_t rows = bn_row_chunk(C, static_cast<int64_t>(sizeof(T)));
  for (int64_t n = n0; n < n1; n += rows) {
    const int64_t end = std::min(n + rows, n1);
    std::fill(acc_dy, acc_dy + C, T(0));
    std::fill(acc_dyx, acc_dyx + C, T(0));
    for (int64_t r = n; r < end; r += 2) {
      const bool pair = r + 1 < end;
      bn_row_dy_xmu(dy + r * C, pair ? dy + (r + 1) * C : nullptr, x + r * C,
                    pair ? x + (r + 1) * C : nullptr, C, pivot, acc_dy, acc_dyx);
    }
    for (int64_t j = 0; j < C; ++j) {
      sum_dy[j] += static_cast<double>(acc_dy[j]);
      sum_dy_xmu[j] += static_cast<double>(acc_dyx[j]);
    }
  }
  for (int64_t j = 0; j < C; ++j) sum_dy_xmu[j] -= (mean[j] - static_cast<double>(pivot[j])) * sum_dy[j];
}

/// Rows [n0, n1): y = (x - pivot) * alpha + beta with per-channel constants (x may equal y; the
/// constants are __restrict so the loop vectorises without overlap checks against them).
template <class T>
void bn_rows_affine(const T* x, T* y, int64_t C, int64_t n0, int64_t n1, const T* __restrict pivot,
                    const T* __restrict alpha, const T* __restrict beta) {
  for (int64_t r = n0; r < n1; ++r) {
    const T* x_row = x + r * C;
    T* y_row = y + r * C;
    for (int64_t j = 0; j < C; ++j) y_row[j] = (x_row[j] - pivot[j]) * alpha[j] + beta[j];
  }
}

/// Rows [n0, n1): dx = k_dy * dy + k_x * (x - pivot) + k_c with per-channel constants.
template <class T>
void bn_rows_dx(const T* dy, const T* x, T* dx, int64_t C, int64_t n0, int64_t n1, const T* __restrict pivot,
                const T* __restrict k_dy, const T* __restrict k_x, const T* __restrict k_c) {
  for (int64_t r = n0; r < n1; ++r) {
    const int64_t o = r * C;
    for (int64_t j = 0; j < C; ++j)
      dx[o + j] = dy[o + j] * k_dy[j] + ((x[o + j] - pivot[j]) * k_x[j] + k_c[j]);
  }
}

/// Chan's merge over the threads' (count, mean[C], M2[C]) partials, for channel c, in thread order.
inline void bn_rows_merge(const double* partial, int64_t C, int64_t nthreads, int64_t c, double& count,
                          double& mean, double& m2) {
  count = 0;
  mean = 0;
  m2 = 0;
  for (int64_t k = 0; k < nthreads; ++k) {
    const double* p = partial + k * (2 * C + 1);
    bn_chan_merge(count, mean, m2, p[0], p[1 + c], p[1 + C + c]);
  }
}

/// Sums of the threads' (sum_dy[C], sum_dy_xmu[C]) partials for channel c, in thread order.
inline void bn_rows_sum(const double* partial, int64_t C, int64_t nthreads, int64_t c, double& sum_dy,
                        double& sum_dy_xmu) {
  sum_dy = 0;
  sum_dy_xmu = 0;
  for (int64_t k = 0; k < nthreads; ++k) {
    sum_dy += partial[2 * C * k + c];
    sum_dy_xmu += partial[2 * C * k + C + c];
  }
}

// ---------------------------------------------------------------------------------------------
// Per-channel constants shared by the fused and the composed paths (so both round identically).

/// Normalisation y = (x - pivot) * alpha + beta for mean/invstd given in double.
template <class T>
struct BnAffine {
  T pivot, alpha, beta;
};

template <class T>
inline BnAffine<T> bn_affine(double mean, double invstd, const T* weight, const T* bias, int64_t c) {
  const T pivot = static_cast<T>(mean);
  const double delta = mean - static_cast<double>(pivot);
  const double alpha = (weight ? static_cast<double>(weight[c]) : 1.0) * invstd;
  const double beta = (bias ? static_cast<double>(bias[c]) : 0.0) - delta * alpha;
  return {pivot, static_cast<T>(alpha), static_cast<T>(beta)};
}

/// Training backward dx = k_dy * dy + k_x * (x - pivot) + k_c (see the derivation at the top).
template <class T>
struct BnDx {
  T pivot, k_dy, k_x, k_c;
};

template <class T>
inline BnDx<T> bn_dx_constants(double mean, double invstd, const T* weight, int64_t c, double sum_dy,
                               double sum_dy_xmu, int64_t count) {
  const T pivot = static_cast<T>(mean);
  const double delta = mean - static_cast<double>(pivot);
  const double k_dy = (weight ? static_cast<double>(weight[c]) : 1.0) * invstd;
  const double inv_count = 1.0 / static_cast<double>(count);
  const double k_x = -k_dy * invstd * invstd * sum_dy_xmu * inv_count;
  const double k_c = -k_dy * sum_dy * inv_count - k_x * delta;
  return {pivot, static_cast<T>(k_dy), static_cast<T>(k_x), static_cast<T>(k_c)};
}

inline double bn_invstd(double m2, double count, double eps) { return 1.0 / std::sqrt(m2 / count + eps); }

template <class T>
inline void bn_update_running_one(T* running_mean, T* running_var, int64_t c, double mean, double m2,
                                  int64_t count, double momentum) {
  if (running_mean)
    running_mean[c] =
        static_cast<T>(momentum * mean + (1.0 - momentum) * static_cast<double>(running_mean[c]));
  if (running_var) {
    const double unbiased = m2 / static_cast<double>(count - 1);
    running_var[c] =
        static_cast<T>(momentum * unbiased + (1.0 - momentum) * static_cast<double>(running_var[c]));
  }
}

// ---------------------------------------------------------------------------------------------
// Streaming elementwise passes (no reduction): split over all N*C*S elements, contiguous per thread.

/// Calls f(offset, len, c) for every run of [begin, end) that stays inside one (n, c) plane of length S.
template <class F>
inline void bn_for_plane_runs(int64_t C, int64_t S, int64_t begin, int64_t end, F&& f) {
  while (begin < end) {
    const int64_t plane = begin / S;
    const int64_t len = std::min(S - begin % S, end - begin);
    f(begin, len, plane % C);
    begin += len;
  }
}

/// Calls f(offset, len, c0) for every run of [begin, end) that stays inside one row of C values (S = 1).
template <class F>
inline void bn_for_row_runs(int64_t C, int64_t begin, int64_t end, F&& f) {
  while (begin < end) {
    const int64_t c0 = begin % C;
    const int64_t len = std::min(C - c0, end - begin);
    f(begin, len, c0);
    begin += len;
  }
}

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

/// y = (x - pivot[c]) * alpha[c] + beta[c] over the whole tensor.
template <class T>
void bn_affine_all(const T* x, T* y, int64_t N, int64_t C, int64_t S, const T* pivot, const T* alpha,
                   const T* beta) {
  bn_stream(N * C * S, [&](int64_t begin, int64_t end) {
    if (S == 1) {
      bn_for_row_runs(C, begin, end, [&](int64_t o, int64_t len, int64_t c0) {
        bn_rows_affine(x + o, y + o, len, 0, 1, pivot + c0, alpha + c0, beta + c0);
      });
    } else {
      bn_for_plane_runs(C, S, begin, end, [&](int64_t o, int64_t len, int64_t c) {
        bn_affine_run(x + o, y + o, len, pivot[c], alpha[c], beta[c]);
      });
    }
  });
}

}  // namespace detail

// =============================================================================================
// Public kernels.

/// Per-channel mean and M2 = sum (x - mean)^2 of x (N, C, S), count = N*S: chunked two-pass sums about a
/// pivot (in T within a chunk), merged in double by Chan's update. mean and m2 have length C. With
/// N*S == 0 both are 0.
template <class T>
void batch_norm_stats(const T* x, int64_t N, int64_t C, int64_t S, double* mean, double* m2) {
  static_assert(std::is_floating_point_v<T>, "batch norm kernels take float or double");
  if (C <= 0) return;
  if (N * S <= 0) {
    std::fill(mean, mean + C, 0.0);
    std::fill(m2, m2 + C, 0.0);
    return;
  }
  const int64_t total = N * C * S;
  if (S > 1) {
    std::vector<double> partial(
        static_cast<size_t>(3 * detail::bn_max_items(C, parallel_team_max_threads(total))));
    parallel_team(total, [&](int64_t tid, int64_t nthreads) {
      detail::bn_for_group_parts(
          tid, nthreads, C,
          [&](int64_t c, int64_t part, int64_t parts) {
            double* p = &partial[static_cast<size_t>(3 * (c * parts + part))];
            detail::bn_planar_stats(x, C, S, c, detail::bn_planar_part(N, S, part, parts), p[0], p[1], p[2]);
          },
          [&](int64_t c, int64_t part, int64_t parts) {
            if (part != 0) return;
            double count = 0, mu = 0, sq = 0;
            for (int64_t k = 0; k < parts; ++k) {
              const double* p = &partial[static_cast<size_t>(3 * (c * parts + k))];
              detail::bn_chan_merge(count, mu, sq, p[0], p[1], p[2]);
            }
            mean[c] = mu;
            m2[c] = sq;
          });
    });
    return;
  }
  // S = 1: each thread reduces a block of rows over all channels; after a barrier each merges a
  // block of channels over the threads' partials (in thread order: deterministic for a thread count).
  const int64_t max_threads = parallel_team_max_threads(total);
  const int64_t stride = 2 * C + 1;
  std::vector<double> partial(static_cast<size_t>(stride * max_threads));
  std::vector<T> work(static_cast<size_t>(4 * C * max_threads));
  parallel_team(total, [&](int64_t tid, int64_t nthreads) {
    double* p = &partial[static_cast<size_t>(stride * tid)];
    detail::bn_rows_stats(x, C, split_range(N, nthreads, tid), split_range(N, nthreads, tid + 1), p[0], p + 1,
                          p + 1 + C, &work[static_cast<size_t>(4 * C * tid)]);
    team_barrier(nthreads);
    for (int64_t c = split_range(C, nthreads, tid), end = split_range(C, nthreads, tid + 1); c < end; ++c) {
      double count = 0;
      detail::bn_rows_merge(partial.data(), C, nthreads, c, count, mean[c], m2[c]);
    }
  });
}

/// y = (x - mean[c]) * invstd[c] * weight[c] + bias[c]; weight/bias may be null (1 and 0). x may equal y.
template <class T>
void batch_norm_elemt(const T* x, T* y, int64_t N, int64_t C, int64_t S, const double* mean,
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
void batch_norm_update_running(T* running_mean, T* running_var, const double* mean, const double* m2,
                               int64_t C, int64_t count, double momentum) {
  for (int64_t c = 0; c < C; ++c)
    detail::bn_update_running_one(running_mean, running_var, c, mean[c], m2[c], count, momentum);
}

/// Training forward in one call: per-channel statistics, save_mean[c] = mean,
/// save_invstd[c] = 1/sqrt(M2/(N*S) + eps), y = (x - mean) * save_invstd * weight + bias, and the
/// running-statistic update (skipped for a null running_mean / running_var). weight/bias may be null.
/// Each channel (or, when S = 1, each thread's block of rows) is normalised right after its statistics, while
/// it is still in cache. save_mean/save_invstd may not be null.
template <class T>
void batch_norm_forward_train(const T* x, T* y, int64_t N, int64_t C, int64_t S, const T* weight,
                              const T* bias, double eps, double momentum, T* running_mean, T* running_var,
                              double* save_mean, double* save_invstd) {
  static_assert(std::is_floating_point_v<T>, "batch norm kernels take float or double");
  if (C <= 0) return;
  const int64_t count = N * S;
  if (count <= 0) {
    std::fill(save_mean, save_mean + C, 0.0);
    std::fill(save_invstd, save_invstd + C, 0.0);
    return;
  }
  const int64_t total = N * C * S;
  const double dcount = static_cast<double>(count);
  if (S > 1) {
    std::vector<double> partial(
        static_cast<size_t>(3 * detail::bn_max_items(C, parallel_team_max_threads(total))));
    parallel_team(total, [&](int64_t tid, int64_t nthreads) {
      detail::bn_for_group_parts(
          tid, nthreads, C,
          [&](int64_t c, int64_t part, int64_t parts) {
            double* p = &partial[static_cast<size_t>(3 * (c * parts + part))];
            detail::bn_planar_stats(x, C, S, c, detail::bn_planar_part(N, S, part, parts), p[0], p[1], p[2]);
          },
          [&](int64_t c, int64_t part, int64_t parts) {
            double n = 0, mu = 0, sq = 0;
            for (int64_t k = 0; k < parts; ++k) {
              const double* p = &partial[static_cast<size_t>(3 * (c * parts + k))];
              detail::bn_chan_merge(n, mu, sq, p[0], p[1], p[2]);
            }
            const double invstd = detail::bn_invstd(sq, dcount, eps);
            const auto k = detail::bn_affine(mu, invstd, weight, bias, c);
            detail::bn_for_runs(C, S, c, detail::bn_planar_part(N, S, part, parts),
                                [&](int64_t o, int64_t len) {
                                  detail::bn_affine_run(x + o, y + o, len, k.pivot, k.alpha, k.beta);
                                });
            if (part == 0) {
              save_mean[c] = mu;
              save_invstd[c] = invstd;
              detail::bn_update_running_one(running_mean, running_var, c, mu, sq, count, momentum);
            }
          });
    });
    return;
  }
  // S = 1: statistics of each thread's block of rows, a barrier, the merge of a block of channels per
  // thread (constants for every channel), a barrier, then each thread normalises its own rows, which
  // it has just read (in L2 when a block is under ~1 MiB).
  const int64_t max_threads = parallel_team_max_threads(total);
  const int64_t stride = 2 * C + 1;
  std::vector<double> partial(static_cast<size_t>(stride * max_threads));
  std::vector<T> work(static_cast<size_t>(4 * C * max_threads));
  std::vector<T> k(static_cast<size_t>(3 * C));  // pivot, alpha, beta
  T* pivot = k.data();
  T* alpha = pivot + C;
  T* beta = alpha + C;
  parallel_team(total, [&](int64_t tid, int64_t nthreads) {
    const int64_t n0 = split_range(N, nthreads, tid), n1 = split_range(N, nthreads, tid + 1);
    double* p = &partial[static_cast<size_t>(stride * tid)];
    detail::bn_rows_stats(x, C, n0, n1, p[0], p + 1, p + 1 + C, &work[static_cast<size_t>(4 * C * tid)]);
    team_barrier(nthreads);
    for (int64_t c = split_range(C, nthreads, tid), end = split_range(C, nthreads, tid + 1); c < end; ++c) {
      double n = 0, mu = 0, sq = 0;
      detail::bn_rows_merge(partial.data(), C, nthreads, c, n, mu, sq);
      const double invstd = detail::bn_invstd(sq, dcount, eps);
      const auto a = detail::bn_affine(mu, invstd, weight, bias, c);
      pivot[c] = a.pivot;
      alpha[c] = a.alpha;
      beta[c] = a.beta;
      save_mean[c] = mu;
      save_invstd[c] = invstd;
      detail::bn_update_running_one(running_mean, running_var, c, mu, sq, count, momentum);
    }
    team_barrier(nthreads);
    detail::bn_rows_affine(x, y, C, n0, n1, pivot, alpha, beta);
  });
}

/// Eval forward, one streaming pass: y = (x - running_mean[c]) * weight[c] / sqrt(running_var[c] + eps) +
/// bias[c]. weight/bias may be null. The subtraction comes before the scaling (see the derivation at the
/// top).
template <class T>
void batch_norm_forward_eval(const T* x, T* y, int64_t N, int64_t C, int64_t S, const T* running_mean,
                             const T* running_var, const T* weight, const T* bias, double eps) {
  static_assert(std::is_floating_point_v<T>, "batch norm kernels take float or double");
  if (C <= 0 || N * S <= 0) return;
  std::vector<T> pivot(static_cast<size_t>(C)), alpha(static_cast<size_t>(C)), beta(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) {
    const auto k =
        detail::bn_affine(static_cast<double>(running_mean[c]),
                          1.0 / std::sqrt(static_cast<double>(running_var[c]) + eps), weight, bias, c);
    pivot[static_cast<size_t>(c)] = k.pivot;
    alpha[static_cast<size_t>(c)] = k.alpha;
    beta[static_cast<size_t>(c)] = k.beta;
  }
  detail::bn_affine_all(x, y, N, C, S, pivot.data(), alpha.data(), beta.data());
}

/// sum_dy[c] = sum dy, sum_dy_xmu[c] = sum dy * (x - mean[c]), one pass over dy and x (chunks summed in T
/// about p = T(mean), results in double).
template <class T>
void batch_norm_backward_reduce(const T* dy, const T* x, int64_t N, int64_t C, int64_t S, const double* mean,
                                double* sum_dy, double* sum_dy_xmu) {
  static_assert(std::is_floating_point_v<T>, "batch norm kernels take float or double");
  if (C <= 0) return;
  std::fill(sum_dy, sum_dy + C, 0.0);
  std::fill(sum_dy_xmu, sum_dy_xmu + C, 0.0);
  if (N * S <= 0) return;
  const int64_t total = N * C * S;
  if (S > 1) {
    std::vector<double> partial(
        static_cast<size_t>(2 * detail::bn_max_items(C, parallel_team_max_threads(total))));
    parallel_team(total, [&](int64_t tid, int64_t nthreads) {
      detail::bn_for_group_parts(
          tid, nthreads, C,
          [&](int64_t c, int64_t part, int64_t parts) {
            double* p = &partial[static_cast<size_t>(2 * (c * parts + part))];
            detail::bn_planar_dy_xmu(dy, x, C, S, c, detail::bn_planar_part(N, S, part, parts), mean[c], p[0],
                                     p[1]);
          },
          [&](int64_t c, int64_t part, int64_t parts) {
            if (part != 0) return;
            for (int64_t k = 0; k < parts; ++k) {
              sum_dy[c] += partial[static_cast<size_t>(2 * (c * parts + k))];
              sum_dy_xmu[c] += partial[static_cast<size_t>(2 * (c * parts + k) + 1)];
            }
          });
    });
    return;
  }
  // S = 1: per-thread blocks of rows, then per-thread blocks of channels summed over the partials.
  const int64_t max_threads = parallel_team_max_threads(total);
  std::vector<double> partial(static_cast<size_t>(2 * C * max_threads));
  std::vector<T> work(static_cast<size_t>(3 * C * max_threads));
  parallel_team(total, [&](int64_t tid, int64_t nthreads) {
    double* p = &partial[static_cast<size_t>(2 * C * tid)];
    detail::bn_rows_dy_xmu(dy, x, C, split_range(N, nthreads, tid), split_range(N, nthreads, tid + 1), mean,
                           p, p + C, &work[static_cast<size_t>(3 * C * tid)]);
    team_barrier(nthreads);
    for (int64_t c = split_range(C, nthreads, tid), end = split_range(C, nthreads, tid + 1); c < end; ++c)
      detail::bn_rows_sum(partial.data(), C, nthreads, c, sum_dy[c], sum_dy_xmu[c]);
  });
}

/// Training dx from reduced sums: dx = weight * invstd * (dy - sum_dy/count - (x - mean) * invstd^2 *
/// sum_dy_xmu/count). weight may be null. count is the number of values per channel the sums were taken over
/// (global for SyncBatchNorm).
template <class T>
void batch_norm_backward_elemt(const T* dy, const T* x, T* dx, int64_t N, int64_t C, int64_t S,
                               const double* mean, const double* invstd, const T* weight,
                               const double* sum_dy, const double* sum_dy_xmu, int64_t count) {
  static_assert(std::is_floating_point_v<T>, "batch norm kernels take float or double");
  if (C <= 0 || N * S <= 0) return;
  std::vector<detail::BnDx<T>> k(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c)
    k[static_cast<size_t>(c)] =
        detail::bn_dx_constants(mean[c], invstd[c], weight, c, sum_dy[c], sum_dy_xmu[c], count);
  if (S == 1) {
    std::vector<T> pivot(static_cast<size_t>(C)), k_dy(static_cast<size_t>(C)), k_x(static_cast<size_t>(C)),
        k_c(static_cast<size_t>(C));
    for (size_t c = 0; c < static_cast<size_t>(C); ++c) {
      pivot[c] = k[c].pivot;
      k_dy[c] = k[c].k_dy;
      k_x[c] = k[c].k_x;
      k_c[c] = k[c].k_c;
    }
    detail::bn_stream(N * C, [&](int64_t begin, int64_t end) {
      detail::bn_for_row_runs(C, begin, end, [&](int64_t o, int64_t len, int64_t c0) {
        detail::bn_rows_dx(dy + o, x + o, dx + o, len, 0, 1, pivot.data() + c0, k_dy.data() + c0,
                           k_x.data() + c0, k_c.data() + c0);
      });
    });
    return;
  }
  detail::bn_stream(N * C * S, [&](int64_t begin, int64_t end) {
    detail::bn_for_plane_runs(C, S, begin, end, [&](int64_t o, int64_t len, int64_t c) {
      const auto& kc = k[static_cast<size_t>(c)];
      detail::bn_dx_run(dy + o, x + o, dx + o, len, kc.pivot, kc.k_dy, kc.k_x, kc.k_c);
    });
  });
}

/// Fused backward. training = true: save_mean/save_invstd are the batch statistics from
/// batch_norm_forward_train and dx is the full training gradient (one reduction pass, then dx from
/// cache). training = false: save_mean/save_invstd are the constants the forward used (running_mean and
/// 1/sqrt(running_var + eps)) and dx = dy * weight * invstd, written in the same pass as the reduction.
/// grad_weight[c] = sum dy * (x - mean) * invstd, grad_bias[c] = sum dy. weight may be null (1);
/// dx, grad_weight and grad_bias may each be null (not computed).
template <class T>
void batch_norm_backward(const T* dy, const T* x, int64_t N, int64_t C, int64_t S, const T* weight,
                         const double* save_mean, const double* save_invstd, bool training, T* dx,
                         T* grad_weight, T* grad_bias) {
  static_assert(std::is_floating_point_v<T>, "batch norm kernels take float or double");
  if (C <= 0) return;
  const int64_t count = N * S;
  if (count <= 0) {
    if (grad_weight) std::fill(grad_weight, grad_weight + C, T(0));
    if (grad_bias) std::fill(grad_bias, grad_bias + C, T(0));
    return;
  }
  const bool need_sums = grad_weight || grad_bias || (training && dx);
  const int64_t total = N * C * S;
  if (!need_sums) {
    if (!dx) return;
    // Eval-mode dx only: dx = dy * weight * invstd.
    std::vector<T> zero(static_cast<size_t>(C), T(0)), scale(static_cast<size_t>(C));
    for (int64_t c = 0; c < C; ++c)
      scale[static_cast<size_t>(c)] =
          static_cast<T>((weight ? static_cast<double>(weight[c]) : 1.0) * save_invstd[c]);
    detail::bn_affine_all(dy, dx, N, C, S, zero.data(), scale.data(), zero.data());
    return;
  }
  auto write_grads = [&](int64_t c, double sum_dy, double sum_dy_xmu) {
    if (grad_weight) grad_weight[c] = static_cast<T>(sum_dy_xmu * save_invstd[c]);
    if (grad_bias) grad_bias[c] = static_cast<T>(sum_dy);
  };
  if (S > 1) {
    std::vector<double> partial(
        static_cast<size_t>(2 * detail::bn_max_items(C, parallel_team_max_threads(total))));
    parallel_team(total, [&](int64_t tid, int64_t nthreads) {
      detail::bn_for_group_parts(
          tid, nthreads, C,
          [&](int64_t c, int64_t part, int64_t parts) {
            double* p = &partial[static_cast<size_t>(2 * (c * parts + part))];
            const auto rect = detail::bn_planar_part(N, S, part, parts);
            detail::bn_planar_dy_xmu(dy, x, C, S, c, rect, save_mean[c], p[0], p[1]);
            if (!training && dx) {
              // dx does not depend on the sums: write it right after the reduction, from cache.
              const T k_dy = static_cast<T>((weight ? static_cast<double>(weight[c]) : 1.0) * save_invstd[c]);
              detail::bn_for_runs(C, S, c, rect, [&](int64_t o, int64_t len) {
                detail::bn_affine_run(dy + o, dx + o, len, T(0), k_dy, T(0));
              });
            }
          },
          [&](int64_t c, int64_t part, int64_t parts) {
            double sum_dy = 0, sum_dy_xmu = 0;
            for (int64_t k = 0; k < parts; ++k) {
              sum_dy += partial[static_cast<size_t>(2 * (c * parts + k))];
              sum_dy_xmu += partial[static_cast<size_t>(2 * (c * parts + k) + 1)];
            }
            if (training && dx) {
              const auto k =
                  detail::bn_dx_constants(save_mean[c], save_invstd[c], weight, c, sum_dy, sum_dy_xmu, count);
              detail::bn_for_runs(
                  C, S, c, detail::bn_planar_part(N, S, part, parts), [&](int64_t o, int64_t len) {
                    detail::bn_dx_run(dy + o, x + o, dx + o, len, k.pivot, k.k_dy, k.k_x, k.k_c);
                  });
            }
            if (part == 0) write_grads(c, sum_dy, sum_dy_xmu);
          });
    });
    return;
  }
  // S = 1: as in batch_norm_backward_reduce, then (training) a barrier and dx of each thread's rows,
  // re-read from cache; in eval mode dx is written in the reduction pass.
  const int64_t max_threads = parallel_team_max_threads(total);
  std::vector<double> partial(static_cast<size_t>(2 * C * max_threads));
  std::vector<T> work(static_cast<size_t>(3 * C * max_threads));
  std::vector<T> k(static_cast<size_t>(4 * C));  // pivot, k_dy, k_x, k_c (training) or 0, scale (eval)
  T* pivot = k.data();
  T* k_dy = pivot + C;
  T* k_x = k_dy + C;
  T* k_c = k_x + C;
  const bool eval_dx = !training && dx;
  if (eval_dx)
    for (int64_t c = 0; c < C; ++c)
      k_dy[c] = static_cast<T>((weight ? static_cast<double>(weight[c]) : 1.0) * save_invstd[c]);
  parallel_team(total, [&](int64_t tid, int64_t nthreads) {
    const int64_t n0 = split_range(N, nthreads, tid), n1 = split_range(N, nthreads, tid + 1);
    double* p = &partial[static_cast<size_t>(2 * C * tid)];
    detail::bn_rows_dy_xmu(dy, x, C, n0, n1, save_mean, p, p + C, &work[static_cast<size_t>(3 * C * tid)]);
    if (eval_dx) detail::bn_rows_affine(dy, dx, C, n0, n1, pivot, k_dy, pivot);  // pivot is all zeros here
    team_barrier(nthreads);
    for (int64_t c = split_range(C, nthreads, tid), end = split_range(C, nthreads, tid + 1); c < end; ++c) {
      double sum_dy = 0, sum_dy_xmu = 0;
      detail::bn_rows_sum(partial.data(), C, nthreads, c, sum_dy, sum_dy_xmu);
      if (training && dx) {
        const auto a =
            detail::bn_dx_constants(save_mean[c], save_invstd[c], weight, c, sum_dy, sum_dy_xmu, count);
        pivot[c] = a.pivot;
        k_dy[c] = a.k_dy;
        k_x[c] = a.k_x;
        k_c[c] = a.k_c;
      }
      write_grads(c, sum_dy, sum_dy_xmu);
    }
    if (training && dx) {
      team_barrier(nthreads);
      detail::bn_rows_dx(dy, x, dx, C, n0, n1, pivot, k_dy, k_x, k_c);
    }
  });
}

}  // namespace hnn::kernels::cpu
