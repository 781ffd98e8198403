// Creation functions: tensor(values, shape), empty, zeros, ones, full, arange, rand, randn, randint,
// randperm and their *_like forms. Depends on tensor/tensor.hpp, core/random.hpp.
#pragma once

#include <numeric>
#include <vector>

#include "hnn/core/random.hpp"
#include "hnn/tensor/tensor.hpp"

namespace hnn {

/// A tensor holding `values` (row-major) with the given shape.
template <class T = float, class D = CPU>
Tensor<T, D> tensor(const std::vector<T>& values, const Shape& shape) {
  static_assert(is_cpu_v<D>, "create on the CPU and move with .to<Device>()");
  int64_t n = checked_numel(shape);
  HNN_CHECK(static_cast<int64_t>(values.size()) == n, "tensor(): ", values.size(),
            " values cannot fill a tensor of shape ", shape, " (", n, " elements)");
  auto t = Tensor<T, D>::empty(shape);
  std::copy(values.begin(), values.end(), t.data());
  return t;
}

/// A 1-D tensor holding `values`.
template <class T = float, class D = CPU>
Tensor<T, D> tensor(const std::vector<T>& values) {
  return tensor<T, D>(values, Shape{static_cast<int64_t>(values.size())});
}

/// A 0-dim tensor holding one value (like torch.tensor(3.0)).
template <class T = float, class D = CPU>
Tensor<T, D> scalar_tensor(T value) {
  auto t = Tensor<T, D>::empty(Shape{});
  *t.data() = value;
  return t;
}

template <class T = float, class D = CPU>
Tensor<T, D> empty(const Shape& shape) {
  return Tensor<T, D>::empty(shape);
}

template <class T = float, class D = CPU>
Tensor<T, D> full(const Shape& shape, T value) {
  auto t = Tensor<T, D>::empty(shape);
  t.fill_(value);
  return t;
}

template <class T = float, class D = CPU>
Tensor<T, D> zeros(const Shape& shape) {
  return full<T, D>(shape, T(0));
}

template <class T = float, class D = CPU>
Tensor<T, D> ones(const Shape& shape) {
  return full<T, D>(shape, T(1));
}

/// 0, 1, ..., n - 1.
template <class T = float, class D = CPU>
Tensor<T, D> arange(int64_t n) {
  HNN_CHECK(n >= 0, "arange(", n, "): the end must be non-negative");
  auto t = Tensor<T, D>::empty(Shape{n});
  for (int64_t i = 0; i < n; ++i) t.data()[i] = static_cast<T>(i);
  return t;
}

/// start, start + step, ... below end.
template <class T = float, class D = CPU>
Tensor<T, D> arange(double start, double end, double step = 1.0) {
  HNN_CHECK(step != 0.0, "arange(): step must be nonzero");
  HNN_CHECK((end - start) * step >= 0, "arange(): upper bound and larger bound inconsistent with step sign");
  auto n = static_cast<int64_t>(std::ceil((end - start) / step));
  auto t = Tensor<T, D>::empty(Shape{n});
  for (int64_t i = 0; i < n; ++i) t.data()[i] = static_cast<T>(start + static_cast<double>(i) * step);
  return t;
}

/// Uniform samples in [0, 1).
template <class T = float, class D = CPU>
Tensor<T, D> rand(const Shape& shape, Generator& gen) {
  static_assert(std::is_floating_point_v<T>, "rand() makes floating point tensors");
  auto t = Tensor<T, D>::empty(shape);
  T* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) {
    if constexpr (std::is_same_v<T, float>)
      p[i] = static_cast<float>(gen.next_u64() >> 40) * 0x1.0p-24f;
    else
      p[i] = gen.uniform();
  }
  return t;
}

/// Standard normal samples.
template <class T = float, class D = CPU>
Tensor<T, D> randn(const Shape& shape, Generator& gen) {
  static_assert(std::is_floating_point_v<T>, "randn() makes floating point tensors");
  auto t = Tensor<T, D>::empty(shape);
  T* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(gen.normal());
  return t;
}

/// Integers uniform in [low, high).
template <class T = int64_t, class D = CPU>
Tensor<T, D> randint(int64_t low, int64_t high, const Shape& shape, Generator& gen) {
  HNN_CHECK(high > low, "randint(): expected low < high, got low=", low, " high=", high);
  auto t = Tensor<T, D>::empty(shape);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data()[i] =
        static_cast<T>(low + static_cast<int64_t>(gen.random_below(static_cast<uint64_t>(high - low))));
  return t;
}

/// A random permutation of 0..n-1 (Fisher-Yates).
template <class T = int64_t, class D = CPU>
Tensor<T, D> randperm(int64_t n, Generator& gen) {
  auto t = arange<T, D>(n);
  T* p = t.data();
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[gen.random_below(static_cast<uint64_t>(i + 1))]);
  return t;
}

template <class T = float, class D = CPU>
Tensor<T, D> rand(const Shape& shape) {
  return rand<T, D>(shape, default_generator());
}
template <class T = float, class D = CPU>
Tensor<T, D> randn(const Shape& shape) {
  return randn<T, D>(shape, default_generator());
}

template <class T, class D>
Tensor<T, D> empty_like(const Tensor<T, D>& t) {
  return Tensor<T, D>::empty(t.shape());
}
template <class T, class D>
Tensor<T, D> zeros_like(const Tensor<T, D>& t) {
  return zeros<T, D>(t.shape());
}
template <class T, class D>
Tensor<T, D> ones_like(const Tensor<T, D>& t) {
  return ones<T, D>(t.shape());
}
template <class T, class D>
Tensor<T, D> full_like(const Tensor<T, D>& t, T value) {
  return full<T, D>(t.shape(), value);
}

}  // namespace hnn
