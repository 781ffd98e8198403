// Linear: y = x W^T + b with PyTorch's parameters (weight (out, in), bias (out)), default initialisation
// (kaiming_uniform_(a = sqrt(5)) weight, U(-1/sqrt(in), 1/sqrt(in)) bias, from the default generator) and
// repr. Depends on nn/module.hpp, nn/init.hpp, nn/functional/layers.hpp.
#pragma once

#include <cmath>
#include <string>

#include "hnn/core/format.hpp"
#include "hnn/nn/functional/layers.hpp"
#include "hnn/nn/init.hpp"
#include "hnn/nn/module.hpp"

namespace hnn::nn {

template <class T = float, class D = CPU>
class Linear : public Cloneable<Linear<T, D>, T, D> {
 public:
  using TensorType = Tensor<T, D>;

  /// in_features inputs (the last dimension of the input), out_features outputs; bias optional.
  Linear(int64_t in_features, int64_t out_features, bool bias = true)
      : in_features_(in_features), out_features_(out_features) {
    HNN_CHECK(in_features >= 0 && out_features >= 0,
              "Linear: in_features and out_features must be non-negative, got ", in_features, " and ",
              out_features);
    weight_ = this->register_parameter("weight", TensorType::empty({out_features, in_features}));
    // An undefined placeholder keeps the key order when bias=false, as PyTorch's register_parameter(None).
    bias_ = this->register_parameter("bias", bias ? TensorType::empty({out_features}) : TensorType());
    reset_parameters();
  }

  /// PyTorch's reset_parameters: weight ~ kaiming_uniform_(a = sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)),
  /// and bias ~ U(-1/sqrt(in), 1/sqrt(in)) (in = fan_in), drawn from `gen` (weight first).
  void reset_parameters(Generator& gen = default_generator()) {
    init::kaiming_uniform_(weight(), std::sqrt(5.0), "fan_in", "leaky_relu", gen);
    if (bias().defined()) {
      const double bound = in_features_ > 0 ? 1.0 / std::sqrt(static_cast<double>(in_features_)) : 0.0;
      init::uniform_(bias(), -bound, bound, gen);
    }
  }

  TensorType forward(const TensorType& input) override {
    HNN_CHECK(input.dim() >= 1 && input.size(-1) == in_features_, "Linear: expected input with ",
              in_features_, " features (last dimension), got shape ", input.shape());
    return functional::linear(input, weight(), bias());
  }

  TensorType weight() const { return this->parameter(weight_); }
  /// Undefined when built with bias=false.
  TensorType bias() const { return this->parameter(bias_); }
  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }

  std::string name() const override { return "Linear"; }
  std::string extra_repr() const override {
    return "in_features=" + std::to_string(in_features_) + ", out_features=" + std::to_string(out_features_) +
           ", bias=" + hnn::detail::py_bool(bias().defined());
  }

 private:
  int64_t in_features_, out_features_;
  size_t weight_ = 0, bias_ = 0;
};

}  // namespace hnn::nn
