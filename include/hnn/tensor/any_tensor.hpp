// AnyTensor<Device>: a tensor of any of hnn's dtypes (float, double, int64), as a state dict holds them
// (num_batches_tracked is int64 in a float model). Depends on hnn/tensor.hpp.
#pragma once

#include <ostream>
#include <string>
#include <variant>

#include "hnn/ops/copy.hpp"
#include "hnn/tensor/print.hpp"

namespace hnn {

enum class Dtype { Float32, Float64, Int64 };

inline const char* dtype_string(Dtype d) {
  switch (d) {
    case Dtype::Float32:
      return "float32";
    case Dtype::Float64:
      return "float64";
    default:
      return "int64";
  }
}

template <class T>
constexpr Dtype dtype_of() {
  if constexpr (std::is_same_v<T, float>)
    return Dtype::Float32;
  else if constexpr (std::is_same_v<T, double>)
    return Dtype::Float64;
  else
    return Dtype::Int64;
}

template <class D = CPU>
class AnyTensor {
 public:
  AnyTensor() = default;
  template <class T>
  AnyTensor(Tensor<T, D> t) : value_(std::move(t)) {}  // NOLINT: implicit, like a torch::Tensor of any dtype

  Dtype dtype() const { return static_cast<Dtype>(value_.index()); }
  bool defined() const {
    return std::visit([](const auto& t) { return t.defined(); }, value_);
  }
  const Shape& shape() const {
    return std::visit([](const auto& t) -> const Shape& { return t.shape(); }, value_);
  }
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  int64_t size(int64_t d) const {
    return std::visit([d](const auto& t) { return t.size(d); }, value_);
  }
  int64_t numel() const { return shape().numel(); }
  template <class T>
  bool is() const {
    return std::holds_alternative<Tensor<T, D>>(value_);
  }

  /// The tensor as its own dtype; throws when the dtype differs.
  template <class T>
  Tensor<T, D> as() const {
    HNN_CHECK(is<T>(), "the tensor holds ", dtype_string(dtype()), ", not ", dtype_string(dtype_of<T>()));
    return std::get<Tensor<T, D>>(value_);
  }
  /// The values converted to dtype T (a copy unless the dtype already is T).
  template <class T>
  Tensor<T, D> to() const {
    return std::visit([](const auto& t) { return t.template cast<T>(); }, value_);
  }
  template <class T>
  operator Tensor<T, D>() const {  // NOLINT: `Tensor<float> w = sd.at("0.weight");`
    return as<T>();
  }
  template <class T = double>
  std::vector<T> to_vector() const {
    return to<T>().to_vector();
  }

  /// A copy with its own storage.
  AnyTensor clone() const {
    return std::visit([](const auto& t) { return AnyTensor(t.detach().clone()); }, value_);
  }

  /// Copies values in place from another tensor of the same shape, converting the dtype.
  void copy_from(const AnyTensor& src) {
    std::visit(
        [&src](auto& dst) {
          using T = typename std::decay_t<decltype(dst)>::value_type;
          NoGradGuard guard;
          dst.copy_(src.template to<T>());
        },
        value_);
  }

  friend std::ostream& operator<<(std::ostream& os, const AnyTensor& t) {
    std::visit([&os](const auto& v) { os << v; }, t.value_);
    return os;
  }

 private:
  std::variant<Tensor<float, D>, Tensor<double, D>, Tensor<int64_t, D>> value_;
};

}  // namespace hnn
