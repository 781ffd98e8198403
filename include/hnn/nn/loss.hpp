// Loss modules with PyTorch's names and options: CrossEntropyLoss, NLLLoss, MSELoss, BCELoss,
// BCEWithLogitsLoss. Called as loss(input, target); default-constructible; print like PyTorch
// ("CrossEntropyLoss()"). Depends on nn/functional/loss.hpp.
#pragma once

#include <ostream>
#include <string>
#include <type_traits>
#include <utility>

#include "hnn/core/device.hpp"
#include "hnn/nn/functional/loss.hpp"

namespace hnn::detail {

/// A loss's weight tensor in the dtype of the input it meets (undefined stays undefined).
template <class U, class T, class D>
Tensor<U, D> loss_weight_as(const Tensor<T, D>& weight) {
  if (!weight.defined()) return {};
  if constexpr (std::is_same_v<U, T>)
    return weight;
  else
    return weight.template cast<U>();
}

}  // namespace hnn::detail

namespace hnn::nn {

/*
 * Losses take two inputs, so they do not derive from Module<T, D> (whose forward takes one tensor and
 * which a Sequential chains); they hold no parameters. Each is a template <T, D> like every module, but
 * operator() accepts float and double inputs alike, so `CrossEntropyLoss ce;` serves any model.
 */
template <class Derived, class Options>
class LossBase {
 public:
  explicit LossBase(Options options) : options_(std::move(options)) {}
  const Options& options() const { return options_; }
  Options& options() { return options_; }
  /// PyTorch's repr: the class name with empty parentheses.
  std::string repr() const { return std::string(Derived::class_name) + "()"; }
  std::string name() const { return Derived::class_name; }
  friend std::ostream& operator<<(std::ostream& os, const LossBase& loss) { return os << loss.repr(); }

 protected:
  Options options_;
};

/// log_softmax + nll over dim 1: targets are class indices (Tensor<int64_t>) or probabilities / one-hot
/// rows shaped like the input.
template <class T = float, class D = CPU>
class CrossEntropyLoss : public LossBase<CrossEntropyLoss<T, D>, CrossEntropyLossOptions> {
 public:
  static constexpr const char* class_name = "CrossEntropyLoss";
  /// weight: optional per-class weight (C), PyTorch's `weight`; with class indices Mean divides by the sum
  /// of the targets' weights, with probability targets by the number of positions.
  CrossEntropyLoss(CrossEntropyLossOptions options = {},
                   Tensor<T, D> weight = {})  // NOLINT: implicit like libtorch
      : LossBase<CrossEntropyLoss, CrossEntropyLossOptions>(options), weight_(std::move(weight)) {}
  const Tensor<T, D>& weight() const { return weight_; }

  template <class U>
  Tensor<U, D> forward(const Tensor<U, D>& input, const Tensor<int64_t, D>& target) const {
    return hnn::detail::cross_entropy_indices(input, target, this->options_.reduction(),
                                              this->options_.ignore_index(), this->options_.label_smoothing(),
                                              class_name, hnn::detail::loss_weight_as<U>(weight_));
  }
  template <class U>
  Tensor<U, D> forward(const Tensor<U, D>& input, const Tensor<U, D>& target) const {
    return hnn::detail::cross_entropy_probabilities(input, target, this->options_.reduction(),
                                                    this->options_.label_smoothing(), class_name,
                                                    hnn::detail::loss_weight_as<U>(weight_));
  }
  template <class U, class V>
  Tensor<U, D> operator()(const Tensor<U, D>& input, const Tensor<V, D>& target) const {
    return forward(input, target);
  }

