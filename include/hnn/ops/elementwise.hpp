// Elementwise ops with broadcasting: + - * / between tensors and with scalars on either side, neg, exp,
// log, sqrt, abs, pow, relu, sigmoid, tanh, clamp, maximum/minimum, comparisons. Each forward is followed
// by its backward closure. Unary math on contiguous data goes through Eigen's vectorised array functions.
// Depends on ops/copy.hpp, kernels/cpu/loops.hpp, Eigen/Core.
#pragma once

#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "hnn/autograd/function.hpp"
#include "hnn/core/eigen.hpp"
#include "hnn/kernels/cpu/loops.hpp"
#include "hnn/kernels/cpu/math.hpp"
#include "hnn/ops/copy.hpp"
#include "hnn/ops/creation.hpp"
#include "hnn/tensor/tensor.hpp"

namespace hnn {

template <class T, class D>
Tensor<T, D> sum_to(const Tensor<T, D>& t, const Shape& shape);

namespace detail {

template <class T>
using ConstArrayMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

/// out = f(x) where f maps an Eigen array expression (vectorised), in parallel chunks.
template <class TOut = void, class T, class D, class F>
auto unary_eigen(const Tensor<T, D>& x, F f) {
  using R = std::conditional_t<std::is_void_v<TOut>, T, TOut>;
  static_assert(is_cpu_v<D>, "this elementwise op has a CPU kernel only (no kernel for device tensors)");
  Tensor<T, D> in = x.is_contiguous() ? x : x.detach().contiguous();
  auto out = Tensor<R, D>::empty(x.shape());
  const T* src = in.data();
  R* dst = out.data();
  parallel_for(in.numel(), parallel_grain, [&](int64_t b, int64_t e) {
    Eigen::Map<Eigen::Array<R, Eigen::Dynamic, 1>>(dst + b, e - b) = f(ConstArrayMap<T>(src + b, e - b));
  });
  return out;
}

/// out = kernel(x) where kernel(src, dst, n) is one of kernels/cpu/math.hpp's functions, in parallel chunks.
template <class T, class D, class Kernel>
Tensor<T, D> unary_kernel(const Tensor<T, D>& x, Kernel kernel) {
  static_assert(is_cpu_v<D>, "this elementwise op has a CPU kernel only (no kernel for device tensors)");
  Tensor<T, D> in = x.is_contiguous() ? x : x.detach().contiguous();
  auto out = Tensor<T, D>::empty(x.shape());
  const T* src = in.data();
  T* dst = out.data();
  parallel_for(in.numel(), parallel_grain, [&](int64_t b, int64_t e) { kernel(src + b, dst + b, e - b); });
  return out;
}

/// out = op(a, b) elementwise over the broadcast shape of a and b.
template <class TOut, class T, class D, class Op>
Tensor<TOut, D> binary_map(const Tensor<T, D>& a, const Tensor<T, D>& b, Op op) {
  static_assert(is_cpu_v<D>, "this binary op has a CPU kernel only (no kernel for device tensors)");
  Shape out_shape = a.shape() == b.shape() ? a.shape() : broadcast_shapes(a.shape(), b.shape());
  auto out = Tensor<TOut, D>::empty(out_shape);
  if (a.shape() == b.shape() && a.is_contiguous() && b.is_contiguous()) {
    const T* pa = a.data();
    const T* pb = b.data();
    TOut* po = out.data();
    parallel_for(out.numel(), parallel_grain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) po[i] = op(pa[i], pb[i]);
    });
    return out;
  }
  kernels::cpu::binary_strided(out.data(), a.data(), b.data(), out_shape.vec(),
                               broadcast_strides(a, out_shape), broadcast_strides(b, out_shape), op);
  return out;
}

/// out = op(x) elementwise with a scalar function (strided input allowed).
template <class TOut, class T, class D, class Op>
Tensor<TOut, D> unary_map(const Tensor<T, D>& x, Op op) {
  static_assert(is_cpu_v<D>, "this elementwise op has a CPU kernel only (no kernel for device tensors)");
  auto out = Tensor<TOut, D>::empty(x.shape());
  kernels::cpu::unary_strided(out.data(), x.data(), x.shape().vec(), x.strides(), op);
  return out;
}

template <class T, class D>
using Grads = std::vector<Tensor<T, D>>;

