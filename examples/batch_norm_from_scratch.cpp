// Batch norm built from tensor ops, as a textbook writes it (batch mean and variance, normalise, scale
// and shift, moving averages for inference), next to hnn::nn::BatchNorm2d: same outputs, same
// gradients, same running statistics. The module's fused kernel and closed-form backward are the fast
// path; this file is the definition they must agree with.
#include <cmath>
#include <cstdlib>
#include <hnn/hnn.hpp>
#include <iostream>

namespace nn = hnn::nn;
using Tensor = hnn::Tensor<double>;

namespace {

/// The textbook batch norm over (N, C, H, W) or (N, C). Returns Y and updates the moving statistics.
Tensor batch_norm_from_ops(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& moving_mean,
                           Tensor& moving_var, double eps, double momentum, bool training) {
  hnn::Shape dims = x.dim() == 2 ? hnn::Shape{0} : hnn::Shape{0, 2, 3};
  hnn::Shape per_channel = x.dim() == 2 ? hnn::Shape{1, x.size(1)} : hnn::Shape{1, x.size(1), 1, 1};
  Tensor x_hat;
  if (!training) {
    x_hat = (x - moving_mean.reshape(per_channel)) / (moving_var.reshape(per_channel) + eps).sqrt();
  } else {
    Tensor mean = x.mean(dims, /*keepdim=*/true);
    Tensor var = ((x - mean) * (x - mean)).mean(dims, /*keepdim=*/true);  // biased: normalises the batch
    x_hat = (x - mean) / (var + eps).sqrt();
    hnn::NoGradGuard guard;
    const double m = static_cast<double>(x.numel() / x.size(1));
    Tensor unbiased = var * (m / (m - 1));  // the running variance estimates the population's
    moving_mean = moving_mean * (1.0 - momentum) + mean.reshape({-1}) * momentum;
    moving_var = moving_var * (1.0 - momentum) + unbiased.reshape({-1}) * momentum;
  }
  return x_hat * gamma.reshape(per_channel) + beta.reshape(per_channel);
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  double worst = 0;
  auto va = a.to_vector(), vb = b.to_vector();
  for (size_t i = 0; i < va.size(); ++i) worst = std::max(worst, std::abs(va[i] - vb[i]));
  return worst;
}

}  // namespace

int main() {
  hnn::Generator gen(2024);
  const int64_t C = 4;
  nn::BatchNorm2d<double> module(C);
  Tensor gamma = (hnn::rand<double>({C}, gen) + 0.5).requires_grad_(true);
  Tensor beta = hnn::randn<double>({C}, gen).requires_grad_(true);
  {
    hnn::NoGradGuard guard;
    module.weight().copy_(gamma);
    module.bias().copy_(beta);
  }
  Tensor moving_mean = hnn::zeros<double>({C}), moving_var = hnn::ones<double>({C});

  double worst = 0;
  for (int step = 0; step < 3; ++step) {
    Tensor x1 = (hnn::randn<double>({8, C, 5, 5}, gen) * 2.0 + 1.0).requires_grad_(true);
    Tensor x2 = x1.detach().clone().requires_grad_(true);
    Tensor r = hnn::randn<double>({8, C, 5, 5}, gen);
    Tensor y_ops = batch_norm_from_ops(x1, gamma, beta, moving_mean, moving_var, 1e-5, 0.1, true);
    Tensor y_mod = module(x2);
    (y_ops * r).sum().backward();
    (y_mod * r).sum().backward();
    double d_out = max_abs_diff(y_ops, y_mod), d_dx = max_abs_diff(x1.grad(), x2.grad());
    double d_stats = std::max(max_abs_diff(moving_mean, module.running_mean()),
                              max_abs_diff(moving_var, module.running_var()));
    std::cout << "step " << step << ": max |y_ops - y_module| = " << d_out
              << ", max |dx_ops - dx_module| = " << d_dx << ", max |running stats difference| = " << d_stats
              << "\n";
    worst = std::max({worst, d_out, d_dx, d_stats});
  }
  double d_gamma = max_abs_diff(gamma.grad(), module.weight().grad());
  double d_beta = max_abs_diff(beta.grad(), module.bias().grad());
  std::cout << "accumulated gradients: max |dgamma difference| = " << d_gamma
            << ", max |dbeta difference| = " << d_beta << "\n";
  worst = std::max({worst, d_gamma, d_beta});

  module.eval();
  Tensor x = hnn::randn<double>({2, C, 3, 3}, gen);
  double d_eval =
      max_abs_diff(batch_norm_from_ops(x, gamma, beta, moving_mean, moving_var, 1e-5, 0.1, false), module(x));
  std::cout << "eval mode: max |y_ops - y_module| = " << d_eval << "\n";
  worst = std::max(worst, d_eval);

  const bool ok = worst < 1e-10;
  std::cout << (ok ? "the module matches the textbook definition (all differences < 1e-10)"
                   : "MISMATCH between the module and the textbook definition")
            << "\n";
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
