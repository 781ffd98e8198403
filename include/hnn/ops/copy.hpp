// Copies and conversions: contiguous(), clone(), copy_(), fill_(), cast<U>(), to<Device>(), to_vector(),
// item(), written once for every device over ElementwiseKernels<D> (kernels/kernel_traits.hpp). Depends on
// tensor/tensor.hpp, autograd/function.hpp, kernels/cpu/elementwise.hpp.
#pragma once

#include <algorithm>
#include <vector>

#include "hnn/autograd/function.hpp"
#include "hnn/kernels/cpu/elementwise.hpp"
#include "hnn/kernels/elementwise_types.hpp"
#include "hnn/kernels/kernel_traits.hpp"
#include "hnn/tensor/tensor.hpp"

namespace hnn {

namespace detail {

template <class D2, class T, class D>
Tensor<T, D2> move_to_device(const Tensor<T, D>& t);

/// The launch geometry of an elementwise kernel over `shape`: per dimension the output's strides and
/// those of up to two operands (empty: all 0, a broadcast scalar). Dimensions of size 1 are dropped and
/// neighbours that every operand walks contiguously are merged (so a contiguous tensor of any rank is one
/// dimension); a layout that still needs more than kernels::max_dims dimensions is refused.
inline kernels::StridedGeometry strided_geometry(const Shape& shape, const Strides& out, const Strides& a,
                                                 const Strides& b = {}) {
  kernels::StridedGeometry g;
  auto stride = [](const Strides& s, size_t d) { return s.empty() ? int64_t{0} : s[d]; };
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (g.ndim > 0) {
      const int last = g.ndim - 1;
      if (g.out_strides[last] == stride(out, d) * shape[d] && g.a_strides[last] == stride(a, d) * shape[d] &&
          g.b_strides[last] == stride(b, d) * shape[d]) {
        g.sizes[last] *= shape[d];
        g.out_strides[last] = stride(out, d);
        g.a_strides[last] = stride(a, d);
        g.b_strides[last] = stride(b, d);
        continue;
      }
    }
    HNN_CHECK(g.ndim < kernels::max_dims, "elementwise kernels handle at most ", kernels::max_dims,
              " non-mergeable dimensions; the tensor of shape ", shape, " and strides ", Shape(out),
              " needs more");
    g.sizes[g.ndim] = shape[d];
    g.out_strides[g.ndim] = stride(out, d);
    g.a_strides[g.ndim] = stride(a, d);
    g.b_strides[g.ndim] = stride(b, d);
    ++g.ndim;
  }
  return g;
}

/// Copies the elements of src (any strides) into dst, a contiguous buffer of src.numel() TOut on src's
/// device, converting to TOut.
template <class TOut, class TIn, class D>
void copy_to_contiguous(TOut* dst, const Tensor<TIn, D>& src) {
  if (src.numel() == 0) return;
  if (src.is_contiguous()) {
    ElementwiseKernels<D>::copy(dst, src.data(), src.numel(), nullptr);
    return;
  }
  const auto g = strided_geometry(src.shape(), contiguous_strides(src.shape()), src.strides());
  ElementwiseKernels<D>::copy(dst, src.data(), src.numel(), &g);
}

/// Strides that make `t` broadcast to `shape` (0 along expanded dimensions).
template <class T, class D>
Strides broadcast_strides(const Tensor<T, D>& t, const Shape& shape) {
  HNN_CHECK(t.shape().size() <= shape.size(), "the tensor of shape ", t.shape(),
            " cannot be broadcast to shape ", shape);
  Strides out(shape.size(), 0);
  size_t offset = shape.size() - t.shape().size();
  for (size_t i = 0; i < t.shape().size(); ++i) {
    int64_t size = t.shape()[i];
    HNN_CHECK(size == shape[i + offset] || size == 1, "the tensor of shape ", t.shape(),
              " cannot be broadcast to shape ", shape);
    out[i + offset] = size == 1 ? 0 : t.strides()[i];
  }
  return out;
}

}  // namespace detail

template <class T, class D>
Tensor<T, D> Tensor<T, D>::clone() const {
  auto out = Tensor::empty(shape());
  detail::copy_to_contiguous(out.data(), *this);
  if (autograd::any_requires_grad(*this))
    autograd::record<T, D>("CloneBackward0", out, {*this},
                           [](const Tensor& g, const std::vector<bool>&) { return std::vector<Tensor>{g}; });
  return out;
}

template <class T, class D>
Tensor<T, D> Tensor<T, D>::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

/// Device values are read through a host copy (to<CPU>() is the tensor itself on the CPU).
template <class T, class D>
std::vector<T> Tensor<T, D>::to_vector() const {
  const Tensor<T, CPU> host = this->template to<CPU>();
  std::vector<T> out(static_cast<size_t>(numel()));
  if (!out.empty()) detail::copy_to_contiguous(out.data(), host);
  return out;
}

template <class T, class D>
T Tensor<T, D>::item() const {
  HNN_CHECK(numel() == 1, "a Tensor with ", numel(), " elements (shape ", shape(),
            ") cannot be converted to a scalar: item() needs exactly one element");
  return *this->template to<CPU>().data();
}

template <class T, class D>
Tensor<T, D>& Tensor<T, D>::copy_(const Tensor& src) {
  if (numel() == 0) return *this;
  if (src.shape() == shape() && is_contiguous() && src.is_contiguous()) {
    if (src.data() != data()) ElementwiseKernels<D>::copy(data(), src.data(), numel(), nullptr);
    return *this;
  }
  const auto g = detail::strided_geometry(shape(), strides(), detail::broadcast_strides(src, shape()));
  ElementwiseKernels<D>::copy(data(), src.data(), numel(), &g);
  return *this;
}

template <class T, class D>
Tensor<T, D>& Tensor<T, D>::fill_(T value) {
  if (numel() == 0) return *this;
  if (is_contiguous()) {
    ElementwiseKernels<D>::fill(data(), numel(), value);
    return *this;
  }
  // A strided destination: broadcast a one-element tensor of the value into it.
  auto one = Tensor::empty(Shape{});
  ElementwiseKernels<D>::fill(one.data(), 1, value);
  const auto g = detail::strided_geometry(shape(), strides(), Strides(shape().size(), 0));
  ElementwiseKernels<D>::copy(data(), one.data(), numel(), &g);
  return *this;
}

template <class T, class D>
template <class U>
Tensor<U, D> Tensor<T, D>::cast() const {
  if constexpr (std::is_same_v<T, U>) {
    return *this;
  } else {
    auto out = Tensor<U, D>::empty(shape());
    detail::copy_to_contiguous(out.data(), *this);
    return out;  // dtype conversions are not differentiable in hnn
  }
}

template <class T, class D>
template <class D2>
Tensor<T, D2> Tensor<T, D>::to() const {
  if constexpr (std::is_same_v<D, D2>) {
    return *this;
  } else {
    return detail::move_to_device<D2>(*this);  // provided by the CUDA backend
  }
}

/// Free-function spellings.
template <class T, class D>
Tensor<T, D> clone(const Tensor<T, D>& t) {
  return t.clone();
}
template <class T, class D>
Tensor<T, D> contiguous(const Tensor<T, D>& t) {
  return t.contiguous();
}

}  // namespace hnn
