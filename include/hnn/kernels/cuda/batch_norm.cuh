// CUDA batch-norm kernels for contiguous (N, C, S) float/double data (S = product of the spatial sizes:
// (N,C), (N,C,L), (N,C,H,W), (N,C,D,H,W)): statistics, finalisation (mean, invstd, running update,
// per-channel constants), the normalising pass, and backward. Raw device pointers only; the launchers
// that pick grids and workspaces are in include/hnn/cuda/kernels.cu. The per-channel formulas are
// kernels/batch_norm_math.hpp's. Depends on kernels/cuda/common.cuh, kernels/batch_norm_math.hpp.
#pragma once

#include <cstdint>

#include "hnn/kernels/batch_norm_math.hpp"
#include "hnn/kernels/cuda/common.cuh"

/*
 * The formulas are those of kernels/batch_norm_math.hpp (derived there); how they are laid out on a GPU:
 *
 * Statistics. Every thread keeps a Welford state (count, mean, M2) in double. It reads 16 bytes at a
 * time (4 floats or 2 doubles of one channel when S is a multiple of the vector width and x is 16-byte
 * aligned), takes the chunk's own mean and M2 in registers, and folds it in with Chan's update
 *     n = n_a + n_b,  d = mean_b - mean_a,  mean = mean_a + d n_b/n,  M2 = M2_a + M2_b + d^2 n_a n_b/n,
 * one division per vector instead of one per element. Threads, warps (shuffles) and blocks merge with
 * the same update, so mean 1e3 with unit variance keeps full precision (no E[x^2] - E[x]^2 anywhere).
 *
 * Filling the GPU when C is small: with S >= planar_min_s ("planar") the N*S values of a channel are
 * split over `splits` blocks (grid C x splits, splits chosen so there are a few blocks per SM); with a
 * small S ("columns": (N, C) inputs and short sequences) a block is 32 adjacent columns of the (N, C*S)
 * matrix times 8 row lanes, so a warp reads 32 consecutive elements, and rows are split over grid.y.
 * Either way each block writes one partial state per (channel, split) or (column, split), laid out so
 * the P partials of channel c are partial[c*P, c*P + P). A finalize kernel (one warp per channel) merges
 * them, writes save_mean / save_invstd = 1/sqrt(M2/m + eps), updates the running statistics
 *     running_mean = (1 - momentum) running_mean + momentum mean
 *     running_var  = (1 - momentum) running_var  + momentum M2/(m - 1)
 * and the per-channel constants of the normalising pass y = (x - pivot) * alpha + beta
 * (pivot = T(mean), alpha = weight invstd, beta = bias - (mean - pivot) alpha).
 *
 * Backward reduces sum(dy) and sum(dy (x - mean)) in double with the same grids, a finalize kernel
 * writes grad_weight = invstd sum(dy (x - mean)), grad_bias = sum(dy) and the constants of
 *     dx = k_dy dy + (x - pivot) k_x + k_c,   k_dy = weight invstd,
 *     k_x = -k_dy invstd^2 sum(dy (x - mean))/m,   k_c = -k_dy sum(dy)/m - k_x (mean - pivot),
 * and a streaming pass writes dx. Eval-mode dx = dy weight invstd is the normalising pass applied to dy.
 *
 * Traffic (x of B bytes): forward-train reads x twice and writes y (3B), eval 2B, backward reads x and
 * dy twice and writes dx (5B); the partials are a few KiB.
 */

