// Test support: the LeNet with batch norm that examples/lenet.cpp trains (d2l's LeNet-BN: BatchNorm after
// each convolution and hidden Linear, sigmoid activations, 2x2 average pooling), for the tests, the soak,
// the fuzz harnesses and the inference benchmark that need that exact model. Depends on nn.hpp.
#pragma once

#include <hnn/nn.hpp>

namespace hnn_test {

/// LeNet-BN for (N, 1, 28, 28) inputs and 10 classes, with PyTorch's default initialisation; its
/// state_dict keys are those of the equivalent torch.nn.Sequential ("0.weight", "1.running_mean", ...).
template <class T = float>
hnn::nn::Sequential<T> lenet_bn() {
  namespace nn = hnn::nn;
  return nn::Sequential<T>{nn::Conv2d<T>(nn::Conv2dOptions(1, 6, 5)),
                           nn::BatchNorm2d<T>(6),
                           nn::Sigmoid<T>(),
                           nn::AvgPool2d<T>(2, 2),
                           nn::Conv2d<T>(nn::Conv2dOptions(6, 16, 5)),
                           nn::BatchNorm2d<T>(16),
                           nn::Sigmoid<T>(),
                           nn::AvgPool2d<T>(2, 2),
                           nn::Flatten<T>(),
                           nn::Linear<T>(256, 120),
                           nn::BatchNorm1d<T>(120),
                           nn::Sigmoid<T>(),
                           nn::Linear<T>(120, 84),
                           nn::BatchNorm1d<T>(84),
                           nn::Sigmoid<T>(),
                           nn::Linear<T>(84, 10)};
}

}  // namespace hnn_test