/// out = a op b over the broadcast shape of a and b, on any device with ElementwiseKernels.
template <class T, class D>
Tensor<T, D> arithmetic(kernels::BinaryOp op, const Tensor<T, D>& a, const Tensor<T, D>& b) {
  const bool same_shape = a.shape() == b.shape();
  Shape out_shape = same_shape ? a.shape() : broadcast_shapes(a.shape(), b.shape());
  auto out = Tensor<T, D>::empty(out_shape);
  if (out.numel() == 0) return out;
  if (same_shape && a.is_contiguous() && b.is_contiguous()) {
    ElementwiseKernels<D>::binary(op, out.data(), a.data(), b.data(), out.numel(), nullptr);
    return out;
  }
  const auto g = strided_geometry(out_shape, contiguous_strides(out_shape), broadcast_strides(a, out_shape),
                                  broadcast_strides(b, out_shape));
  ElementwiseKernels<D>::binary(op, out.data(), a.data(), b.data(), out.numel(), &g);
  return out;
}

/// out = op(a, s) elementwise (a + s, a * s, a / s, s - a, s / a, -a), on any device.
template <class T, class D>
Tensor<T, D> arithmetic(kernels::ScalarOp op, const Tensor<T, D>& a, T s) {
  const Tensor<T, D> in = a.is_contiguous() ? a : a.detach().contiguous();
  auto out = Tensor<T, D>::empty(a.shape());
  if (out.numel() > 0) ElementwiseKernels<D>::scalar(op, out.data(), in.data(), in.numel(), s);
  return out;
}

}  // namespace detail

// ---- binary arithmetic -------------------------------------------------------------------------------

template <class T, class D>
Tensor<T, D> add(const Tensor<T, D>& a, const Tensor<T, D>& b) {
  auto out = detail::arithmetic(kernels::BinaryOp::add, a, b);
  if constexpr (is_differentiable_v<T>)
    if (autograd::any_requires_grad(a, b))
      autograd::record<T, D>(
          "AddBackward0", out, {a, b},
          [sa = a.shape(), sb = b.shape()](const Tensor<T, D>& g, const std::vector<bool>& need) {
            return detail::Grads<T, D>{need[0] ? sum_to(g, sa) : Tensor<T, D>(),
                                       need[1] ? sum_to(g, sb) : Tensor<T, D>()};
          });
  return out;
}

template <class T, class D>
Tensor<T, D> sub(const Tensor<T, D>& a, const Tensor<T, D>& b) {
  auto out = detail::arithmetic(kernels::BinaryOp::sub, a, b);
  if constexpr (is_differentiable_v<T>)
    if (autograd::any_requires_grad(a, b))
      autograd::record<T, D>(
          "SubBackward0", out, {a, b},
          [sa = a.shape(), sb = b.shape()](const Tensor<T, D>& g, const std::vector<bool>& need) {
            return detail::Grads<T, D>{need[0] ? sum_to(g, sa) : Tensor<T, D>(),
                                       need[1] ? sum_to(g.neg(), sb) : Tensor<T, D>()};
          });
  return out;
}

template <class T, class D>
Tensor<T, D> mul(const Tensor<T, D>& a, const Tensor<T, D>& b) {
  auto out = detail::arithmetic(kernels::BinaryOp::mul, a, b);
  if constexpr (is_differentiable_v<T>)
    if (autograd::any_requires_grad(a, b))
      autograd::record<T, D>(
          "MulBackward0", out, {a, b},
          [a = a.detach(), b = b.detach()](const Tensor<T, D>& g, const std::vector<bool>& need) {
            return detail::Grads<T, D>{need[0] ? sum_to(mul(g, b), a.shape()) : Tensor<T, D>(),
                                       need[1] ? sum_to(mul(g, a), b.shape()) : Tensor<T, D>()};
          });
  return out;
}

template <class T, class D>
Tensor<T, D> div(const Tensor<T, D>& a, const Tensor<T, D>& b) {
  auto out = detail::arithmetic(kernels::BinaryOp::div, a, b);
  if constexpr (is_differentiable_v<T>)
    if (autograd::any_requires_grad(a, b))
      autograd::record<T, D>(
          "DivBackward0", out, {a, b},
          [a = a.detach(), b = b.detach()](const Tensor<T, D>& g, const std::vector<bool>& need) {
            detail::Grads<T, D> grads(2);
            if (need[0]) grads[0] = sum_to(div(g, b), a.shape());
            if (need[1]) {
              // d(a/b)/db = -a / b^2, formed as ATen does, -g * ((a / b) / b): b * b would overflow first
              auto quotient = div(div(a, b), b);
              grads[1] = sum_to(mul(g, quotient).neg(), b.shape());
            }
            return grads;
          });
  return out;
}

