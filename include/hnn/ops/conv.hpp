// The conv2d op (dilation 1, groups 1, zero padding) with its backward for input, weight and bias, as
// torch.nn.functional.conv2d. The arithmetic lives in Conv2dKernels<Device> (kernels/cpu/conv.hpp on CPU).
// Depends on hnn/tensor.hpp, kernels/cpu/conv.hpp.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "hnn/kernels/cpu/conv.hpp"
#include "hnn/tensor.hpp"

namespace hnn {

/// The convolution kernels of a device; a device without them is a compile error.
template <class Device>
struct Conv2dKernels;

template <>
struct Conv2dKernels<CPU> {
  template <class T>
  static void forward(const T* x, const T* weight, const T* bias, T* y,
                      const kernels::cpu::Conv2dGeometry& g) {
    kernels::cpu::conv2d_forward(x, weight, bias, y, g);
  }
  template <class T>
  static void backward(const T* x, const T* weight, const T* dy, const kernels::cpu::Conv2dGeometry& g, T* dx,
                       T* dweight, T* dbias) {
    kernels::cpu::conv2d_backward(x, weight, dy, g, dx, dweight, dbias);
  }
};

/// 2-D cross-correlation of input (N, C, H, W) or (C, H, W) with weight (O, C, KH, KW), plus bias (O)
/// when defined:  y[n, o, oh, ow] = bias[o] + sum_{c,i,j} w[o, c, i, j] * x[n, c, oh*SH - PH + i, ow*SW - PW
/// + j] (x zero outside the image). Backward (per image, through the column matrix col = im2col(x)):
///   dW = dy col^T summed over images,  db = dy summed over images and positions,  dx = col2im(W^T dy).
template <class T, class D>
Tensor<T, D> conv2d(const Tensor<T, D>& input, const Tensor<T, D>& weight, const Tensor<T, D>& bias = {},
                    std::array<int64_t, 2> stride = {1, 1}, std::array<int64_t, 2> padding = {0, 0}) {
  require_cpu_kernel<"conv2d", D>();
  static_assert(std::is_floating_point_v<T>, "conv2d needs a floating point tensor");
  HNN_CHECK(weight.dim() == 4,
            "conv2d: expected a 4-D weight (out_channels, in_channels, kH, kW), got shape ", weight.shape());
  HNN_CHECK(input.dim() == 3 || input.dim() == 4,
            "conv2d: expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: ",
            input.shape());
  if (input.dim() == 3) return conv2d(input.unsqueeze(0), weight, bias, stride, padding).squeeze(0);
  HNN_CHECK(stride[0] > 0 && stride[1] > 0, "conv2d: stride should be positive, got (", stride[0], ", ",
            stride[1], ")");
  HNN_CHECK(padding[0] >= 0 && padding[1] >= 0, "conv2d: negative padding is not supported, got (",
            padding[0], ", ", padding[1], ")");
  kernels::cpu::Conv2dGeometry g;
  g.N = input.size(0);
  g.C = input.size(1);
  g.H = input.size(2);
  g.W = input.size(3);
  g.O = weight.size(0);
  g.KH = weight.size(2);
  g.KW = weight.size(3);
  g.SH = stride[0];
  g.SW = stride[1];
  g.PH = padding[0];
  g.PW = padding[1];
  HNN_CHECK(weight.size(1) == g.C, "conv2d: given groups=1, weight of size ", weight.shape(),
            ", expected input", input.shape(), " to have ", weight.size(1), " channels, but got ", g.C,
            " channels instead");
  HNN_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == g.O), "conv2d: expected bias of shape [",
            g.O, "] (one per output channel), got shape ", bias.defined() ? bias.shape() : Shape{});
  HNN_CHECK(g.H + 2 * g.PH >= g.KH && g.W + 2 * g.PW >= g.KW,
            "conv2d: calculated padded input size per channel: (", g.H + 2 * g.PH, " x ", g.W + 2 * g.PW,
            "). Kernel size: (", g.KH, " x ", g.KW,
            "). Kernel size can't be greater than actual input size (input shape ", input.shape(), ")");
  g.OH = (g.H + 2 * g.PH - g.KH) / g.SH + 1;
  g.OW = (g.W + 2 * g.PW - g.KW) / g.SW + 1;

  Tensor<T, D> x = input.detach().contiguous();
  Tensor<T, D> w = weight.detach().contiguous();
  Tensor<T, D> b = bias.defined() ? bias.detach().contiguous() : Tensor<T, D>();
  auto out = Tensor<T, D>::empty({g.N, g.O, g.OH, g.OW});
  if (out.numel() > 0)
    Conv2dKernels<D>::forward(x.data(), w.data(), b.defined() ? b.data() : nullptr, out.data(), g);

  if (autograd::any_requires_grad(input, weight, bias)) {
    autograd::record<T, D>("ConvolutionBackward0", out, {input, weight, bias},
                           [x, w, g](const Tensor<T, D>& grad_out, const std::vector<bool>& need) {
                             std::vector<Tensor<T, D>> grads(3);
                             if (need[0]) grads[0] = Tensor<T, D>::empty(x.shape());
                             if (need[1]) grads[1] = Tensor<T, D>::empty(w.shape());
                             if (need[2]) grads[2] = Tensor<T, D>::empty({g.O});
                             if (grad_out.numel() == 0) {
                               for (auto& t : grads)
                                 if (t.defined()) t.zero_();
                               return grads;
                             }
                             Tensor<T, D> dy = grad_out.contiguous();
                             Conv2dKernels<D>::backward(
                                 x.data(), w.data(), dy.data(), g, need[0] ? grads[0].data() : nullptr,
                                 need[1] ? grads[1].data() : nullptr, need[2] ? grads[2].data() : nullptr);
                             return grads;
                           });
  }
  return out;
}

}  // namespace hnn
