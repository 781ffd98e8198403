// Reductions: sum, mean, var (two-pass, accumulated in double), std, max/min (all or along a dim),
// argmax/argmin, and sum_to (the broadcast-undoing sum every binary op's backward needs).
// Each forward is followed by its backward. Depends on ops/elementwise.hpp, ops/shape.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "hnn/autograd/function.hpp"
#include "hnn/core/eigen.hpp"
#include "hnn/kernels/cpu/elementwise.hpp"
#include "hnn/kernels/cpu/loops.hpp"
#include "hnn/kernels/kernel_traits.hpp"
#include "hnn/ops/elementwise.hpp"
#include "hnn/ops/shape.hpp"

namespace hnn {

namespace detail {

/// Sorted, unique, wrapped dims; an empty list means every dim (PyTorch's sum(dim=[])).
inline std::vector<int64_t> normalize_dims(const Shape& dims, int64_t ndim) {
  std::vector<int64_t> out;
  if (dims.empty()) {
    for (int64_t i = 0; i < ndim; ++i) out.push_back(i);
    return out;
  }
  for (int64_t d : dims) {
    const int64_t w = wrap_dim(d, ndim);  // validates; a 0-dim tensor accepts dim 0 / -1 and reduces nothing
    if (ndim > 0) out.push_back(w);
  }
  std::sort(out.begin(), out.end());
  HNN_CHECK(std::adjacent_find(out.begin(), out.end()) == out.end(), "dim ", dims,
            " appears multiple times in the list of dims");
  return out;
}

/// The geometry of a reduction: input permuted to (kept..., reduced...) and viewed as (outer, inner).
struct ReducePlan {
  std::vector<int64_t> dims;  // reduced dims, sorted
  Shape out_shape;            // with keepdim
  Shape out_shape_squeezed;   // without keepdim
  Shape permutation;
  int64_t outer = 1, inner = 1;
  bool leading = false;  // reduced dims are exactly the leading ones: reduce columns of (inner, outer)
};

inline ReducePlan plan_reduce(const Shape& shape, const Shape& dims_arg) {
  ReducePlan plan;
  const auto ndim = static_cast<int64_t>(shape.size());
  plan.dims = normalize_dims(dims_arg, ndim);
  std::vector<bool> reduced(static_cast<size_t>(ndim), false);
  for (int64_t d : plan.dims) reduced[static_cast<size_t>(d)] = true;
  std::vector<int64_t> keep_dims, perm, out_keep, out_squeezed;
  for (int64_t i = 0; i < ndim; ++i) {
    if (!reduced[static_cast<size_t>(i)]) {
      perm.push_back(i);
      plan.outer *= shape[static_cast<size_t>(i)];
      out_squeezed.push_back(shape[static_cast<size_t>(i)]);
      out_keep.push_back(shape[static_cast<size_t>(i)]);
    } else {
      out_keep.push_back(1);
    }
  }
  for (int64_t d : plan.dims) {
    perm.push_back(d);
    plan.inner *= shape[static_cast<size_t>(d)];
  }
  plan.leading = !plan.dims.empty() && plan.dims.back() == static_cast<int64_t>(plan.dims.size()) - 1;
  plan.out_shape = Shape(out_keep);
  plan.out_shape_squeezed = Shape(out_squeezed);
  plan.permutation = Shape(perm);
  return plan;
}

/// Reduces rows: for each of `outer` rows of the (outer, inner) matrix, writes reduce_row(ptr, inner, stride)
/// where consecutive row elements are `stride` apart. Handles the leading-dims layout without a copy.
template <class TOut, class T, class D, class RowFn>
Tensor<TOut, D> reduce_rows(const Tensor<T, D>& x, const ReducePlan& plan, bool keepdim, RowFn row_fn) {
  static_assert(is_cpu_v<D>, "this reduction has a CPU kernel only (no kernel for device tensors)");
  auto out = Tensor<TOut, D>::empty(keepdim ? plan.out_shape : plan.out_shape_squeezed);
  TOut* po = out.data();
  if (plan.leading && x.is_contiguous()) {
    // x is (inner, outer) row-major: element j of row o sits at o + j * outer.
    const T* px = x.data();
    const int64_t outer = plan.outer, inner = plan.inner;
    parallel_for(outer, std::max<int64_t>(1, parallel_grain / std::max<int64_t>(inner, 1)),
                 [&](int64_t b, int64_t e) {
                   for (int64_t o = b; o < e; ++o) po[o] = row_fn(px + o, inner, outer);
                 });
    return out;
  }
  Tensor<T, D> xp = x.detach().permute(plan.permutation).contiguous();
  const T* px = xp.data();
  const int64_t inner = plan.inner;
  parallel_for(plan.outer, std::max<int64_t>(1, parallel_grain / std::max<int64_t>(inner, 1)),
               [&](int64_t b, int64_t e) {
                 for (int64_t o = b; o < e; ++o) po[o] = row_fn(px + o * inner, inner, int64_t(1));
               });
  return out;
}

using kernels::cpu::pairwise_sum;
using kernels::cpu::strided_sum;

/// Gradient of a reduction output expanded back to the input shape.
template <class T, class D>
Tensor<T, D> expand_reduced_grad(const Tensor<T, D>& g, const ReducePlan& plan, const Shape& input_shape) {
  return g.reshape(plan.out_shape).expand(input_shape);
}

}  // namespace detail

/// Sums `t` down to `shape` (the inverse of broadcasting `shape` up to t.shape()).
template <class T, class D>
Tensor<T, D> sum_to(const Tensor<T, D>& t, const Shape& shape) {
  if (t.shape() == shape) return t;
  const size_t lead = t.shape().size() - shape.size();
  std::vector<int64_t> dims;
  for (size_t i = 0; i < t.shape().size(); ++i)
    if (i < lead || (shape[i - lead] == 1 && t.shape()[i] != 1)) dims.push_back(static_cast<int64_t>(i));
  if (dims.empty()) return t.reshape(shape);
  return t.sum(Shape(dims), /*keepdim=*/true).reshape(shape);
}

template <class T, class D>
Tensor<T, D> Tensor<T, D>::sum(const Shape& dims, bool keepdim) const {
  auto plan = detail::plan_reduce(shape(), dims);
  auto out = Tensor::empty(keepdim ? plan.out_shape : plan.out_shape_squeezed);
  if (out.numel() > 0) {
    if (plan.leading && is_contiguous()) {
      // The reduced dims lead: the input is an (inner, outer) matrix whose columns are summed in place.
      ReduceKernels<D>::sum_columns(out.data(), data(), plan.outer, plan.inner);
    } else {
      const Tensor permuted = detach().permute(plan.permutation).contiguous();
      ReduceKernels<D>::sum_rows(out.data(), permuted.data(), plan.outer, plan.inner);
    }
  }
  if constexpr (is_differentiable_v<T>)
    if (autograd::any_requires_grad(*this))
      autograd::record<T, D>("SumBackward1", out, {*this},
                             [plan, in_shape = shape()](const Tensor& g, const std::vector<bool>&) {
                               return detail::Grads<T, D>{detail::expand_reduced_grad(g, plan, in_shape)};
                             });
  return out;
}

template <class T, class D>
Tensor<T, D> Tensor<T, D>::sum() const {
  return sum(Shape{}, false);
}

template <class T, class D>
Tensor<T, D> Tensor<T, D>::mean(const Shape& dims, bool keepdim) const {
  static_assert(std::is_floating_point_v<T>, "mean() needs a floating point tensor; cast<double>() first");
  auto plan = detail::plan_reduce(shape(), dims);
  const T count = static_cast<T>(plan.inner);
  Tensor out;
  {
    NoGradGuard guard;
    out = sum(dims, keepdim) / count;
  }
  if (autograd::any_requires_grad(*this))
    autograd::record<T, D>(
        "MeanBackward1", out, {*this},
        [plan, in_shape = shape(), count](const Tensor& g, const std::vector<bool>&) {
          return detail::Grads<T, D>{detail::expand_reduced_grad(g / count, plan, in_shape)};
        });
  return out;
}

template <class T, class D>
Tensor<T, D> Tensor<T, D>::mean() const {
  return mean(Shape{}, false);
}

/// Variance by two passes in double, each a pairwise sum: mean first, then the sum of squared deviations (no
/// E[x^2] - E[x]^2).
template <class T, class D>
Tensor<T, D> Tensor<T, D>::var(const Shape& dims, bool unbiased, bool keepdim) const {
  require_cpu_kernel<"var", D>();
  static_assert(std::is_floating_point_v<T>, "var() needs a floating point tensor");
  auto plan = detail::plan_reduce(shape(), dims);
  const int64_t n = plan.inner;
  const double divisor = static_cast<double>(n - (unbiased ? 1 : 0));
  auto out = detail::reduce_rows<T>(*this, plan, keepdim, [divisor](const T* p, int64_t count, int64_t s) {
    const double mean =
        detail::pairwise_sum<double>(p, count, s, [](T v) { return static_cast<double>(v); }) /
        static_cast<double>(count);
    const double m2 = detail::pairwise_sum<double>(p, count, s, [mean](T v) {
      const double deviation = static_cast<double>(v) - mean;
      return deviation * deviation;
    });
    return divisor > 0 ? static_cast<T>(m2 / divisor) : std::numeric_limits<T>::quiet_NaN();
  });
  if (autograd::any_requires_grad(*this))
    autograd::record<T, D>(
        "VarBackward0", out, {*this},
        [plan, x = detach(), divisor](const Tensor& g, const std::vector<bool>&) {
          // d var / dx_i = 2 (x_i - mean) / divisor, with x - mean formed in double: on data
          // with a large common offset (1e4 plus unit noise) a float mean's rounding would
          // swamp the deviations.
          const auto wide = x.template cast<double>();
          const auto centered = wide - wide.mean(Shape(plan.dims), true);
          const auto scale = detail::expand_reduced_grad(g, plan, x.shape()).template cast<double>();
          return detail::Grads<T, D>{(centered * scale * (2.0 / divisor)).template cast<T>()};
        });
  return out;
}

template <class T, class D>
Tensor<T, D> Tensor<T, D>::var(bool unbiased) const {
  return var(Shape{}, unbiased, false);
}

template <class T, class D>
Tensor<T, D> Tensor<T, D>::std(const Shape& dims, bool unbiased, bool keepdim) const {
  return var(dims, unbiased, keepdim).sqrt();
}

namespace detail {

/// Index of the extreme value of n values `stride` apart (first occurrence; NaN wins, as in PyTorch).
template <class T, bool Max>
int64_t strided_arg_extreme(const T* p, int64_t n, int64_t stride) {
  int64_t best = 0;
  T best_value = p[0];
  for (int64_t i = 1; i < n; ++i) {
    T v = p[i * stride];
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(best_value)) break;
      if (std::isnan(v)) {
        best = i;
        best_value = v;
        break;
      }
    }
    if (Max ? v > best_value : v < best_value) {
      best = i;
      best_value = v;
    }
  }
  return best;
}

