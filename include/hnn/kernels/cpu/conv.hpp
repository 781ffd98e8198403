// CPU kernels of 2-D convolution (dilation 1, groups 1) on contiguous NCHW data: im2col / col2im and
// the forward and backward passes as Eigen GEMMs over blocks of images, the batch split into parallel chunks.
// Raw pointers and sizes only; nothing here knows about tensors or autograd. Depends on Eigen/Core,
// loops.hpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "hnn/core/config.hpp"
#include "hnn/core/eigen.hpp"
#include "hnn/kernels/cpu/loops.hpp"

namespace hnn::kernels::cpu {

/// Sizes of one convolution: input (N, C, H, W), weight (O, C, KH, KW), output (N, O, OH, OW) with
/// OH = (H + 2 PH - KH) / SH + 1 and OW likewise.
struct Conv2dGeometry {
  int64_t N = 0, C = 0, H = 0, W = 0;
  int64_t O = 0, KH = 0, KW = 0;
  int64_t SH = 1, SW = 1, PH = 0, PW = 0;
  int64_t OH = 0, OW = 0;

  /// Rows of the column matrix: one per (channel, kernel row, kernel column).
  int64_t K() const { return C * KH * KW; }
  /// Output positions per image.
  int64_t L() const { return OH * OW; }
};

namespace detail {

template <class T>
using RowMajorMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using RowMap = Eigen::Map<RowMajorMatrix<T>>;
template <class T>
using ConstRowMap = Eigen::Map<const RowMajorMatrix<T>>;

/// How many chunks to split the batch into: one per thread when the work pays for the fork.
inline int64_t conv_chunks(const Conv2dGeometry& g) {
  const int64_t work = g.N * g.O * g.L() * g.K();
  const int64_t threads = get_num_threads();
  if (threads <= 1 || work < 4 * parallel_grain) return 1;
  return std::max<int64_t>(1, std::min<int64_t>(threads, g.N));
}

}  // namespace detail

/// Writes the columns of one image x (C, H, W) into col, a K-row matrix with row stride `ld` (>= L):
/// col[(c, i, j), (oh, ow)] = x[c, oh*SH - PH + i, ow*SW - PW + j], zero where that falls in the padding.
template <class T>
void im2col(const T* x, const Conv2dGeometry& g, T* col, int64_t ld) {
  if (g.PH == 0 && g.PW == 0 && g.SW == 1) {
    // Every window lies inside the image and output rows are contiguous input runs: plain short copies
    // (library memcpy/fill calls per 8-value row cost more than the copy itself).
    for (int64_t c = 0; c < g.C; ++c)
      for (int64_t i = 0; i < g.KH; ++i)
        for (int64_t j = 0; j < g.KW; ++j) {
          T* dst = col + ((c * g.KH + i) * g.KW + j) * ld;
          const T* src = x + (c * g.H + i) * g.W + j;
          for (int64_t oh = 0; oh < g.OH; ++oh) {
            const T* in_row = src + oh * g.SH * g.W;
            T* out_row = dst + oh * g.OW;
            for (int64_t ow = 0; ow < g.OW; ++ow) out_row[ow] = in_row[ow];
          }
        }
    return;
  }
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t i = 0; i < g.KH; ++i)
      for (int64_t j = 0; j < g.KW; ++j) {
        T* dst = col + ((c * g.KH + i) * g.KW + j) * ld;
        const T* plane = x + c * g.H * g.W;
        // Output columns whose input column iw = ow*SW - PW + j lies inside [0, W).
        const int64_t ow_begin = std::min(g.OW, std::max<int64_t>(0, (g.PW - j + g.SW - 1) / g.SW));
        const int64_t ow_end = std::max(ow_begin, std::min(g.OW, (g.W + g.PW - j + g.SW - 1) / g.SW));
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          T* row = dst + oh * g.OW;
          const int64_t ih = oh * g.SH - g.PH + i;
          if (ih < 0 || ih >= g.H) {
            std::fill(row, row + g.OW, T(0));
            continue;
          }
          const T* src = plane + ih * g.W;
          const int64_t shift = j - g.PW;  // iw = ow * SW + shift
          std::fill(row, row + ow_begin, T(0));
          if (g.SW == 1)
            std::memcpy(row + ow_begin, src + ow_begin + shift,
                        sizeof(T) * static_cast<size_t>(ow_end - ow_begin));
          else
            for (int64_t ow = ow_begin; ow < ow_end; ++ow) row[ow] = src[ow * g.SW + shift];
          std::fill(row + ow_end, row + g.OW, T(0));
        }
      }
}