namespace hnn::kernels::cuda {

/// Below this S the column kernels are used (a channel's rows are too short for whole-block reads).
inline constexpr int64_t planar_min_s = 32;

// ---- reduction states -------------------------------------------------------------------------------

struct Welford {
  double n, mean, m2;
  __device__ static Welford zero() { return {0.0, 0.0, 0.0}; }
};

__device__ __forceinline__ void merge(Welford& a, const Welford& b) {
  batch_norm_math::chan_merge(a.n, a.mean, a.m2, b.n, b.mean, b.m2);
}

__device__ __forceinline__ Welford shfl_down(const Welford& s, int offset) {
  return {__shfl_down_sync(0xffffffffu, s.n, offset), __shfl_down_sync(0xffffffffu, s.mean, offset),
          __shfl_down_sync(0xffffffffu, s.m2, offset)};
}

/// Folds V values into s: their own mean and M2 first (V is 1, 2 or 4: 1/V is exact), then Chan's update.
template <class T, int V>
__device__ __forceinline__ void welford_add(Welford& s, const T (&v)[V]) {
  double mean = 0.0;
#pragma unroll
  for (int k = 0; k < V; ++k) mean += static_cast<double>(v[k]);
  mean *= 1.0 / V;
  double m2 = 0.0;
#pragma unroll
  for (int k = 0; k < V; ++k) {
    const double d = static_cast<double>(v[k]) - mean;
    m2 += d * d;
  }
  merge(s, Welford{static_cast<double>(V), mean, m2});
}

/// sum(dy) and sum(dy * (x - mean)).
struct DySums {
  double dy, dy_xmu;
  __device__ static DySums zero() { return {0.0, 0.0}; }
};

__device__ __forceinline__ void merge(DySums& a, const DySums& b) {
  a.dy += b.dy;
  a.dy_xmu += b.dy_xmu;
}

__device__ __forceinline__ DySums shfl_down(const DySums& s, int offset) {
  return {__shfl_down_sync(0xffffffffu, s.dy, offset), __shfl_down_sync(0xffffffffu, s.dy_xmu, offset)};
}

/// Index arithmetic in 32 bits when every index fits (64-bit division costs several times more).
template <class Index>
__device__ __forceinline__ void split_index(Index u, Index per_row, Index& row, Index& col) {
  row = u / per_row;
  col = u - row * per_row;
}

// ---- planar statistics and backward sums (S >= planar_min_s) -------------------------------------------
// grid (C, splits); block block_threads. V = elements per load. The channel's N * S/V vectors are
// numbered u = n * (S/V) + v; block `split` takes the slice [units*split/splits, units*(split+1)/splits).

template <class T, int V, class Index>
__global__ void __launch_bounds__(block_threads)
    bn_stats_planar(const T* __restrict__ x, Index N, Index C, Index S, int splits,
                    Welford* __restrict__ partial) {
  __shared__ Welford shared[32];
  const Index c = blockIdx.x;
  const Index per_row = S / V, units = N * per_row;
  const Index u0 = static_cast<Index>(static_cast<int64_t>(units) * blockIdx.y / splits);
  const Index u1 = static_cast<Index>(static_cast<int64_t>(units) * (blockIdx.y + 1) / splits);
  Welford s = Welford::zero();
  for (Index u = u0 + threadIdx.x; u < u1; u += blockDim.x) {
    Index n, v;
    split_index(u, per_row, n, v);
    T vals[V];
    load_vec<T, V>(x + (static_cast<int64_t>(n) * C + c) * S + static_cast<int64_t>(v) * V, vals);
    welford_add<T, V>(s, vals);
  }
  s = block_reduce(s, shared);
  if (threadIdx.x == 0) partial[static_cast<int64_t>(c) * splits + blockIdx.y] = s;
}

template <class T, int V, class Index>
__global__ void __launch_bounds__(block_threads)
    bn_dy_sums_planar(const T* __restrict__ dy, const T* __restrict__ x, Index N, Index C, Index S,
                      int splits, const double* __restrict__ mean, DySums* __restrict__ partial) {
  __shared__ DySums shared[32];
  const Index c = blockIdx.x;
  const Index per_row = S / V, units = N * per_row;
  const Index u0 = static_cast<Index>(static_cast<int64_t>(units) * blockIdx.y / splits);
  const Index u1 = static_cast<Index>(static_cast<int64_t>(units) * (blockIdx.y + 1) / splits);
  const double channel_mean = mean[c];
  DySums s = DySums::zero();
  for (Index u = u0 + threadIdx.x; u < u1; u += blockDim.x) {
    Index n, v;
    split_index(u, per_row, n, v);
    const int64_t offset = (static_cast<int64_t>(n) * C + c) * S + static_cast<int64_t>(v) * V;
    T g[V], xv[V];
    load_vec<T, V>(dy + offset, g);
    load_vec<T, V>(x + offset, xv);
#pragma unroll
    for (int k = 0; k < V; ++k) {
      const double gd = static_cast<double>(g[k]);
      s.dy += gd;
      s.dy_xmu += gd * (static_cast<double>(xv[k]) - channel_mean);
    }
  }
  s = block_reduce(s, shared);
  if (threadIdx.x == 0) partial[static_cast<int64_t>(c) * splits + blockIdx.y] = s;
}

// ---- column statistics and backward sums (S < planar_min_s) --------------------------------------------
// x viewed as an (N, C*S) matrix; block (32, 8): threadIdx.x picks one of 32 adjacent columns, threadIdx.y
// one of 8 row lanes; grid (ceil(C*S / 32), splits) with rows [N*split/splits, N*(split+1)/splits).
// partial[j * splits + split] for column j, so channel c's partials are contiguous (j = c*S + s).

inline constexpr int column_tile = 32;
inline constexpr int column_rows = 8;

template <class T>
__global__ void __launch_bounds__(column_tile* column_rows)
    bn_stats_columns(const T* __restrict__ x, int64_t N, int64_t width, int splits,
                     Welford* __restrict__ partial) {
  __shared__ Welford shared[column_rows][column_tile + 1];
  const int64_t j = static_cast<int64_t>(blockIdx.x) * column_tile + threadIdx.x;
  const int64_t n0 = N * blockIdx.y / splits, n1 = N * (blockIdx.y + 1) / splits;
  Welford s = Welford::zero();
  if (j < width) {
    for (int64_t n = n0 + threadIdx.y; n < n1; n += column_rows) {
      const double v = static_cast<double>(x[n * width + j]);
      // Welford's update for one value: the division is per element here, but these layouts are small.
      s.n += 1.0;
      const double delta = v - s.mean;
      s.mean += delta / s.n;
      s.m2 += delta * (v - s.mean);
    }
  }
  shared[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && j < width) {
    for (int r = 1; r < column_rows; ++r) merge(s, shared[r][threadIdx.x]);
    partial[j * splits + blockIdx.y] = s;
  }
}

template <class T>
__global__ void __launch_bounds__(column_tile* column_rows)
    bn_dy_sums_columns(const T* __restrict__ dy, const T* __restrict__ x, int64_t N, int64_t width, int64_t S,
                       int splits, const double* __restrict__ mean, DySums* __restrict__ partial) {
  __shared__ DySums shared[column_rows][column_tile + 1];
  const int64_t j = static_cast<int64_t>(blockIdx.x) * column_tile + threadIdx.x;
  const int64_t n0 = N * blockIdx.y / splits, n1 = N * (blockIdx.y + 1) / splits;
  DySums s = DySums::zero();
  if (j < width) {
    const double channel_mean = mean[j / S];
    for (int64_t n = n0 + threadIdx.y; n < n1; n += column_rows) {
      const double g = static_cast<double>(dy[n * width + j]);
      s.dy += g;
      s.dy_xmu += g * (static_cast<double>(x[n * width + j]) - channel_mean);
    }
  }
  shared[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && j < width) {
    for (int r = 1; r < column_rows; ++r) merge(s, shared[r][threadIdx.x]);
    partial[j * splits + blockIdx.y] = s;
  }
}

// ---- finalize: one warp per channel ---------------------------------------------------------------------

/// Merges channel c's P partials in lane order (deterministic for a given grid).
template <class State>
__device__ __forceinline__ State warp_merge_partials(const State* partial, int64_t c, int64_t P) {
  const int lane = threadIdx.x % 32;
  State s = State::zero();
  for (int64_t k = lane; k < P; k += 32) merge(s, partial[c * P + k]);
  return warp_reduce(s);
}

template <class T>
__device__ __forceinline__ double weight_or_one(const T* weight, int64_t c) {
  return weight ? static_cast<double>(weight[c]) : 1.0;
}

/// Per-channel constants of the normalising pass, consts = [pivot[C], alpha[C], beta[C]].
template <class T>
__device__ __forceinline__ void write_affine(T* consts, int64_t C, int64_t c, double mean, double invstd,
                                             const T* weight, const T* bias) {
  const auto k = batch_norm_math::affine<T>(mean, invstd, weight_or_one(weight, c),
                                            bias ? static_cast<double>(bias[c]) : 0.0);
  consts[c] = k.pivot;
  consts[C + c] = k.alpha;
  consts[2 * C + c] = k.beta;
}

/// The running-statistic update of channel c from its batch mean and M2 over `count` values.
template <class T>
__device__ __forceinline__ void update_running(T* running_mean, T* running_var, int64_t c, double mean,
                                               double m2, double count, double momentum) {
  if (running_mean)
    running_mean[c] =
        static_cast<T>(batch_norm_math::running_update(static_cast<double>(running_mean[c]), mean, momentum));
  if (running_var)
    running_var[c] = static_cast<T>(batch_norm_math::running_update(
        static_cast<double>(running_var[c]), batch_norm_math::unbiased_var(m2, count), momentum));
}

/// Training forward: statistics, running update, save_mean/invstd and the affine constants.
/// Writes mean and M2 alone instead (out_m2 non-null) for batch_norm_stats.
template <class T>
__global__ void bn_finalize_stats(const Welford* __restrict__ partial, int64_t C, int64_t P, double eps,
                                  double momentum, const T* weight, const T* bias, T* running_mean,
                                  T* running_var, double* save_mean, double* save_invstd, T* consts,
                                  double* out_m2) {
  const int64_t c = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  if (c >= C) return;  // whole warps leave together: blockDim.x is a multiple of 32
  const Welford s = warp_merge_partials(partial, c, P);
  if (threadIdx.x % 32 != 0) return;
  if (out_m2) {
    save_mean[c] = s.mean;
    out_m2[c] = s.m2;
    return;
  }
  const double invstd = batch_norm_math::invstd(s.m2, s.n, eps);
  save_mean[c] = s.mean;
  save_invstd[c] = invstd;
  update_running(running_mean, running_var, c, s.mean, s.m2, s.n, momentum);
  write_affine(consts, C, c, s.mean, invstd, weight, bias);
}

/// The running-statistic update alone, from given mean and M2 over `count` values (SyncBatchNorm's
/// global statistics).
template <class T>
__global__ void bn_update_running(int64_t C, const double* mean, const double* m2, double count,
                                  double momentum, T* running_mean, T* running_var) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= C) return;
  update_running(running_mean, running_var, c, mean[c], m2[c], count, momentum);
}

