// Tensor<T, hnn::CUDA>: the device kernels behind the generic tensor code (DeviceOps<CUDA>: copies, fill,
// neg, row sums), to<CUDA>() / to<CPU>(), the arithmetic batch norm and autograd need on the device
// (+ - * / between tensors and with scalars, gradient accumulation); BatchNormKernels<CUDA> is in
// cuda/batch_norm.hpp. Depends on hnn/tensor.hpp's ops, cuda/launch.hpp, cuda/storage.hpp (CUDA builds only).
#pragma once

#ifndef HNN_WITH_CUDA
#error "hnn/cuda/tensor_ops.hpp is part of the CUDA backend: build with HNN_WITH_CUDA"
#endif

#include <cuda_runtime_api.h>

#include <type_traits>
#include <vector>

#include "hnn/autograd/function.hpp"
#include "hnn/cuda/error.hpp"
#include "hnn/cuda/launch.hpp"
#include "hnn/cuda/storage.hpp"
#include "hnn/ops/copy.hpp"
#include "hnn/ops/creation.hpp"
#include "hnn/ops/elementwise.hpp"
#include "hnn/ops/reduction.hpp"
#include "hnn/ops/shape.hpp"

/*
 * Which ops run on a CUDA tensor: those below, everything built only from them (mean = sum * 1/n,
 * reshape/view/permute/expand/select/narrow and the other views, contiguous/clone, backward through
 * add/sub/mul/div/sum/mean/batch_norm), and batch norm itself. Every other op keeps a CPU-only kernel
 * guarded by static_assert(is_cpu_v<D>), so using it on a CUDA tensor fails to compile instead of
 * reading a device pointer on the host. Move a tensor with to<CPU>() to use those.
 * Copies between devices are not recorded by autograd (a graph never spans two devices).
 */

namespace hnn {

namespace cuda::detail {

/// Geometry of a strided launch over `shape`: out/a/b strides given per dimension.
inline launch::StridedGeometry geometry(const Shape& shape, const Strides& out, const Strides& a,
                                        const Strides& b = {}) {
  HNN_CHECK(shape.size() <= static_cast<size_t>(launch::max_dims), "CUDA strided kernels handle at most ",
            launch::max_dims, " dimensions, got shape ", shape);
  launch::StridedGeometry g;
  g.ndim = static_cast<int>(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) {
    g.sizes[d] = shape[d];
    g.out_strides[d] = out.empty() ? 0 : out[d];
    g.a_strides[d] = a.empty() ? 0 : a[d];
    g.b_strides[d] = b.empty() ? 0 : b[d];
  }
  return g;
}

/// out = a op b with broadcasting, out contiguous and newly allocated.
template <class T>
Tensor<T, CUDA> binary(launch::BinaryOp op, const Tensor<T, CUDA>& a, const Tensor<T, CUDA>& b) {
  const bool same = a.shape() == b.shape();
  Shape out_shape = same ? a.shape() : broadcast_shapes(a.shape(), b.shape());
  auto out = Tensor<T, CUDA>::empty(out_shape);
  if (out.numel() == 0) return out;
  if (same && a.is_contiguous() && b.is_contiguous()) {
    launch::binary(op, out.data(), a.data(), b.data(), out.numel(), nullptr);
  } else {
    const auto g =
        geometry(out_shape, contiguous_strides(out_shape), hnn::detail::broadcast_strides(a, out_shape),
                 hnn::detail::broadcast_strides(b, out_shape));
    launch::binary(op, out.data(), a.data(), b.data(), out.numel(), &g);
  }
  return out;
}

/// out = op(a, s) elementwise.
template <class T>
Tensor<T, CUDA> scalar(launch::ScalarOp op, const Tensor<T, CUDA>& a, T s) {
  Tensor<T, CUDA> in = a.is_contiguous() ? a : a.detach().contiguous();
  auto out = Tensor<T, CUDA>::empty(a.shape());
  launch::scalar(op, out.data(), in.data(), in.numel(), s);
  return out;
}

}  // namespace cuda::detail

/// The device side of the generic tensor code (see core/device.hpp).
template <>
struct DeviceOps<CUDA> {
  /// dst (a contiguous device buffer of src.numel() TOut) = src converted to TOut.
  template <class TOut, class TIn>
  static void copy_to_contiguous(TOut* dst, const Tensor<TIn, CUDA>& src) {
    if (src.numel() == 0) return;
    if (src.is_contiguous()) {
      cuda::launch::copy(dst, src.data(), src.numel(), nullptr);
      return;
    }
    const auto g = cuda::detail::geometry(src.shape(), contiguous_strides(src.shape()), src.strides());
    cuda::launch::copy(dst, src.data(), src.numel(), &g);
  }