template <bool Max, class T, class D>
Tensor<int64_t, D> arg_extreme(const Tensor<T, D>& x, int64_t dim, bool keepdim) {
  require_cpu_kernel<"argmax or argmin", D>();
  int64_t d = wrap_dim(dim, x.dim());
  HNN_CHECK(x.dim() == 0 || x.size(d) > 0, Max ? "argmax" : "argmin", "(): expected reduction dim ", d,
            " to have non-zero size (shape ", x.shape(), ")");
  auto plan = plan_reduce(x.shape(), x.dim() == 0 ? Shape{} : Shape{d});
  return reduce_rows<int64_t>(x, plan, keepdim, [](const T* p, int64_t n, int64_t s) {
    return strided_arg_extreme<T, Max>(p, n, s);
  });
}

template <bool Max, class T, class D>
Tensor<T, D> extreme_along(const Tensor<T, D>& x, int64_t dim, bool keepdim) {
  require_cpu_kernel<"max or min", D>();
  Tensor<int64_t, D> index = arg_extreme<Max>(x, dim, true);
  int64_t d = wrap_dim(dim, x.dim());
  // Gather values at the indices.
  auto plan = plan_reduce(x.shape(), x.dim() == 0 ? Shape{} : Shape{d});
  auto out = reduce_rows<T>(x, plan, keepdim, [](const T* p, int64_t n, int64_t s) {
    return p[strided_arg_extreme<T, Max>(p, n, s) * s];
  });
  if constexpr (is_differentiable_v<T>)
    if (autograd::any_requires_grad(x))
      autograd::record<T, D>(
          Max ? "MaxBackward0" : "MinBackward0", out, {x},
          [index, plan, in_shape = x.shape(), d](const Tensor<T, D>& g, const std::vector<bool>&) {
            // Scatter each output gradient to the position it came from.
            auto grad = zeros<T, D>(in_shape);
            Tensor<T, D> gk = g.reshape(plan.out_shape).contiguous();
            const int64_t* idx = index.data();
            const Strides& strides = grad.strides();
            const Shape& os = plan.out_shape;
            std::vector<int64_t> pos(os.size(), 0);
            for (int64_t k = 0; k < gk.numel(); ++k) {
              int64_t off = 0;
              for (size_t a = 0; a < pos.size(); ++a)
                off += (static_cast<int64_t>(a) == d ? idx[k] : pos[a]) * strides[a];
              grad.data()[off] += gk.data()[k];
              for (size_t a = pos.size(); a-- > 0;) {
                if (++pos[a] < os[a]) break;
                pos[a] = 0;
              }
            }
            return Grads<T, D>{grad};
          });
  return out;
}