/// The adjoint of im2col: adds every column entry (row stride `ld`) back into the input position it was
/// read from (dx must be zeroed first; overlapping windows accumulate).
template <class T>
void col2im(const T* col, const Conv2dGeometry& g, T* dx, int64_t ld) {
  if (g.PH == 0 && g.PW == 0 && g.SW == 1) {
    for (int64_t c = 0; c < g.C; ++c)
      for (int64_t i = 0; i < g.KH; ++i)
        for (int64_t j = 0; j < g.KW; ++j) {
          const T* src = col + ((c * g.KH + i) * g.KW + j) * ld;
          T* dst = dx + (c * g.H + i) * g.W + j;
          for (int64_t oh = 0; oh < g.OH; ++oh) {
            const T* col_row = src + oh * g.OW;
            T* dx_row = dst + oh * g.SH * g.W;
            for (int64_t ow = 0; ow < g.OW; ++ow) dx_row[ow] += col_row[ow];
          }
        }
    return;
  }
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t i = 0; i < g.KH; ++i)
      for (int64_t j = 0; j < g.KW; ++j) {
        const T* src_rows = col + ((c * g.KH + i) * g.KW + j) * ld;
        T* plane = dx + c * g.H * g.W;
        const int64_t ow_begin = std::min(g.OW, std::max<int64_t>(0, (g.PW - j + g.SW - 1) / g.SW));
        const int64_t ow_end = std::max(ow_begin, std::min(g.OW, (g.W + g.PW - j + g.SW - 1) / g.SW));
        const int64_t shift = j - g.PW;
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          const int64_t ih = oh * g.SH - g.PH + i;
          if (ih < 0 || ih >= g.H) continue;
          const T* row = src_rows + oh * g.OW;
          T* dst = plane + ih * g.W;
          if (g.SW == 1)
            for (int64_t ow = ow_begin; ow < ow_end; ++ow) dst[ow + shift] += row[ow];
          else
            for (int64_t ow = ow_begin; ow < ow_end; ++ow) dst[ow * g.SW + shift] += row[ow];
        }
      }
}

namespace detail {

/// Images per GEMM: enough that the GEMM has ~1024 columns (small images alone make GEMMs too thin to
/// run at full speed), few enough that the column matrix stays within ~1 MiB of cache.
template <class T>
int64_t conv_images_per_gemm(const Conv2dGeometry& g) {
  const int64_t L = std::max<int64_t>(1, g.L()), K = std::max<int64_t>(1, g.K());
  const int64_t by_columns = std::max<int64_t>(1, 1024 / L);
  const int64_t by_cache =
      std::max<int64_t>(1, (int64_t(1) << 20) / (K * L * static_cast<int64_t>(sizeof(T))));
  return std::max<int64_t>(1, std::min({by_columns, by_cache, g.N}));
}

}  // namespace detail

namespace detail {

// Eigen's packet types (__m256, __m512, ...) carry attributes that GCC drops, with a warning, when they
// are template arguments; the types themselves are unaffected, so the warning is silenced here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"
#endif

/// Copies one image's C planes into the interior of `buf` (C planes of (H + 2 PH) x (W + 2 PW) whose borders
/// are already zero and stay so) and returns buf: the direct kernels read padded images without bounds
/// checks.
template <class T, class U>
const U* padded_image(const T* image, const Conv2dGeometry& g, U* buf) {
  const int64_t HP = g.H + 2 * g.PH, WP = g.W + 2 * g.PW;
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t h = 0; h < g.H; ++h)
      std::copy(image + (c * g.H + h) * g.W, image + (c * g.H + h + 1) * g.W,
                buf + (c * HP + h + g.PH) * WP + g.PW);
  return buf;
}

