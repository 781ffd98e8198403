// CUDA kernels behind Tensor<T, hnn::CUDA>'s generic ops: fill, (strided, converting) copy, broadcasting
// binary arithmetic, scalar arithmetic and row sums. Raw pointers and sizes only; the host launchers
// are in include/hnn/cuda/kernels.cu. Depends on kernels/cuda/common.cuh and kernels/elementwise_types.hpp.
#pragma once

#include <cstdint>
#include <type_traits>

#include "hnn/kernels/cuda/common.cuh"
#include "hnn/kernels/elementwise_types.hpp"

namespace hnn::kernels::cuda {

using hnn::kernels::BinaryOp;
using hnn::kernels::ScalarOp;
using hnn::kernels::StridedGeometry;

/// Element offset of linear index i (row-major over g.sizes) for the given strides.
__device__ __forceinline__ int64_t strided_offset(int64_t i, const StridedGeometry& g,
                                                  const int64_t* strides) {
  int64_t offset = 0;
  for (int d = g.ndim - 1; d >= 0; --d) {
    const int64_t size = g.sizes[d];
    const int64_t q = i / size;
    offset += (i - q * size) * strides[d];
    i = q;
  }
  return offset;
}

template <class T>
__global__ void fill_kernel(T* dst, int64_t n, T value) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = value;
}

template <class TOut, class TIn>
__global__ void copy_kernel(TOut* dst, const TIn* src, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = static_cast<TOut>(src[i]);
}

template <class TOut, class TIn>
__global__ void copy_strided_kernel(TOut* dst, const TIn* src, int64_t n, StridedGeometry g) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    dst[strided_offset(i, g, g.out_strides)] = static_cast<TOut>(src[strided_offset(i, g, g.a_strides)]);
}

template <class T>
__device__ __forceinline__ T apply_binary(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::add:
      return a + b;
    case BinaryOp::sub:
      return a - b;
    case BinaryOp::mul:
      return a * b;
    default:
      return a / b;
  }
}

template <class T>
__global__ void binary_kernel(BinaryOp op, T* out, const T* a, const T* b, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = apply_binary(op, a[i], b[i]);
}

template <class T>
__global__ void binary_strided_kernel(BinaryOp op, T* out, const T* a, const T* b, int64_t n,
                                      StridedGeometry g) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = apply_binary(op, a[strided_offset(i, g, g.a_strides)], b[strided_offset(i, g, g.b_strides)]);
}

template <class T>
__global__ void scalar_kernel(ScalarOp op, T* out, const T* a, int64_t n, T s) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const T v = a[i];
    switch (op) {
      case ScalarOp::add:
        out[i] = v + s;
        break;
      case ScalarOp::mul:
        out[i] = v * s;
        break;
      case ScalarOp::div:
        out[i] = v / s;
        break;
      case ScalarOp::rsub:
        out[i] = s - v;
        break;
      case ScalarOp::rdiv:
        out[i] = s / v;
        break;
      default:
        out[i] = -v;
        break;
    }
  }
}

/// Accumulator of a sum: double for floating types, int64 for int64.
template <class T>
using sum_acc_t = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;

/// partial[row * splits + split] = sum of the split-th slice of row `row` of a contiguous (outer, inner)
/// matrix; grid (outer, splits), one block per slice.
template <class T>
__global__ void sum_rows_partial_kernel(const T* in, int64_t inner, int splits, sum_acc_t<T>* partial) {
  using Acc = sum_acc_t<T>;
  __shared__ Acc shared[block_threads];
  const int64_t row = blockIdx.x;
  const int64_t begin = inner * blockIdx.y / splits, end = inner * (blockIdx.y + 1) / splits;
  Acc acc = 0;
  for (int64_t j = begin + threadIdx.x; j < end; j += blockDim.x)
    acc += static_cast<Acc>(in[row * inner + j]);
  shared[threadIdx.x] = acc;
  __syncthreads();
  for (int width = blockDim.x / 2; width > 0; width /= 2) {
    if (threadIdx.x < width) shared[threadIdx.x] += shared[threadIdx.x + width];
    __syncthreads();
  }
  if (threadIdx.x == 0) partial[row * splits + blockIdx.y] = shared[0];
}

/// out[row] = sum of the row's `splits` partials, in a fixed order (deterministic).
template <class T>
__global__ void sum_rows_finish_kernel(const sum_acc_t<T>* partial, int64_t outer, int splits, T* out) {
  for (int64_t row = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; row < outer;
       row += int64_t(gridDim.x) * blockDim.x) {
    sum_acc_t<T> acc = 0;
    for (int k = 0; k < splits; ++k) acc += partial[row * splits + k];
    out[row] = static_cast<T>(acc);
  }
}

}  // namespace hnn::kernels::cuda
