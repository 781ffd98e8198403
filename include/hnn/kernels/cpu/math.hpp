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
// correctly rounded C library call; sigmoid is 1 / (1 + exp(-x)), PyTorch's own formula, on Eigen's
// exp, whose edge cases only ever reach the sigmoid as 1 / (1 + inf) = 0 or 1 / (1 + tiny) = 1.
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <limits>

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
  bool any_outside = false;
  for (int64_t i = 0; i < n; ++i) any_outside |= !(x[i] >= lo && x[i] <= hi);
  if (!any_outside) return;
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
  detail::fix_outside(x, y, n, detail::ExpRange<T>::lo, detail::ExpRange<T>::hi, [](T v) { return std::exp(v); });
}

/// y = log(x).
template <class T>
void log(const T* x, T* y, int64_t n) {
  ArrayMap<T>(y, n) = ConstArrayMap<T>(x, n).log();
  detail::fix_outside(x, y, n, std::numeric_limits<T>::min(), std::numeric_limits<T>::max(),
                      [](T v) { return std::log(v); });
}

/// y = sqrt(x), correctly rounded.
template <class T>
void sqrt(const T* x, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::sqrt(x[i]);
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