namespace detail {

/// maximum (Max) or minimum of a and b: NaN when either is NaN, as PyTorch. Backward, as ATen's: where a and
/// b are equal each gets half the gradient, the side that lost gets none, and at a NaN both get all of it.
template <bool Max, class T, class D>
Tensor<T, D> extremum(const Tensor<T, D>& a, const Tensor<T, D>& b) {
  require_cpu_kernel<"maximum or minimum", D>();
  auto out = binary_map<T>(a, b, [](T x, T y) {
    if (x != x) return x;
    if (y != y) return y;
    return (Max ? x > y : x < y) ? x : y;
  });
  if constexpr (is_differentiable_v<T>)
    if (autograd::any_requires_grad(a, b))
      autograd::record<T, D>(
          Max ? "MaximumBackward0" : "MinimumBackward0", out, {a, b},
          [a = a.detach(), b = b.detach()](const Tensor<T, D>& g, const std::vector<bool>& need) {
            auto share = [](T mine, T theirs) {  // of the gradient, for the input holding `mine`
              if (mine == theirs) return T(0.5);
              return (Max ? mine < theirs : mine > theirs) ? T(0) : T(1);
            };
            Grads<T, D> grads(2);
            if (need[0]) grads[0] = sum_to(mul(g, binary_map<T>(a, b, share)), a.shape());
            if (need[1]) grads[1] = sum_to(mul(g, binary_map<T>(b, a, share)), b.shape());
            return grads;
          });
  return out;
}

}  // namespace detail

/// Elementwise maximum (torch.maximum).
template <class T, class D>
Tensor<T, D> maximum(const Tensor<T, D>& a, const Tensor<T, D>& b) {
  return detail::extremum<true>(a, b);
}

/// Elementwise minimum (torch.minimum).
template <class T, class D>
Tensor<T, D> minimum(const Tensor<T, D>& a, const Tensor<T, D>& b) {
  return detail::extremum<false>(a, b);
}

// ---- scalar arithmetic (scalar of the tensor's type on either side) -----------------------------------

template <class T, class D>
Tensor<T, D> add(const Tensor<T, D>& a, std::type_identity_t<T> s) {
  auto out = detail::arithmetic(kernels::ScalarOp::add, a, static_cast<T>(s));
  if constexpr (is_differentiable_v<T>)
    if (autograd::any_requires_grad(a))
      autograd::record<T, D>("AddBackward1", out, {a}, [](const Tensor<T, D>& g, const std::vector<bool>&) {
        return detail::Grads<T, D>{g};
      });
  return out;
}

template <class T, class D>
Tensor<T, D> mul(const Tensor<T, D>& a, std::type_identity_t<T> s) {
  auto out = detail::arithmetic(kernels::ScalarOp::mul, a, static_cast<T>(s));
  if constexpr (is_differentiable_v<T>)
    if (autograd::any_requires_grad(a))
      autograd::record<T, D>("MulBackward1", out, {a}, [s](const Tensor<T, D>& g, const std::vector<bool>&) {
        return detail::Grads<T, D>{mul(g, s)};
      });
  return out;
}

/// s - a
template <class T, class D>
Tensor<T, D> rsub(const Tensor<T, D>& a, std::type_identity_t<T> s) {
  auto out = detail::arithmetic(kernels::ScalarOp::rsub, a, static_cast<T>(s));
  if constexpr (is_differentiable_v<T>)
    if (autograd::any_requires_grad(a))
      autograd::record<T, D>("RsubBackward1", out, {a}, [](const Tensor<T, D>& g, const std::vector<bool>&) {
        return detail::Grads<T, D>{g.neg()};
      });
  return out;
}

