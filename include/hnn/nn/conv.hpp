// Conv2d with Conv2dOptions(in, out, kernel).stride(s).padding(p).bias(b) (dilation 1, groups 1): PyTorch's
// parameters (weight (out, in, kh, kw), bias (out)), default initialisation (kaiming_uniform_(a = sqrt(5)),
// bias U(-1/sqrt(fan_in), 1/sqrt(fan_in))) and repr. Depends on nn/module.hpp, nn/init.hpp,
// nn/functional/layers.hpp.
#pragma once

#include <cmath>
#include <string>

#include "hnn/core/format.hpp"
#include "hnn/nn/functional/layers.hpp"
#include "hnn/nn/init.hpp"
#include "hnn/nn/module.hpp"

namespace hnn::nn {

/// Options of Conv2d. Sizes take an int or a pair {h, w}. All fixed at construction.
class Conv2dOptions {
 public:
  Conv2dOptions(int64_t in_channels, int64_t out_channels, IntPair kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}

  int64_t in_channels() const { return in_channels_; }
  int64_t out_channels() const { return out_channels_; }
  const IntPair& kernel_size() const { return kernel_size_; }
  /// Step of the window. Default 1.
  Conv2dOptions& stride(IntPair v) {
    stride_ = v;
    return *this;
  }
  const IntPair& stride() const { return stride_; }
  /// Zeros added on each side of the input. Default 0.
  Conv2dOptions& padding(IntPair v) {
    padding_ = v;
    return *this;
  }
  const IntPair& padding() const { return padding_; }
  /// A learnable per-output-channel bias. Default true.
  Conv2dOptions& bias(bool v) {
    bias_ = v;
    return *this;
  }
  bool bias() const { return bias_; }

 private:
  int64_t in_channels_, out_channels_;
  IntPair kernel_size_;
  IntPair stride_ = 1;
  IntPair padding_ = 0;
  bool bias_ = true;
};

template <class T = float, class D = CPU>
class Conv2d : public Cloneable<Conv2d<T, D>, T, D> {
 public:
  using TensorType = Tensor<T, D>;

  explicit Conv2d(Conv2dOptions options) : options_(options) {
    const auto& k = options_.kernel_size();
    HNN_CHECK(options_.in_channels() > 0 && options_.out_channels() > 0,
              "Conv2d: in_channels and out_channels ", "must be positive, got ", options_.in_channels(),
              " and ", options_.out_channels());
    HNN_CHECK(k.h() > 0 && k.w() > 0, "Conv2d: kernel_size must be positive, got ", k.tuple_repr());
    HNN_CHECK(options_.stride().h() > 0 && options_.stride().w() > 0, "Conv2d: stride must be positive, got ",
              options_.stride().tuple_repr());
    HNN_CHECK(options_.padding().h() >= 0 && options_.padding().w() >= 0,
              "Conv2d: padding must be non-negative, got ", options_.padding().tuple_repr());
    weight_ = this->register_parameter(
        "weight", TensorType::empty({options_.out_channels(), options_.in_channels(), k.h(), k.w()}));
    bias_ = this->register_parameter(
        "bias", options_.bias() ? TensorType::empty({options_.out_channels()}) : TensorType());
    reset_parameters();
  }
  /// Conv2d(in, out, kernel) with the other options at their defaults.
  Conv2d(int64_t in_channels, int64_t out_channels, IntPair kernel_size)
      : Conv2d(Conv2dOptions(in_channels, out_channels, kernel_size)) {}

  /// PyTorch's reset_parameters: weight ~ kaiming_uniform_(a = sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in))
  /// with fan_in = in_channels * kh * kw, bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), drawn from `gen` (weight
  /// first).
  void reset_parameters(Generator& gen = default_generator()) {
    init::kaiming_uniform_(weight(), std::sqrt(5.0), "fan_in", "leaky_relu", gen);
    if (bias().defined()) {
      const double fan_in = static_cast<double>(init::calculate_fan_in_and_fan_out(weight()).first);
      init::uniform_(bias(), -1.0 / std::sqrt(fan_in), 1.0 / std::sqrt(fan_in), gen);
    }
  }

  TensorType forward(const TensorType& input) override {
    HNN_CHECK(input.dim() == 3 || input.dim() == 4,
              "Conv2d: expected 3D (unbatched) or 4D (batched) input, got shape ", input.shape());
    const int64_t channels = input.size(-3);
    HNN_CHECK(channels == options_.in_channels(), "Conv2d: expected input with ", options_.in_channels(),
              " channels (dimension ", input.dim() - 3, "), got shape ", input.shape());
    const auto& k = options_.kernel_size();
    const auto& p = options_.padding();
    HNN_CHECK(input.size(-2) + 2 * p.h() >= k.h() && input.size(-1) + 2 * p.w() >= k.w(),
              "Conv2d: input of shape ", input.shape(), " is smaller than the kernel ", k.tuple_repr(),
              " (padded input size per channel (", input.size(-2) + 2 * p.h(), " x ",
              input.size(-1) + 2 * p.w(), "))");
    return functional::conv2d(input, weight(), bias(), options_.stride(), options_.padding());
  }

  TensorType weight() const { return this->parameter(weight_); }
  /// Undefined when built with bias(false).
  TensorType bias() const { return this->parameter(bias_); }
  const Conv2dOptions& options() const { return options_; }

  std::string name() const override { return "Conv2d"; }
  /// "1, 6, kernel_size=(5, 5), stride=(1, 1)", then ", padding=(p, q)" when nonzero and ", bias=False" when
  /// off.
  std::string extra_repr() const override {
    std::string s = std::to_string(options_.in_channels()) + ", " + std::to_string(options_.out_channels()) +
                    ", kernel_size=" + options_.kernel_size().tuple_repr() +
                    ", stride=" + options_.stride().tuple_repr();
    if (options_.padding().h() != 0 || options_.padding().w() != 0)
      s += ", padding=" + options_.padding().tuple_repr();
    if (!options_.bias()) s += ", bias=False";
    return s;
  }

 private:
  Conv2dOptions options_;
  size_t weight_ = 0, bias_ = 0;
};

}  // namespace hnn::nn
