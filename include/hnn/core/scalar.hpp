// Scalar type traits: which element types a Tensor may hold, which are differentiable, and the
// PyTorch dtype names used when printing. Depends on the standard library only.
#pragma once

#include <cstdint>
#include <type_traits>

namespace hnn {

template <class T>
inline constexpr bool is_supported_scalar_v =
    std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, int64_t>;

/// float and double tensors carry gradients; int64 tensors (labels, indices) never do.
template <class T>
inline constexpr bool is_differentiable_v = std::is_floating_point_v<T>;

template <class T>
constexpr const char* dtype_name() {
  if constexpr (std::is_same_v<T, float>)
    return "torch.float32";
  else if constexpr (std::is_same_v<T, double>)
    return "torch.float64";
  else
    return "torch.int64";
}

/// Accumulation type for reductions: double for float and double, int64 for int64.
template <class T>
using acc_t = std::conditional_t<std::is_floating_point_v<T>, double, T>;

}  // namespace hnn