/// Whether the forward runs as a direct convolution: stride 1, few input values per output (K = C*KH*KW)
/// and a padded image small enough to stay in L1/L2 while every block of output channels rereads it.
/// There the GEMM is thin (O or K small), and im2col plus packing cost more than the FMAs themselves.
template <class T>
bool use_direct_forward(const Conv2dGeometry& g) {
  const int64_t padded = g.C * (g.H + 2 * g.PH) * (g.W + 2 * g.PW);
  return g.SH == 1 && g.SW == 1 && g.K() <= 256 &&
         padded * static_cast<int64_t>(sizeof(T)) <= (int64_t(1) << 16);
}

/// Eigen's SIMD packet of T for this build (Packet8f with AVX, Packet16f with AVX-512, T itself without
/// vectorisation) and its half (the same type when there is no smaller one).
template <class T>
using FullPacket = typename Eigen::internal::packet_traits<T>::type;
template <class T>
using HalfPacket = typename Eigen::internal::unpacket_traits<FullPacket<T>>::half;
template <class P>
inline constexpr int64_t packet_size = Eigen::internal::unpacket_traits<P>::size;

/// A stride-1 convolution of one image read straight from its (zero-padded) planes, without a column
/// matrix: x holds C planes of HP x WP with the padding in place; wt is the weight transposed to
/// (C, KH, KW, O), so that the weights of consecutive output channels for one tap are adjacent.
template <class T>
struct DirectConv {
  const T* x;
  const T* wt;
  const T* bias;  // may be null
  T* y;           // (O, OH, OW)
  int64_t C, HP, WP, KH, KW, O, OH, OW;
};

/// One register tile: output channels o0 .. o0+OB-1 of output row oh, columns ow0 .. ow0 + NV*|P| - 1:
///   acc[o][l] = bias[o] + sum_{c,i,j} wt[c,i,j,o] * x[c, oh+i, ow0+l+j].
/// OB and NV are compile-time so that acc stays in registers; each loaded run of x feeds OB FMAs and
/// each broadcast weight NV FMAs.
template <int OB, int NV, class P, class T>
inline void direct_tile(const DirectConv<T>& d, int64_t o0, int64_t oh, int64_t ow0) {
  using namespace Eigen::internal;
  constexpr int64_t S = packet_size<P>;
  P acc[OB][NV];
  for (int ob = 0; ob < OB; ++ob) {
    const P b = pset1<P>(d.bias ? d.bias[o0 + ob] : T(0));
    for (int v = 0; v < NV; ++v) acc[ob][v] = b;
  }
  const T* wtap = d.wt + o0;
  for (int64_t c = 0; c < d.C; ++c)
    for (int64_t i = 0; i < d.KH; ++i) {
      const T* xr = d.x + (c * d.HP + oh + i) * d.WP + ow0;
      for (int64_t j = 0; j < d.KW; ++j, wtap += d.O) {
        P xv[NV];
        for (int v = 0; v < NV; ++v) xv[v] = ploadu<P>(xr + j + v * S);
        for (int ob = 0; ob < OB; ++ob) {
          const P wv = pset1<P>(wtap[ob]);
          for (int v = 0; v < NV; ++v) acc[ob][v] = pmadd(wv, xv[v], acc[ob][v]);
        }
      }
    }
  for (int ob = 0; ob < OB; ++ob) {
    T* out = d.y + ((o0 + ob) * d.OH + oh) * d.OW + ow0;
    for (int v = 0; v < NV; ++v) pstoreu(out + v * S, acc[ob][v]);
  }
}

/// The last n columns of an output row, fewer than a half packet (same sums as direct_tile, scalar).
template <int OB, class T>
inline void direct_tail(const DirectConv<T>& d, int64_t o0, int64_t oh, int64_t ow0, int64_t n) {
  for (int64_t l = 0; l < n; ++l) {
    T acc[OB];
    for (int ob = 0; ob < OB; ++ob) acc[ob] = d.bias ? d.bias[o0 + ob] : T(0);
    const T* wtap = d.wt + o0;
    for (int64_t c = 0; c < d.C; ++c)
      for (int64_t i = 0; i < d.KH; ++i) {
        const T* xr = d.x + (c * d.HP + oh + i) * d.WP + ow0 + l;
        for (int64_t j = 0; j < d.KW; ++j, wtap += d.O)
          for (int ob = 0; ob < OB; ++ob) acc[ob] += wtap[ob] * xr[j];
      }
    for (int ob = 0; ob < OB; ++ob) d.y[((o0 + ob) * d.OH + oh) * d.OW + ow0 + l] = acc[ob];
  }
}

