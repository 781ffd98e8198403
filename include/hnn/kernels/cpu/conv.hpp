// CPU kernels of 2-D convolution (dilation 1, groups 1) on contiguous NCHW data: im2col / col2im and
// the forward and backward passes as Eigen GEMMs over blocks of images, the batch split into parallel chunks.
// Raw pointers and sizes only; nothing here knows about tensors or autograd. Depends on Eigen/Core, loops.hpp.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "hnn/core/config.hpp"
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
            std::memcpy(row + ow_begin, src + ow_begin + shift, sizeof(T) * static_cast<size_t>(ow_end - ow_begin));
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
  const int64_t by_cache = std::max<int64_t>(1, (int64_t(1) << 20) / (K * L * static_cast<int64_t>(sizeof(T))));
  return std::max<int64_t>(1, std::min({by_columns, by_cache, g.N}));
}

}  // namespace detail

/// y[n] (O x L) = weight (O x K) * col(x[n]) (K x L) + bias (broadcast over L; bias may be null), with
/// the columns of several images side by side in one GEMM: Y' (O x B*L) = W * [col(x[n]) ... col(x[n+B-1])].
template <class T>
void conv2d_forward(const T* x, const T* weight, const T* bias, T* y, const Conv2dGeometry& g) {
  const int64_t K = g.K(), L = g.L(), chunks = detail::conv_chunks(g);
  const int64_t per_gemm = detail::conv_images_per_gemm<T>(g);
  detail::ConstRowMap<T> w(weight, g.O, K);
  parallel_for(chunks, 1, [&](int64_t chunk_begin, int64_t chunk_end) {
    detail::RowMajorMatrix<T> col(K, per_gemm * L), out_block(g.O, per_gemm * L);
    for (int64_t chunk = chunk_begin; chunk < chunk_end; ++chunk) {
      const int64_t n_end = g.N * (chunk + 1) / chunks;
      for (int64_t n0 = g.N * chunk / chunks; n0 < n_end; n0 += per_gemm) {
        const int64_t count = std::min(per_gemm, n_end - n0), cols = count * L;
        for (int64_t b = 0; b < count; ++b) im2col(x + (n0 + b) * g.C * g.H * g.W, g, col.data() + b * L, cols);
        detail::RowMap<T> block(out_block.data(), g.O, cols);
        block.noalias() = w * detail::RowMap<T>(col.data(), K, cols);
        for (int64_t b = 0; b < count; ++b) {
          detail::RowMap<T> out(y + (n0 + b) * g.O * L, g.O, L);
          if (bias) out = block.middleCols(b * L, L).colwise() + Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>>(bias, g.O);
          else out = block.middleCols(b * L, L);
        }
      }
    }
  });
}

/// Gradients of conv2d_forward for dy (N, O, OH, OW); each output pointer may be null (not needed). With
/// dY' and col' the side-by-side blocks of several images as in the forward:
///   grad_weight = sum over blocks of dY' col'^T,  grad_bias = row sums of dY',  grad_input = col2im(W^T dY').
/// Weight and bias gradients are summed per chunk, then the chunk partials are added in order.
template <class T>
void conv2d_backward(const T* x, const T* weight, const T* dy, const Conv2dGeometry& g, T* grad_input,
                     T* grad_weight, T* grad_bias) {
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
          for (int64_t b = 0; b < count; ++b) im2col(x + (n0 + b) * g.C * g.H * g.W, g, col.data() + b * L, cols);
          partial_weight[static_cast<size_t>(chunk)].noalias() += dout * detail::RowMap<T>(col.data(), K, cols).transpose();
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
