// hnn::nn::functional losses with torch.nn.functional's names (cross_entropy, nll_loss, mse_loss,
// binary_cross_entropy, binary_cross_entropy_with_logits) and the option structs shared with the loss
// modules (reduction as hnn::nn::Reduction or "mean"/"sum"/"none"). Depends on ops/loss.hpp.
#pragma once

#include <cstdint>
#include <string>

#include "hnn/ops/loss.hpp"

namespace hnn::nn {

using hnn::Reduction;

/// Base of every loss's options: the reduction, Mean by default; implicit from a Reduction or a string so
/// `MSELoss(Reduction::Sum)` and `MSELoss("sum")` read naturally. May be changed after construction.
template <class Derived>
class ReductionOptions {
 public:
  ReductionOptions(Reduction r = Reduction::Mean) : reduction_(r) {}         // NOLINT: implicit on purpose
  ReductionOptions(const char* r) : reduction_(reduction_from_string(r)) {}  // NOLINT
  ReductionOptions(const std::string& r) : reduction_(reduction_from_string(r)) {}  // NOLINT

  Derived& reduction(Reduction r) {
    reduction_ = r;
    return static_cast<Derived&>(*this);
  }
  Derived& reduction(const std::string& r) { return reduction(reduction_from_string(r)); }
  Derived& reduction(const char* r) { return reduction(reduction_from_string(r)); }
  Reduction reduction() const { return reduction_; }

 private:
  Reduction reduction_;
};

/// CrossEntropyLoss: reduction (Mean), ignore_index (-100, class-index targets only), label_smoothing
/// (0.0, in [0, 1]).
class CrossEntropyLossOptions : public ReductionOptions<CrossEntropyLossOptions> {
 public:
  using ReductionOptions::reduction;
  using ReductionOptions::ReductionOptions;
  CrossEntropyLossOptions& ignore_index(int64_t v) {
    ignore_index_ = v;
    return *this;
  }
  int64_t ignore_index() const { return ignore_index_; }
  CrossEntropyLossOptions& label_smoothing(double v) {
    label_smoothing_ = v;
    return *this;
  }
  double label_smoothing() const { return label_smoothing_; }

 private:
  int64_t ignore_index_ = -100;
  double label_smoothing_ = 0.0;
};

/// NLLLoss: reduction (Mean), ignore_index (-100).
class NLLLossOptions : public ReductionOptions<NLLLossOptions> {
 public:
  using ReductionOptions::reduction;
  using ReductionOptions::ReductionOptions;
  NLLLossOptions& ignore_index(int64_t v) {
    ignore_index_ = v;
    return *this;
  }
  int64_t ignore_index() const { return ignore_index_; }

 private:
  int64_t ignore_index_ = -100;
};

/// MSELoss, BCELoss, BCEWithLogitsLoss: reduction only (BCEWithLogitsLoss takes pos_weight as a tensor).
class MSELossOptions : public ReductionOptions<MSELossOptions> {
 public:
  using ReductionOptions::ReductionOptions;
};
class BCELossOptions : public ReductionOptions<BCELossOptions> {
 public:
  using ReductionOptions::ReductionOptions;
};
class BCEWithLogitsLossOptions : public ReductionOptions<BCEWithLogitsLossOptions> {
 public:
  using ReductionOptions::ReductionOptions;
};

}  // namespace hnn::nn

namespace hnn::nn::functional {

/// F.cross_entropy(input, target, weight=weight) with class-index targets (input (N, C[, d...]) or (C));
/// weight (C) optional.
template <class T, class D>
Tensor<T, D> cross_entropy(const Tensor<T, D>& input, const Tensor<int64_t, D>& target,
                           const CrossEntropyLossOptions& options = {},
                           const std::type_identity_t<Tensor<T, D>>& weight = {}) {
  return hnn::detail::cross_entropy_indices(input, target, options.reduction(), options.ignore_index(),
                                            options.label_smoothing(), "cross_entropy", weight);
}
/// F.cross_entropy(input, target) with probability / one-hot targets shaped like the input.
template <class T, class D>
Tensor<T, D> cross_entropy(const Tensor<T, D>& input, const Tensor<T, D>& target,
                           const CrossEntropyLossOptions& options = {},
                           const std::type_identity_t<Tensor<T, D>>& weight = {}) {
  return hnn::detail::cross_entropy_probabilities(input, target, options.reduction(),
                                                  options.label_smoothing(), "cross_entropy", weight);
}
/// F.nll_loss(input, target, weight=weight): input holds log-probabilities; weight (C) optional.
template <class T, class D>
Tensor<T, D> nll_loss(const Tensor<T, D>& input, const Tensor<int64_t, D>& target,
                      const NLLLossOptions& options = {},
                      const std::type_identity_t<Tensor<T, D>>& weight = {}) {
  return hnn::detail::nll_loss_impl(input, target, options.reduction(), options.ignore_index(), "nll_loss",
                                    weight);
}
/// F.mse_loss(input, target).
template <class T, class D>
Tensor<T, D> mse_loss(const Tensor<T, D>& input, const Tensor<T, D>& target,
                      const MSELossOptions& options = {}) {
  return hnn::detail::mse_loss_impl(input, target, options.reduction(), "mse_loss");
}
/// F.binary_cross_entropy(input, target, weight=weight): input probabilities in [0, 1]; weight optional,
/// broadcast against the input.
template <class T, class D>
Tensor<T, D> binary_cross_entropy(const Tensor<T, D>& input, const Tensor<T, D>& target,
                                  const BCELossOptions& options = {},
                                  const std::type_identity_t<Tensor<T, D>>& weight = {}) {
  return hnn::detail::binary_cross_entropy_impl(input, target, options.reduction(), "binary_cross_entropy",
                                                weight);
}
/// F.binary_cross_entropy_with_logits(input, target, pos_weight=pos_weight); undefined pos_weight = none.
template <class T, class D>
Tensor<T, D> binary_cross_entropy_with_logits(const Tensor<T, D>& input, const Tensor<T, D>& target,
                                              const BCEWithLogitsLossOptions& options = {},
                                              const std::type_identity_t<Tensor<T, D>>& pos_weight = {}) {
  return hnn::detail::bce_with_logits_impl(input, target, pos_weight, options.reduction(),
                                           "binary_cross_entropy_with_logits");
}

}  // namespace hnn::nn::functional
