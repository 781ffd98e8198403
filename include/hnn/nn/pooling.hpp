// AvgPool2d and MaxPool2d modules (stride defaults to the kernel size; floor mode, dilation 1) with
// PyTorch's reprs, which echo the sizes as given (2 or (2, 3)). Depends on nn/module.hpp,
// nn/functional/layers.hpp.
#pragma once

#include <string>

#include "hnn/nn/functional/layers.hpp"
#include "hnn/nn/module.hpp"

namespace hnn::nn {

template <class T = float, class D = CPU>
class AvgPool2d : public Cloneable<AvgPool2d<T, D>, T, D> {
 public:
  using TensorType = Tensor<T, D>;

  /// Windows of kernel_size moved by stride (default: kernel_size), zero padding counted in the divisor.
  AvgPool2d(IntPair kernel_size, IntPair stride, IntPair padding = 0)
      : kernel_size_(kernel_size), stride_(stride), padding_(padding) {}
  explicit AvgPool2d(IntPair kernel_size) : AvgPool2d(kernel_size, kernel_size) {}

  TensorType forward(const TensorType& input) override {
    HNN_CHECK(input.dim() == 3 || input.dim() == 4,
              "AvgPool2d: expected 3D (C, H, W) or 4D (N, C, H, W) input, got shape ", input.shape());
    return functional::avg_pool2d(input, kernel_size_, stride_, padding_);
  }

  const IntPair& kernel_size() const { return kernel_size_; }
  const IntPair& stride() const { return stride_; }
  const IntPair& padding() const { return padding_; }

  std::string name() const override { return "AvgPool2d"; }
  std::string extra_repr() const override {
    return "kernel_size=" + kernel_size_.repr() + ", stride=" + stride_.repr() +
           ", padding=" + padding_.repr();
  }

 private:
  IntPair kernel_size_, stride_, padding_;
};

template <class T = float, class D = CPU>
class MaxPool2d : public Cloneable<MaxPool2d<T, D>, T, D> {
 public:
  using TensorType = Tensor<T, D>;

  /// Windows of kernel_size moved by stride (default: kernel_size), -inf padding; backward routes to the
  /// first maximum of each window.
  MaxPool2d(IntPair kernel_size, IntPair stride, IntPair padding = 0)
      : kernel_size_(kernel_size), stride_(stride), padding_(padding) {}
  explicit MaxPool2d(IntPair kernel_size) : MaxPool2d(kernel_size, kernel_size) {}

  TensorType forward(const TensorType& input) override {
    HNN_CHECK(input.dim() == 3 || input.dim() == 4,
              "MaxPool2d: expected 3D (C, H, W) or 4D (N, C, H, W) input, got shape ", input.shape());
    return functional::max_pool2d(input, kernel_size_, stride_, padding_);
  }

  const IntPair& kernel_size() const { return kernel_size_; }
  const IntPair& stride() const { return stride_; }
  const IntPair& padding() const { return padding_; }

  std::string name() const override { return "MaxPool2d"; }
  std::string extra_repr() const override {
    return "kernel_size=" + kernel_size_.repr() + ", stride=" + stride_.repr() +
           ", padding=" + padding_.repr() + ", dilation=1, ceil_mode=False";
  }

 private:
  IntPair kernel_size_, stride_, padding_;
};

}  // namespace hnn::nn
