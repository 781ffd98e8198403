// The linear op y = x W^T + b (torch.nn.functional.linear) as one Eigen GEMM with the bias broadcast
// fused in, and its backward as two GEMMs and a column sum, never materialising a transpose.
// Depends on hnn/tensor.hpp, Eigen/Core.
#pragma once

#include <Eigen/Core>
#include <vector>

#include "hnn/tensor.hpp"

namespace hnn {

/// input (*, in), weight (out, in), bias (out) or undefined -> (*, out):
///   Y = X W^T + 1 b^T   (X: the input folded to rows x in, Y: rows x out)
/// Backward:  dX = dY W,  dW = dY^T X,  db = column sums of dY.
template <class T, class D>
Tensor<T, D> linear(const Tensor<T, D>& input, const Tensor<T, D>& weight, const Tensor<T, D>& bias = {}) {
  static_assert(std::is_floating_point_v<T>, "linear needs a floating point tensor");
  static_assert(is_cpu_v<D>, "linear: only the CPU implementation exists");
  HNN_CHECK(weight.dim() == 2, "linear: expected a 2-D weight (out_features, in_features), got shape ", weight.shape());
  const int64_t in_features = weight.size(1), out_features = weight.size(0);
  HNN_CHECK(input.dim() >= 1 && input.size(-1) == in_features, "linear: input shape ", input.shape(),
            " and weight shape ", weight.shape(), " cannot be multiplied (expected the last dimension of the input to be ",
            in_features, ")");
  HNN_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == out_features),
            "linear: expected bias of shape [", out_features, "], got shape ", bias.defined() ? bias.shape() : Shape{});
  using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using ConstMap = Eigen::Map<const RowMatrix>;
  using Map = Eigen::Map<RowMatrix>;
  using ConstRowVector = Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>;

  Tensor<T, D> x = input.detach().contiguous();
  Tensor<T, D> w = weight.detach().contiguous();
  int64_t rows = 1;  // every leading dimension folds into the GEMM's rows
  for (int64_t d = 0; d + 1 < input.dim(); ++d) rows *= input.size(d);
  Shape out_shape = input.shape();
  out_shape[out_shape.size() - 1] = out_features;
  auto out = Tensor<T, D>::empty(out_shape);
  {
    Map y(out.data(), rows, out_features);
    ConstMap xm(x.data(), rows, in_features), wm(w.data(), out_features, in_features);
    if (bias.defined()) {
      Tensor<T, D> b = bias.detach().contiguous();
      y.rowwise() = ConstRowVector(b.data(), out_features);
      if (in_features > 0) y.noalias() += xm * wm.transpose();
    } else if (in_features > 0) {
      y.noalias() = xm * wm.transpose();
    } else {
      y.setZero();
    }
  }
  if (autograd::any_requires_grad(input, weight, bias)) {
    autograd::record<T, D>(
        "AddmmBackward0", out, {input, weight, bias},
        [x, w, rows, in_features, out_features](const Tensor<T, D>& grad_out, const std::vector<bool>& need) {
          std::vector<Tensor<T, D>> grads(3);
          Tensor<T, D> dy = grad_out.contiguous();
          ConstMap g(dy.data(), rows, out_features);
          if (need[0]) {
            grads[0] = Tensor<T, D>::empty(x.shape());
            Map(grads[0].data(), rows, in_features).noalias() = g * ConstMap(w.data(), out_features, in_features);
          }
          if (need[1]) {
            grads[1] = Tensor<T, D>::empty(w.shape());
            Map(grads[1].data(), out_features, in_features).noalias() =
                g.transpose() * ConstMap(x.data(), rows, in_features);
          }
          if (need[2]) {
            grads[2] = Tensor<T, D>::empty({out_features});
            Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>>(grads[2].data(), out_features) = g.colwise().sum();
          }
          return grads;
        });
  }
  return out;
}

}  // namespace hnn