/// max() / min() over every element. Unlike the dim form, ties share the gradient evenly (PyTorch's
/// evenly_distribute_backward): d out / d x_i = [x_i == out] / count(x == out).
template <bool Max, class T, class D>
Tensor<T, D> extreme_all(const Tensor<T, D>& x) {
  require_cpu_kernel<"max or min", D>();
  HNN_CHECK(x.numel() > 0, Max ? "max" : "min", "(): expected a non-empty tensor (shape ", x.shape(), ")");
  Tensor<T, D> out = extreme_along<Max>(x.detach().reshape({-1}), 0, false);
  if constexpr (is_differentiable_v<T>)
    if (autograd::any_requires_grad(x))
      autograd::record<T, D>(
          Max ? "MaxBackward1" : "MinBackward1", out, {x},
          [xs = x.detach(), value = out.detach()](const Tensor<T, D>& g, const std::vector<bool>&) {
            const Tensor<T, D> in = xs.contiguous();
            const T v = *value.data(), gv = g.contiguous().item();
            const bool nan = std::isnan(static_cast<double>(v));
            auto hit = [&](T e) { return nan ? std::isnan(static_cast<double>(e)) : e == v; };
            const T* p = in.data();
            int64_t count = 0;
            for (int64_t i = 0; i < in.numel(); ++i) count += hit(p[i]) ? 1 : 0;
            auto grad = zeros<T, D>(in.shape());
            const T share = gv / static_cast<T>(count);
            for (int64_t i = 0; i < in.numel(); ++i)
              if (hit(p[i])) grad.data()[i] = share;
            return Grads<T, D>{grad};
          });
  return out;
}

}  // namespace detail

