// The CPU batch-norm kernels for row inputs (N, C), i.e. S = 1: one function per pass (statistics,
// training forward, elementwise normalisation, backward reduce, backward elementwise, fused backward).
// Each thread of a team takes a block of whole rows and streams it in memory order. Depends on
// kernels/cpu/batch_norm_common.hpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "hnn/core/eigen.hpp"
#include "hnn/kernels/cpu/batch_norm_common.hpp"

namespace hnn::kernels::cpu::detail {

// ---------------------------------------------------------------------------------------------
// Row-major (S = 1) primitives. An (N, C) input is cut into blocks of whole rows, one per thread; the
// inner loops run across the C contiguous channels of a row and accumulate into per-channel double
// arrays, so memory is streamed in order (a strip of channels over all rows would touch a new page
// every row and miss the TLB). Two rows per step halve the loads and stores of the accumulators.

/// Rows per chunk of bn_rows_stats / bn_rows_dy_xmu: about bn_row_chunk_bytes of x (re-read from L2
/// by the deviation pass), at most bn_row_chunk_rows so a float accumulator adds few terms.
inline constexpr int64_t bn_row_chunk_bytes = int64_t{256} * 1024;
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
    // Every channel of the chunk has the same two counts: Chan's weights once for the whole row, and
    // branch-free loops over the channels, which vectorise (a merge per channel per chunk is otherwise
    // most of the time of this function).
    if (count == 0) {
      for (int64_t j = 0; j < C; ++j) {
        const double d1 = static_cast<double>(s1[j]);
        mean[j] = static_cast<double>(pivot[j]) + d1 / chunk_count;
        m2[j] = std::max(0.0, static_cast<double>(s2[j]) - d1 * (d1 / chunk_count));
      }
    } else {
      const auto weights = batch_norm_math::chan_weights(count, chunk_count);
      for (int64_t j = 0; j < C; ++j) {
        const double d1 = static_cast<double>(s1[j]);
        const double chunk_mean = static_cast<double>(pivot[j]) + d1 / chunk_count;
        const double chunk_m2 = std::max(0.0, static_cast<double>(s2[j]) - d1 * (d1 / chunk_count));
        batch_norm_math::chan_merge_weighted(mean[j], m2[j], chunk_mean, chunk_m2, weights);
      }
    }
    count += chunk_count;
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

/// Calls row(r, rows) for rows [n0, n1) in groups of up to bn_rows_per_step rows: the elementwise passes
/// load each channel's constants once per group rather than once per row (with three or four constant
/// arrays beside x, loads rather than memory bound the pass otherwise).
inline constexpr int bn_rows_per_step = 4;

/// Applies f(row k, j) elementwise over `rows` rows of C channels (1 <= rows <= bn_rows_per_step),
/// packet by packet in j: load(j) gives the channel constants, as packets, once for all rows.
template <class T, class Load, class Packet4, class Scalar>
inline void bn_rows_step(int64_t C, int rows, Load&& load, Packet4&& apply, Scalar&& scalar) {
  constexpr int64_t W = Eigen::internal::packet_traits<T>::size;
  int64_t j = 0;
  for (; j + W <= C; j += W) {
    const auto k = load(j);
    for (int r = 0; r < rows; ++r) apply(r, j, k);
  }
  for (; j < C; ++j)
    for (int r = 0; r < rows; ++r) scalar(r, j);
}

/// Lane 0 of a packet, by a store (GCC 12 warns about the _mm_undefined_ps inside Eigen's pfirst with
/// AVX-512).
template <class T, class P>
inline T bn_lane0(const P& packet) {
  T lanes[Eigen::internal::packet_traits<T>::size];
  Eigen::internal::pstoreu(lanes, packet);
  return lanes[0];
}

/// Rows [n0, n1): y = (x - pivot) * alpha + beta with per-channel constants (x may equal y: every value
/// is read before it is written, and rows never overlap).
template <class T>
void bn_rows_affine(const T* x, T* y, int64_t C, int64_t n0, int64_t n1, const T* pivot, const T* alpha,
                    const T* beta) {
  namespace ei = Eigen::internal;
  using P = typename ei::packet_traits<T>::type;
  struct K {
    P pivot, alpha, beta;
  };
  for (int64_t r0 = n0; r0 < n1; r0 += bn_rows_per_step) {
    const int rows = static_cast<int>(std::min<int64_t>(bn_rows_per_step, n1 - r0));
    const T* xr = x + r0 * C;
    T* yr = y + r0 * C;
    bn_rows_step<T>(
        C, rows,
        [&](int64_t j) {
          return K{ei::ploadu<P>(pivot + j), ei::ploadu<P>(alpha + j), ei::ploadu<P>(beta + j)};
        },
        [&](int r, int64_t j, const K& k) {
          const int64_t o = r * C + j;
          ei::pstoreu(yr + o, ei::pmadd(ei::psub(ei::ploadu<P>(xr + o), k.pivot), k.alpha, k.beta));
        },
        [&](int r, int64_t j) {
          // Through packets too, so a value rounds the same whichever pass or thread range writes it.
          const int64_t o = r * C + j;
          yr[o] = bn_lane0<T>(ei::pmadd(ei::psub(ei::pset1<P>(xr[o]), ei::pset1<P>(pivot[j])),
                                        ei::pset1<P>(alpha[j]), ei::pset1<P>(beta[j])));
        });
  }
}

/// Rows [n0, n1): dx = k_dy * dy + k_x * (x - pivot) + k_c with per-channel constants.
template <class T>
void bn_rows_dx(const T* dy, const T* x, T* dx, int64_t C, int64_t n0, int64_t n1, const T* pivot,
                const T* k_dy, const T* k_x, const T* k_c) {
  namespace ei = Eigen::internal;
  using P = typename ei::packet_traits<T>::type;
  struct K {
    P pivot, k_dy, k_x, k_c;
  };
  for (int64_t r0 = n0; r0 < n1; r0 += bn_rows_per_step) {
    const int rows = static_cast<int>(std::min<int64_t>(bn_rows_per_step, n1 - r0));
    const T* gr = dy + r0 * C;
    const T* xr = x + r0 * C;
    T* dr = dx + r0 * C;
    bn_rows_step<T>(
        C, rows,
        [&](int64_t j) {
          return K{ei::ploadu<P>(pivot + j), ei::ploadu<P>(k_dy + j), ei::ploadu<P>(k_x + j),
                   ei::ploadu<P>(k_c + j)};
        },
        [&](int r, int64_t j, const K& k) {
          const int64_t o = r * C + j;
          const P term = ei::pmadd(ei::psub(ei::ploadu<P>(xr + o), k.pivot), k.k_x, k.k_c);
          ei::pstoreu(dr + o, ei::pmadd(ei::ploadu<P>(gr + o), k.k_dy, term));
        },
        [&](int r, int64_t j) {
          const int64_t o = r * C + j;
          const P term = ei::pmadd(ei::psub(ei::pset1<P>(xr[o]), ei::pset1<P>(pivot[j])),
                                   ei::pset1<P>(k_x[j]), ei::pset1<P>(k_c[j]));
          dr[o] = bn_lane0<T>(ei::pmadd(ei::pset1<P>(gr[o]), ei::pset1<P>(k_dy[j]), term));
        });
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
    batch_norm_math::chan_merge(count, mean, m2, p[0], p[1 + c], p[1 + C + c]);
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

/// Splits [begin, end) of an (N, C) tensor into whole rows and the partial rows at its ends: part(offset,
/// len, c0) for a piece of one row starting at channel c0, rows(r0, r1) for the whole rows [r0, r1).
template <class Part, class Rows>
inline void bn_for_row_blocks(int64_t C, int64_t begin, int64_t end, Part&& part, Rows&& rows) {
  if (begin >= end) return;
  if (begin % C != 0) {
    const int64_t len = std::min(C - begin % C, end - begin);
    part(begin, len, begin % C);
    begin += len;
  }
  const int64_t r0 = begin / C, r1 = end / C;
  if (r1 > r0) rows(r0, r1);
  begin = std::max(begin, r1 * C);
  if (begin < end) part(begin, end - begin, int64_t{0});
}

// ---------------------------------------------------------------------------------------------
// Passes. Each thread reduces its block of rows over all channels; after a barrier each merges a block
// of channels over the threads' partials (in thread order: deterministic for a thread count).

/// Per-channel mean and M2 (BatchNorm::stats, S = 1, N > 0).
template <class T>
void rows_stats(const T* x, int64_t N, int64_t C, double* mean, double* m2) {
  const int64_t total = N * C;
  const int64_t max_threads = parallel_team_max_threads(total);
  const int64_t stride = 2 * C + 1;
  std::vector<double> partial(static_cast<size_t>(stride * max_threads));
  std::vector<T> work(static_cast<size_t>(4 * C * max_threads));
  parallel_team(total, [&](int64_t tid, int64_t nthreads) {
    double* p = &partial[static_cast<size_t>(stride * tid)];
    bn_rows_stats(x, C, split_range(N, nthreads, tid), split_range(N, nthreads, tid + 1), p[0], p + 1,
                  p + 1 + C, &work[static_cast<size_t>(4 * C * tid)]);
    team_barrier(nthreads);
    for (int64_t c = split_range(C, nthreads, tid), end = split_range(C, nthreads, tid + 1); c < end; ++c) {
      double count = 0;
      bn_rows_merge(partial.data(), C, nthreads, c, count, mean[c], m2[c]);
    }
  });
}

/// Training forward (BatchNorm::forward_train, S = 1, N > 0): statistics of each thread's block of rows, a
/// barrier, the merge of a block of channels per thread (constants for every channel), a barrier, then
/// each thread normalises its own rows, which it has just read (in L2 when a block is under ~1 MiB).
template <class T>
void rows_forward_train(const T* x, T* y, int64_t N, int64_t C, const T* weight, const T* bias, double eps,
                        double momentum, T* running_mean, T* running_var, double* save_mean,
                        double* save_invstd) {
  const int64_t count = N;
  const int64_t total = N * C;
  const double dcount = static_cast<double>(count);
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
    bn_rows_stats(x, C, n0, n1, p[0], p + 1, p + 1 + C, &work[static_cast<size_t>(4 * C * tid)]);
    team_barrier(nthreads);
    for (int64_t c = split_range(C, nthreads, tid), end = split_range(C, nthreads, tid + 1); c < end; ++c) {
      double n = 0, merged_mean = 0, merged_m2 = 0;
      bn_rows_merge(partial.data(), C, nthreads, c, n, merged_mean, merged_m2);
      const double invstd = batch_norm_math::invstd(merged_m2, dcount, eps);
      const auto a = bn_affine(merged_mean, invstd, weight, bias, c);
      pivot[c] = a.pivot;
      alpha[c] = a.alpha;
      beta[c] = a.beta;
      save_mean[c] = merged_mean;
      save_invstd[c] = invstd;
      bn_update_running_one(running_mean, running_var, c, merged_mean, merged_m2, count, momentum);
    }
    team_barrier(nthreads);
    bn_rows_affine(x, y, C, n0, n1, pivot, alpha, beta);
  });
}

/// y = (x - pivot[c]) * alpha[c] + beta[c] over all N * C values, streamed (S = 1).
template <class T>
void rows_affine_all(const T* x, T* y, int64_t N, int64_t C, const T* pivot, const T* alpha, const T* beta) {
  bn_stream(N * C, [&](int64_t begin, int64_t end) {
    bn_for_row_blocks(
        C, begin, end,
        [&](int64_t o, int64_t len, int64_t c0) {
          bn_rows_affine(x + o, y + o, len, 0, 1, pivot + c0, alpha + c0, beta + c0);
        },
        [&](int64_t r0, int64_t r1) { bn_rows_affine(x, y, C, r0, r1, pivot, alpha, beta); });
  });
}

/// sum_dy[c] = sum dy, sum_dy_xmu[c] = sum dy * (x - mean[c]) (BatchNorm::backward_reduce, S = 1, N > 0):
/// per-thread blocks of rows, then per-thread blocks of channels summed over the partials.
template <class T>
void rows_backward_reduce(const T* dy, const T* x, int64_t N, int64_t C, const double* mean, double* sum_dy,
                          double* sum_dy_xmu) {
  const int64_t total = N * C;
  const int64_t max_threads = parallel_team_max_threads(total);
  std::vector<double> partial(static_cast<size_t>(2 * C * max_threads));
  std::vector<T> work(static_cast<size_t>(3 * C * max_threads));
  parallel_team(total, [&](int64_t tid, int64_t nthreads) {
    double* p = &partial[static_cast<size_t>(2 * C * tid)];
    bn_rows_dy_xmu(dy, x, C, split_range(N, nthreads, tid), split_range(N, nthreads, tid + 1), mean, p, p + C,
                   &work[static_cast<size_t>(3 * C * tid)]);
    team_barrier(nthreads);
    for (int64_t c = split_range(C, nthreads, tid), end = split_range(C, nthreads, tid + 1); c < end; ++c)
      bn_rows_sum(partial.data(), C, nthreads, c, sum_dy[c], sum_dy_xmu[c]);
  });
}

/// dx = k_dy * dy + k_x * (x - pivot) + k_c with channel c's constants k[c], streamed (S = 1).
template <class T>
void rows_backward_elemt(const T* dy, const T* x, T* dx, int64_t N, int64_t C, const BnDx<T>* k) {
  std::vector<T> pivot(static_cast<size_t>(C)), k_dy(static_cast<size_t>(C)), k_x(static_cast<size_t>(C)),
      k_c(static_cast<size_t>(C));
  for (size_t c = 0; c < static_cast<size_t>(C); ++c) {
    pivot[c] = k[c].pivot;
    k_dy[c] = k[c].k_dy;
    k_x[c] = k[c].k_x;
    k_c[c] = k[c].k_c;
  }
  bn_stream(N * C, [&](int64_t begin, int64_t end) {
    bn_for_row_blocks(
        C, begin, end,
        [&](int64_t o, int64_t len, int64_t c0) {
          bn_rows_dx(dy + o, x + o, dx + o, len, 0, 1, pivot.data() + c0, k_dy.data() + c0, k_x.data() + c0,
                     k_c.data() + c0);
        },
        [&](int64_t r0, int64_t r1) {
          bn_rows_dx(dy, x, dx, C, r0, r1, pivot.data(), k_dy.data(), k_x.data(), k_c.data());
        });
  });
}

/// Fused backward (BatchNorm::backward with sums needed, S = 1, N > 0): as rows_backward_reduce, then
/// (training) a barrier and dx of each thread's rows, re-read from cache; in eval mode dx is written in
/// the reduction pass.
template <class T>
void rows_backward(const T* dy, const T* x, int64_t N, int64_t C, const T* weight, const double* save_mean,
                   const double* save_invstd, bool training, T* dx, T* grad_weight, T* grad_bias) {
  const int64_t count = N;
  const int64_t total = N * C;
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
    for (int64_t c = 0; c < C; ++c) k_dy[c] = static_cast<T>(bn_weight_or_one(weight, c) * save_invstd[c]);
  parallel_team(total, [&](int64_t tid, int64_t nthreads) {
    const int64_t n0 = split_range(N, nthreads, tid), n1 = split_range(N, nthreads, tid + 1);
    double* p = &partial[static_cast<size_t>(2 * C * tid)];
    bn_rows_dy_xmu(dy, x, C, n0, n1, save_mean, p, p + C, &work[static_cast<size_t>(3 * C * tid)]);
    if (eval_dx) bn_rows_affine(dy, dx, C, n0, n1, pivot, k_dy, pivot);  // pivot is all zeros here
    team_barrier(nthreads);
    for (int64_t c = split_range(C, nthreads, tid), end = split_range(C, nthreads, tid + 1); c < end; ++c) {
      double sum_dy = 0, sum_dy_xmu = 0;
      bn_rows_sum(partial.data(), C, nthreads, c, sum_dy, sum_dy_xmu);
      if (training && dx) {
        const auto a = bn_dx_constants(save_mean[c], save_invstd[c], weight, c, sum_dy, sum_dy_xmu, count);
        pivot[c] = a.pivot;
        k_dy[c] = a.k_dy;
        k_x[c] = a.k_x;
        k_c[c] = a.k_c;
      }
      if (grad_weight)
        grad_weight[c] = static_cast<T>(batch_norm_math::grad_weight(sum_dy_xmu, save_invstd[c]));
      if (grad_bias) grad_bias[c] = static_cast<T>(sum_dy);
    }
    if (training && dx) {
      team_barrier(nthreads);
      bn_rows_dx(dy, x, dx, C, n0, n1, pivot, k_dy, k_x, k_c);
    }
  });
}

}  // namespace hnn::kernels::cpu::detail
