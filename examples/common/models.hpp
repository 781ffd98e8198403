// The networks the example programs share, built as PyTorch code builds them so state dicts carry the
// same keys: LeNet-5 with batch normalization (Dive into Deep Learning, "Batch Normalization"), as
// examples/lenet.cpp trains it and tools/from_pytorch.py defines it in PyTorch. Depends on <hnn/hnn.hpp>.
#pragma once

#include <hnn/hnn.hpp>

namespace examples {

/// Conv 1->6 k5, [BN], Sigmoid, AvgPool 2; Conv 6->16 k5, [BN], Sigmoid, AvgPool 2; Flatten; Linear
/// 256->120, [BN], Sigmoid; 120->84, [BN], Sigmoid; 84->10, for 28x28 single-channel images. Weights are
/// Xavier-uniform (d2l's init_cnn); biases keep PyTorch's default initialisation.
inline hnn::nn::Sequential<float> make_lenet(bool batch_norm) {
  namespace nn = hnn::nn;
  nn::Sequential<float> net;
  net.push_back(nn::Conv2d(nn::Conv2dOptions(1, 6, 5)));
  if (batch_norm) net.push_back(nn::BatchNorm2d(6));
  net.push_back(nn::Sigmoid());
  net.push_back(nn::AvgPool2d(2, 2));
  net.push_back(nn::Conv2d(nn::Conv2dOptions(6, 16, 5)));
  if (batch_norm) net.push_back(nn::BatchNorm2d(16));
  net.push_back(nn::Sigmoid());
  net.push_back(nn::AvgPool2d(2, 2));
  net.push_back(nn::Flatten());
  net.push_back(nn::Linear(256, 120));
  if (batch_norm) net.push_back(nn::BatchNorm1d(120));
  net.push_back(nn::Sigmoid());
  net.push_back(nn::Linear(120, 84));
  if (batch_norm) net.push_back(nn::BatchNorm1d(84));
  net.push_back(nn::Sigmoid());
  net.push_back(nn::Linear(84, 10));
  // d2l's init_cnn: Xavier-uniform for every Linear and Conv2d weight; biases keep PyTorch's default.
  for (auto& [name, p] : net.named_parameters())
    if (p.dim() > 1) nn::init::xavier_uniform_(p);
  return net;
}

}  // namespace examples