template <class T, class D>
Tensor<int64_t, D> Tensor<T, D>::argmax(int64_t d, bool keepdim) const {
  return detail::arg_extreme<true>(*this, d, keepdim);
}
template <class T, class D>
Tensor<int64_t, D> Tensor<T, D>::argmin(int64_t d, bool keepdim) const {
  return detail::arg_extreme<false>(*this, d, keepdim);
}
template <class T, class D>
Tensor<int64_t, D> Tensor<T, D>::argmax() const {
  return detail::arg_extreme<true>(reshape({-1}), 0, false);
}
template <class T, class D>
Tensor<T, D> Tensor<T, D>::max(int64_t d, bool keepdim) const {
  return detail::extreme_along<true>(*this, d, keepdim);
}
template <class T, class D>
Tensor<T, D> Tensor<T, D>::min(int64_t d, bool keepdim) const {
  return detail::extreme_along<false>(*this, d, keepdim);
}
template <class T, class D>
Tensor<T, D> Tensor<T, D>::max() const {
  return detail::extreme_all<true>(*this);
}
template <class T, class D>
Tensor<T, D> Tensor<T, D>::min() const {
  return detail::extreme_all<false>(*this);
}

// Free-function spellings.
template <class T, class D>
Tensor<T, D> sum(const Tensor<T, D>& x) {
  return x.sum();
}
template <class T, class D>
Tensor<T, D> sum(const Tensor<T, D>& x, const Shape& dims, bool keepdim = false) {
  return x.sum(dims, keepdim);
}
template <class T, class D>
Tensor<T, D> mean(const Tensor<T, D>& x) {
  return x.mean();
}
template <class T, class D>
Tensor<T, D> mean(const Tensor<T, D>& x, const Shape& dims, bool keepdim = false) {
  return x.mean(dims, keepdim);
}
template <class T, class D>
Tensor<T, D> var(const Tensor<T, D>& x, const Shape& dims, bool unbiased = true, bool keepdim = false) {
  return x.var(dims, unbiased, keepdim);
}
template <class T, class D>
Tensor<T, D> max(const Tensor<T, D>& x) {
  return x.max();
}
template <class T, class D>
Tensor<int64_t, D> argmax(const Tensor<T, D>& x, int64_t dim, bool keepdim = false) {
  return x.argmax(dim, keepdim);
}

}  // namespace hnn
