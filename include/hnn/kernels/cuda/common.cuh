// Shared device helpers of hnn's CUDA kernels: launch geometry, 16-byte vector loads, warp and block
// reductions over small POD states. Compiled by nvcc only (included from include/hnn/cuda/kernels.cu);
// depends on the CUDA runtime, never on Eigen.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace hnn::kernels::cuda {

inline constexpr int block_threads = 256;

/// 16 bytes of T: float4 for float, double2 for double. width = elements per load.
template <class T>
struct Vec16;
template <>
struct Vec16<float> {
  using type = float4;
  static constexpr int width = 4;
};
template <>
struct Vec16<double> {
  using type = double2;
  static constexpr int width = 2;
};

/// Loads V consecutive values at p (16-byte aligned when V > 1) into v.
template <class T, int V>
__device__ __forceinline__ void load_vec(const T* p, T (&v)[V]) {
  if constexpr (V == 1) {
    v[0] = p[0];
  } else {
    using Vec = typename Vec16<T>::type;
    static_assert(V == Vec16<T>::width, "a vector load moves 16 bytes");
    const Vec q = *reinterpret_cast<const Vec*>(p);
    if constexpr (V == 4) {
      v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
    } else {
      v[0] = q.x, v[1] = q.y;
    }
  }
}

template <class T, int V>
__device__ __forceinline__ void store_vec(T* p, const T (&v)[V]) {
  if constexpr (V == 1) {
    p[0] = v[0];
  } else {
    using Vec = typename Vec16<T>::type;
    Vec q;
    if constexpr (V == 4) {
      q.x = v[0], q.y = v[1], q.z = v[2], q.w = v[3];
    } else {
      q.x = v[0], q.y = v[1];
    }
    *reinterpret_cast<Vec*>(p) = q;
  }
}

/// True when p is 16-byte aligned (vector loads are legal).
__host__ __device__ inline bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

/// Tree reduction of a POD state over a warp; merge(State&, const State&) and shfl_down(State, int)
/// are found by overloading on State. The result is valid in lane 0.
template <class State>
__device__ __forceinline__ State warp_reduce(State s) {
  for (int offset = 16; offset > 0; offset /= 2) merge(s, shfl_down(s, offset));
  return s;
}

/// Reduction over all threads of a (1-D or 2-D) block; valid in thread 0. `shared` holds >= 32 states.
template <class State>
__device__ State block_reduce(State s, State* shared) {
  const int tid = threadIdx.y * blockDim.x + threadIdx.x;
  const int nthreads = blockDim.x * blockDim.y;
  const int lane = tid % 32, warp = tid / 32;
  s = warp_reduce(s);
  if (lane == 0) shared[warp] = s;
  __syncthreads();
  const int nwarps = (nthreads + 31) / 32;
  if (warp == 0) {
    s = lane < nwarps ? shared[lane] : State::zero();
    s = warp_reduce(s);
  }
  return s;
}

}  // namespace hnn::kernels::cuda