/// All output rows of channels o0 .. o0+OB-1: tiles of NV full packets, then single full packets, then
/// half packets, then the scalar tail. (Rows are not merged: the columns between rows would be wasted
/// lanes, and on the small images this path serves they are a large share.)
template <int OB, class T>
void direct_channels(const DirectConv<T>& d, int64_t o0) {
  using P = FullPacket<T>;
  using H = HalfPacket<T>;
  constexpr int NV = OB <= 4 ? 3 : 2;  // at most 16 accumulator registers
  constexpr int64_t S = packet_size<P>, SH = packet_size<H>;
  for (int64_t oh = 0; oh < d.OH; ++oh) {
    int64_t ow0 = 0;
    for (; ow0 + NV * S <= d.OW; ow0 += NV * S) direct_tile<OB, NV, P>(d, o0, oh, ow0);
    for (; ow0 + S <= d.OW; ow0 += S) direct_tile<OB, 1, P>(d, o0, oh, ow0);
    if constexpr (SH < S)
      for (; ow0 + SH <= d.OW; ow0 += SH) direct_tile<OB, 1, H>(d, o0, oh, ow0);
    if (ow0 < d.OW) direct_tail<OB>(d, o0, oh, ow0, d.OW - ow0);
  }
}

/// The weight gradient of a stride-1 convolution for one image, without a column matrix. x holds the C
/// (zero-padded) planes of HP x WP, dy the O planes of OH x OW; tap k = (c, i, j) reads x at offset
/// tap[k] = (c*HP + i)*WP + j from the window origin. The output positions covered by whole packets are
/// listed once as (dy offset, x offset) pairs, dy_at[m] = oh*OW + ow0 and x_at[m] = oh*WP + ow0, so a tile
/// runs one flat loop (no per-row loop whose accumulators would go through memory). Lane-wise partial
/// sums go to acc (O x K packets):  acc[o][k] += sum_m dy[o*OH*OW + dy_at[m] ..] * x[tap[k] + x_at[m] ..],
/// so dW[o][k] is the sum of the lanes of acc[o][k] (plus the scalar columns past the last packet).
template <class T>
struct DirectWeightGrad {
  const T* x;
  const T* dy;
  const int64_t* tap;
  const int64_t* dy_at;
  const int64_t* x_at;
  int64_t packets, K, L, O;
};

/// One register tile of the weight gradient: OB output channels from o0 times TB taps from k0.
template <int OB, int TB, class P, class T>
inline void weight_grad_tile(const DirectWeightGrad<T>& d, P* acc_out, int64_t o0, int64_t k0) {
  using namespace Eigen::internal;
  P acc[OB][TB];
  for (int ob = 0; ob < OB; ++ob)
    for (int tb = 0; tb < TB; ++tb) acc[ob][tb] = pset1<P>(T(0));
  const T* dy0 = d.dy + o0 * d.L;
  const T* xt[TB];
  for (int tb = 0; tb < TB; ++tb) xt[tb] = d.x + d.tap[k0 + tb];
  for (int64_t m = 0; m < d.packets; ++m) {
    const int64_t at_dy = d.dy_at[m], at_x = d.x_at[m];
    P dv[OB];
    for (int ob = 0; ob < OB; ++ob) dv[ob] = ploadu<P>(dy0 + ob * d.L + at_dy);
    for (int tb = 0; tb < TB; ++tb) {
      const P xv = ploadu<P>(xt[tb] + at_x);
      for (int ob = 0; ob < OB; ++ob) acc[ob][tb] = pmadd(dv[ob], xv, acc[ob][tb]);
    }
  }
  for (int ob = 0; ob < OB; ++ob)
    for (int tb = 0; tb < TB; ++tb) {
      P& a = acc_out[(o0 + ob) * d.K + k0 + tb];
      a = padd(a, acc[ob][tb]);
    }
}