/// a / s, correctly rounded as PyTorch's (a multiplication by 1 / s would round twice).
template <class T, class D>
Tensor<T, D> div(const Tensor<T, D>& a, std::type_identity_t<T> s) {
  auto out = detail::arithmetic(kernels::ScalarOp::div, a, static_cast<T>(s));
  if constexpr (is_differentiable_v<T>)
    if (autograd::any_requires_grad(a))
      autograd::record<T, D>("DivBackward1", out, {a}, [s](const Tensor<T, D>& g, const std::vector<bool>&) {
        return detail::Grads<T, D>{div(g, s)};
      });
  return out;
}

/// s / a, computed as PyTorch's Tensor.__rtruediv__ does, a.reciprocal() * s (two roundings, and
/// 0 / 0 = 0 * inf = nan where a true division would too, but 0 / subnormal = 0 * inf = nan as well).
template <class T, class D>
Tensor<T, D> rdiv(const Tensor<T, D>& a, std::type_identity_t<T> s) {
  auto reciprocal = detail::arithmetic(kernels::ScalarOp::rdiv, a, T(1));
  auto out = detail::arithmetic(kernels::ScalarOp::mul, reciprocal, static_cast<T>(s));
  if constexpr (is_differentiable_v<T>)
    if (autograd::any_requires_grad(a))
      // MulBackward0 then ReciprocalBackward0:  d/da = -(g s) r^2  with r = 1 / a
      autograd::record<T, D>("MulBackward0", out, {a},
                             [reciprocal, s](const Tensor<T, D>& g, const std::vector<bool>&) {
                               return detail::Grads<T, D>{mul(mul(g, s), mul(reciprocal, reciprocal)).neg()};
                             });
  return out;
}

template <class T, class D>
Tensor<T, D> operator+(const Tensor<T, D>& a, const Tensor<T, D>& b) {
  return add(a, b);
}
template <class T, class D>
Tensor<T, D> operator-(const Tensor<T, D>& a, const Tensor<T, D>& b) {
  return sub(a, b);
}
template <class T, class D>
Tensor<T, D> operator*(const Tensor<T, D>& a, const Tensor<T, D>& b) {
  return mul(a, b);
}
template <class T, class D>
Tensor<T, D> operator/(const Tensor<T, D>& a, const Tensor<T, D>& b) {
  return div(a, b);
}
template <class T, class D>
Tensor<T, D> operator+(const Tensor<T, D>& a, std::type_identity_t<T> s) {
  return add(a, s);
}
template <class T, class D>
Tensor<T, D> operator+(std::type_identity_t<T> s, const Tensor<T, D>& a) {
  return add(a, s);
}
template <class T, class D>
Tensor<T, D> operator-(const Tensor<T, D>& a, std::type_identity_t<T> s) {
  return add(a, static_cast<T>(-s));
}
template <class T, class D>
Tensor<T, D> operator-(std::type_identity_t<T> s, const Tensor<T, D>& a) {
  return rsub(a, s);
}
template <class T, class D>
Tensor<T, D> operator*(const Tensor<T, D>& a, std::type_identity_t<T> s) {
  return mul(a, s);
}
template <class T, class D>
Tensor<T, D> operator*(std::type_identity_t<T> s, const Tensor<T, D>& a) {
  return mul(a, s);
}
template <class T, class D>
Tensor<T, D> operator/(const Tensor<T, D>& a, std::type_identity_t<T> s) {
  if constexpr (std::is_floating_point_v<T>)
    return div(a, s);
  else
    return detail::unary_map<T>(a, [s](T x) { return x / s; });
}
template <class T, class D>
Tensor<T, D> operator/(std::type_identity_t<T> s, const Tensor<T, D>& a) {
  return rdiv(a, s);
}
template <class T, class D>
Tensor<T, D> operator-(const Tensor<T, D>& a) {
  return a.neg();
}

// ---- unary math -------------------------------------------------------------------------------------

template <class T, class D>
Tensor<T, D> Tensor<T, D>::neg() const {
  Tensor out = detail::arithmetic(kernels::ScalarOp::neg, *this, T(0));
  if constexpr (is_differentiable_v<T>)
    if (autograd::any_requires_grad(*this))
      autograd::record<T, D>("NegBackward0", out, {*this}, [](const Tensor& g, const std::vector<bool>&) {
        return detail::Grads<T, D>{g.neg()};
      });
  return out;
}