/// Normalising constants from given mean and invstd (batch_norm_elemt).
template <class T>
__global__ void bn_elemt_constants(int64_t C, const double* mean, const double* invstd, const T* weight,
                                   const T* bias, T* consts) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= C) return;
  write_affine(consts, C, c, mean[c], invstd[c], weight, bias);
}

/// What an eval forward normalises with, for its backward: mean = running_mean, invstd =
/// 1/sqrt(running_var + eps), in double, computed where the running statistics live.
template <class T>
__global__ void bn_eval_statistics(int64_t C, const T* running_mean, const T* running_var, double eps,
                                   double* mean, double* invstd) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= C) return;
  mean[c] = static_cast<double>(running_mean[c]);
  invstd[c] = batch_norm_math::invstd_from_var(static_cast<double>(running_var[c]), eps);
}

/// Eval forward constants from the running statistics (pivot = running_mean, which already is a T).
template <class T>
__global__ void bn_eval_constants(int64_t C, const T* running_mean, const T* running_var, const T* weight,
                                  const T* bias, double eps, T* consts) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= C) return;
  write_affine(consts, C, c, static_cast<double>(running_mean[c]),
               batch_norm_math::invstd_from_var(static_cast<double>(running_var[c]), eps), weight, bias);
}

/// Eval backward dx = dy * weight * invstd as an affine pass over dy: pivot 0, alpha = weight invstd, beta 0.
template <class T>
__global__ void bn_scale_constants(int64_t C, const T* weight, const double* invstd, T* consts) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= C) return;
  consts[c] = T(0);
  consts[C + c] = static_cast<T>(weight_or_one(weight, c) * invstd[c]);
  consts[2 * C + c] = T(0);
}

