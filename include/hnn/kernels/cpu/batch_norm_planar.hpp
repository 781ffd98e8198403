// The CPU batch-norm kernels for planar inputs (N, C, S) with S > 1: one function per pass (statistics,
// training forward, elementwise normalisation, backward reduce, backward elementwise, fused backward).
// Long planes are streamed in memory order with per-thread sums per channel; short planes are taken a
// channel at a time, each normalised from cache right after its statistics (batch_norm_common.hpp says
// why). Depends on kernels/cpu/batch_norm_common.hpp and Eigen's packets.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include "hnn/core/eigen.hpp"
#include "hnn/kernels/cpu/batch_norm_common.hpp"

// The run primitives below nest several lambdas; GCC stops inlining them at some depth, and an
// accumulator passed by reference into a call lives in memory. Forced inline, the packets stay in
// registers (measured: 25 % of a forward-train on 128x256x14x14 otherwise).
#if defined(__GNUC__)
#define HNN_BN_INLINE [[gnu::always_inline]] inline
#define HNN_BN_LAMBDA_INLINE __attribute__((always_inline))
#else
#define HNN_BN_INLINE inline
#define HNN_BN_LAMBDA_INLINE
#endif

namespace hnn::kernels::cpu::detail {

// ---------------------------------------------------------------------------------------------
// Planar primitives: contiguous runs of one channel. Within a chunk of at most bn_chunk_elems<T> values
// the sums run in T (float for float input) in BnLanes<T>::lanes independent lanes held in registers,
// about a pivot close to the chunk's mean, so every lane adds few small terms; the lanes are then
// reduced in double and chunks are merged in double (Chan).

/// Independent accumulators of one sum: four SIMD registers of Eigen's widest packet for T (16 floats
/// each with AVX-512, 8 with AVX2, 4 with SSE2), enough to hide the add latency. Four named members
/// rather than an array, so that a local copy is always split into registers (GCC keeps an array of
/// packets copied from memory on the stack).
template <class T>
struct BnPackets {
  using Packet = typename Eigen::internal::packet_traits<T>::type;
  static constexpr int width = Eigen::internal::packet_traits<T>::size;
  static constexpr int packets = 4;
  static constexpr int lanes = width * packets;

  Packet p0 = Eigen::internal::pset1<Packet>(T(0)), p1 = p0, p2 = p0, p3 = p0;

  template <int k>
  Packet& at() {
    static_assert(k >= 0 && k < packets);
    if constexpr (k == 0)
      return p0;
    else if constexpr (k == 1)
      return p1;
    else if constexpr (k == 2)
      return p2;
    else
      return p3;
  }
  Packet get(int k) const { return k == 0 ? p0 : k == 1 ? p1 : k == 2 ? p2 : p3; }
};

/// The lanes of one sum: the packets, plus `width` scalar lanes for the last values of a run that fill
/// no whole packet.
template <class T>
struct BnLanes {
  using Packet = typename BnPackets<T>::Packet;
  static constexpr int width = BnPackets<T>::width;
  static constexpr int packets = BnPackets<T>::packets;
  static constexpr int lanes = BnPackets<T>::lanes;

  BnPackets<T> v;
  T tail[width] = {};