/// All taps for output channels o0 .. o0+OB-1: blocks of 4 taps, then the remainder.
template <int OB, class P, class T>
void weight_grad_channels(const DirectWeightGrad<T>& d, P* acc, int64_t o0) {
  int64_t k0 = 0;
  for (; k0 + 4 <= d.K; k0 += 4) weight_grad_tile<OB, 4, P>(d, acc, o0, k0);
  switch (d.K - k0) {
    case 1:
      weight_grad_tile<OB, 1, P>(d, acc, o0, k0);
      break;
    case 2:
      weight_grad_tile<OB, 2, P>(d, acc, o0, k0);
      break;
    case 3:
      weight_grad_tile<OB, 3, P>(d, acc, o0, k0);
      break;
    default:
      break;
  }
}

/// The packet part of one image's weight gradient, output channels in blocks of 4.
template <class P, class T>
void weight_grad_image(const DirectWeightGrad<T>& d, P* acc) {
  int64_t o0 = 0;
  for (; o0 + 4 <= d.O; o0 += 4) weight_grad_channels<4, P>(d, acc, o0);
  switch (d.O - o0) {
    case 1:
      weight_grad_channels<1, P>(d, acc, o0);
      break;
    case 2:
      weight_grad_channels<2, P>(d, acc, o0);
      break;
    case 3:
      weight_grad_channels<3, P>(d, acc, o0);
      break;
    default:
      break;
  }
}

/// Weight (O x K) and bias (O) gradients of a stride-1 convolution over the whole batch, parallel over
/// chunks of images. Each chunk keeps lane-wise partial sums in packets of P (plus scalars for the
/// columns past the last whole packet of a row), reduced once at its end; the chunk results are then
/// added in chunk order, so the result does not depend on the thread count's scheduling.
template <class P, class T>
void conv2d_weight_grad_direct(const T* x, const T* dy, const Conv2dGeometry& g, T* grad_weight,
                               T* grad_bias) {
  using namespace Eigen::internal;
  constexpr int64_t S = packet_size<P>;
  const int64_t HP = g.H + 2 * g.PH, WP = g.W + 2 * g.PW, K = g.K(), L = g.L();
  const bool padded = g.PH > 0 || g.PW > 0;
  std::vector<int64_t> tap(static_cast<size_t>(K));
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t i = 0; i < g.KH; ++i)
      for (int64_t j = 0; j < g.KW; ++j)
        tap[static_cast<size_t>((c * g.KH + i) * g.KW + j)] = (c * HP + i) * WP + j;
  const int64_t packed_cols = g.OW / S * S;  // columns covered by whole packets in every row
  std::vector<int64_t> dy_at, x_at;
  for (int64_t oh = 0; oh < g.OH; ++oh)
    for (int64_t ow0 = 0; ow0 < packed_cols; ow0 += S) {
      dy_at.push_back(oh * g.OW + ow0);
      x_at.push_back(oh * WP + ow0);
    }
  const int64_t chunks = conv_chunks(g);
  std::vector<T> partial_w(static_cast<size_t>(chunks * g.O * K), T(0)),
      partial_b(static_cast<size_t>(chunks * g.O), T(0));
  parallel_for(chunks, 1, [&](int64_t chunk_begin, int64_t chunk_end) {
    std::vector<T> image_buf(padded ? static_cast<size_t>(g.C * HP * WP) : 0, T(0));
    std::vector<P> acc(static_cast<size_t>(g.O * K), pset1<P>(T(0)));
    for (int64_t chunk = chunk_begin; chunk < chunk_end; ++chunk) {
      T* pw = partial_w.data() + chunk * g.O * K;
      T* pb = partial_b.data() + chunk * g.O;
      std::fill(acc.begin(), acc.end(), pset1<P>(T(0)));
      for (int64_t n = g.N * chunk / chunks; n < g.N * (chunk + 1) / chunks; ++n) {
        const T* image = x + n * g.C * g.H * g.W;
        const T* dimage = dy + n * g.O * L;
        if (padded) image = padded_image(image, g, image_buf.data());
        if (grad_weight) {
          if (packed_cols > 0)
            weight_grad_image<P>(DirectWeightGrad<T>{image, dimage, tap.data(), dy_at.data(), x_at.data(),
                                                     static_cast<int64_t>(dy_at.size()), K, L, g.O},
                                 acc.data());
          if (packed_cols < g.OW)  // the columns past the last whole packet, scalar
            for (int64_t o = 0; o < g.O; ++o)
              for (int64_t k = 0; k < K; ++k) {
                T sum = 0;
                for (int64_t oh = 0; oh < g.OH; ++oh)
                  for (int64_t ow = packed_cols; ow < g.OW; ++ow)
                    sum += dimage[o * L + oh * g.OW + ow] * image[tap[static_cast<size_t>(k)] + oh * WP + ow];
                pw[o * K + k] += sum;
              }
        }
        if (grad_bias)  // Eigen's row sums run vectorised with several accumulators (no serial add chain)
          Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>>(pb, g.O) +=
              ConstRowMap<T>(dimage, g.O, L).rowwise().sum();
      }
      if (grad_weight)
        for (int64_t ok = 0; ok < g.O * K; ++ok) pw[ok] += predux(acc[static_cast<size_t>(ok)]);
    }
  });
  if (grad_weight) {
    std::fill(grad_weight, grad_weight + g.O * K, T(0));
    for (int64_t chunk = 0; chunk < chunks; ++chunk)
      for (int64_t ok = 0; ok < g.O * K; ++ok)
        grad_weight[ok] += partial_w[static_cast<size_t>(chunk * g.O * K + ok)];
  }
  if (grad_bias) {
    std::fill(grad_bias, grad_bias + g.O, T(0));
    for (int64_t chunk = 0; chunk < chunks; ++chunk)
      for (int64_t o = 0; o < g.O; ++o) grad_bias[o] += partial_b[static_cast<size_t>(chunk * g.O + o)];
  }
}