/// The dx constants of channel c, consts = [pivot[C], k_dy[C], k_x[C], k_c[C]].
template <class T>
__device__ __forceinline__ void write_dx_constants(T* consts, int64_t C, int64_t c, double mean,
                                                   double invstd, const T* weight, double sum_dy,
                                                   double sum_dy_xmu, double count) {
  const auto k =
      batch_norm_math::dx_constants<T>(mean, invstd, weight_or_one(weight, c), sum_dy, sum_dy_xmu, count);
  consts[c] = k.pivot;
  consts[C + c] = k.k_dy;
  consts[2 * C + c] = k.k_x;
  consts[3 * C + c] = k.k_c;
}

/// Backward: grad_weight, grad_bias and (training) the dx constants [pivot, k_dy, k_x, k_c].
template <class T>
__global__ void bn_finalize_backward(const DySums* __restrict__ partial, int64_t C, int64_t P, double count,
                                     const T* weight, const double* mean, const double* invstd, bool want_dx,
                                     T* grad_weight, T* grad_bias, T* consts) {
  const int64_t c = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  if (c >= C) return;
  const DySums s = warp_merge_partials(partial, c, P);
  if (threadIdx.x % 32 != 0) return;
  if (grad_weight) grad_weight[c] = static_cast<T>(batch_norm_math::grad_weight(s.dy_xmu, invstd[c]));
  if (grad_bias) grad_bias[c] = static_cast<T>(s.dy);
  if (want_dx) write_dx_constants(consts, C, c, mean[c], invstd[c], weight, s.dy, s.dy_xmu, count);
}

