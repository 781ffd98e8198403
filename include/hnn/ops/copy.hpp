// Copies and conversions: contiguous(), clone(), copy_(), fill_(), cast<U>(), to<Device>(), to_vector(),
// item(). Depends on tensor/tensor.hpp, autograd/function.hpp, kernels/cpu/loops.hpp.
#pragma once

#include <algorithm>
#include <vector>

#include "hnn/autograd/function.hpp"
#include "hnn/kernels/cpu/loops.hpp"
#include "hnn/tensor/tensor.hpp"

namespace hnn {

namespace detail {

template <class D2, class T, class D>
Tensor<T, D2> move_to_device(const Tensor<T, D>& t);

/// dst[i] = src[i] over `shape` where both have arbitrary strides (src may broadcast with stride 0).
template <class T>
void strided_copy(T* dst, const Strides& dst_strides, const T* src, const Strides& src_strides,
                  const Shape& shape) {
  const size_t nd = shape.size();
  if (shape.numel() == 0) return;
  if (nd == 0) {
    *dst = *src;
    return;
  }
  std::vector<int64_t> index(nd, 0);
  const int64_t inner = shape[nd - 1], ds = dst_strides[nd - 1], ss = src_strides[nd - 1];
  const int64_t outer = shape.numel() / inner;
  for (int64_t o = 0; o < outer; ++o) {
    int64_t od = 0, os = 0;
    for (size_t d = 0; d + 1 < nd; ++d) {
      od += index[d] * dst_strides[d];
      os += index[d] * src_strides[d];
    }
    for (int64_t i = 0; i < inner; ++i) dst[od + i * ds] = src[os + i * ss];
    for (size_t d = nd - 1; d-- > 0;) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
}

/// Copies the elements of src (any strides) into dst's contiguous buffer, converting to TOut.
template <class TOut, class TIn, class D>
void copy_to_contiguous(TOut* dst, const Tensor<TIn, D>& src) {
  static_assert(is_cpu_v<D>, "CPU copy kernel");
  if (src.is_contiguous()) {
    const TIn* s = src.data();
    parallel_for(src.numel(), parallel_grain, [&](int64_t b, int64_t e) {
      if constexpr (std::is_same_v<TIn, TOut>)
        std::copy(s + b, s + e, dst + b);
      else
        for (int64_t i = b; i < e; ++i) dst[i] = static_cast<TOut>(s[i]);
    });
    return;
  }
  kernels::cpu::unary_strided(dst, src.data(), src.shape().vec(), src.strides(),
                              [](TIn v) { return static_cast<TOut>(v); });
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
  if constexpr (!is_cpu_v<D>)
    DeviceOps<D>::copy_to_contiguous(out.data(), *this);
  else
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

template <class T, class D>
std::vector<T> Tensor<T, D>::to_vector() const {
  if constexpr (!is_cpu_v<D>) {
    return this->template to<CPU>().to_vector();  // device values are read through a host copy
  } else {
    std::vector<T> out(static_cast<size_t>(numel()));
    if (!out.empty()) detail::copy_to_contiguous(out.data(), *this);
    return out;
  }
}

template <class T, class D>
T Tensor<T, D>::item() const {
  HNN_CHECK(numel() == 1, "a Tensor with ", numel(), " elements (shape ", shape(),
            ") cannot be converted to a scalar: item() needs exactly one element");
  if constexpr (!is_cpu_v<D>)
    return this->template to<CPU>().item();
  else
    return *data();
}

template <class T, class D>
Tensor<T, D>& Tensor<T, D>::copy_(const Tensor& src) {
  if constexpr (!is_cpu_v<D>) {
    DeviceOps<D>::copy_(*this, src);
    return *this;
  } else {
    if (src.shape() == shape() && is_contiguous() && src.is_contiguous()) {
      if (src.data() != data()) std::copy(src.data(), src.data() + numel(), data());
      return *this;
    }
    Strides src_strides = detail::broadcast_strides(src, shape());
    if (is_contiguous()) {
      kernels::cpu::unary_strided(data(), src.data(), shape().vec(), src_strides, [](T v) { return v; });
    } else {
      detail::strided_copy(data(), strides(), src.data(), src_strides, shape());
    }
    return *this;
  }
}

template <class T, class D>
Tensor<T, D>& Tensor<T, D>::fill_(T value) {
  if constexpr (!is_cpu_v<D>) {
    DeviceOps<D>::fill_(*this, value);
    return *this;
  } else {
    if (is_contiguous()) {
      T* p = data();
      parallel_for(numel(), parallel_grain, [&](int64_t b, int64_t e) { std::fill(p + b, p + e, value); });
      return *this;
    }
    T fill_value = value;
    detail::strided_copy(data(), strides(), &fill_value, Strides(shape().size(), 0), shape());
    return *this;
  }
}

template <class T, class D>
template <class U>
Tensor<U, D> Tensor<T, D>::cast() const {
  if constexpr (std::is_same_v<T, U>) {
    return *this;
  } else {
    auto out = Tensor<U, D>::empty(shape());
    if constexpr (!is_cpu_v<D>)
      DeviceOps<D>::copy_to_contiguous(out.data(), *this);
    else
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
