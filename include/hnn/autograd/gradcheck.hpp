// gradcheck: compares the analytical Jacobian from backward() with central finite differences, in
// double, like torch.autograd.gradcheck. For tests. Depends on hnn/tensor.hpp.
#pragma once

#include <cmath>
#include <functional>
#include <sstream>
#include <vector>

#include "hnn/autograd/backward.hpp"
#include "hnn/ops/copy.hpp"

namespace hnn::autograd {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
  bool raise_exception = true;
};

/// Checks d fn(inputs) / d inputs for every input that requires grad. Returns true when analytical and
/// numerical Jacobians agree within atol + rtol * |numerical|; otherwise throws (or returns false).
template <class D = CPU>
bool gradcheck(const std::function<Tensor<double, D>(const std::vector<Tensor<double, D>>&)>& fn,
               std::vector<Tensor<double, D>> inputs, GradcheckOptions options = {}) {
  using T = Tensor<double, D>;
  for (auto& in : inputs) {
    HNN_CHECK(in.is_contiguous(), "gradcheck: inputs must be contiguous (got shape ", in.shape(),
              " with strides)");
  }
  T output;
  {
    NoGradGuard guard;
    output = fn(inputs).contiguous();
  }
  const int64_t n_out = output.numel();
  for (size_t k = 0; k < inputs.size(); ++k) {
    T& x = inputs[k];
    if (!x.requires_grad()) continue;
    const int64_t n_in = x.numel();
    // Numerical Jacobian, column by column: (f(x + eps e_i) - f(x - eps e_i)) / 2 eps.
    std::vector<double> numerical(static_cast<size_t>(n_in * n_out));
    for (int64_t i = 0; i < n_in; ++i) {
      double* p = x.data() + i;
      const double saved = *p;
      std::vector<double> plus, minus;
      {
        NoGradGuard guard;
        *p = saved + options.eps;
        plus = fn(inputs).to_vector();
        *p = saved - options.eps;
        minus = fn(inputs).to_vector();
        *p = saved;
      }
      for (int64_t j = 0; j < n_out; ++j)
        numerical[static_cast<size_t>(j * n_in + i)] =
            (plus[static_cast<size_t>(j)] - minus[static_cast<size_t>(j)]) / (2 * options.eps);
    }
    // Analytical Jacobian, row by row: backward with a one-hot output gradient.
    for (int64_t j = 0; j < n_out; ++j) {
      for (auto& in : inputs) in.zero_grad();
      T out = fn(inputs);
      T seed = zeros<double, D>(out.shape());
      seed.data()[j] = 1.0;
      HNN_CHECK_RUNTIME(out.requires_grad(), "gradcheck: the function's output does not require grad");
      out.backward(seed);
      std::vector<double> row =
          x.grad().defined() ? x.grad().to_vector() : std::vector<double>(static_cast<size_t>(n_in), 0.0);
      for (int64_t i = 0; i < n_in; ++i) {
        double a = row[static_cast<size_t>(i)], num = numerical[static_cast<size_t>(j * n_in + i)];
        if (!(std::abs(a - num) <= options.atol + options.rtol * std::abs(num))) {
          if (!options.raise_exception) return false;
          throw std::runtime_error(
              hnn::detail::concat("Jacobian mismatch for output ", j, " with respect to input ", k,
                                  " element ", i, ": numerical ", num, " analytical ", a, " (input shape ",
                                  x.shape(), ", output shape ", output.shape(), ")"));
        }
      }
    }
    for (auto& in : inputs) in.zero_grad();
  }
  return true;
}

}  // namespace hnn::autograd
