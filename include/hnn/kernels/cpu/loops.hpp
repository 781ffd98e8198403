// CPU loop kernels shared by the elementwise ops: strided loops (parallel_for from core/parallel.hpp)
// that apply a scalar function to one or two broadcast operands writing a contiguous output.
// Raw pointers, sizes and strides only; nothing here knows about tensors or autograd.
// Depends on core/parallel.hpp.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "hnn/core/parallel.hpp"

namespace hnn::kernels::cpu {

/// Merges adjacent dimensions that are contiguous with each other in every operand, so a broadcast
/// (N, C) + (C) becomes one outer and one inner loop. Sizes and per-operand strides are rewritten.
template <size_t K>
void coalesce_dims(std::vector<int64_t>& sizes, std::vector<std::array<int64_t, K>>& strides) {
  std::vector<int64_t> out_sizes;
  std::vector<std::array<int64_t, K>> out_strides;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] == 1) continue;
    if (!out_sizes.empty()) {
      bool mergeable = true;
      for (size_t k = 0; k < K; ++k)
        if (out_strides.back()[k] != strides[i][k] * sizes[i]) mergeable = false;
      if (mergeable) {
        out_sizes.back() *= sizes[i];
        out_strides.back() = strides[i];
        continue;
      }
    }
    out_sizes.push_back(sizes[i]);
    out_strides.push_back(strides[i]);
  }
  if (out_sizes.empty()) {
    out_sizes.push_back(1);
    out_strides.push_back({});
  }
  sizes = std::move(out_sizes);
  strides = std::move(out_strides);
}

/// Computes out[i] = op(a[...]) over `shape` where `out` is contiguous and `a` has the given strides.
template <class TOut, class TA, class Op>
void unary_strided(TOut* out, const TA* a, const std::vector<int64_t>& shape,
                   const std::vector<int64_t>& a_strides, Op op) {
  // No element, nothing to do; and an empty tensor may have no storage, so no pointer arithmetic on it
  // either (a (5, 0) tensor would otherwise step a null pointer by its outer strides).
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return;
  std::vector<int64_t> sizes = shape;
  std::vector<std::array<int64_t, 2>> strides(shape.size());
  {
    int64_t s = 1;
    for (size_t i = shape.size(); i-- > 0;) {
      strides[i] = {s, a_strides[i]};
      s *= shape[i];
    }
  }
  coalesce_dims<2>(sizes, strides);
  const int64_t inner = sizes.back(), sa = strides.back()[1];
  int64_t outer = 1;
  for (size_t i = 0; i + 1 < sizes.size(); ++i) outer *= sizes[i];
  const size_t nd = sizes.size();
  parallel_for(outer, std::max<int64_t>(1, parallel_grain / std::max<int64_t>(inner, 1)),
               [&](int64_t begin, int64_t end) {
                 for (int64_t o = begin; o < end; ++o) {
                   int64_t rem = o, off_a = 0;
                   for (size_t d = nd - 1; d-- > 0;) {
                     int64_t idx = rem % sizes[d];
                     rem /= sizes[d];
                     off_a += idx * strides[d][1];
                   }
                   TOut* po = out + o * inner;
                   const TA* pa = a + off_a;
                   if (sa == 1) {
                     for (int64_t i = 0; i < inner; ++i) po[i] = op(pa[i]);
                   } else {
                     for (int64_t i = 0; i < inner; ++i) po[i] = op(pa[i * sa]);
                   }
                 }
               });
}

/// Computes out[i] = op(a[...], b[...]) over `shape`: `out` contiguous, a and b with broadcast strides
/// (stride 0 along broadcast dimensions). Inner loops specialise the contiguous and scalar cases.
template <class TOut, class TA, class TB, class Op>
void binary_strided(TOut* out, const TA* a, const TB* b, const std::vector<int64_t>& shape,
                    const std::vector<int64_t>& a_strides, const std::vector<int64_t>& b_strides, Op op) {
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return;  // as in unary_strided
  std::vector<int64_t> sizes = shape;
  std::vector<std::array<int64_t, 3>> strides(shape.size());
  {
    int64_t s = 1;
    for (size_t i = shape.size(); i-- > 0;) {
      strides[i] = {s, a_strides[i], b_strides[i]};
      s *= shape[i];
    }
  }
  coalesce_dims<3>(sizes, strides);
  const int64_t inner = sizes.back(), sa = strides.back()[1], sb = strides.back()[2];
  int64_t outer = 1;
  for (size_t i = 0; i + 1 < sizes.size(); ++i) outer *= sizes[i];
  const size_t nd = sizes.size();
  parallel_for(outer, std::max<int64_t>(1, parallel_grain / std::max<int64_t>(inner, 1)),
               [&](int64_t begin, int64_t end) {
                 for (int64_t o = begin; o < end; ++o) {
                   int64_t rem = o, off_a = 0, off_b = 0;
                   for (size_t d = nd - 1; d-- > 0;) {
                     int64_t idx = rem % sizes[d];
                     rem /= sizes[d];
                     off_a += idx * strides[d][1];
                     off_b += idx * strides[d][2];
                   }
                   TOut* po = out + o * inner;
                   const TA* pa = a + off_a;
                   const TB* pb = b + off_b;
                   if (sa == 1 && sb == 1) {
                     for (int64_t i = 0; i < inner; ++i) po[i] = op(pa[i], pb[i]);
                   } else if (sa == 1 && sb == 0) {
                     const TB vb = *pb;
                     for (int64_t i = 0; i < inner; ++i) po[i] = op(pa[i], vb);
                   } else if (sa == 0 && sb == 1) {
                     const TA va = *pa;
                     for (int64_t i = 0; i < inner; ++i) po[i] = op(va, pb[i]);
                   } else {
                     for (int64_t i = 0; i < inner; ++i) po[i] = op(pa[i * sa], pb[i * sb]);
                   }
                 }
               });
}

}  // namespace hnn::kernels::cpu
