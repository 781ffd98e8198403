// CPU kernels of the unary math functions whose results must match PyTorch's over the whole floating
// point range: exp, log, sqrt, sigmoid, neg. Raw pointers and counts only. Depends on Eigen/Core.
//
// Eigen 3.4's vectorised functions are fast and, inside their intended range, within an ulp or two; at
// the edges they are not, and PyTorch (Sleef) is (measured by tests/ops/precision_test.cpp):
//   exp   clamps its input to +-88.723 (float): exp(-100) gives 2.9e-39 instead of 3.8e-44, exp(-inf)
//         2.9e-39 instead of 0, and with AVX-512 exp(88.72) overflows to inf instead of 3.39e38;
//   log   truncates subnormal inputs to the smallest normal number (log(1e-40f) = -87.3, not -92.1);
//   sqrt  under EIGEN_FAST_MATH (Eigen's default) is rsqrt plus a Newton step: not correctly rounded,
//         and sqrt(inf) = nan, sqrt(subnormal) = 0;
//   logistic (float) is a rational approximation with an absolute error near 1e-7 (relative 1e-3 at
//         x = -9), where PyTorch's float sigmoid stays within 1.5e-7 relative.
// So: exp and log take Eigen's kernel and recompute with the C library the rare elements outside the
// range where it is exact (one vectorisable pass over x finds whether a block has any); sqrt is the
// processor's correctly rounded vector square root; sigmoid is 1 / (1 + exp(-x)), PyTorch's own formula,
// on Eigen's exp, whose edge cases only ever reach the sigmoid as 1 / (1 + inf) = 0 or 1 / (1 + tiny) = 1.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "hnn/core/eigen.hpp"
// <immintrin.h> costs 0.5 s of every build that includes hnn; without AVX, SSE2's header is all sqrt needs.
#if defined(__AVX__)
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace hnn::kernels::cpu::math {

template <class T>
using ArrayMap = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <class T>
using ConstArrayMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

namespace detail {

/// Where x[i] is not in [lo, hi] (NaN included), y[i] = scalar(x[i]). The first loop is a plain
/// reduction the compiler vectorises; the second runs only for blocks that hold such an element.
template <class T, class Scalar>
void fix_outside(const T* x, T* y, int64_t n, T lo, T hi, Scalar scalar) {
  int inside = 1;  // & without short-circuit, so the loop vectorises
  for (int64_t i = 0; i < n; ++i) inside &= static_cast<int>(x[i] >= lo) & static_cast<int>(x[i] <= hi);
  if (inside) return;
  for (int64_t i = 0; i < n; ++i)
    if (!(x[i] >= lo && x[i] <= hi)) y[i] = scalar(x[i]);
}

/// The inputs whose exp Eigen computes as well as the C library: results well inside the normal range.
template <class T>
struct ExpRange;
template <>
struct ExpRange<float> {
  static constexpr float lo = -87.0f, hi = 88.0f;
};
template <>
struct ExpRange<double> {
  static constexpr double lo = -708.0, hi = 709.0;
};

}  // namespace detail

/// y = exp(x).
template <class T>
void exp(const T* x, T* y, int64_t n) {
  ArrayMap<T>(y, n) = ConstArrayMap<T>(x, n).exp();
  detail::fix_outside(x, y, n, detail::ExpRange<T>::lo, detail::ExpRange<T>::hi,
                      [](T v) { return std::exp(v); });
}

/// y = log(x).
template <class T>
void log(const T* x, T* y, int64_t n) {
  ArrayMap<T>(y, n) = ConstArrayMap<T>(x, n).log();
  detail::fix_outside(x, y, n, std::numeric_limits<T>::min(), std::numeric_limits<T>::max(),
                      [](T v) { return std::log(v); });
}

/// y = sqrt(x), correctly rounded: the processor's vector square root (IEEE-exact on every x86 width), then
/// the C library for the tail. std::sqrt in a loop does not vectorise unless the build sets -fno-math-errno.
template <class T>
void sqrt(const T* x, T* y, int64_t n) {
  int64_t i = 0;
#if defined(__AVX512F__)
  constexpr int64_t width = 64 / sizeof(T);
  for (; i + width <= n; i += width)
    if constexpr (std::is_same_v<T, float>)
      _mm512_storeu_ps(y + i, _mm512_sqrt_ps(_mm512_loadu_ps(x + i)));
    else
      _mm512_storeu_pd(y + i, _mm512_sqrt_pd(_mm512_loadu_pd(x + i)));
#elif defined(__AVX__)
  constexpr int64_t width = 32 / sizeof(T);
  for (; i + width <= n; i += width)
    if constexpr (std::is_same_v<T, float>)
      _mm256_storeu_ps(y + i, _mm256_sqrt_ps(_mm256_loadu_ps(x + i)));
    else
      _mm256_storeu_pd(y + i, _mm256_sqrt_pd(_mm256_loadu_pd(x + i)));
#elif defined(__SSE2__)
  constexpr int64_t width = 16 / sizeof(T);
  for (; i + width <= n; i += width)
    if constexpr (std::is_same_v<T, float>)
      _mm_storeu_ps(y + i, _mm_sqrt_ps(_mm_loadu_ps(x + i)));
    else
      _mm_storeu_pd(y + i, _mm_sqrt_pd(_mm_loadu_pd(x + i)));
#endif
  for (; i < n; ++i) y[i] = std::sqrt(x[i]);
}

/// y = -x (a sign flip: Eigen's AVX-512 negation is 0 - x, which makes -(0) = +0 where PyTorch gives -0).
template <class T>
void neg(const T* x, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = -x[i];
}

/// y = 1 / (1 + exp(-x)).
template <class T>
void sigmoid(const T* x, T* y, int64_t n) {
  ArrayMap<T>(y, n) = (T(1) + (-ConstArrayMap<T>(x, n)).exp()).inverse();
}

}  // namespace hnn::kernels::cpu::math
