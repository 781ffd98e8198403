// The kernel traits: one per op family, specialised by every device that has kernels for it, chosen at
// compile time by the tensor's device type (dlib's cpu::/cuda:: discipline). Each specialisation forwards
// to raw-pointer functions with the same signatures on every device: kernels/cpu/*.hpp for hnn::CPU and
// hnn::cuda::launch (defined in cuda/kernels.cu) for hnn::CUDA. Ops in ops/ call only these traits, so an
// op and its backward are written once. Using a family on a device that lacks it fails to compile, with
// the family and the device named in the message.
//   ElementwiseKernels<D>: fill, copy (with conversion, strided), binary (+ - * /), scalar (a op s)
//   ReduceKernels<D>:      sum_rows, sum_columns
//   BatchNormKernels<D>:   the fused batch-norm passes and the separate ones SyncBatchNorm composes
// Depends on core/device.hpp.
#pragma once

#include <algorithm>
#include <cstddef>
#include <type_traits>

#include "hnn/core/device.hpp"

namespace hnn {

template <class Device>
inline constexpr bool device_has_no_kernels_v = false;

/// An op's name as a template argument ("exp"), so a compile error can carry it.
template <size_t N>
struct OpName {
  char text[N];
  constexpr OpName(const char (&name)[N]) { std::copy_n(name, N, text); }  // NOLINT: implicit on purpose
};

/// Never defined: naming it is the compile error of an op used on a device that has no kernel for it,
/// and GCC and Clang print the op and the device in the incomplete type's name, e.g.
/// "incomplete type 'hnn::no_kernel_for_op_on_device<hnn::OpName<4>{"exp"}, hnn::CUDA>'".
template <OpName Op, class Device>
struct no_kernel_for_op_on_device;

/// The first statement of an op that has CPU kernels only (every op outside the three families above): on
/// any other device the op fails to compile, naming itself and the device. Move such a tensor with
/// .to<hnn::CPU>() to use the op.
template <OpName Op, class Device>
constexpr void require_cpu_kernel() {
  if constexpr (!std::is_same_v<Device, CPU>)
    static_cast<void>(sizeof(no_kernel_for_op_on_device<Op, Device>));
}

template <class Device>
struct ElementwiseKernels {
  static_assert(
      device_has_no_kernels_v<Device>,
      "hnn: no elementwise kernels (ElementwiseKernels<Device>) for this device: fill, copy, + - * / "
      "are not available on it");
};

template <class Device>
struct ReduceKernels {
  static_assert(device_has_no_kernels_v<Device>,
                "hnn: no reduction kernels (ReduceKernels<Device>) for this device: sum and mean are not "
                "available on it");
};

/// The batch-norm kernels of a device, over raw pointers to that device's memory. The CPU set forwards to
/// hnn::kernels::cpu; a CUDA build adds BatchNormKernels<CUDA> (include/hnn/cuda/batch_norm.hpp) with the
/// same signatures. forward_train, forward_eval and backward are the fused passes of the op; stats, elemt,
/// update_running, backward_reduce and backward_elemt are the separate passes SyncBatchNorm composes around
/// its collectives; eval_statistics gives the constants an eval forward used, for its backward.
template <class Device>
struct BatchNormKernels {
  static_assert(device_has_no_kernels_v<Device>,
                "hnn: no batch-norm kernels (BatchNormKernels<Device>) for this device: batch norm is not "
                "available on it");
};

}  // namespace hnn