template <class T, class D>
Tensor<T, D> Tensor<T, D>::exp() const {
  require_cpu_kernel<"exp", D>();
  static_assert(std::is_floating_point_v<T>, "exp() needs a floating point tensor");
  auto out =
      detail::unary_kernel(*this, [](const T* x, T* y, int64_t n) { kernels::cpu::math::exp(x, y, n); });
  if (autograd::any_requires_grad(*this))
    autograd::record<T, D>("ExpBackward0", out, {*this},
                           [y = out.detach()](const Tensor& g, const std::vector<bool>&) {
                             return detail::Grads<T, D>{mul(g, y)};
                           });
  return out;
}

template <class T, class D>
Tensor<T, D> Tensor<T, D>::log() const {
  require_cpu_kernel<"log", D>();
  static_assert(std::is_floating_point_v<T>, "log() needs a floating point tensor");
  auto out =
      detail::unary_kernel(*this, [](const T* x, T* y, int64_t n) { kernels::cpu::math::log(x, y, n); });
  if (autograd::any_requires_grad(*this))
    autograd::record<T, D>(
        "LogBackward0", out, {*this},
        [x = detach()](const Tensor& g, const std::vector<bool>&) { return detail::Grads<T, D>{div(g, x)}; });
  return out;
}

template <class T, class D>
Tensor<T, D> Tensor<T, D>::sqrt() const {
  require_cpu_kernel<"sqrt", D>();
  static_assert(std::is_floating_point_v<T>, "sqrt() needs a floating point tensor");
  auto out =
      detail::unary_kernel(*this, [](const T* x, T* y, int64_t n) { kernels::cpu::math::sqrt(x, y, n); });
  if (autograd::any_requires_grad(*this))
    autograd::record<T, D>("SqrtBackward0", out, {*this},
                           [y = out.detach()](const Tensor& g, const std::vector<bool>&) {
                             return detail::Grads<T, D>{
                                 detail::binary_map<T>(g, y, [](T gv, T yv) { return gv / (T(2) * yv); })};
                           });
  return out;
}

template <class T, class D>
Tensor<T, D> Tensor<T, D>::abs() const {
  require_cpu_kernel<"abs", D>();
  auto out = detail::unary_eigen(*this, [](const auto& x) { return x.abs(); });
  if constexpr (is_differentiable_v<T>)
    if (autograd::any_requires_grad(*this))
      autograd::record<T, D>("AbsBackward0", out, {*this},
                             [x = detach()](const Tensor& g, const std::vector<bool>&) {
                               return detail::Grads<T, D>{detail::binary_map<T>(g, x, [](T gv, T xv) {
                                 return xv > 0 ? gv : xv < 0 ? -gv : T(0);
                               })};
                             });
  return out;
}

namespace detail {

/// x^p as ATen's pow(Tensor, Scalar) computes it: the exponents 2, 3, -1, -2, 0.5 and -0.5 by x * x, x * x *
/// x, 1 / x, 1 / (x * x), sqrt and 1 / sqrt (their signs of zero and infinity follow from that), others by
/// pow.
template <class T, class D>
Tensor<T, D> pow_scalar(const Tensor<T, D>& x, T p) {
  if (p == T(2)) return unary_eigen(x, [](const auto& v) { return v * v; });
  if (p == T(3)) return unary_eigen(x, [](const auto& v) { return v * v * v; });
  if (p == T(-1)) return unary_eigen(x, [](const auto& v) { return v.inverse(); });
  if (p == T(-2)) return unary_eigen(x, [](const auto& v) { return (v * v).inverse(); });
  if (p == T(0.5))
    return unary_kernel(x, [](const T* in, T* out, int64_t n) { kernels::cpu::math::sqrt(in, out, n); });
  if (p == T(-0.5)) {
    auto root = unary_kernel(x, [](const T* in, T* out, int64_t n) { kernels::cpu::math::sqrt(in, out, n); });
    return unary_eigen(root, [](const auto& v) { return v.inverse(); });
  }
  return unary_eigen(x, [p](const auto& v) { return v.pow(p); });
}

}  // namespace detail

