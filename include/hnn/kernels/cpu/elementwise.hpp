// The CPU elementwise and row-sum kernels behind ElementwiseKernels<CPU> and ReduceKernels<CPU>: fill,
// copy with conversion (contiguous or strided), + - * / between two operands (broadcasting through a
// StridedGeometry) and with a scalar, and sums of the rows or the columns of a matrix. Raw pointers only;
// the signatures are those of hnn::cuda::launch, so an op calls either set through the trait of its
// device. Depends on core/scalar.hpp, kernels/cpu/loops.hpp, kernels/cpu/math.hpp,
// kernels/elementwise_types.hpp, Eigen.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <type_traits>
#include <vector>

#include "hnn/core/eigen.hpp"
#include "hnn/core/scalar.hpp"
#include "hnn/kernels/cpu/loops.hpp"
#include "hnn/kernels/cpu/math.hpp"
#include "hnn/kernels/elementwise_types.hpp"
#include "hnn/kernels/kernel_traits.hpp"

namespace hnn::kernels::cpu {

namespace detail {

template <class T>
using ArrayMap = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <class T>
using ConstArrayMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

/// out = f(a) over n contiguous elements, f mapping an Eigen array expression (vectorised), in parallel.
template <class TOut, class T, class F>
void map_arrays(TOut* out, const T* a, int64_t n, F f) {
  parallel_for(n, parallel_grain, [&](int64_t begin, int64_t end) {
    ArrayMap<TOut>(out + begin, end - begin) = f(ConstArrayMap<T>(a + begin, end - begin));
  });
}

/// The sizes and one operand's strides of a geometry as the loops of loops.hpp take them.
inline std::vector<int64_t> sizes_of(const StridedGeometry& g) { return {g.sizes, g.sizes + g.ndim}; }
inline std::vector<int64_t> strides_of(const StridedGeometry& g, const int64_t* strides) {
  return {strides, strides + g.ndim};
}

inline bool contiguous_out(const StridedGeometry& g) {
  int64_t expected = 1;
  for (int d = g.ndim - 1; d >= 0; --d) {
    if (g.sizes[d] != 1 && g.out_strides[d] != expected) return false;
    expected *= g.sizes[d];
  }
  return true;
}

/// dst[...] = TOut(src[...]) over the geometry's sizes, both strided (single thread: the destination
/// may overlap itself in ways a parallel split would race on, e.g. a transposed view of itself).
template <class TOut, class TIn>
void copy_both_strided(TOut* dst, const TIn* src, const StridedGeometry& g) {
  const int nd = g.ndim;
  if (nd == 0) {
    *dst = static_cast<TOut>(*src);
    return;
  }
  int64_t total = 1;
  for (int d = 0; d < nd; ++d) total *= g.sizes[d];
  if (total == 0) return;
  std::vector<int64_t> index(static_cast<size_t>(nd), 0);
  const int64_t inner = g.sizes[nd - 1], dst_step = g.out_strides[nd - 1], src_step = g.a_strides[nd - 1];
  for (int64_t o = 0, outer = total / inner; o < outer; ++o) {
    int64_t dst_offset = 0, src_offset = 0;
    for (int d = 0; d + 1 < nd; ++d) {
      dst_offset += index[static_cast<size_t>(d)] * g.out_strides[d];
      src_offset += index[static_cast<size_t>(d)] * g.a_strides[d];
    }
    for (int64_t i = 0; i < inner; ++i)
      dst[dst_offset + i * dst_step] = static_cast<TOut>(src[src_offset + i * src_step]);
    for (int d = nd - 1; d-- > 0;) {
      if (++index[static_cast<size_t>(d)] < g.sizes[d]) break;
      index[static_cast<size_t>(d)] = 0;
    }
  }
}

template <class T, class Op>
void binary_with(Op op, T* out, const T* a, const T* b, int64_t n, const StridedGeometry* g) {
  if (g == nullptr) {
    parallel_for(n, parallel_grain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) out[i] = op(a[i], b[i]);
    });
    return;
  }
  binary_strided(out, a, b, sizes_of(*g), strides_of(*g, g->a_strides), strides_of(*g, g->b_strides), op);
}

}  // namespace detail

