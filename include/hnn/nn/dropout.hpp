// Dropout(p): inverted dropout in training (survivors scaled by 1 / (1 - p), mask from hnn's default
// generator so manual_seed makes runs reproducible), identity in eval. Depends on nn/module.hpp,
// nn/functional/layers.hpp.
#pragma once

#include <string>

#include "hnn/core/format.hpp"
#include "hnn/nn/functional/layers.hpp"
#include "hnn/nn/module.hpp"

namespace hnn::nn {

template <class T = float, class D = CPU>
class Dropout : public Cloneable<Dropout<T, D>, T, D> {
 public:
  using TensorType = Tensor<T, D>;

  /// p: probability of zeroing an element, in [0, 1]. Default 0.5.
  explicit Dropout(double p = 0.5) : p_(p) {
    HNN_CHECK(p >= 0.0 && p <= 1.0, "dropout probability has to be between 0 and 1, but got ",
              hnn::detail::py_float_repr(p));
  }

  TensorType forward(const TensorType& input) override {
    return functional::dropout(input, p_, this->is_training(), default_generator());
  }

  double p() const { return p_; }

  std::string name() const override { return "Dropout"; }
  std::string extra_repr() const override {
    return "p=" + hnn::detail::py_float_repr(p_) + ", inplace=False";
  }

 private:
  double p_;
};

}  // namespace hnn::nn
