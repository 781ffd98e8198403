// Device tags. A device is a type, so kernels are chosen at compile time by overloading on the tag.
// hnn::CUDA exists only in translation units built with HNN_WITH_CUDA.
#pragma once

#include <type_traits>

namespace hnn {

struct CPU {
  static constexpr const char* name = "cpu";
};

#ifdef HNN_WITH_CUDA
struct CUDA {
  static constexpr const char* name = "cuda";
};
#endif

template <class D>
inline constexpr bool is_cpu_v = std::is_same_v<D, CPU>;

/// The generic tensor kernels of a non-CPU device (fill, copies, row sums), which the device-generic
/// ops call under `if constexpr (!is_cpu_v<D>)`. Defined by a backend: DeviceOps<CUDA> in hnn/cuda.hpp.
template <class D>
struct DeviceOps;

}  // namespace hnn