/// Whether the weight gradient runs directly: stride 1 and images small enough that each one's planes
/// stay in L1/L2 while every tile rereads them (the same bounds as the direct forward).
template <class T>
bool use_direct_weight_grad(const Conv2dGeometry& g) {
  return use_direct_forward<T>(g);
}

/// Picks the packet for the direct weight gradient: the full packet when rows hold whole full packets,
/// else the half packet (more rows vectorised, fewer scalar columns).
template <class T>
void conv2d_weight_grad_direct(const T* x, const T* dy, const Conv2dGeometry& g, T* grad_weight,
                               T* grad_bias) {
  if (g.OW % packet_size<FullPacket<T>> == 0)
    conv2d_weight_grad_direct<FullPacket<T>>(x, dy, g, grad_weight, grad_bias);
  else
    conv2d_weight_grad_direct<HalfPacket<T>>(x, dy, g, grad_weight, grad_bias);
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/// The direct convolution of one image: output channels in groups of 8, the remainder in one group.
template <class T>
void direct_image(const DirectConv<T>& d) {
  int64_t o0 = 0;
  for (; o0 + 8 <= d.O; o0 += 8) direct_channels<8>(d, o0);
  switch (d.O - o0) {
    case 1:
      direct_channels<1>(d, o0);
      break;
    case 2:
      direct_channels<2>(d, o0);
      break;
    case 3:
      direct_channels<3>(d, o0);
      break;
    case 4:
      direct_channels<4>(d, o0);
      break;
    case 5:
      direct_channels<5>(d, o0);
      break;
    case 6:
      direct_channels<6>(d, o0);
      break;
    case 7:
      direct_channels<7>(d, o0);
      break;
    default:
      break;
  }
}

/// The direct forward over the whole batch, parallel over images. Float convolutions accumulate in double:
/// each output is a sum of C*KH*KW products, and in float one running sum of them left hnn's LeNet-BN farther
/// from the exact result than PyTorch (oneDNN) is, batch norm after the convolution magnifying it
/// (tests/nn/lenet_precision_test.cpp). Each image is widened into a scratch copy (padded there too), its
/// output computed in the scratch type and narrowed into y, so the extra traffic stays in cache.
template <class T>
void conv2d_forward_direct(const T* x, const T* weight, const T* bias, T* y, const Conv2dGeometry& g) {
  using Acc = std::conditional_t<std::is_same_v<T, float>, double, T>;
  constexpr bool widened = !std::is_same_v<Acc, T>;
  const int64_t HP = g.H + 2 * g.PH, WP = g.W + 2 * g.PW, K = g.K();
  std::vector<Acc> wt(static_cast<size_t>(g.O * K));
  for (int64_t o = 0; o < g.O; ++o)
    for (int64_t k = 0; k < K; ++k) wt[static_cast<size_t>(k * g.O + o)] = weight[o * K + k];
  std::vector<Acc> wide_bias(bias ? bias : static_cast<const T*>(nullptr), bias ? bias + g.O : nullptr);
  const bool padded = g.PH > 0 || g.PW > 0;
  const bool copied = padded || widened;
  const int64_t per_image = std::max<int64_t>(1, g.O * g.L() * K);
  parallel_for(g.N, std::max<int64_t>(1, 4 * parallel_grain / per_image), [&](int64_t begin, int64_t end) {
    std::vector<Acc> image_buf(copied ? static_cast<size_t>(g.C * HP * WP) : 0, Acc(0));
    std::vector<Acc> out_buf(widened ? static_cast<size_t>(g.O * g.L()) : 0);
    for (int64_t n = begin; n < end; ++n) {
      const T* source = x + n * g.C * g.H * g.W;
      const Acc* image;
      if constexpr (widened)
        image = padded_image(source, g, image_buf.data());
      else
        image = padded ? padded_image(source, g, image_buf.data()) : source;
      T* out = y + n * g.O * g.L();
      Acc* acc_out;
      if constexpr (widened)
        acc_out = out_buf.data();
      else
        acc_out = out;
      direct_image(DirectConv<Acc>{image, wt.data(), bias ? wide_bias.data() : nullptr, acc_out, g.C, HP, WP,
                                   g.KH, g.KW, g.O, g.OH, g.OW});
      if constexpr (widened) std::copy(out_buf.begin(), out_buf.end(), out);
    }
  });
}

}  // namespace detail

