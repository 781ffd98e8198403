// hnn::nn::init: in-place initialisers with torch.nn.init's names, formulas and defaults (uniform_,
// normal_, constant_, zeros_, ones_, xavier_*, kaiming_*), calculate_gain and the fan computation. They
// write without recording gradients and draw from the given Generator (default: hnn's default generator).
// Depends on hnn/tensor.hpp.
#pragma once

#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "hnn/tensor.hpp"

namespace hnn::nn::init {

namespace detail {

/// Writes gen-drawn values (draw() called once per element, in element order) into t, without autograd.
template <class T, class D, class Draw>
Tensor<T, D>& fill_with(Tensor<T, D>& t, Draw draw) {
  static_assert(std::is_floating_point_v<T>, "nn::init works on floating point tensors");
  static_assert(is_cpu_v<D>, "nn::init: only the CPU implementation exists");
  NoGradGuard guard;
  if (t.is_contiguous()) {
    T* p = t.data();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(draw());
    return t;
  }
  std::vector<T> values(static_cast<size_t>(t.numel()));
  for (auto& v : values) v = static_cast<T>(draw());
  t.copy_(tensor<T, D>(values, t.shape()));
  return t;
}

}  // namespace detail

/// torch.nn.init.calculate_gain: the recommended gain for a nonlinearity. `param` is leaky_relu's
/// negative slope (default 0.01).
///   linear, conv*, sigmoid: 1;  tanh: 5/3;  relu: sqrt(2);  leaky_relu: sqrt(2 / (1 + slope^2));  selu: 3/4
inline double calculate_gain(const std::string& nonlinearity, std::optional<double> param = std::nullopt) {
  static const char* const linear_fns[] = {
      "linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"};
  for (const char* name : linear_fns)
    if (nonlinearity == name) return 1.0;
  if (nonlinearity == "sigmoid") return 1.0;
  if (nonlinearity == "tanh") return 5.0 / 3.0;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") {
    const double slope = param.value_or(0.01);
    return std::sqrt(2.0 / (1.0 + slope * slope));
  }
  if (nonlinearity == "selu") return 3.0 / 4.0;
  throw std::invalid_argument("calculate_gain: unsupported nonlinearity " + nonlinearity);
}

/// (fan_in, fan_out) of a weight (out, in, *kernel): fan_in = in * prod(kernel), fan_out = out *
/// prod(kernel).
template <class T, class D>
std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor<T, D>& t) {
  HNN_CHECK(t.dim() >= 2,
            "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions (got shape ",
            t.shape(), ")");
  int64_t receptive_field = 1;
  for (int64_t d = 2; d < t.dim(); ++d) receptive_field *= t.size(d);
  return {t.size(1) * receptive_field, t.size(0) * receptive_field};
}

/// The fan kaiming_* scale by: "fan_in" (preserves the forward variance) or "fan_out" (the backward one).
template <class T, class D>
int64_t calculate_correct_fan(const Tensor<T, D>& t, const std::string& mode) {
  HNN_CHECK(mode == "fan_in" || mode == "fan_out", "Mode ", mode,
            " not supported, please use one of fan_in, fan_out");
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  return mode == "fan_in" ? fan_in : fan_out;
}

/// Fills with U(a, b).
template <class T, class D>
Tensor<T, D> uniform_(Tensor<T, D> t, double a = 0.0, double b = 1.0, Generator& gen = default_generator()) {
  HNN_CHECK(a <= b, "uniform_ expects to return a [from, to) range, but found from=", a, " > to=", b);
  return detail::fill_with(t, [&] { return a + (b - a) * gen.uniform(); });
}

/// Fills with N(mean, std^2).
template <class T, class D>
Tensor<T, D> normal_(Tensor<T, D> t, double mean = 0.0, double std = 1.0,
                     Generator& gen = default_generator()) {
  HNN_CHECK(std >= 0.0, "normal_ expects std >= 0.0, but found std ", std);
  return detail::fill_with(t, [&] { return mean + std * gen.normal(); });
}

/// Fills with `value`.
template <class T, class D>
Tensor<T, D> constant_(Tensor<T, D> t, double value) {
  return detail::fill_with(t, [value] { return value; });
}
template <class T, class D>
Tensor<T, D> zeros_(Tensor<T, D> t) {
  return constant_(std::move(t), 0.0);
}
template <class T, class D>
Tensor<T, D> ones_(Tensor<T, D> t) {
  return constant_(std::move(t), 1.0);
}

/// Glorot uniform: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)).
template <class T, class D>
Tensor<T, D> xavier_uniform_(Tensor<T, D> t, double gain = 1.0, Generator& gen = default_generator()) {
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  const double std = gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out));
  const double a = std::sqrt(3.0) * std;
  return uniform_(std::move(t), -a, a, gen);
}

/// Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out)).
template <class T, class D>
Tensor<T, D> xavier_normal_(Tensor<T, D> t, double gain = 1.0, Generator& gen = default_generator()) {
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  const double std = gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out));
  return normal_(std::move(t), 0.0, std, gen);
}

/// He uniform: U(-bound, bound) with bound = sqrt(3) * gain / sqrt(fan), gain = calculate_gain(nonlinearity,
/// a). With a = sqrt(5) (what Linear and Conv2d use) the bound is 1 / sqrt(fan_in).
template <class T, class D>
Tensor<T, D> kaiming_uniform_(Tensor<T, D> t, double a = 0.0, const std::string& mode = "fan_in",
                              const std::string& nonlinearity = "leaky_relu",
                              Generator& gen = default_generator()) {
  const int64_t fan = calculate_correct_fan(t, mode);
  if (t.numel() == 0) return t;  // PyTorch warns and leaves a zero-element tensor alone
  const double std = calculate_gain(nonlinearity, a) / std::sqrt(static_cast<double>(fan));
  const double bound = std::sqrt(3.0) * std;
  return uniform_(std::move(t), -bound, bound, gen);
}

/// He normal: N(0, std^2) with std = gain / sqrt(fan).
template <class T, class D>
Tensor<T, D> kaiming_normal_(Tensor<T, D> t, double a = 0.0, const std::string& mode = "fan_in",
                             const std::string& nonlinearity = "leaky_relu",
                             Generator& gen = default_generator()) {
  const int64_t fan = calculate_correct_fan(t, mode);
  if (t.numel() == 0) return t;  // PyTorch warns and leaves a zero-element tensor alone
  const double std = calculate_gain(nonlinearity, a) / std::sqrt(static_cast<double>(fan));
  return normal_(std::move(t), 0.0, std, gen);
}

}  // namespace hnn::nn::init
