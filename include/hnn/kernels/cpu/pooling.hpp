// CPU kernels of 2-D average and max pooling (floor mode, zero/-inf padding) over contiguous planes of
// H x W values, parallel over the N*C planes. Raw pointers and sizes only. Depends on loops.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "hnn/kernels/cpu/loops.hpp"

namespace hnn::kernels::cpu {

/// Sizes of one pooling: `planes` planes of H x W in, OH x OW out, with OH = (H + 2 PH - KH) / SH + 1.
struct Pool2dGeometry {
  int64_t planes = 0, H = 0, W = 0;
  int64_t KH = 1, KW = 1, SH = 1, SW = 1, PH = 0, PW = 0;
  int64_t OH = 0, OW = 0;
};

namespace detail {
inline int64_t pool_grain(const Pool2dGeometry& g) {
  return std::max<int64_t>(1, parallel_grain / std::max<int64_t>(1, g.OH * g.OW * g.KH * g.KW));
}
/// Whether a pooling is the 2x2 window with stride 2 and no padding that has its own fast loops.
inline bool is_pool_2x2_stride2(const Pool2dGeometry& g) {
  return g.KH == 2 && g.KW == 2 && g.SH == 2 && g.SW == 2 && g.PH == 0 && g.PW == 0;
}
}  // namespace detail

/// y = mean of each window, dividing by the window size counted with its padding (PyTorch's default
/// count_include_pad=True; windows never extend past the padded input in floor mode).
template <class T>
void avg_pool2d_forward(const T* x, T* y, const Pool2dGeometry& g) {
  if (detail::is_pool_2x2_stride2(g)) {
    // The common 2x2 / stride 2 case (LeNet): each output is a quarter of two adjacent pairs; the loop
    // over a row has fixed strides and no inner window loop, so it vectorises.
    parallel_for(g.planes, detail::pool_grain(g), [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p)
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          const T* r0 = x + (p * g.H + 2 * oh) * g.W;
          const T* r1 = r0 + g.W;
          T* out = y + (p * g.OH + oh) * g.OW;
          for (int64_t ow = 0; ow < g.OW; ++ow)
            out[ow] = ((r0[2 * ow] + r0[2 * ow + 1]) + (r1[2 * ow] + r1[2 * ow + 1])) * T(0.25);
        }
    });
    return;
  }
  parallel_for(g.planes, detail::pool_grain(g), [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const T* in = x + p * g.H * g.W;
      T* out = y + p * g.OH * g.OW;
      if (g.PH == 0 && g.PW == 0) {
        // Every window lies inside the image: sum whole output rows at a time, then scale once.
        const T inv_area = T(1) / static_cast<T>(g.KH * g.KW);
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          T* out_row = out + oh * g.OW;
          std::fill(out_row, out_row + g.OW, T(0));
          for (int64_t i = 0; i < g.KH; ++i) {
            const T* in_row = in + (oh * g.SH + i) * g.W;
            for (int64_t j = 0; j < g.KW; ++j)
              for (int64_t ow = 0; ow < g.OW; ++ow) out_row[ow] += in_row[ow * g.SW + j];
          }
          for (int64_t ow = 0; ow < g.OW; ++ow) out_row[ow] *= inv_area;
        }
        continue;
      }
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        const int64_t h0 = oh * g.SH - g.PH, h1 = std::min(h0 + g.KH, g.H + g.PH);
        const int64_t hs = std::max<int64_t>(h0, 0), he = std::min(h1, g.H);
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const int64_t w0 = ow * g.SW - g.PW, w1 = std::min(w0 + g.KW, g.W + g.PW);
          const int64_t ws = std::max<int64_t>(w0, 0), we = std::min(w1, g.W);
          T sum = 0;
          for (int64_t h = hs; h < he; ++h)
            for (int64_t w = ws; w < we; ++w) sum += in[h * g.W + w];
          out[oh * g.OW + ow] = sum / static_cast<T>((h1 - h0) * (w1 - w0));
        }
      }
    }
  });
}