/// The merged sums alone (batch_norm_backward_reduce): sum_dy[c], sum_dy_xmu[c].
__global__ void bn_finalize_sums(const DySums* __restrict__ partial, int64_t C, int64_t P, double* sum_dy,
                                 double* sum_dy_xmu) {
  const int64_t c = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  if (c >= C) return;
  const DySums s = warp_merge_partials(partial, c, P);
  if (threadIdx.x % 32 != 0) return;
  sum_dy[c] = s.dy;
  sum_dy_xmu[c] = s.dy_xmu;
}

/// The dx constants from given sums over `count` values (batch_norm_backward_elemt, global for
/// SyncBatchNorm).
template <class T>
__global__ void bn_backward_elemt_constants(int64_t C, const double* mean, const double* invstd,
                                            const T* weight, const double* sum_dy, const double* sum_dy_xmu,
                                            double count, T* consts) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= C) return;
  write_dx_constants(consts, C, c, mean[c], invstd[c], weight, sum_dy[c], sum_dy_xmu[c], count);
}

// ---- streaming passes ---------------------------------------------------------------------------------
// Vector i covers elements [i*V, i*V + V) of one (n, c) plane (S is a multiple of V), so its channel is
// (i / (S/V)) % C.

/// y = (x - pivot[c]) * alpha[c] + beta[c].
template <class T, int V, class Index>
__global__ void __launch_bounds__(block_threads)
    bn_affine(const T* __restrict__ x, T* __restrict__ y, Index vectors, Index per_plane, Index C,
              const T* __restrict__ consts) {
  for (Index i = blockIdx.x * blockDim.x + threadIdx.x; i < vectors; i += gridDim.x * blockDim.x) {
    const Index c = (i / per_plane) % C;
    const T pivot = consts[c], alpha = consts[C + c], beta = consts[2 * C + c];
    T v[V];
    load_vec<T, V>(x + static_cast<int64_t>(i) * V, v);
#pragma unroll
    for (int k = 0; k < V; ++k) v[k] = (v[k] - pivot) * alpha + beta;
    store_vec<T, V>(y + static_cast<int64_t>(i) * V, v);
  }
}

/// dx = dy * k_dy[c] + ((x - pivot[c]) * k_x[c] + k_c[c]).
template <class T, int V, class Index>
__global__ void __launch_bounds__(block_threads)
    bn_dx(const T* __restrict__ dy, const T* __restrict__ x, T* __restrict__ dx, Index vectors,
          Index per_plane, Index C, const T* __restrict__ consts) {
  for (Index i = blockIdx.x * blockDim.x + threadIdx.x; i < vectors; i += gridDim.x * blockDim.x) {
    const Index c = (i / per_plane) % C;
    const T pivot = consts[c], k_dy = consts[C + c], k_x = consts[2 * C + c], k_c = consts[3 * C + c];
    T g[V], v[V];
    load_vec<T, V>(dy + static_cast<int64_t>(i) * V, g);
    load_vec<T, V>(x + static_cast<int64_t>(i) * V, v);
#pragma unroll
    for (int k = 0; k < V; ++k) v[k] = g[k] * k_dy + ((v[k] - pivot) * k_x + k_c);
    store_vec<T, V>(dx + static_cast<int64_t>(i) * V, v);
  }
}

}  // namespace hnn::kernels::cuda