template <class T, class D>
Tensor<T, D> Tensor<T, D>::pow(double exponent) const {
  require_cpu_kernel<"pow", D>();
  static_assert(std::is_floating_point_v<T>, "pow() needs a floating point tensor");
  const T p = static_cast<T>(exponent);
  Tensor out = detail::pow_scalar(*this, p);
  if (autograd::any_requires_grad(*this))
    // d x^p / dx = p x^(p-1), with x^(p-1) by the same pow (ATen's pow_backward): at x = -0 and -inf it gives
    // PyTorch's signed zeros, infinities and NaNs
    autograd::record<T, D>(
        "PowBackward0", out, {*this}, [x = detach(), p](const Tensor& g, const std::vector<bool>&) {
          if (p == T(0)) return detail::Grads<T, D>{zeros<T, D>(g.shape())};
          return detail::Grads<T, D>{detail::binary_map<T>(
              g, detail::pow_scalar(x, p - T(1)), [p](T gv, T powered) { return gv * (p * powered); })};
        });
  return out;
}

template <class T, class D>
Tensor<T, D> Tensor<T, D>::relu() const {
  require_cpu_kernel<"relu", D>();
  auto out = detail::unary_eigen(*this, [](const auto& x) { return x.max(T(0)); });
  if constexpr (is_differentiable_v<T>)
    if (autograd::any_requires_grad(*this))
      autograd::record<T, D>(
          "ReluBackward0", out, {*this}, [y = out.detach()](const Tensor& g, const std::vector<bool>&) {
            return detail::Grads<T, D>{
                detail::binary_map<T>(g, y, [](T gv, T yv) { return yv <= T(0) ? T(0) : gv; })};
          });
  return out;
}

template <class T, class D>
Tensor<T, D> Tensor<T, D>::sigmoid() const {
  require_cpu_kernel<"sigmoid", D>();
  static_assert(std::is_floating_point_v<T>, "sigmoid() needs a floating point tensor");
  auto out =
      detail::unary_kernel(*this, [](const T* x, T* y, int64_t n) { kernels::cpu::math::sigmoid(x, y, n); });
  if (autograd::any_requires_grad(*this))
    autograd::record<T, D>(
        "SigmoidBackward0", out, {*this}, [y = out.detach()](const Tensor& g, const std::vector<bool>&) {
          return detail::Grads<T, D>{
              detail::binary_map<T>(g, y, [](T gv, T yv) { return gv * yv * (T(1) - yv); })};
        });
  return out;
}

template <class T, class D>
Tensor<T, D> Tensor<T, D>::tanh() const {
  require_cpu_kernel<"tanh", D>();
  static_assert(std::is_floating_point_v<T>, "tanh() needs a floating point tensor");
  auto out = detail::unary_eigen(*this, [](const auto& x) { return x.tanh(); });
  if (autograd::any_requires_grad(*this))
    autograd::record<T, D>(
        "TanhBackward0", out, {*this}, [y = out.detach()](const Tensor& g, const std::vector<bool>&) {
          return detail::Grads<T, D>{
              detail::binary_map<T>(g, y, [](T gv, T yv) { return gv * (T(1) - yv * yv); })};
        });
  return out;
}

template <class T, class D>
Tensor<T, D> Tensor<T, D>::clamp(std::optional<double> min, std::optional<double> max) const {
  require_cpu_kernel<"clamp", D>();
  // A missing bound is infinite (for integers the extreme value): clamp(inf, min=0) is inf, with gradient 1.
  constexpr bool has_inf = std::numeric_limits<T>::has_infinity;
  const T lo = min       ? static_cast<T>(*min)
               : has_inf ? -std::numeric_limits<T>::infinity()
                         : std::numeric_limits<T>::lowest();
  const T hi = max       ? static_cast<T>(*max)
               : has_inf ? std::numeric_limits<T>::infinity()
                         : std::numeric_limits<T>::max();
  auto out = detail::unary_map<T>(*this, [lo, hi](T v) { return v < lo ? lo : (v > hi ? hi : v); });
  if constexpr (is_differentiable_v<T>)
    if (autograd::any_requires_grad(*this))
      autograd::record<T, D>("ClampBackward1", out, {*this},
                             [x = detach(), lo, hi](const Tensor& g, const std::vector<bool>&) {
                               return detail::Grads<T, D>{detail::binary_map<T>(
                                   g, x, [lo, hi](T gv, T xv) { return xv >= lo && xv <= hi ? gv : T(0); })};
                             });
  return out;
}

// ---- comparisons (int64 results holding 0 or 1; PyTorch returns bool) ---------------------------------

