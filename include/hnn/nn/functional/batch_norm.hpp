// hnn::nn::functional::batch_norm: the stateless batch norm with torch.nn.functional.batch_norm's
// signature and defaults. Depends on ops/batch_norm.hpp.
#pragma once

#include "hnn/ops/batch_norm.hpp"

namespace hnn::nn::functional {

/// As torch.nn.functional.batch_norm(input, running_mean, running_var, weight, bias, training, momentum,
/// eps): training uses batch statistics and, when running_mean/running_var are defined, updates them in place
/// with `momentum`; evaluation normalises with the running statistics.
template <class T, class D>
Tensor<T, D> batch_norm(const Tensor<T, D>& input, const Tensor<T, D>& running_mean,
                        const Tensor<T, D>& running_var, const Tensor<T, D>& weight = {},
                        const Tensor<T, D>& bias = {}, bool training = false, double momentum = 0.1,
                        double eps = 1e-5) {
  return hnn::batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps);
}

}  // namespace hnn::nn::functional
