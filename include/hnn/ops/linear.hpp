// The linear op y = x W^T + b (torch.nn.functional.linear) as one Eigen GEMM with the bias broadcast
// fused in, and its backward as two GEMMs and a column sum, never materialising a transpose.
// Depends on hnn/tensor.hpp, Eigen/Core.
#pragma once

#include <utility>
#include <vector>

#include "hnn/core/eigen.hpp"
#include "hnn/tensor.hpp"

namespace hnn {

namespace detail {

/// out = the sum over k of product(k0, kc), the GEMM of the k-slice [k0, k0 + kc), computed as four GEMMs
/// over quarters of k whose results are added pairwise. A GEMM kernel sums each output's k products in one
/// running sum (Eigen's does); over k in the hundreds that makes a float Linear less accurate than PyTorch's
/// (OpenBLAS's kernel keeps two sums), and batch norm after it magnifies the difference
/// (tests/nn/lenet_precision_test.cpp). Quartered, each output's error grows with k / 4 + 2 roundings; the
/// flops are the same, at the price of three temporaries of the output's size.
template <class T, class Out, class Product>
void sliced_gemm(Out& out, int64_t k, Product product) {
  // Below 128 products a running sum is as accurate as PyTorch's, and the temporaries would cost more than
  // the GEMM (a weight gradient's k is the batch: out x in outputs from a few dozen products each).
  constexpr int64_t slices = 4, min_k = 128;
  if (k < min_k) {
    if (k > 0)
      out.noalias() = product(0, k);
    else
      out.setZero();
    return;
  }
  using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const int64_t step = (k + slices - 1) / slices;  // 3 * step < k
  out.noalias() = product(0, step);
  const Matrix part1 = product(step, step), part2 = product(2 * step, step),
               part3 = product(3 * step, k - 3 * step);
  out = (out + part1) + (part2 + part3);
}

}  // namespace detail

/// input (*, in), weight (out, in), bias (out) or undefined -> (*, out):
///   Y = X W^T + 1 b^T   (X: the input folded to rows x in, Y: rows x out)
/// Backward:  dX = dY W,  dW = dY^T X,  db = column sums of dY.
template <class T, class D>
Tensor<T, D> linear(const Tensor<T, D>& input, const Tensor<T, D>& weight, const Tensor<T, D>& bias = {}) {
  static_assert(std::is_floating_point_v<T>, "linear needs a floating point tensor");
  require_cpu_kernel<"linear", D>();
  HNN_CHECK(weight.dim() == 2, "linear: expected a 2-D weight (out_features, in_features), got shape ",
            weight.shape());
  const int64_t in_features = weight.size(1), out_features = weight.size(0);
  HNN_CHECK(input.dim() >= 1 && input.size(-1) == in_features, "linear: input shape ", input.shape(),
            " and weight shape ", weight.shape(),
            " cannot be multiplied (expected the last dimension of the input to be ", in_features, ")");
  HNN_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == out_features),
            "linear: expected bias of shape [", out_features, "], got shape ",
            bias.defined() ? bias.shape() : Shape{});
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
    detail::sliced_gemm<T>(y, in_features, [&](int64_t k0, int64_t kc) {
      return xm.middleCols(k0, kc) * wm.middleCols(k0, kc).transpose();
    });
    if (bias.defined()) {  // added last, as BLAS's addmm does: beta C + (A B)
      Tensor<T, D> b = bias.detach().contiguous();
      y.rowwise() += ConstRowVector(b.data(), out_features);
    }
  }
  if (autograd::any_requires_grad(input, weight, bias)) {
    autograd::record<T, D>(
        "AddmmBackward0", out, {input, weight, bias},
        [x, w, rows, in_features, out_features](const Tensor<T, D>& grad_out, const std::vector<bool>& need) {
          std::vector<Tensor<T, D>> grads(3);
          Tensor<T, D> dy = grad_out.contiguous();
          ConstMap g(dy.data(), rows, out_features);
          if (need[0]) {  // dX = dY W, over k = out_features
            grads[0] = Tensor<T, D>::empty(x.shape());
            Map dx(grads[0].data(), rows, in_features);
            ConstMap wm(w.data(), out_features, in_features);
            detail::sliced_gemm<T>(dx, out_features, [&](int64_t k0, int64_t kc) {
              return g.middleCols(k0, kc) * wm.middleRows(k0, kc);
            });
          }
          if (need[1]) {  // dW = dY^T X, over k = rows
            grads[1] = Tensor<T, D>::empty(w.shape());
            Map dw(grads[1].data(), out_features, in_features);
            ConstMap xm(x.data(), rows, in_features);
            detail::sliced_gemm<T>(dw, rows, [&](int64_t k0, int64_t kc) {
              return g.middleRows(k0, kc).transpose() * xm.middleRows(k0, kc);
            });
          }
          if (need[2]) {
            grads[2] = Tensor<T, D>::empty({out_features});
            Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>>(grads[2].data(), out_features) =
                g.template cast<double>().colwise().sum().template cast<T>();
          }
          return grads;
        });
  }
  return out;
}

}  // namespace hnn