/// y[n] (O x L) = weight (O x K) * col(x[n]) (K x L) + bias (broadcast over L; bias may be null), with
/// the columns of several images side by side in one GEMM: Y' (O x B*L) = W * [col(x[n]) ... col(x[n+B-1])].
template <class T>
void conv2d_forward(const T* x, const T* weight, const T* bias, T* y, const Conv2dGeometry& g) {
  if (detail::use_direct_forward<T>(g)) return detail::conv2d_forward_direct(x, weight, bias, y, g);
  const int64_t K = g.K(), L = g.L(), chunks = detail::conv_chunks(g);
  const int64_t per_gemm = detail::conv_images_per_gemm<T>(g);
  detail::ConstRowMap<T> w(weight, g.O, K);
  parallel_for(chunks, 1, [&](int64_t chunk_begin, int64_t chunk_end) {
    detail::RowMajorMatrix<T> col(K, per_gemm * L), out_block(g.O, per_gemm * L);
    for (int64_t chunk = chunk_begin; chunk < chunk_end; ++chunk) {
      const int64_t n_end = g.N * (chunk + 1) / chunks;
      for (int64_t n0 = g.N * chunk / chunks; n0 < n_end; n0 += per_gemm) {
        const int64_t count = std::min(per_gemm, n_end - n0), cols = count * L;
        for (int64_t b = 0; b < count; ++b)
          im2col(x + (n0 + b) * g.C * g.H * g.W, g, col.data() + b * L, cols);
        detail::RowMap<T> block(out_block.data(), g.O, cols);
        block.noalias() = w * detail::RowMap<T>(col.data(), K, cols);
        for (int64_t b = 0; b < count; ++b) {
          detail::RowMap<T> out(y + (n0 + b) * g.O * L, g.O, L);
          if (bias)
            out = block.middleCols(b * L, L).colwise() +
                  Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>>(bias, g.O);
          else
            out = block.middleCols(b * L, L);
        }
      }
    }
  });
}

