// Device tags. A device is a type, so kernels are chosen at compile time by the kernel traits
// (kernels/kernel_traits.hpp) specialised for it.
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

}  // namespace hnn