  /// dst = src in place (src broadcast to dst's shape), both on the device.
  template <class T>
  static void copy_(Tensor<T, CUDA>& dst, const Tensor<T, CUDA>& src) {
    if (dst.numel() == 0) return;
    if (src.shape() == dst.shape() && dst.is_contiguous() && src.is_contiguous()) {
      if (src.data() != dst.data()) cuda::launch::copy(dst.data(), src.data(), dst.numel(), nullptr);
      return;
    }
    const auto g =
        cuda::detail::geometry(dst.shape(), dst.strides(), hnn::detail::broadcast_strides(src, dst.shape()));
    cuda::launch::copy(dst.data(), src.data(), dst.numel(), &g);
  }

  template <class T>
  static void fill_(Tensor<T, CUDA>& t, T value) {
    if (t.numel() == 0) return;
    if (t.is_contiguous()) {
      cuda::launch::fill(t.data(), t.numel(), value);
      return;
    }
    // A strided destination: broadcast a one-element device tensor into it.
    auto one = Tensor<T, CUDA>::empty(Shape{});
    cuda::launch::fill(one.data(), 1, value);
    const auto g = cuda::detail::geometry(t.shape(), t.strides(), Strides(t.shape().size(), 0));
    cuda::launch::copy(t.data(), one.data(), t.numel(), &g);
  }

  template <class T>
  static Tensor<T, CUDA> neg(const Tensor<T, CUDA>& t) {
    return cuda::detail::scalar(cuda::launch::ScalarOp::neg, t, T(0));
  }

