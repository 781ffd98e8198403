// hnn::nn::functional: the stateless forms of the layers with torch.nn.functional's names and defaults
// (linear, conv2d, avg_pool2d, max_pool2d, dropout, relu, sigmoid, tanh, softmax, log_softmax, flatten),
// and hnn::nn::IntPair, the "int or (h, w)" argument of the 2-D layers. Depends on ops/linear.hpp,
// ops/conv.hpp, ops/pooling.hpp and hnn/tensor.hpp.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "hnn/core/format.hpp"
#include "hnn/ops/conv.hpp"
#include "hnn/ops/linear.hpp"
#include "hnn/ops/pooling.hpp"
#include "hnn/tensor.hpp"

namespace hnn::nn {

/// A size given as one int (used for both height and width) or as a pair {h, w}, like PyTorch's
/// `int or tuple` arguments. It remembers which form it was given in, since pooling reprs echo it.
class IntPair {
 public:
  IntPair(int64_t value) : h_(value), w_(value), scalar_(true) {}  // NOLINT: implicit, like a Python int
  IntPair(std::initializer_list<int64_t> values) {                 // NOLINT: implicit, like a Python tuple
    HNN_CHECK(values.size() == 1 || values.size() == 2, "expected one value or a pair {h, w}, got ",
              values.size(), " values");
    h_ = *values.begin();
    w_ = *(values.end() - 1);
    scalar_ = values.size() == 1;
  }
  IntPair(std::array<int64_t, 2> values) : h_(values[0]), w_(values[1]), scalar_(false) {}  // NOLINT

  int64_t h() const { return h_; }
  int64_t w() const { return w_; }
  std::array<int64_t, 2> pair() const { return {h_, w_}; }
  bool is_scalar() const { return scalar_; }
  /// Python's repr of the value as given: "2" or "(2, 3)".
  std::string repr() const { return scalar_ ? std::to_string(h_) : tuple_repr(); }
  /// Python's repr of the expanded pair, "(2, 2)", as Conv2d prints its sizes.
  /// (Appended, not "(" + std::to_string(...): GCC 12 at -O3 warns on a literal plus a temporary string,
  /// -Wrestrict, GCC bug 105651.)
  std::string tuple_repr() const {
    std::string out = "(";
    out.append(std::to_string(h_)).append(", ").append(std::to_string(w_)).append(")");
    return out;
  }
  friend bool operator==(const IntPair& a, const IntPair& b) { return a.h_ == b.h_ && a.w_ == b.w_; }

 private:
  int64_t h_ = 0, w_ = 0;
  bool scalar_ = true;
};

}  // namespace hnn::nn

namespace hnn::nn::functional {

/// y = input W^T + bias (see hnn::linear).
template <class T, class D>
Tensor<T, D> linear(const Tensor<T, D>& input, const Tensor<T, D>& weight, const Tensor<T, D>& bias = {}) {
  return hnn::linear(input, weight, bias);
}

/// F.conv2d(input, weight, bias, stride, padding) with dilation 1 and groups 1.
template <class T, class D>
Tensor<T, D> conv2d(const Tensor<T, D>& input, const Tensor<T, D>& weight, const Tensor<T, D>& bias = {},
                    IntPair stride = 1, IntPair padding = 0) {
  return hnn::conv2d(input, weight, bias, stride.pair(), padding.pair());
}

/// F.avg_pool2d(input, kernel_size, stride=kernel_size, padding=0) (count_include_pad=True, floor mode).
template <class T, class D>
Tensor<T, D> avg_pool2d(const Tensor<T, D>& input, IntPair kernel_size, IntPair stride, IntPair padding = 0) {
  return hnn::avg_pool2d(input, kernel_size.pair(), stride.pair(), padding.pair());
}
template <class T, class D>
Tensor<T, D> avg_pool2d(const Tensor<T, D>& input, IntPair kernel_size) {
  return hnn::avg_pool2d(input, kernel_size.pair(), kernel_size.pair());
}

/// F.max_pool2d(input, kernel_size, stride=kernel_size, padding=0) (dilation 1, floor mode).
template <class T, class D>
Tensor<T, D> max_pool2d(const Tensor<T, D>& input, IntPair kernel_size, IntPair stride, IntPair padding = 0) {
  return hnn::max_pool2d(input, kernel_size.pair(), stride.pair(), padding.pair());
}
template <class T, class D>
Tensor<T, D> max_pool2d(const Tensor<T, D>& input, IntPair kernel_size) {
  return hnn::max_pool2d(input, kernel_size.pair(), kernel_size.pair());
}

/// F.dropout: in training, zeroes each element with probability p (mask drawn from `gen`) and scales the
/// survivors by 1 / (1 - p) so the expectation is unchanged; identity when not training or p == 0.
template <class T, class D>
Tensor<T, D> dropout(const Tensor<T, D>& input, double p, bool training, Generator& gen) {
  static_assert(std::is_floating_point_v<T>, "dropout needs a floating point tensor");
  require_cpu_kernel<"dropout", D>();
  HNN_CHECK(p >= 0.0 && p <= 1.0, "dropout probability has to be between 0 and 1, but got ",
            hnn::detail::py_float_repr(p));
  if (!training || p == 0.0) return input;
  auto mask = Tensor<T, D>::empty(input.shape());
  T* m = mask.data();
  if (p == 1.0) {
    std::fill(m, m + mask.numel(), T(0));
  } else {
    const double keep = 1.0 - p;
    const T scale = static_cast<T>(1.0 / keep);
    for (int64_t i = 0; i < mask.numel(); ++i) m[i] = gen.uniform() < keep ? scale : T(0);
  }
  return input * mask;
}

template <class T, class D>
Tensor<T, D> dropout(const Tensor<T, D>& input, double p = 0.5, bool training = true) {
  return dropout(input, p, training, default_generator());
}

template <class T, class D>
Tensor<T, D> relu(const Tensor<T, D>& input) {
  return input.relu();
}
template <class T, class D>
Tensor<T, D> sigmoid(const Tensor<T, D>& input) {
  return input.sigmoid();
}
template <class T, class D>
Tensor<T, D> tanh(const Tensor<T, D>& input) {
  return input.tanh();
}
template <class T, class D>
Tensor<T, D> softmax(const Tensor<T, D>& input, int64_t dim) {
  return input.softmax(dim);
}
template <class T, class D>
Tensor<T, D> log_softmax(const Tensor<T, D>& input, int64_t dim) {
  return input.log_softmax(dim);
}
/// torch.flatten(input, start_dim, end_dim) (the functional default start_dim is 0, as in PyTorch).
template <class T, class D>
Tensor<T, D> flatten(const Tensor<T, D>& input, int64_t start_dim = 0, int64_t end_dim = -1) {
  return input.flatten(start_dim, end_dim);
}

}  // namespace hnn::nn::functional
