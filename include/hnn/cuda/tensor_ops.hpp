// Tensor<T, hnn::CUDA>: the CUDA specialisations of the kernel traits the ops call (ElementwiseKernels<CUDA>,
// ReduceKernels<CUDA>; BatchNormKernels<CUDA> is in cuda/batch_norm.hpp), forwarding to the host entry
// points of cuda/launch.hpp, and to<CUDA>() / to<CPU>(). The ops themselves, forward and backward, are
// those of ops/: nothing here is an op. Depends on ops/copy.hpp, cuda/launch.hpp, cuda/storage.hpp (CUDA
// builds only).
#pragma once

#ifndef HNN_WITH_CUDA
#error "hnn/cuda/tensor_ops.hpp is part of the CUDA backend: build with HNN_WITH_CUDA"
#endif

#include <cuda_runtime_api.h>

#include <cstdint>
#include <type_traits>

#include "hnn/cuda/error.hpp"
#include "hnn/cuda/launch.hpp"
#include "hnn/cuda/storage.hpp"
#include "hnn/kernels/kernel_traits.hpp"
#include "hnn/ops/copy.hpp"

/*
 * Which ops run on a CUDA tensor: those written over the traits below (+ - * / between tensors and with
 * scalars, neg, sum and mean, copies, fill, dtype casts, gradient accumulation), everything built only
 * from them (reshape/view/permute/expand/select/narrow and the other views, contiguous/clone), and batch
 * norm. Every other op has CPU kernels only and starts with require_cpu_kernel<"name", D>()
 * (kernels/kernel_traits.hpp), so using it on a CUDA tensor fails to compile, naming the op and the
 * device, instead of reading a device pointer on the host. Move a tensor with to<CPU>() to use those.
 * Copies between devices are not recorded by autograd (a graph never spans two devices).
 */

namespace hnn {

/// The CUDA elementwise kernels (kernels/cuda/elementwise.cuh through cuda/launch.hpp), with the
/// signatures of ElementwiseKernels<CPU>. All pointers are device pointers.
template <>
struct ElementwiseKernels<CUDA> {
  template <class T>
  static void fill(T* dst, int64_t n, T value) {
    cuda::launch::fill(dst, n, value);
  }
  template <class TOut, class TIn>
  static void copy(TOut* dst, const TIn* src, int64_t n, const kernels::StridedGeometry* geometry) {
    cuda::launch::copy(dst, src, n, geometry);
  }
  template <class T>
  static void binary(kernels::BinaryOp op, T* out, const T* a, const T* b, int64_t n,
                     const kernels::StridedGeometry* geometry) {
    cuda::launch::binary(op, out, a, b, n, geometry);
  }
  template <class T>
  static void scalar(kernels::ScalarOp op, T* out, const T* a, int64_t n, T s) {
    cuda::launch::scalar(op, out, a, n, s);
  }
};

/// The CUDA sum kernels (row sums accumulated in double, int64 for int64 tensors).
template <>
struct ReduceKernels<CUDA> {
  template <class T>
  static void sum_rows(T* out, const T* in, int64_t outer, int64_t inner) {
    cuda::launch::sum_rows(out, in, outer, inner);
  }
  /// The columns of a contiguous (inner, outer) matrix: transposed into a cached device buffer, then
  /// summed as rows.
  template <class T>
  static void sum_columns(T* out, const T* in, int64_t outer, int64_t inner) {
    if (inner == 0) {  // sums over nothing
      cuda::launch::fill(out, outer, T(0));
      return;
    }
    const size_t bytes = static_cast<size_t>(outer * inner) * sizeof(T);
    auto& allocator = CudaCachingAllocator::instance();
    T* transposed = static_cast<T*>(allocator.allocate(bytes));
    kernels::StridedGeometry g;
    g.ndim = 2;
    g.sizes[0] = outer;
    g.sizes[1] = inner;
    g.out_strides[0] = inner;
    g.out_strides[1] = 1;
    g.a_strides[0] = 1;
    g.a_strides[1] = outer;
    cuda::launch::copy(transposed, in, outer * inner, &g);
    cuda::launch::sum_rows(out, transposed, outer, inner);
    allocator.deallocate(transposed, bytes);  // stream-ordered: the sum is queued before any reuse
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

}  // namespace hnn