template <class T, class D>
Tensor<int64_t, D> Tensor<T, D>::eq(const Tensor& o) const {
  require_cpu_kernel<"eq", D>();
  return detail::binary_map<int64_t>(*this, o, [](T a, T b) { return int64_t(a == b); });
}
template <class T, class D>
Tensor<int64_t, D> Tensor<T, D>::ne(const Tensor& o) const {
  require_cpu_kernel<"ne", D>();
  return detail::binary_map<int64_t>(*this, o, [](T a, T b) { return int64_t(a != b); });
}
template <class T, class D>
Tensor<int64_t, D> Tensor<T, D>::gt(const Tensor& o) const {
  require_cpu_kernel<"gt", D>();
  return detail::binary_map<int64_t>(*this, o, [](T a, T b) { return int64_t(a > b); });
}
template <class T, class D>
Tensor<int64_t, D> Tensor<T, D>::lt(const Tensor& o) const {
  require_cpu_kernel<"lt", D>();
  return detail::binary_map<int64_t>(*this, o, [](T a, T b) { return int64_t(a < b); });
}
template <class T, class D>
Tensor<int64_t, D> Tensor<T, D>::ge(const Tensor& o) const {
  require_cpu_kernel<"ge", D>();
  return detail::binary_map<int64_t>(*this, o, [](T a, T b) { return int64_t(a >= b); });
}
template <class T, class D>
Tensor<int64_t, D> Tensor<T, D>::le(const Tensor& o) const {
  require_cpu_kernel<"le", D>();
  return detail::binary_map<int64_t>(*this, o, [](T a, T b) { return int64_t(a <= b); });
}
template <class T, class D>
Tensor<int64_t, D> Tensor<T, D>::eq(T value) const {
  require_cpu_kernel<"eq", D>();
  return detail::unary_map<int64_t>(*this, [value](T a) { return int64_t(a == value); });
}

// ---- free-function spellings --------------------------------------------------------------------------

template <class T, class D>
Tensor<T, D> neg(const Tensor<T, D>& x) {
  return x.neg();
}
template <class T, class D>
Tensor<T, D> exp(const Tensor<T, D>& x) {
  return x.exp();
}
template <class T, class D>
Tensor<T, D> log(const Tensor<T, D>& x) {
  return x.log();
}
template <class T, class D>
Tensor<T, D> sqrt(const Tensor<T, D>& x) {
  return x.sqrt();
}
template <class T, class D>
Tensor<T, D> abs(const Tensor<T, D>& x) {
  return x.abs();
}
template <class T, class D>
Tensor<T, D> pow(const Tensor<T, D>& x, double p) {
  return x.pow(p);
}
template <class T, class D>
Tensor<T, D> relu(const Tensor<T, D>& x) {
  return x.relu();
}
template <class T, class D>
Tensor<T, D> sigmoid(const Tensor<T, D>& x) {
  return x.sigmoid();
}
template <class T, class D>
Tensor<T, D> tanh(const Tensor<T, D>& x) {
  return x.tanh();
}
template <class T, class D>
Tensor<T, D> clamp(const Tensor<T, D>& x, std::optional<double> lo, std::optional<double> hi = std::nullopt) {
  return x.clamp(lo, hi);
}
template <class T, class D>
Tensor<int64_t, D> eq(const Tensor<T, D>& a, const Tensor<T, D>& b) {
  return a.eq(b);
}

// ---- gradient accumulation (used by the engine, outside grad mode) -----------------------------------

template <class T, class D>
Tensor<T, D> add_for_accumulation(const Tensor<T, D>& a, const Tensor<T, D>& b) {
  return detail::arithmetic(kernels::BinaryOp::add, a, b);
}

template <class T, class D>
void add_inplace_for_accumulation(Tensor<T, D>& dst, const Tensor<T, D>& src) {
  HNN_CHECK_RUNTIME(dst.shape() == src.shape(), "gradient of shape ", src.shape(),
                    " cannot accumulate into a gradient of shape ", dst.shape());
  if (dst.numel() == 0) return;
  if (dst.is_contiguous() && src.is_contiguous()) {
    ElementwiseKernels<D>::binary(kernels::BinaryOp::add, dst.data(), dst.data(), src.data(), dst.numel(),
                                  nullptr);
    return;
  }
  dst.copy_(add_for_accumulation(dst, src));
}

}  // namespace hnn
