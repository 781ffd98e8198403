// Plain types in the signatures of the elementwise kernels of every device: the op codes of binary and
// scalar arithmetic, and the geometry of a strided (non-contiguous or broadcasting) launch. No CUDA
// header and no tensor type: both kernel sets and the ops above them include this. Standard library only.
#pragma once

#include <cstdint>

namespace hnn::kernels {

/// The most dimensions a strided (non-contiguous or broadcasting) launch handles after neighbours that
/// every operand walks contiguously are merged: PyTorch's MAX_DIMS (a contiguous tensor of any rank is
/// one dimension). The geometry travels to a CUDA kernel by value, 804 bytes of its 4 KB of parameters.
inline constexpr int max_dims = 25;

/// Geometry of a strided elementwise launch: the output's sizes and, per operand, the element strides
/// over those sizes (0 along broadcast dimensions). Passed to the kernels by value.
struct StridedGeometry {
  int ndim = 0;
  int64_t sizes[max_dims] = {};
  int64_t out_strides[max_dims] = {};
  int64_t a_strides[max_dims] = {};
  int64_t b_strides[max_dims] = {};
};

/// out = a + b, a - b, a * b, a / b.
enum class BinaryOp : int { add, sub, mul, div };
/// out = a + s, a * s, a / s, s - a, s / a, -a.
enum class ScalarOp : int { add, mul, div, rsub, rdiv, neg };

}  // namespace hnn::kernels
