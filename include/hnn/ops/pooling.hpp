// The avg_pool2d and max_pool2d ops (floor mode, dilation 1) with their backward, as
// torch.nn.functional.avg_pool2d / max_pool2d on (N, C, H, W) or (C, H, W) inputs. The arithmetic lives in
// Pool2dKernels<Device> (kernels/cpu/pooling.hpp on CPU). Depends on hnn/tensor.hpp, kernels/cpu/pooling.hpp.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "hnn/kernels/cpu/pooling.hpp"
#include "hnn/tensor.hpp"

namespace hnn {

/// The pooling kernels of a device; a device without them is a compile error.
template <class Device>
struct Pool2dKernels;

template <>
struct Pool2dKernels<CPU> {
  template <class T>
  static void avg_forward(const T* x, T* y, const kernels::cpu::Pool2dGeometry& g) {
    kernels::cpu::avg_pool2d_forward(x, y, g);
  }
  template <class T>
  static void avg_backward(const T* dy, T* dx, const kernels::cpu::Pool2dGeometry& g) {
    kernels::cpu::avg_pool2d_backward(dy, dx, g);
  }
  template <class T>
  static void max_forward(const T* x, T* y, int64_t* indices, const kernels::cpu::Pool2dGeometry& g) {
    kernels::cpu::max_pool2d_forward(x, y, indices, g);
  }
  template <class T>
  static void max_backward(const T* dy, const int64_t* indices, T* dx,
                           const kernels::cpu::Pool2dGeometry& g) {
    kernels::cpu::max_pool2d_backward(dy, indices, dx, g);
  }
};

namespace detail {

/// Checks the arguments of a 2-D pooling (named `op` in messages) and returns its geometry.
template <class T, class D>
kernels::cpu::Pool2dGeometry pool2d_geometry(const char* op, const Tensor<T, D>& input,
                                             std::array<int64_t, 2> kernel, std::array<int64_t, 2> stride,
                                             std::array<int64_t, 2> padding) {
  HNN_CHECK(input.dim() == 3 || input.dim() == 4, op,
            ": expected 3D (C, H, W) or 4D (N, C, H, W) input, got input of shape ", input.shape());
  HNN_CHECK(kernel[0] > 0 && kernel[1] > 0, op, ": kernel_size must be greater than zero, got (", kernel[0],
            ", ", kernel[1], ")");
  HNN_CHECK(stride[0] > 0 && stride[1] > 0, op, ": stride must be greater than zero, got (", stride[0], ", ",
            stride[1], ")");
  HNN_CHECK(padding[0] >= 0 && padding[1] >= 0 && 2 * padding[0] <= kernel[0] && 2 * padding[1] <= kernel[1],
            op, ": pad should be at most half of kernel size, but got pad=(", padding[0], ", ", padding[1],
            ") and kernel_size=(", kernel[0], ", ", kernel[1], ")");
  kernels::cpu::Pool2dGeometry g;
  g.H = input.size(-2);
  g.W = input.size(-1);
  g.planes = g.H * g.W == 0 ? 0 : input.numel() / (g.H * g.W);
  g.KH = kernel[0];
  g.KW = kernel[1];
  g.SH = stride[0];
  g.SW = stride[1];
  g.PH = padding[0];
  g.PW = padding[1];
  g.OH = (g.H + 2 * g.PH - g.KH) / g.SH + 1;
  g.OW = (g.W + 2 * g.PW - g.KW) / g.SW + 1;
  HNN_CHECK(g.H + 2 * g.PH >= g.KH && g.W + 2 * g.PW >= g.KW && g.OH > 0 && g.OW > 0, op,
            ": given input of shape ", input.shape(), ", kernel_size (", g.KH, ", ", g.KW, "), stride (",
            g.SH, ", ", g.SW, ") and padding (", g.PH, ", ", g.PW, "): output size is too small");
  return g;
}

inline Shape pooled_shape(const Shape& in, const kernels::cpu::Pool2dGeometry& g) {
  Shape out = in;
  out[out.size() - 2] = g.OH;
  out[out.size() - 1] = g.OW;
  return out;
}

}  // namespace detail

/// Average of each KH x KW window moved by `stride` (padding counted in the divisor, PyTorch's default):
///   y[oh, ow] = sum_{window} x / (KH * KW);  backward spreads dy[oh, ow] / (KH * KW) over the window.
template <class T, class D>
Tensor<T, D> avg_pool2d(const Tensor<T, D>& input, std::array<int64_t, 2> kernel,
                        std::array<int64_t, 2> stride, std::array<int64_t, 2> padding = {0, 0}) {
  require_cpu_kernel<"avg_pool2d", D>();
  static_assert(std::is_floating_point_v<T>, "avg_pool2d needs a floating point tensor");
  const auto g = detail::pool2d_geometry("avg_pool2d", input, kernel, stride, padding);
  Tensor<T, D> x = input.detach().contiguous();
  auto out = Tensor<T, D>::empty(detail::pooled_shape(input.shape(), g));
  Pool2dKernels<D>::avg_forward(x.data(), out.data(), g);
  if (autograd::any_requires_grad(input)) {
    autograd::record<T, D>(
        "AvgPool2DBackward0", out, {input},
        [g, in_shape = input.shape()](const Tensor<T, D>& grad_out, const std::vector<bool>&) {
          Tensor<T, D> dy = grad_out.contiguous();
          auto dx = Tensor<T, D>::empty(in_shape);
          Pool2dKernels<D>::avg_backward(dy.data(), dx.data(), g);
          return std::vector<Tensor<T, D>>{dx};
        });
  }
  return out;
}

/// Maximum of each window; backward routes dy[oh, ow] to the position of that maximum (the first one
/// in row-major window order on ties), as PyTorch does.
template <class T, class D>
Tensor<T, D> max_pool2d(const Tensor<T, D>& input, std::array<int64_t, 2> kernel,
                        std::array<int64_t, 2> stride, std::array<int64_t, 2> padding = {0, 0}) {
  require_cpu_kernel<"max_pool2d", D>();
  static_assert(std::is_floating_point_v<T>, "max_pool2d needs a floating point tensor");
  const auto g = detail::pool2d_geometry("max_pool2d", input, kernel, stride, padding);
  Tensor<T, D> x = input.detach().contiguous();
  const Shape out_shape = detail::pooled_shape(input.shape(), g);
  auto out = Tensor<T, D>::empty(out_shape);
  auto indices = Tensor<int64_t, D>::empty(out_shape);
  Pool2dKernels<D>::max_forward(x.data(), out.data(), indices.data(), g);
  if (autograd::any_requires_grad(input)) {
    autograd::record<T, D>(
        "MaxPool2DWithIndicesBackward0", out, {input},
        [g, indices, in_shape = input.shape()](const Tensor<T, D>& grad_out, const std::vector<bool>&) {
          Tensor<T, D> dy = grad_out.contiguous();
          auto dx = Tensor<T, D>::empty(in_shape);
          Pool2dKernels<D>::max_backward(dy.data(), indices.data(), dx.data(), g);
          return std::vector<Tensor<T, D>>{dx};
        });
  }
  return out;
}

}  // namespace hnn
