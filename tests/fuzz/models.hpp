// The models the loading harnesses fill and the seed-corpus generator saves: the LeNet-BN of
// examples/lenet.cpp (make_lenet(true)) and a small Linear/BatchNorm1d net for checkpoints. Depends on
// nn.hpp.
#pragma once

#include <hnn/nn.hpp>

namespace hnn_fuzz {

inline hnn::nn::Sequential<float> make_lenet_bn() {
  namespace nn = hnn::nn;
  nn::Sequential<float> net;
  net.push_back(nn::Conv2d(nn::Conv2dOptions(1, 6, 5)));
  net.push_back(nn::BatchNorm2d(6));
  net.push_back(nn::Sigmoid());
  net.push_back(nn::AvgPool2d(2, 2));
  net.push_back(nn::Conv2d(nn::Conv2dOptions(6, 16, 5)));
  net.push_back(nn::BatchNorm2d(16));
  net.push_back(nn::Sigmoid());
  net.push_back(nn::AvgPool2d(2, 2));
  net.push_back(nn::Flatten());
  net.push_back(nn::Linear(256, 120));
  net.push_back(nn::BatchNorm1d(120));
  net.push_back(nn::Sigmoid());
  net.push_back(nn::Linear(120, 84));
  net.push_back(nn::BatchNorm1d(84));
  net.push_back(nn::Sigmoid());
  net.push_back(nn::Linear(84, 10));
  return net;
}

inline hnn::nn::Sequential<float> make_checkpoint_net() {
  namespace nn = hnn::nn;
  return nn::Sequential<float>{nn::Linear<float>(5, 4), nn::BatchNorm1d<float>(4), nn::ReLU<float>(),
                               nn::Linear<float>(4, 3)};
}

}  // namespace hnn_fuzz
