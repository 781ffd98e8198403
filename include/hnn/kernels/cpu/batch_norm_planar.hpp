// The CPU batch-norm kernels for planar inputs (N, C, S) with S > 1: one function per pass (statistics,
// training forward, elementwise normalisation, backward reduce, backward elementwise, fused backward).
// A work group is one channel, whose N rows are contiguous runs of S values. Depends on
// kernels/cpu/batch_norm_common.hpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "hnn/kernels/cpu/batch_norm_common.hpp"

namespace hnn::kernels::cpu::detail {

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
    batch_norm_math::chan_merge(count, mean, m2, piece_count, piece_mean, piece_m2);
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

// ---------------------------------------------------------------------------------------------
// Passes. Channels are shared among the threads of one team; when there are too few to keep every
// thread equally busy a channel is cut into parts (bn_for_group_parts) whose partials are merged after
// a barrier by every thread owning a part of it.

/// Per-channel mean and M2 (BatchNorm::stats, S > 1, N*S > 0).
template <class T>
void planar_stats(const T* x, int64_t N, int64_t C, int64_t S, double* mean, double* m2) {
  const int64_t total = N * C * S;
  std::vector<double> partial(static_cast<size_t>(3 * bn_max_items(C, parallel_team_max_threads(total))));
  parallel_team(total, [&](int64_t tid, int64_t nthreads) {
    bn_for_group_parts(
        tid, nthreads, C,
        [&](int64_t c, int64_t part, int64_t parts) {
          double* p = &partial[static_cast<size_t>(3 * (c * parts + part))];
          bn_planar_stats(x, C, S, c, bn_planar_part(N, S, part, parts), p[0], p[1], p[2]);
        },
        [&](int64_t c, int64_t part, int64_t parts) {
          if (part != 0) return;
          double count = 0, merged_mean = 0, merged_m2 = 0;
          for (int64_t k = 0; k < parts; ++k) {
            const double* p = &partial[static_cast<size_t>(3 * (c * parts + k))];
            batch_norm_math::chan_merge(count, merged_mean, merged_m2, p[0], p[1], p[2]);
          }
          mean[c] = merged_mean;
          m2[c] = merged_m2;
        });
  });
}

/// Training forward (BatchNorm::forward_train, S > 1, N*S > 0): each part of a channel is normalised by
/// the thread that reduced it, right after the merge, while it is still in that thread's cache.
template <class T>
void planar_forward_train(const T* x, T* y, int64_t N, int64_t C, int64_t S, const T* weight, const T* bias,
                          double eps, double momentum, T* running_mean, T* running_var, double* save_mean,
                          double* save_invstd) {
  const int64_t count = N * S;
  const int64_t total = N * C * S;
  const double dcount = static_cast<double>(count);
  std::vector<double> partial(static_cast<size_t>(3 * bn_max_items(C, parallel_team_max_threads(total))));
  parallel_team(total, [&](int64_t tid, int64_t nthreads) {
    bn_for_group_parts(
        tid, nthreads, C,
        [&](int64_t c, int64_t part, int64_t parts) {
          double* p = &partial[static_cast<size_t>(3 * (c * parts + part))];
          bn_planar_stats(x, C, S, c, bn_planar_part(N, S, part, parts), p[0], p[1], p[2]);
        },
        [&](int64_t c, int64_t part, int64_t parts) {
          double n = 0, merged_mean = 0, merged_m2 = 0;
          for (int64_t k = 0; k < parts; ++k) {
            const double* p = &partial[static_cast<size_t>(3 * (c * parts + k))];
            batch_norm_math::chan_merge(n, merged_mean, merged_m2, p[0], p[1], p[2]);
          }
          const double invstd = batch_norm_math::invstd(merged_m2, dcount, eps);
          const auto k = bn_affine(merged_mean, invstd, weight, bias, c);
          bn_for_runs(C, S, c, bn_planar_part(N, S, part, parts), [&](int64_t o, int64_t len) {
            bn_affine_run(x + o, y + o, len, k.pivot, k.alpha, k.beta);
          });
          if (part == 0) {
            save_mean[c] = merged_mean;
            save_invstd[c] = invstd;
            bn_update_running_one(running_mean, running_var, c, merged_mean, merged_m2, count, momentum);
          }
        });
  });
}

/// y = (x - pivot[c]) * alpha[c] + beta[c] over the whole tensor, streamed (S > 1).
template <class T>
void planar_affine_all(const T* x, T* y, int64_t N, int64_t C, int64_t S, const T* pivot, const T* alpha,
                       const T* beta) {
  bn_stream(N * C * S, [&](int64_t begin, int64_t end) {
    bn_for_plane_runs(C, S, begin, end, [&](int64_t o, int64_t len, int64_t c) {
      bn_affine_run(x + o, y + o, len, pivot[c], alpha[c], beta[c]);
    });
  });
}

/// sum_dy[c] += sum dy, sum_dy_xmu[c] += sum dy * (x - mean[c]) (BatchNorm::backward_reduce, S > 1,
/// N*S > 0; the sums arrive zeroed).
template <class T>
void planar_backward_reduce(const T* dy, const T* x, int64_t N, int64_t C, int64_t S, const double* mean,
                            double* sum_dy, double* sum_dy_xmu) {
  const int64_t total = N * C * S;
  std::vector<double> partial(static_cast<size_t>(2 * bn_max_items(C, parallel_team_max_threads(total))));
  parallel_team(total, [&](int64_t tid, int64_t nthreads) {
    bn_for_group_parts(
        tid, nthreads, C,
        [&](int64_t c, int64_t part, int64_t parts) {
          double* p = &partial[static_cast<size_t>(2 * (c * parts + part))];
          bn_planar_dy_xmu(dy, x, C, S, c, bn_planar_part(N, S, part, parts), mean[c], p[0], p[1]);
        },
        [&](int64_t c, int64_t part, int64_t parts) {
          if (part != 0) return;
          for (int64_t k = 0; k < parts; ++k) {
            sum_dy[c] += partial[static_cast<size_t>(2 * (c * parts + k))];
            sum_dy_xmu[c] += partial[static_cast<size_t>(2 * (c * parts + k) + 1)];
          }
        });
  });
}

/// dx = k_dy * dy + k_x * (x - pivot) + k_c with channel c's constants k[c], streamed (S > 1).
template <class T>
void planar_backward_elemt(const T* dy, const T* x, T* dx, int64_t N, int64_t C, int64_t S,
                           const BnDx<T>* k) {
  bn_stream(N * C * S, [&](int64_t begin, int64_t end) {
    bn_for_plane_runs(C, S, begin, end, [&](int64_t o, int64_t len, int64_t c) {
      const auto& kc = k[c];
      bn_dx_run(dy + o, x + o, dx + o, len, kc.pivot, kc.k_dy, kc.k_x, kc.k_c);
    });
  });
}

/// Fused backward (BatchNorm::backward with sums needed, S > 1, N*S > 0): the reduction of each part,
/// then, after the merge, its dx from cache (training) or dx right after the reduction (eval).
template <class T>
void planar_backward(const T* dy, const T* x, int64_t N, int64_t C, int64_t S, const T* weight,
                     const double* save_mean, const double* save_invstd, bool training, T* dx, T* grad_weight,
                     T* grad_bias) {
  const int64_t count = N * S;
  const int64_t total = N * C * S;
  std::vector<double> partial(static_cast<size_t>(2 * bn_max_items(C, parallel_team_max_threads(total))));
  parallel_team(total, [&](int64_t tid, int64_t nthreads) {
    bn_for_group_parts(
        tid, nthreads, C,
        [&](int64_t c, int64_t part, int64_t parts) {
          double* p = &partial[static_cast<size_t>(2 * (c * parts + part))];
          const auto rect = bn_planar_part(N, S, part, parts);
          bn_planar_dy_xmu(dy, x, C, S, c, rect, save_mean[c], p[0], p[1]);
          if (!training && dx) {
            // dx does not depend on the sums: write it right after the reduction, from cache.
            const T k_dy = static_cast<T>(bn_weight_or_one(weight, c) * save_invstd[c]);
            bn_for_runs(C, S, c, rect, [&](int64_t o, int64_t len) {
              bn_affine_run(dy + o, dx + o, len, T(0), k_dy, T(0));
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
                bn_dx_constants(save_mean[c], save_invstd[c], weight, c, sum_dy, sum_dy_xmu, count);
            bn_for_runs(C, S, c, bn_planar_part(N, S, part, parts), [&](int64_t o, int64_t len) {
              bn_dx_run(dy + o, x + o, dx + o, len, k.pivot, k.k_dy, k.k_x, k.k_c);
            });
          }
          if (part == 0) {
            if (grad_weight)
              grad_weight[c] = static_cast<T>(batch_norm_math::grad_weight(sum_dy_xmu, save_invstd[c]));
            if (grad_bias) grad_bias[c] = static_cast<T>(sum_dy);
          }
        });
  });
}

}  // namespace hnn::kernels::cpu::detail