/// The CPU elementwise kernels, as ElementwiseKernels<CPU> (which is this struct) exposes them to the ops.
struct Elementwise {
  /// dst[i] = value for i < n (dst contiguous).
  template <class T>
  static void fill(T* dst, int64_t n, T value) {
    parallel_for(n, parallel_grain,
                 [&](int64_t begin, int64_t end) { std::fill(dst + begin, dst + end, value); });
  }

  /// dst = TOut(src) over n elements. geometry == nullptr: both contiguous; otherwise dst and src are
  /// addressed with out_strides and a_strides over geometry->sizes (src may broadcast with stride 0).
  template <class TOut, class TIn>
  static void copy(TOut* dst, const TIn* src, int64_t n, const StridedGeometry* geometry) {
    if (n == 0) return;
    if (geometry == nullptr) {
      parallel_for(n, parallel_grain, [&](int64_t begin, int64_t end) {
        if constexpr (std::is_same_v<TIn, TOut>)
          std::copy(src + begin, src + end, dst + begin);
        else
          for (int64_t i = begin; i < end; ++i) dst[i] = static_cast<TOut>(src[i]);
      });
      return;
    }
    if (detail::contiguous_out(*geometry)) {
      unary_strided(dst, src, detail::sizes_of(*geometry), detail::strides_of(*geometry, geometry->a_strides),
                    [](TIn v) { return static_cast<TOut>(v); });
      return;
    }
    detail::copy_both_strided(dst, src, *geometry);
  }

  /// out = a op b, out contiguous. geometry == nullptr: a and b contiguous of n elements each; otherwise
  /// a and b are read through a_strides / b_strides over geometry->sizes (broadcasting).
  template <class T>
  static void binary(BinaryOp op, T* out, const T* a, const T* b, int64_t n,
                     const StridedGeometry* geometry) {
    switch (op) {
      case BinaryOp::add:
        return detail::binary_with([](T x, T y) { return x + y; }, out, a, b, n, geometry);
      case BinaryOp::sub:
        return detail::binary_with([](T x, T y) { return x - y; }, out, a, b, n, geometry);
      case BinaryOp::mul:
        return detail::binary_with([](T x, T y) { return x * y; }, out, a, b, n, geometry);
      case BinaryOp::div:
        return detail::binary_with([](T x, T y) { return x / y; }, out, a, b, n, geometry);
    }
  }

  /// out = op(a, s) over n contiguous elements: a + s, a * s, a / s (a true division, correctly rounded),
  /// s - a, s / a, -a.
  template <class T>
  static void scalar(ScalarOp op, T* out, const T* a, int64_t n, T s) {
    if constexpr (std::is_floating_point_v<T>) {
      switch (op) {
        case ScalarOp::add:
          return detail::map_arrays(out, a, n, [s](const auto& x) { return x + s; });
        case ScalarOp::mul:
          return detail::map_arrays(out, a, n, [s](const auto& x) { return x * s; });
        case ScalarOp::div:
          return detail::map_arrays(out, a, n, [s](const auto& x) { return x / s; });
        case ScalarOp::rsub:
          return detail::map_arrays(out, a, n, [s](const auto& x) { return s - x; });
        case ScalarOp::rdiv:
          return detail::map_arrays(out, a, n, [s](const auto& x) { return s / x; });
        case ScalarOp::neg:
          return parallel_for(n, parallel_grain, [&](int64_t begin, int64_t end) {
            math::neg(a + begin, out + begin, end - begin);
          });
      }
    } else {
      auto apply = [&](auto f) {
        parallel_for(n, parallel_grain, [&](int64_t begin, int64_t end) {
          for (int64_t i = begin; i < end; ++i) out[i] = f(a[i]);
        });
      };
      switch (op) {
        case ScalarOp::add:
          return apply([s](T x) { return x + s; });
        case ScalarOp::mul:
          return apply([s](T x) { return x * s; });
        case ScalarOp::div:
          return apply([s](T x) { return x / s; });
        case ScalarOp::rsub:
          return apply([s](T x) { return s - x; });
        case ScalarOp::rdiv:
          return apply([s](T x) { return s / x; });
        case ScalarOp::neg:
          return apply([](T x) { return -x; });
      }
    }
  }
};