  /// The kernel of Tensor::sum(dims, keepdim): the input permuted to (kept..., reduced...) and summed
  /// along rows of the contiguous (outer, inner) matrix.
  template <class T>
  static Tensor<T, CUDA> sum(const Tensor<T, CUDA>& x, const hnn::detail::ReducePlan& plan, bool keepdim) {
    auto out = Tensor<T, CUDA>::empty(keepdim ? plan.out_shape : plan.out_shape_squeezed);
    if (out.numel() == 0) return out;
    Tensor<T, CUDA> xp = x.detach().permute(plan.permutation).contiguous();
    cuda::launch::sum_rows(out.data(), xp.data(), plan.outer, plan.inner);
    return out;
  }
};

namespace detail {

/// to<D2>() between the host and a CUDA device: a contiguous copy through cudaMemcpy (synchronous).
template <class D2, class T, class D>
Tensor<T, D2> move_to_device(const Tensor<T, D>& t) {
  static_assert((std::is_same_v<D, CPU> && std::is_same_v<D2, CUDA>) ||
                    (std::is_same_v<D, CUDA> && std::is_same_v<D2, CPU>),
                "to<Device>() copies between hnn::CPU and hnn::CUDA");
  Tensor<T, D> src = t.is_contiguous() ? t.detach() : t.detach().contiguous();
  auto out = Tensor<T, D2>::empty(t.shape());
  if (t.numel() == 0) return out;
  const size_t bytes = static_cast<size_t>(t.numel()) * sizeof(T);
  if constexpr (std::is_same_v<D2, CUDA>) {
    HNN_CUDA_CHECK(cudaMemcpy(out.data(), src.data(), bytes, cudaMemcpyHostToDevice));
  } else {
    HNN_CUDA_CHECK(cudaMemcpy(out.data(), src.data(), bytes, cudaMemcpyDeviceToHost));
  }
  return out;
}

}  // namespace detail

// ---- arithmetic on CUDA tensors (more specialised than the generic templates, so chosen for CUDA) ------

template <class T>
Tensor<T, CUDA> add(const Tensor<T, CUDA>& a, const Tensor<T, CUDA>& b) {
  auto out = cuda::detail::binary(cuda::launch::BinaryOp::add, a, b);
  if constexpr (is_differentiable_v<T>)
    if (autograd::any_requires_grad(a, b))
      autograd::record<T, CUDA>(
          "AddBackward0", out, {a, b},
          [sa = a.shape(), sb = b.shape()](const Tensor<T, CUDA>& g, const std::vector<bool>& need) {
            return std::vector<Tensor<T, CUDA>>{need[0] ? sum_to(g, sa) : Tensor<T, CUDA>(),
                                                need[1] ? sum_to(g, sb) : Tensor<T, CUDA>()};
          });
  return out;
}

template <class T>
Tensor<T, CUDA> sub(const Tensor<T, CUDA>& a, const Tensor<T, CUDA>& b) {
  auto out = cuda::detail::binary(cuda::launch::BinaryOp::sub, a, b);
  if constexpr (is_differentiable_v<T>)
    if (autograd::any_requires_grad(a, b))
      autograd::record<T, CUDA>(
          "SubBackward0", out, {a, b},
          [sa = a.shape(), sb = b.shape()](const Tensor<T, CUDA>& g, const std::vector<bool>& need) {
            return std::vector<Tensor<T, CUDA>>{need[0] ? sum_to(g, sa) : Tensor<T, CUDA>(),
                                                need[1] ? sum_to(g.neg(), sb) : Tensor<T, CUDA>()};
          });
  return out;
}

template <class T>
Tensor<T, CUDA> mul(const Tensor<T, CUDA>& a, const Tensor<T, CUDA>& b) {
  auto out = cuda::detail::binary(cuda::launch::BinaryOp::mul, a, b);
  if constexpr (is_differentiable_v<T>)
    if (autograd::any_requires_grad(a, b))
      autograd::record<T, CUDA>(
          "MulBackward0", out, {a, b},
          [a = a.detach(), b = b.detach()](const Tensor<T, CUDA>& g, const std::vector<bool>& need) {
            return std::vector<Tensor<T, CUDA>>{need[0] ? sum_to(mul(g, b), a.shape()) : Tensor<T, CUDA>(),
                                                need[1] ? sum_to(mul(g, a), b.shape()) : Tensor<T, CUDA>()};
          });
  return out;
}

template <class T>
Tensor<T, CUDA> div(const Tensor<T, CUDA>& a, const Tensor<T, CUDA>& b) {
  auto out = cuda::detail::binary(cuda::launch::BinaryOp::div, a, b);
  if constexpr (is_differentiable_v<T>)
    if (autograd::any_requires_grad(a, b))
      autograd::record<T, CUDA>(
          "DivBackward0", out, {a, b},
          [a = a.detach(), b = b.detach()](const Tensor<T, CUDA>& g, const std::vector<bool>& need) {
            std::vector<Tensor<T, CUDA>> grads(2);
            if (need[0]) grads[0] = sum_to(div(g, b), a.shape());
            if (need[1]) grads[1] = sum_to(div(mul(g, a), mul(b, b)).neg(), b.shape());  // d(a/b)/db = -a/b^2
            return grads;
          });
  return out;
}

template <class T>
Tensor<T, CUDA> add(const Tensor<T, CUDA>& a, std::type_identity_t<T> s) {
  auto out = cuda::detail::scalar(cuda::launch::ScalarOp::add, a, static_cast<T>(s));
  if constexpr (is_differentiable_v<T>)
    if (autograd::any_requires_grad(a))
      autograd::record<T, CUDA>(
          "AddBackward1", out, {a},
          [](const Tensor<T, CUDA>& g, const std::vector<bool>&) { return std::vector<Tensor<T, CUDA>>{g}; });
  return out;
}

template <class T>
Tensor<T, CUDA> mul(const Tensor<T, CUDA>& a, std::type_identity_t<T> s) {
  auto out = cuda::detail::scalar(cuda::launch::ScalarOp::mul, a, static_cast<T>(s));
  if constexpr (is_differentiable_v<T>)
    if (autograd::any_requires_grad(a))
      autograd::record<T, CUDA>("MulBackward1", out, {a},
                                [s](const Tensor<T, CUDA>& g, const std::vector<bool>&) {
                                  return std::vector<Tensor<T, CUDA>>{mul(g, s)};
                                });
  return out;
}

/// s - a
template <class T>
Tensor<T, CUDA> rsub(const Tensor<T, CUDA>& a, std::type_identity_t<T> s) {
  auto out = cuda::detail::scalar(cuda::launch::ScalarOp::rsub, a, static_cast<T>(s));
  if constexpr (is_differentiable_v<T>)
    if (autograd::any_requires_grad(a))
      autograd::record<T, CUDA>("RsubBackward1", out, {a},
                                [](const Tensor<T, CUDA>& g, const std::vector<bool>&) {
                                  return std::vector<Tensor<T, CUDA>>{g.neg()};
                                });
  return out;
}

/// a / s, correctly rounded (as the CPU op and PyTorch).
template <class T>
Tensor<T, CUDA> div(const Tensor<T, CUDA>& a, std::type_identity_t<T> s) {
  auto out = cuda::detail::scalar(cuda::launch::ScalarOp::div, a, static_cast<T>(s));
  if constexpr (is_differentiable_v<T>)
    if (autograd::any_requires_grad(a))
      autograd::record<T, CUDA>("DivBackward1", out, {a},
                                [s](const Tensor<T, CUDA>& g, const std::vector<bool>&) {
                                  return std::vector<Tensor<T, CUDA>>{div(g, s)};
                                });
  return out;
}

/// s / a
template <class T>
Tensor<T, CUDA> rdiv(const Tensor<T, CUDA>& a, std::type_identity_t<T> s) {
  auto out = cuda::detail::scalar(cuda::launch::ScalarOp::rdiv, a, static_cast<T>(s));
  if constexpr (is_differentiable_v<T>)
    if (autograd::any_requires_grad(a))
      autograd::record<T, CUDA>(
          "DivBackward1", out, {a}, [a = a.detach(), s](const Tensor<T, CUDA>& g, const std::vector<bool>&) {
            // d(s/a)/da = -s/a^2
            return std::vector<Tensor<T, CUDA>>{mul(div(g, mul(a, a)), static_cast<T>(-s))};
          });
  return out;
}

// ---- gradient accumulation (the engine calls these unqualified, outside grad mode) ----------------------

template <class T>
Tensor<T, CUDA> add_for_accumulation(const Tensor<T, CUDA>& a, const Tensor<T, CUDA>& b) {
  return cuda::detail::binary(cuda::launch::BinaryOp::add, a, b);
}

template <class T>
void add_inplace_for_accumulation(Tensor<T, CUDA>& dst, const Tensor<T, CUDA>& src) {
  HNN_CHECK_RUNTIME(dst.shape() == src.shape(), "gradient of shape ", src.shape(),
                    " cannot accumulate into a gradient of shape ", dst.shape());
  if (dst.numel() == 0) return;
  if (dst.is_contiguous() && src.is_contiguous()) {
    cuda::launch::binary(cuda::launch::BinaryOp::add, dst.data(), dst.data(), src.data(), dst.numel(),
                         nullptr);
    return;
  }
  dst.copy_(add_for_accumulation(dst, src));
}

}  // namespace hnn
