// Matrix products: matmul with PyTorch's rules (1-D x 1-D dot -> 0-dim, 1-D/2-D mixes, batched with
// broadcast batch dims) on Eigen's GEMM, and its backward (dA = g B^T, dB = A^T g).
// Depends on ops/shape.hpp, ops/reduction.hpp, Eigen/Core.
#pragma once

#include <vector>

#include "hnn/autograd/function.hpp"
#include "hnn/core/eigen.hpp"
#include "hnn/ops/reduction.hpp"
#include "hnn/ops/shape.hpp"

namespace hnn {

namespace detail {

template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using ColMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;

/// C (m x n, row-major, contiguous) = A (m x k) * B (k x n) where A and B are 2-D tensors whose
/// innermost or outermost stride is 1 (plain or transposed views map onto Eigen without a copy).
template <class T, class D>
void gemm_into(T* c, const Tensor<T, D>& a_in, const Tensor<T, D>& b_in, bool accumulate = false) {
  // Row-major map: unit column stride and rows that do not overlap (an expanded view has a 0 row stride
  // and must be copied first); column-major likewise with the roles swapped.
  auto row_major = [](const Tensor<T, D>& t) {
    return t.stride(1) == 1 && (t.size(0) <= 1 || t.stride(0) >= t.size(1));
  };
  auto col_major = [](const Tensor<T, D>& t) {
    return t.stride(0) == 1 && (t.size(1) <= 1 || t.stride(1) >= t.size(0));
  };
  auto mappable = [&](const Tensor<T, D>& t) { return row_major(t) || col_major(t); };
  Tensor<T, D> a = mappable(a_in) ? a_in : a_in.detach().contiguous();
  Tensor<T, D> b = mappable(b_in) ? b_in : b_in.detach().contiguous();
  const int64_t m = a.size(0), k = a.size(1), n = b.size(1);
  Eigen::Map<RowMatrix<T>> out(c, m, n);
  if (k == 0) {
    if (!accumulate) out.setZero();
    return;
  }
  using Stride = Eigen::OuterStride<>;
  auto run = [&](const auto& ma, const auto& mb) {
    if (accumulate)
      out.noalias() += ma * mb;
    else
      out.noalias() = ma * mb;
  };
  auto with_b = [&](const auto& ma) {
    if (row_major(b)) {
      Eigen::Map<const RowMatrix<T>, 0, Stride> mb(b.data(), k, n, Stride(std::max<int64_t>(b.stride(0), n)));
      run(ma, mb);
    } else {
      Eigen::Map<const ColMatrix<T>, 0, Stride> mb(b.data(), k, n, Stride(std::max<int64_t>(b.stride(1), k)));
      run(ma, mb);
    }
  };
  if (row_major(a)) {
    Eigen::Map<const RowMatrix<T>, 0, Stride> ma(a.data(), m, k, Stride(std::max<int64_t>(a.stride(0), k)));
    with_b(ma);
  } else {
    Eigen::Map<const ColMatrix<T>, 0, Stride> ma(a.data(), m, k, Stride(std::max<int64_t>(a.stride(1), m)));
    with_b(ma);
  }
}

template <class T, class D>
Tensor<T, D> mm(const Tensor<T, D>& a, const Tensor<T, D>& b) {
  HNN_CHECK(a.size(1) == b.size(0), "mat1 and mat2 shapes cannot be multiplied (", a.size(0), "x", a.size(1),
            " and ", b.size(0), "x", b.size(1), ")");
  auto out = Tensor<T, D>::empty({a.size(0), b.size(1)});
  gemm_into(out.data(), a, b);
  return out;
}

}  // namespace detail

template <class T, class D>
Tensor<T, D> matmul(const Tensor<T, D>& a, const Tensor<T, D>& b) {
  require_cpu_kernel<"matmul", D>();
  static_assert(std::is_floating_point_v<T>, "matmul needs floating point tensors");
  HNN_CHECK(a.dim() >= 1 && b.dim() >= 1, "both arguments to matmul need to be at least 1D, but they are ",
            a.dim(), "D and ", b.dim(), "D (shapes ", a.shape(), " and ", b.shape(), ")");
  if (a.dim() == 1 && b.dim() == 1) {
    HNN_CHECK(a.size(0) == b.size(0), "inconsistent tensor size, expected tensor [", a.size(0), "] and src [",
              b.size(0), "] to have the same number of elements, but got ", a.size(0), " and ", b.size(0),
              " elements respectively");
    return (a * b).sum();
  }
  if (a.dim() == 1) return matmul(a.unsqueeze(0), b).squeeze(-2);
  if (b.dim() == 1) return matmul(a, b.unsqueeze(1)).squeeze(-1);
  HNN_CHECK(a.size(-1) == b.size(-2), "mat1 and mat2 shapes cannot be multiplied (",
            a.numel() / std::max<int64_t>(a.size(-1), 1), "x", a.size(-1), " and ", b.size(-2), "x",
            b.size(-1), "): matmul of shapes ", a.shape(), " and ", b.shape());
  Tensor<T, D> out;
  if (a.dim() == 2 && b.dim() == 2) {
    out = detail::mm(a, b);
  } else if (b.dim() == 2) {
    // (..., m, k) x (k, n): fold the batch into the rows.
    Tensor<T, D> a2 = a.detach().reshape({-1, a.size(-1)});
    Shape out_shape = a.shape();
    out_shape[out_shape.size() - 1] = b.size(1);
    out = detail::mm(a2, b.detach()).reshape(out_shape);
  } else {
    // Broadcast the batch dims, then one GEMM per matrix.
    Shape batch_a(a.shape().begin(), a.shape().end() - 2), batch_b(b.shape().begin(), b.shape().end() - 2);
    Shape batch = broadcast_shapes(batch_a, batch_b);
    Shape ea = batch, eb = batch;
    ea.push_back(a.size(-2));
    ea.push_back(a.size(-1));
    eb.push_back(b.size(-2));
    eb.push_back(b.size(-1));
    Tensor<T, D> a3 = a.detach().expand(ea).reshape({-1, a.size(-2), a.size(-1)});
    Tensor<T, D> b3 = b.detach().expand(eb).reshape({-1, b.size(-2), b.size(-1)});
    Shape out_shape = batch;
    out_shape.push_back(a.size(-2));
    out_shape.push_back(b.size(-1));
    out = Tensor<T, D>::empty(out_shape);
    const int64_t count = a3.size(0), mn = a.size(-2) * b.size(-1);
    for (int64_t i = 0; i < count; ++i)
      detail::gemm_into(out.data() + i * mn, a3.select(0, i), b3.select(0, i));
  }
  if (autograd::any_requires_grad(a, b)) {
    autograd::record<T, D>(
        "MmBackward0", out, {a, b},
        [a = a.detach(), b = b.detach()](const Tensor<T, D>& g, const std::vector<bool>& need) {
          detail::Grads<T, D> grads(2);
          if (need[0]) grads[0] = sum_to(matmul(g, b.transpose(-1, -2)), a.shape());
          if (need[1]) grads[1] = sum_to(matmul(a.transpose(-1, -2), g), b.shape());
          return grads;
        });
  }
  return out;
}

template <class T, class D>
Tensor<T, D> Tensor<T, D>::matmul(const Tensor& other) const {
  return hnn::matmul(*this, other);
}

template <class T, class D>
Tensor<T, D> mm(const Tensor<T, D>& a, const Tensor<T, D>& b) {
  return matmul(a, b);
}

}  // namespace hnn