/// Gradients of conv2d_forward for dy (N, O, OH, OW); each output pointer may be null (not needed). With
/// dY' and col' the side-by-side blocks of several images as in the forward:
///   grad_weight = sum over blocks of dY' col'^T,  grad_bias = row sums of dY',  grad_input = col2im(W^T
///   dY').
/// Weight and bias gradients are summed per chunk, then the chunk partials are added in order.
template <class T>
void conv2d_backward(const T* x, const T* weight, const T* dy, const Conv2dGeometry& g, T* grad_input,
                     T* grad_weight, T* grad_bias) {
  if ((grad_weight || grad_bias) && detail::use_direct_weight_grad<T>(g)) {
    detail::conv2d_weight_grad_direct(x, dy, g, grad_weight, grad_bias);
    grad_weight = grad_bias = nullptr;
    if (!grad_input) return;
  }
  const int64_t K = g.K(), L = g.L(), chunks = detail::conv_chunks(g);
  const int64_t per_gemm = detail::conv_images_per_gemm<T>(g);
  detail::ConstRowMap<T> w(weight, g.O, K);
  std::vector<detail::RowMajorMatrix<T>> partial_weight(static_cast<size_t>(grad_weight ? chunks : 0));
  std::vector<Eigen::Matrix<T, Eigen::Dynamic, 1>> partial_bias(static_cast<size_t>(grad_bias ? chunks : 0));
  parallel_for(chunks, 1, [&](int64_t chunk_begin, int64_t chunk_end) {
    detail::RowMajorMatrix<T> col(grad_weight ? K : 0, grad_weight ? per_gemm * L : 0);
    detail::RowMajorMatrix<T> grad_col(grad_input ? K : 0, grad_input ? per_gemm * L : 0);
    detail::RowMajorMatrix<T> dout_block(g.O, per_gemm * L);
    for (int64_t chunk = chunk_begin; chunk < chunk_end; ++chunk) {
      if (grad_weight) partial_weight[static_cast<size_t>(chunk)].setZero(g.O, K);
      if (grad_bias) partial_bias[static_cast<size_t>(chunk)].setZero(g.O);
      const int64_t n_end = g.N * (chunk + 1) / chunks;
      for (int64_t n0 = g.N * chunk / chunks; n0 < n_end; n0 += per_gemm) {
        const int64_t count = std::min(per_gemm, n_end - n0), cols = count * L;
        detail::RowMap<T> dout(dout_block.data(), g.O, cols);
        for (int64_t b = 0; b < count; ++b)
          dout.middleCols(b * L, L) = detail::ConstRowMap<T>(dy + (n0 + b) * g.O * L, g.O, L);
        if (grad_weight) {
          for (int64_t b = 0; b < count; ++b)
            im2col(x + (n0 + b) * g.C * g.H * g.W, g, col.data() + b * L, cols);
          partial_weight[static_cast<size_t>(chunk)].noalias() +=
              dout * detail::RowMap<T>(col.data(), K, cols).transpose();
        }
        if (grad_bias) partial_bias[static_cast<size_t>(chunk)] += dout.rowwise().sum();
        if (grad_input) {
          detail::RowMap<T> gcol(grad_col.data(), K, cols);
          gcol.noalias() = w.transpose() * dout;
          for (int64_t b = 0; b < count; ++b) {
            T* dimage = grad_input + (n0 + b) * g.C * g.H * g.W;
            std::fill(dimage, dimage + g.C * g.H * g.W, T(0));
            col2im(grad_col.data() + b * L, g, dimage, cols);
          }
        }
      }
    }
  });
  if (grad_weight) {
    detail::RowMap<T> gw(grad_weight, g.O, K);
    gw.setZero();
    for (const auto& p : partial_weight) gw += p;
  }
  if (grad_bias) {
    Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>> gb(grad_bias, g.O);
    gb.setZero();
    for (const auto& p : partial_bias) gb += p;
  }
}

}  // namespace hnn::kernels::cpu