 private:
  Tensor<T, D> weight_;
};

/// Negative log likelihood of class-index targets given log-probabilities (N, C[, d...]).
template <class T = float, class D = CPU>
class NLLLoss : public LossBase<NLLLoss<T, D>, NLLLossOptions> {
 public:
  static constexpr const char* class_name = "NLLLoss";
  /// weight: optional per-class weight (C); Mean divides by the sum of the targets' weights.
  NLLLoss(NLLLossOptions options = {}, Tensor<T, D> weight = {})  // NOLINT
      : LossBase<NLLLoss, NLLLossOptions>(options), weight_(std::move(weight)) {}
  const Tensor<T, D>& weight() const { return weight_; }
  template <class U>
  Tensor<U, D> forward(const Tensor<U, D>& input, const Tensor<int64_t, D>& target) const {
    return hnn::detail::nll_loss_impl(input, target, this->options_.reduction(),
                                      this->options_.ignore_index(), class_name,
                                      hnn::detail::loss_weight_as<U>(weight_));
  }
  template <class U>
  Tensor<U, D> operator()(const Tensor<U, D>& input, const Tensor<int64_t, D>& target) const {
    return forward(input, target);
  }

 private:
  Tensor<T, D> weight_;
};

/// Mean squared error (input - target)^2.
template <class T = float, class D = CPU>
class MSELoss : public LossBase<MSELoss<T, D>, MSELossOptions> {
 public:
  static constexpr const char* class_name = "MSELoss";
  MSELoss(MSELossOptions options = {}) : LossBase<MSELoss, MSELossOptions>(std::move(options)) {}  // NOLINT
  template <class U>
  Tensor<U, D> forward(const Tensor<U, D>& input, const Tensor<U, D>& target) const {
    return hnn::detail::mse_loss_impl(input, target, this->options_.reduction(), class_name);
  }
  template <class U>
  Tensor<U, D> operator()(const Tensor<U, D>& input, const Tensor<U, D>& target) const {
    return forward(input, target);
  }
};

/// Binary cross entropy on probabilities in [0, 1]; logs clamped at -100 like PyTorch.
template <class T = float, class D = CPU>
class BCELoss : public LossBase<BCELoss<T, D>, BCELossOptions> {
 public:
  static constexpr const char* class_name = "BCELoss";
  /// weight: optional rescaling of each element's loss, broadcast against the input (PyTorch's `weight`);
  /// Mean stays over the elements.
  BCELoss(BCELossOptions options = {}, Tensor<T, D> weight = {})  // NOLINT
      : LossBase<BCELoss, BCELossOptions>(options), weight_(std::move(weight)) {}
  const Tensor<T, D>& weight() const { return weight_; }
  template <class U>
  Tensor<U, D> forward(const Tensor<U, D>& input, const Tensor<U, D>& target) const {
    return hnn::detail::binary_cross_entropy_impl(input, target, this->options_.reduction(), class_name,
                                                  hnn::detail::loss_weight_as<U>(weight_));
  }
  template <class U>
  Tensor<U, D> operator()(const Tensor<U, D>& input, const Tensor<U, D>& target) const {
    return forward(input, target);
  }

 private:
  Tensor<T, D> weight_;
};

/// Sigmoid + binary cross entropy in one stable expression; optional pos_weight (broadcast against the
/// input, typically one weight per class) multiplies the positive term.
template <class T = float, class D = CPU>
class BCEWithLogitsLoss : public LossBase<BCEWithLogitsLoss<T, D>, BCEWithLogitsLossOptions> {
 public:
  static constexpr const char* class_name = "BCEWithLogitsLoss";
  BCEWithLogitsLoss(BCEWithLogitsLossOptions options = {}, Tensor<T, D> pos_weight = {})  // NOLINT
      : LossBase<BCEWithLogitsLoss, BCEWithLogitsLossOptions>(options), pos_weight_(std::move(pos_weight)) {}
  const Tensor<T, D>& pos_weight() const { return pos_weight_; }

  template <class U>
  Tensor<U, D> forward(const Tensor<U, D>& input, const Tensor<U, D>& target) const {
    Tensor<U, D> pw;
    if (pos_weight_.defined()) {
      if constexpr (std::is_same_v<U, T>)
        pw = pos_weight_;
      else
        pw = pos_weight_.template cast<U>();
    }
    return hnn::detail::bce_with_logits_impl(input, target, pw, this->options_.reduction(), class_name);
  }
  template <class U>
  Tensor<U, D> operator()(const Tensor<U, D>& input, const Tensor<U, D>& target) const {
    return forward(input, target);
  }

 private:
  Tensor<T, D> pos_weight_;
};

}  // namespace hnn::nn
