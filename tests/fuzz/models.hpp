// The models the loading harnesses fill and the seed-corpus generator saves: the LeNet-BN of
// examples/lenet.cpp (make_lenet(true)) and a small Linear/BatchNorm1d net for checkpoints. Depends on
// nn.hpp.
#pragma once

#include <hnn/nn.hpp>

#include "../support/lenet_bn.hpp"

namespace hnn_fuzz {

inline hnn::nn::Sequential<float> make_lenet_bn() { return hnn_test::lenet_bn<float>(); }

inline hnn::nn::Sequential<float> make_checkpoint_net() {
  namespace nn = hnn::nn;
  return nn::Sequential<float>{nn::Linear<float>(5, 4), nn::BatchNorm1d<float>(4), nn::ReLU<float>(),
                               nn::Linear<float>(4, 3)};
}

}  // namespace hnn_fuzz