  /// Sum of every lane in double, in a fixed pairwise tree.
  double sum() const {
    double lane[lanes];
    T spill[width];
    for (int k = 0; k < packets; ++k) {
      Eigen::internal::pstoreu(spill, v.get(k));
      for (int j = 0; j < width; ++j) lane[k * width + j] = static_cast<double>(spill[j]);
    }
    for (int j = 0; j < width; ++j) lane[j] += static_cast<double>(tail[j]);
    for (int half = lanes / 2; half >= 1; half /= 2)
      for (int j = 0; j < half; ++j) lane[j] += lane[j + half];
    return lane[0];
  }
};

/// Values per chunk of a channel: summed, then re-read from L1 for the deviations; every lane adds at
/// most 64 terms before the lanes are reduced in double (4096 floats with AVX-512, 2048 with AVX2).
template <class T>
inline constexpr int64_t bn_chunk_elems = 64 * BnPackets<T>::lanes;

/// f(std::integral_constant<int, k>) for k = 0 .. K-1, unrolled at compile time.
template <int K, class F>
HNN_BN_INLINE void bn_unroll(F&& f) {
  [&]<int... k>(std::integer_sequence<int, k...>) HNN_BN_LAMBDA_INLINE {
    (f(std::integral_constant<int, k>{}), ...);
  }
  (std::make_integer_sequence<int, K>{});
}

/// Walks one run of len values in the lane layout of BnLanes<T>: block(i, k) for every whole packet at
/// offset i going to register k (whole blocks of all registers first, then the packets left), then
/// scalar(i, j) for each value of the last partial packet, going to tail lane j.
template <class T, class Block, class Scalar>
HNN_BN_INLINE void bn_walk_run(int64_t len, Block&& block, Scalar&& scalar) {
  using L = BnLanes<T>;
  int64_t i = 0;
  for (; i + L::lanes <= len; i += L::lanes)
    bn_unroll<L::packets>([&](auto k) HNN_BN_LAMBDA_INLINE { block(i + k * L::width, k); });
  bn_unroll<L::packets - 1>([&](auto k) HNN_BN_LAMBDA_INLINE {
    if (i + L::width <= len) {
      block(i, k);
      i += L::width;
    }
  });
  for (int j = 0; i < len; ++i, ++j) scalar(i, j);
}

/// Adds one run of len values to two sums A and B: op(i, a, b) for the packet at offset i with its
/// registers a of A and b of B, tail(i, a, b) for a value left over with its tail lanes. A long run works
/// on copies of the packets (registers) and stores them back once; a short one, which touches each
/// packet about once, works on them in place rather than copying them in and out.
template <class T, class Op, class Tail>
HNN_BN_INLINE void bn_accumulate_packets(int64_t len, BnPackets<T>& a, BnPackets<T>& b, T* tail_a, T* tail_b,
                                         Op& op, Tail& tail) {
  bn_walk_run<T>(
      len,
      [&](int64_t i, auto k) HNN_BN_LAMBDA_INLINE {
        constexpr int K = decltype(k)::value;
        op(i, a.template at<K>(), b.template at<K>());
      },
      [&](int64_t i, int j) HNN_BN_LAMBDA_INLINE { tail(i, tail_a[j], tail_b[j]); });
}

template <class T, class Op, class Tail>
HNN_BN_INLINE void bn_accumulate_run(int64_t len, BnLanes<T>& A, BnLanes<T>& B, Op&& op, Tail&& tail) {
  if (len >= 2 * BnLanes<T>::lanes) {
    BnPackets<T> a = A.v, b = B.v;
    bn_accumulate_packets<T>(len, a, b, A.tail, B.tail, op, tail);
    A.v = a;
    B.v = b;
  } else {
    bn_accumulate_packets<T>(len, A.v, B.v, A.tail, B.tail, op, tail);
  }
}

/// acc += x.
template <class T>
HNN_BN_INLINE void bn_sum_run(const T* x, int64_t len, BnLanes<T>& acc) {
  namespace ei = Eigen::internal;
  using P = typename BnLanes<T>::Packet;
  BnLanes<T> unused;
  bn_accumulate_run<T>(
      len, acc, unused,
      [&](int64_t i, P& a, P&) HNN_BN_LAMBDA_INLINE { a = ei::padd(a, ei::ploadu<P>(x + i)); },
      [&](int64_t i, T& a, T&) HNN_BN_LAMBDA_INLINE { a += x[i]; });
}

/// s1 += x - pivot, s2 += (x - pivot)^2. x - pivot is exact when x is within a factor 2 of the pivot.
template <class T>
HNN_BN_INLINE void bn_shifted_run(const T* x, int64_t len, T pivot, BnLanes<T>& s1, BnLanes<T>& s2) {
  namespace ei = Eigen::internal;
  using P = typename BnLanes<T>::Packet;
  const P vp = ei::pset1<P>(pivot);
  bn_accumulate_run<T>(
      len, s1, s2,
      [&](int64_t i, P& a, P& b) HNN_BN_LAMBDA_INLINE {
        const P d = ei::psub(ei::ploadu<P>(x + i), vp);
        a = ei::padd(a, d);
        b = ei::pmadd(d, d, b);
      },
      [&](int64_t i, T& a, T& b) HNN_BN_LAMBDA_INLINE {
        const T d = x[i] - pivot;
        a += d;
        b += d * d;
      });
}

/// acc_dy += dy, acc_dyx += dy * (x - pivot).
template <class T>
HNN_BN_INLINE void bn_dy_xmu_run(const T* dy, const T* x, int64_t len, T pivot, BnLanes<T>& acc_dy,
                                 BnLanes<T>& acc_dyx) {
  namespace ei = Eigen::internal;
  using P = typename BnLanes<T>::Packet;
  const P vp = ei::pset1<P>(pivot);
  bn_accumulate_run<T>(
      len, acc_dy, acc_dyx,
      [&](int64_t i, P& a, P& b) HNN_BN_LAMBDA_INLINE {
        const P g = ei::ploadu<P>(dy + i);
        a = ei::padd(a, g);
        b = ei::pmadd(g, ei::psub(ei::ploadu<P>(x + i), vp), b);
      },
      [&](int64_t i, T& a, T& b) HNN_BN_LAMBDA_INLINE {
        a += dy[i];
        b += dy[i] * (x[i] - pivot);
      });
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
template <class T, class F>
inline void bn_for_chunks(const BnRect& rect, F&& f) {
  const int64_t width = rect.s1 - rect.s0;
  if (width <= 0 || rect.n1 <= rect.n0) return;
  if (width >= bn_chunk_elems<T>) {
    const int64_t pieces = (width + bn_chunk_elems<T> - 1) / bn_chunk_elems<T>;
    for (int64_t n = rect.n0; n < rect.n1; ++n)
      for (int64_t k = 0; k < pieces; ++k)
        f(BnRect{n, n + 1, rect.s0 + split_range(width, pieces, k),
                 rect.s0 + split_range(width, pieces, k + 1)});
  } else {
    const int64_t rows = std::min(bn_chunk_elems<T> / width, bn_chunk_rows);
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
  bn_for_chunks<T>(rect, [&](const BnRect& piece) {
    BnLanes<T> acc;
    bn_for_runs(C, S, c, piece, [&](int64_t offset, int64_t len) { bn_sum_run(x + offset, len, acc); });
    const double piece_count = static_cast<double>(piece.count());
    const T pivot = static_cast<T>(acc.sum() / piece_count);
    BnLanes<T> s1, s2;
    bn_for_runs(C, S, c, piece,
                [&](int64_t offset, int64_t len) { bn_shifted_run(x + offset, len, pivot, s1, s2); });
    const double sum1 = s1.sum(), sum2 = s2.sum();
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
  bn_for_chunks<T>(rect, [&](const BnRect& piece) {
    BnLanes<T> acc_dy, acc_dyx;
    bn_for_runs(C, S, c, piece, [&](int64_t offset, int64_t len) {
      bn_dy_xmu_run(dy + offset, x + offset, len, pivot, acc_dy, acc_dyx);
    });
    total_dy += acc_dy.sum();
    total_dyx += acc_dyx.sum();
  });
  sum_dy = total_dy;
  sum_dy_xmu = total_dyx - (mean - static_cast<double>(pivot)) * total_dy;
}

/// Calls f(offset, len, c) for every run of [begin, end) that stays inside one (n, c) plane of length S.
/// (Divides once: per run it only counts, which matters for short planes.)
template <class F>
inline void bn_for_plane_runs(int64_t C, int64_t S, int64_t begin, int64_t end, F&& f) {
  if (begin >= end) return;
  int64_t c = (begin / S) % C;
  int64_t len = std::min(S - begin % S, end - begin);
  while (true) {
    f(begin, len, c);
    begin += len;
    if (begin >= end) return;
    if (++c == C) c = 0;
    len = std::min(S, end - begin);
  }
}

/// The range of elements [begin, end) thread tid of nthreads streams: contiguous, at multiples of 64.
inline std::pair<int64_t, int64_t> bn_thread_range(int64_t total, int64_t tid, int64_t nthreads) {
  const int64_t blocks = (total + 63) / 64;
  return {std::min(total, split_range(blocks, nthreads, tid) * 64),
          std::min(total, split_range(blocks, nthreads, tid + 1) * 64)};
}

/// One thread's running reduction of one channel: two sums in lanes of T (BnLanes), flushed to double
/// before any lane holds more than bn_flush_terms terms.
template <class T>
struct BnChannelSums {
  BnLanes<T> a, b;
  T pivot = T(0);
  int64_t terms = 0;   // most terms any lane of a and b holds
  int64_t values = 0;  // values in a and b
  double count = 0, first = 0, second = 0;
};

/// Terms per lane before a flush of the lanes to double. 32, not the 64 of a by-channel chunk: the
/// streamed sums of a channel run over all its samples between flushes, and on a LeNet-BN's first batch
/// norm 64 terms left grad_weight's float error at 1.67e-6 against PyTorch's 1.62e-6, 32 at 0.97e-6
/// (tests/nn/lenet_precision_test.cpp).
inline constexpr int64_t bn_flush_terms = 32;

/// Streams [begin, end) of a planar tensor in memory order, one run (the part of an (n, c) plane inside
/// the range, cut to at most bn_chunk_elems values) at a time: add(state of channel c, offset, len) adds
/// the run to the lanes, after flush(state) has emptied them when the run would overfill a lane.
template <class T, class Add, class Flush>
void bn_stream_channels(int64_t C, int64_t S, int64_t begin, int64_t end, BnChannelSums<T>* state, Add&& add,
                        Flush&& flush) {
  bn_for_plane_runs(C, S, begin, end, [&](int64_t offset, int64_t len, int64_t c) {
    for (int64_t done = 0; done < len;) {
      const int64_t piece = std::min(len - done, bn_chunk_elems<T>);
      const int64_t terms = (piece + BnLanes<T>::lanes - 1) / BnLanes<T>::lanes;
      auto& st = state[c];
      if (st.terms + terms > bn_flush_terms) flush(st);
      add(st, offset + done, piece);
      st.terms += terms;
      st.values += piece;
      done += piece;
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Passes. Each thread of one team streams a contiguous range of the tensor in memory order (runs of a
// channel are C*S values apart: walking a channel at a time touches a new stream every run and reads
// at half the speed), keeping per-channel sums of its own; after a barrier each thread merges a block of
// channels over every thread's sums, in thread order. Writing y or dx is a second streaming pass.

/// Per-channel mean and M2 (BatchNorm::stats, S > 1, N*S > 0). A thread's sums for channel c are shifted
/// by a pivot: for its first run, that run's own mean (summed, then the run re-read from L1); after every
/// flush, the channel's mean so far. Each flush turns the lanes into a (count, mean, M2) in double merged
/// by Chan's update, so the float lanes only ever hold deviations from a nearby mean.
template <class T>
void planar_stats_streamed(const T* x, int64_t N, int64_t C, int64_t S, double* mean, double* m2) {
  const int64_t total = N * C * S;
  const int64_t max_threads = parallel_team_max_threads(total);
  std::vector<BnChannelSums<T>> sums(static_cast<size_t>(C * max_threads));
  parallel_team(total, [&](int64_t tid, int64_t nthreads) {
    BnChannelSums<T>* state = sums.data() + tid * C;
    auto flush = [](BnChannelSums<T>& st) {
      if (st.values == 0) return;
      const double n = static_cast<double>(st.values);
      const double s1 = st.a.sum(), s2 = st.b.sum();
      batch_norm_math::chan_merge(st.count, st.first, st.second, n, static_cast<double>(st.pivot) + s1 / n,
                                  std::max(0.0, s2 - s1 * (s1 / n)));
      st.a = BnLanes<T>();
      st.b = BnLanes<T>();
      st.terms = 0;
      st.values = 0;
      st.pivot = static_cast<T>(st.first);
    };
    auto add = [&](BnChannelSums<T>& st, int64_t offset, int64_t len) {
      if (st.count == 0 && st.values == 0) {
        BnLanes<T> acc;
        bn_sum_run(x + offset, len, acc);
        st.pivot = static_cast<T>(acc.sum() / static_cast<double>(len));
      }
      bn_shifted_run(x + offset, len, st.pivot, st.a, st.b);
    };
    const auto [begin, end] = bn_thread_range(total, tid, nthreads);
    bn_stream_channels<T>(C, S, begin, end, state, add, flush);
    for (int64_t c = 0; c < C; ++c) flush(state[c]);
    team_barrier(nthreads);
    for (int64_t c = split_range(C, nthreads, tid), stop = split_range(C, nthreads, tid + 1); c < stop; ++c) {
      double count = 0, merged_mean = 0, merged_m2 = 0;
      for (int64_t k = 0; k < nthreads; ++k) {
        const auto& st = sums[static_cast<size_t>(k * C + c)];
        batch_norm_math::chan_merge(count, merged_mean, merged_m2, st.count, st.first, st.second);
      }
      mean[c] = merged_mean;
      m2[c] = merged_m2;
    }
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

/// Training forward (BatchNorm::forward_train, S > 1, N*S > 0): the statistics, the per-channel
/// constants and the running update, then one streaming pass for y.
template <class T>
void planar_forward_train_streamed(const T* x, T* y, int64_t N, int64_t C, int64_t S, const T* weight,
                                   const T* bias, double eps, double momentum, T* running_mean,
                                   T* running_var, double* save_mean, double* save_invstd) {
  const int64_t count = N * S;
  std::vector<double> m2(static_cast<size_t>(C));
  planar_stats_streamed(x, N, C, S, save_mean, m2.data());
  std::vector<T> pivot(static_cast<size_t>(C)), alpha(static_cast<size_t>(C)), beta(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) {
    const auto i = static_cast<size_t>(c);
    const double invstd = batch_norm_math::invstd(m2[i], static_cast<double>(count), eps);
    const auto k = bn_affine(save_mean[c], invstd, weight, bias, c);
    pivot[i] = k.pivot;
    alpha[i] = k.alpha;
    beta[i] = k.beta;
    bn_update_running_one(running_mean, running_var, c, save_mean[c], m2[i], count, momentum);
    save_invstd[c] = invstd;
  }
  planar_affine_all(x, y, N, C, S, pivot.data(), alpha.data(), beta.data());
}

/// sum_dy[c] += sum dy, sum_dy_xmu[c] += sum dy * (x - mean[c]) (BatchNorm::backward_reduce, S > 1,
/// N*S > 0; the sums arrive zeroed): streamed, in T about p = T(mean) between flushes to double, then
/// sum dy * (x - mean) = sum dy * (x - p) - (mean - p) * sum dy.
template <class T>
void planar_backward_reduce_streamed(const T* dy, const T* x, int64_t N, int64_t C, int64_t S,
                                     const double* mean, double* sum_dy, double* sum_dy_xmu) {
  const int64_t total = N * C * S;
  const int64_t max_threads = parallel_team_max_threads(total);
  std::vector<BnChannelSums<T>> sums(static_cast<size_t>(C * max_threads));
  parallel_team(total, [&](int64_t tid, int64_t nthreads) {
    BnChannelSums<T>* state = sums.data() + tid * C;
    for (int64_t c = 0; c < C; ++c) state[c].pivot = static_cast<T>(mean[c]);
    auto flush = [](BnChannelSums<T>& st) {
      st.first += st.a.sum();
      st.second += st.b.sum();
      st.a = BnLanes<T>();
      st.b = BnLanes<T>();
      st.terms = 0;
      st.values = 0;
    };
    auto add = [&](BnChannelSums<T>& st, int64_t offset, int64_t len) {
      bn_dy_xmu_run(dy + offset, x + offset, len, st.pivot, st.a, st.b);
    };
    const auto [begin, end] = bn_thread_range(total, tid, nthreads);
    bn_stream_channels<T>(C, S, begin, end, state, add, flush);
    for (int64_t c = 0; c < C; ++c) flush(state[c]);
    team_barrier(nthreads);
    for (int64_t c = split_range(C, nthreads, tid), stop = split_range(C, nthreads, tid + 1); c < stop; ++c) {
      double total_dy = 0, total_dyx = 0;
      for (int64_t k = 0; k < nthreads; ++k) {
        const auto& st = sums[static_cast<size_t>(k * C + c)];
        total_dy += st.first;
        total_dyx += st.second;
      }
      sum_dy[c] += total_dy;
      sum_dy_xmu[c] += total_dyx - (mean[c] - static_cast<double>(static_cast<T>(mean[c]))) * total_dy;
    }
  });
}

/// Fused backward (BatchNorm::backward with sums needed, S > 1, N*S > 0): the streamed reduction, then
/// one streaming pass for dx (training: from the sums; eval: dx = dy * weight * invstd).
template <class T>
void planar_backward_streamed(const T* dy, const T* x, int64_t N, int64_t C, int64_t S, const T* weight,
                              const double* save_mean, const double* save_invstd, bool training, T* dx,
                              T* grad_weight, T* grad_bias) {
  const int64_t count = N * S;
  std::vector<double> sum_dy(static_cast<size_t>(C)), sum_dy_xmu(static_cast<size_t>(C));
  planar_backward_reduce_streamed(dy, x, N, C, S, save_mean, sum_dy.data(), sum_dy_xmu.data());
  for (int64_t c = 0; c < C; ++c) {
    const auto i = static_cast<size_t>(c);
    if (grad_weight)
      grad_weight[c] = static_cast<T>(batch_norm_math::grad_weight(sum_dy_xmu[i], save_invstd[c]));
    if (grad_bias) grad_bias[c] = static_cast<T>(sum_dy[i]);
  }
  if (!dx) return;
  if (!training) {
    std::vector<T> zero(static_cast<size_t>(C), T(0)), scale(static_cast<size_t>(C));
    for (int64_t c = 0; c < C; ++c)
      scale[static_cast<size_t>(c)] = static_cast<T>(bn_weight_or_one(weight, c) * save_invstd[c]);
    planar_affine_all(dy, dx, N, C, S, zero.data(), scale.data(), zero.data());
    return;
  }
  std::vector<BnDx<T>> k(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c)
    k[static_cast<size_t>(c)] =
        bn_dx_constants(save_mean[c], save_invstd[c], weight, c, sum_dy[static_cast<size_t>(c)],
                        sum_dy_xmu[static_cast<size_t>(c)], count);
  planar_backward_elemt(dy, x, dx, N, C, S, k.data());
}

/// Per-channel mean and M2 (BatchNorm::stats, S > 1, N*S > 0).
template <class T>
void planar_stats_by_channel(const T* x, int64_t N, int64_t C, int64_t S, double* mean, double* m2) {
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
void planar_forward_train_by_channel(const T* x, T* y, int64_t N, int64_t C, int64_t S, const T* weight,
                                     const T* bias, double eps, double momentum, T* running_mean,
                                     T* running_var, double* save_mean, double* save_invstd) {
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

/// sum_dy[c] += sum dy, sum_dy_xmu[c] += sum dy * (x - mean[c]) (BatchNorm::backward_reduce, S > 1,
/// N*S > 0; the sums arrive zeroed).
template <class T>
void planar_backward_reduce_by_channel(const T* dy, const T* x, int64_t N, int64_t C, int64_t S,
                                       const double* mean, double* sum_dy, double* sum_dy_xmu) {
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

/// Fused backward (BatchNorm::backward with sums needed, S > 1, N*S > 0): the reduction of each part,
/// then, after the merge, its dx from cache (training) or dx right after the reduction (eval).
template <class T>
void planar_backward_by_channel(const T* dy, const T* x, int64_t N, int64_t C, int64_t S, const T* weight,
                                const double* save_mean, const double* save_invstd, bool training, T* dx,
                                T* grad_weight, T* grad_bias) {
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

// ---------------------------------------------------------------------------------------------
// The passes BatchNorm calls: streamed when a plane is long (bn_planar_streams), by channel otherwise.

/// Whether to stream: planes of 2 KB or more are read at nearly the speed of a contiguous stream, and
/// per-run bookkeeping is small next to them; shorter planes are read by channel, which normalises each
/// channel from cache right after its statistics. Streaming also keeps sums for every channel on every
/// thread (BnChannelSums, about 700 bytes each): they must stay small next to the tensor (at most an
/// eighth of it), or many threads and channels over few samples would spend more on them than on x.
template <class T>
inline bool bn_planar_streams(int64_t N, int64_t C, int64_t S) {
  const int64_t threads = parallel_team_max_threads(N * C * S);
  const auto state_bytes = static_cast<int64_t>(sizeof(BnChannelSums<T>)) * C * threads;
  return S * static_cast<int64_t>(sizeof(T)) >= 2048 &&
         8 * state_bytes <= N * C * S * static_cast<int64_t>(sizeof(T));
}

template <class T>
void planar_stats(const T* x, int64_t N, int64_t C, int64_t S, double* mean, double* m2) {
  if (bn_planar_streams<T>(N, C, S))
    planar_stats_streamed(x, N, C, S, mean, m2);
  else
    planar_stats_by_channel(x, N, C, S, mean, m2);
}

template <class T>
void planar_forward_train(const T* x, T* y, int64_t N, int64_t C, int64_t S, const T* weight, const T* bias,
                          double eps, double momentum, T* running_mean, T* running_var, double* save_mean,
                          double* save_invstd) {
  if (bn_planar_streams<T>(N, C, S))
    planar_forward_train_streamed(x, y, N, C, S, weight, bias, eps, momentum, running_mean, running_var,
                                  save_mean, save_invstd);
  else
    planar_forward_train_by_channel(x, y, N, C, S, weight, bias, eps, momentum, running_mean, running_var,
                                    save_mean, save_invstd);
}

template <class T>
void planar_backward_reduce(const T* dy, const T* x, int64_t N, int64_t C, int64_t S, const double* mean,
                            double* sum_dy, double* sum_dy_xmu) {
  if (bn_planar_streams<T>(N, C, S))
    planar_backward_reduce_streamed(dy, x, N, C, S, mean, sum_dy, sum_dy_xmu);
  else
    planar_backward_reduce_by_channel(dy, x, N, C, S, mean, sum_dy, sum_dy_xmu);
}

template <class T>
void planar_backward(const T* dy, const T* x, int64_t N, int64_t C, int64_t S, const T* weight,
                     const double* save_mean, const double* save_invstd, bool training, T* dx, T* grad_weight,
                     T* grad_bias) {
  if (bn_planar_streams<T>(N, C, S))
    planar_backward_streamed(dy, x, N, C, S, weight, save_mean, save_invstd, training, dx, grad_weight,
                             grad_bias);
  else
    planar_backward_by_channel(dy, x, N, C, S, weight, save_mean, save_invstd, training, dx, grad_weight,
                               grad_bias);
}

}  // namespace hnn::kernels::cpu::detail