/// dx (overwritten) = each dy spread evenly over its window: dx[h, w] += dy[oh, ow] / window size.
template <class T>
void avg_pool2d_backward(const T* dy, T* dx, const Pool2dGeometry& g) {
  if (detail::is_pool_2x2_stride2(g)) {
    // 2x2 / stride 2: every input of a window receives a quarter of its dy; the row and column left over
    // by an odd H or W (floor mode) belong to no window and get zero. Every dx value is written once.
    parallel_for(g.planes, detail::pool_grain(g), [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        T* plane = dx + p * g.H * g.W;
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          const T* gout = dy + (p * g.OH + oh) * g.OW;
          T* r0 = plane + 2 * oh * g.W;
          T* r1 = r0 + g.W;
          for (int64_t ow = 0; ow < g.OW; ++ow) {
            const T share = gout[ow] * T(0.25);
            r0[2 * ow] = share;
            r0[2 * ow + 1] = share;
            r1[2 * ow] = share;
            r1[2 * ow + 1] = share;
          }
          if (g.W > 2 * g.OW) r0[g.W - 1] = r1[g.W - 1] = T(0);
        }
        if (g.H > 2 * g.OH) std::fill(plane + (g.H - 1) * g.W, plane + g.H * g.W, T(0));
      }
    });
    return;
  }
  parallel_for(g.planes, detail::pool_grain(g), [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const T* gout = dy + p * g.OH * g.OW;
      T* gin = dx + p * g.H * g.W;
      std::fill(gin, gin + g.H * g.W, T(0));
      if (g.PH == 0 && g.PW == 0) {
        const T inv_area = T(1) / static_cast<T>(g.KH * g.KW);
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          const T* gout_row = gout + oh * g.OW;
          for (int64_t i = 0; i < g.KH; ++i) {
            T* gin_row = gin + (oh * g.SH + i) * g.W;
            for (int64_t j = 0; j < g.KW; ++j)
              for (int64_t ow = 0; ow < g.OW; ++ow) gin_row[ow * g.SW + j] += gout_row[ow] * inv_area;
          }
        }
        continue;
      }
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        const int64_t h0 = oh * g.SH - g.PH, h1 = std::min(h0 + g.KH, g.H + g.PH);
        const int64_t hs = std::max<int64_t>(h0, 0), he = std::min(h1, g.H);
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const int64_t w0 = ow * g.SW - g.PW, w1 = std::min(w0 + g.KW, g.W + g.PW);
          const int64_t ws = std::max<int64_t>(w0, 0), we = std::min(w1, g.W);
          const T share = gout[oh * g.OW + ow] / static_cast<T>((h1 - h0) * (w1 - w0));
          for (int64_t h = hs; h < he; ++h)
            for (int64_t w = ws; w < we; ++w) gin[h * g.W + w] += share;
        }
      }
    }
  });
}

/// y = max of each window (padding never wins), indices = the flat h * W + w of the maximum within its
/// plane. Scanning row by row, a later value replaces the maximum only when strictly greater or NaN, so
/// the first maximum wins ties and NaN propagates, as in PyTorch's CPU kernel.
template <class T>
void max_pool2d_forward(const T* x, T* y, int64_t* indices, const Pool2dGeometry& g) {
  parallel_for(g.planes, detail::pool_grain(g), [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const T* in = x + p * g.H * g.W;
      T* out = y + p * g.OH * g.OW;
      int64_t* idx = indices + p * g.OH * g.OW;
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        const int64_t hs = std::max<int64_t>(oh * g.SH - g.PH, 0),
                      he = std::min(oh * g.SH - g.PH + g.KH, g.H);
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const int64_t ws = std::max<int64_t>(ow * g.SW - g.PW, 0),
                        we = std::min(ow * g.SW - g.PW + g.KW, g.W);
          int64_t best = hs * g.W + ws;
          T best_value = -std::numeric_limits<T>::infinity();
          bool saw_nan = false;
          for (int64_t h = hs; h < he && !saw_nan; ++h)
            for (int64_t w = ws; w < we; ++w) {
              const T v = in[h * g.W + w];
              if (v > best_value || std::isnan(v)) {
                best_value = v;
                best = h * g.W + w;
                saw_nan = std::isnan(v);
                if (saw_nan) break;  // NaN is the maximum for good
              }
            }
          out[oh * g.OW + ow] = best_value;
          idx[oh * g.OW + ow] = best;
        }
      }
    }
  });
}

/// dx (overwritten) = each dy routed to the input position that won its window.
template <class T>
void max_pool2d_backward(const T* dy, const int64_t* indices, T* dx, const Pool2dGeometry& g) {
  parallel_for(g.planes, std::max<int64_t>(1, parallel_grain / std::max<int64_t>(1, g.H * g.W)),
               [&](int64_t begin, int64_t end) {
                 for (int64_t p = begin; p < end; ++p) {
                   const T* gout = dy + p * g.OH * g.OW;
                   const int64_t* idx = indices + p * g.OH * g.OW;
                   T* gin = dx + p * g.H * g.W;
                   std::fill(gin, gin + g.H * g.W, T(0));
                   for (int64_t o = 0; o < g.OH * g.OW; ++o) gin[idx[o]] += gout[o];
                 }
               });
}

}  // namespace hnn::kernels::cpu