/// Sum of n values `stride` apart, accumulated in Acc pairwise over
/// blocks of at most 256 values that are summed in order (by Eigen, vectorised, when contiguous): the
/// rounding error grows with log2(n / 256) rather than with n, as in numpy's and PyTorch's cascade sums.
/// A plain running sum of 1e7 doubles is 20x less accurate than PyTorch's (tests/ops/precision_test.cpp).
template <class Acc, class T, class F>
Acc pairwise_sum(const T* p, int64_t n, int64_t stride, F f) {
  constexpr int64_t block = 256;
  if (n <= block) {
    if constexpr (std::is_floating_point_v<T> && std::is_same_v<F, std::identity>) {
      // from +0 as every running sum: a block of -0 sums to +0, as in PyTorch
      if (stride == 1) return Acc(0) + static_cast<Acc>(detail::ConstArrayMap<T>(p, n).sum());
    }
    Acc total = 0;
    for (int64_t i = 0; i < n; ++i) total += static_cast<Acc>(f(p[i * stride]));
    return total;
  }
  const int64_t half = (n / 2 + block - 1) / block * block;  // whole blocks on the left: 0 < half < n
  return pairwise_sum<Acc>(p, half, stride, f) + pairwise_sum<Acc>(p + half * stride, n - half, stride, f);
}

/// Sum of n values `stride` apart in acc_t (double for floating types), pairwise for floating types.
template <class T>
T strided_sum(const T* p, int64_t n, int64_t stride) {
  if constexpr (std::is_floating_point_v<T>)
    return static_cast<T>(pairwise_sum<acc_t<T>>(p, n, stride, std::identity{}));
  acc_t<T> total = 0;
  for (int64_t i = 0; i < n; ++i) total += p[i * stride];
  return static_cast<T>(total);
}

/// The CPU sum kernels, as ReduceKernels<CPU> (which is this struct) exposes them to the ops.
struct Reduce {
  /// out[o] = sum_j in[o * inner + j] for a contiguous (outer, inner) matrix.
  template <class T>
  static void sum_rows(T* out, const T* in, int64_t outer, int64_t inner) {
    parallel_for(outer, std::max<int64_t>(1, parallel_grain / std::max<int64_t>(inner, 1)),
                 [&](int64_t begin, int64_t end) {
                   for (int64_t o = begin; o < end; ++o)
                     out[o] = strided_sum(in + o * inner, inner, int64_t{1});
                 });
  }

  /// out[o] = sum_j in[j * outer + o] for a contiguous (inner, outer) matrix: the sums of its columns.
  template <class T>
  static void sum_columns(T* out, const T* in, int64_t outer, int64_t inner) {
    parallel_for(outer, std::max<int64_t>(1, parallel_grain / std::max<int64_t>(inner, 1)),
                 [&](int64_t begin, int64_t end) {
                   for (int64_t o = begin; o < end; ++o) out[o] = strided_sum(in + o, inner, outer);
                 });
  }
};

}  // namespace hnn::kernels::cpu

namespace hnn {

/// The CPU kernel sets of kernels/cpu/elementwise.hpp are the traits themselves: no forwarding layer.
template <>
struct ElementwiseKernels<CPU> : kernels::cpu::Elementwise {};
template <>
struct ReduceKernels<CPU> : kernels::cpu::Reduce {};

}  // namespace hnn
