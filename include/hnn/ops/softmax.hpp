// softmax and log_softmax along a dim, numerically stable (the row maximum is subtracted first), with
// their closed-form backward. Depends on ops/reduction.hpp.
#pragma once

#include <cmath>
#include <vector>

#include "hnn/autograd/function.hpp"
#include "hnn/ops/reduction.hpp"

namespace hnn {

namespace detail {

/// Applies fn(in_row, out_row, n, stride) to every line along `dim` of contiguous x.
template <class T, class D, class Fn>
Tensor<T, D> along_dim(const Tensor<T, D>& x_in, int64_t dim, Fn fn) {
  require_cpu_kernel<"softmax or log_softmax", D>();
  Tensor<T, D> x = x_in.detach().contiguous();
  int64_t d = wrap_dim(dim, x.dim());
  auto out = Tensor<T, D>::empty(x.shape());
  if (x.numel() == 0) return out;
  int64_t n = x.dim() == 0 ? 1 : x.size(d), inner = 1, outer = 1;
  for (int64_t i = 0; i < d; ++i) outer *= x.size(i);
  for (int64_t i = d + 1; i < x.dim(); ++i) inner *= x.size(i);
  const T* px = x.data();
  T* po = out.data();
  parallel_for(outer * inner, std::max<int64_t>(1, parallel_grain / n), [&](int64_t b, int64_t e) {
    for (int64_t line = b; line < e; ++line) {
      int64_t o = line / inner, i = line % inner;
      fn(px + o * n * inner + i, po + o * n * inner + i, n, inner);
    }
  });
  return out;
}

template <class T, bool Log>
void softmax_line(const T* in, T* out, int64_t n, int64_t stride) {
  T max_value = in[0];
  for (int64_t j = 1; j < n; ++j) max_value = std::max(max_value, in[j * stride]);
  if (std::isinf(max_value) && max_value < 0) max_value = 0;
  double total = 0;
  for (int64_t j = 0; j < n; ++j) total += std::exp(static_cast<double>(in[j * stride] - max_value));
  if constexpr (Log) {
    const T log_total = static_cast<T>(std::log(total));
    for (int64_t j = 0; j < n; ++j) out[j * stride] = in[j * stride] - max_value - log_total;
  } else {
    const double inv = 1.0 / total;
    for (int64_t j = 0; j < n; ++j)
      out[j * stride] = static_cast<T>(std::exp(static_cast<double>(in[j * stride] - max_value)) * inv);
  }
}

}  // namespace detail

template <class T, class D>
Tensor<T, D> Tensor<T, D>::softmax(int64_t dim) const {
  static_assert(std::is_floating_point_v<T>, "softmax needs a floating point tensor");
  auto out = detail::along_dim(*this, dim, detail::softmax_line<T, false>);
  if (autograd::any_requires_grad(*this))
    autograd::record<T, D>("SoftmaxBackward0", out, {*this},
                           [y = out.detach(), dim](const Tensor& g, const std::vector<bool>&) {
                             // dx = y * (g - sum(g * y, dim))
                             Tensor gy = g * y;
                             return detail::Grads<T, D>{gy - y * gy.sum({dim}, true)};
                           });
  return out;
}

template <class T, class D>
Tensor<T, D> Tensor<T, D>::log_softmax(int64_t dim) const {
  static_assert(std::is_floating_point_v<T>, "log_softmax needs a floating point tensor");
  auto out = detail::along_dim(*this, dim, detail::softmax_line<T, true>);
  if (autograd::any_requires_grad(*this))
    autograd::record<T, D>("LogSoftmaxBackward0", out, {*this},
                           [y = out.detach(), dim](const Tensor& g, const std::vector<bool>&) {
                             // dx = g - exp(y) * sum(g, dim)
                             return detail::Grads<T, D>{g - y.exp() * g.sum({dim}, true)};
                           });
  return out;
}

template <class T, class D>
Tensor<T, D> softmax(const Tensor<T, D>& x, int64_t dim) {
  return x.softmax(dim);
}
template <class T, class D>
Tensor<T, D> log_softmax(const Tensor<T, D>& x, int64_t dim) {
  return x.log_softmax(dim);
}

}  // namespace hnn
